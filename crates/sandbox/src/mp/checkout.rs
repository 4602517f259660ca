//! The sandbox's own checkout page, where `init_point` leads: a plain HTML page showing what
//! is charged, with buttons that pay the preference as approved, rejected or pending.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;

use super::payments::{PayRequest, pay};
use crate::state::App;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>body{{font-family:sans-serif;max-width:28rem;margin:2rem auto;\
         padding:0 1rem}}button{{font-size:1rem;margin:.25rem;padding:.5rem 1rem}}\
         .total{{font-size:1.6rem;font-weight:bold}}</style></head><body>\
         <p><small>Mercado Pago · SANDBOX</small></p>{}</body></html>",
        escape(title),
        body
    ))
}

/// `GET /mp/checkout/v1/redirect?pref_id=…`: what the patient would see.
pub(crate) async fn pay_page(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> (StatusCode, Html<String>) {
    let id = query.get("pref_id").cloned().unwrap_or_default();
    let now = app.now();
    let world = app.world();
    let Some(pref) = world.mp.preference(&id) else {
        return (
            StatusCode::NOT_FOUND,
            page(
                "Link no encontrado",
                "<h1>Algo anduvo mal</h1><p>Este link de pago no existe.</p>",
            ),
        );
    };
    let items: String = pref
        .items
        .iter()
        .map(|i| {
            format!(
                "<li>{} × {} — {} {}</li>",
                i.quantity,
                escape(&i.title),
                escape(&i.currency_id),
                i.unit_price.normalize()
            )
        })
        .collect();
    let state = if pref.is_expired(now) {
        "<p><strong>Este link de pago venció.</strong></p>".to_owned()
    } else {
        let pay_url = |status: &str| {
            format!(
                "/mp/checkout/v1/pay?pref_id={}&status={}",
                escape(&pref.id),
                status
            )
        };
        format!(
            "<form method=\"post\" action=\"{}\"><button>Pagar (aprobado)</button></form>\
             <form method=\"post\" action=\"{}\"><button>Pago rechazado</button></form>\
             <form method=\"post\" action=\"{}\"><button>Pago pendiente</button></form>",
            pay_url("approved"),
            pay_url("rejected"),
            pay_url("pending")
        )
    };
    let body = format!(
        "<h1>Pagar</h1><ul>{items}</ul><p class=\"total\">{} {}</p>{state}",
        escape(pref.currency_id()),
        pref.total().normalize()
    );
    (StatusCode::OK, page("Pagar", &body))
}

/// `POST /mp/checkout/v1/pay?pref_id=…&status=…`: the page's buttons.
pub(crate) async fn pay_from_page(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> (StatusCode, Html<String>) {
    let id = query.get("pref_id").cloned().unwrap_or_default();
    let req = PayRequest {
        status: query
            .get("status")
            .cloned()
            .unwrap_or_else(|| "approved".to_owned()),
        ..PayRequest::default()
    };
    match pay(&app, &id, req).await {
        Ok(outcome) => (
            StatusCode::OK,
            page(
                "Pago registrado",
                &format!(
                    "<h1>Listo</h1><p>Pago n.º {} registrado.</p>",
                    outcome.payment_id
                ),
            ),
        ),
        Err(e) => (
            StatusCode::CONFLICT,
            page(
                "No se pudo pagar",
                &format!("<h1>No se pudo pagar</h1><p>{}</p>", escape(&e.to_string())),
            ),
        ),
    }
}
