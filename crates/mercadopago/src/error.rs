//! Errors from MP calls, mapped from MP's `{message, error, status, cause[]}` body (§8) and,
//! for refunds, from the documented cause codes (§6).

use crate::types::{ApiErrorBody, Cause};
use reqwest::StatusCode;
use std::time::Duration;

/// What went wrong talking to Mercado Pago. Messages never contain the access token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request was refused before sending: it breaks a rule MP documents.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// 401/403: the access token is missing, wrong or revoked.
    #[error("Mercado Pago rejected the access token")]
    Unauthorized,
    /// 404 for the id asked for, or cause `2000` (payment) / `2032` (refund) not found.
    #[error("not found in Mercado Pago: {0}")]
    NotFound(String),
    /// A 4xx MP explains with a key (e.g. `invalid_items`) and maybe cause codes that have no
    /// typed variant here (e.g. an over-refund, whose code is undocumented).
    #[error("Mercado Pago rejected the request: {error}: {message}")]
    Rejected {
        status: u16,
        /// The `error` key, empty when MP sent none.
        error: String,
        message: String,
        /// The first cause code, as text, when MP sent one.
        code: Option<String>,
        /// Every cause MP listed (`cause[]`, `errors[]`, `details[]`).
        causes: Vec<Cause>,
    },
    /// A refund (or payment action) MP refused for a documented reason (§6).
    #[error("Mercado Pago refused the refund ({code}): {refusal}")]
    RefundRefused {
        refusal: RefundRefusal,
        status: u16,
        /// The cause code MP sent (`4293`, `2063`, …).
        code: String,
        message: String,
    },
    /// 409/423: idempotency-key or state conflict (423 = key locked, retried). Documented for
    /// the Orders API and **unconfirmed** for Payments and Refunds (§3); handled the same.
    #[error("Mercado Pago reported a conflict ({status}): {message}")]
    Conflict { status: u16, message: String },
    /// 429, with `Retry-After` when MP sent it.
    #[error("Mercado Pago rate limit reached")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx, 408, 424 or another unexpected status.
    #[error("Mercado Pago is unavailable (HTTP {status})")]
    Unavailable { status: u16 },
    /// No answer in time.
    #[error("Mercado Pago did not answer in time")]
    Timeout,
    /// Connection-level failure.
    #[error("could not reach Mercado Pago: {0}")]
    Network(String),
    /// A 2xx whose body is not what MP documents.
    #[error("unexpected response from Mercado Pago: {0}")]
    Decode(String),
}

/// Why MP refused a refund, from the cause codes of §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    /// `4292`: the `X-Idempotency-Key` header was missing.
    #[error("the idempotency key is missing")]
    MissingIdempotencyKey,
    /// `4293` / `2063`: the payment's status does not allow it.
    #[error("the payment's state does not allow it")]
    InvalidPaymentState,
    /// `4296`: the payment is already fully refunded.
    #[error("the payment is already refunded")]
    AlreadyRefunded,
    /// `2024` / `15016`: more than 180 days since approval.
    #[error("the payment is too old to refund")]
    TooOld,
    /// `4040` / `4041`: the amount is not positive or not a number.
    #[error("the refund amount is invalid")]
    InvalidAmount,
    /// `3024`: the payment method takes no partial refunds.
    #[error("partial refunds are not supported for this payment")]
    PartialNotSupported,
}

impl RefundRefusal {
    /// The refusal a cause code means, if it is one §6 documents.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "4292" => Self::MissingIdempotencyKey,
            "4293" | "2063" => Self::InvalidPaymentState,
            "4296" => Self::AlreadyRefunded,
            "2024" | "15016" => Self::TooOld,
            "4040" | "4041" => Self::InvalidAmount,
            "3024" => Self::PartialNotSupported,
            _ => return None,
        })
    }
}

impl Error {
    /// Whether the same call may succeed later: 429, 423, 408, 424, 5xx other than 501/505,
    /// timeouts and network failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Timeout | Error::Network(_) => true,
            Error::Unavailable { status } => {
                matches!(status, 408 | 424) || (*status >= 500 && !matches!(status, 501 | 505))
            }
            Error::Conflict { status, .. } => *status == 423,
            _ => false,
        }
    }

    /// Whether MP may have carried out the request although we got no success: a timeout, a
    /// dropped connection or a 5xx. A create that failed this way must look before re-creating.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Error::Timeout | Error::Network(_) => true,
            Error::Unavailable { status } => *status >= 500,
            _ => false,
        }
    }

    /// The MP cause code behind this error, when there is one.
    pub fn cause_code(&self) -> Option<&str> {
        match self {
            Error::Rejected { code, .. } => code.as_deref(),
            Error::RefundRefused { code, .. } => Some(code),
            _ => None,
        }
    }

    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Error::Timeout
        } else if e.is_decode() {
            Error::Decode(e.without_url().to_string())
        } else {
            Error::Network(e.without_url().to_string())
        }
    }
}

/// Maps a non-2xx answer. `what` names the resource for `NotFound` (a path without query).
pub(crate) fn map_error(
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
    what: &str,
) -> Error {
    let parsed: ApiErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let causes = parsed.causes();
    let message = parsed
        .message
        .clone()
        .filter(|m| !m.is_empty())
        .or_else(|| causes.iter().find_map(|c| c.description.clone()))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    let error = parsed.error.clone().unwrap_or_default();
    // Codes come from `cause[].code` and sometimes from the `error` key itself (§6).
    let codes: Vec<&str> = causes
        .iter()
        .filter_map(|c| c.code.as_deref())
        .chain(std::iter::once(error.as_str()).filter(|e| !e.is_empty()))
        .collect();
    let s = status.as_u16();
    match s {
        401 | 403 => return Error::Unauthorized,
        429 => return Error::RateLimited { retry_after },
        408 | 424 | 500..=599 => return Error::Unavailable { status: s },
        _ => {}
    }
    if (400..500).contains(&s) {
        if let Some(code) = codes.iter().find(|c| matches!(**c, "2000" | "2032")) {
            let thing = if *code == "2000" { "payment" } else { "refund" };
            return Error::NotFound(format!("{thing} ({what})"));
        }
        if let Some((refusal, code)) = codes
            .iter()
            .find_map(|c| RefundRefusal::from_code(c).map(|r| (r, *c)))
        {
            return Error::RefundRefused {
                refusal,
                status: s,
                code: code.to_string(),
                message,
            };
        }
    }
    match s {
        404 => Error::NotFound(what.to_string()),
        409 | 423 => Error::Conflict { status: s, message },
        400..=499 => Error::Rejected {
            status: s,
            error,
            message,
            code: causes.iter().find_map(|c| c.code.clone()),
            causes,
        },
        _ => Error::Unavailable { status: s },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(status: u16, body: &str) -> Error {
        map_error(
            StatusCode::from_u16(status).unwrap(),
            body.as_bytes(),
            None,
            "/v1/payments/1/refunds",
        )
    }

    #[test]
    fn refund_cause_codes_map_to_refusals() {
        for (code, refusal) in [
            ("4292", RefundRefusal::MissingIdempotencyKey),
            ("4293", RefundRefusal::InvalidPaymentState),
            ("2063", RefundRefusal::InvalidPaymentState),
            ("4296", RefundRefusal::AlreadyRefunded),
            ("2024", RefundRefusal::TooOld),
            ("15016", RefundRefusal::TooOld),
            ("4040", RefundRefusal::InvalidAmount),
            ("4041", RefundRefusal::InvalidAmount),
            ("3024", RefundRefusal::PartialNotSupported),
        ] {
            // As a number and as a string.
            for c in [code.to_string(), format!("\"{code}\"")] {
                let body = format!(
                    r#"{{"message":"m","error":"bad_request","status":400,"cause":[{{"code":{c},"description":"d"}}]}}"#
                );
                match map(400, &body) {
                    Error::RefundRefused {
                        refusal: r,
                        code: got,
                        status: 400,
                        ..
                    } => {
                        assert_eq!(r, refusal);
                        assert_eq!(got, code);
                    }
                    other => panic!("{code}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn not_found_codes_map_to_not_found() {
        let e = map(
            404,
            r#"{"message":"Payment not found","error":"not_found","status":404,"cause":[{"code":2000}]}"#,
        );
        assert!(
            matches!(e, Error::NotFound(ref w) if w.starts_with("payment")),
            "{e:?}"
        );
        let e = map(
            400,
            r#"{"cause":[{"code":"2032","description":"refund not found"}]}"#,
        );
        assert!(
            matches!(e, Error::NotFound(ref w) if w.starts_with("refund")),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_codes_are_kept_in_rejected() {
        let e = map(
            400,
            r#"{"message":"amount exceeds","error":"bad_request","status":400,"cause":[{"code":"9999","message":"too much"}]}"#,
        );
        match e {
            Error::Rejected {
                code,
                causes,
                message,
                ..
            } => {
                assert_eq!(code.as_deref(), Some("9999"));
                assert_eq!(causes[0].description.as_deref(), Some("too much"));
                assert_eq!(message, "amount exceeds");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_and_details_arrays_are_tolerated() {
        let e = map(
            400,
            r#"{"errors":[{"code":"empty_required_header","message":"X-Idempotency-Key is required","details":["x"]}]}"#,
        );
        match e {
            Error::Rejected { code, message, .. } => {
                assert_eq!(code.as_deref(), Some("empty_required_header"));
                assert_eq!(message, "X-Idempotency-Key is required");
            }
            other => panic!("{other:?}"),
        }
        let e = map(400, r#"{"message":"no","details":["4296"]}"#);
        assert!(matches!(e, Error::Rejected { .. }), "{e:?}");
        let e = map(400, r#"{"message":"no","details":[4296]}"#);
        assert!(
            matches!(
                e,
                Error::RefundRefused {
                    refusal: RefundRefusal::AlreadyRefunded,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = map(400, r#"{"message":"no","cause":{"code":4041}}"#);
        assert!(
            matches!(
                e,
                Error::RefundRefused {
                    refusal: RefundRefusal::InvalidAmount,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn numeric_error_key_is_read_as_a_code() {
        let e = map(
            400,
            r#"{"message":"Header-X-Idempotency-Key-can't-be-null","error":"4292","status":400}"#,
        );
        assert!(
            matches!(
                e,
                Error::RefundRefused {
                    refusal: RefundRefusal::MissingIdempotencyKey,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert!(matches!(map(401, "{}"), Error::Unauthorized));
        assert!(matches!(
            map(423, "{}"),
            Error::Conflict { status: 423, .. }
        ));
        assert!(map(423, "{}").is_retryable());
        assert!(!map(409, "{}").is_retryable());
        assert!(map(424, "{}").is_retryable());
        assert!(map(503, "not json").is_retryable());
        assert!(!map(501, "{}").is_retryable());
        assert!(matches!(map(405, ""), Error::Rejected { status: 405, .. }));
        // A 5xx never becomes a refusal, whatever its body says.
        assert!(matches!(
            map(500, r#"{"cause":[{"code":4296}]}"#),
            Error::Unavailable { status: 500 }
        ));
    }
}
