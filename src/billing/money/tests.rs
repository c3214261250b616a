//! Tests of `money`.

use super::*;

#[test]
fn totals_add_past_the_largest_single_amount_and_read_what_sum_returns() {
    let big = money("1000000000");
    let total: Total = [big, big, money("0.05")].into_iter().sum();
    assert_eq!(total.to_string(), "2000000000.05");
    let stored = Bson::Decimal128(big.to_decimal128());
    assert_eq!(Total::from_bson(&stored).unwrap(), Total::from(big));
    assert_eq!(
        Total::from_bson(&Bson::Int32(0)).unwrap().to_string(),
        "0.00"
    );
    assert!(Total::from_bson(&Bson::Boolean(true)).is_err());
    let json = serde_json::to_string(&total).unwrap();
    assert_eq!(json, "\"2000000000.05\"");
}

fn money(text: &str) -> Money {
    text.parse().unwrap()
}

#[test]
fn tenths_add_up_exactly_unlike_doubles() {
    assert_ne!(0.1_f64 + 0.2_f64, 0.3_f64);
    assert_eq!(money("0.1") + money("0.2"), money("0.30"));
    assert_eq!((money("0.1") + money("0.2")).to_string(), "0.30");
}

#[test]
fn amounts_always_show_two_decimal_places() {
    assert_eq!(money("50").to_string(), "50.00");
    assert_eq!(money("0.5").to_string(), "0.50");
    assert_eq!(Money::from_cents(12535).unwrap().to_string(), "125.35");
    assert_eq!(Money::ZERO.to_string(), "0.00");
}

#[test]
fn fractions_of_a_cent_negative_and_huge_amounts_are_refused() {
    for bad in [
        "1.005",
        "-3",
        "abc",
        "",
        "1000000000.01",
        "1e3",
        "+5",
        ".5",
        "5.",
        "1.000000000000000000000000000001",
        "1_000",
    ] {
        assert!(bad.parse::<Money>().is_err(), "{bad} should be refused");
    }
    let error = "1.005".parse::<Money>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "amount: 1.005 has more than two decimal places"
    );
}

#[test]
fn the_seeds_invoice_is_reproduced_to_the_cent() {
    let rate = TaxRate::from_percent("9").unwrap();
    let subtotal = money("50.00").times(2) + money("15.00").times(1);
    assert_eq!(subtotal, money("115.00"));
    assert_eq!(subtotal.share(rate), money("10.35"));
}

#[test]
fn tax_rounds_half_cents_away_from_zero() {
    let rate = TaxRate::from_percent("5").unwrap();
    assert_eq!(money("0.10").share(rate), money("0.01")); // 0.005 -> 0.01
    assert_eq!(money("0.30").share(rate), money("0.02")); // 0.015 -> 0.02
}

#[test]
fn decimal128_encoding_agrees_with_the_bson_crate() {
    for text in [
        "0.00",
        "125.35",
        "0.01",
        "999999999.99",
        "50.00",
        "1000000000.00",
    ] {
        let ours = money(text).to_decimal128();
        let theirs: Decimal128 = text.parse().unwrap();
        assert_eq!(ours.bytes(), theirs.bytes(), "{text}");
        assert_eq!(Money::from_decimal128(theirs).unwrap(), money(text));
    }
}

#[test]
fn decimal128_values_with_other_exponents_are_read() {
    for (stored, expected) in [("1.5E+3", "1500.00"), ("12.5000", "12.50"), ("7", "7.00")] {
        let value: Decimal128 = stored.parse().unwrap();
        assert_eq!(
            Money::from_decimal128(value).unwrap(),
            money(expected),
            "{stored}"
        );
    }
    let not_a_number: Decimal128 = "NaN".parse().unwrap();
    assert!(Money::from_decimal128(not_a_number).is_err());
}

#[test]
fn numbers_other_drivers_store_are_accepted_when_exact() {
    assert_eq!(
        Money::from_bson(&Bson::Double(50.0)).unwrap(),
        money("50.00")
    );
    assert_eq!(
        Money::from_bson(&Bson::Double(10.35)).unwrap(),
        money("10.35")
    );
    assert_eq!(Money::from_bson(&Bson::Int32(15)).unwrap(), money("15.00"));
    assert!(Money::from_bson(&Bson::Double(0.1 + 0.2)).is_err());
    assert!(Money::from_bson(&Bson::Boolean(true)).is_err());
}

#[test]
fn money_round_trips_through_bson_as_decimal128() {
    let document = bson::doc! { "total": money("125.35") };
    assert!(matches!(document.get("total"), Some(Bson::Decimal128(_))));
    let back: Money = bson::deserialize_from_bson(document.get("total").unwrap().clone()).unwrap();
    assert_eq!(back, money("125.35"));
}

#[test]
fn a_tax_rate_outside_zero_to_a_hundred_percent_is_refused() {
    assert!(TaxRate::from_percent("101").is_err());
    assert!(TaxRate::from_percent("-1").is_err());
    assert_eq!(
        TaxRate::from_percent("8.875").unwrap().fraction(),
        Decimal::from_str("0.08875").unwrap()
    );
}
