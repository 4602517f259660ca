//! Sending a message to a contact (ghl.md §5): `POST /conversations/messages` for SMS,
//! WhatsApp and Email.
//!
//! Since 2026-05-01 GHL's spec marks `subType` and `status` required; whether the server
//! enforces it is (unconfirmed) and nearly every client sends only `{type, contactId,
//! message}`. So the minimal body goes first, and only a validation error that mentions
//! `subType` or `status` triggers one retry with `subType` = `type`.

use reqwest::Method;

use crate::client::{Client, Replay, V_CALENDARS, json_body};
use crate::error::Error;
use crate::types::{OutboundMessage, SentMessage};

impl Client {
    /// `POST /conversations/messages`. Not retried on 429 or timeout: a retry could send
    /// the patient the message twice.
    pub async fn send_message(&self, message: &OutboundMessage) -> Result<SentMessage, Error> {
        if message.contact_id.is_empty() {
            return Err(Error::InvalidRequest("message without contactId".into()));
        }
        let path = "/conversations/messages";
        let first = self
            .send(
                Method::POST,
                path,
                V_CALENDARS,
                Some(json_body(message)?),
                Replay::Unsafe,
            )
            .await;
        match first {
            Err(Error::Rejected { messages, .. }) if mentions_subtype(&messages) => {
                tracing::info!(
                    channel = message.kind.as_str(),
                    "ghl asked for subType on a message, retrying with subType = type"
                );
                let mut body = serde_json::to_value(message)
                    .map_err(|e| Error::InvalidRequest(e.to_string()))?;
                if let Some(map) = body.as_object_mut() {
                    map.insert("subType".into(), message.kind.as_str().into());
                }
                self.send(
                    Method::POST,
                    path,
                    V_CALENDARS,
                    Some(json_body(&body)?),
                    Replay::Unsafe,
                )
                .await
            }
            other => other,
        }
    }
}

/// Whether a validation error is about the fields added to the spec in May 2026.
fn mentions_subtype(messages: &[String]) -> bool {
    messages.iter().any(|m| {
        let m = m.to_ascii_lowercase();
        m.contains("subtype") || m.contains("status")
    })
}
