//! Payment reads and searches (§5) and merchant orders (§7). Each payment and order keeps the
//! JSON MP sent in `raw`, because `desk` stores what the provider said.

use crate::client::{Call, Client, query};
use crate::error::Error;
use crate::types::{
    MerchantOrder, MerchantOrderQuery, MerchantOrderSearch, Paging, Payment, PaymentSearch,
};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// A wire type that keeps its source JSON.
pub(crate) trait KeepsRaw: DeserializeOwned {
    fn set_raw(&mut self, raw: String);
}

impl KeepsRaw for Payment {
    fn set_raw(&mut self, raw: String) {
        self.raw = raw;
    }
}

impl KeepsRaw for MerchantOrder {
    fn set_raw(&mut self, raw: String) {
        self.raw = raw;
    }
}

impl KeepsRaw for crate::types::Refund {
    fn set_raw(&mut self, raw: String) {
        self.raw = raw;
    }
}

fn parse_raw<T: KeepsRaw>(raw: &str) -> Result<T, Error> {
    let mut value: T = serde_json::from_str(raw).map_err(|e| Error::Decode(e.to_string()))?;
    value.set_raw(raw.to_string());
    Ok(value)
}

/// Decodes one object and keeps its JSON.
pub(crate) fn decode_keeping_raw<T: KeepsRaw>(bytes: &[u8]) -> Result<T, Error> {
    parse_raw(&String::from_utf8_lossy(bytes))
}

/// Decodes a JSON array, each element keeping its own JSON.
pub(crate) fn decode_list_keeping_raw<T: KeepsRaw>(bytes: &[u8]) -> Result<Vec<T>, Error> {
    let items: Vec<Box<RawValue>> =
        serde_json::from_slice(bytes).map_err(|e| Error::Decode(e.to_string()))?;
    items.iter().map(|r| parse_raw(r.get())).collect()
}

/// A payment search page with each result kept as MP wrote it.
#[derive(serde::Deserialize)]
struct SearchPage {
    #[serde(default)]
    paging: Paging,
    #[serde(default)]
    results: Option<Vec<Box<RawValue>>>,
}

/// A merchant-order search page, elements kept raw.
#[derive(serde::Deserialize)]
struct OrderPage {
    #[serde(default)]
    elements: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    next_offset: Option<i64>,
    #[serde(default)]
    total: i64,
}

impl Client {
    /// `GET /v1/payments/{id}`: the only trusted source of a payment's state.
    pub async fn get_payment(&self, id: i64) -> Result<Payment, Error> {
        let bytes = self.call(&Call::get(format!("/v1/payments/{id}"))).await?;
        decode_keeping_raw(&bytes)
    }

    /// `GET /v1/payments/search?external_reference=…`, newest first, one page of MP's
    /// default size.
    pub async fn search_payments(&self, external_reference: &str) -> Result<PaymentSearch, Error> {
        self.payments_page(external_reference, None, None).await
    }

    /// One page of [`Client::search_payments`]: `limit` results from `offset`.
    pub async fn search_payments_page(
        &self,
        external_reference: &str,
        limit: u32,
        offset: u32,
    ) -> Result<PaymentSearch, Error> {
        self.payments_page(external_reference, Some(limit.max(1)), Some(offset))
            .await
    }

    /// Every payment of a reference, newest first, following pages until MP's `total`, at
    /// most `search_max_pages` pages of `search_page_limit`. A payment that arrives while
    /// paging shifts the pages, so results are de-duplicated by id. When the bound is hit,
    /// `paging.total` stays MP's total and `results` is shorter (logged as a warning).
    pub async fn search_all_payments(
        &self,
        external_reference: &str,
    ) -> Result<PaymentSearch, Error> {
        let mut results: Vec<Payment> = Vec::new();
        let mut offset: u32 = 0;
        let mut total = 0;
        for page_number in 1..=self.max_pages {
            let page = self
                .payments_page(external_reference, Some(self.page_limit), Some(offset))
                .await?;
            total = page.paging.total;
            let got = page.results.len();
            for p in page.results {
                if !results.iter().any(|seen| seen.id == p.id) {
                    results.push(p);
                }
            }
            offset = offset.saturating_add(u32::try_from(got).unwrap_or(u32::MAX));
            if got == 0 || i64::from(offset) >= total {
                break;
            }
            if page_number == self.max_pages {
                tracing::warn!(
                    pages = page_number,
                    read = results.len(),
                    total,
                    "mp payment search stopped at the page bound"
                );
            }
        }
        Ok(PaymentSearch {
            paging: Paging {
                total,
                limit: i64::try_from(results.len()).unwrap_or(i64::MAX),
                offset: 0,
            },
            results,
        })
    }

    async fn payments_page(
        &self,
        external_reference: &str,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<PaymentSearch, Error> {
        let q = query(&[
            ("external_reference", Some(external_reference.to_string())),
            ("sort", Some("date_created".into())),
            ("criteria", Some("desc".into())),
            ("limit", limit.map(|n| n.to_string())),
            ("offset", offset.map(|n| n.to_string())),
        ]);
        let page: SearchPage = self
            .call_json(&Call::get(format!("/v1/payments/search{q}")))
            .await?;
        let results = page
            .results
            .unwrap_or_default()
            .iter()
            .map(|raw| parse_raw(raw.get()))
            .collect::<Result<Vec<Payment>, Error>>()?;
        Ok(PaymentSearch {
            paging: page.paging,
            results,
        })
    }

    /// `GET /merchant_orders/{id}` (the id comes from `payment.order.id`).
    pub async fn get_merchant_order(&self, id: i64) -> Result<MerchantOrder, Error> {
        let bytes = self
            .call(&Call::get(format!("/merchant_orders/{id}")))
            .await?;
        decode_keeping_raw(&bytes)
    }

    /// `GET /merchant_orders/search?preference_id=&external_reference=&status=`, one page.
    /// Searching by `preference_id` is the fallback for finding a preference's payments (§7).
    pub async fn search_merchant_orders(
        &self,
        filter: &MerchantOrderQuery,
    ) -> Result<MerchantOrderSearch, Error> {
        let q = query(&[
            ("preference_id", filter.preference_id.clone()),
            ("external_reference", filter.external_reference.clone()),
            ("status", filter.status.clone()),
            ("limit", filter.limit.map(|n| n.max(1).to_string())),
            ("offset", filter.offset.map(|n| n.to_string())),
        ]);
        let page: OrderPage = self
            .call_json(&Call::get(format!("/merchant_orders/search{q}")))
            .await?;
        let elements = page
            .elements
            .unwrap_or_default()
            .iter()
            .map(|raw| parse_raw(raw.get()))
            .collect::<Result<Vec<MerchantOrder>, Error>>()?;
        Ok(MerchantOrderSearch {
            elements,
            next_offset: page.next_offset,
            total: page.total,
        })
    }
}
