//! Embedded or referenced: an invoice keeps its line items inside it and
//! points at its customer by id.
//!
//! Scenario: the billing service writes invoices for existing customers
//! (collection `customers`) into the collection `invoices`. Line items are
//! only ever read with their invoice, so they are embedded; customers live on
//! their own and change (a new email) without touching their invoices, so
//! they are referenced by `customer_id`.

use lab::billing::Money;
use lab::bson::oid::ObjectId;
use lab::bson::{Bson, Document, doc};
use lab::mongodb::Database;
use lab::mongodb::error::{Error, Result};

/// One line of an invoice to write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line<'a> {
    /// What was sold.
    pub description: &'a str,
    /// How many (at least 1).
    pub quantity: u32,
    /// The price of one.
    pub unit_price: Money,
}

/// Writes an invoice for `customer` and returns its new id. The document is
/// `{_id, customer_id, items: [{description, quantity, unit_price, total}],
/// total_amount}`: items embedded, with `total = quantity * unit_price`;
/// the customer referenced by id only (none of their fields copied);
/// `total_amount` the sum of the item totals. Amounts are stored as
/// Decimal128 (`Bson::from(money)`), quantities as 32-bit integers: a
/// quantity too large for one is refused with an error, and nothing is
/// stored. So is an amount past the billing model's limit of a billion
/// (a line total or the invoice's total; [`Money::within_limit`] checks
/// one), which the lab could not read back.
pub async fn save_invoice(
    db: &Database,
    customer: ObjectId,
    lines: &[Line<'_>],
) -> Result<ObjectId> {
    let id = ObjectId::new();
    let mut items = Vec::with_capacity(lines.len());
    let mut total_amount = Money::ZERO;
    for line in lines {
        let total = line
            .unit_price
            .times(line.quantity)
            .within_limit("total")
            .map_err(Error::custom)?;
        total_amount = (total_amount + total)
            .within_limit("total_amount")
            .map_err(Error::custom)?;
        items.push(doc! {
            "description": line.description,
            "quantity": i32::try_from(line.quantity).map_err(Error::custom)?,
            "unit_price": Bson::from(line.unit_price),
            "total": Bson::from(total),
        });
    }
    let invoice = doc! {
        "_id": id,
        "customer_id": customer,
        "items": items,
        "total_amount": Bson::from(total_amount),
    };
    db.collection::<Document>("invoices")
        .insert_one(invoice)
        .await?;
    Ok(id)
}

/// The invoice and its customer, read with two queries (the invoice, then
/// the customer its `customer_id` names); `None` if either is missing.
/// Both come back whole, as stored.
pub async fn invoice_with_customer(
    db: &Database,
    invoice: ObjectId,
) -> Result<Option<(Document, Document)>> {
    let Some(found) = db
        .collection::<Document>("invoices")
        .find_one(doc! { "_id": invoice })
        .await?
    else {
        return Ok(None);
    };
    let Ok(customer_id) = found.get_object_id("customer_id") else {
        return Ok(None);
    };
    let customer = db
        .collection::<Document>("customers")
        .find_one(doc! { "_id": customer_id })
        .await?;
    Ok(customer.map(|customer| (found, customer)))
}

/// Changes a customer's email: one update of one document, whatever the
/// number of their invoices. `true` if the customer exists.
pub async fn change_email(db: &Database, customer: ObjectId, email: &str) -> Result<bool> {
    let result = db
        .collection::<Document>("customers")
        .update_one(
            doc! { "_id": customer },
            doc! { "$set": { "email": email } },
        )
        .await?;
    Ok(result.matched_count == 1)
}
