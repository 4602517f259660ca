//! Property tests: amounts survive MP's JSON exactly at every currency's scale, and a
//! signature verifies only for exactly what was signed.

use hmac::{Hmac, Mac};
use mercadopago::webhook::verify_signature;
use mercadopago::{CurrencyRules, Item};
use proptest::prelude::*;
use rust_decimal::Decimal;
use sha2::Sha256;

fn sign(secret: &str, id: &str, rid: &str, ts: &str) -> String {
    let manifest = format!("id:{id};request-id:{rid};ts:{ts};");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(manifest.as_bytes());
    format!("ts={ts},v1={}", hex::encode(mac.finalize().into_bytes()))
}

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
