//! Contact endpoints (ghl.md §4), as [`Client`] methods: upsert, create, get, exact lookup,
//! search, and the additive tag and note writes.
//!
//! Tags are only ever *added* (`POST …/tags`): sending `tags` on update or upsert replaces
//! all of a contact's tags, which would erase what the clinic set in GHL.

use reqwest::Method;

use crate::client::{Client, Replay, V_CONTACTS, json_body, query, segment};
use crate::error::Error;
use crate::types::*;

/// `pageLimit` ceiling of `POST /contacts/search`.
const MAX_SEARCH_PAGE_LIMIT: u32 = 500;
/// `query` ceiling of `POST /contacts/search`, in characters.
const MAX_SEARCH_QUERY_CHARS: usize = 75;

impl Client {
    /// `POST /contacts/upsert`: finds the patient by phone/email or creates them.
    /// Not retried on 429 (it may create).
    pub async fn upsert_contact(&self, contact: &ContactUpsert) -> Result<UpsertedContact, Error> {
        self.send(
            Method::POST,
            "/contacts/upsert",
            V_CONTACTS,
            Some(json_body(contact)?),
            Replay::Unsafe,
        )
        .await
    }

    /// `POST /contacts/` (201). When the location disallows duplicates and one exists, GHL's
    /// 400 becomes [`Error::DuplicateContact`] carrying the existing id to reuse.
    pub async fn create_contact(&self, contact: &NewContact) -> Result<Contact, Error> {
        let env: ContactEnvelope = self
            .send(
                Method::POST,
                "/contacts/",
                V_CONTACTS,
                Some(json_body(contact)?),
                Replay::Unsafe,
            )
            .await?;
        Ok(env.contact)
    }

    /// `GET /contacts/{id}`.
    pub async fn get_contact(&self, contact_id: &str) -> Result<Contact, Error> {
        let path = format!("/contacts/{}", segment(contact_id)?);
        let env: ContactEnvelope = self
            .send(Method::GET, &path, V_CONTACTS, None, Replay::Safe)
            .await?;
        Ok(env.contact)
    }

    /// `GET /contacts/search/duplicate` by phone (`number`) or email: the exact match under
    /// the location's duplicate setting, or `None` (`"contact": null`). The response schema
    /// is undocumented (§4); a missing `contact` key also reads as `None`.
    pub async fn find_duplicate_contact(
        &self,
        location_id: &str,
        key: &DuplicateKey,
    ) -> Result<Option<Contact>, Error> {
        let (name, value) = match key {
            DuplicateKey::Phone(p) => ("number", p.as_str()),
            DuplicateKey::Email(e) => ("email", e.as_str()),
        };
        if value.trim().is_empty() {
            return Err(Error::InvalidRequest("empty duplicate lookup key".into()));
        }
        let path = format!(
            "/contacts/search/duplicate?{}",
            query(&[("locationId", location_id), (name, value)])
        );
        let env: MaybeContactEnvelope = self
            .send(Method::GET, &path, V_CONTACTS, None, Replay::Safe)
            .await?;
        Ok(env.contact)
    }

    /// `POST /contacts/search`. The index lags writes by a few seconds: keep the id returned
    /// by create/upsert rather than searching for a contact just written.
    pub async fn search_contacts(
        &self,
        search: &ContactSearch,
    ) -> Result<ContactSearchResult, Error> {
        if search.page_limit == 0 || search.page_limit > MAX_SEARCH_PAGE_LIMIT {
            return Err(Error::InvalidRequest(format!(
                "pageLimit must be between 1 and {MAX_SEARCH_PAGE_LIMIT}"
            )));
        }
        if search
            .query
            .as_deref()
            .is_some_and(|q| q.chars().count() > MAX_SEARCH_QUERY_CHARS)
        {
            return Err(Error::InvalidRequest(format!(
                "search query is longer than {MAX_SEARCH_QUERY_CHARS} characters"
            )));
        }
        if search.page.is_some() && search.search_after.is_some() {
            return Err(Error::InvalidRequest(
                "use page or searchAfter, not both".into(),
            ));
        }
        self.send(
            Method::POST,
            "/contacts/search",
            V_CONTACTS,
            Some(json_body(search)?),
            Replay::Safe,
        )
        .await
    }

    /// `POST /contacts/{id}/tags`: adds tags, keeping the ones the contact has. Returns the
    /// tags GHL reports.
    pub async fn add_contact_tags(
        &self,
        contact_id: &str,
        tags: &[String],
    ) -> Result<Vec<String>, Error> {
        if tags.is_empty() {
            return Err(Error::InvalidRequest("no tags to add".into()));
        }
        let path = format!("/contacts/{}/tags", segment(contact_id)?);
        let body = json_body(&serde_json::json!({ "tags": tags }))?;
        let env: TagsEnvelope = self
            .send(Method::POST, &path, V_CONTACTS, Some(body), Replay::Safe)
            .await?;
        Ok(env.tags)
    }

    /// `POST /contacts/{id}/notes` (201). Not retried on 429: it would add the note twice.
    pub async fn add_contact_note(&self, contact_id: &str, note: &NewNote) -> Result<Note, Error> {
        if note.body.trim().is_empty() {
            return Err(Error::InvalidRequest("empty note".into()));
        }
        let path = format!("/contacts/{}/notes", segment(contact_id)?);
        let env: NoteEnvelope = self
            .send(
                Method::POST,
                &path,
                V_CONTACTS,
                Some(json_body(note)?),
                Replay::Unsafe,
            )
            .await?;
        Ok(env.note)
    }

    /// `GET /contacts/{id}/notes` → `{"notes": [...]}`: the contact's notes.
    pub async fn list_contact_notes(&self, contact_id: &str) -> Result<Vec<Note>, Error> {
        let path = format!("/contacts/{}/notes", segment(contact_id)?);
        let env: NotesEnvelope = self
            .send(Method::GET, &path, V_CONTACTS, None, Replay::Safe)
            .await?;
        Ok(env.notes)
    }
}
