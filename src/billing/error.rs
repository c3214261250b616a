//! Why a billing value was refused.

/// A customer, invoice or amount that breaks a rule of the billing model.
///
/// The messages name the field and the rule, so an API can return them as a
/// 422 body and a student can fix the value that caused them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    /// A field's value is outside what the model allows.
    #[error("{field}: {message}")]
    InvalidField {
        /// The field, as named in the documents (`quantity`, `address.zip`).
        field: &'static str,
        /// The rule it broke and the value it had.
        message: String,
    },
    /// A stored total disagrees with the one computed from its parts.
    #[error("{field} is {stated} but its parts add up to {computed}")]
    Inconsistent {
        /// The total that is off (`subtotal`, `total_amount`, `items.total`).
        field: &'static str,
        /// What the document says.
        stated: String,
        /// What it should say.
        computed: String,
    },
    /// An invoice status other than the three the model knows.
    #[error("status {value:?} is not one of \"pending\", \"paid\", \"overdue\"")]
    UnknownStatus {
        /// The value given.
        value: String,
    },
}

impl BillingError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        BillingError::InvalidField {
            field,
            message: message.into(),
        }
    }
}
