//! Invoices and their line items.

use std::fmt;
use std::str::FromStr;

use bson::DateTime;
use bson::oid::ObjectId;
use serde::{Deserialize, Serialize};

use super::customer::require_text;
use super::error::BillingError;
use super::money::{Money, TaxRate};
use super::valid::{Valid, Validate};

/// The most line items one invoice may have.
pub const MAX_ITEMS: usize = 1000;
/// The largest quantity on one line.
pub const MAX_QUANTITY: i32 = 1_000_000;

/// A line item whose total matches its quantity and price.
pub type LineItem = Valid<LineItemFields>;
/// An invoice whose totals add up; see [`InvoiceFields`].
pub type Invoice = Valid<InvoiceFields>;

/// One line of an invoice: `{ "description": "Web Hosting", "quantity": 2,
/// "unit_price": 50.00, "total": 100.00 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItemFields {
    /// What was sold.
    pub description: String,
    /// How many; at least one.
    pub quantity: i32,
    /// The price of one.
    pub unit_price: Money,
    /// `quantity` times `unit_price`, stored so reports need not recompute it.
    pub total: Money,
}

impl LineItem {
    /// A line for `quantity` of `description` at `unit_price` each; the total
    /// is computed.
    pub fn new(
        description: &str,
        quantity: i32,
        unit_price: Money,
    ) -> Result<LineItem, BillingError> {
        let total = unit_price.times(quantity.max(0).unsigned_abs());
        Valid::check(LineItemFields {
            description: description.to_owned(),
            quantity,
            unit_price,
            total,
        })
    }
}

impl Validate for LineItemFields {
    fn validate(&self) -> Result<(), BillingError> {
        require_text("items.description", &self.description, 200)?;
        if !(1..=MAX_QUANTITY).contains(&self.quantity) {
            return Err(BillingError::invalid(
                "items.quantity",
                format!("must be from 1 to {MAX_QUANTITY}, got {}", self.quantity),
            ));
        }
        let computed = self.unit_price.times(self.quantity.unsigned_abs());
        if computed != self.total {
            return Err(BillingError::Inconsistent {
                field: "items.total",
                stated: self.total.to_string(),
                computed: computed.to_string(),
            });
        }
        Ok(())
    }
}

/// Where an invoice stands. Stored as `"pending"`, `"paid"` or `"overdue"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum InvoiceStatus {
    /// Sent and not yet due.
    Pending,
    /// Settled.
    Paid,
    /// Past its due date and not paid.
    Overdue,
}

impl InvoiceStatus {
    /// Every status, in the order of an invoice's life.
    pub const ALL: [InvoiceStatus; 3] = [
        InvoiceStatus::Pending,
        InvoiceStatus::Paid,
        InvoiceStatus::Overdue,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Pending => "pending",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Overdue => "overdue",
        }
    }
}

impl fmt::Display for InvoiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InvoiceStatus {
    type Err = BillingError;

    fn from_str(text: &str) -> Result<Self, BillingError> {
        InvoiceStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| BillingError::UnknownStatus {
                value: text.to_owned(),
            })
    }
}

/// An invoice document, with the course notes' field names. The customer is
/// *referenced* by id (customers change, and are read on their own), while
/// the items are *embedded* (they are never read without their invoice).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceFields {
    /// The document's `_id`.
    #[serde(rename = "_id")]
    pub id: ObjectId,
    /// The `_id` of the customer billed.
    pub customer_id: ObjectId,
    /// When the invoice was issued.
    pub invoice_date: DateTime,
    /// When payment is due; not before `invoice_date`.
    pub due_date: DateTime,
    /// What was sold; at least one line.
    pub items: Vec<LineItem>,
    /// The sum of the items' totals.
    pub subtotal: Money,
    /// Tax on the subtotal.
    pub tax: Money,
    /// `subtotal` plus `tax`: what the customer owes.
    pub total_amount: Money,
    /// Where the invoice stands.
    pub status: InvoiceStatus,
}

/// What is needed to issue an invoice; the totals are computed from it.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceDraft {
    /// The customer billed.
    pub customer_id: ObjectId,
    /// When it is issued.
    pub invoice_date: DateTime,
    /// When payment is due.
    pub due_date: DateTime,
    /// The lines.
    pub items: Vec<LineItem>,
    /// The tax rate applied to the subtotal.
    pub tax_rate: TaxRate,
    /// Its status.
    pub status: InvoiceStatus,
}

impl Invoice {
    /// Issues an invoice with id `id` from `draft`, computing the subtotal,
    /// the tax (rounded to the cent) and the total.
    pub fn new(id: ObjectId, draft: InvoiceDraft) -> Result<Invoice, BillingError> {
        let subtotal: Money = draft.items.iter().map(|item| item.total).sum();
        let tax = subtotal.share(draft.tax_rate);
        Valid::check(InvoiceFields {
            id,
            customer_id: draft.customer_id,
            invoice_date: draft.invoice_date,
            due_date: draft.due_date,
            items: draft.items,
            subtotal,
            tax,
            total_amount: subtotal + tax,
            status: draft.status,
        })
    }
}

/// 2000-01-01T00:00:00Z in milliseconds: the earliest date an invoice may
/// carry. Billing has no business with year 0, and the monthly reports
/// format four-digit years.
const EARLIEST_DATE_MS: i64 = 946_684_800_000;
/// 2100-01-01T00:00:00Z in milliseconds: the first date too late.
const LATEST_DATE_MS: i64 = 4_102_444_800_000;

impl Validate for InvoiceFields {
    fn validate(&self) -> Result<(), BillingError> {
        if self.items.is_empty() || self.items.len() > MAX_ITEMS {
            return Err(BillingError::invalid(
                "items",
                format!(
                    "an invoice has from 1 to {MAX_ITEMS} items, this one has {}",
                    self.items.len()
                ),
            ));
        }
        for (field, date) in [
            ("invoice_date", self.invoice_date),
            ("due_date", self.due_date),
        ] {
            let millis = date.timestamp_millis();
            if !(EARLIEST_DATE_MS..LATEST_DATE_MS).contains(&millis) {
                return Err(BillingError::invalid(
                    field,
                    "must be from 2000-01-01 to 2099-12-31: a billing date, with a four-digit year",
                ));
            }
        }
        if self.due_date < self.invoice_date {
            return Err(BillingError::invalid(
                "due_date",
                "must not be before invoice_date",
            ));
        }
        let computed: Money = self.items.iter().map(|item| item.total).sum();
        if computed != self.subtotal {
            return Err(BillingError::Inconsistent {
                field: "subtotal",
                stated: self.subtotal.to_string(),
                computed: computed.to_string(),
            });
        }
        if self.subtotal + self.tax != self.total_amount {
            return Err(BillingError::Inconsistent {
                field: "total_amount",
                stated: self.total_amount.to_string(),
                computed: (self.subtotal + self.tax).to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    fn seed_draft() -> InvoiceDraft {
        InvoiceDraft {
            customer_id: ObjectId::parse_str("64a7f2c8e4b0f12d34567890").unwrap(),
            invoice_date: DateTime::parse_rfc3339_str("2024-12-06T10:00:00Z").unwrap(),
            due_date: DateTime::parse_rfc3339_str("2024-12-20T10:00:00Z").unwrap(),
            items: vec![
                LineItem::new("Web Hosting", 2, money("50.00")).unwrap(),
                LineItem::new("Domain Registration", 1, money("15.00")).unwrap(),
            ],
            tax_rate: TaxRate::from_percent("9").unwrap(),
            status: InvoiceStatus::Pending,
        }
    }

    #[test]
    fn the_seeds_invoice_computes_its_totals() {
        let invoice = Invoice::new(ObjectId::new(), seed_draft()).unwrap();
        assert_eq!(invoice.subtotal, money("115.00"));
        assert_eq!(invoice.tax, money("10.35"));
        assert_eq!(invoice.total_amount, money("125.35"));
        assert_eq!(invoice.items[0].total, money("100.00"));
    }

    #[test]
    fn the_seeds_invoice_keeps_its_field_names_and_types() {
        let invoice = Invoice::new(ObjectId::new(), seed_draft()).unwrap();
        let document = bson::serialize_to_document(&invoice).unwrap();
        let keys: Vec<&str> = document.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "_id",
                "customer_id",
                "invoice_date",
                "due_date",
                "items",
                "subtotal",
                "tax",
                "total_amount",
                "status"
            ]
        );
        assert_eq!(document.get_str("status").unwrap(), "pending");
        let item = document.get_array("items").unwrap()[0]
            .as_document()
            .unwrap();
        assert_eq!(item.get_i32("quantity").unwrap(), 2);
        assert_eq!(item.get("unit_price").unwrap().to_string(), "50.00");
        let back: Invoice = bson::deserialize_from_document(document).unwrap();
        assert_eq!(back, invoice);
    }

    #[test]
    fn a_quantity_below_one_is_refused() {
        let error = LineItem::new("Web Hosting", 0, money("50.00")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "items.quantity: must be from 1 to 1000000, got 0"
        );
    }

    #[test]
    fn totals_that_do_not_add_up_are_refused_on_reading() {
        let invoice = Invoice::new(ObjectId::new(), seed_draft()).unwrap();
        let mut document = bson::serialize_to_document(&invoice).unwrap();
        document.insert("total_amount", money("125.36"));
        let error = bson::deserialize_from_document::<Invoice>(document)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("total_amount is 125.36 but its parts add up to 125.35"),
            "{error}"
        );
    }

    #[test]
    fn a_line_total_that_disagrees_with_its_price_is_refused() {
        let fields = LineItemFields {
            description: "Web Hosting".into(),
            quantity: 2,
            unit_price: money("50.00"),
            total: money("90.00"),
        };
        let error = LineItem::check(fields).unwrap_err();
        assert_eq!(
            error.to_string(),
            "items.total is 90.00 but its parts add up to 100.00"
        );
    }

    #[test]
    fn dates_outside_2000_to_2099_are_refused() {
        for (field, text) in [
            ("invoice_date", "0000-01-01T00:00:00Z"),
            ("invoice_date", "1999-12-31T23:59:59Z"),
            ("due_date", "2100-01-01T00:00:00Z"),
        ] {
            let mut draft = seed_draft();
            let date = DateTime::parse_rfc3339_str(text).unwrap();
            if field == "invoice_date" {
                draft.invoice_date = date;
            } else {
                draft.due_date = date;
            }
            let error = Invoice::new(ObjectId::new(), draft).unwrap_err();
            assert!(error.to_string().starts_with(field), "{text}: {error}");
        }
    }

    #[test]
    fn an_invoice_due_before_it_is_issued_is_refused() {
        let mut draft = seed_draft();
        draft.due_date = DateTime::parse_rfc3339_str("2024-12-01T00:00:00Z").unwrap();
        let error = Invoice::new(ObjectId::new(), draft).unwrap_err();
        assert_eq!(
            error.to_string(),
            "due_date: must not be before invoice_date"
        );
    }

    #[test]
    fn an_invoice_without_items_is_refused() {
        let mut draft = seed_draft();
        draft.items.clear();
        assert!(
            Invoice::new(ObjectId::new(), draft)
                .unwrap_err()
                .to_string()
                .starts_with("items:")
        );
    }

    #[test]
    fn statuses_are_the_three_the_notes_name() {
        assert_eq!(
            "overdue".parse::<InvoiceStatus>().unwrap(),
            InvoiceStatus::Overdue
        );
        let error = "late".parse::<InvoiceStatus>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "status \"late\" is not one of \"pending\", \"paid\", \"overdue\""
        );
        let document = bson::doc! { "status": "late" };
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Only {
            status: InvoiceStatus,
        }
        assert!(bson::deserialize_from_document::<Only>(document).is_err());
    }
}
