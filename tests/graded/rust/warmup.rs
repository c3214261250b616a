//! Graded tests of the Rust warm-up, shared by `exercises` and `solutions`.
//!
//! No database is needed: the JSON is text written here, and the account
//! services are played by [`FakeAccounts`], which notes when each lookup
//! starts and finishes. That log, not a clock, shows whether two lookups ran
//! at once: each lookup yields a few times waiting for its partner to start,
//! which happens only when both were asked before either was awaited to the
//! end. Calls that could panic are made through `catch_unwind`, so a panic
//! on bad input is reported as the mistake it is.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};

use super::warmup::*;

/// Ada, as the signup form sends her.
const ADA: &str = r#"{"id": 7, "name": "Ada Lovelace", "email": "ada@example.com", "plan": "pro"}"#;

/// A customer without an email.
const NO_EMAIL: &str = r#"{"id": 7, "name": "Ada Lovelace", "plan": "pro"}"#;
/// Every field is needed: a missing plan is no reason to pick one.
const NO_PLAN: &str = r#"{"id": 7, "name": "Ada Lovelace", "email": "ada@example.com"}"#;
/// A signup without its number.
const NO_ID: &str = r#"{"name": "Ada Lovelace", "email": "ada@example.com", "plan": "pro"}"#;
/// A signup without a name: invoices need someone to address.
const NO_NAME: &str = r#"{"id": 7, "email": "ada@example.com", "plan": "pro"}"#;

/// The price list: a free plan (0 cents, a real price), pro and team.
fn plans() -> Vec<Plan> {
    [("free", 0), ("pro", 2900), ("team", 9900)]
        .into_iter()
        .map(|(name, monthly_cents)| Plan {
            name: name.to_owned(),
            monthly_cents,
        })
        .collect()
}

/// Ada's JSON with another email and plan.
fn signup(email: &str, plan: &str) -> String {
    serde_json::json!({"id": 7, "name": "Ada Lovelace", "email": email, "plan": plan}).to_string()
}

/// What `parse_customer` answered for `text`, or the message it panicked
/// with.
fn parse_without_panic(text: &str) -> Result<Result<Customer, SignupError>, String> {
    panic::catch_unwind(AssertUnwindSafe(|| parse_customer(text))).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| {
                payload
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_owned())
            })
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}

#[test]
fn a_customer_is_parsed_from_json_into_the_struct() {
    let text = r#"
        {
            "id": 7,
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "plan": "pro",
            "signed_up": "2024-03-01"
        }"#;
    let parsed = parse_without_panic(text)
        .unwrap_or_else(|message| panic!("parse_customer panicked on a valid customer: {message}"));
    assert_eq!(
        parsed,
        Ok(Customer {
            id: 7,
            name: "Ada Lovelace".to_owned(),
            email: "ada@example.com".to_owned(),
            plan: "pro".to_owned(),
        }),
        "parse_customer reads the JSON object into `Customer`, a field for each of the struct's \
         fields (serde's derive does the work); a field the struct does not name, such as \
         `signed_up`, is skipped"
    );
}

#[test]
fn malformed_json_is_a_typed_error_not_a_panic() {
    let cut_short = &ADA[..40];
    let id_as_text = ADA.replace("7", "\"seven\"");
    let trailing = format!("{ADA} and more");
    for (text, what) in [
        ("", "empty text"),
        ("customer 7, Ada Lovelace", "text that is not JSON"),
        (cut_short, "JSON cut short"),
        (id_as_text.as_str(), "an id that is not a number"),
        (NO_EMAIL, "a customer without an email"),
        (
            NO_PLAN,
            "a customer without a plan (every field is required: a missing plan is Malformed, \
             not a reason to give a default plan with `#[serde(default)]`)",
        ),
        (
            NO_ID,
            "a customer without an id (a missing id is Malformed, not customer 0: with \
             `#[serde(default)]` the signup would act on customer 0's account)",
        ),
        (
            NO_NAME,
            "a customer without a name (a missing name is Malformed, not a customer named \"\": \
             with `#[serde(default)]` the invoices would go out addressed to nobody)",
        ),
        (
            trailing.as_str(),
            "a customer followed by trailing text (`{...} and more` is not JSON: parse the whole \
             text with `serde_json::from_str`, which checks that nothing follows the customer, \
             rather than reading one value from the start of a `serde_json::Deserializer` \
             without calling its `end()`)",
        ),
    ] {
        let answer = parse_without_panic(text).unwrap_or_else(|message| {
            panic!(
                "parse_customer panicked on {what} ({message}): text from outside is often \
                 wrong, and a server that panics on it drops the request; answer \
                 Err(SignupError::Malformed {{ .. }}) instead of calling unwrap or expect"
            )
        });
        assert!(
            matches!(answer, Err(SignupError::Malformed { .. })),
            "for {what}, parse_customer must answer Err(SignupError::Malformed {{ .. }}), and \
             answered {answer:?}"
        );
    }
    let too_large = ADA.replace("7", "4294967303");
    let answer = parse_without_panic(&too_large).unwrap_or_else(|message| {
        panic!(
            "parse_customer panicked on an id of 4294967303, past u32's largest ({message}): \
             answer Err(SignupError::Malformed {{ .. }}) instead, as serde does when it \
             deserializes straight into `Customer`"
        )
    });
    assert!(
        matches!(answer, Err(SignupError::Malformed { .. })),
        "an id of 4294967303 does not fit in `Customer`'s u32 (its largest is 4294967295): \
         parse_customer must answer Err(SignupError::Malformed {{ .. }}), and answered {answer:?}. \
         Deserializing straight into `Customer` lets serde check the range; a number read as a \
         u64 and cast with `as u32` silently wraps, here to 7, another customer's id, and the \
         signup would act on their account"
    );
    let reason = match parse_without_panic(NO_EMAIL) {
        Ok(Err(SignupError::Malformed { reason })) => reason,
        other => panic!("a customer without an email is Malformed, not {other:?}"),
    };
    assert!(
        reason.contains("email"),
        "the reason given for a customer without an email is {reason:?}, which does not say \
         which field is wrong: keep serde_json's explanation (`error.to_string()`, such as \
         \"missing field `email` at line 1 column 48\") so the sender knows what to fix"
    );
}

#[test]
fn a_plan_is_looked_up_as_an_option() {
    let plans = plans();
    assert_eq!(
        price_of(&plans, "pro"),
        Some(2900),
        "the pro plan is on the list at 2900 cents a month, so price_of answers Some(2900)"
    );
    assert_eq!(
        price_of(&plans, "free"),
        Some(0),
        "the free plan is on the list and costs 0 cents: Some(0), a real price"
    );
    assert_eq!(
        price_of(&plans, "gold"),
        None,
        "there is no gold plan, so price_of must answer None: a made-up price such as Some(0) \
         looks exactly like the free plan, while None makes every caller decide what a missing \
         plan means"
    );
    // The list as an operator might keep it: most popular first, in no
    // order a search could rely on.
    let unordered: Vec<Plan> = [("team", 9900), ("free", 0), ("pro", 2900), ("basic", 900)]
        .into_iter()
        .map(|(name, monthly_cents)| Plan {
            name: name.to_owned(),
            monthly_cents,
        })
        .collect();
    for (name, cents) in [("team", 9900), ("free", 0), ("pro", 2900), ("basic", 900)] {
        assert_eq!(
            price_of(&unordered, name),
            Some(cents),
            "the {name} plan is on a list kept in no particular order (team, free, pro, basic), \
             so price_of must find it there: look at each plan in turn \
             (`iter().find(..)`); a binary search needs a list sorted by name, which nobody \
             promised"
        );
    }
}

#[test]
fn the_monthly_price_stops_at_the_first_step_that_fails() {
    let plans = plans();
    assert_eq!(
        monthly_price(ADA, &plans),
        Ok(2900),
        "Ada is on the pro plan, which costs 2900 cents a month"
    );
    let answer = monthly_price(&ADA[..40], &plans);
    assert!(
        matches!(answer, Err(SignupError::Malformed { .. })),
        "JSON cut short fails the first step, parsing: monthly_price must pass parse_customer's \
         error on (with `?`), and answered {answer:?}"
    );
    assert_eq!(
        monthly_price(&signup("ada.example.com", "pro"), &plans),
        Err(SignupError::BadEmail {
            email: "ada.example.com".to_owned()
        }),
        "an email without an @ fails the second step: call check_email on the parsed customer's \
         email and pass its error on with `?`"
    );
    for email in ["ada@", "@example.com", "ada@example@com"] {
        let answer = monthly_price(&signup(email, "pro"), &plans);
        assert_eq!(
            answer,
            Err(SignupError::BadEmail {
                email: email.to_owned()
            }),
            "{email:?} is not an email address: an address needs a name, one @ and a domain, \
             which is what check_email (given in the exercise file) checks, so monthly_price \
             must answer Err(SignupError::BadEmail), and it answered {answer:?}. Invoices sent \
             to an address with nothing before or after its @, or with a second @, never \
             arrive; keep check_email as given and pass its error on with `?`"
        );
    }
    assert_eq!(
        monthly_price(&signup("ada@example.com", "gold"), &plans),
        Err(SignupError::UnknownPlan {
            plan: "gold".to_owned()
        }),
        "there is no gold plan: that is Err(SignupError::UnknownPlan), an answer the caller can \
         show, not a price of 0 (the free plan already costs 0); `ok_or` turns price_of's None \
         into that error"
    );
    assert_eq!(
        monthly_price(&signup("ada.example.com", "gold"), &plans),
        Err(SignupError::BadEmail {
            email: "ada.example.com".to_owned()
        }),
        "with a bad email and an unknown plan, the email is reported: the steps run in order \
         (parse, check the email, find the plan) and the first failure ends the function, as \
         `?` does"
    );
}

/// How many times a lookup yields while it waits for its partner to start.
/// One is enough for `tokio::join!`; a few more leave room for other ways
/// of polling two futures together.
const PATIENCE: usize = 10;

/// The account services, played by the test: one customer,
/// `ada@example.com`, whose id is 7, who owes 1250 cents on 2 unpaid
/// invoices. Any other id has a balance of 0 and no invoices.
#[derive(Default)]
struct FakeAccounts {
    /// `balance 7 started`, `balance 7 finished`, ... in the order they
    /// happened.
    log: RefCell<Vec<String>>,
    /// The lookup that fails, if any.
    failing: Option<&'static str>,
}

impl FakeAccounts {
    fn failing(lookup: &'static str) -> FakeAccounts {
        FakeAccounts {
            failing: Some(lookup),
            ..FakeAccounts::default()
        }
    }

    fn note(&self, entry: String) {
        self.log.borrow_mut().push(entry);
    }

    fn entries(&self) -> Vec<String> {
        self.log.borrow().clone()
    }

    /// Where `entry` is in the log.
    fn position(&self, entry: &str) -> Option<usize> {
        self.log.borrow().iter().position(|noted| noted == entry)
    }

    /// One ledger lookup: notes its start, waits a little for `partner` to
    /// start too, notes its end.
    async fn lookup(&self, name: &'static str, id: u32, partner: &str) -> Result<(), ServiceError> {
        self.note(format!("{name} {id} started"));
        let partner = format!("{partner} {id} started");
        for _ in 0..PATIENCE {
            if self.position(&partner).is_some() {
                break;
            }
            tokio::task::yield_now().await;
        }
        self.note(format!("{name} {id} finished"));
        match self.failing {
            Some(failing) if failing == name => Err(ServiceError {
                service: name.to_owned(),
            }),
            _ => Ok(()),
        }
    }
}

impl Accounts for FakeAccounts {
    async fn customer_id(&self, email: &str) -> Option<u32> {
        self.note(format!("customer_id {email} started"));
        tokio::task::yield_now().await;
        self.note(format!("customer_id {email} finished"));
        (email == "ada@example.com").then_some(7)
    }

    async fn balance(&self, id: u32) -> Result<i64, ServiceError> {
        self.lookup("balance", id, "open_invoices").await?;
        Ok(if id == 7 { -1250 } else { 0 })
    }

    async fn open_invoices(&self, id: u32) -> Result<u32, ServiceError> {
        self.lookup("open_invoices", id, "balance").await?;
        Ok(if id == 7 { 2 } else { 0 })
    }
}

#[tokio::test]
async fn a_statement_asks_for_the_balance_and_the_invoices_at_once() {
    let accounts = FakeAccounts::default();
    let answer = statement_for(&accounts, "ada@example.com").await;
    assert_eq!(
        answer,
        Ok(Some(Statement {
            balance_cents: -1250,
            open_invoices: 2
        })),
        "ada@example.com is customer 7, who owes 1250 cents on 2 unpaid invoices; statement_for \
         asked {:?}",
        accounts.entries()
    );
    let lookups = accounts
        .entries()
        .iter()
        .filter(|entry| *entry == "customer_id ada@example.com started")
        .count();
    assert_eq!(
        lookups, 1,
        "statement_for asked customer_id for ada@example.com {lookups} times: ask once, keep the \
         id in a variable, and use it for both lookups; every extra question is another round \
         trip, and the second answer may differ from the first"
    );
    let at = |entry: &str| accounts.position(entry).unwrap_or(usize::MAX);
    let last_start = at("balance 7 started").max(at("open_invoices 7 started"));
    let first_end = at("balance 7 finished").min(at("open_invoices 7 finished"));
    assert!(
        last_start < first_end,
        "statement_for finished one lookup before it started the other: {:?}. The balance and \
         the unpaid invoices do not depend on each other, so ask for both and wait for both \
         together, with tokio::join!(accounts.balance(id), accounts.open_invoices(id)); awaited \
         one after the other, the page waits for the two added up. (A future does nothing until \
         it is polled: creating both first and then awaiting them in turn is still one after \
         the other.)",
        accounts.entries()
    );
}

#[tokio::test]
async fn an_unknown_email_has_no_statement_and_asks_nothing_else() {
    let accounts = FakeAccounts::default();
    let answer = statement_for(&accounts, "nobody@example.com").await;
    assert_eq!(
        answer,
        Ok(None),
        "no customer has the email nobody@example.com, so there is no statement: Ok(None), not \
         a statement of zeros that a page would show as a real, empty account"
    );
    let asked: Vec<String> = accounts
        .entries()
        .into_iter()
        .filter(|entry| !entry.starts_with("customer_id"))
        .collect();
    assert!(
        asked.is_empty(),
        "customer_id answered None, yet statement_for went on: {asked:?}. Without an id there \
         is nobody to ask about (a made-up id such as 0 asks about someone else); answer \
         Ok(None) at once, for instance with `let Some(id) = ... else {{ return Ok(None) }};`"
    );
}

#[tokio::test]
async fn a_failing_service_fails_the_statement() {
    for service in ["balance", "open_invoices"] {
        let accounts = FakeAccounts::failing(service);
        let answer = statement_for(&accounts, "ada@example.com").await;
        assert_eq!(
            answer,
            Err(ServiceError {
                service: service.to_owned()
            }),
            "when the {service} lookup fails, the statement fails with its error: pass it on \
             with `?` once both answers are in; a statement with a default in its place shows \
             the customer a wrong account"
        );
    }
}
