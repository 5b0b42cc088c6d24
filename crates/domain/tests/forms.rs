//! Printed forms, periods, time, rounding and ids.

use perfledger_domain::ids::{composite_key, entity_id, normalise_key, EntityKind, Tenant};
use perfledger_domain::indicator::{
    Comparator, Frequency, MoneyUnit, Polarity, ResultValue, Target, Value,
};
use perfledger_domain::parse::*;
use perfledger_domain::period::{FinancialYear, Granularity, Period};
use perfledger_domain::rag::Rag;
use perfledger_domain::rounding::{div_round, percent_tenths, percent_whole};
use perfledger_domain::time::{Date, Timestamp};
use perfledger_domain::{DomainError, Fixed};

fn fx(s: &str) -> Fixed {
    Fixed::parse_decimal(s).unwrap()
}

#[test]
fn amounts() {
    assert_eq!(parse_amount("(4,331)").unwrap(), fx("-4331"));
    assert_eq!(parse_amount("1,909").unwrap(), fx("1909"));
    assert_eq!(parse_amount("-").unwrap(), Fixed::ZERO);
    assert_eq!(parse_amount("−8").unwrap(), fx("-8"));
    assert!(
        matches!(parse_amount("12,34"), Err(DomainError::Invalid { value, .. }) if value == "12,34")
    );
    assert!(parse_amount("(-5)").is_err());
    assert!(parse_amount("abc").is_err());
}

#[test]
fn values() {
    assert_eq!(
        parse_value("£7.3m").unwrap(),
        Value::Money {
            amount: fx("7.3"),
            unit: MoneyUnit::Millions
        }
    );
    assert_eq!(
        parse_value("£2.026m").unwrap(),
        Value::Money {
            amount: fx("2.026"),
            unit: MoneyUnit::Millions
        }
    );
    assert_eq!(
        parse_value("-£7.057m").unwrap(),
        Value::Money {
            amount: fx("-7.057"),
            unit: MoneyUnit::Millions
        }
    );
    assert_eq!(
        parse_value("£320k").unwrap(),
        Value::Money {
            amount: fx("320"),
            unit: MoneyUnit::Thousands
        }
    );
    assert_eq!(parse_value("8.35 days").unwrap(), Value::Days(fx("8.35")));
    assert_eq!(parse_value("86.6%").unwrap(), Value::Percent(fx("86.6")));
    assert_eq!(parse_value("+31%").unwrap(), Value::Percent(fx("31")));
    assert_eq!(parse_value("(12%)").unwrap(), Value::Percent(fx("-12")));
    assert_eq!(
        parse_value("17.5% reduction").unwrap(),
        Value::PercentReduction(fx("17.5"))
    );
    assert_eq!(parse_value("41").unwrap(), Value::Count(fx("41")));
    assert_eq!(
        parse_value("1,385/1,599").unwrap(),
        Value::Fraction {
            numerator: fx("1385"),
            denominator: fx("1599")
        }
    );
    assert!(parse_value("1/0").is_err());
    let e = parse_value("lots").unwrap_err();
    assert!(e.to_string().contains("lots"), "{e}");
}

#[test]
fn results() {
    assert_eq!(
        parse_result("82% (A)").unwrap(),
        ResultValue::Measured {
            value: Value::Percent(fx("82")),
            source_rag: Some(Rag::Amber),
            label: None
        }
    );
    assert_eq!(
        parse_result("37% (Spring 2016)").unwrap(),
        ResultValue::Measured {
            value: Value::Percent(fx("37")),
            source_rag: None,
            label: Some("Spring 2016".try_into().unwrap())
        }
    );
    assert!(matches!(
        parse_result("19.7% (Dec 2015)").unwrap(),
        ResultValue::Measured { label: Some(l), .. } if l.as_str() == "Dec 2015"
    ));
    assert!(matches!(
        parse_result("+31% ^[2] (G)").unwrap(),
        ResultValue::Measured {
            source_rag: Some(Rag::Green),
            ..
        }
    ));
    assert_eq!(
        parse_result("Due Q3 19/20").unwrap(),
        ResultValue::NotYetDue {
            due: Some(Period::parse("2019/20 Q3").unwrap())
        }
    );
    assert!(matches!(
        parse_result("Not available").unwrap(),
        ResultValue::NotAvailable { .. }
    ));
    assert!(matches!(
        parse_result("Q not included in Autumn 2015").unwrap(),
        ResultValue::NotAvailable { .. }
    ));
    assert_eq!(
        parse_result("New (2016/17)").unwrap(),
        ResultValue::New {
            year: Some(FinancialYear(2016))
        }
    );
    assert_eq!(
        parse_result("New for 2016/17").unwrap(),
        ResultValue::New {
            year: Some(FinancialYear(2016))
        }
    );
    assert!(matches!(
        parse_result("(4,331)").unwrap(),
        ResultValue::Measured { value: Value::Count(v), .. } if v == fx("-4331")
    ));
    assert!(parse_result("soon-ish").is_err());
}

#[test]
fn targets() {
    assert_eq!(
        parse_target("<£1m").unwrap(),
        Target::Numeric {
            comparator: Comparator::LessThan,
            value: Value::Money {
                amount: fx("1"),
                unit: MoneyUnit::Millions
            },
            note: None
        }
    );
    assert!(matches!(
        parse_target(">85%").unwrap(),
        Target::Numeric { comparator: Comparator::GreaterThan, value: Value::Percent(v), .. } if v == fx("85")
    ));
    assert!(matches!(
        parse_target("0").unwrap(),
        Target::Numeric { comparator: Comparator::Plain, value: Value::Count(v), .. } if v == Fixed::ZERO
    ));
    assert!(matches!(
        parse_target("6 days").unwrap(),
        Target::Numeric {
            value: Value::Days(_),
            ..
        }
    ));
    assert_eq!(parse_target("Monitor").unwrap(), Target::Monitor);
    assert_eq!(parse_target("TBC").unwrap(), Target::Tbc);
    assert_eq!(parse_target("Increase").unwrap(), Target::Increase);
    assert_eq!(parse_target("decrease").unwrap(), Target::Decrease);
    assert_eq!(
        parse_target("Remain at or above 85%").unwrap(),
        Target::RemainAtOrAbove(Value::Percent(fx("85")))
    );
    assert_eq!(
        parse_target("20% reduction").unwrap(),
        Target::Reduction(fx("20"))
    );
    assert_eq!(
        parse_target("New for 2020/21").unwrap(),
        Target::NewFor(FinancialYear(2020))
    );
    assert_eq!(parse_target("N/A").unwrap(), Target::NotApplicable);
    assert!(matches!(
        parse_target("68% (Spring 2016)").unwrap(),
        Target::Numeric { note: Some(n), .. } if n.as_str() == "Spring 2016"
    ));
    assert!(matches!(
        parse_target("80% above average").unwrap(),
        Target::Numeric { note: Some(n), value: Value::Percent(_), .. } if n.as_str() == "above average"
    ));
    assert!(matches!(
        parse_target("-£4.2m").unwrap(),
        Target::Numeric {
            value: Value::Money { .. },
            ..
        }
    ));
    let e = parse_target("whenever").unwrap_err();
    assert!(e.to_string().contains("whenever"));
}

#[test]
fn polarity_frequency_type() {
    assert_eq!(
        parse_polarity("Bigger is Better").unwrap(),
        Polarity::BiggerIsBetter
    );
    assert_eq!(
        parse_polarity("Bigger is better").unwrap(),
        Polarity::BiggerIsBetter
    );
    assert_eq!(
        parse_polarity("smaller  is BETTER").unwrap(),
        Polarity::SmallerIsBetter
    );
    assert!(parse_polarity("up").is_err());
    assert_eq!(parse_frequency("(q)").unwrap(), Frequency::Quarterly);
    assert_eq!(parse_frequency("(r)").unwrap(), Frequency::Rolling12Months);
    assert_eq!(
        parse_frequency("RPS – Biannual").unwrap(),
        Frequency::BiannualSurvey
    );
    assert_eq!(parse_frequency("Annual").unwrap(), Frequency::Annual);
    assert!(parse_indicator_type("cpi").is_ok());
}

#[test]
fn benchmark() {
    let b = parse_benchmark("London 41% (Autumn 2014, RPS)").unwrap();
    assert_eq!(b.group.as_str(), "London");
    assert_eq!(b.value, Value::Percent(fx("41")));
    assert_eq!(b.source.unwrap().as_str(), "RPS");
    assert_eq!(b.as_of.unwrap().as_str(), "Autumn 2014");
}

#[test]
fn periods() {
    let q1 = Period::parse("2016/17 Q1").unwrap();
    assert_eq!(Period::parse("Q1 2016/17").unwrap(), q1);
    assert_eq!(Period::parse("Q1 16/17").unwrap(), q1);
    assert_eq!(q1.to_string(), "2016/17 Q1");
    assert_eq!(
        Period::parse("2021-22").unwrap(),
        Period::Year(FinancialYear(2021))
    );
    assert_eq!(
        Period::parse("2021/22").unwrap(),
        Period::Year(FinancialYear(2021))
    );
    assert_eq!(Period::parse("Dec 2015").unwrap(), Period::Month(2015, 12));
    assert_eq!(
        Period::parse("December 2015").unwrap().to_string(),
        "Dec 2015"
    );
    assert_eq!(Period::parse("Sept 2015").unwrap(), Period::Month(2015, 9));
    assert_eq!(
        Period::parse("1999/00").unwrap(),
        Period::Year(FinancialYear(1999))
    );
    assert!(Period::parse("2016/18").is_err());
    assert!(Period::parse("Q5 2016/17").is_err());
    assert!(Period::parse("").is_err());
    assert_eq!(q1.previous().unwrap().to_string(), "2015/16 Q4");
    assert_eq!(
        q1.same_period_last_year().unwrap().to_string(),
        "2015/16 Q1"
    );
    assert_eq!(
        Period::Month(2016, 1).previous().unwrap(),
        Period::Month(2015, 12)
    );
    let d = Date::new(2016, 3, 31).unwrap();
    assert_eq!(
        Period::containing(d, Granularity::Quarter).to_string(),
        "2015/16 Q4"
    );
    assert_eq!(
        Period::containing(d, Granularity::Year).to_string(),
        "2015/16"
    );
    let d = Date::new(2016, 4, 1).unwrap();
    assert_eq!(Period::containing(d, Granularity::Quarter), q1);
    assert_eq!(
        Period::containing(d, Granularity::Half).to_string(),
        "2016/17 H1"
    );
    assert!(q1.fits(Frequency::Quarterly));
    assert!(!q1.fits(Frequency::Annual));
    assert!(Period::Year(FinancialYear(2016)).fits(Frequency::Annual));
    assert!(q1.fits(Frequency::BiannualSurvey));
    assert!(Period::Month(2015, 12).fits(Frequency::Rolling12Months));
    assert!(!Period::Month(2015, 12).fits(Frequency::Quarterly));
    assert!(Period::Year(FinancialYear(2016)).contains(q1));
    assert!(Period::Year(FinancialYear(2016)).contains(Period::Month(2017, 3)));
    assert!(!Period::Year(FinancialYear(2016)).contains(Period::Month(2016, 3)));
    assert_eq!(q1.start_date().unwrap().to_string(), "2016-04-01");
    assert_eq!(q1.end_date().unwrap().to_string(), "2016-06-30");
}

#[test]
fn timestamps() {
    let a = Timestamp::parse("2016-09-06T00:00Z").unwrap();
    let b = Timestamp::parse("2016-09-06T00:00:00Z").unwrap();
    let c = Timestamp::parse("2016-09-06").unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.0, 1_473_120_000_000);
    assert_eq!(a.to_string(), "2016-09-06T00:00:00Z");
    let t = Timestamp::parse("2020-02-29T23:59:59.123Z").unwrap();
    assert_eq!(t.to_string(), "2020-02-29T23:59:59.123Z");
    assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
    assert!(Timestamp::parse("2019-02-29").is_err());
    assert!(Timestamp::parse("2016-09-06T24:00Z").is_err());
    assert!(Timestamp::parse("2016-09-06T00:00+01:00").is_err());
    assert!(Timestamp::parse("é016-09-06").is_err());
    for days in [-25_567i64, -1, 0, 1, 365, 11_016, 2_932_896] {
        let d = Date::from_days_since_epoch(days).unwrap();
        assert_eq!(d.days_since_epoch(), days);
    }
}

#[test]
fn rounding_rule() {
    assert_eq!(div_round(5, 2), Some(3));
    assert_eq!(div_round(-5, 2), Some(-3));
    assert_eq!(div_round(7, 2), Some(4));
    assert_eq!(div_round(1, 3), Some(0));
    assert_eq!(div_round(1, 0), None);
    assert_eq!(percent_tenths(-491, 969), Some(-507));
    assert_eq!(percent_whole(13, 26), Some(50));
    assert_eq!(percent_whole(1, 8), Some(13)); // 12.5 → 13 (half away from zero)
    assert_eq!(percent_whole(-1, 8), Some(-13));
    assert_eq!(fx("-491").to_string(), "-491");
    assert_eq!(fx("0.0001").to_string(), "0.0001");
    assert_eq!(fx("86.60").to_string(), "86.6");
}

#[test]
fn ids_are_deterministic_and_normalised() {
    let t = Tenant::new("barnet").unwrap();
    let a = entity_id(&t, EntityKind::Indicator, "CG/S24");
    let b = entity_id(&t, EntityKind::Indicator, "  cg/s24 ");
    assert_eq!(a, b);
    assert_eq!(a.get_version_num(), 5);
    assert_ne!(a, entity_id(&t, EntityKind::Risk, "CG/S24"));
    assert_ne!(
        a,
        entity_id(
            &Tenant::new("camden").unwrap(),
            EntityKind::Indicator,
            "CG/S24"
        )
    );
    assert_eq!(
        normalise_key("Income  from\tthe estate"),
        "income from the estate"
    );
    assert_ne!(composite_key(&["a b", "c"]), composite_key(&["a", "b c"]));
    assert!(Tenant::new("Barnet").is_err());
    assert!(Tenant::new("").is_err());
    assert!(Tenant::new(&"a".repeat(33)).is_err());
    assert_eq!(EntityKind::RevenueLine.token(), "revenue_line");
    for k in EntityKind::ALL {
        assert_eq!(EntityKind::from_token(k.token()).unwrap(), k);
    }
}

/// Issue #14 item 11: the printed forms are exact.
#[test]
fn amounts_and_periods_refuse_near_misses() {
    for bad in [
        "+3", ".5", " 7 ", " 7", "7 ", "5.", "(+3)", "(.5)", "-.5", "1 000",
    ] {
        assert!(
            matches!(parse_amount(bad), Err(DomainError::Invalid { field: "amount", ref value, .. }) if value == bad),
            "{bad:?} must be refused: {:?}",
            parse_amount(bad)
        );
    }
    assert_eq!(parse_amount("0.5").unwrap(), fx("0.5"));
    assert_eq!(parse_amount("-22").unwrap(), fx("-22"));
    assert_eq!(parse_amount("(4,331)").unwrap(), fx("-4331"));
    for bad in ["2016/17  Q1", "Q1  2016/17", "2016/17\tQ1", "Dec  2015"] {
        assert!(Period::parse(bad).is_err(), "{bad:?} must be refused");
    }
    assert!(Period::parse("2016/17 Q1").is_ok());
}
