//! The billing documents as JSON, for the API and the cache.
//!
//! BSON has types JSON lacks: an ObjectId becomes its 24-digit hex text, a
//! date its RFC 3339 text in UTC, an amount its decimal text with two places
//! (`"125.35"`, never a JSON number, which readers would turn into a double).
//! Field names are the documents' own, `_id` included, as the course notes'
//! Flask service returned them.

use bson::DateTime;
use serde::Serialize;

use super::customer::{Address, Customer};
use super::invoice::{Invoice, InvoiceStatus, LineItem};

/// A customer as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema), schema(as = Customer))]
pub struct CustomerJson<'a> {
    /// The id, as hex.
    #[serde(rename = "_id")]
    pub id: String,
    /// Full name.
    pub name: &'a str,
    /// Email.
    pub email: &'a str,
    /// Phone.
    pub phone: &'a str,
    /// Billing address.
    pub address: &'a Address,
    /// Sign-up time, RFC 3339.
    pub created_at: String,
}

impl<'a> CustomerJson<'a> {
    /// The JSON view of `customer`.
    pub fn of(customer: &'a Customer) -> CustomerJson<'a> {
        CustomerJson {
            id: customer.id.to_hex(),
            name: &customer.name,
            email: &customer.email,
            phone: &customer.phone,
            address: &customer.address,
            created_at: rfc3339(customer.created_at),
        }
    }

    /// The view as JSON text.
    pub fn to_json(&self) -> String {
        // Strings and a plain struct: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One invoice line as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema), schema(as = LineItem))]
pub struct LineItemJson<'a> {
    /// What was sold.
    pub description: &'a str,
    /// How many.
    pub quantity: i32,
    /// Price of one.
    pub unit_price: String,
    /// Quantity times price.
    pub total: String,
}

/// An invoice as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "api", derive(utoipa::ToSchema), schema(as = Invoice))]
pub struct InvoiceJson<'a> {
    /// The id, as hex.
    #[serde(rename = "_id")]
    pub id: String,
    /// The customer's id, as hex.
    pub customer_id: String,
    /// Issue time, RFC 3339.
    pub invoice_date: String,
    /// Due time, RFC 3339.
    pub due_date: String,
    /// The lines.
    pub items: Vec<LineItemJson<'a>>,
    /// Sum of the lines.
    pub subtotal: String,
    /// Tax on the subtotal.
    pub tax: String,
    /// What is owed.
    pub total_amount: String,
    /// Where the invoice stands.
    pub status: InvoiceStatus,
}

impl<'a> InvoiceJson<'a> {
    /// The JSON view of `invoice`.
    pub fn of(invoice: &'a Invoice) -> InvoiceJson<'a> {
        InvoiceJson {
            id: invoice.id.to_hex(),
            customer_id: invoice.customer_id.to_hex(),
            invoice_date: rfc3339(invoice.invoice_date),
            due_date: rfc3339(invoice.due_date),
            items: invoice.items.iter().map(line).collect(),
            subtotal: invoice.subtotal.to_string(),
            tax: invoice.tax.to_string(),
            total_amount: invoice.total_amount.to_string(),
            status: invoice.status,
        }
    }
}

fn line(item: &LineItem) -> LineItemJson<'_> {
    LineItemJson {
        description: &item.description,
        quantity: item.quantity,
        unit_price: item.unit_price.to_string(),
        total: item.total.to_string(),
    }
}

/// `date` as RFC 3339 in UTC, with milliseconds only when it has them.
pub fn rfc3339(date: DateTime) -> String {
    date.try_to_rfc3339_string()
        .unwrap_or_else(|_| date.timestamp_millis().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Generator;

    #[test]
    fn ids_dates_and_amounts_become_text() {
        let generator = Generator::new(7, 3);
        let customer = generator.customers()[0].clone();
        let json: serde_json::Value =
            serde_json::from_str(&CustomerJson::of(&customer).to_json()).unwrap();
        assert_eq!(json["_id"], customer.id.to_hex());
        assert_eq!(json["address"]["zip"], customer.address.zip);
        assert!(json["created_at"].as_str().unwrap().ends_with('Z'));

        let invoice = generator.invoice(0);
        let json = serde_json::to_value(InvoiceJson::of(&invoice)).unwrap();
        assert_eq!(json["total_amount"], invoice.total_amount.to_string());
        assert_eq!(
            json["items"][0]["unit_price"],
            invoice.items[0].unit_price.to_string()
        );
        assert_eq!(json["status"], invoice.status.as_str());
        assert_eq!(json["customer_id"], invoice.customer_id.to_hex());
    }
}
