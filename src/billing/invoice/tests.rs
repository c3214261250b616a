//! The rules of invoices and line items, with the seed's invoice as the example.

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

/// A price within the limit times a large quantity, or many such lines,
/// makes an amount no stored invoice may hold: it is refused when the
/// invoice is made, not found unreadable later.
#[test]
fn amounts_past_a_billion_are_refused_when_the_invoice_is_made() {
    let error = LineItem::new("Servers", 2, money("600000000")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "items.total: 1200000000 is more than 1000000000"
    );
    let mut draft = seed_draft();
    draft.items = (0..3)
        .map(|_| LineItem::new("Servers", 1, money("400000000")).unwrap())
        .collect();
    let error = Invoice::new(ObjectId::new(), draft).unwrap_err();
    assert_eq!(
        error.to_string(),
        "subtotal: 1200000000 is more than 1000000000"
    );
    let mut draft = seed_draft();
    draft.items = vec![LineItem::new("Servers", 1, money("1000000000")).unwrap()];
    let error = Invoice::new(ObjectId::new(), draft).unwrap_err();
    assert_eq!(
        error.to_string(),
        "total_amount: 1090000000 is more than 1000000000"
    );
}
