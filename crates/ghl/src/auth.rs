//! How the client authenticates (ghl.md §2): a static Private Integration Token, or OAuth 2.0
//! tokens of a Marketplace app that this module refreshes.
//!
//! OAuth rules this module keeps:
//! - Refresh tokens are single-use: each refresh returns a new pair, which is handed to the
//!   [`TokenStore`] *before* the new access token is used, so a crash never strands the only
//!   valid refresh token in memory.
//! - One refresh at a time per client (and its clones): concurrent callers wait on the same
//!   lock and then use the tokens the first one obtained (single flight).
//! - Proactive refresh when less than [`OAuthConfig::refresh_margin`] remains, and one refresh
//!   plus retry when GHL answers 401 to a call made with a token we thought valid.
//! - A refused refresh (400/401/403/422, e.g. `invalid_grant` for a consumed token) becomes
//!   [`Error::ReauthorizationRequired`]; the real status for a reused token is (unconfirmed).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::Error;
use crate::types::ErrorBody;

/// `expires_in` GHL documents for access tokens (~24 h), used when the answer omits it.
const DEFAULT_EXPIRES_IN_SECS: i64 = 86_399;

/// An OAuth token pair and what GHL said about it. `Debug` never shows the tokens.
#[derive(Clone)]
pub struct OAuthTokens {
    pub access_token: SecretString,
    /// Single-use: consumed by the next refresh.
    pub refresh_token: SecretString,
    pub expires_at: DateTime<Utc>,
    pub scope: Option<String>,
    /// `Location` or `Company`.
    pub user_type: Option<String>,
    pub location_id: Option<String>,
    pub company_id: Option<String>,
    pub user_id: Option<String>,
}

impl OAuthTokens {
    /// A pair with only the required parts (e.g. read back from a secret store).
    pub fn new(
        access_token: SecretString,
        refresh_token: SecretString,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            access_token,
            refresh_token,
            expires_at,
            scope: None,
            user_type: None,
            location_id: None,
            company_id: None,
            user_id: None,
        }
    }

    /// Whether the access token has less than `margin` left.
    pub fn expires_within(&self, margin: Duration) -> bool {
        let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
        self.expires_at
            .signed_duration_since(Utc::now())
            .lt(&margin)
    }
}

impl std::fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthTokens")
            .field("access_token", &"[REDACTED]")
            .field("refresh_token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field("user_type", &self.user_type)
            .field("location_id", &self.location_id)
            .field("company_id", &self.company_id)
            .finish_non_exhaustive()
    }
}

/// A [`TokenStore`] failure, in words safe to show (never the tokens).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TokenStoreError(pub String);

/// Where OAuth tokens persist between runs (desk adapts its secret store to this).
/// `save` must be atomic for the pair: a refresh token without its access token, or the
/// reverse, is what leaves an installation needing re-authorisation.
pub trait TokenStore: Send + Sync {
    /// The last saved pair, or `None` before the app was authorised.
    fn load(&self) -> Result<Option<OAuthTokens>, TokenStoreError>;
    /// Replaces the stored pair.
    fn save(&self, tokens: &OAuthTokens) -> Result<(), TokenStoreError>;
}

/// A [`TokenStore`] in memory: for tests, and for callers that persist elsewhere.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    tokens: Mutex<Option<OAuthTokens>>,
}

impl MemoryTokenStore {
    /// A store holding `tokens`.
    pub fn new(tokens: Option<OAuthTokens>) -> Self {
        Self {
            tokens: Mutex::new(tokens),
        }
    }

    /// What is stored now.
    pub fn current(&self) -> Option<OAuthTokens> {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl TokenStore for MemoryTokenStore {
    fn load(&self) -> Result<Option<OAuthTokens>, TokenStoreError> {
        Ok(self.current())
    }

    fn save(&self, tokens: &OAuthTokens) -> Result<(), TokenStoreError> {
        *self.tokens.lock().unwrap_or_else(|e| e.into_inner()) = Some(tokens.clone());
        Ok(())
    }
}

/// A Marketplace app's credentials and how its tokens are kept.
#[derive(Clone)]
pub struct OAuthConfig {
    /// The Marketplace app's client id.
    pub client_id: String,
    pub client_secret: SecretString,
    /// `user_type` sent with token requests: `Location` (default) or `Company`.
    pub user_type: String,
    /// Refresh when less than this remains. Default 300 s (`GHL_TOKEN_REFRESH_MARGIN_SECS`)
    /// (GHL's SDK uses 30 s; a larger margin also covers a desk PC's clock drift).
    pub refresh_margin: Duration,
    pub store: Arc<dyn TokenStore>,
}

impl OAuthConfig {
    /// An app with the default user type and refresh margin.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: SecretString,
        store: Arc<dyn TokenStore>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            user_type: "Location".to_owned(),
            refresh_margin: Duration::from_secs(300),
            store,
        }
    }
}

impl std::fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("client_id", &self.client_id)
            .field("user_type", &self.user_type)
            .field("refresh_margin", &self.refresh_margin)
            .finish_non_exhaustive()
    }
}

/// How requests are authorised.
#[derive(Clone)]
pub enum Auth {
    /// A Private Integration Token; never refreshed (§2.1).
    PrivateIntegration(SecretString),
    /// OAuth tokens of a Marketplace app, refreshed as needed (§2.2).
    OAuth(OAuthConfig),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::PrivateIntegration(_) => f.write_str("PrivateIntegration([REDACTED])"),
            Auth::OAuth(c) => f.debug_tuple("OAuth").field(c).finish(),
        }
    }
}

/// The live side of [`Auth`], shared by a client's clones.
#[derive(Clone)]
pub(crate) enum Authorizer {
    Static(SecretString),
    OAuth(Arc<OAuthSession>),
}

impl Authorizer {
    pub(crate) fn new(auth: Auth, token_url: String) -> Self {
        match auth {
            Auth::PrivateIntegration(token) => Authorizer::Static(token),
            Auth::OAuth(config) => Authorizer::OAuth(Arc::new(OAuthSession {
                config,
                token_url,
                current: tokio::sync::Mutex::new(None),
            })),
        }
    }

    /// The bearer token for the next request.
    pub(crate) async fn bearer(&self, http: &reqwest::Client) -> Result<SecretString, Error> {
        match self {
            Authorizer::Static(token) => Ok(token.clone()),
            Authorizer::OAuth(session) => session.access_token(http).await,
        }
    }

    /// After a 401 to a request sent with `rejected`: refreshes (once for all concurrent
    /// callers) and says whether retrying makes sense.
    pub(crate) async fn recover_from_401(
        &self,
        http: &reqwest::Client,
        rejected: &SecretString,
    ) -> Result<bool, Error> {
        match self {
            Authorizer::Static(_) => Ok(false),
            Authorizer::OAuth(session) => {
                session.refresh_after_unauthorized(http, rejected).await?;
                Ok(true)
            }
        }
    }

    pub(crate) fn oauth(&self) -> Option<&Arc<OAuthSession>> {
        match self {
            Authorizer::OAuth(s) => Some(s),
            Authorizer::Static(_) => None,
        }
    }
}

pub(crate) struct OAuthSession {
    config: OAuthConfig,
    token_url: String,
    /// The tokens in use; the lock is also what makes refreshes single-flight.
    current: tokio::sync::Mutex<Option<OAuthTokens>>,
}

impl OAuthSession {
    async fn access_token(&self, http: &reqwest::Client) -> Result<SecretString, Error> {
        let mut slot = self.current.lock().await;
        if slot.is_none() {
            *slot = self.load()?;
        }
        let Some(tokens) = slot.as_ref() else {
            return Err(Error::ReauthorizationRequired {
                message: Some("no GoHighLevel OAuth tokens are stored".to_owned()),
                trace_id: None,
            });
        };
        if tokens.expires_within(self.config.refresh_margin) {
            self.refresh_locked(http, &mut slot).await?;
        }
        slot.as_ref()
            .map(|t| t.access_token.clone())
            .ok_or(Error::ReauthorizationRequired {
                message: None,
                trace_id: None,
            })
    }

    async fn refresh_after_unauthorized(
        &self,
        http: &reqwest::Client,
        rejected: &SecretString,
    ) -> Result<(), Error> {
        let mut slot = self.current.lock().await;
        let already_rotated = slot
            .as_ref()
            .is_some_and(|t| t.access_token.expose_secret() != rejected.expose_secret());
        if already_rotated {
            return Ok(());
        }
        tracing::info!("ghl answered 401 to a live OAuth token, refreshing");
        self.refresh_locked(http, &mut slot).await
    }

    /// Exchanges an authorization code (§2.2) and stores the first pair.
    pub(crate) async fn exchange_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        redirect_uri: Option<&str>,
    ) -> Result<OAuthTokens, Error> {
        let mut slot = self.current.lock().await;
        let mut form = vec![
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose_secret()),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("user_type", self.config.user_type.as_str()),
        ];
        if let Some(uri) = redirect_uri {
            form.push(("redirect_uri", uri));
        }
        let tokens = self.request_tokens(http, &form, None).await?;
        self.save(&tokens)?;
        *slot = Some(tokens.clone());
        Ok(tokens)
    }

    /// Refreshes while holding the lock. The store is re-read first: another process (or a
    /// previous run that crashed after saving) may already have rotated the pair.
    async fn refresh_locked(
        &self,
        http: &reqwest::Client,
        slot: &mut Option<OAuthTokens>,
    ) -> Result<(), Error> {
        match self.config.store.load() {
            Ok(Some(stored))
                if slot.as_ref().is_none_or(|cur| {
                    cur.refresh_token.expose_secret() != stored.refresh_token.expose_secret()
                }) =>
            {
                let fresh = !stored.expires_within(self.config.refresh_margin);
                *slot = Some(stored);
                if fresh {
                    return Ok(());
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not re-read ghl tokens before refresh"),
        }
        let Some(old) = slot.as_ref() else {
            return Err(Error::ReauthorizationRequired {
                message: Some("no GoHighLevel OAuth tokens are stored".to_owned()),
                trace_id: None,
            });
        };
        let form = [
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose_secret()),
            ("grant_type", "refresh_token"),
            ("refresh_token", old.refresh_token.expose_secret()),
            ("user_type", self.config.user_type.as_str()),
        ];
        let tokens = self.request_tokens(http, &form, Some(old)).await?;
        // Persist before use: the old refresh token is already consumed at GHL.
        self.save(&tokens)?;
        tracing::info!(
            expires_at = %tokens.expires_at,
            location_id = tokens.location_id.as_deref().unwrap_or(""),
            "ghl oauth tokens refreshed"
        );
        *slot = Some(tokens);
        Ok(())
    }

    async fn request_tokens(
        &self,
        http: &reqwest::Client,
        form: &[(&str, &str)],
        previous: Option<&OAuthTokens>,
    ) -> Result<OAuthTokens, Error> {
        // No `Version` header on /oauth/token (§1.1).
        let resp = http
            .post(&self.token_url)
            .header("Accept", "application/json")
            .form(form)
            .send()
            .await
            .map_err(Error::from_reqwest)?;
        let status = resp.status();
        let retry_after = crate::client::retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(Error::from_reqwest)?;
        tracing::debug!(status = status.as_u16(), "ghl oauth token call");
        if status.is_success() {
            let body: TokenResponse =
                serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))?;
            return body.into_tokens(previous);
        }
        if matches!(status.as_u16(), 400 | 401 | 403 | 422) {
            let parsed: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
            let mut words = parsed.messages();
            if let Some(d) = parsed.error_description.clone() {
                words.push(d);
            }
            if words.is_empty()
                && let Some(serde_json::Value::String(e)) = &parsed.error
            {
                words.push(e.clone());
            }
            tracing::warn!(status = status.as_u16(), "ghl refused the OAuth grant");
            return Err(Error::ReauthorizationRequired {
                message: (!words.is_empty()).then(|| words.join("; ")),
                trace_id: parsed.trace_id,
            });
        }
        Err(crate::client::map_error(status, &bytes, retry_after))
    }

    fn load(&self) -> Result<Option<OAuthTokens>, Error> {
        self.config.store.load().map_err(|e| Error::TokenStore(e.0))
    }

    fn save(&self, tokens: &OAuthTokens) -> Result<(), Error> {
        self.config.store.save(tokens).map_err(|e| {
            // The refresh token GHL just consumed is gone; a retry within GHL's 30-second
            // window of identical refreshes still gets this same new pair (§2.2).
            tracing::error!(error = %e, "could not save rotated ghl tokens");
            Error::TokenStore(e.0)
        })
    }
}

/// `/oauth/token` answer (§2.2).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenResponse {
    #[serde(rename = "access_token")]
    access_token: String,
    #[serde(rename = "refresh_token", default)]
    refresh_token: Option<String>,
    #[serde(rename = "expires_in", default)]
    expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    user_type: Option<String>,
    #[serde(default)]
    location_id: Option<String>,
    #[serde(default)]
    company_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
}

impl TokenResponse {
    fn into_tokens(self, previous: Option<&OAuthTokens>) -> Result<OAuthTokens, Error> {
        let refresh_token = match (self.refresh_token, previous) {
            (Some(r), _) => SecretString::from(r),
            // Not seen from GHL; keeping the old one is better than dropping the grant.
            (None, Some(p)) => p.refresh_token.clone(),
            (None, None) => {
                return Err(Error::Decode("token answer has no refresh_token".into()));
            }
        };
        let expires_in = self
            .expires_in
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_EXPIRES_IN_SECS);
        Ok(OAuthTokens {
            access_token: SecretString::from(self.access_token),
            refresh_token,
            expires_at: Utc::now() + chrono::Duration::seconds(expires_in),
            scope: self.scope,
            user_type: self.user_type,
            location_id: self
                .location_id
                .or_else(|| previous.and_then(|p| p.location_id.clone())),
            company_id: self
                .company_id
                .or_else(|| previous.and_then(|p| p.company_id.clone())),
            user_id: self.user_id,
        })
    }
}
