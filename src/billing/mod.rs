//! The billing model of the course notes: customers, and invoices with line
//! items, with exact money and checked invariants.

pub mod collections;
pub mod customer;
pub mod deletions;
pub mod error;
pub mod invoice;
pub mod json;
pub mod money;
pub mod tax;
pub mod valid;

pub use customer::{Address, Customer, CustomerFields};
pub use error::BillingError;
pub use invoice::{Invoice, InvoiceDraft, InvoiceFields, InvoiceStatus, LineItem, LineItemFields};
pub use money::{Money, TaxRate, Total};
pub use valid::{Valid, Validate};
