//! Sales tax: the billing rule that decides an invoice's tax rate from the
//! customer's state. The API applies it to new invoices and the data
//! generator to the ones it makes, so both follow one table.

use super::error::BillingError;
use super::money::TaxRate;

/// Sales tax applied to a customer's invoices, by state, in percent.
pub fn tax_percent(state: &str) -> &'static str {
    match state {
        "NY" => "8.875",
        "CA" => "8.25",
        "IL" => "10.25",
        "TX" => "8.25",
        "AZ" => "8.6",
        "PA" => "6",
        "WA" => "10.25",
        "CO" => "8.81",
        "MA" => "6.25",
        "FL" => "7",
        "GA" => "8.9",
        "OR" | "AK" => "0",
        "MN" => "8.025",
        "MI" => "6",
        "TN" => "9.25",
        "UT" => "7.75",
        "OH" => "7.5",
        "NC" => "7.25",
        "NV" => "8.375",
        "MO" => "9.1",
        _ => "7",
    }
}

/// The tax rate of an invoice for a customer in `state`.
pub fn rate_for_state(state: &str) -> Result<TaxRate, BillingError> {
    TaxRate::from_percent(tax_percent(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_in_the_table_has_a_valid_rate() {
        for state in [
            "NY", "CA", "IL", "TX", "AZ", "PA", "WA", "CO", "MA", "FL", "GA", "OR", "AK", "MN",
            "MI", "TN", "UT", "OH", "NC", "NV", "MO", "ZZ",
        ] {
            assert!(rate_for_state(state).is_ok(), "{state}");
        }
        assert_eq!(tax_percent("OR"), "0", "Oregon has no sales tax");
        assert_eq!(
            tax_percent("ZZ"),
            "7",
            "a state not in the table pays the default"
        );
    }
}
