//! Checkout Pro preferences (§4): create (with the look-before-re-create path of §3), read,
//! partial update, expire, search, and the rules MP documents, checked before sending.

use crate::client::{Call, Client, check_idempotency_key, check_path_segment, decode, query};
use crate::error::Error;
use crate::money::CurrencyRules;
use crate::types::{
    BackUrls, FullPreferenceRequest, Item, PaymentMethods, Preference, PreferenceRequest,
    PreferenceSearch, PreferenceSummary, PreferenceUpdate, parse_date,
};
use reqwest::Method;

/// How many search hits are read in full when looking for a preference an earlier, unanswered
/// create may have made.
const CANDIDATES_READ: usize = 3;

impl Client {
    /// `POST /checkout/preferences`. The idempotency key is our charge id, the same on every
    /// attempt. Whether MP de-duplicates preferences by key is **unconfirmed** (§3), so when an
    /// attempt times out or gets a 5xx, the next attempt first searches by
    /// `external_reference` and returns the preference that attempt made, if any, instead of
    /// creating a second one (see [`Client::find_created_preference`]).
    pub async fn create_preference(
        &self,
        request: &PreferenceRequest,
        idempotency_key: &str,
    ) -> Result<Preference, Error> {
        self.create_full_preference(
            &FullPreferenceRequest::from(request.clone()),
            idempotency_key,
        )
        .await
    }

    /// [`Client::create_preference`] with a payer and payment-method rules.
    pub async fn create_full_preference(
        &self,
        request: &FullPreferenceRequest,
        idempotency_key: &str,
    ) -> Result<Preference, Error> {
        validate_full_preference(request)?;
        check_idempotency_key(idempotency_key)?;
        let body = serde_json::to_vec(request).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        let call = Call::with_body(
            Method::POST,
            "/checkout/preferences".into(),
            body,
            idempotency_key,
        );
        // Set once an attempt may have created the preference without telling us.
        let mut maybe_created = false;
        let mut attempt = 1;
        loop {
            let mut from_post = true;
            let outcome = if maybe_created {
                match self.find_created(&request.base, false).await {
                    Ok(Some(found)) => {
                        tracing::info!(
                            preference_id = %found.id,
                            attempt,
                            "mp preference found after an unanswered create; not re-creating"
                        );
                        return Ok(found);
                    }
                    Ok(None) => self.attempt(&call).await,
                    Err(e) if e.is_retryable() => {
                        from_post = false;
                        Err(e)
                    }
                    // A search MP answers in a shape we can't read must not block the create:
                    // fall back to the key, which is all the SDKs rely on.
                    Err(e) => {
                        tracing::warn!(error = %e, "mp preference search failed; re-creating with the same key");
                        self.attempt(&call).await
                    }
                }
            } else {
                self.attempt(&call).await
            };
            let err = match outcome {
                Ok(bytes) => return decode(&bytes),
                Err(e) => e,
            };
            if from_post && err.outcome_unknown() {
                maybe_created = true;
            }
            let Some(delay) = self.retry.delay_after(attempt, &err) else {
                // The last POST may still have landed: one last look, then give up.
                if from_post
                    && err.outcome_unknown()
                    && let Ok(Some(found)) = self.find_created(&request.base, false).await
                {
                    return Ok(found);
                }
                return Err(err);
            };
            self.log_retry(&call, attempt, &err, delay);
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// `GET /checkout/preferences/{id}`.
    pub async fn get_preference(&self, id: &str) -> Result<Preference, Error> {
        check_path_segment(id)?;
        self.call_json(&Call::get(format!("/checkout/preferences/{id}")))
            .await
    }

    /// `PUT /checkout/preferences/{id}` with only the fields set in `update`. The call carries
    /// a fresh idempotency key, reused on its retries (a PUT of absolute values is safe to
    /// repeat either way).
    pub async fn update_preference(
        &self,
        id: &str,
        update: &PreferenceUpdate,
    ) -> Result<Preference, Error> {
        check_path_segment(id)?;
        validate_update(update)?;
        let body = serde_json::to_vec(update).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        let key = crate::client::random_key();
        self.call_json(&Call::with_body(
            Method::PUT,
            format!("/checkout/preferences/{id}"),
            body,
            &key,
        ))
        .await
    }

    /// Ends a link now: `{"expires": true, "expiration_date_to": <now>}` (§4.5). Whether this
    /// also stops a checkout the patient already has open is **unconfirmed**; the caller must
    /// still refund or flag any payment that arrives after expiry.
    pub async fn expire_preference(
        &self,
        id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Preference, Error> {
        self.update_preference(id, &PreferenceUpdate::expire_at(now))
            .await
    }

    /// `GET /checkout/preferences/search?external_reference=…`, one page. Elements are
    /// summaries; read a full preference with [`Client::get_preference`].
    pub async fn search_preferences(
        &self,
        external_reference: &str,
        limit: u32,
        offset: u32,
    ) -> Result<PreferenceSearch, Error> {
        check_reference(external_reference)?;
        let q = query(&[
            ("external_reference", Some(external_reference.to_string())),
            ("limit", Some(limit.max(1).to_string())),
            ("offset", Some(offset.to_string())),
        ]);
        self.call_json(&Call::get(format!("/checkout/preferences/search{q}")))
            .await
    }

    /// The live preference that `request` would create, if one exists already: same
    /// `external_reference`, same `expiration_date_to` (as an instant) and the same items
    /// (id, quantity, price). Call it before re-creating a link after a failed create.
    pub async fn find_created_preference(
        &self,
        request: &PreferenceRequest,
    ) -> Result<Option<Preference>, Error> {
        self.find_created(request, true).await
    }

    async fn find_created(
        &self,
        request: &PreferenceRequest,
        retry: bool,
    ) -> Result<Option<Preference>, Error> {
        let q = query(&[
            (
                "external_reference",
                Some(request.external_reference.clone()),
            ),
            ("limit", Some(self.page_limit.to_string())),
            ("offset", Some("0".into())),
        ]);
        let search = Call::get(format!("/checkout/preferences/search{q}"));
        let page: PreferenceSearch = if retry {
            self.call_json(&search).await?
        } else {
            decode(&self.attempt(&search).await?)?
        };
        let now = chrono::Utc::now();
        let wanted_to = request.expiration_date_to.as_deref().and_then(parse_date);
        let mut candidates: Vec<&PreferenceSummary> = page
            .elements
            .iter()
            .filter(|e| {
                e.external_reference
                    .as_deref()
                    .is_none_or(|r| r == request.external_reference)
            })
            .filter(|e| {
                let to = e.expiration_date_to.as_deref().and_then(parse_date);
                let lapsed = e.expires == Some(true) && to.is_some_and(|t| t <= now);
                let other_window = wanted_to.is_some() && to.is_some() && to != wanted_to;
                !lapsed && !other_window
            })
            .collect();
        // Newest first; MP's search order is not documented.
        candidates
            .sort_by_key(|e| std::cmp::Reverse(e.date_created.as_deref().and_then(parse_date)));
        for summary in candidates.into_iter().take(CANDIDATES_READ) {
            if check_path_segment(&summary.id).is_err() {
                continue;
            }
            let read = Call::get(format!("/checkout/preferences/{}", summary.id));
            let full: Preference = if retry {
                self.call_json(&read).await?
            } else {
                decode(&self.attempt(&read).await?)?
            };
            if same_preference(&full, request) {
                return Ok(Some(full));
            }
        }
        Ok(None)
    }
}

/// Whether `found` is what `request` asked for, judged on what MP echoes.
fn same_preference(found: &Preference, request: &PreferenceRequest) -> bool {
    if found
        .external_reference
        .as_deref()
        .is_some_and(|r| r != request.external_reference)
    {
        return false;
    }
    if let Some(wanted) = request.expiration_date_to.as_deref().and_then(parse_date)
        && found.expiration_date_to.as_deref().and_then(parse_date) != Some(wanted)
    {
        return false;
    }
    if found.items.is_empty() {
        return true;
    }
    found.items.len() == request.items.len()
        && found.items.iter().zip(&request.items).all(|(f, r)| {
            f.id.as_deref().is_none_or(|id| id == r.id)
                && f.quantity
                    .is_none_or(|q| q == rust_decimal::Decimal::from(r.quantity))
                && f.unit_price.is_none_or(|p| p == r.unit_price)
        })
}

/// `notification_url` with `source_news=webhooks` (§9.1), so MP sends only the signed Webhooks
/// format and no IPN copies. Keeps the caller's own query parameters and fragment, replaces an
/// earlier `source_news`, and joins with `?` or `&` as needed.
pub fn webhooks_only_url(url: &str) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    let (path, existing) = match rest.split_once('?') {
        Some((p, q)) => (p, q),
        None => (rest, ""),
    };
    let mut params: Vec<&str> = existing
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| p.split('=').next() != Some("source_news"))
        .collect();
    params.push("source_news=webhooks");
    let mut out = format!("{path}?{}", params.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// MP's documented preference rules, checked before anything is sent (§4.2, §4.3).
pub fn validate_preference(p: &PreferenceRequest) -> Result<(), Error> {
    check_items(&p.items)?;
    check_reference(&p.external_reference)?;
    if let Some(url) = &p.notification_url {
        check_notification_url(url)?;
    }
    if let Some(sd) = &p.statement_descriptor {
        check_descriptor(sd)?;
    }
    check_back_urls(p.back_urls.as_ref())?;
    if let Some(ar) = &p.auto_return {
        check_auto_return(ar)?;
        if p.back_urls
            .as_ref()
            .and_then(|b| b.success.as_ref())
            .is_none()
        {
            return invalid("auto_return needs back_urls.success");
        }
    }
    check_window(
        p.expiration_date_from.as_deref(),
        p.expiration_date_to.as_deref(),
    )?;
    check_metadata(&p.metadata)
}

/// [`validate_preference`] plus the payment-method rules.
pub fn validate_full_preference(p: &FullPreferenceRequest) -> Result<(), Error> {
    validate_preference(&p.base)?;
    if let Some(pm) = &p.payment_methods {
        check_payment_methods(pm)?;
    }
    Ok(())
}

/// The same rules, for the fields an update sets.
fn validate_update(u: &PreferenceUpdate) -> Result<(), Error> {
    if let Some(items) = &u.items {
        check_items(items)?;
    }
    if let Some(r) = &u.external_reference {
        check_reference(r)?;
    }
    if let Some(url) = &u.notification_url {
        check_notification_url(url)?;
    }
    if let Some(sd) = &u.statement_descriptor {
        check_descriptor(sd)?;
    }
    check_back_urls(u.back_urls.as_ref())?;
    if let Some(ar) = &u.auto_return {
        check_auto_return(ar)?;
        // The preference may already have back_urls; only a body that sets them is checked.
        if let Some(b) = &u.back_urls
            && b.success.is_none()
        {
            return invalid("auto_return needs back_urls.success");
        }
    }
    check_window(
        u.expiration_date_from.as_deref(),
        u.expiration_date_to.as_deref(),
    )?;
    if let Some(m) = &u.metadata {
        check_metadata(m)?;
    }
    if let Some(pm) = &u.payment_methods {
        check_payment_methods(pm)?;
    }
    if serde_json::to_value(u).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty())) {
        return invalid("an update must set at least one field");
    }
    Ok(())
}

fn invalid<T>(message: &str) -> Result<T, Error> {
    Err(Error::InvalidRequest(message.to_string()))
}

fn check_items(items: &[Item]) -> Result<(), Error> {
    if items.is_empty() {
        return invalid("a preference needs at least one item");
    }
    for item in items {
        if item.id.trim().is_empty() {
            return invalid("every item needs an id");
        }
        if item.title.trim().is_empty() {
            return invalid("every item needs a title");
        }
        if item.quantity < 1 {
            return invalid("item quantity must be at least 1");
        }
        let currency = item.currency_id.as_deref().unwrap_or("");
        if let Err(m) = CurrencyRules::check(item.unit_price, currency) {
            return Err(Error::InvalidRequest(m));
        }
    }
    Ok(())
}

fn check_reference(r: &str) -> Result<(), Error> {
    if r.is_empty()
        || r.len() > 64
        || !r
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return invalid("external_reference must be 1-64 characters of [A-Za-z0-9_-]");
    }
    Ok(())
}

fn check_notification_url(url: &str) -> Result<(), Error> {
    if !url.starts_with("https://") || url.len() > 248 || url::Url::parse(url).is_err() {
        return invalid("notification_url must be an https URL of at most 248 characters");
    }
    Ok(())
}

fn check_descriptor(sd: &str) -> Result<(), Error> {
    if sd.chars().count() > 16 {
        return invalid("statement_descriptor takes at most 16 characters");
    }
    Ok(())
}

fn check_back_urls(b: Option<&BackUrls>) -> Result<(), Error> {
    let Some(b) = b else { return Ok(()) };
    for url in [&b.success, &b.pending, &b.failure].into_iter().flatten() {
        let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return invalid("back_urls must be absolute http(s) URLs");
        }
    }
    Ok(())
}

fn check_auto_return(ar: &str) -> Result<(), Error> {
    if !matches!(ar, "approved" | "all") {
        return invalid("auto_return must be \"approved\" or \"all\"");
    }
    Ok(())
}

/// Dates need millis and an offset (§1), and the window must not end before it starts.
fn check_window(from: Option<&str>, to: Option<&str>) -> Result<(), Error> {
    for d in [from, to].into_iter().flatten() {
        if !is_mp_date(d) {
            return invalid(
                "expiration dates must look like 2024-01-10T09:30:00.000-05:00 (see format_date)",
            );
        }
    }
    if let (Some(f), Some(t)) = (from.and_then(parse_date), to.and_then(parse_date))
        && f >= t
    {
        return invalid("expiration_date_from must be before expiration_date_to");
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SS.mmm±HH:MM`, a real instant.
fn is_mp_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 29
        && b[19] == b'.'
        && b[20..23].iter().all(u8::is_ascii_digit)
        && matches!(b[23], b'+' | b'-')
        && b[26] == b':'
        && parse_date(s).is_some()
}

/// Keys must be snake_case: whether MP converts other keys is unconfirmed (§4.2), and a
/// converted key would not be found again in `payment.metadata`.
fn check_metadata(m: &serde_json::Map<String, serde_json::Value>) -> Result<(), Error> {
    fn walk(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(m) => m.iter().all(|(k, v)| snake(k) && walk(v)),
            serde_json::Value::Array(a) => a.iter().all(walk),
            _ => true,
        }
    }
    fn snake(k: &str) -> bool {
        k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }
    if m.iter().all(|(k, v)| snake(k) && walk(v)) {
        Ok(())
    } else {
        invalid("metadata keys must be snake_case ([a-z][a-z0-9_]*)")
    }
}

fn check_payment_methods(pm: &PaymentMethods) -> Result<(), Error> {
    let range = 1..=36;
    if pm.installments.is_some_and(|n| !range.contains(&n)) {
        return invalid("installments must be from 1 to 36");
    }
    if let Some(d) = pm.default_installments {
        if !range.contains(&d) {
            return invalid("default_installments must be from 1 to 36");
        }
        if pm.installments.is_some_and(|max| d > max) {
            return invalid("default_installments can't exceed installments");
        }
    }
    if pm
        .excluded_payment_methods
        .iter()
        .any(|m| m.id == "account_money")
    {
        return invalid("account_money can't be excluded");
    }
    if pm
        .excluded_payment_methods
        .iter()
        .chain(&pm.excluded_payment_types)
        .any(|m| m.id.trim().is_empty())
    {
        return invalid("excluded payment methods and types need an id");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_only_url_joins_correctly() {
        assert_eq!(
            webhooks_only_url("https://c.example/hooks/mp"),
            "https://c.example/hooks/mp?source_news=webhooks"
        );
        assert_eq!(
            webhooks_only_url("https://c.example/hooks/mp?clinic=42"),
            "https://c.example/hooks/mp?clinic=42&source_news=webhooks"
        );
        assert_eq!(
            webhooks_only_url("https://c.example/hooks/mp?"),
            "https://c.example/hooks/mp?source_news=webhooks"
        );
        assert_eq!(
            webhooks_only_url("https://c.example/h?source_news=ipn&a=1#top"),
            "https://c.example/h?a=1&source_news=webhooks#top"
        );
        let once = webhooks_only_url("https://c.example/h?a=1");
        assert_eq!(webhooks_only_url(&once), once, "idempotent");
    }

    #[test]
    fn mp_dates_need_millis_and_offset() {
        assert!(is_mp_date("2024-01-10T09:30:00.000-05:00"));
        assert!(is_mp_date(&crate::types::format_date(chrono::Utc::now())));
        assert!(!is_mp_date("2024-01-10T09:30:00-05:00"));
        assert!(!is_mp_date("2024-01-10T09:30:00.000Z"));
        assert!(!is_mp_date("2024-13-10T09:30:00.000-05:00"));
    }

    #[test]
    fn metadata_keys_must_be_snake_case() {
        let ok = serde_json::json!({"charge_id": "c1", "nested": {"a_b": [ {"c": 1} ]}});
        assert!(check_metadata(ok.as_object().unwrap()).is_ok());
        for bad in [
            serde_json::json!({"chargeId": 1}),
            serde_json::json!({"x": {"InnerKey": 1}}),
            serde_json::json!({"_x": 1}),
            serde_json::json!({"a-b": 1}),
        ] {
            assert!(check_metadata(bad.as_object().unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn payment_method_rules() {
        let pm = |i, d| PaymentMethods {
            installments: i,
            default_installments: d,
            ..PaymentMethods::default()
        };
        assert!(check_payment_methods(&pm(Some(1), None)).is_ok());
        assert!(check_payment_methods(&pm(Some(36), Some(36))).is_ok());
        assert!(check_payment_methods(&pm(Some(0), None)).is_err());
        assert!(check_payment_methods(&pm(Some(37), None)).is_err());
        assert!(check_payment_methods(&pm(Some(3), Some(6))).is_err());
        assert!(check_payment_methods(&pm(None, Some(0))).is_err());
        let excluded = PaymentMethods {
            excluded_payment_methods: vec![crate::types::IdRef::new("account_money")],
            ..PaymentMethods::default()
        };
        assert!(check_payment_methods(&excluded).is_err());
    }

    #[test]
    fn empty_update_is_refused() {
        assert!(validate_update(&PreferenceUpdate::default()).is_err());
        assert!(validate_update(&PreferenceUpdate::expire_at(chrono::Utc::now())).is_ok());
    }
}
