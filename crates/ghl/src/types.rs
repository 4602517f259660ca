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
    pub date_added: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EventEnvelope {
    pub event: Appointment,
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
