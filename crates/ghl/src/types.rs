//! GHL wire types, named as GHL names them (`shared/providers/ghl.md` §3–§4). Response
//! fields are optional where GHL has been seen to omit them; unknown fields are ignored.

use serde::{Deserialize, Serialize};

/// `GET /locations/{id}` → `location`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// IANA zone, the clinic's time zone (calendars have none of their own).
    #[serde(default)]
    pub timezone: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LocationEnvelope {
    pub location: Location,
}

/// A calendar (§3.1).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Calendar {
    pub id: String,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub slot_duration: Option<u32>,
    #[serde(default)]
    pub slot_duration_unit: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub team_members: Vec<TeamMember>,
}

impl Calendar {
    /// Slot length in minutes (`slotDuration` in `mins` or `hours`, default 30).
    pub fn slot_minutes(&self) -> u32 {
        let d = self.slot_duration.unwrap_or(30);
        match self.slot_duration_unit.as_deref() {
            Some("hours") => d.saturating_mul(60),
            _ => d,
        }
    }
}

/// A calendar's team member.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TeamMember {
    pub user_id: String,
    #[serde(default)]
    pub is_primary: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CalendarsEnvelope {
    #[serde(default)]
    pub calendars: Vec<Calendar>,
}

/// Body of `POST /calendars/events/appointments` (§3.3). Times are ISO-8601 with the
/// location's offset, echoed exactly as free-slots renders them.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NewAppointment {
    pub calendar_id: String,
    pub location_id: String,
    pub contact_id: String,
    pub start_time: String,
    pub end_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Always sent: the default for API creates is unconfirmed (§3.7).
    pub appointment_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_user_id: Option<String>,
    /// Never true from Mostrador: slot validation is what prevents double bookings.
    pub ignore_free_slot_validation: bool,
}

/// An appointment as create/update return it, or `event` from GET (§3.3, §3.6).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Appointment {
    pub id: String,
    #[serde(default)]
    pub calendar_id: Option<String>,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub contact_id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub appointment_status: Option<String>,
    #[serde(default)]
    pub assigned_user_id: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub group_id: Option<String>,
    /// Series id when this is an instance of a recurring appointment.
    #[serde(default)]
    pub master_event_id: Option<String>,
    #[serde(default)]
    pub date_added: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
}

impl Appointment {
    /// `appointmentStatus` as an open enum (§3.7).
    pub fn status(&self) -> Option<AppointmentStatus> {
        self.appointment_status
            .as_deref()
            .map(AppointmentStatus::from_wire)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct EventEnvelope {
    pub event: Appointment,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EventsEnvelope {
    #[serde(default)]
    pub events: Vec<Appointment>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CalendarEnvelope {
    pub calendar: Calendar,
}

/// Appointment status (§3.7): the six writable values, plus whatever else GHL reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AppointmentStatus {
    New,
    Confirmed,
    Cancelled,
    Showed,
    NoShow,
    Invalid,
    /// Seen in responses only (`active`, `completed`, `booked`, …).
    Unknown(String),
}

impl AppointmentStatus {
    /// Reads GHL's wire value.
    pub fn from_wire(s: &str) -> Self {
        match s {
            "new" => Self::New,
            "confirmed" => Self::Confirmed,
            "cancelled" => Self::Cancelled,
            "showed" => Self::Showed,
            "noshow" => Self::NoShow,
            "invalid" => Self::Invalid,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// GHL's wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::New => "new",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::Showed => "showed",
            Self::NoShow => "noshow",
            Self::Invalid => "invalid",
            Self::Unknown(s) => s,
        }
    }
}

impl Serialize for AppointmentStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Body of `PUT /calendars/events/appointments/{id}` (§3.5): nothing is required, absent
/// fields are left as they are. Slot validation applies to a new time, so send `start_time`
/// exactly as free-slots rendered it, and `end_time` with it.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AppointmentUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appointment_status: Option<AppointmentStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `false` keeps GHL's automations from firing (webhooks may still echo, §8.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_notify: Option<bool>,
}

/// Which events `GET /calendars/events` lists (§3.6). GHL requires at least one of
/// `calendar_id`, `user_id`, `group_id`; the client refuses the call otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsQuery {
    pub location_id: String,
    pub start: chrono::DateTime<chrono::Utc>,
    pub end: chrono::DateTime<chrono::Utc>,
    pub calendar_id: Option<String>,
    pub user_id: Option<String>,
    pub group_id: Option<String>,
}

/// Which free slots to ask for (§3.2). Ranges over 31 days are split by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeSlotsQuery {
    pub start: chrono::DateTime<chrono::Utc>,
    pub end: chrono::DateTime<chrono::Utc>,
    /// IANA zone the slots are rendered in; pass the location's, so slot strings can be
    /// echoed unchanged when booking (§9.1).
    pub timezone: Option<String>,
    pub user_id: Option<String>,
}

/// Free slots per local date, each slot the exact string GHL rendered (book with it as is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FreeSlots {
    pub days: std::collections::BTreeMap<chrono::NaiveDate, Vec<String>>,
    /// `traceId` of each underlying call, for support.
    pub trace_ids: Vec<String>,
}

impl FreeSlots {
    /// Every slot in date order.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.days.values().flatten().map(String::as_str)
    }
}

/// Body of `POST /contacts/upsert`. Tags are never sent here: they would replace the
/// contact's existing tags (§4).
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ContactUpsert {
    pub location_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Body of `POST /contacts/` (§4). Only `location_id` is required. `tags` here is fine: the
/// contact is new, so there is nothing to replace.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct NewContact {
    pub location_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// E.164.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// How to look a contact up exactly (`GET /contacts/search/duplicate`, §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DuplicateKey {
    /// E.164 phone, sent as `number`.
    Phone(String),
    Email(String),
}

/// Body of `POST /contacts/search` (§4). `page` and `search_after` are exclusive; the client
/// checks `page_limit` (1–500) and `query` (≤ 75 characters) before sending.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ContactSearch {
    pub location_id: String,
    pub page_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// The cursor of the previous page's last contact, as GHL gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_after: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// `{field, operator, value}` or `{group, filters}` objects, passed through.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<serde_json::Value>,
    /// `{field, direction}` objects, passed through.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sort: Vec<serde_json::Value>,
}

/// `POST /contacts/search` answer; the shape is (unconfirmed) in GHL's spec, so both fields
/// default when missing.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct ContactSearchResult {
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub total: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ContactEnvelope {
    pub contact: Contact,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MaybeContactEnvelope {
    #[serde(default)]
    pub contact: Option<Contact>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TagsEnvelope {
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Body of `POST /contacts/{id}/notes` (§4).
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct NewNote {
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A contact note.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub contact_id: Option<String>,
    #[serde(default)]
    pub date_added: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NoteEnvelope {
    pub note: Note,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NotesEnvelope {
    #[serde(default)]
    pub notes: Vec<Note>,
}

/// Channels Mostrador sends on (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MessageType {
    #[serde(rename = "SMS")]
    Sms,
    WhatsApp,
    Email,
}

impl MessageType {
    /// GHL's wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Sms => "SMS",
            MessageType::WhatsApp => "WhatsApp",
            MessageType::Email => "Email",
        }
    }
}

/// Body of `POST /conversations/messages`: the minimal `{type, contactId, message}` nearly
/// every client sends, plus `subject`/`html` for email (§5).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OutboundMessage {
    #[serde(rename = "type")]
    pub kind: MessageType,
    pub contact_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

impl OutboundMessage {
    /// A text message by SMS.
    pub fn sms(contact_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self::text(MessageType::Sms, contact_id, text)
    }

    /// A text message by WhatsApp (outside the 24-hour window GHL needs a template, §5).
    pub fn whatsapp(contact_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self::text(MessageType::WhatsApp, contact_id, text)
    }

    /// An email with a plain-text `message` and an HTML body.
    pub fn email(
        contact_id: impl Into<String>,
        subject: impl Into<String>,
        text: impl Into<String>,
        html: impl Into<String>,
    ) -> Self {
        Self {
            kind: MessageType::Email,
            contact_id: contact_id.into(),
            message: Some(text.into()),
            subject: Some(subject.into()),
            html: Some(html.into()),
        }
    }

    fn text(kind: MessageType, contact_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            kind,
            contact_id: contact_id.into(),
            message: Some(text.into()),
            subject: None,
            html: None,
        }
    }
}

/// `POST /conversations/messages` answer (§5).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SentMessage {
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub message_ids: Vec<String>,
    #[serde(default)]
    pub email_message_id: Option<String>,
    #[serde(default)]
    pub msg: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// A contact (§4).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub date_added: Option<String>,
}

/// `POST /contacts/upsert` answer.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct UpsertedContact {
    #[serde(default)]
    pub new: bool,
    pub contact: Contact,
}

/// GHL's error bodies: `message` is a string, or an array on 422 (§6).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub message: Option<serde_json::Value>,
    #[serde(default)]
    pub trace_id: Option<String>,
    /// `{contactId, matchingField, contactName}` on a duplicate contact (§4).
    #[serde(default)]
    pub meta: Option<serde_json::Value>,
    /// OAuth errors may use the RFC 6749 shape instead.
    #[serde(default)]
    pub error: Option<serde_json::Value>,
    #[serde(default, rename = "error_description")]
    pub error_description: Option<String>,
}

impl ErrorBody {
    pub fn messages(&self) -> Vec<String> {
        match &self.message {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}
