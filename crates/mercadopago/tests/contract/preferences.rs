//! Preference update, expiry, search and the full create body.

use super::*;
use mercadopago::{
    FullPreferenceRequest, IdRef, Identification, Payer, PaymentMethods, Phone, PreferenceUpdate,
    webhooks_only_url,
};

#[tokio::test]
async fn update_preference_changes_only_the_fields_sent() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let created = client
        .create_preference(&preference("visit-0101", "80", "PEN"), "charge-0101")
        .await
        .expect("created");
    let later = format_date(Utc::now() + chrono::Duration::hours(3));
    let updated = client
        .update_preference(
            &created.id,
            &PreferenceUpdate {
                expiration_date_to: Some(later.clone()),
                ..PreferenceUpdate::default()
            },
        )
        .await
        .expect("updated");
    assert_eq!(updated.id, created.id);
    let read = client.get_preference(&created.id).await.expect("readable");
    assert_eq!(
        read.expiration_date_to
            .as_deref()
            .and_then(mercadopago::parse_date),
        mercadopago::parse_date(&later)
    );
    assert_eq!(read.external_reference.as_deref(), Some("visit-0101"));
    assert_eq!(read.init_point, created.init_point);
    assert_eq!(read.expires, Some(true));
}

#[tokio::test]
async fn expired_preference_refuses_payment() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let created = client
        .create_preference(&preference("visit-0102", "80", "PEN"), "charge-0102")
        .await
        .expect("created");
    let now = Utc::now();
    let expired = client
        .expire_preference(&created.id, now)
        .await
        .expect("expired");
    assert_eq!(expired.expires, Some(true));
    let read = client.get_preference(&created.id).await.expect("readable");
    let to = read
        .expiration_date_to
        .as_deref()
        .and_then(mercadopago::parse_date)
        .expect("expiration_date_to set");
    assert!((to - now).num_seconds().abs() <= 1, "{to} vs {now}");
    let refused = sandbox
        .pay_preference(&created.id, PayRequest::default())
        .await;
    assert!(refused.is_err(), "an expired link takes no payment");
    let found = client.search_payments("visit-0102").await.expect("search");
    assert!(found.results.is_empty());
}

#[tokio::test]
async fn updating_an_unknown_preference_maps_to_not_found() {
    let sandbox = start_sandbox().await;
    let err = sandbox_client(&sandbox)
        .expire_preference(
            "1273205088-00000000-0000-4000-8000-000000000000",
            Utc::now(),
        )
        .await
        .expect_err("no such preference");
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn search_preferences_finds_a_reference_and_find_created_matches_only_that_link() {
    let sandbox = start_sandbox().await;
    let client = sandbox_client(&sandbox);
    let request = preference("visit-0103", "80", "PEN");
    let created = client
        .create_preference(&request, "charge-0103")
        .await
        .expect("created");
    client
        .create_preference(&preference("visit-0104", "80", "PEN"), "charge-0104")
        .await
        .expect("another visit");

    let found = client
        .search_preferences("visit-0103", 10, 0)
        .await
        .expect("search");
    assert_eq!(found.total, 1);
    assert_eq!(found.elements.len(), 1);
    assert_eq!(found.elements[0].id, created.id);

    let same = client
        .find_created_preference(&request)
        .await
        .expect("lookup");
    assert_eq!(same.map(|p| p.id), Some(created.id.clone()));

    // Another window or another price for the same reference is another link.
    let mut later = request.clone();
    later.expiration_date_to = Some(format_date(Utc::now() + chrono::Duration::hours(5)));
    assert_eq!(
        client
            .find_created_preference(&later)
            .await
            .expect("lookup"),
        None
    );
    let mut dearer = request.clone();
    dearer.items[0].unit_price = dec("90");
    assert_eq!(
        client
            .find_created_preference(&dearer)
            .await
            .expect("lookup"),
        None
    );
}

fn full_request(reference: &str) -> FullPreferenceRequest {
    let mut base = preference(reference, "150.00", "PEN");
    base.notification_url = Some(webhooks_only_url(
        "https://clinic.example/hooks/mp?clinic=42",
    ));
    base.back_urls = Some(mercadopago::BackUrls {
        success: Some("https://clinic.example/paid".to_owned()),
        pending: None,
        failure: Some("https://clinic.example/failed".to_owned()),
    });
    base.auto_return = Some("approved".to_owned());
    base.binary_mode = Some(true);
    base.metadata
        .insert("charge_id".to_owned(), json!("charge-0105"));
    FullPreferenceRequest::from(base)
        .with_payer(Payer {
            name: Some("Ana".to_owned()),
            surname: Some("Quispe".to_owned()),
            email: Some("ana@example.com".to_owned()),
            phone: Some(Phone {
                area_code: Some("51".to_owned()),
                number: Some("987654321".to_owned()),
            }),
            identification: Some(Identification {
                kind: Some("DNI".to_owned()),
                number: Some("12345678".to_owned()),
            }),
        })
        .with_payment_methods(PaymentMethods {
            excluded_payment_types: vec![IdRef::new("ticket"), IdRef::new("atm")],
            excluded_payment_methods: vec![IdRef::new("amex")],
            installments: Some(6),
            default_installments: Some(1),
            ..PaymentMethods::default()
        })
}

#[tokio::test]
async fn full_preference_body_carries_every_documented_part() {
    let (base, seen) = recording_server().await;
    canned_client(&base)
        .create_full_preference(&full_request("visit-0105"), "charge-0105")
        .await
        .expect("created");
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 1);
    let body: Value = serde_json::from_slice(&seen[0].body).expect("JSON");
    assert_eq!(
        body["notification_url"],
        json!("https://clinic.example/hooks/mp?clinic=42&source_news=webhooks")
    );
    assert_eq!(body["expires"], json!(true));
    assert_eq!(body["binary_mode"], json!(true));
    assert_eq!(body["auto_return"], json!("approved"));
    assert_eq!(
        body["back_urls"],
        json!({"success": "https://clinic.example/paid", "failure": "https://clinic.example/failed"})
    );
    assert_eq!(body["items"][0]["unit_price"].to_string(), "150");
    assert_eq!(
        body["payer"],
        json!({
            "name": "Ana", "surname": "Quispe", "email": "ana@example.com",
            "phone": {"area_code": "51", "number": "987654321"},
            "identification": {"type": "DNI", "number": "12345678"}
        })
    );
    assert_eq!(
        body["payment_methods"],
        json!({
            "excluded_payment_methods": [{"id": "amex"}],
            "excluded_payment_types": [{"id": "ticket"}, {"id": "atm"}],
            "installments": 6,
            "default_installments": 1
        })
    );
    assert_eq!(body["metadata"], json!({"charge_id": "charge-0105"}));
    assert_eq!(body["statement_descriptor"], json!("CLINICA DEMO"));
}

#[tokio::test]
async fn full_preference_is_accepted_by_the_sandbox() {
    let sandbox = start_sandbox().await;
    let created = sandbox_client(&sandbox)
        .create_full_preference(&full_request("visit-0106"), "charge-0106")
        .await
        .expect("created");
    assert_eq!(created.external_reference.as_deref(), Some("visit-0106"));
}

#[tokio::test]
async fn invalid_full_and_partial_bodies_are_refused_before_sending() {
    let (base, seen) = recording_server().await;
    let client = canned_client(&base);
    let mut bad = Vec::new();
    let mut r = full_request("visit-1");
    r.payment_methods.as_mut().expect("set").installments = Some(37);
    bad.push(("37 installments", r));
    let mut r = full_request("visit-1");
    r.payment_methods
        .as_mut()
        .expect("set")
        .default_installments = Some(7);
    bad.push(("default above max", r));
    let mut r = full_request("visit-1");
    r.payment_methods
        .as_mut()
        .expect("set")
        .excluded_payment_methods = vec![IdRef::new("account_money")];
    bad.push(("account_money excluded", r));
    let mut r = full_request("visit-1");
    r.base.auto_return = Some("sometimes".to_owned());
    bad.push(("auto_return value", r));
    let mut r = full_request("visit-1");
    r.base.metadata.insert("chargeId".to_owned(), json!(1));
    bad.push(("camelCase metadata", r));
    let mut r = full_request("visit-1");
    r.base.expiration_date_to = Some("2030-01-01T00:00:00Z".to_owned());
    bad.push(("date without millis", r));
    let mut r = full_request("visit-1");
    r.base.expiration_date_from = r.base.expiration_date_to.clone();
    bad.push(("empty window", r));
    for (what, request) in &bad {
        let err = client
            .create_full_preference(request, "k")
            .await
            .expect_err(what);
        assert!(matches!(err, Error::InvalidRequest(_)), "{what}: {err:?}");
    }
    let err = client
        .create_full_preference(&full_request("visit-1"), &"k".repeat(65))
        .await
        .expect_err("65-char key");
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    let err = client
        .update_preference("1-abc", &PreferenceUpdate::default())
        .await
        .expect_err("empty update");
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(seen.lock().expect("log").is_empty(), "nothing was sent");
}

#[tokio::test]
async fn expire_sends_a_put_with_exactly_expires_and_the_end_date() {
    let (base, seen) = recording_server().await;
    let client = canned_client(&base);
    let id = "1273205088-6da17b39-3bf4-4307-9124-4381c56372e0";
    let now = Utc::now();
    client.expire_preference(id, now).await.expect("200");
    client
        .update_preference(
            id,
            &PreferenceUpdate {
                statement_descriptor: Some("CLINICA".to_owned()),
                ..PreferenceUpdate::default()
            },
        )
        .await
        .expect("200");
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, Method::PUT);
    assert_eq!(seen[0].path, format!("/checkout/preferences/{id}"));
    let body: Value = serde_json::from_slice(&seen[0].body).expect("JSON");
    assert_eq!(
        body,
        json!({"expires": true, "expiration_date_to": format_date(now)})
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&seen[1].body).expect("JSON"),
        json!({"statement_descriptor": "CLINICA"})
    );
    // Each logical update has its own key.
    let k0 = header(&seen[0], "x-idempotency-key").expect("key");
    let k1 = header(&seen[1], "x-idempotency-key").expect("key");
    assert!(is_uuid(k0), "{k0}");
    assert_ne!(k0, k1);
}
