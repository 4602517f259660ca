//! `GET /locations/{locationId}`: the one location (sub-account) the sandbox holds, with the
//! IANA `timezone` every slot and appointment time is rendered in.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{GhlError, check_location};
use crate::SandboxConfig;
use crate::state::App;

/// The location as stored.
pub(crate) struct Location {
    pub id: String,
    pub name: String,
    pub timezone: String,
}

impl Location {
    pub fn from_config(config: &SandboxConfig) -> Self {
        Self {
            id: config.location_id.clone(),
            name: config.location_name.clone(),
            timezone: config.timezone.clone(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "companyId": "DemoCompany000000001",
            "name": self.name,
            "domain": "",
            "address": "Av. Arequipa 1234",
            "city": "Lima",
            "state": "Lima",
            "logoUrl": "",
            "country": "PE",
            "postalCode": "15046",
            "website": "",
            "timezone": self.timezone,
            "firstName": "Recepción",
            "lastName": "",
            "email": "recepcion@clinica-demo.example",
            "phone": "+5114400000",
            "business": {
                "name": self.name,
                "address": "Av. Arequipa 1234",
                "city": "Lima",
                "state": "Lima",
                "country": "PE",
                "postalCode": "15046",
                "website": "",
                "timezone": self.timezone,
                "logoUrl": "",
                "email": "recepcion@clinica-demo.example",
            },
            "social": {},
            "settings": {
                "allowDuplicateContact": false,
                "allowDuplicateOpportunity": false,
                "allowFacebookNameMerge": false,
                "disableContactTimezone": false,
            },
        })
    }
}

/// `GET /locations/{locationId}` → `{"location": {...}}`; 403 for any other location id.
pub(crate) async fn get_location(
    State(app): State<App>,
    Path(location_id): Path<String>,
) -> Result<Json<Value>, GhlError> {
    check_location(&app, &location_id)?;
    let world = app.world();
    Ok(Json(json!({ "location": world.ghl.location.to_json() })))
}
