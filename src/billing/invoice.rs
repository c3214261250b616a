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
        self.total.within_limit("items.total")?;
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
        for (field, amount) in [
            ("subtotal", self.subtotal),
            ("tax", self.tax),
            ("total_amount", self.total_amount),
        ] {
            amount.within_limit(field)?;
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
mod tests;
