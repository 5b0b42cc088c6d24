//! RAG schemes as versioned data, direction of travel, budget and savings rules.

use std::collections::BTreeMap;

use perfledger_domain::direction::{direction, long_term_period, short_term_period, Direction};
use perfledger_domain::indicator::{ComparisonBasis, Polarity, ResultValue};
use perfledger_domain::parse::{parse_result, parse_target, parse_value};
use perfledger_domain::period::{FinancialYear, Period};
use perfledger_domain::rag::{rate, scheme_in_force, Rag, ToleranceScheme};
use perfledger_domain::saving::achieved_percent_1dp;
use perfledger_domain::Fixed;

const BIG: Polarity = Polarity::BiggerIsBetter;
const SMALL: Polarity = Polarity::SmallerIsBetter;

fn r(s: &str) -> ResultValue {
    parse_result(s).unwrap()
}

fn rated(
    scheme: &ToleranceScheme,
    pol: Polarity,
    target: &str,
    result: &str,
    prev: Option<&str>,
) -> Option<Rag> {
    let prev = prev.map(|p| parse_value(p).unwrap());
    rate(
        scheme,
        pol,
        &parse_target(target).unwrap(),
        &r(result),
        prev.as_ref(),
    )
}

#[test]
fn three_level_scheme_green_amber_red() {
    let s = ToleranceScheme::three_level_10pc();
    assert_eq!(rated(&s, BIG, "90%", "90%", None), Some(Rag::Green));
    assert_eq!(rated(&s, BIG, "90%", "81.1%", None), Some(Rag::Amber)); // 9.9% off
    assert_eq!(rated(&s, BIG, "90%", "81%", None), Some(Rag::Red)); // 10% off
    assert_eq!(
        rated(&s, SMALL, "6 days", "8.35 days", None),
        Some(Rag::Red)
    );
    assert_eq!(rated(&s, SMALL, "<£1m", "£4.206m", None), Some(Rag::Red));
    assert_eq!(rated(&s, SMALL, "<£1m", "£0.9m", None), Some(Rag::Green));
    assert_eq!(rated(&s, SMALL, "<£1m", "£1m", None), Some(Rag::Amber)); // strictly less: missed, by 0%
    assert_eq!(
        rated(
            &s,
            BIG,
            "Remain at or above 85%",
            "85.0% (Spring 2016)",
            None
        ),
        Some(Rag::Green)
    );
    assert_eq!(
        rated(&s, BIG, "20% reduction", "17.5% reduction", None),
        Some(Rag::Red)
    );
    // a zero target: any miss is maximal
    assert_eq!(rated(&s, SMALL, "0", "41", None), Some(Rag::Red));
    assert_eq!(rated(&s, SMALL, "0", "0", None), Some(Rag::Green));
}

#[test]
fn unrated_forms_and_source_rag() {
    let s = ToleranceScheme::three_level_10pc();
    for t in ["Monitor", "TBC", "New for 2020/21", "N/A"] {
        assert_eq!(rated(&s, BIG, t, "47%", None), None, "{t}");
    }
    assert_eq!(rated(&s, BIG, "90%", "Due Q3 19/20", None), None);
    assert_eq!(rated(&s, BIG, "90%", "Not available", None), None);
    // source-given RAG honoured even where computation would differ
    assert_eq!(rated(&s, BIG, "90%", "82% (A)", None), Some(Rag::Amber));
    assert_eq!(rated(&s, BIG, "10%", "-8% (G)", None), Some(Rag::Green));
    // direction-only targets need a comparison value
    assert_eq!(rated(&s, BIG, "Increase", "£2.026m", None), None);
    assert_eq!(
        rated(&s, SMALL, "Decrease", "£7.3m", Some("£8.7m")),
        Some(Rag::Green)
    );
}

#[test]
fn four_level_scheme_bands() {
    let s = ToleranceScheme::four_level(500, 1000);
    assert_eq!(rated(&s, BIG, "80%", "80%", None), Some(Rag::Green));
    assert_eq!(rated(&s, BIG, "80%", "77%", None), Some(Rag::GreenAmber)); // 3.75%
    assert_eq!(rated(&s, BIG, "80%", "73%", None), Some(Rag::RedAmber)); // 8.75%
    assert_eq!(rated(&s, BIG, "80%", "70%", None), Some(Rag::Red)); // 12.5%
}

#[test]
fn direction_dependent_scheme() {
    let s = ToleranceScheme::direction_dependent_10pc();
    assert_eq!(rated(&s, BIG, "90%", "82%", None), Some(Rag::Green)); // 8.9% off
    assert_eq!(rated(&s, BIG, "90%", "70%", Some("60%")), Some(Rag::Amber));
    assert_eq!(rated(&s, BIG, "90%", "70%", Some("75%")), Some(Rag::Red));
    assert_eq!(rated(&s, BIG, "90%", "70%", None), Some(Rag::Red));
}

#[test]
fn adopting_a_new_scheme_never_recolours_history() {
    let mut versions = BTreeMap::new();
    versions.insert(FinancialYear(2013), ToleranceScheme::four_level(500, 1000));
    versions.insert(FinancialYear(2017), ToleranceScheme::three_level_10pc());
    let rate_in = |versions: &BTreeMap<FinancialYear, ToleranceScheme>, fy: i32| {
        let scheme = scheme_in_force(versions, FinancialYear(fy)).unwrap();
        rated(scheme, BIG, "80%", "77%", None)
    };
    assert_eq!(rate_in(&versions, 2016), Some(Rag::GreenAmber));
    assert_eq!(rate_in(&versions, 2017), Some(Rag::Amber));
    assert_eq!(rate_in(&versions, 2020), Some(Rag::Amber));
    assert!(scheme_in_force(&versions, FinancialYear(2012)).is_none());
    // a later adoption leaves 2016's colour unchanged
    versions.insert(
        FinancialYear(2021),
        ToleranceScheme::direction_dependent_10pc(),
    );
    assert_eq!(rate_in(&versions, 2016), Some(Rag::GreenAmber));
}

#[test]
fn direction_of_travel_by_polarity_seed004() {
    let v = |s: &str| parse_value(s).unwrap();
    // CG/C23 sickness (smaller is better): 8.35 vs 8.49 short term improving, vs 8.0 long term worsening
    assert_eq!(
        direction(SMALL, &v("8.35 days"), &v("8.49 days")),
        Some(Direction::Improving)
    );
    assert_eq!(
        direction(SMALL, &v("8.35 days"), &v("8.0 days")),
        Some(Direction::Worsening)
    );
    // CG/S24 77% vs 77% same; vs 74% improving
    assert_eq!(direction(BIG, &v("77%"), &v("77%")), Some(Direction::Same));
    assert_eq!(
        direction(BIG, &v("77%"), &v("74%")),
        Some(Direction::Improving)
    );
    // CG/C24 running costs £7.3m vs £8.7m (smaller is better) improving
    assert_eq!(
        direction(SMALL, &v("£7.3m"), &v("£8.7m")),
        Some(Direction::Improving)
    );
    // incomparable kinds: no DoT
    assert_eq!(direction(BIG, &v("77%"), &v("£1m")), None);
    let q1 = Period::parse("2016/17 Q1").unwrap();
    assert_eq!(
        short_term_period(ComparisonBasis::Sequential, q1)
            .unwrap()
            .to_string(),
        "2015/16 Q4"
    );
    assert_eq!(
        short_term_period(ComparisonBasis::SamePeriodLastYear, q1)
            .unwrap()
            .to_string(),
        "2015/16 Q1"
    );
    assert_eq!(long_term_period(q1).unwrap().to_string(), "2015/16 Q1");
}

#[test]
fn savings_percent_of_target() {
    // P&R savings 2020/21 (seed 000): (871) (500) (14) (32) (153) → target 1,570
    let target = ["(871)", "(500)", "(14)", "(32)", "(153)"]
        .iter()
        .map(|s| perfledger_domain::parse::parse_amount(s).unwrap().abs())
        .try_fold(Fixed::ZERO, |a, b| a.checked_add(b))
        .unwrap();
    assert_eq!(target.to_string(), "1570");
    // an illustrative achievement of 1,178 (not from a seed): 75.0%
    let p = achieved_percent_1dp(Fixed::parse_decimal("1,178").unwrap(), target).unwrap();
    assert_eq!(p.to_string(), "75");
}

#[test]
fn every_rag_name_parses_back_to_itself() {
    use perfledger_domain::rag::Rag;
    for r in [
        Rag::Green,
        Rag::GreenAmber,
        Rag::Amber,
        Rag::RedAmber,
        Rag::Red,
    ] {
        assert_eq!(Rag::parse(r.name()).unwrap(), r, "{}", r.name());
    }
}
