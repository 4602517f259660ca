//! Money in the clinic's currency: an exact decimal with the currency's scale, never `f64`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The currencies Mercado Pago settles in the countries it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    Pen,
    Ars,
    Brl,
    Clp,
    Cop,
    Mxn,
    Uyu,
    Usd,
}

impl Currency {
    /// ISO 4217 code.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Pen => "PEN",
            Currency::Ars => "ARS",
            Currency::Brl => "BRL",
            Currency::Clp => "CLP",
            Currency::Cop => "COP",
            Currency::Mxn => "MXN",
            Currency::Uyu => "UYU",
            Currency::Usd => "USD",
        }
    }

    /// Decimal places charged: CLP and COP are whole units at Mercado Pago, the rest cents.
    pub fn scale(self) -> u32 {
        match self {
            Currency::Clp | Currency::Cop => 0,
            _ => 2,
        }
    }
}

impl FromStr for Currency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_uppercase().as_str() {
            "PEN" => Currency::Pen,
            "ARS" => Currency::Ars,
            "BRL" => Currency::Brl,
            "CLP" => Currency::Clp,
            "COP" => Currency::Cop,
            "MXN" => Currency::Mxn,
            "UYU" => Currency::Uyu,
            "USD" => Currency::Usd,
            other => return Err(format!("unsupported currency: {other}")),
        })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount in a currency, always carried at the currency's scale ("80.00", "5000").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

/// Why an amount is not acceptable as a charge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("the amount is not a number")]
    NotANumber,
    #[error("the amount must be greater than zero")]
    NotPositive,
    #[error("{currency} amounts take at most {scale} decimal places")]
    TooManyDecimals { currency: Currency, scale: u32 },
    #[error("the amount is too large")]
    TooLarge,
}

/// Largest single charge accepted (a front desk never bills more in one link).
const MAX_AMOUNT: i64 = 100_000_000;

impl Money {
    /// Parses a charge amount typed by a person: positive, at most the currency's decimals.
    pub fn parse_charge(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let t = text.trim();
        if t.is_empty() || t.contains(['e', 'E']) {
            return Err(MoneyError::NotANumber);
        }
        let amount = Decimal::from_str_exact(t).map_err(|_| MoneyError::NotANumber)?;
        Money::charge(amount, currency)
    }

    /// Checks a decimal as a charge amount.
    pub fn charge(amount: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        if amount <= Decimal::ZERO {
            return Err(MoneyError::NotPositive);
        }
        if amount > Decimal::from(MAX_AMOUNT) {
            return Err(MoneyError::TooLarge);
        }
        let scale = currency.scale();
        if amount.normalize().scale() > scale {
            return Err(MoneyError::TooManyDecimals { currency, scale });
        }
        let mut amount = amount;
        amount.rescale(scale);
        Ok(Money { amount, currency })
    }

    /// An amount as reported by a provider, kept exactly as reported (no rounding), so a
    /// mismatch stays visible.
    pub fn reported(amount: Decimal, currency: Currency) -> Money {
        Money { amount, currency }
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Same currency and the same value, whatever the written scale.
    pub fn same_value(&self, other: &Money) -> bool {
        self.currency == other.currency && self.amount == other.amount
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_carried_at_the_currency_scale() {
        assert_eq!(
            Money::parse_charge("80", Currency::Pen)
                .unwrap()
                .amount()
                .to_string(),
            "80.00"
        );
        assert_eq!(
            Money::parse_charge("80.5", Currency::Pen)
                .unwrap()
                .amount()
                .to_string(),
            "80.50"
        );
        assert_eq!(
            Money::parse_charge("5000", Currency::Clp)
                .unwrap()
                .amount()
                .to_string(),
            "5000"
        );
    }

    #[test]
    fn bad_amounts_are_refused() {
        assert_eq!(
            Money::parse_charge("0", Currency::Pen),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(
            Money::parse_charge("-3", Currency::Pen),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(
            Money::parse_charge("abc", Currency::Pen),
            Err(MoneyError::NotANumber)
        );
        assert_eq!(
            Money::parse_charge("1e3", Currency::Pen),
            Err(MoneyError::NotANumber)
        );
        assert!(matches!(
            Money::parse_charge("80.001", Currency::Pen),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        assert!(matches!(
            Money::parse_charge("10.5", Currency::Cop),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        assert_eq!(
            Money::parse_charge("1000000000", Currency::Pen),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn equal_values_match_across_scales() {
        let a = Money::parse_charge("80", Currency::Pen).unwrap();
        let b = Money::reported(Decimal::from_str("80.0").unwrap(), Currency::Pen);
        let c = Money::reported(Decimal::from_str("0.01").unwrap(), Currency::Pen);
        assert!(a.same_value(&b));
        assert!(!a.same_value(&c));
    }
}
