//! Exact amounts of money.
//!
//! # Why not `f64`
//!
//! The course notes store prices as doubles (`"unit_price": 50.00`). Doubles are
//! binary fractions, so most cent amounts cannot be stored exactly, and sums
//! drift: `0.1 + 0.2` is `0.30000000000000004`. An invoice total a cent off, or
//! a revenue report that does not match the invoices, is a bug in billing.
//!
//! # Why Decimal128 and not integer cents
//!
//! Both are exact. Integer cents would change what the seed's fields mean
//! (`"unit_price": 5000` is 50 dollars) and every reader would have to know it.
//! MongoDB's Decimal128 keeps the field names *and* their meaning,
//! `NumberDecimal("50.00")` reads as money in any driver or shell, and the
//! aggregation framework's `$sum`, `$multiply` and `$round` stay exact on it.
//! So every amount in the lab is a [`Money`] in Rust and a Decimal128 in the
//! database, always with two decimal places. In JSON it is written as a string,
//! `"125.35"`, because a JSON number would be read back as a double.

use std::fmt;
use std::iter::Sum;
use std::ops::Add;
use std::str::FromStr;

use bson::{Bson, Decimal128};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::BillingError;

/// The largest amount the model accepts: a billion, which keeps every
/// product and sum far from the 28 digits a `Decimal` holds.
const MAX_UNITS: i64 = 1_000_000_000;

/// An exact, non-negative amount with two decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

impl Money {
    /// Nothing.
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, 2));

    /// An amount from a whole number of cents: `Money::from_cents(12535)` is 125.35.
    pub fn from_cents(cents: i64) -> Result<Money, BillingError> {
        Money::from_decimal(Decimal::new(cents, 2))
    }

    /// An amount from a decimal with at most two decimal places.
    pub fn from_decimal(value: Decimal) -> Result<Money, BillingError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(BillingError::invalid(
                "amount",
                format!("{value} is negative; amounts are zero or more"),
            ));
        }
        let value = value.normalize();
        if value.scale() > 2 {
            return Err(BillingError::invalid(
                "amount",
                format!("{value} has more than two decimal places"),
            ));
        }
        Money(with_cents(value)).within_limit("amount")
    }

    /// This amount, if it is at most a billion, the most any stored amount
    /// may be; otherwise why not, for `field`. Amounts parsed or read back
    /// are held to it when they are made; a product ([`Money::times`]) or a
    /// sum (`+`) can pass it, so whatever stores one checks it here first.
    pub fn within_limit(self, field: &'static str) -> Result<Money, BillingError> {
        if self.0 > Decimal::from(MAX_UNITS) {
            return Err(BillingError::invalid(
                field,
                format!("{} is more than {MAX_UNITS}", self.0.normalize()),
            ));
        }
        Ok(self)
    }

    /// The amount as a decimal with exactly two decimal places.
    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    /// The amount in whole cents.
    pub fn cents(self) -> i64 {
        // At most a billion with two places: always fits.
        (self.0.mantissa()) as i64
    }

    /// This amount `quantity` times over, as a line total.
    pub fn times(self, quantity: u32) -> Money {
        Money(with_cents(self.0 * Decimal::from(quantity)))
    }

    /// `rate` of this amount, rounded to the cent, halves away from zero (the
    /// rule most tax authorities use): 9% of 115.00 is 10.35.
    pub fn share(self, rate: TaxRate) -> Money {
        let exact = self.0 * rate.0;
        Money(with_cents(exact.round_dp_with_strategy(
            2,
            RoundingStrategy::MidpointAwayFromZero,
        )))
    }

    /// The amount as BSON's Decimal128, with two decimal places.
    pub fn to_decimal128(self) -> Decimal128 {
        decimal128_from(self.0)
    }

    /// An amount from a Decimal128 read from MongoDB.
    pub fn from_decimal128(value: Decimal128) -> Result<Money, BillingError> {
        let decimal = decimal_from(value).ok_or_else(|| {
            BillingError::invalid("amount", format!("{value} is not a finite amount of money"))
        })?;
        Money::from_decimal(decimal)
    }

    /// An amount from any BSON number a driver might have stored: Decimal128,
    /// a whole number, a double with at most two decimals, or a decimal string.
    pub fn from_bson(value: &Bson) -> Result<Money, BillingError> {
        match value {
            Bson::Decimal128(value) => Money::from_decimal128(*value),
            Bson::Int32(value) => Money::from_decimal(Decimal::from(*value)),
            Bson::Int64(value) => Money::from_decimal(Decimal::from(*value)),
            // A double's shortest decimal form is what the person typed
            // (50.0 for 50.00); more than two decimals cannot be a cent amount.
            Bson::Double(value) if value.is_finite() => value.to_string().parse(),
            Bson::String(text) => text.parse(),
            other => Err(BillingError::invalid(
                "amount",
                format!("expected a Decimal128 amount, found {other}"),
            )),
        }
    }
}

impl FromStr for Money {
    type Err = BillingError;

    /// Parses `"125.35"`, `"50"` or `"0.5"`; refuses `"1.005"`, `"-3"`,
    /// `"abc"`, and every other spelling a decimal parser would take but a
    /// person would not write on an invoice (`"1e3"`, `"+5"`, `".5"`, `"5."`,
    /// thirty decimal places rounded away).
    fn from_str(text: &str) -> Result<Money, BillingError> {
        let text = text.trim();
        let (units, cents) = text.split_once('.').unwrap_or((text, "0"));
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if digits(units) && digits(cents) && cents.len() > 2 {
            return Err(BillingError::invalid(
                "amount",
                format!("{text} has more than two decimal places"),
            ));
        }
        if !digits(units) || !digits(cents) || units.len() > 12 {
            return Err(BillingError::invalid(
                "amount",
                format!(
                    "{text:?} is not an amount such as \"125.35\": digits, then at most two decimal places"
                ),
            ));
        }
        let decimal = Decimal::from_str(text).map_err(|_| {
            BillingError::invalid(
                "amount",
                format!("{text:?} is not an amount such as \"125.35\""),
            )
        })?;
        Money::from_decimal(decimal)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Add for Money {
    type Output = Money;

    fn add(self, other: Money) -> Money {
        Money(self.0 + other.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl From<Money> for Bson {
    fn from(value: Money) -> Bson {
        Bson::Decimal128(value.to_decimal128())
    }
}

impl Serialize for Money {
    /// Always a Decimal128; see the module documentation for JSON.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_decimal128().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Bson::deserialize(deserializer)?;
        Money::from_bson(&value).map_err(serde::de::Error::custom)
    }
}

/// An exact sum of amounts, as reports give it: revenue per customer, per
/// month, over everything. Unlike [`Money`] it has no upper limit (a
/// million invoices add up to more than any one invoice may hold).
///
/// It is read from what MongoDB's `$sum` returns (a Decimal128, or the whole
/// number 0 when nothing was summed) and written as a decimal string with two
/// places, `"370666.95"`, in BSON and JSON alike, so no reader turns it into a
/// double.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Total(Decimal);

impl Total {
    /// Nothing yet.
    pub const ZERO: Total = Total(Decimal::from_parts(0, 0, 0, false, 2));

    /// The sum as a decimal with two decimal places.
    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    /// A sum read from a report: Decimal128, a whole number, or a decimal string.
    pub fn from_bson(value: &Bson) -> Result<Total, BillingError> {
        let decimal = match value {
            Bson::Decimal128(value) => decimal_from(*value),
            Bson::Int32(value) => Some(Decimal::from(*value)),
            Bson::Int64(value) => Some(Decimal::from(*value)),
            Bson::String(text) => Decimal::from_str(text).ok(),
            _ => None,
        };
        decimal
            .map(|decimal| Total(with_cents(decimal)))
            .ok_or_else(|| {
                BillingError::invalid("total", format!("{value} is not an exact sum of money"))
            })
    }
}

impl From<Money> for Total {
    fn from(value: Money) -> Total {
        Total(value.0)
    }
}

impl Add<Money> for Total {
    type Output = Total;

    fn add(self, other: Money) -> Total {
        Total(self.0 + other.0)
    }
}

impl Add for Total {
    type Output = Total;

    fn add(self, other: Total) -> Total {
        Total(self.0 + other.0)
    }
}

impl Sum<Money> for Total {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Total {
        iter.fold(Total::ZERO, Add::add)
    }
}

impl fmt::Display for Total {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Total {
    /// A decimal string with two places.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Total {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Bson::deserialize(deserializer)?;
        Total::from_bson(&value).map_err(serde::de::Error::custom)
    }
}

/// A tax rate, such as 9% (`TaxRate::from_percent("9")`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaxRate(Decimal);

impl TaxRate {
    /// A rate from a percentage between 0 and 100, with up to three decimals.
    pub fn from_percent(percent: &str) -> Result<TaxRate, BillingError> {
        let value = Decimal::from_str(percent.trim())
            .ok()
            .filter(|value| *value >= Decimal::ZERO && *value <= Decimal::ONE_HUNDRED)
            .filter(|value| value.normalize().scale() <= 3)
            .ok_or_else(|| {
                BillingError::invalid(
                    "tax_rate",
                    format!("{percent:?} is not a percentage from 0 to 100 such as \"8.875\""),
                )
            })?;
        Ok(TaxRate(value / Decimal::ONE_HUNDRED))
    }

    /// The rate as a fraction: 0.09 for 9%.
    pub fn fraction(self) -> Decimal {
        self.0
    }
}

/// `value` with exactly two decimal places.
fn with_cents(mut value: Decimal) -> Decimal {
    value.rescale(2);
    value
}

/// Decimal128's exponent bias: the stored exponent minus this is the power of ten.
const EXPONENT_BIAS: i32 = 6176;
/// The largest coefficient of a canonical Decimal128: 10^34 - 1.
const MAX_COEFFICIENT: u128 = 9_999_999_999_999_999_999_999_999_999_999;

/// Encodes a decimal in Decimal128's binary integer decimal layout: sign bit,
/// 14 exponent bits, 113 coefficient bits, stored little-endian. Done by hand
/// because seeding writes millions of amounts and text conversion would
/// dominate the time.
fn decimal128_from(value: Decimal) -> Decimal128 {
    let coefficient = value.mantissa().unsigned_abs();
    let exponent = (EXPONENT_BIAS - value.scale() as i32) as u128;
    let sign = u128::from(value.is_sign_negative());
    let bits = (sign << 127) | (exponent << 113) | coefficient;
    Decimal128::from_bytes(bits.to_le_bytes())
}

/// Decodes a finite Decimal128 that fits a `Decimal`, or `None`.
fn decimal_from(value: Decimal128) -> Option<Decimal> {
    let bits = u128::from_le_bytes(value.bytes());
    if (bits >> 125) & 0b11 == 0b11 {
        // Infinity, NaN, or a coefficient too large to be canonical.
        return None;
    }
    let negative = bits >> 127 == 1;
    let mut exponent = ((bits >> 113) & 0x3fff) as i32 - EXPONENT_BIAS;
    let mut coefficient = bits & ((1u128 << 113) - 1);
    if coefficient > MAX_COEFFICIENT {
        coefficient = 0;
    }
    while exponent > 0 {
        coefficient = coefficient.checked_mul(10)?;
        exponent -= 1;
    }
    while exponent < -28 {
        if !coefficient.is_multiple_of(10) {
            return None;
        }
        coefficient /= 10;
        exponent += 1;
    }
    let signed = i128::try_from(coefficient).ok()?;
    let mut decimal = Decimal::try_from_i128_with_scale(signed, (-exponent) as u32).ok()?;
    decimal.set_sign_negative(negative);
    Some(decimal)
}

#[cfg(test)]
mod tests;
