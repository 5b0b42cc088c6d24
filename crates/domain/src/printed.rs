//! THE printed forms of perfledger: how every surface (CLI tables and JSON,
//! web pages, committee packs, import messages, audit trails) writes a
//! figure. [`crate::parse`] reads the same forms back; the round-trip tests
//! below (and `tests/printed.rs`) fail if a printed form regresses.
//!
//! Grammar (what each function prints):
//!
//! * [`amount`]: a £000 amount as the council's reports print it — thousands
//!   grouped with `,`, negatives in brackets, decimals kept as stored
//!   (`30,837`, `(4,331)`, `1,234,567.5`, `0`). Read back by
//!   [`crate::parse::parse_amount`].
//! * [`percent_1dp`]: a revenue variance or savings percentage, one decimal,
//!   minus sign for negatives, zero never signed (`-50.7%`, `4.0%`, `0.0%`,
//!   never `-0.0%`). The value is rounded to one decimal by
//!   [`crate::rounding`] first (callers pass values already rounded).
//! * [`percent`]: a whole dashboard percentage (`58%`, `96%`).
//! * [`slippage_percent`]: capital slippage as a whole percentage of the
//!   approved budget, negatives in brackets like every other negative figure
//!   in the reports (`(12%)`, `3%`, `0%`). This is the ONE sign convention for
//!   slippage: the 2016/17 council report (seed 004, table 2.2) prints
//!   `(12%)`, and the reports' rule is "brackets mean negative". (An older
//!   report, seed 003 of 2013/14, printed `-73%`; [`crate::parse::parse_value`]
//!   reads both.) One surface keeps the minus form, [`percent_signed`]
//!   (`-12%`): the committee pack. A sealed pack must render to the same
//!   bytes in every version (the golden history, `tests/golden/history-v1`,
//!   pins its HTML), so its printed forms cannot move.
//! * [`direction`]: `Improving`, `Same`, `Worsening`.
//! * [`rag_label`] (`G`, `GA`, `A`, `RA`, `R`) and [`rag_name`]
//!   (`Green Amber`): ratings, read back by [`Rag::parse`].
//! * [`action_status`]: `Green`, `Green Amber`, `Red Amber`, `Red`,
//!   `Not Rated`, read back by [`ActionStatus::parse`].
//! * [`value`], [`target`], [`result`]: stored indicator values as the audit
//!   trail prints them (`82%`, `£1.2m`, `≥85% (Spring 2016)`, `82% (A)`).
//! * "No value": [`NO_VALUE`] (`–`, an en dash, so that it cannot be read as
//!   the minus of `-50.7%` beside it). The CLI's outputs are ASCII and their
//!   JSON field values are a documented, stable interface (docs/cli.md):
//!   they print [`NO_VALUE_ASCII`] (`-`, the hyphen the reports put in an
//!   empty cell). Both are declared here; [`is_no_value`] reads either.
//!
//! Rules: no floating point; every function is total (prints something for
//! every input); the `_or_none` forms take `Option` and print the "no value"
//! glyph for `None`.

use crate::action::ActionStatus;
use crate::amount::Fixed;
use crate::direction::Direction;
use crate::indicator::{Comparator, MoneyUnit, ResultValue, Target, Value};
use crate::payload::ResultEntry;
use crate::rag::Rag;
use crate::rounding;

/// "No value" on the web and in packs: an en dash (U+2013).
pub const NO_VALUE: &str = "\u{2013}";

/// "No value" in the CLI's ASCII tables, CSV and JSON (docs/cli.md).
pub const NO_VALUE_ASCII: &str = "-";

/// True when a printed cell means "no value" (`–`, `-`, or empty).
pub fn is_no_value(printed: &str) -> bool {
    matches!(printed.trim(), "" | NO_VALUE | NO_VALUE_ASCII)
}

/// Group the digits of a whole number with `,` every three digits.
fn group_thousands(digits: &str) -> String {
    let n = digits.len();
    let mut out = String::with_capacity(n + n / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An amount as the reports print it: `30,837`, `(4,331)`, `1,234,567.5`.
pub fn amount(v: Fixed) -> String {
    let s = v.abs().to_string();
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s.as_str(), None),
    };
    let mut body = group_thousands(whole);
    if let Some(f) = frac {
        body.push('.');
        body.push_str(f);
    }
    if v.is_negative() {
        format!("({body})")
    } else {
        body
    }
}

/// A one-decimal percentage: `-50.7%`, `4.0%`, `0.0%` (never `-0.0%`).
pub fn percent_1dp(v: Fixed) -> String {
    let tenths = rounding::round_dp(v, 1).raw() / (Fixed::SCALE / 10);
    let sign = if tenths < 0 { "-" } else { "" };
    let a = tenths.unsigned_abs();
    format!("{sign}{}.{}%", a / 10, a % 10)
}

/// [`percent_1dp`], or `none` for no value.
pub fn percent_1dp_or(v: Option<Fixed>, none: &str) -> String {
    v.map_or_else(|| none.to_string(), percent_1dp)
}

/// A whole percentage: `58%`.
pub fn percent(v: i64) -> String {
    format!("{v}%")
}

/// [`percent`], or `none` for no value.
pub fn percent_or(v: Option<i64>, none: &str) -> String {
    v.map_or_else(|| none.to_string(), percent)
}

/// Capital slippage as a whole percentage, negatives in brackets: `(12%)`.
pub fn slippage_percent(v: Fixed) -> String {
    if v.is_negative() {
        format!("({}%)", v.abs())
    } else {
        format!("{v}%")
    }
}

/// [`slippage_percent`], or `none` for no value.
pub fn slippage_percent_or(v: Option<Fixed>, none: &str) -> String {
    v.map_or_else(|| none.to_string(), slippage_percent)
}

/// A whole percentage with a minus for negatives (`-12%`, `3%`): the
/// committee pack's slippage, kept for sealed packs (see the module docs).
pub fn percent_signed(v: Fixed) -> String {
    format!("{v}%")
}

/// [`percent_signed`], or `none` for no value.
pub fn percent_signed_or(v: Option<Fixed>, none: &str) -> String {
    v.map_or_else(|| none.to_string(), percent_signed)
}

/// A direction of travel: `Improving`, `Same`, `Worsening`.
pub fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Improving => "Improving",
        Direction::Same => "Same",
        Direction::Worsening => "Worsening",
    }
}

/// Short printed RAG: `G`, `GA`, `A`, `RA`, `R`.
pub fn rag_label(r: Rag) -> &'static str {
    match r {
        Rag::Green => "G",
        Rag::GreenAmber => "GA",
        Rag::Amber => "A",
        Rag::RedAmber => "RA",
        Rag::Red => "R",
    }
}

/// Full printed RAG: `Green Amber`.
pub fn rag_name(r: Rag) -> &'static str {
    r.name()
}

/// Printed key-action status: `Green Amber`, `Not Rated`.
pub fn action_status(s: ActionStatus) -> &'static str {
    match s {
        ActionStatus::Green => "Green",
        ActionStatus::GreenAmber => "Green Amber",
        ActionStatus::RedAmber => "Red Amber",
        ActionStatus::Red => "Red",
        ActionStatus::NotRated => "Not Rated",
    }
}

/// A stored indicator value: `86.6%`, `£7.3m`, `£320k`, `£4206`,
/// `8.35 days`, `1385/1599`, `17.5% reduction`, `41`.
pub fn value(v: &Value) -> String {
    match v {
        Value::Percent(p) => format!("{p}%"),
        Value::Money { amount, unit } => match unit {
            MoneyUnit::Pounds => format!("£{amount}"),
            MoneyUnit::Thousands => format!("£{amount}k"),
            MoneyUnit::Millions => format!("£{amount}m"),
        },
        Value::Count(c) => c.to_string(),
        Value::Days(d) => format!("{d} days"),
        Value::Ratio(r) => r.to_string(),
        Value::Fraction {
            numerator,
            denominator,
        } => format!("{numerator}/{denominator}"),
        Value::PercentReduction(p) => format!("{p}% reduction"),
    }
}

/// A comparator's printed prefix (`<`, `>`, `≤`, `≥`, none for plain).
pub fn comparator(c: Comparator) -> &'static str {
    match c {
        Comparator::Plain => "",
        Comparator::LessThan => "<",
        Comparator::GreaterThan => ">",
        Comparator::AtMost => "≤",
        Comparator::AtLeast => "≥",
    }
}

/// A target: `≥85% (Spring 2016)`, `Monitor`, `Remain at or above 85%`.
pub fn target(t: &Target) -> String {
    match t {
        Target::Numeric {
            comparator: c,
            value: v,
            note,
        } => match note {
            Some(n) => format!("{}{} ({n})", comparator(*c), value(v)),
            None => format!("{}{}", comparator(*c), value(v)),
        },
        Target::Monitor => "Monitor".to_string(),
        Target::Tbc => "TBC".to_string(),
        Target::Increase => "Increase".to_string(),
        Target::Decrease => "Decrease".to_string(),
        Target::RemainAtOrAbove(v) => format!("Remain at or above {}", value(v)),
        Target::RemainAtOrBelow(v) => format!("Remain at or below {}", value(v)),
        Target::Reduction(p) => format!("{p}% reduction"),
        Target::NewFor(y) => format!("New for {y}"),
        Target::NotApplicable => "N/A".to_string(),
    }
}

/// A result: `82% (A)`, `82% (A) [Spring 2016]`, `Due 2019/20 Q3`,
/// `Not yet due`, `Not available`, `New (2016/17)`.
pub fn result(r: &ResultValue) -> String {
    match r {
        ResultValue::Measured {
            value: v,
            source_rag,
            label,
        } => {
            let mut s = value(v);
            if let Some(rag) = source_rag {
                s.push_str(" (");
                s.push_str(rag_label(*rag));
                s.push(')');
            }
            if let Some(l) = label {
                s.push_str(" [");
                s.push_str(l.as_str());
                s.push(']');
            }
            s
        }
        ResultValue::NotYetDue { due: Some(p) } => format!("Due {p}"),
        ResultValue::NotYetDue { due: None } => "Not yet due".to_string(),
        ResultValue::NotAvailable { note } => note.to_string(),
        ResultValue::New { year: Some(y) } => format!("New ({y})"),
        ResultValue::New { year: None } => "New".to_string(),
    }
}

/// A result entry's figure (its result; commentary is printed apart).
pub fn entry(e: &ResultEntry) -> String {
    result(&e.result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse_amount, parse_value};

    fn f(s: &str) -> Fixed {
        Fixed::parse_full(s).expect("test literal")
    }

    #[test]
    fn seed_figures() {
        // seed 004, tables 2.1 and 2.2
        assert_eq!(amount(f("30837")), "30,837");
        assert_eq!(amount(f("-4331")), "(4,331)");
        assert_eq!(amount(f("35168")), "35,168");
        assert_eq!(amount(f("-491")), "(491)");
        assert_eq!(amount(f("0")), "0");
        assert_eq!(amount(f("1234567.5")), "1,234,567.5");
        assert_eq!(amount(f("-100000")), "(100,000)");
        assert_eq!(percent_1dp(f("-50.7")), "-50.7%");
        assert_eq!(percent_1dp(f("0")), "0.0%");
        assert_eq!(percent_1dp(f("4")), "4.0%");
        assert_eq!(percent_1dp(f("-0.04")), "0.0%");
        assert_eq!(percent_1dp_or(None, NO_VALUE), "–");
        assert_eq!(slippage_percent(f("-12")), "(12%)");
        assert_eq!(slippage_percent(f("3")), "3%");
        assert_eq!(slippage_percent(f("0")), "0%");
        assert_eq!(percent(58), "58%");
        assert_eq!(percent_or(None, NO_VALUE_ASCII), "-");
        assert_eq!(direction(Direction::Worsening), "Worsening");
        assert!(is_no_value("–") && is_no_value(" - ") && !is_no_value("0"));
    }

    #[test]
    fn seed_figures_parse_back() {
        for s in ["30,837", "(4,331)", "35,168", "(491)", "0", "19,288"] {
            assert_eq!(amount(parse_amount(s).expect("seed amount")), s);
        }
        assert_eq!(parse_value("(12%)").unwrap(), Value::Percent(f("-12")));
        assert_eq!(parse_value("-50.7%").unwrap(), Value::Percent(f("-50.7")));
    }

    #[test]
    fn ratings_and_statuses_parse_back() {
        for r in crate::dashboard::RAGS {
            assert_eq!(Rag::parse(rag_label(r)).unwrap(), r);
            assert_eq!(Rag::parse(rag_name(r)).unwrap(), r);
        }
        for s in ActionStatus::ALL {
            assert_eq!(ActionStatus::parse(action_status(s)).unwrap(), s);
        }
    }
}
