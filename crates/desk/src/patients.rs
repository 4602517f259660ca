//! Patients at the front desk: finding one among GHL's contacts by name, phone or email, and
//! adding one after GHL's duplicate lookup, so the desk never makes a second contact for the
//! same person. A patient's phone is patient data: it is never logged.

use crate::desk::Desk;
use crate::error::DeskError;
use serde::Serialize;

/// Shortest and longest search text, in characters after trimming.
const SEARCH_CHARS: std::ops::RangeInclusive<usize> = 2..=100;
/// GHL's `POST /contacts/search` takes at most this many characters; longer text is cut,
/// which only widens the search.
const GHL_QUERY_CHARS: usize = 75;
/// Results shown for one search: enough to pick from while typing.
pub const SEARCH_LIMIT: u32 = 20;
const MAX_NAME: usize = 200;
const MAX_EMAIL: usize = 254;

/// A patient as the desk knows them: a GHL contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    pub contact_id: String,
    /// As GHL holds it; empty when the contact has no name.
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A patient after [`Desk::create_patient`]: the contact made, or the one GHL already had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedPatient {
    #[serde(flatten)]
    pub patient: Patient,
    /// True when GHL already had this person and nothing was created.
    pub existing: bool,
}

/// A contact to create, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPatient {
    pub name: String,
    /// Digits with an optional leading `+`, spaces and dashes removed.
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// How GHL's duplicate lookup is asked for a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactKey {
    Phone(String),
    Email(String),
}

impl Desk {
    /// GHL contacts whose name, phone or email match `query`, at most [`SEARCH_LIMIT`].
    /// `VALIDATION` on `query` unless it has 2-100 characters once trimmed.
    pub async fn search_patients(&self, query: &str) -> Result<Vec<Patient>, DeskError> {
        let query = query.trim();
        if !SEARCH_CHARS.contains(&query.chars().count()) {
            return Err(DeskError::validation(
                "query",
                "type 2-100 characters of a name, phone or email",
            ));
        }
        let sent: String = query.chars().take(GHL_QUERY_CHARS).collect();
        let mut found = self
            .scheduler
            .search_patients(&self.clinic.location_id, &sent, SEARCH_LIMIT)
            .await?;
        found.truncate(SEARCH_LIMIT as usize);
        Ok(found)
    }

    /// Adds a patient unless GHL already has them: GHL's duplicate lookup by phone, then by
    /// email; a match is answered as `existing` and nothing is created. Needs a name (1-200
    /// characters) and a phone or an email, each well formed.
    pub async fn create_patient(
        &self,
        name: &str,
        phone: Option<&str>,
        email: Option<&str>,
    ) -> Result<CreatedPatient, DeskError> {
        let new = validate_patient(name, phone, email)?;
        let location = &self.clinic.location_id;
        let keys = new
            .phone
            .clone()
            .map(ContactKey::Phone)
            .into_iter()
            .chain(new.email.clone().map(ContactKey::Email));
        for key in keys {
            if let Some(patient) = self.scheduler.find_patient(location, &key).await? {
                self.audit(
                    "desk",
                    "patient.existing",
                    "contact",
                    &patient.contact_id,
                    "already in GHL; not created",
                )
                .await;
                return Ok(CreatedPatient {
                    patient,
                    existing: true,
                });
            }
        }
        let created = self.scheduler.create_patient(location, &new).await?;
        let (action, summary) = if created.existing {
            ("patient.existing", "GHL matched an existing contact")
        } else {
            ("patient.create", "created in GHL")
        };
        self.audit(
            "desk",
            action,
            "contact",
            &created.patient.contact_id,
            summary,
        )
        .await;
        Ok(created)
    }
}

/// The patient as typed, checked and tidied; blank phone or email count as absent.
fn validate_patient(
    name: &str,
    phone: Option<&str>,
    email: Option<&str>,
) -> Result<NewPatient, DeskError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(DeskError::validation(
            "name",
            "the patient's name is required (at most 200 characters)",
        ));
    }
    let phone = phone.map(str::trim).filter(|p| !p.is_empty());
    if let Some(p) = phone {
        crate::booking::check_phone("phone", p)?;
    }
    let email = email.map(str::trim).filter(|e| !e.is_empty());
    if let Some(e) = email
        && !is_email(e)
    {
        return Err(DeskError::validation(
            "email",
            "the email must look like name@example.com",
        ));
    }
    if phone.is_none() && email.is_none() {
        return Err(DeskError::validation(
            "phone",
            "a phone or an email is required",
        ));
    }
    Ok(NewPatient {
        name: name.to_string(),
        phone: phone.map(|p| p.chars().filter(|c| *c != ' ' && *c != '-').collect()),
        email: email.map(str::to_string),
    })
}

/// One `@` between a non-empty local part and a dotted domain, no spaces: the shape staff
/// can get wrong, not RFC 5322.
fn is_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    e.len() <= MAX_EMAIL
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_is_kept_as_digits_with_its_plus() {
        let p = validate_patient(" Rosa ", Some("+51 987-654 321"), Some(" ")).unwrap();
        assert_eq!(p.name, "Rosa");
        assert_eq!(p.phone.as_deref(), Some("+51987654321"));
        assert_eq!(p.email, None);
    }

    #[test]
    fn emails_of_the_wrong_shape_are_refused() {
        for bad in [
            "rosa",
            "rosa@",
            "@x.pe",
            "rosa@x",
            "ro sa@x.pe",
            "a@b@c.pe",
            "a@.pe",
            "a@x..pe",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        for good in ["rosa@example.com", "r.h+desk@clinica.com.pe"] {
            assert!(is_email(good), "{good}");
        }
    }

    #[test]
    fn a_patient_needs_a_phone_or_an_email() {
        let e = validate_patient("Rosa", None, Some("")).unwrap_err();
        assert_eq!(e.field(), Some("phone"));
        let e = validate_patient("Rosa", Some("12ab"), None).unwrap_err();
        assert_eq!(e.field(), Some("phone"));
        let e = validate_patient("", Some("+51987654321"), None).unwrap_err();
        assert_eq!(e.field(), Some("name"));
    }
}
