//! Rust warm-up: Option, Result, `?`, serde and async.
//!
//! Scenario: before the lab touches Redis or MongoDB, the billing team's
//! signup code does four small things that every later exercise does too:
//! it turns JSON text into a typed customer, reports bad input as an error
//! the caller can act on instead of crashing, looks a plan up in the price
//! list, and asks two slow services at once. Nothing here needs a database,
//! so the tests run in a moment. Notebook 00 shows each tool you need.
//!
//! Write the four functions marked `// TODO`. The types and `check_email`
//! are given. Run `cargo lab grade rust-warmup` to check your work, and
//! `cargo lab hint rust-warmup` if you are stuck.

use serde::Deserialize;
use thiserror::Error;

/// A customer as the signup form sends it, in JSON:
/// `{"id": 7, "name": "Ada Lovelace", "email": "ada@example.com", "plan": "pro"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Customer {
    /// The customer's number.
    pub id: u32,
    /// Full name.
    pub name: String,
    /// Where the invoices go.
    pub email: String,
    /// The name of a plan in the price list.
    pub plan: String,
}

/// One line of the price list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Its name: `free`, `pro`, `team`.
    pub name: String,
    /// What it costs a month, in cents. The free plan costs 0: a real
    /// price, which is why 0 cannot also mean "no such plan".
    pub monthly_cents: u32,
}

/// Why a signup cannot be priced. Each variant is a different thing for
/// the caller to do, and its text says what.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignupError {
    /// The text is not JSON, or not a customer: a field is missing or has
    /// the wrong type.
    #[error(
        "the customer is not valid JSON: {reason}; send an object with id, name, email and plan"
    )]
    Malformed {
        /// serde_json's explanation, which names the field and the place.
        reason: String,
    },
    /// The email is not an address.
    #[error("{email:?} is not an email address; it needs a name, one @ and a domain")]
    BadEmail {
        /// The email as sent.
        email: String,
    },
    /// The plan is not in the price list.
    #[error("there is no plan {plan:?}; choose one from the price list")]
    UnknownPlan {
        /// The plan as sent.
        plan: String,
    },
}

/// Checks that `email` looks like an address: some text, one `@`, some
/// text. (A teaching simplification: a real signup sends a confirmation
/// mail, the only check that proves an address works.)
pub fn check_email(email: &str) -> Result<(), SignupError> {
    match email.split_once('@') {
        Some((name, domain)) if !name.is_empty() && !domain.is_empty() && !domain.contains('@') => {
            Ok(())
        }
        _ => Err(SignupError::BadEmail {
            email: email.to_owned(),
        }),
    }
}

/// The customer in `text`, or `SignupError::Malformed` saying what is wrong.
pub fn parse_customer(text: &str) -> Result<Customer, SignupError> {
    // TODO: let serde_json read `text` into a `Customer`. Bad text must give
    // `Err(SignupError::Malformed { reason })`, never a panic, and the
    // reason must keep serde_json's explanation of what is wrong.
    todo!("parse_customer: read the JSON text into a Customer, or answer SignupError::Malformed")
}

/// The monthly price, in cents, of plan `name`, or `None` when the price
/// list has no such plan.
pub fn price_of(plans: &[Plan], name: &str) -> Option<u32> {
    // TODO: find the plan called `name` and answer its price. A plan that
    // is not on the list is `None`; the free plan's price is `Some(0)`.
    todo!("price_of: find the plan by name and answer Some(price), or None")
}

/// What the customer in `text` pays a month: parse, check the email, find
/// the plan, stopping at the first step that fails.
pub fn monthly_price(text: &str, plans: &[Plan]) -> Result<u32, SignupError> {
    // TODO: chain the three steps with `?`: `parse_customer`, `check_email`,
    // then `price_of`, whose `None` must become `SignupError::UnknownPlan`.
    todo!("monthly_price: chain parse_customer, check_email and price_of with `?`")
}

/// A service behind the account page did not answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the {service} service did not answer; try again in a moment")]
pub struct ServiceError {
    /// Which lookup failed: `balance` or `open_invoices`.
    pub service: String,
}

/// The services an account statement needs. In the lab they would be
/// MongoDB and Redis; here the tests play them, and note in what order
/// they were asked.
pub trait Accounts {
    /// The id of the customer with `email`, or `None` when there is none.
    fn customer_id(&self, email: &str) -> impl Future<Output = Option<u32>>;
    /// Customer `id`'s balance in cents (negative when they owe money).
    fn balance(&self, id: u32) -> impl Future<Output = Result<i64, ServiceError>>;
    /// How many of customer `id`'s invoices are unpaid.
    fn open_invoices(&self, id: u32) -> impl Future<Output = Result<u32, ServiceError>>;
}

/// What the account page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement {
    /// The balance in cents.
    pub balance_cents: i64,
    /// How many invoices are unpaid.
    pub open_invoices: u32,
}

/// The statement of the customer with `email`: `Ok(None)` when there is no
/// such customer, an error when a service fails.
pub async fn statement_for(
    accounts: &impl Accounts,
    email: &str,
) -> Result<Option<Statement>, ServiceError> {
    // TODO: first the customer's id (no customer: `Ok(None)`, and ask
    // nothing more). Then the balance and the unpaid invoices, which do not
    // depend on each other: ask for both at once, not one after the other,
    // and pass on the error of either with `?`.
    todo!("statement_for: find the id, then ask for the balance and the invoices at once")
}
