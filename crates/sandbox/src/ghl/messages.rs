//! `POST /conversations/messages` (ghl.md §5): sends nothing anywhere, records the message so
//! tests can read what a client "sent" (`Sandbox::ghl_messages`), and answers like GHL:
//! 200 `{conversationId, messageId, messageIds, msg, status}` (+ `emailMessageId` for Email).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::{GhlError, object_body, opt_str, req_str};
use crate::state::{App, ghl_id};

/// The documented message types.
const TYPES: [&str; 9] = [
    "SMS",
    "RCS",
    "Email",
    "WhatsApp",
    "IG",
    "FB",
    "Custom",
    "Live_Chat",
    "TIKTOK",
];

/// A message a client asked GHL to send, as recorded.
#[derive(Clone, Debug, Serialize)]
pub struct SentMessage {
    /// The answered `messageId`.
    pub message_id: String,
    /// The answered `conversationId` (one per contact).
    pub conversation_id: String,
    /// `type` as sent (`SMS`, `WhatsApp`, …).
    pub kind: String,
    /// `contactId` as sent.
    pub contact_id: String,
    /// `message` as sent, if any.
    pub message: Option<String>,
    /// The whole request body as sent.
    pub body: Value,
    /// When it was received (the sandbox clock).
    pub sent_at: DateTime<Utc>,
}

/// `POST /conversations/messages` `{type, contactId, message, …}`.
pub(crate) async fn send_message(
    State(app): State<App>,
    body: Bytes,
) -> Result<Json<Value>, GhlError> {
    let fields = object_body(&body)?;
    let mut problems = Vec::new();
    let kind = req_str(&fields, "type", &mut problems);
    let contact_id = req_str(&fields, "contactId", &mut problems);
    let message = opt_str(&fields, "message", &mut problems);
    if let Some(k) = &kind
        && !TYPES.contains(&k.as_str())
    {
        problems.push(format!(
            "type must be one of the following values: {}",
            TYPES.join(", ")
        ));
    }
    let needs_text = matches!(kind.as_deref(), Some("SMS" | "WhatsApp" | "RCS"));
    let has_other = ["attachments", "templateId"]
        .iter()
        .any(|k| fields.get(*k).is_some_and(|v| !v.is_null()));
    if needs_text && message.as_deref().is_none_or(|m| m.trim().is_empty()) && !has_other {
        problems.push("message should not be empty".into());
    }
    let (Some(kind), Some(contact_id)) = (kind, contact_id) else {
        return Err(GhlError::Unprocessable(problems));
    };
    if !problems.is_empty() {
        return Err(GhlError::Unprocessable(problems));
    }
    let now = app.now();
    let mut world = app.world();
    if world.ghl.contact(&contact_id).is_none() {
        return Err(GhlError::BadRequest("Contact not found".into()));
    }
    let conversation_id = world
        .ghl
        .conversations
        .entry(contact_id.clone())
        .or_insert_with(ghl_id)
        .clone();
    let message_id = ghl_id();
    world.ghl.messages.push(SentMessage {
        message_id: message_id.clone(),
        conversation_id: conversation_id.clone(),
        kind: kind.clone(),
        contact_id,
        message,
        body: Value::Object(fields),
        sent_at: now,
    });
    let mut answer = json!({
        "conversationId": conversation_id,
        "messageId": message_id,
        "messageIds": [message_id],
        "msg": "Message queued successfully.",
        "status": "pending",
    });
    if kind == "Email"
        && let Some(map) = answer.as_object_mut()
    {
        map.insert("emailMessageId".into(), Value::String(ghl_id()));
    }
    Ok(Json(answer))
}
