//! GHL OAuth 2.0 token endpoint (ghl.md §2.2): `POST /oauth/token`, form-encoded, no
//! `Version`, outside bearer auth.
//!
//! - `authorization_code`: a code issued by the control API (`Sandbox::issue_ghl_oauth_code`,
//!   `POST /__control/ghl/oauth/codes`), usable once.
//! - `refresh_token`: refresh tokens are single-use. Each refresh consumes the old one and
//!   returns a new pair; an identical request within 30 s gets the same new pair again; any
//!   other reuse gets 400. A suspended location (control switch) gets 400 "Location is not
//!   active".
//!
//! Access tokens issued here are accepted by every API route next to the configured PIT until
//! they expire (`expires_in` = the configured lifetime, 86,399 s by default).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::GhlError;
use crate::state::App;

/// The window in which an identical refresh gets the same new pair.
const SAME_REFRESH_WINDOW: Duration = Duration::seconds(30);

/// The scopes Mostrador needs (ghl.md §2.3), reported in `scope`.
const SCOPES: &str = "calendars.readonly calendars/events.readonly calendars/events.write \
contacts.readonly contacts.write conversations/message.write locations.readonly";

/// The token response, in the documented field order and casing: the OAuth fields in
/// snake_case, GHL's own in camelCase.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: String,
    scope: &'static str,
    #[serde(rename = "userType")]
    user_type: String,
    #[serde(rename = "locationId")]
    location_id: String,
    #[serde(rename = "companyId")]
    company_id: &'static str,
    #[serde(rename = "approvedLocations")]
    approved_locations: Vec<String>,
    #[serde(rename = "userId")]
    user_id: &'static str,
    #[serde(rename = "planId")]
    plan_id: &'static str,
    #[serde(rename = "isBulkInstallation")]
    is_bulk_installation: bool,
    #[serde(rename = "installToFutureLocations")]
    install_to_future_locations: bool,
    #[serde(rename = "approveAllLocations")]
    approve_all_locations: bool,
    #[serde(rename = "refreshTokenId")]
    refresh_token_id: String,
}

/// What happened to a refresh token.
#[derive(Clone, Debug)]
enum Refresh {
    Active,
    /// Consumed at `at` by a request with this fingerprint, which got `response`.
    Used {
        at: DateTime<Utc>,
        fingerprint: String,
        response: Box<TokenResponse>,
    },
}

/// Issued codes and tokens.
#[derive(Default)]
pub(crate) struct OAuthStore {
    codes: Vec<String>,
    /// Access token → expiry.
    access: HashMap<String, DateTime<Utc>>,
    refresh: HashMap<String, Refresh>,
}

impl OAuthStore {
    /// Whether `token` is an access token issued here that has not expired.
    pub fn accepts(&self, token: &str, now: DateTime<Utc>) -> bool {
        self.access.get(token).is_some_and(|expiry| *expiry > now)
    }

    /// A new single-use authorization code.
    pub fn issue_code(&mut self) -> String {
        let code = uuid::Uuid::new_v4().simple().to_string();
        self.codes.push(code.clone());
        code
    }
}

fn random_token(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn invalid_grant(what: &str) -> GhlError {
    GhlError::BadRequest(format!("Invalid grant: {what}"))
}

/// `POST /oauth/token` (form: `client_id`, `client_secret`, `grant_type`, `code` |
/// `refresh_token`, `user_type`, `redirect_uri`) → 200 token response.
pub(crate) async fn token(
    State(app): State<App>,
    body: Bytes,
) -> Result<Json<TokenResponse>, GhlError> {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut problems = Vec::new();
    for key in ["client_id", "client_secret", "grant_type"] {
        if field(key).is_none() {
            problems.push(format!("{key} should not be empty"));
        }
    }
    let (Some(client_id), Some(client_secret), Some(grant_type)) = (
        field("client_id"),
        field("client_secret"),
        field("grant_type"),
    ) else {
        return Err(GhlError::Unprocessable(problems));
    };
    if client_id != app.config.ghl_oauth_client_id
        || client_secret != app.config.ghl_oauth_client_secret
    {
        return Err(GhlError::Unauthenticated(
            "Invalid client credentials".into(),
        ));
    }
    let user_type = field("user_type").unwrap_or_else(|| "Location".to_owned());
    if !matches!(user_type.as_str(), "Location" | "Company") {
        return Err(GhlError::Unprocessable(vec![
            "user_type must be one of the following values: Company, Location".into(),
        ]));
    }
    let now = app.now();
    let (suspended, lifetime) = {
        let s = app.settings();
        (s.location_suspended, s.access_token_lifetime)
    };
    let mut world = app.world();
    let store = &mut world.ghl.oauth;
    match grant_type.as_str() {
        "authorization_code" => {
            let code = field("code")
                .ok_or_else(|| GhlError::Unprocessable(vec!["code should not be empty".into()]))?;
            let Some(index) = store.codes.iter().position(|c| *c == code) else {
                return Err(invalid_grant(
                    "authorization code is invalid or was already used",
                ));
            };
            store.codes.remove(index);
            if suspended {
                return Err(GhlError::BadRequest("Location is not active".into()));
            }
            let response = issue(&app, store, &user_type, now, lifetime);
            Ok(Json(response))
        }
        "refresh_token" => {
            let old = field("refresh_token").ok_or_else(|| {
                GhlError::Unprocessable(vec!["refresh_token should not be empty".into()])
            })?;
            if suspended {
                return Err(GhlError::BadRequest("Location is not active".into()));
            }
            let fingerprint = format!(
                "{client_id}\n{old}\n{user_type}\n{}",
                field("redirect_uri").unwrap_or_default()
            );
            match store.refresh.get(&old).cloned() {
                None => Err(invalid_grant("refresh token is invalid")),
                Some(Refresh::Used {
                    at,
                    fingerprint: first,
                    response,
                }) => {
                    if now - at <= SAME_REFRESH_WINDOW && first == fingerprint {
                        Ok(Json(*response))
                    } else {
                        Err(invalid_grant("refresh token has already been used"))
                    }
                }
                Some(Refresh::Active) => {
                    let response = issue(&app, store, &user_type, now, lifetime);
                    store.refresh.insert(
                        old,
                        Refresh::Used {
                            at: now,
                            fingerprint,
                            response: Box::new(response.clone()),
                        },
                    );
                    Ok(Json(response))
                }
            }
        }
        other => Err(GhlError::BadRequest(format!(
            "Unsupported grant_type: {other}"
        ))),
    }
}

fn issue(
    app: &App,
    store: &mut OAuthStore,
    user_type: &str,
    now: DateTime<Utc>,
    lifetime: std::time::Duration,
) -> TokenResponse {
    let access_token = random_token("ghl-at-");
    let refresh_token = random_token("ghl-rt-");
    let expiry =
        now + Duration::milliseconds(i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX));
    store.access.insert(access_token.clone(), expiry);
    store.refresh.insert(refresh_token.clone(), Refresh::Active);
    TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: lifetime.as_secs(),
        refresh_token,
        scope: SCOPES,
        user_type: user_type.to_owned(),
        location_id: app.config.location_id.clone(),
        company_id: "DemoCompany000000001",
        approved_locations: vec![app.config.location_id.clone()],
        user_id: "UsrDemoInstaller0001",
        plan_id: "DemoPlan000000000001",
        is_bulk_installation: false,
        install_to_future_locations: false,
        approve_all_locations: false,
        refresh_token_id: crate::state::ghl_id(),
    }
}
