//! GHL Marketplace webhooks (ghl.md §8): signature verification over the raw body bytes
//! and tolerant parsing of the appointment events.
//!
//! Verification order (§8.3): `X-GHL-Signature` (Ed25519) wins whenever it is present and is
//! not empty or `N/A`; if it fails the request is rejected, never retried against the legacy
//! RSA `X-WH-Signature`. Only without a usable Ed25519 header is the RSA one checked. Keys
//! come from [`WebhookKeys`]: GHL's published keys plus any configured extra PEMs, so a key
//! rotation is a configuration change, not a release.
//!
//! Parsing (§8.2) accepts the flat `{type, locationId, timestamp, webhookId, appointment}`
//! shape and the `{type, timestamp, webhookId, data:{…}}` envelope, treats every field as
//! optional and dispatches on the body's real `type`. Replay checks and dedup (§8.4) belong
//! to the caller, keyed on [`WebhookEvent::webhook_id`].

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use ed25519_dalek::pkcs8::DecodePublicKey as _;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::signature::Verifier as _;
use serde_json::{Map, Value};
use sha2::Sha256;

/// Header carrying the current Ed25519 signature.
pub const ED25519_SIGNATURE_HEADER: &str = "x-ghl-signature";
/// Header carrying the legacy RSA-SHA256 signature (deprecated from 2026-07-01 per §8.3).
pub const RSA_SIGNATURE_HEADER: &str = "x-wh-signature";
/// Environment variable with extra webhook public keys: one or more PEM blocks, concatenated.
pub const PUBLIC_KEYS_ENV: &str = "GHL_WEBHOOK_PUBLIC_KEYS";

/// GHL's Ed25519 webhook key (§8.3). Seen identically in many community projects citing
/// GHL's integration guide; (unconfirmed) against the live page, hence [`PUBLIC_KEYS_ENV`].
pub const GHL_ED25519_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
";

/// GHL's legacy RSA-4096 webhook key, from its webhook-authentication doc (§8.3).
pub const GHL_RSA_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
";

/// The safe replay window of §8.4: 75 minutes covers GHL's six 429 redeliveries.
pub const REPLAY_WINDOW: std::time::Duration = std::time::Duration::from_secs(75 * 60);

/// Ed25519 signatures are always 64 bytes (§8.3).
const ED25519_SIGNATURE_LEN: usize = 64;

/// Base64 as GHL sends it, tolerant of missing padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a webhook's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Neither header is present with a usable value (absent, empty or `N/A`).
    #[error("the webhook carries no signature")]
    Missing,
    /// The header is not base64, or not the size the algorithm produces.
    #[error("the {0} signature is malformed")]
    Malformed(SignatureScheme),
    /// No configured key of that algorithm verifies the body.
    #[error("the {0} signature does not match the body")]
    Mismatch(SignatureScheme),
    /// A signature of that algorithm arrived but no key of that algorithm is configured.
    #[error("no {0} public key is configured")]
    NoKey(SignatureScheme),
}

/// Which header and algorithm verified (or failed to verify) a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    /// `X-GHL-Signature`, Ed25519.
    Ed25519,
    /// `X-WH-Signature`, RSASSA-PKCS1-v1_5 with SHA-256 (legacy).
    RsaSha256,
}

impl std::fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureScheme::Ed25519 => "Ed25519 (X-GHL-Signature)",
            SignatureScheme::RsaSha256 => "RSA-SHA256 (X-WH-Signature)",
        })
    }
}

/// A PEM that could not be used as a webhook key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// PEM block number `index` (from 0) is neither an Ed25519 nor an RSA public key.
    #[error("PEM block {index} is not an Ed25519 or RSA public key")]
    Unsupported { index: usize },
    /// The text holds no `-----BEGIN …-----` / `-----END …-----` block.
    #[error("no PEM block found")]
    NoPem,
}

/// The public keys webhooks are verified with. Several keys per algorithm are allowed so a
/// rotation can overlap: a signature is accepted when any key of its algorithm verifies it.
#[derive(Clone, Default)]
pub struct WebhookKeys {
    ed25519: Vec<ed25519_dalek::VerifyingKey>,
    rsa: Vec<rsa::pkcs1v15::VerifyingKey<Sha256>>,
}

impl std::fmt::Debug for WebhookKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookKeys")
            .field("ed25519", &self.ed25519.len())
            .field("rsa", &self.rsa.len())
            .finish()
    }
}

impl WebhookKeys {
    /// No keys at all: every signature is rejected until keys are added.
    pub fn empty() -> Self {
        Self::default()
    }

    /// GHL's two published keys ([`GHL_ED25519_PUBLIC_KEY_PEM`], [`GHL_RSA_PUBLIC_KEY_PEM`]).
    pub fn ghl_defaults() -> Result<Self, KeyError> {
        Self::empty()
            .with_pems(GHL_ED25519_PUBLIC_KEY_PEM)?
            .with_pems(GHL_RSA_PUBLIC_KEY_PEM)
    }

    /// GHL's published keys plus the PEMs in `GHL_WEBHOOK_PUBLIC_KEYS`, when set and not blank.
    pub fn from_env() -> Result<Self, KeyError> {
        let keys = Self::ghl_defaults()?;
        match std::env::var(PUBLIC_KEYS_ENV) {
            Ok(extra) if !extra.trim().is_empty() => keys.with_pems(&extra),
            _ => Ok(keys),
        }
    }

    /// Only the keys in `pems` (one or more PEM blocks), without GHL's defaults: for tests and
    /// for the sandbox, which signs with its own key pairs.
    pub fn from_pems(pems: &str) -> Result<Self, KeyError> {
        Self::empty().with_pems(pems)
    }

    /// Adds every PEM block in `pems`, telling Ed25519 from RSA by parsing. Accepts SPKI
    /// (`BEGIN PUBLIC KEY`) for both and PKCS#1 (`BEGIN RSA PUBLIC KEY`) for RSA.
    pub fn with_pems(mut self, pems: &str) -> Result<Self, KeyError> {
        let blocks = pem_blocks(pems);
        if blocks.is_empty() {
            return Err(KeyError::NoPem);
        }
        for (index, block) in blocks.into_iter().enumerate() {
            if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_pem(block) {
                self.ed25519.push(key);
            } else if let Ok(key) = rsa::PublicKey::from_public_key_pem(block)
                .or_else(|_| rsa::PublicKey::from_pkcs1_pem(block))
            {
                self.rsa
                    .push(rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key));
            } else {
                return Err(KeyError::Unsupported { index });
            }
        }
        Ok(self)
    }

    /// How many Ed25519 and RSA keys are loaded.
    pub fn counts(&self) -> (usize, usize) {
        (self.ed25519.len(), self.rsa.len())
    }

    /// Verifies `body` (the exact raw bytes received) against the signature headers in
    /// `headers`. Header names are matched case-insensitively by the `HeaderMap`.
    pub fn verify(
        &self,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<SignatureScheme, SignatureError> {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        self.verify_signatures(
            get(ED25519_SIGNATURE_HEADER),
            get(RSA_SIGNATURE_HEADER),
            body,
        )
    }

    /// Same as [`WebhookKeys::verify`] for headers held as name/value pairs (e.g. forwarded
    /// by a relay); names are compared case-insensitively, the first match wins.
    pub fn verify_pairs<'a>(
        &self,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: &[u8],
    ) -> Result<SignatureScheme, SignatureError> {
        let mut ed = None;
        let mut rsa = None;
        for (name, value) in headers {
            if ed.is_none() && name.eq_ignore_ascii_case(ED25519_SIGNATURE_HEADER) {
                ed = Some(value);
            } else if rsa.is_none() && name.eq_ignore_ascii_case(RSA_SIGNATURE_HEADER) {
                rsa = Some(value);
            }
        }
        self.verify_signatures(ed, rsa, body)
    }

    /// The verification rule of §8.3 given the two header values, if present.
    pub fn verify_signatures(
        &self,
        ghl_signature: Option<&str>,
        wh_signature: Option<&str>,
        body: &[u8],
    ) -> Result<SignatureScheme, SignatureError> {
        if let Some(sig) = usable(ghl_signature) {
            // No fallback on failure: an attacker could otherwise strip down to the legacy path.
            return self
                .verify_ed25519(sig, body)
                .map(|()| SignatureScheme::Ed25519);
        }
        if let Some(sig) = usable(wh_signature) {
            return self
                .verify_rsa(sig, body)
                .map(|()| SignatureScheme::RsaSha256);
        }
        Err(SignatureError::Missing)
    }

    fn verify_ed25519(&self, sig: &str, body: &[u8]) -> Result<(), SignatureError> {
        let scheme = SignatureScheme::Ed25519;
        let bytes = BASE64
            .decode(sig)
            .map_err(|_| SignatureError::Malformed(scheme))?;
        let bytes: [u8; ED25519_SIGNATURE_LEN] = bytes
            .try_into()
            .map_err(|_| SignatureError::Malformed(scheme))?;
        if self.ed25519.is_empty() {
            return Err(SignatureError::NoKey(scheme));
        }
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        if self
            .ed25519
            .iter()
            .any(|key| key.verify_strict(body, &signature).is_ok())
        {
            Ok(())
        } else {
            Err(SignatureError::Mismatch(scheme))
        }
    }

    fn verify_rsa(&self, sig: &str, body: &[u8]) -> Result<(), SignatureError> {
        let scheme = SignatureScheme::RsaSha256;
        let bytes = BASE64
            .decode(sig)
            .map_err(|_| SignatureError::Malformed(scheme))?;
        let signature = rsa::pkcs1v15::Signature::try_from(bytes.as_slice())
            .map_err(|_| SignatureError::Malformed(scheme))?;
        if self.rsa.is_empty() {
            return Err(SignatureError::NoKey(scheme));
        }
        if self
            .rsa
            .iter()
            .any(|key| key.verify(body, &signature).is_ok())
        {
            Ok(())
        } else {
            Err(SignatureError::Mismatch(scheme))
        }
    }
}

/// A header value that carries a signature: not absent, not blank, not `N/A`.
fn usable(value: Option<&str>) -> Option<&str> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("N/A"))
}

/// Splits concatenated PEM text into its `BEGIN … END` blocks.
fn pem_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let from_begin = &rest[start..];
        let Some(end_marker) = from_begin.find("-----END ") else {
            break;
        };
        // The END line closes with "-----" after its label.
        let after_end = &from_begin[end_marker + "-----END ".len()..];
        let Some(close) = after_end.find("-----") else {
            break;
        };
        let len = end_marker + "-----END ".len() + close + "-----".len();
        blocks.push(&from_begin[..len]);
        rest = &from_begin[len..];
    }
    blocks
}

/// The event types Mostrador acts on; anything else is [`WebhookKind::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookKind {
    AppointmentCreate,
    AppointmentUpdate,
    /// Terminal for the appointment (§8.4).
    AppointmentDelete,
    /// Another event type (or none): acknowledge and ignore.
    Unknown(Option<String>),
}

/// A parsed webhook. Every field is optional: GHL has sent payloads missing documented ones.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub kind: WebhookKind,
    /// Route by this: one webhook URL serves every installed location (§8.1).
    pub location_id: Option<String>,
    /// ISO-8601 UTC, as sent; see [`WebhookEvent::timestamp_utc`].
    pub timestamp: Option<String>,
    /// The dedup key (§8.4).
    pub webhook_id: Option<String>,
    pub appointment: Option<WebhookAppointment>,
}

/// `appointment` in an Appointment* webhook (§8.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookAppointment {
    pub id: Option<String>,
    pub location_id: Option<String>,
    pub address: Option<String>,
    pub title: Option<String>,
    pub calendar_id: Option<String>,
    pub contact_id: Option<String>,
    pub group_id: Option<String>,
    pub appointment_status: Option<String>,
    pub assigned_user_id: Option<String>,
    pub users: Vec<String>,
    pub notes: Option<String>,
    /// e.g. `booking_widget`.
    pub source: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub date_added: Option<String>,
    pub date_updated: Option<String>,
}

/// Why a webhook body could not be parsed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the webhook body is not JSON")]
    NotJson,
    #[error("the webhook body is not a JSON object")]
    NotAnObject,
}

impl WebhookEvent {
    /// Parses a webhook body (after its signature was verified over these same bytes).
    /// Wrongly typed fields read as absent rather than failing the whole event.
    pub fn parse(body: &[u8]) -> Result<WebhookEvent, ParseError> {
        let value: Value = serde_json::from_slice(body).map_err(|_| ParseError::NotJson)?;
        let Value::Object(top) = value else {
            return Err(ParseError::NotAnObject);
        };
        let data = top.get("data").and_then(Value::as_object);

        // The flat shape wins; the `data` envelope is the integration guide's variant (§8.2).
        let appointment_obj = top
            .get("appointment")
            .and_then(Value::as_object)
            .or_else(|| data.and_then(|d| d.get("appointment").and_then(Value::as_object)))
            .or_else(|| data.filter(|d| looks_like_appointment(d)));
        let appointment = appointment_obj.map(WebhookAppointment::from_map);

        let event_type = text(&top, "type").or_else(|| data.and_then(|d| text(d, "type")));
        let kind = match event_type.as_deref() {
            Some("AppointmentCreate") => WebhookKind::AppointmentCreate,
            Some("AppointmentUpdate") => WebhookKind::AppointmentUpdate,
            Some("AppointmentDelete") => WebhookKind::AppointmentDelete,
            _ => WebhookKind::Unknown(event_type),
        };
        let location_id = text(&top, "locationId")
            .or_else(|| data.and_then(|d| text(d, "locationId")))
            .or_else(|| appointment.as_ref().and_then(|a| a.location_id.clone()));
        Ok(WebhookEvent {
            kind,
            location_id,
            timestamp: text(&top, "timestamp").or_else(|| data.and_then(|d| text(d, "timestamp"))),
            webhook_id: text(&top, "webhookId").or_else(|| data.and_then(|d| text(d, "webhookId"))),
            appointment,
        })
    }

    /// Whether the event is older than `max_age` at `now` (replay check, §8.4). An event
    /// without a usable `timestamp` is not called stale: dedup on `webhook_id` still applies.
    /// GHL's example window is 5 minutes, but its 429 redeliveries arrive up to ~70 minutes
    /// later with (unconfirmed) original stamps, hence [`REPLAY_WINDOW`].
    pub fn is_stale(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        max_age: std::time::Duration,
    ) -> bool {
        let Some(at) = self.timestamp_utc() else {
            return false;
        };
        chrono::Duration::from_std(max_age).is_ok_and(|max| now.signed_duration_since(at) > max)
    }

    /// The envelope `timestamp` as an instant, when present and ISO-8601.
    pub fn timestamp_utc(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let ts = self.timestamp.as_deref()?;
        chrono::DateTime::parse_from_rfc3339(ts)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    }
}

impl WebhookAppointment {
    fn from_map(m: &Map<String, Value>) -> Self {
        Self {
            id: text(m, "id"),
            location_id: text(m, "locationId"),
            address: text(m, "address"),
            title: text(m, "title"),
            calendar_id: text(m, "calendarId"),
            contact_id: text(m, "contactId"),
            group_id: text(m, "groupId"),
            appointment_status: text(m, "appointmentStatus"),
            assigned_user_id: text(m, "assignedUserId"),
            users: m
                .get("users")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            notes: text(m, "notes"),
            source: text(m, "source"),
            start_time: text(m, "startTime"),
            end_time: text(m, "endTime"),
            date_added: text(m, "dateAdded"),
            date_updated: text(m, "dateUpdated"),
        }
    }
}

/// A `data` object that is itself the appointment rather than a wrapper around it.
fn looks_like_appointment(m: &Map<String, Value>) -> bool {
    ["calendarId", "startTime", "appointmentStatus", "contactId"]
        .iter()
        .any(|k| m.contains_key(*k))
}

fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    m.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Standard base64 (with padding), as GHL encodes signatures; for tests and tools that sign.
pub fn encode_signature(bytes: &[u8]) -> String {
    general_purpose::STANDARD.encode(bytes)
}
