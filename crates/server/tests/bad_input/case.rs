//! What a case is (target, request, expected answer) and the bodies the surfaces share.

use super::*;
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Clone, Copy)]
pub enum Target {
    Listener,
    Compat,
}

#[derive(Clone)]
pub enum Payload {
    Empty,
    Bytes(Vec<u8>),
    /// Sent with `Transfer-Encoding: chunked` over a raw socket: no `Content-Length` to
    /// refuse early on.
    Chunked(Vec<u8>),
    /// The whole request, bytes as given, over a raw socket (what reqwest refuses to send).
    Raw(Vec<u8>),
    /// Headers only, declaring a `Content-Length` of this many bytes and asking
    /// `Expect: 100-continue`: a listener that refuses by the declared length answers
    /// before the client sends a byte of the body, so the answer cannot race the upload.
    Declared(usize),
}

#[derive(Clone, Debug)]
pub enum Expect {
    Status(u16),
    /// A body over the limit: 413, or — when the server answered and closed while the client
    /// was still sending, so the kernel turned the close into a reset that can swallow the
    /// answer — a connection the server ended before taking the body. Either way nothing is
    /// stored and the listener stays healthy (both checked).
    TooBig,
    /// Any 4xx; the text says why one exact status is not the contract.
    ClientError(&'static str),
    /// 200 by contract and nothing stored or changed.
    Ignored,
}

impl Expect {
    pub fn check(&self, status: u16) -> Option<String> {
        match self {
            Expect::Status(s) if *s == status => None,
            Expect::Status(s) => Some(format!("expected {s}, got {status}")),
            Expect::TooBig if status == 413 || status == CLOSED_EARLY => None,
            Expect::TooBig => Some(format!(
                "expected 413 or a connection closed before the body was taken, got {status}"
            )),
            Expect::ClientError(_) if (400..500).contains(&status) => None,
            Expect::ClientError(why) => Some(format!("expected a 4xx ({why}), got {status}")),
            Expect::Ignored if status == 200 => None,
            Expect::Ignored => Some(format!("expected 200 (ignored), got {status}")),
        }
    }
}

#[derive(Clone)]
pub struct Case {
    pub name: String,
    pub target: Target,
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub payload: Payload,
    pub expect: Expect,
    /// The app may ask GHL (an unknown but well-formed id is only known to be unknown after
    /// a lookup); GHL's state must still be unchanged.
    pub lookups: bool,
}

impl Case {
    pub fn new(
        name: impl Into<String>,
        target: Target,
        method: &str,
        path: impl Into<String>,
    ) -> Self {
        Case {
            name: name.into(),
            target,
            method: Method::from_bytes(method.as_bytes()).unwrap(),
            path: path.into(),
            headers: Vec::new(),
            payload: Payload::Empty,
            expect: Expect::Status(400),
            lookups: false,
        }
    }

    /// A listener request.
    pub fn hook(name: impl Into<String>, method: &str, path: impl Into<String>) -> Self {
        Case::new(name, Target::Listener, method, path)
    }

    /// A compat request with the right token.
    pub fn api(name: impl Into<String>, method: &str, path: impl Into<String>) -> Self {
        Case::new(name, Target::Compat, method, path).header("authorization", bearer(TOKEN))
    }

    /// A compat request with no `Authorization` header.
    pub fn anon(name: impl Into<String>, method: &str, path: impl Into<String>) -> Self {
        Case::new(name, Target::Compat, method, path)
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_string(), value.as_ref().to_vec()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.payload = Payload::Bytes(body.into());
        self
    }

    pub fn json(self, body: impl Into<Vec<u8>>) -> Self {
        self.header("content-type", "application/json").body(body)
    }

    pub fn declared(mut self, length: usize) -> Self {
        self.payload = Payload::Declared(length);
        self
    }

    pub fn chunked(mut self, body: Vec<u8>) -> Self {
        self.payload = Payload::Chunked(body);
        self
    }

    pub fn expect(mut self, status: u16) -> Self {
        self.expect = Expect::Status(status);
        self
    }

    pub fn too_big(mut self) -> Self {
        self.expect = Expect::TooBig;
        self
    }

    pub fn client_error(mut self, why: &'static str) -> Self {
        self.expect = Expect::ClientError(why);
        self
    }

    pub fn ignored(mut self) -> Self {
        self.expect = Expect::Ignored;
        self
    }

    pub fn lookups(mut self) -> Self {
        self.lookups = true;
        self
    }
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn now_secs() -> String {
    chrono::Utc::now().timestamp().to_string()
}

pub fn iso(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `days` from today at `hour:minute` in Lima (the sandbox location's zone), as RFC 3339 UTC.
pub fn lima(days: i64, hour: u32, minute: u32) -> String {
    use chrono::{NaiveTime, TimeZone, Utc};
    let tz = chrono_tz::America::Lima;
    let day = Utc::now().with_timezone(&tz).date_naive() + chrono::Duration::days(days);
    tz.from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap()))
        .unwrap()
        .with_timezone(&Utc)
        .to_rfc3339()
}

/// `value` serialised with `field` replaced by the raw JSON text `raw` (which may be invalid
/// JSON on purpose).
pub fn with_raw(value: &Value, field: &str, raw: &str) -> Vec<u8> {
    let mut v = value.clone();
    v[field] = json!("__RAW__");
    v.to_string().replace("\"__RAW__\"", raw).into_bytes()
}

pub fn with_field(value: &Value, field: &str, new: Value) -> Vec<u8> {
    let mut v = value.clone();
    v[field] = new;
    v.to_string().into_bytes()
}

pub fn without(value: &Value, field: &str) -> Vec<u8> {
    let mut v = value.clone();
    v.as_object_mut().unwrap().remove(field);
    v.to_string().into_bytes()
}

/// Broken JSON documents, each with what is wrong with it.
pub fn malformed_json() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty body", b"".to_vec()),
        ("unclosed object", b"{".to_vec()),
        (
            "truncated",
            b"{\"type\":\"payment\",\"data\":{\"id\":\"1\"}".to_vec(),
        ),
        ("missing value", b"{\"a\":}".to_vec()),
        ("trailing garbage", b"{} x".to_vec()),
        ("two documents", b"{}{}".to_vec()),
        ("single quotes", b"{'type':'payment'}".to_vec()),
        ("NaN literal", b"{\"a\":NaN}".to_vec()),
        ("comment", b"{/* hi */}".to_vec()),
        ("UTF-8 BOM", b"\xef\xbb\xbf{}".to_vec()),
        (
            "non-UTF-8 bytes in a string",
            b"{\"a\":\"\xff\xfe\"}".to_vec(),
        ),
        ("raw binary", b"\xff\xfe\x00\x01\x80".to_vec()),
        ("raw NUL in a string", b"{\"a\":\"x\x00y\"}".to_vec()),
        ("raw newline in a string", b"{\"a\":\"x\ny\"}".to_vec()),
        (
            "UTF-16LE text",
            "{\"a\":1}"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
        ),
    ]
}

/// JSON that parses but is not an object.
pub fn not_objects() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("an array", b"[]"),
        ("a string", b"\"AppointmentDelete\""),
        ("a number", b"42"),
        ("null", b"null"),
        ("true", b"true"),
    ]
}

pub fn nested(depth: usize) -> Vec<u8> {
    let mut v = "{\"a\":".repeat(depth).into_bytes();
    v.extend(b"1");
    v.extend("}".repeat(depth).into_bytes());
    v
}

/// Bodies in other formats with their content types.
pub fn wrong_formats() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        (
            "form-urlencoded",
            "application/x-www-form-urlencoded",
            b"data.id=1&type=payment&calendarId=CalConsultaGeneral01".to_vec(),
        ),
        (
            "multipart",
            "multipart/form-data; boundary=X",
            b"--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--X--\r\n".to_vec(),
        ),
        (
            "XML",
            "text/xml",
            b"<notification><id>1</id></notification>".to_vec(),
        ),
        ("plain text", "text/plain", b"hola".to_vec()),
    ]
}

pub fn b64(bytes: &[u8]) -> String {
    ghl::webhook::encode_signature(bytes)
}

pub fn base64_decode(text: &str) -> Result<Vec<u8>, ()> {
    pub const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).ok_or(())? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}
