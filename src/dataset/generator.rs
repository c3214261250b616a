//! Turning a seed into customers and invoices.
//!
//! Every document is a pure function of the seed and its position, ids
//! included: the same seed gives the same data set on every machine, so
//! snapshots of query results stay stable.

use bson::DateTime;
use bson::oid::ObjectId;

use super::catalogue::{self, CITIES, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES, PRODUCTS};
use super::rng::Rng;
use crate::billing::{
    Address, Customer, CustomerFields, Invoice, InvoiceDraft, InvoiceStatus, LineItem, Money,
};

/// The seed used when none is given.
pub const DEFAULT_SEED: u64 = 2024;

/// The first day invoices can carry: 2024-01-01T00:00:00Z, in milliseconds.
pub const START_MILLIS: i64 = 1_704_067_200_000;
/// The data set's "today", 2026-01-01T00:00:00Z: invoices are issued before
/// it, and statuses are as they stand on it (due after it: pending or paid
/// early; due before it: paid, or overdue).
pub const AS_OF_MILLIS: i64 = 1_767_225_600_000;

const DAY_MILLIS: i64 = 86_400_000;
const CUSTOMER_STREAM: u64 = 1;
const INVOICE_STREAM: u64 = 2;
/// The byte after the timestamp in generated ObjectIds: 'C' for customers, 'I' for invoices.
const CUSTOMER_TAG: u8 = b'C';
const INVOICE_TAG: u8 = b'I';

/// Generates the documents of one data set.
#[derive(Debug, Clone)]
pub struct Generator {
    seed: u64,
    customers: Vec<Customer>,
    /// The catalogue's prices, parsed once.
    prices: Vec<Money>,
}

impl Generator {
    /// A generator for `customers` customers under `seed`. The customers are
    /// made up front (invoices need their sign-up dates and states);
    /// invoices are made on demand, in any order.
    pub fn new(seed: u64, customers: usize) -> Generator {
        let customers = (0..customers)
            .map(|index| make_customer(seed, index))
            .collect();
        let prices = PRODUCTS
            .iter()
            .map(|product| product.price.parse().expect("catalogue prices are valid"))
            .collect();
        Generator {
            seed,
            customers,
            prices,
        }
    }

    /// The customers, in order.
    pub fn customers(&self) -> &[Customer] {
        &self.customers
    }

    /// Invoice number `index` (from 0). Needs at least one customer.
    pub fn invoice(&self, index: usize) -> Invoice {
        let mut rng = Rng::for_item(self.seed, INVOICE_STREAM, index as u64);
        // Squaring a uniform number favours the first customers: a few
        // customers get many invoices, most get a handful, as in real billing.
        let unit = rng.unit();
        let pick = ((unit * unit) * self.customers.len() as f64) as usize;
        let customer = &self.customers[pick.min(self.customers.len() - 1)];

        // From the day after the customer signed up to the day before "today".
        let first_day = customer.created_at.timestamp_millis() / DAY_MILLIS + 1;
        let day_span = (AS_OF_MILLIS / DAY_MILLIS - first_day).max(1);
        let day = first_day + rng.between(0, day_span - 1);
        let invoice_millis = day * DAY_MILLIS + business_hours_offset(&mut rng);
        let terms_days = if rng.chance(75) { 14 } else { 30 };
        let due_millis = invoice_millis + terms_days * DAY_MILLIS;

        let status = if due_millis > AS_OF_MILLIS {
            if rng.chance(20) {
                InvoiceStatus::Paid
            } else {
                InvoiceStatus::Pending
            }
        } else if rng.chance(88) {
            InvoiceStatus::Paid
        } else {
            InvoiceStatus::Overdue
        };

        let draft = InvoiceDraft {
            customer_id: customer.id,
            invoice_date: DateTime::from_millis(invoice_millis),
            due_date: DateTime::from_millis(due_millis),
            items: self.line_items(&mut rng),
            tax_rate: crate::billing::tax::rate_for_state(&customer.address.state)
                .expect("the tax table's rates are valid percentages"),
            status,
        };
        let id = object_id(invoice_millis, INVOICE_TAG, self.seed, index);
        Invoice::new(id, draft).expect("generated invoices satisfy the billing rules")
    }

    /// One to five distinct products, fewer lines being more common.
    fn line_items(&self, rng: &mut Rng) -> Vec<LineItem> {
        let count = match rng.below(10) {
            0..=3 => 1,
            4..=6 => 2,
            7 | 8 => 3,
            _ => 4 + rng.below(2) as usize,
        };
        let mut chosen: Vec<usize> = Vec::with_capacity(count);
        while chosen.len() < count {
            let candidate = rng.below(PRODUCTS.len() as u64) as usize;
            if !chosen.contains(&candidate) {
                chosen.push(candidate);
            }
        }
        chosen
            .into_iter()
            .map(|index| {
                let product = &PRODUCTS[index];
                let quantity = rng.between(1, product.max_quantity) as i32;
                LineItem::new(product.description, quantity, self.prices[index])
                    .expect("catalogue quantities are valid")
            })
            .collect()
    }
}

fn make_customer(seed: u64, index: usize) -> Customer {
    let mut rng = Rng::for_item(seed, CUSTOMER_STREAM, index as u64);
    let first = rng.pick(FIRST_NAMES);
    let last = rng.pick(LAST_NAMES);
    let city = rng.pick(CITIES);
    // Sign-ups spread over the two years, leaving everyone a month to be invoiced.
    let span_days = (AS_OF_MILLIS - START_MILLIS) / DAY_MILLIS - 30;
    let created_millis =
        START_MILLIS + rng.between(0, span_days - 1) * DAY_MILLIS + business_hours_offset(&mut rng);
    let fields = CustomerFields {
        id: object_id(created_millis, CUSTOMER_TAG, seed, index),
        name: format!("{first} {last}"),
        // The index makes every address unique, as the unique index requires.
        email: format!(
            "{}.{}{}@{}",
            first.to_lowercase(),
            last.to_lowercase(),
            index + 1,
            rng.pick(EMAIL_DOMAINS)
        ),
        phone: format!("{}-555-01{:02}", city.area_code, rng.below(100)),
        address: Address {
            street: format!(
                "{} {} {}",
                rng.between(1, 9999),
                rng.pick(catalogue::STREETS),
                rng.pick(catalogue::STREET_SUFFIXES)
            ),
            city: city.name.to_owned(),
            state: city.state.to_owned(),
            zip: format!("{}{:02}", city.zip_prefix, rng.below(100)),
        },
        created_at: DateTime::from_millis(created_millis),
    };
    Customer::check(fields).expect("generated customers satisfy the billing rules")
}

/// A time between 08:00 and 18:00 UTC, to the minute.
fn business_hours_offset(rng: &mut Rng) -> i64 {
    (8 * 60 + rng.between(0, 10 * 60 - 1)) * 60_000
}

/// A deterministic ObjectId: the document's own date as the timestamp (so
/// `_id.getTimestamp()` means something), a kind tag, three bytes of the
/// seed, and the index. Unique per kind and index within one seed.
fn object_id(millis: i64, tag: u8, seed: u64, index: usize) -> ObjectId {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&((millis / 1000) as u32).to_be_bytes());
    bytes[4] = tag;
    bytes[5..8].copy_from_slice(&Rng::new(seed).next_u64().to_be_bytes()[..3]);
    bytes[8..].copy_from_slice(&(index as u32).to_be_bytes());
    ObjectId::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_same_seed_gives_the_same_documents() {
        let a = Generator::new(7, 50);
        let b = Generator::new(7, 50);
        assert_eq!(a.customers(), b.customers());
        for index in [0, 1, 999, 123_456] {
            assert_eq!(a.invoice(index), b.invoice(index));
        }
    }

    #[test]
    fn another_seed_gives_other_documents() {
        let a = Generator::new(7, 50);
        let b = Generator::new(8, 50);
        assert_ne!(a.customers()[0], b.customers()[0]);
        assert_ne!(a.invoice(0).id, b.invoice(0).id);
    }

    #[test]
    fn ids_and_emails_are_unique() {
        let generator = Generator::new(DEFAULT_SEED, 500);
        let emails: HashSet<&str> = generator
            .customers()
            .iter()
            .map(|c| c.email.as_str())
            .collect();
        assert_eq!(emails.len(), 500);
        let ids: HashSet<ObjectId> = (0..5_000).map(|i| generator.invoice(i).id).collect();
        assert_eq!(ids.len(), 5_000);
    }

    #[test]
    fn invoices_follow_their_customer_and_the_calendar() {
        let generator = Generator::new(DEFAULT_SEED, 100);
        let by_id: std::collections::HashMap<ObjectId, &Customer> =
            generator.customers().iter().map(|c| (c.id, c)).collect();
        for index in 0..2_000 {
            let invoice = generator.invoice(index);
            let customer = by_id[&invoice.customer_id];
            assert!(invoice.invoice_date >= customer.created_at);
            assert!(invoice.invoice_date.timestamp_millis() < AS_OF_MILLIS);
            let due = invoice.due_date.timestamp_millis();
            match invoice.status {
                InvoiceStatus::Overdue => assert!(due <= AS_OF_MILLIS),
                InvoiceStatus::Pending => assert!(due > AS_OF_MILLIS),
                InvoiceStatus::Paid => {}
            }
        }
    }

    #[test]
    fn the_data_set_is_varied() {
        let generator = Generator::new(DEFAULT_SEED, 1_000);
        let states: HashSet<&str> = generator
            .customers()
            .iter()
            .map(|c| c.address.state.as_str())
            .collect();
        assert!(states.len() > 15, "{states:?}");
        let invoices: Vec<Invoice> = (0..3_000).map(|i| generator.invoice(i)).collect();
        let statuses: HashSet<InvoiceStatus> = invoices.iter().map(|i| i.status).collect();
        assert_eq!(statuses.len(), 3);
        let products: HashSet<&str> = invoices
            .iter()
            .flat_map(|i| i.items.iter().map(|item| item.description.as_str()))
            .collect();
        assert_eq!(products.len(), PRODUCTS.len());
        let years: HashSet<i32> = invoices
            .iter()
            .map(|i| {
                i.invoice_date.try_to_rfc3339_string().unwrap()[..4]
                    .parse()
                    .unwrap()
            })
            .collect();
        assert_eq!(years, HashSet::from([2024, 2025]));
    }

    #[test]
    fn generated_ids_carry_the_documents_date() {
        let generator = Generator::new(DEFAULT_SEED, 10);
        let customer = &generator.customers()[3];
        assert_eq!(
            customer.id.timestamp().timestamp_millis(),
            customer.created_at.timestamp_millis() / 1000 * 1000
        );
    }
}
