//! Rust warm-up: Option, Result, `?`, serde and async. (Answer key.)
//!
//! Scenario: before the lab touches Redis or MongoDB, the billing team's
//! signup code does four small things that every later exercise does too:
//! it turns JSON text into a typed customer, reports bad input as an error
//! the caller can act on instead of crashing, looks a plan up in the price
//! list, and asks two slow services at once. Nothing here needs a database,
//! so the tests run in a moment.

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
///
/// Text from outside is often wrong; `unwrap` would turn a bad request into
/// a crashed handler. `map_err` turns serde's error into ours and keeps its
/// explanation ("missing field `email` at line 1 column 48"), which is what
/// the sender needs to fix the request.
pub fn parse_customer(text: &str) -> Result<Customer, SignupError> {
    serde_json::from_str(text).map_err(|error| SignupError::Malformed {
        reason: error.to_string(),
    })
}

/// The monthly price, in cents, of plan `name`, or `None` when the price
/// list has no such plan.
///
/// `Option` says "there may be none" in the type: the caller cannot use the
/// price without deciding what a missing plan means, which a sentinel such
/// as 0 would let it forget (and 0 is already the free plan's price).
pub fn price_of(plans: &[Plan], name: &str) -> Option<u32> {
    plans
        .iter()
        .find(|plan| plan.name == name)
        .map(|plan| plan.monthly_cents)
}

/// What the customer in `text` pays a month: parse, check the email, find
/// the plan, stopping at the first step that fails.
///
/// Each `?` returns the step's error to the caller at once, so the happy
/// path reads straight down; `ok_or` makes `price_of`'s `None` an error
/// first, so that `?`-style chain can carry it.
pub fn monthly_price(text: &str, plans: &[Plan]) -> Result<u32, SignupError> {
    let customer = parse_customer(text)?;
    check_email(&customer.email)?;
    price_of(plans, &customer.plan).ok_or(SignupError::UnknownPlan {
        plan: customer.plan,
    })
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
///
/// The id comes first, because both other lookups need it. Those two do not
/// need each other, so they are asked together: `tokio::join!` polls both
/// futures on this task until both are done, and the page waits as long as
/// the slower one instead of the two added up. (A future does nothing until
/// it is polled, so creating both and then awaiting them in turn would still
/// be one after the other.)
pub async fn statement_for(
    accounts: &impl Accounts,
    email: &str,
) -> Result<Option<Statement>, ServiceError> {
    let Some(id) = accounts.customer_id(email).await else {
        return Ok(None);
    };
    let (balance, open) = tokio::join!(accounts.balance(id), accounts.open_invoices(id));
    Ok(Some(Statement {
        balance_cents: balance?,
        open_invoices: open?,
    }))
}
