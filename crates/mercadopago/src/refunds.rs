//! Refunds (§6): full and partial, always with an `X-Idempotency-Key` derived from our own
//! refund id, so a retried or repeated request can never refund twice.

use crate::client::{Call, Client, check_idempotency_key};
use crate::error::Error;
use crate::payments::{decode_keeping_raw, decode_list_keeping_raw};
use crate::types::Refund;
use reqwest::Method;
use rust_decimal::Decimal;

impl Client {
    /// Refunds the whole remaining amount: `POST /v1/payments/{id}/refunds` with `{}`.
    /// `idempotency_key` must come from our refund record (1–64 visible ASCII characters) and
    /// stay the same for every try of that refund. Any 2xx is success (201 documented, 200 in
    /// the reference: unconfirmed).
    pub async fn refund_payment(
        &self,
        payment_id: i64,
        idempotency_key: &str,
    ) -> Result<Refund, Error> {
        self.post_refund(payment_id, b"{}".to_vec(), idempotency_key)
            .await
    }

    /// Refunds part of a payment: `{"amount": n}`, an exact JSON number. Several partial
    /// refunds are allowed up to the remaining amount; MP refuses the rest.
    pub async fn refund_partial(
        &self,
        payment_id: i64,
        amount: Decimal,
        idempotency_key: &str,
    ) -> Result<Refund, Error> {
        // The payment's currency is not known here: the loosest scale any currency takes.
        if amount <= Decimal::ZERO || amount.normalize().scale() > 2 {
            return Err(Error::InvalidRequest(
                "refund amount must be positive with at most 2 decimals".into(),
            ));
        }
        #[derive(serde::Serialize)]
        struct Body {
            #[serde(with = "crate::money::json_number")]
            amount: Decimal,
        }
        let body = serde_json::to_vec(&Body { amount })
            .map_err(|e| Error::InvalidRequest(e.to_string()))?;
        self.post_refund(payment_id, body, idempotency_key).await
    }

    /// `GET /v1/payments/{id}/refunds`: every refund of a payment.
    pub async fn list_refunds(&self, payment_id: i64) -> Result<Vec<Refund>, Error> {
        check_id(payment_id)?;
        let bytes = self
            .call(&Call::get(format!("/v1/payments/{payment_id}/refunds")))
            .await?;
        decode_list_keeping_raw(&bytes)
    }

    /// `GET /v1/payments/{id}/refunds/{refund_id}`.
    pub async fn get_refund(&self, payment_id: i64, refund_id: i64) -> Result<Refund, Error> {
        check_id(payment_id)?;
        check_id(refund_id)?;
        let bytes = self
            .call(&Call::get(format!(
                "/v1/payments/{payment_id}/refunds/{refund_id}"
            )))
            .await?;
        decode_keeping_raw(&bytes)
    }

    async fn post_refund(
        &self,
        payment_id: i64,
        body: Vec<u8>,
        idempotency_key: &str,
    ) -> Result<Refund, Error> {
        check_id(payment_id)?;
        check_idempotency_key(idempotency_key)?;
        let bytes = self
            .call(&Call::with_body(
                Method::POST,
                format!("/v1/payments/{payment_id}/refunds"),
                body,
                idempotency_key,
            ))
            .await?;
        let refund: Refund = decode_keeping_raw(&bytes)?;
        tracing::info!(payment_id, refund_id = refund.id, "mp refund created");
        Ok(refund)
    }
}

fn check_id(id: i64) -> Result<(), Error> {
    if id <= 0 {
        return Err(Error::InvalidRequest("ids are positive numbers".into()));
    }
    Ok(())
}
