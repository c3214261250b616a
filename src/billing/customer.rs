//! Customers: who invoices are sent to.

use bson::DateTime;
use bson::oid::ObjectId;
use serde::{Deserialize, Serialize};

use super::error::BillingError;
use super::valid::{Valid, Validate};

/// A customer whose fields have been checked; see [`CustomerFields`].
pub type Customer = Valid<CustomerFields>;

/// A customer document, with the course notes' field names:
///
/// ```json
/// { "_id": ObjectId, "name": "John Doe", "email": "john@example.com",
///   "phone": "555-1234", "address": { "street": "123 Main St",
///   "city": "Metropolis", "state": "NY", "zip": "12345" },
///   "created_at": ISODate("2024-12-06T10:00:00Z") }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerFields {
    /// The document's `_id`.
    #[serde(rename = "_id")]
    pub id: ObjectId,
    /// Full name, as printed on invoices.
    pub name: String,
    /// Where invoices are emailed.
    pub email: String,
    /// A phone number, as the customer wrote it.
    pub phone: String,
    /// The billing address, embedded: it is always read with the customer.
    pub address: Address,
    /// When the customer signed up.
    pub created_at: DateTime,
}

/// A postal address in the United States, as in the course's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
pub struct Address {
    /// Number and street: "123 Main St".
    pub street: String,
    /// City: "Metropolis".
    pub city: String,
    /// Two-letter state code: "NY".
    pub state: String,
    /// Five-digit ZIP code, optionally with four more: "12345" or "12345-6789".
    pub zip: String,
}

impl Validate for CustomerFields {
    fn validate(&self) -> Result<(), BillingError> {
        require_text("name", &self.name, 200)?;
        validate_email(&self.email)?;
        require_text("phone", &self.phone, 40)?;
        if !self
            .phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err(BillingError::invalid(
                "phone",
                format!(
                    "{:?} may hold only digits, spaces and + - ( ) .",
                    self.phone
                ),
            ));
        }
        self.address.validate()
    }
}

impl Validate for Address {
    fn validate(&self) -> Result<(), BillingError> {
        require_text("address.street", &self.street, 200)?;
        require_text("address.city", &self.city, 100)?;
        if !(self.state.len() == 2 && self.state.chars().all(|c| c.is_ascii_uppercase())) {
            return Err(BillingError::invalid(
                "address.state",
                format!(
                    "{:?} is not a two-letter state code such as \"NY\"",
                    self.state
                ),
            ));
        }
        let digits: Vec<&str> = self.zip.split('-').collect();
        let zip_ok = match digits.as_slice() {
            [five] => is_digits(five, 5),
            [five, four] => is_digits(five, 5) && is_digits(four, 4),
            _ => false,
        };
        if !zip_ok {
            return Err(BillingError::invalid(
                "address.zip",
                format!(
                    "{:?} is not a ZIP code such as \"12345\" or \"12345-6789\"",
                    self.zip
                ),
            ));
        }
        Ok(())
    }
}

fn is_digits(text: &str, count: usize) -> bool {
    text.len() == count && text.chars().all(|c| c.is_ascii_digit())
}

/// Checks that `value` is one line of visible text of at most `max`
/// characters, with no control or bidirectional formatting character.
pub(crate) fn require_text(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), BillingError> {
    if value.trim().is_empty() {
        return Err(BillingError::invalid(field, "must not be empty"));
    }
    if let Some(control) = value.chars().find(|c| c.is_control()) {
        return Err(BillingError::invalid(
            field,
            format!(
                "contains the control character U+{:04X}; write it as one line of printable text",
                u32::from(control)
            ),
        ));
    }
    if let Some(mark) = value.chars().find(|&c| is_bidi_control(c)) {
        return Err(BillingError::invalid(
            field,
            format!(
                "contains U+{:04X}, which changes the order text is shown in, so what is shown \
                 is not what is stored; write the text without it",
                u32::from(mark)
            ),
        ));
    }
    if value.chars().all(is_invisible) {
        return Err(BillingError::invalid(
            field,
            "has no visible character (only spaces, zero-width or blank characters); write it \
             in visible characters",
        ));
    }
    let length = value.chars().count();
    if length > max {
        return Err(BillingError::invalid(
            field,
            format!("is {length} characters long; at most {max} are allowed"),
        ));
    }
    Ok(())
}

/// Unicode's bidirectional embeddings, overrides and isolates (U+202A to
/// U+202E, U+2066 to U+2069): they reorder how the text around them is
/// displayed (the "Trojan Source" trick), so a name could show as one thing
/// and be another. The direction marks (U+200E, U+200F, U+061C) only nudge
/// neutral characters and belong in right-to-left text, so they are
/// allowed.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Spaces and characters that show nothing: format characters, fillers
/// and blanks, variation selectors and tags. The joiners (U+200C, U+200D)
/// count, so a name made only of them is refused, but they are allowed
/// beside visible text, where scripts and emoji need them.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// `email` as the lab stores it: in lower case. Mail servers do not tell
/// `Ada@Example.com` from `ada@example.com`, so neither does the unique
/// index on `email`, as long as every address written goes through here
/// (the API's create and update do; the data set's are lower case).
pub fn canonical_email(email: &str) -> String {
    email.to_lowercase()
}

/// A deliberately simple check: one `@`, something before it, and a dotted
/// domain after it. Real validation is sending a message to the address.
fn validate_email(email: &str) -> Result<(), BillingError> {
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.contains(|c: char| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid && email.len() <= 254 {
        Ok(())
    } else {
        Err(BillingError::invalid(
            "email",
            format!("{email:?} is not an email address such as \"ada@example.com\""),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn seed_customer() -> CustomerFields {
        CustomerFields {
            id: ObjectId::parse_str("64a7f2c8e4b0f12d34567890").unwrap(),
            name: "John Doe".into(),
            email: "john@example.com".into(),
            phone: "555-1234".into(),
            address: Address {
                street: "123 Main St".into(),
                city: "Metropolis".into(),
                state: "NY".into(),
                zip: "12345".into(),
            },
            created_at: DateTime::parse_rfc3339_str("2024-12-06T10:00:00Z").unwrap(),
        }
    }

    #[test]
    fn the_seeds_customer_is_valid_and_keeps_its_field_names() {
        let customer = Customer::check(seed_customer()).unwrap();
        let document = bson::serialize_to_document(&customer).unwrap();
        let keys: Vec<&str> = document.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["_id", "name", "email", "phone", "address", "created_at"]
        );
        let address: Vec<&str> = document
            .get_document("address")
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(address, ["street", "city", "state", "zip"]);
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        type Breaker = fn(&mut CustomerFields);
        let cases: [(Breaker, &str); 10] = [
            (|c| c.name = "  ".into(), "name: must not be empty"),
            (
                |c| c.name = "A\u{0}B".into(),
                "name: contains the control character U+0000",
            ),
            (
                |c| c.name = "Ada\u{1b}[31m\n".into(),
                "name: contains the control character U+001B",
            ),
            (
                |c| c.name = "Ada \u{202E}ecalevol".into(),
                "name: contains U+202E, which changes the order",
            ),
            (
                |c| c.name = "\u{200B}\u{FEFF} \u{200D}\u{3164}\u{200F}".into(),
                "name: has no visible character",
            ),
            (
                |c| c.email = "a\u{0}@example.com".into(),
                "email: \"a\\0@example.com\" is not an email address",
            ),
            (
                |c| c.email = "john.example.com".into(),
                "email: \"john.example.com\" is not an email address",
            ),
            (|c| c.address.state = "New York".into(), "address.state:"),
            (|c| c.address.zip = "1234".into(), "address.zip:"),
            (|c| c.phone = "call me".into(), "phone:"),
        ];
        for (break_it, expected) in cases {
            let mut fields = seed_customer();
            break_it(&mut fields);
            let error = Customer::check(fields).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{error}");
        }
    }

    #[test]
    fn joiners_marks_and_accents_beside_visible_text_are_names() {
        for name in [
            "Zoë Ångström",
            "\u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}",
            "Ada \u{1F469}\u{200D}\u{1F4BB}",
            "\u{05D3}\u{05E0}\u{05D4} \u{200F}(2)",
        ] {
            let mut fields = seed_customer();
            fields.name = name.into();
            assert!(Customer::check(fields).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn a_stored_customer_that_breaks_a_rule_is_refused_on_reading() {
        let mut document = bson::serialize_to_document(&seed_customer()).unwrap();
        document.insert("email", "not-an-email");
        let error = bson::deserialize_from_document::<Customer>(document).unwrap_err();
        assert!(error.to_string().contains("email"), "{error}");
    }
}
