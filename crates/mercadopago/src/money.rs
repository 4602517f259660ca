//! Amounts on MP's wire: JSON numbers written and read as exact decimal text, never `f64`,
//! and the per-currency scale MP enforces (CLP and COP are integers, the rest ≤ 2 decimals).

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serializer};
use serde_json::value::RawValue;
use std::str::FromStr;

/// Decimal places MP accepts for `unit_price` in a currency, or `None` for one MP does not take.
pub fn currency_scale(currency_id: &str) -> Option<u32> {
    match currency_id {
        "CLP" | "COP" => Some(0),
        "ARS" | "BRL" | "MXN" | "PEN" | "UYU" | "USD" => Some(2),
        _ => None,
    }
}

/// Checks an amount against MP's rules for its currency.
pub struct CurrencyRules;

impl CurrencyRules {
    /// `Ok` when `amount` is positive and has no more decimals than the currency allows.
    pub fn check(amount: Decimal, currency_id: &str) -> Result<(), String> {
        let scale = currency_scale(currency_id)
            .ok_or_else(|| format!("currency {currency_id} is not supported by Mercado Pago"))?;
        if amount <= Decimal::ZERO {
            return Err("amount must be greater than zero".into());
        }
        if amount.normalize().scale() > scale {
            return Err(format!(
                "{currency_id} amounts take at most {scale} decimal places"
            ));
        }
        Ok(())
    }
}

/// Serde adapter: a `Decimal` as a bare JSON number with its exact digits.
pub mod json_number {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(value.normalize().to_string())
            .map_err(serde::ser::Error::custom)?;
        serde::Serialize::serialize(&raw, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(d)?;
        parse_raw(raw.get()).map_err(serde::de::Error::custom)
    }
}

/// Serde adapter for an optional amount (`null` or absent is `None`).
pub mod json_number_opt {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => json_number::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        let raw: Option<Box<RawValue>> = Deserialize::deserialize(d)?;
        match raw {
            None => Ok(None),
            Some(r) if r.get() == "null" => Ok(None),
            Some(r) => parse_raw(r.get())
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Parses a JSON number (or a quoted number, which some MP responses carry) exactly.
fn parse_raw(text: &str) -> Result<Decimal, String> {
    let t = text.trim().trim_matches('"');
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .map_err(|_| format!("not a decimal amount: {}", truncate(t)))
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(32) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Wrap {
        #[serde(with = "json_number")]
        v: Decimal,
    }

    #[test]
    fn amounts_serialise_as_exact_json_numbers() {
        let json = serde_json::to_string(&Wrap { v: dec("80.50") }).unwrap();
        assert_eq!(json, r#"{"v":80.5}"#);
        let json = serde_json::to_string(&Wrap { v: dec("1500") }).unwrap();
        assert_eq!(json, r#"{"v":1500}"#);
    }

    #[test]
    fn amounts_parse_without_float_rounding() {
        let w: Wrap = serde_json::from_str(r#"{"v":12345678901234567.89}"#).unwrap();
        assert_eq!(w.v, dec("12345678901234567.89"));
        let w: Wrap = serde_json::from_str(r#"{"v":"12.34"}"#).unwrap();
        assert_eq!(w.v, dec("12.34"));
        let w: Wrap = serde_json::from_str(r#"{"v":1e2}"#).unwrap();
        assert_eq!(w.v, dec("100"));
    }

    #[test]
    fn non_numbers_are_rejected() {
        assert!(serde_json::from_str::<Wrap>(r#"{"v":true}"#).is_err());
        assert!(serde_json::from_str::<Wrap>(r#"{"v":"abc"}"#).is_err());
    }

    #[test]
    fn currency_rules_follow_mp() {
        assert!(CurrencyRules::check(dec("80.00"), "PEN").is_ok());
        assert!(CurrencyRules::check(dec("80.001"), "PEN").is_err());
        assert!(CurrencyRules::check(dec("5000"), "CLP").is_ok());
        assert!(CurrencyRules::check(dec("5000.5"), "COP").is_err());
        assert!(CurrencyRules::check(dec("0"), "PEN").is_err());
        assert!(CurrencyRules::check(dec("-1"), "PEN").is_err());
        assert!(CurrencyRules::check(dec("10"), "EUR").is_err());
    }
}
