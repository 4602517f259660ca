//! Property tests: amounts survive MP's JSON exactly at every currency's scale, any valid
//! preference serialises with JSON booleans and per-currency amounts, and a signature
//! verifies only for exactly what was signed.

use mercadopago::client::validate_full_preference;
use mercadopago::webhook::verify_signature;
use mercadopago::{
    CurrencyRules, FullPreferenceRequest, IdRef, Item, PaymentMethods, PreferenceRequest,
    format_date,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use testkit::mp_signature as sign;

fn currency() -> impl Strategy<Value = (&'static str, u32)> {
    prop_oneof![
        Just(("PEN", 2)),
        Just(("ARS", 2)),
        Just(("BRL", 2)),
        Just(("MXN", 2)),
        Just(("UYU", 2)),
        Just(("CLP", 0)),
        Just(("COP", 0)),
    ]
}

proptest! {
    #[test]
    fn amounts_round_trip_through_json_exactly((code, scale) in currency(), minor in 1i64..10_000_000_000i64) {
        let amount = Decimal::new(minor, scale);
        prop_assert!(CurrencyRules::check(amount, code).is_ok());
        let item = Item {
            id: "x".into(),
            title: "Consulta".into(),
            quantity: 1,
            unit_price: amount,
            currency_id: Some(code.into()),
        };
        let json = serde_json::to_string(&item).unwrap();
        let back: Item = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back.unit_price, amount);
        // A bare JSON number written in plain digits: never a string, never an exponent.
        let raw: serde_json::Value = serde_json::from_str(&json).unwrap();
        prop_assert!(raw["unit_price"].is_number());
        let text = json
            .split("\"unit_price\":")
            .nth(1)
            .and_then(|rest| rest.split([',', '}']).next())
            .unwrap();
        prop_assert!(text.chars().all(|c| c.is_ascii_digit() || c == '.'), "{}", text);
    }

    #[test]
    fn one_decimal_too_many_is_refused((code, scale) in currency(), minor in 1i64..1_000_000_000i64) {
        let amount = Decimal::new(minor * 10 + 1, scale + 1);
        prop_assert!(CurrencyRules::check(amount, code).is_err());
    }

    #[test]
    fn a_signature_verifies_only_what_was_signed(
        secret in "[a-f0-9]{32}",
        id in "[0-9]{1,19}",
        rid in "[a-f0-9-]{8,36}",
        ts in "[0-9]{10,13}",
        other in "[0-9a-z-]{1,36}",
    ) {
        let header = sign(&secret, &id, &rid, &ts);
        prop_assert!(verify_signature(secret.as_bytes(), Some(&header), Some(&rid), Some(&id)).is_ok());
        if other != id {
            prop_assert!(verify_signature(secret.as_bytes(), Some(&header), Some(&rid), Some(&other)).is_err());
        }
        if other != rid {
            prop_assert!(verify_signature(secret.as_bytes(), Some(&header), Some(&other), Some(&id)).is_err());
        }
        // Another ts in the header than the one signed.
        let moved = header.replacen(&format!("ts={ts}"), &format!("ts={ts}1"), 1);
        prop_assert!(verify_signature(secret.as_bytes(), Some(&moved), Some(&rid), Some(&id)).is_err());
        let wrong_secret = format!("{secret}x");
        prop_assert!(verify_signature(wrong_secret.as_bytes(), Some(&header), Some(&rid), Some(&id)).is_err());
    }
}

/// The text of each `"unit_price":` number in `json`, as written.
fn unit_price_texts(json: &str) -> Vec<&str> {
    json.split("\"unit_price\":")
        .skip(1)
        .filter_map(|rest| rest.split([',', '}']).next())
        .collect()
}

prop_compose! {
    fn valid_preference()(
        (code, scale) in currency(),
        minors in prop::collection::vec((1i64..10_000_000i64, 1u32..5), 1..4),
        reference in "[A-Za-z0-9_-]{1,64}",
        expires in any::<bool>(),
        binary_mode in prop::option::of(any::<bool>()),
        descriptor in prop::option::of("[A-Z ]{0,16}"),
        installments in prop::option::of(1u32..=36),
        window_minutes in 1i64..100_000,
    ) -> (FullPreferenceRequest, &'static str, u32) {
        let now = chrono::Utc::now();
        let items = minors
            .iter()
            .enumerate()
            .map(|(i, (minor, quantity))| Item {
                id: format!("ITEM-{i}"),
                title: "Consulta".into(),
                quantity: *quantity,
                unit_price: Decimal::new(*minor, scale),
                currency_id: Some(code.into()),
            })
            .collect();
        let base = PreferenceRequest {
            items,
            external_reference: reference,
            notification_url: Some("https://clinic.example/hooks/mp?source_news=webhooks".into()),
            expires,
            expiration_date_from: Some(format_date(now)),
            expiration_date_to: Some(format_date(now + chrono::Duration::minutes(window_minutes))),
            back_urls: None,
            auto_return: None,
            statement_descriptor: descriptor,
            binary_mode,
            metadata: serde_json::Map::new(),
        };
        let full = FullPreferenceRequest::from(base).with_payment_methods(PaymentMethods {
            installments,
            default_installments: installments.map(|_| 1),
            excluded_payment_types: vec![IdRef::new("ticket")],
            ..PaymentMethods::default()
        });
        (full, code, scale)
    }
}

proptest! {
    #[test]
    fn valid_preferences_serialise_with_booleans_and_currency_scale(
        (request, code, scale) in valid_preference()
    ) {
        prop_assert!(validate_full_preference(&request).is_ok(), "{:?}", validate_full_preference(&request));
        let json = serde_json::to_string(&request).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        prop_assert!(v["expires"].is_boolean());
        prop_assert_eq!(v["expires"].as_bool(), Some(request.base.expires));
        if let Some(b) = request.base.binary_mode {
            prop_assert_eq!(v["binary_mode"].as_bool(), Some(b));
        } else {
            prop_assert!(v.get("binary_mode").is_none());
        }
        prop_assert!(v["items"].as_array().unwrap().iter().all(|i| i["quantity"].is_u64()));
        prop_assert!(v["items"].as_array().unwrap().iter().all(|i| i["currency_id"] == code));
        let texts = unit_price_texts(&json);
        prop_assert_eq!(texts.len(), request.base.items.len());
        for (text, item) in texts.iter().zip(&request.base.items) {
            prop_assert!(text.chars().all(|c| c.is_ascii_digit() || c == '.'), "{}", text);
            let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
            prop_assert!(decimals <= scale as usize, "{} has {} decimals for {}", text, decimals, code);
            prop_assert_eq!(text.parse::<Decimal>().unwrap(), item.unit_price);
        }
        if let Some(n) = request.payment_methods.as_ref().and_then(|p| p.installments) {
            prop_assert_eq!(v["payment_methods"]["installments"].as_u64(), Some(u64::from(n)));
        }
    }
}
