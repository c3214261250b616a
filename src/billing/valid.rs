//! `Valid<T>`: a value that has passed its type's checks.
//!
//! The billing types keep their fields public for reading (`invoice.total_amount`)
//! but can only be *made* through a check: `Valid::check`, a type's own
//! constructor, or deserialisation, which checks too. So a `Customer` or an
//! `Invoice` in hand is always a valid one, whether it was built in Rust or
//! read back from MongoDB. There is no `DerefMut`: to change a value, build a
//! new one, and it is checked again.

use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::BillingError;

/// The rules a billing value must keep.
pub trait Validate {
    /// `Ok` when every rule holds, else the first one broken.
    fn validate(&self) -> Result<(), BillingError>;
}

/// A `T` whose rules hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Valid<T>(T);

impl<T: Validate> Valid<T> {
    /// Checks `value` and wraps it.
    pub fn check(value: T) -> Result<Self, BillingError> {
        value.validate()?;
        Ok(Valid(value))
    }
}

impl<T> Valid<T> {
    /// The checked value, to take apart or change (and check again).
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Valid<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Serialize> Serialize for Valid<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: Validate + Deserialize<'de>> Deserialize<'de> for Valid<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = T::deserialize(deserializer)?;
        Valid::check(value).map_err(serde::de::Error::custom)
    }
}
