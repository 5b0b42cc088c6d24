//! Print ↔ parse round trips of every printed form ([`perfledger_domain::printed`]),
//! over many values and the seed figures: a regression of a printed form
//! (grouping, brackets, the sign of slippage, `-0.0%`) fails here.

use perfledger_domain::action::ActionStatus;
use perfledger_domain::indicator::{Comparator, MoneyUnit, ResultValue, Target, Value};
use perfledger_domain::parse::{parse_amount, parse_result, parse_target, parse_value};
use perfledger_domain::printed::{self, NO_VALUE, NO_VALUE_ASCII};
use perfledger_domain::rag::Rag;
use perfledger_domain::{Fixed, Period};
use proptest::prelude::*;

/// Magnitudes the parsers accept from input (|v| ≤ 10^14, 4 decimals).
fn input_fixed() -> impl Strategy<Value = Fixed> {
    let max = Fixed::MAX_INPUT * Fixed::SCALE;
    prop_oneof![
        (-max..=max).prop_map(Fixed::from_raw),
        (-100_000_000i64..100_000_000).prop_map(Fixed::from_raw),
        (-1_000_000i64..1_000_000).prop_map(|w| Fixed::from_raw(w * Fixed::SCALE)),
    ]
}

fn f(s: &str) -> Fixed {
    Fixed::parse_full(s).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn amounts_round_trip(v in input_fixed()) {
        let printed = printed::amount(v);
        prop_assert_eq!(parse_amount(&printed).unwrap(), v, "{}", printed);
        prop_assert_eq!(printed.starts_with('('), v.is_negative());
        prop_assert!(!printed.contains('-'));
        // grouped: no run of four digits before the decimal point
        let whole = printed.trim_matches(['(', ')']).split('.').next().unwrap_or("");
        prop_assert!(whole.split(',').skip(1).all(|g| g.len() == 3), "{}", printed);
        prop_assert!(whole.split(',').next().is_some_and(|g| (1..=3).contains(&g.len())), "{}", printed);
    }

    #[test]
    fn one_decimal_percentages_round_trip(tenths in -100_000_000i64..100_000_000) {
        let v = Fixed::from_raw(tenths * (Fixed::SCALE / 10));
        let printed = printed::percent_1dp(v);
        prop_assert_ne!(printed.as_str(), "-0.0%");
        prop_assert!(printed.split('.').nth(1).is_some_and(|d| d.len() == 2), "{}", printed);
        prop_assert_eq!(parse_value(&printed).unwrap(), Value::Percent(v), "{}", printed);
    }

    #[test]
    fn one_decimal_percentages_round_to_one_decimal(raw in -1_000_000_000i64..1_000_000_000) {
        let v = Fixed::from_raw(raw);
        let rounded = perfledger_domain::rounding::round_dp(v, 1);
        prop_assert_eq!(printed::percent_1dp(v), printed::percent_1dp(rounded));
    }

    #[test]
    fn slippage_round_trips(whole in -10_000i64..10_000) {
        let v = Fixed::from_int(whole).unwrap();
        let printed = printed::slippage_percent(v);
        prop_assert_eq!(printed.starts_with('('), whole < 0);
        prop_assert!(!printed.contains('-'), "{}", printed);
        prop_assert_eq!(parse_value(&printed).unwrap(), Value::Percent(v), "{}", printed);
    }

    #[test]
    fn whole_percentages_round_trip(whole in 0i64..=100) {
        let printed = printed::percent(whole);
        prop_assert_eq!(parse_value(&printed).unwrap(), Value::Percent(Fixed::from_int(whole).unwrap()));
    }

    #[test]
    fn values_round_trip(v in value()) {
        let printed = printed::value(&v);
        prop_assert_eq!(parse_value(&printed).unwrap(), v, "{}", printed);
    }

    #[test]
    fn targets_round_trip(t in target()) {
        let printed = printed::target(&t);
        prop_assert_eq!(parse_target(&printed).unwrap(), t, "{}", printed);
    }

    #[test]
    fn measured_results_round_trip(v in value(), rag in proptest::option::of(rag())) {
        let r = ResultValue::Measured { value: v, source_rag: rag, label: None };
        let printed = printed::result(&r);
        prop_assert_eq!(parse_result(&printed).unwrap(), r, "{}", printed);
    }
}

fn rag() -> impl Strategy<Value = Rag> {
    proptest::sample::select(perfledger_domain::dashboard::RAGS.to_vec())
}

/// Values the printed forms are read back as (a ratio prints as a plain
/// number and reads back as a count, so it is left out; fractions keep
/// non-negative parts, as reports print them).
fn value() -> impl Strategy<Value = Value> {
    let unit = prop_oneof![
        Just(MoneyUnit::Pounds),
        Just(MoneyUnit::Thousands),
        Just(MoneyUnit::Millions)
    ];
    prop_oneof![
        input_fixed().prop_map(Value::Percent),
        (input_fixed(), unit).prop_map(|(amount, unit)| Value::Money { amount, unit }),
        input_fixed().prop_map(Value::Count),
        input_fixed().prop_map(Value::Days),
        (input_fixed(), input_fixed())
            .prop_filter("denominator is not zero", |(_, d)| *d != Fixed::ZERO)
            .prop_map(|(n, d)| Value::Fraction {
                numerator: n.abs(),
                denominator: d.abs()
            }),
        input_fixed().prop_map(|v| Value::PercentReduction(v.abs())),
    ]
}

fn target() -> impl Strategy<Value = Target> {
    let cmp = prop_oneof![
        Just(Comparator::Plain),
        Just(Comparator::LessThan),
        Just(Comparator::GreaterThan),
        Just(Comparator::AtMost),
        Just(Comparator::AtLeast)
    ];
    prop_oneof![
        // `17.5% reduction` is the printed form of Target::Reduction; a
        // plain numeric target holding a reduction prints the same words.
        (cmp, value())
            .prop_filter("a plain reduction prints as Target::Reduction", |(c, v)| {
                !(*c == Comparator::Plain && matches!(v, Value::PercentReduction(_)))
            })
            .prop_map(|(comparator, value)| Target::Numeric {
                comparator,
                value,
                note: None
            }),
        Just(Target::Monitor),
        Just(Target::Tbc),
        Just(Target::Increase),
        Just(Target::Decrease),
        value().prop_map(Target::RemainAtOrAbove),
        value().prop_map(Target::RemainAtOrBelow),
        input_fixed().prop_map(|v| Target::Reduction(v.abs())),
        (1900i32..=2098).prop_map(|y| Target::NewFor(perfledger_domain::FinancialYear(y))),
        Just(Target::NotApplicable),
    ]
}

#[test]
fn seed_004_figures() {
    // Seed 004 (2016/17 Q1), sections 1.1, 2.1 and 2.2, as printed.
    for s in [
        "30,837", "(4,331)", "35,168", "19,288", "20,256", "969", "478", "(491)",
    ] {
        assert_eq!(printed::amount(parse_amount(s).unwrap()), s);
    }
    assert_eq!(printed::percent_1dp(f("-50.7")), "-50.7%");
    assert_eq!(printed::percent_1dp(f("0")), "0.0%");
    assert_eq!(printed::slippage_percent(f("-12")), "(12%)");
    for (p, n) in [(50, 13), (31, 8), (8, 2), (12, 3), (59, 16), (41, 11)] {
        assert_eq!(
            format!("{} ({n})", printed::percent(p)),
            format!("{p}% ({n})")
        );
    }
    // Seed 003 (2013/14) printed slippage with a minus; it reads the same.
    assert_eq!(parse_value("-73%").unwrap(), parse_value("(73%)").unwrap());
    assert_eq!(printed::slippage_percent(f("-73")), "(73%)");
}

#[test]
fn ratings_directions_and_statuses_are_the_printed_words() {
    use perfledger_domain::direction::Direction;
    let labels: Vec<&str> = perfledger_domain::dashboard::RAGS
        .iter()
        .map(|r| printed::rag_label(*r))
        .collect();
    assert_eq!(labels, ["G", "GA", "A", "RA", "R"]);
    assert_eq!(printed::rag_name(Rag::GreenAmber), "Green Amber");
    assert_eq!(
        [Direction::Improving, Direction::Same, Direction::Worsening].map(printed::direction),
        ["Improving", "Same", "Worsening"]
    );
    assert_eq!(
        ActionStatus::ALL.map(printed::action_status),
        ["Green", "Green Amber", "Red Amber", "Red", "Not Rated"]
    );
    for s in ActionStatus::ALL {
        assert_eq!(ActionStatus::parse(printed::action_status(s)).unwrap(), s);
    }
}

#[test]
fn no_value_glyphs() {
    assert_eq!(NO_VALUE, "\u{2013}");
    assert_eq!(NO_VALUE_ASCII, "-");
    assert_eq!(printed::percent_1dp_or(None, NO_VALUE), NO_VALUE);
    assert_eq!(printed::slippage_percent_or(None, NO_VALUE_ASCII), "-");
    assert_eq!(printed::percent_or(None, NO_VALUE), NO_VALUE);
    assert!(printed::is_no_value(NO_VALUE) && printed::is_no_value(NO_VALUE_ASCII));
    // "-" alone is the reports' empty cell: the amount parser reads it as nil.
    assert_eq!(parse_amount("-").unwrap(), Fixed::ZERO);
}

#[test]
fn results_that_are_not_measured_round_trip() {
    for s in [
        "Due 2019/20 Q3",
        "Not yet due",
        "Not available",
        "New (2016/17)",
        "New",
    ] {
        let r = parse_result(s).unwrap();
        assert_eq!(printed::result(&r), s);
    }
    let _ = Period::parse("2019/20 Q3").unwrap();
}

#[test]
fn the_pack_keeps_its_sealed_slippage_form() {
    // Committee packs print slippage with a minus; sealed packs pin it.
    assert_eq!(printed::percent_signed(f("-12")), "-12%");
    assert_eq!(parse_value("-12%").unwrap(), Value::Percent(f("-12")));
    assert_eq!(printed::percent_signed_or(None, NO_VALUE), NO_VALUE);
}
