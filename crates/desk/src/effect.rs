//! What the outbox owes: each side effect is an [`Effect`], a serde-tagged enum stored as an
//! outbox row — the tag in the `kind` column, the content as the `payload` JSON. The kind
//! strings and payload field names are those of rows already stored, so a new version reads
//! the work an older one left owed. The worker that performs them is [`crate::outbox`].

use crate::error::DeskError;
use crate::model::{OutboxItem, new_id};
use crate::outbox::first_retry;
use crate::time::now;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Create the MP payment link of a draft charge (`{"chargeId": …}`).
pub const CREATE_LINK: &str = "mp.create_link";
/// Expire the MP link of a charge whose appointment ended (`{"chargeId": …}`).
pub const EXPIRE_LINK: &str = "mp.expire_link";
/// Close a paid charge's link so it cannot be paid twice (`{"chargeId": …}`).
pub const CLOSE_LINK: &str = "mp.close_link";
/// Refund a payment (`{"chargeId", "paymentId", "amount": "12.50" | null}`).
pub const REFUND: &str = "mp.refund";
/// Confirm the GHL appointment of a paid booking (`{"bookingId": …}`).
pub const CONFIRM_APPOINTMENT: &str = "ghl.confirm";
/// Tag the patient's GHL contact (`{"contactId": …, "tag": …}`).
pub const TAG_CONTACT: &str = "ghl.tag";
/// Note the payment on the patient's GHL contact (`{"contactId": …, "body": …}`).
pub const NOTE_CONTACT: &str = "ghl.note";

/// A side effect owed to a provider. The serde names are the stored format: never rename
/// them (fields are declared in the order the payloads have always been written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload")]
pub enum Effect {
    /// Create the MP payment link of a draft charge.
    #[serde(rename = "mp.create_link", rename_all = "camelCase")]
    CreateLink { charge_id: String },
    /// Expire the MP link of a charge whose appointment ended, and cancel the charge.
    #[serde(rename = "mp.expire_link", rename_all = "camelCase")]
    ExpireLink { charge_id: String },
    /// Close a paid charge's link so it cannot be paid twice.
    #[serde(rename = "mp.close_link", rename_all = "camelCase")]
    CloseLink { charge_id: String },
    /// Refund a payment of a charge: `amount`, or all that remains (`None`).
    #[serde(rename = "mp.refund", rename_all = "camelCase")]
    Refund {
        charge_id: String,
        payment_id: i64,
        #[serde(default, with = "decimal_text")]
        amount: Option<Decimal>,
    },
    /// Confirm the GHL appointment of a paid booking.
    #[serde(rename = "ghl.confirm", rename_all = "camelCase")]
    ConfirmAppointment { booking_id: String },
    /// Tag the patient's GHL contact.
    #[serde(rename = "ghl.tag", rename_all = "camelCase")]
    TagContact { contact_id: String, tag: String },
    /// Note the payment on the patient's GHL contact.
    #[serde(rename = "ghl.note", rename_all = "camelCase")]
    NoteContact { contact_id: String, body: String },
}

impl Effect {
    /// The stored kind (the outbox row's `kind`, shown to staff as what is owed).
    pub fn kind(&self) -> &'static str {
        match self {
            Effect::CreateLink { .. } => CREATE_LINK,
            Effect::ExpireLink { .. } => EXPIRE_LINK,
            Effect::CloseLink { .. } => CLOSE_LINK,
            Effect::Refund { .. } => REFUND,
            Effect::ConfirmAppointment { .. } => CONFIRM_APPOINTMENT,
            Effect::TagContact { .. } => TAG_CONTACT,
            Effect::NoteContact { .. } => NOTE_CONTACT,
        }
    }

    /// The charge the effect names, when it names one (links, refunds).
    pub fn charge_id(&self) -> Option<&str> {
        match self {
            Effect::CreateLink { charge_id }
            | Effect::ExpireLink { charge_id }
            | Effect::CloseLink { charge_id }
            | Effect::Refund { charge_id, .. } => Some(charge_id),
            Effect::ConfirmAppointment { .. }
            | Effect::TagContact { .. }
            | Effect::NoteContact { .. } => None,
        }
    }

    /// Reads a stored row's kind and payload. An unknown kind (a row written by a newer
    /// version) or a payload that does not fit its kind is an error, never a panic.
    pub fn from_row(kind: &str, payload: &str) -> Result<Effect, serde_json::Error> {
        let payload: serde_json::Value = serde_json::from_str(payload)?;
        serde_json::from_value(serde_json::json!({ "kind": kind, "payload": payload }))
    }

    /// The row's payload JSON.
    fn payload(&self) -> Result<String, DeskError> {
        let tagged = serde_json::to_value(self)
            .map_err(|e| DeskError::Internal(format!("outbox payload: {e}")))?;
        Ok(tagged["payload"].to_string())
    }

    /// The outbox row owing this effect under `key` (its idempotency key: the effect is
    /// owed at most once per key). After a failed first try (`failed`), it falls due after
    /// the first backoff and keeps that try's error for staff; otherwise it is due now.
    pub(crate) fn owed(
        &self,
        key: String,
        failed: Option<&DeskError>,
    ) -> Result<OutboxItem, DeskError> {
        Ok(OutboxItem {
            id: new_id(),
            kind: self.kind().to_string(),
            payload: self.payload()?,
            idempotency_key: key,
            next_attempt_at: match failed {
                Some(_) => now() + first_retry(),
                None => now(),
            },
            attempts: 0,
            last_error: failed.map(DeskError::public_message),
        })
    }

    /// The outbox row owing this effect for charge `charge_id`, keyed `kind:charge` so it is
    /// owed at most once per charge (see [`Effect::owed`]).
    pub(crate) fn owed_for_charge(
        &self,
        charge_id: &str,
        failed: Option<&DeskError>,
    ) -> Result<OutboxItem, DeskError> {
        self.owed(charge_key(self.kind(), charge_id), failed)
    }
}

impl OutboxItem {
    /// The effect this row owes; `Internal` when it cannot be read (the worker records that
    /// as the item's error and tries again later).
    pub fn effect(&self) -> Result<Effect, DeskError> {
        Effect::from_row(&self.kind, &self.payload).map_err(|e| {
            DeskError::Internal(format!("outbox item {} ({}): {e}", self.id, self.kind))
        })
    }
}

/// The key of an effect owed once per charge.
pub(crate) fn charge_key(kind: &str, charge_id: &str) -> String {
    format!("{kind}:{charge_id}")
}

/// A refund amount as exact decimal text ("12.50"), or `null` for all that remains: money is
/// never a JSON float here.
mod decimal_text {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(amount: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match amount {
            Some(a) => s.serialize_str(&a.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => text
                .parse::<Decimal>()
                .map(Some)
                .map_err(|_| serde::de::Error::custom("refund amount unreadable")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Payloads exactly as the code before the typed outbox wrote them (same expressions).
    fn written_before() -> Vec<(&'static str, String)> {
        let charge_id = "01JCHARGE0000000000000000";
        let body = "Pago recibido: 80.00 PEN (Mercado Pago, pago 123). Cita: Consulta - Ana.";
        vec![
            (CREATE_LINK, json!({ "chargeId": charge_id }).to_string()),
            (EXPIRE_LINK, json!({ "chargeId": charge_id }).to_string()),
            (CLOSE_LINK, json!({ "chargeId": charge_id }).to_string()),
            (
                CONFIRM_APPOINTMENT,
                json!({ "bookingId": "01JBOOKING000000000000000" }).to_string(),
            ),
            (
                TAG_CONTACT,
                json!({ "contactId": "ct_1", "tag": "pagado" }).to_string(),
            ),
            (
                NOTE_CONTACT,
                json!({ "contactId": "ct_1", "body": body }).to_string(),
            ),
            (
                REFUND,
                json!({
                    "chargeId": charge_id,
                    "paymentId": 123_i64,
                    "amount": Some(Decimal::new(1250, 2)).map(|a| a.to_string()),
                })
                .to_string(),
            ),
            (
                REFUND,
                json!({
                    "chargeId": charge_id,
                    "paymentId": 123_i64,
                    "amount": None::<Decimal>.map(|a| a.to_string()),
                })
                .to_string(),
            ),
        ]
    }

    #[test]
    fn every_kind_reads_the_payload_the_previous_version_wrote() {
        let charge_id = "01JCHARGE0000000000000000".to_string();
        let expected = [
            Effect::CreateLink {
                charge_id: charge_id.clone(),
            },
            Effect::ExpireLink {
                charge_id: charge_id.clone(),
            },
            Effect::CloseLink {
                charge_id: charge_id.clone(),
            },
            Effect::ConfirmAppointment {
                booking_id: "01JBOOKING000000000000000".into(),
            },
            Effect::TagContact {
                contact_id: "ct_1".into(),
                tag: "pagado".into(),
            },
            Effect::NoteContact {
                contact_id: "ct_1".into(),
                body: "Pago recibido: 80.00 PEN (Mercado Pago, pago 123). Cita: Consulta - Ana."
                    .into(),
            },
            Effect::Refund {
                charge_id: charge_id.clone(),
                payment_id: 123,
                amount: Some(Decimal::new(1250, 2)),
            },
            Effect::Refund {
                charge_id,
                payment_id: 123,
                amount: None,
            },
        ];
        for ((kind, payload), effect) in written_before().into_iter().zip(expected) {
            assert_eq!(Effect::from_row(kind, &payload).unwrap(), effect, "{kind}");
            assert_eq!(effect.kind(), kind);
            // New rows are written byte for byte as before.
            assert_eq!(effect.payload().unwrap(), payload, "{kind}");
        }
    }

    #[test]
    fn the_kind_is_the_serde_tag() {
        for (kind, payload) in written_before() {
            let effect = Effect::from_row(kind, &payload).unwrap();
            let tagged = serde_json::to_value(&effect).unwrap();
            assert_eq!(tagged["kind"], kind);
        }
    }

    #[test]
    fn a_refund_without_amount_is_for_all_that_remains() {
        let effect = Effect::from_row(REFUND, r#"{"chargeId":"c","paymentId":7}"#).unwrap();
        assert_eq!(
            effect,
            Effect::Refund {
                charge_id: "c".into(),
                payment_id: 7,
                amount: None
            }
        );
    }

    #[test]
    fn unknown_kinds_and_unfit_payloads_are_errors() {
        let unreadable = [
            ("mp.teleport", r#"{"chargeId":"c"}"#),
            ("", "{}"),
            (CREATE_LINK, "not json"),
            (CREATE_LINK, "{}"),
            (CREATE_LINK, r#"{"chargeId":7}"#),
            (TAG_CONTACT, r#"{"contactId":"ct"}"#),
            (REFUND, r#"{"chargeId":"c","paymentId":"7"}"#),
            (REFUND, r#"{"chargeId":"c","paymentId":7,"amount":12.5}"#),
            (
                REFUND,
                r#"{"chargeId":"c","paymentId":7,"amount":"twelve"}"#,
            ),
        ];
        for (kind, payload) in unreadable {
            assert!(Effect::from_row(kind, payload).is_err(), "{kind} {payload}");
            let item = OutboxItem {
                id: "o1".into(),
                kind: kind.into(),
                payload: payload.into(),
                idempotency_key: format!("{kind}:c"),
                next_attempt_at: now(),
                attempts: 0,
                last_error: None,
            };
            assert!(matches!(item.effect(), Err(DeskError::Internal(_))));
        }
    }

    #[test]
    fn keys_are_unchanged() {
        let item = Effect::TagContact {
            contact_id: "ct".into(),
            tag: "pagado".into(),
        }
        .owed_for_charge("C1", None)
        .unwrap();
        assert_eq!(item.idempotency_key, "ghl.tag:C1");
        assert_eq!(item.kind, "ghl.tag");
    }
}
