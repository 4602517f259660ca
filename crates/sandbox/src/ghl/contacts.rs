//! Contacts: `POST /contacts/upsert`, `GET /contacts/{id}`, tags (added, not replaced, by the
//! tags endpoint; replaced by upsert) and notes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::{GhlError, check_location, object_body, opt_str, req_str};
use crate::clock::utc_millis;
use crate::state::{App, ghl_id};

/// Keys upsert handles itself; every other key is stored and echoed as sent.
const OWN_KEYS: [&str; 9] = [
    "locationId",
    "firstName",
    "lastName",
    "name",
    "email",
    "phone",
    "tags",
    "timezone",
    "createNewIfDuplicateAllowed",
];

/// A note on a contact.
#[derive(Clone, Debug)]
pub(crate) struct Note {
    pub id: String,
    pub body: String,
    pub user_id: Option<String>,
    pub date_added: DateTime<Utc>,
}

/// A contact as stored.
#[derive(Clone, Debug)]
pub(crate) struct Contact {
    pub id: String,
    pub location_id: String,
    pub first_name: String,
    pub last_name: String,
    /// Set when the caller gave `name` explicitly; otherwise derived from first/last.
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub timezone: Option<String>,
    pub tags: Vec<String>,
    /// Other fields (customFields, source, address1, …) as sent.
    pub extra: Map<String, Value>,
    pub notes: Vec<Note>,
    pub date_added: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
}

impl Contact {
    /// A new contact with just the essentials (used by the seed).
    pub fn new(
        location_id: &str,
        first_name: &str,
        last_name: &str,
        phone: &str,
        email: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: ghl_id(),
            location_id: location_id.to_owned(),
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            name: None,
            email: Some(email.to_owned()),
            phone: Some(phone.to_owned()),
            timezone: None,
            tags: Vec::new(),
            extra: Map::new(),
            notes: Vec::new(),
            date_added: at,
            date_updated: at,
        }
    }

    /// "First Last", or the explicit `name`.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            format!("{} {}", self.first_name, self.last_name)
                .trim()
                .to_owned()
        })
    }

    fn to_json(&self) -> Value {
        let mut body = json!({
            "id": self.id,
            "locationId": self.location_id,
            "name": self.display_name(),
            "contactName": self.display_name(),
            "firstName": self.first_name,
            "lastName": self.last_name,
            "email": self.email,
            "phone": self.phone,
            "timezone": self.timezone,
            "type": "lead",
            "dnd": false,
            "dndSettings": {},
            "tags": self.tags,
            "customFields": [],
            "source": Value::Null,
            "dateAdded": utc_millis(self.date_added),
            "dateUpdated": utc_millis(self.date_updated),
        });
        if let Some(map) = body.as_object_mut() {
            for (k, v) in &self.extra {
                map.insert(k.clone(), v.clone());
            }
        }
        body
    }
}

/// E.164-ish comparison key: `+` and digits only.
fn phone_key(phone: &str) -> String {
    phone
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

/// `POST /contacts/upsert` → 200 `{"new": bool, "contact": {...}}`, matching an existing
/// contact by email or phone. `tags` given here replace the contact's tags.
pub(crate) async fn upsert_contact(
    State(app): State<App>,
    body: Bytes,
) -> Result<Json<Value>, GhlError> {
    let body = object_body(&body)?;
    let mut problems = Vec::new();
    let location_id = req_str(&body, "locationId", &mut problems);
    let first_name = opt_str(&body, "firstName", &mut problems);
    let last_name = opt_str(&body, "lastName", &mut problems);
    let name = opt_str(&body, "name", &mut problems);
    let email = opt_str(&body, "email", &mut problems).map(|e| e.trim().to_lowercase());
    let phone = opt_str(&body, "phone", &mut problems);
    let timezone = opt_str(&body, "timezone", &mut problems);
    let tags = match body.get("tags") {
        None | Some(Value::Null) => None,
        Some(value) => match string_list(value) {
            Some(tags) => Some(tags),
            None => {
                problems.push("tags must be an array of strings".into());
                None
            }
        },
    };
    if let Some(e) = &email
        && !e.contains('@')
    {
        problems.push("email must be an email".into());
    }
    let Some(location_id) = location_id else {
        return Err(GhlError::Unprocessable(problems));
    };
    if !problems.is_empty() {
        return Err(GhlError::Unprocessable(problems));
    }
    check_location(&app, &location_id)?;
    let extra: Map<String, Value> = body
        .iter()
        .filter(|(k, _)| !OWN_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let now = app.now();
    let mut world = app.world();
    let existing = world.ghl.contacts.iter().position(|c| {
        email
            .as_ref()
            .is_some_and(|e| c.email.as_deref() == Some(e.as_str()))
            || phone.as_ref().is_some_and(|p| {
                c.phone.as_deref().map(phone_key) == Some(phone_key(p)) && !phone_key(p).is_empty()
            })
    });
    let (is_new, index) = match existing {
        Some(index) => (false, index),
        None => {
            world.ghl.contacts.push(Contact {
                id: ghl_id(),
                location_id: location_id.clone(),
                first_name: String::new(),
                last_name: String::new(),
                name: None,
                email: None,
                phone: None,
                timezone: None,
                tags: Vec::new(),
                extra: Map::new(),
                notes: Vec::new(),
                date_added: now,
                date_updated: now,
            });
            (true, world.ghl.contacts.len() - 1)
        }
    };
    let Some(contact) = world.ghl.contacts.get_mut(index) else {
        return Err(GhlError::BadRequest("Contact could not be stored".into()));
    };
    if let Some(v) = first_name {
        contact.first_name = v;
    }
    if let Some(v) = last_name {
        contact.last_name = v;
    }
    if name.is_some() {
        contact.name = name;
    }
    if email.is_some() {
        contact.email = email;
    }
    if phone.is_some() {
        contact.phone = phone;
    }
    if timezone.is_some() {
        contact.timezone = timezone;
    }
    if let Some(tags) = tags {
        contact.tags = dedup(tags);
    }
    contact.extra.extend(extra);
    contact.date_updated = now;
    Ok(Json(json!({ "new": is_new, "contact": contact.to_json() })))
}

fn contact_not_found() -> GhlError {
    GhlError::NotFound("Contact not found".into())
}

/// `GET /contacts/{contactId}` → `{"contact": {...}}`.
pub(crate) async fn get_contact(
    State(app): State<App>,
    Path(contact_id): Path<String>,
) -> Result<Json<Value>, GhlError> {
    let world = app.world();
    let contact = world
        .ghl
        .contact(&contact_id)
        .ok_or_else(contact_not_found)?;
    Ok(Json(json!({ "contact": contact.to_json() })))
}

fn tags_body(body: &Bytes) -> Result<Vec<String>, GhlError> {
    let body = object_body(body)?;
    body.get("tags").and_then(string_list).ok_or_else(|| {
        GhlError::Unprocessable(vec![
            "tags should not be empty".into(),
            "tags must be an array".into(),
        ])
    })
}

/// `POST /contacts/{contactId}/tags` `{"tags": [...]}` → 201 `{"tags": [every tag]}`. Adds to
/// the contact's tags; it does not replace them.
pub(crate) async fn add_tags(
    State(app): State<App>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), GhlError> {
    let tags = tags_body(&body)?;
    let now = app.now();
    let mut world = app.world();
    let contact = world
        .ghl
        .contact_mut(&contact_id)
        .ok_or_else(contact_not_found)?;
    let mut all = std::mem::take(&mut contact.tags);
    all.extend(tags);
    contact.tags = dedup(all);
    contact.date_updated = now;
    Ok((StatusCode::CREATED, Json(json!({ "tags": contact.tags }))))
}

/// `DELETE /contacts/{contactId}/tags` `{"tags": [...]}` → 200 `{"tags": [remaining]}`.
pub(crate) async fn remove_tags(
    State(app): State<App>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, GhlError> {
    let tags = tags_body(&body)?;
    let now = app.now();
    let mut world = app.world();
    let contact = world
        .ghl
        .contact_mut(&contact_id)
        .ok_or_else(contact_not_found)?;
    contact.tags.retain(|t| !tags.iter().any(|r| r.trim() == t));
    contact.date_updated = now;
    Ok(Json(json!({ "tags": contact.tags })))
}

fn note_json(note: &Note, contact_id: &str) -> Value {
    json!({
        "id": note.id,
        "body": note.body,
        "userId": note.user_id,
        "contactId": contact_id,
        "dateAdded": utc_millis(note.date_added),
    })
}

/// `POST /contacts/{contactId}/notes` `{"body": …}` → 201 `{"note": {...}}`.
pub(crate) async fn add_note(
    State(app): State<App>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), GhlError> {
    let body = object_body(&body)?;
    let mut problems = Vec::new();
    let text = req_str(&body, "body", &mut problems);
    let user_id = opt_str(&body, "userId", &mut problems);
    let Some(text) = text else {
        return Err(GhlError::Unprocessable(problems));
    };
    if !problems.is_empty() {
        return Err(GhlError::Unprocessable(problems));
    }
    let now = app.now();
    let mut world = app.world();
    let contact = world
        .ghl
        .contact_mut(&contact_id)
        .ok_or_else(contact_not_found)?;
    let note = Note {
        id: ghl_id(),
        body: text,
        user_id,
        date_added: now,
    };
    let response = note_json(&note, &contact.id);
    contact.notes.push(note);
    Ok((StatusCode::CREATED, Json(json!({ "note": response }))))
}

/// `GET /contacts/{contactId}/notes` → `{"notes": [...]}`.
pub(crate) async fn list_notes(
    State(app): State<App>,
    Path(contact_id): Path<String>,
) -> Result<Json<Value>, GhlError> {
    let world = app.world();
    let contact = world
        .ghl
        .contact(&contact_id)
        .ok_or_else(contact_not_found)?;
    let notes: Vec<Value> = contact
        .notes
        .iter()
        .map(|n| note_json(n, &contact.id))
        .collect();
    Ok(Json(json!({ "notes": notes })))
}

fn string_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Trims tags and keeps the first of each repeated tag.
fn dedup(tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.trim().to_owned();
        if !tag.is_empty() && !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}
