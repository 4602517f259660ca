//! Contacts (ghl.md §4): create (`POST /contacts/`, duplicate → 400 with `meta`), upsert,
//! get, update (`PUT`, answering the misspelled `succeded`), the exact duplicate lookup, search
//! (with an optional index lag), tags (added by the tags endpoint; replaced by create, update
//! and upsert) and notes.

use axum::Json;
use axum::body::Bytes;
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::{GhlError, check_location, object_body, opt_str, req_str};
use crate::clock::utc_millis;
use crate::state::{App, ghl_id};

/// Keys create/update/upsert handle themselves; every other key is stored and echoed as sent.
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

/// The writable fields of a create, update or upsert body, type-checked.
struct ContactInput {
    first_name: Option<String>,
    last_name: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    timezone: Option<String>,
    tags: Option<Vec<String>>,
    extra: Map<String, Value>,
}

fn contact_input(body: &Map<String, Value>, problems: &mut Vec<String>) -> ContactInput {
    let email = opt_str(body, "email", problems).map(|e| e.trim().to_lowercase());
    if let Some(e) = &email
        && !e.contains('@')
    {
        problems.push("email must be an email".into());
    }
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
    ContactInput {
        first_name: opt_str(body, "firstName", problems),
        last_name: opt_str(body, "lastName", problems),
        name: opt_str(body, "name", problems),
        email,
        phone: opt_str(body, "phone", problems),
        timezone: opt_str(body, "timezone", problems),
        tags,
        extra: body
            .iter()
            .filter(|(k, _)| !OWN_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

impl Contact {
    /// An empty contact in `location_id`.
    fn blank(location_id: &str, now: DateTime<Utc>) -> Self {
        Self {
            id: ghl_id(),
            location_id: location_id.to_owned(),
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
        }
    }

    /// Writes the given fields; `tags`, when given, replace all tags.
    fn apply(&mut self, input: ContactInput, now: DateTime<Utc>) {
        if let Some(v) = input.first_name {
            self.first_name = v;
        }
        if let Some(v) = input.last_name {
            self.last_name = v;
        }
        if input.name.is_some() {
            self.name = input.name;
        }
        if input.email.is_some() {
            self.email = input.email;
        }
        if input.phone.is_some() {
            self.phone = input.phone;
        }
        if input.timezone.is_some() {
            self.timezone = input.timezone;
        }
        if let Some(tags) = input.tags {
            self.tags = dedup(tags);
        }
        self.extra.extend(input.extra);
        self.date_updated = now;
    }
}

/// The first contact sharing the email (checked first) or phone, and which one matched.
fn duplicate_of(
    contacts: &[Contact],
    email: Option<&str>,
    phone: Option<&str>,
) -> Option<(usize, &'static str)> {
    if let Some(e) = email
        && let Some(i) = contacts.iter().position(|c| {
            c.email
                .as_deref()
                .is_some_and(|ce| ce.eq_ignore_ascii_case(e))
        })
    {
        return Some((i, "email"));
    }
    let key = phone.map(phone_key).filter(|k| !k.is_empty())?;
    contacts
        .iter()
        .position(|c| c.phone.as_deref().map(phone_key) == Some(key.clone()))
        .map(|i| (i, "phone"))
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
    let input = contact_input(&body, &mut problems);
    let create_new = super::opt_bool(&body, "createNewIfDuplicateAllowed", &mut problems);
    let Some(location_id) = location_id else {
        return Err(GhlError::Unprocessable(problems));
    };
    if !problems.is_empty() {
        return Err(GhlError::Unprocessable(problems));
    }
    check_location(&app, &location_id)?;
    let allow_duplicates = app.settings().allow_duplicate_contacts;
    let now = app.now();
    let mut world = app.world();
    let existing = if create_new && allow_duplicates {
        None
    } else {
        duplicate_of(
            &world.ghl.contacts,
            input.email.as_deref(),
            input.phone.as_deref(),
        )
        .map(|(i, _)| i)
    };
    let (is_new, index) = match existing {
        Some(index) => (false, index),
        None => {
            world.ghl.contacts.push(Contact::blank(&location_id, now));
            (true, world.ghl.contacts.len() - 1)
        }
    };
    let Some(contact) = world.ghl.contacts.get_mut(index) else {
        return Err(GhlError::BadRequest("Contact could not be stored".into()));
    };
    contact.apply(input, now);
    Ok(Json(json!({ "new": is_new, "contact": contact.to_json() })))
}

/// `POST /contacts/` → 201 `{"contact": {...}}`; a known email or phone → 400 "This location
/// does not allow duplicated contacts." with `meta.contactId` / `matchingField`, unless the
/// location allows duplicates (control switch).
pub(crate) async fn create_contact(
    State(app): State<App>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), GhlError> {
    let body = object_body(&body)?;
    let mut problems = Vec::new();
    let location_id = req_str(&body, "locationId", &mut problems);
    let input = contact_input(&body, &mut problems);
    let Some(location_id) = location_id else {
        return Err(GhlError::Unprocessable(problems));
    };
    if !problems.is_empty() {
        return Err(GhlError::Unprocessable(problems));
    }
    check_location(&app, &location_id)?;
    let allow_duplicates = app.settings().allow_duplicate_contacts;
    let now = app.now();
    let mut world = app.world();
    if !allow_duplicates
        && let Some((i, field)) = duplicate_of(
            &world.ghl.contacts,
            input.email.as_deref(),
            input.phone.as_deref(),
        )
        && let Some(existing) = world.ghl.contacts.get(i)
    {
        return Err(GhlError::DuplicateContact {
            contact_id: existing.id.clone(),
            matching_field: field,
            contact_name: existing.display_name(),
        });
    }
    let mut contact = Contact::blank(&location_id, now);
    contact.apply(input, now);
    let answer = contact.to_json();
    world.ghl.contacts.push(contact);
    Ok((StatusCode::CREATED, Json(json!({ "contact": answer }))))
}

/// `PUT /contacts/{contactId}` → 200 `{"succeded": true, "contact": {...}}` (sic). `tags`
/// replace all tags; `locationId` is not writable and is ignored.
pub(crate) async fn update_contact(
    State(app): State<App>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, GhlError> {
    let body = object_body(&body)?;
    let mut problems = Vec::new();
    let input = contact_input(&body, &mut problems);
    if !problems.is_empty() {
        return Err(GhlError::Unprocessable(problems));
    }
    let now = app.now();
    let mut world = app.world();
    let contact = world
        .ghl
        .contact_mut(&contact_id)
        .ok_or_else(contact_not_found)?;
    contact.apply(input, now);
    Ok(Json(
        json!({ "succeded": true, "contact": contact.to_json() }),
    ))
}

/// `GET /contacts/search/duplicate?locationId=&number=|email=` → `{"contact": {...} | null}`.
pub(crate) async fn find_duplicate(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, GhlError> {
    let Some(location_id) = query.get("locationId").filter(|s| !s.is_empty()) else {
        return Err(GhlError::Unprocessable(vec![
            "locationId should not be empty".into(),
        ]));
    };
    check_location(&app, location_id)?;
    let email = query
        .get("email")
        .map(|e| e.trim())
        .filter(|e| !e.is_empty());
    let number = query
        .get("number")
        .map(|n| n.trim())
        .filter(|n| !n.is_empty());
    if email.is_none() && number.is_none() {
        return Err(GhlError::Unprocessable(vec![
            "number or email should not be empty".into(),
        ]));
    }
    let world = app.world();
    let found = duplicate_of(&world.ghl.contacts, email, number)
        .and_then(|(i, _)| world.ghl.contacts.get(i))
        .map(Contact::to_json);
    Ok(Json(json!({ "contact": found })))
}

/// One search filter: `{field, operator: "eq", value}` or `{group: "AND"|"OR", filters}`.
enum Filter {
    Eq(String, String),
    Group { any: bool, filters: Vec<Filter> },
}

fn parse_filter(value: &Value) -> Result<Filter, String> {
    if let Some(group) = value.get("group").and_then(Value::as_str) {
        let any = match group {
            "AND" => false,
            "OR" => true,
            other => return Err(format!("group must be AND or OR, not {other}")),
        };
        let filters = value
            .get("filters")
            .and_then(Value::as_array)
            .ok_or("a group needs filters")?
            .iter()
            .map(parse_filter)
            .collect::<Result<_, _>>()?;
        return Ok(Filter::Group { any, filters });
    }
    let field = value
        .get("field")
        .and_then(Value::as_str)
        .ok_or("filter field should not be empty")?;
    let operator = value
        .get("operator")
        .and_then(Value::as_str)
        .ok_or("filter operator should not be empty")?;
    if operator != "eq" {
        return Err(format!(
            "operator {operator} is not supported by the sandbox (only eq)"
        ));
    }
    if !matches!(field, "phone" | "email" | "firstName" | "lastName") {
        return Err(format!(
            "field {field} is not supported by the sandbox (phone, email, firstName, lastName)"
        ));
    }
    let text = match value.get("value") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err("filter value must be a string".into()),
    };
    Ok(Filter::Eq(field.to_owned(), text))
}

impl Filter {
    fn matches(&self, c: &Contact) -> bool {
        match self {
            Filter::Group { any: true, filters } => filters.iter().any(|f| f.matches(c)),
            Filter::Group {
                any: false,
                filters,
            } => filters.iter().all(|f| f.matches(c)),
            Filter::Eq(field, value) => match field.as_str() {
                "phone" => {
                    c.phone.as_deref().map(phone_key) == Some(phone_key(value))
                        && !phone_key(value).is_empty()
                }
                "email" => c
                    .email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(value.trim())),
                "firstName" => c.first_name.eq_ignore_ascii_case(value),
                "lastName" => c.last_name.eq_ignore_ascii_case(value),
                _ => false,
            },
        }
    }
}

/// `POST /contacts/search` `{locationId, pageLimit, page | searchAfter, query, filters}` →
/// `{"contacts": [...], "total": n}`, newest first. Contacts younger than the configured
/// index lag are not found yet.
pub(crate) async fn search_contacts(
    State(app): State<App>,
    body: Bytes,
) -> Result<Json<Value>, GhlError> {
    let body = object_body(&body)?;
    let mut problems = Vec::new();
    let location_id = req_str(&body, "locationId", &mut problems);
    let page_limit = match body.get("pageLimit").and_then(Value::as_u64) {
        Some(n @ 1..=500) => Some(n as usize),
        Some(_) => {
            problems.push("pageLimit must not be greater than 500".into());
            None
        }
        None => {
            problems.push("pageLimit should not be empty".into());
            problems.push("pageLimit must be a number".into());
            None
        }
    };
    let page = match body.get("page") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(n as usize),
            _ => {
                problems.push("page must be a positive number".into());
                None
            }
        },
    };
    let search_after = match body.get("searchAfter") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.clone()),
        Some(_) => {
            problems.push("searchAfter must be an array".into());
            None
        }
    };
    if page.is_some() && search_after.is_some() {
        problems.push("page and searchAfter cannot be used together".into());
    }
    let query = opt_str(&body, "query", &mut problems).map(|q| q.trim().to_lowercase());
    if query.as_ref().is_some_and(|q| q.chars().count() > 75) {
        problems.push("query must be shorter than or equal to 75 characters".into());
    }
    let filters = match body.get("filters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(parse_filter)
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| {
                problems.push(e);
                Vec::new()
            }),
        Some(_) => {
            problems.push("filters must be an array".into());
            Vec::new()
        }
    };
    let (Some(location_id), Some(page_limit)) = (location_id, page_limit) else {
        return Err(GhlError::Unprocessable(problems));
    };
    if page.is_some_and(|p| p * page_limit > 10_000) {
        problems.push("page × pageLimit must not exceed 10000 results".into());
    }
    if !problems.is_empty() {
        return Err(GhlError::Unprocessable(problems));
    }
    check_location(&app, &location_id)?;
    let now = app.now();
    let lag = chrono::Duration::from_std(app.settings().contact_search_lag)
        .unwrap_or(chrono::Duration::zero());
    let world = app.world();
    let mut found: Vec<&Contact> = world
        .ghl
        .contacts
        .iter()
        .filter(|c| c.date_added <= now - lag)
        .filter(|c| {
            query.as_ref().is_none_or(|q| {
                let phone_digits = phone_key(q);
                c.display_name().to_lowercase().contains(q.as_str())
                    || c.email.as_deref().is_some_and(|e| e.contains(q.as_str()))
                    || (!phone_digits.is_empty()
                        && c.phone
                            .as_deref()
                            .is_some_and(|p| phone_key(p).contains(&phone_digits)))
            })
        })
        .filter(|c| filters.iter().all(|f| f.matches(c)))
        .collect();
    // Newest first, then by id: a total order the searchAfter cursor can resume from.
    found.sort_by(|a, b| b.date_added.cmp(&a.date_added).then(b.id.cmp(&a.id)));
    let total = found.len();
    let cursor = |c: &Contact| (c.date_added.timestamp_millis(), c.id.clone());
    let after: Option<(i64, String)> = search_after
        .as_ref()
        .and_then(|a| Some((a.first()?.as_i64()?, a.get(1)?.as_str()?.to_owned())));
    let start = match (&after, page) {
        (Some(after), _) => found
            .iter()
            .position(|c| cursor(c) < *after)
            .unwrap_or(found.len()),
        (None, Some(page)) => (page - 1) * page_limit,
        (None, None) => 0,
    };
    let contacts: Vec<Value> = found
        .into_iter()
        .skip(start)
        .take(page_limit)
        .map(|c| {
            let mut v = c.to_json();
            if let Some(map) = v.as_object_mut() {
                map.insert(
                    "searchAfter".into(),
                    json!([c.date_added.timestamp_millis(), c.id]),
                );
            }
            v
        })
        .collect();
    Ok(Json(json!({ "contacts": contacts, "total": total })))
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
