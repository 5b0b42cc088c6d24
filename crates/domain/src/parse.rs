//! Parsers of the forms officers type and reports print. Every error names
//! the value. Examples: `(4,331)` → −4331, `1,909`, `£7.3m`, `£2.026m`,
//! `8.35 days`, `82% (A)`, `37% (Spring 2016)`, `1,385/1,599`, `<£1m`,
//! `>85%`, `Monitor`, `TBC`, `Increase`, `Remain at or above 85%`,
//! `20% reduction`, `New for 2020/21`, `N/A`, `Due Q3 19/20`,
//! `Q not included in Autumn 2015`, `New (2016/17)`.

use crate::amount::Fixed;
use crate::error::DomainError;
use crate::indicator::{
    Benchmark, Comparator, Frequency, IndicatorType, MoneyUnit, Polarity, ResultValue, Target,
    Value,
};
use crate::period::{FinancialYear, Period};
use crate::rag::Rag;
use crate::risk::Assessment;
use crate::text::Text;

fn invalid(field: &'static str, value: &str, reason: &'static str) -> DomainError {
    DomainError::Invalid {
        field,
        value: value.chars().take(120).collect(),
        reason,
    }
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Remove footnote markers such as `^[2]` and `<sup>2</sup>`.
fn strip_footnotes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("^[") {
        out.push_str(&rest[..i]);
        match rest[i..].find(']') {
            Some(j) => rest = &rest[i + j + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    let mut s2 = out;
    while let Some(i) = s2.find("<sup>") {
        match s2[i..].find("</sup>") {
            Some(j) => s2.replace_range(i..i + j + 6, ""),
            None => break,
        }
    }
    squash(&s2)
}

/// A printed amount: `1,909`, `(4,331)` (brackets = negative), `-22`,
/// `−8`. `-` alone (nil) is zero. Strict: digits before any decimal point,
/// no leading `+`, no space around or inside (a caller that trims cells,
/// such as the CSV importer, trims before calling).
pub fn parse_amount(value: &str) -> Result<Fixed, DomainError> {
    let v = value;
    if v.trim() != v {
        return Err(invalid("amount", value, "space around the amount"));
    }
    if v == "-" || v == "\u{2013}" || v == "\u{2212}" {
        return Ok(Fixed::ZERO);
    }
    if let Some(inner) = v.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        check_amount_digits(value, inner)?;
        let n =
            Fixed::parse_decimal(inner).map_err(|_| invalid("amount", value, "not a number"))?;
        return n
            .checked_neg()
            .ok_or_else(|| invalid("amount", value, "too large"));
    }
    let digits = v
        .strip_prefix('-')
        .or_else(|| v.strip_prefix('\u{2212}'))
        .unwrap_or(v);
    check_amount_digits(value, digits)?;
    Fixed::parse_decimal(v).map_err(|_| invalid("amount", value, "not a number"))
}

/// The unsigned part of an amount: digits (`,` grouping allowed), then
/// optionally `.` and digits.
fn check_amount_digits(value: &str, body: &str) -> Result<(), DomainError> {
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if body.starts_with('+') {
        return Err(invalid(
            "amount",
            value,
            "a leading + is not an amount form",
        ));
    }
    if body.starts_with('-') || body.starts_with('\u{2212}') {
        return Err(invalid("amount", value, "negative inside brackets"));
    }
    if !int.starts_with(|c: char| c.is_ascii_digit())
        || !int.bytes().all(|b| b.is_ascii_digit() || b == b',')
    {
        return Err(invalid(
            "amount",
            value,
            "expected digits before any decimal point",
        ));
    }
    if frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return Err(invalid(
            "amount",
            value,
            "expected digits after the decimal point",
        ));
    }
    Ok(())
}

/// A printed value: `86.6%`, `+31%`, `(12%)`, `£7.3m`, `-£7.057m`, `£320k`,
/// `£4,206`, `8.35 days`, `1,385/1,599`, `17.5% reduction`, `41`.
pub fn parse_value(value: &str) -> Result<Value, DomainError> {
    let v = squash(value);
    let bad = |reason| invalid("value", value, reason);
    if v.is_empty() {
        return Err(bad("empty"));
    }
    // brackets mean negative
    if let Some(inner) = v.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        let inner_v = parse_value(inner).map_err(|_| bad("not a value"))?;
        return negate(inner_v).ok_or_else(|| bad("cannot be negative"));
    }
    let lower = v.to_lowercase();
    if let Some(p) = lower.strip_suffix(" reduction") {
        let n = percent_number(p).ok_or_else(|| bad("expected N% reduction"))?;
        return Ok(Value::PercentReduction(n));
    }
    if let Some(n) = percent_number(&lower) {
        return Ok(Value::Percent(n));
    }
    for suffix in [" days", " day"] {
        if let Some(d) = lower.strip_suffix(suffix) {
            return Fixed::parse_decimal(d)
                .map(Value::Days)
                .map_err(|_| bad("expected N days"));
        }
    }
    if lower.contains('£') {
        return parse_money(&lower).ok_or_else(|| bad("expected money like £7.3m, £320k, £4,206"));
    }
    if let Some((a, b)) = v.split_once('/') {
        let numerator = Fixed::parse_decimal(a).map_err(|_| bad("bad numerator"))?;
        let denominator = Fixed::parse_decimal(b).map_err(|_| bad("bad denominator"))?;
        let f = Value::Fraction {
            numerator,
            denominator,
        };
        f.validate().map_err(|_| bad("denominator is zero"))?;
        return Ok(f);
    }
    Fixed::parse_decimal(&v)
        .map(Value::Count)
        .map_err(|_| bad("not a number, percentage, money, days or fraction"))
}

fn negate(v: Value) -> Option<Value> {
    Some(match v {
        Value::Percent(n) => Value::Percent(n.checked_neg()?),
        Value::Count(n) => Value::Count(n.checked_neg()?),
        Value::Money { amount, unit } => Value::Money {
            amount: amount.checked_neg()?,
            unit,
        },
        Value::Days(_) | Value::Ratio(_) | Value::Fraction { .. } | Value::PercentReduction(_) => {
            return None
        }
    })
}

fn percent_number(s: &str) -> Option<Fixed> {
    let n = s.trim().strip_suffix('%')?;
    Fixed::parse_decimal(n).ok()
}

fn parse_money(s: &str) -> Option<Value> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-').or_else(|| s.strip_prefix('\u{2212}')) {
        Some(r) => (true, r.trim()),
        None => (false, s),
    };
    let s = s.strip_prefix('£')?;
    let (num, unit) = if let Some(n) = s.strip_suffix("bn") {
        (n, None)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, Some(MoneyUnit::Millions))
    } else if let Some(n) = s.strip_suffix('k') {
        (n, Some(MoneyUnit::Thousands))
    } else {
        (s, Some(MoneyUnit::Pounds))
    };
    let unit = unit?;
    let (neg2, num) = match num.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, num),
    };
    let mut amount = Fixed::parse_decimal(num.trim()).ok()?;
    if neg != neg2 {
        amount = amount.checked_neg()?;
    }
    Some(Value::Money { amount, unit })
}

/// Split a trailing `( ... )` group off: `82% (A)` → (`82%`, Some(`A`)).
fn split_trailing_group(s: &str) -> (String, Option<String>) {
    let t = s.trim();
    if t.ends_with(')') {
        if let Some(open) = t.rfind('(') {
            let head = t[..open].trim();
            if !head.is_empty() {
                let inner = t[open + 1..t.len() - 1].trim().to_string();
                return (head.to_string(), Some(inner));
            }
        }
    }
    (t.to_string(), None)
}

/// A printed result: a value, optionally with a source RAG `(A)` and/or its
/// own period label `(Spring 2016)`; or `Due Q3 19/20`, `Not yet due`, `Not available`,
/// `Not Applicable`, `Q not included in Autumn 2015`, `New (2016/17)`,
/// `New for 2016/17`. Footnote markers (`^[2]`) are ignored.
pub fn parse_result(value: &str) -> Result<ResultValue, DomainError> {
    let v = strip_footnotes(value);
    let lower = v.to_lowercase();
    let text = |s: &str| Text::new("result", s);
    if v.is_empty() {
        return Err(invalid("result", value, "empty"));
    }
    // `Not yet due` is how a result without a due period prints.
    if lower == "not yet due" {
        return Ok(ResultValue::NotYetDue { due: None });
    }
    if let Some(rest) = lower.strip_prefix("due") {
        let rest = rest.trim();
        if rest.is_empty() {
            return Ok(ResultValue::NotYetDue { due: None });
        }
        let due =
            Period::parse(rest).map_err(|_| invalid("result", value, "expected Due <period>"))?;
        return Ok(ResultValue::NotYetDue { due: Some(due) });
    }
    if lower == "new" {
        return Ok(ResultValue::New { year: None });
    }
    if let Some(rest) = lower.strip_prefix("new") {
        let rest = rest.trim();
        let rest = rest
            .strip_prefix("for")
            .map(str::trim)
            .or_else(|| rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')))
            .ok_or_else(|| invalid("result", value, "expected New (2016/17) or New for 2016/17"))?;
        let year = FinancialYear::parse(rest)
            .map_err(|_| invalid("result", value, "expected New (2016/17) or New for 2016/17"))?;
        return Ok(ResultValue::New { year: Some(year) });
    }
    if matches!(
        lower.as_str(),
        "not available" | "n/a" | "na" | "not applicable" | "no data" | "not yet available"
    ) || lower.contains("not included")
    {
        return Ok(ResultValue::NotAvailable { note: text(&v)? });
    }
    // whole bracketed negatives first: (4,331)
    if v.starts_with('(') {
        if let Ok(val) = parse_value(&v) {
            return Ok(ResultValue::Measured {
                value: val,
                source_rag: None,
                label: None,
            });
        }
    }
    let mut head = v.clone();
    let mut source_rag = None;
    let mut label = None;
    for _ in 0..2 {
        let (h, group) = split_trailing_group(&head);
        let Some(g) = group else { break };
        if source_rag.is_none() && label.is_none() {
            if let Ok(r) = Rag::parse(&g) {
                source_rag = Some(r);
                head = h;
                continue;
            }
        }
        if label.is_none() {
            label = Some(text(&g)?);
            head = h;
        } else {
            break;
        }
    }
    let value_parsed = parse_value(&head).map_err(|_| invalid("result", value, "not a result"))?;
    Ok(ResultValue::Measured {
        value: value_parsed,
        source_rag,
        label,
    })
}

/// A printed target in any form (see module docs). A trailing `( ... )` or
/// trailing words after the figure are kept as the target's note
/// (`68% (Spring 2016)`, `80% above average`).
pub fn parse_target(value: &str) -> Result<Target, DomainError> {
    let v = strip_footnotes(value);
    let lower = v.to_lowercase();
    let bad = |reason| invalid("target", value, reason);
    match lower.as_str() {
        "" => return Err(bad("empty")),
        "monitor" | "monitor only" => return Ok(Target::Monitor),
        "tbc" | "to be confirmed" => return Ok(Target::Tbc),
        "increase" => return Ok(Target::Increase),
        "decrease" => return Ok(Target::Decrease),
        "n/a" | "na" | "not applicable" => return Ok(Target::NotApplicable),
        _ => {}
    }
    if let Some(rest) = lower.strip_prefix("new for") {
        let fy = FinancialYear::parse(rest.trim()).map_err(|_| bad("expected New for 2020/21"))?;
        return Ok(Target::NewFor(fy));
    }
    if let Some(rest) = lower.strip_prefix("remain at or above") {
        return parse_value(rest.trim())
            .map(Target::RemainAtOrAbove)
            .map_err(|_| bad("expected Remain at or above <value>"));
    }
    if let Some(rest) = lower.strip_prefix("remain at or below") {
        return parse_value(rest.trim())
            .map(Target::RemainAtOrBelow)
            .map_err(|_| bad("expected Remain at or below <value>"));
    }
    if let Some(p) = lower.strip_suffix(" reduction") {
        if let Some(n) = percent_number(p) {
            return Ok(Target::Reduction(n));
        }
    }
    let (comparator, rest) = [
        ("<=", Comparator::AtMost),
        ("≤", Comparator::AtMost),
        (">=", Comparator::AtLeast),
        ("≥", Comparator::AtLeast),
        ("<", Comparator::LessThan),
        (">", Comparator::GreaterThan),
    ]
    .into_iter()
    .find_map(|(p, c)| v.strip_prefix(p).map(|r| (c, r.trim().to_string())))
    .unwrap_or((Comparator::Plain, v.clone()));
    let (head, group) = split_trailing_group(&rest);
    let mut note = group;
    let value = match parse_value(&head) {
        Ok(val) => val,
        Err(_) => {
            // a figure followed by words: `80% above average`
            let words: Vec<&str> = head.split_whitespace().collect();
            let mut found = None;
            for n in (1..words.len()).rev() {
                if let Ok(val) = parse_value(&words[..n].join(" ")) {
                    let tail = words[n..].join(" ");
                    note = Some(match note {
                        Some(g) => format!("{tail} ({g})"),
                        None => tail,
                    });
                    found = Some(val);
                    break;
                }
            }
            found.ok_or_else(|| bad("not a recognised target form"))?
        }
    };
    let note = note.map(|n| Text::new("target note", &n)).transpose()?;
    Ok(Target::Numeric {
        comparator,
        value,
        note,
    })
}

/// `Bigger is Better` / `Smaller is better` (any case and spacing; also
/// `Higher`/`Lower is better`).
pub fn parse_polarity(value: &str) -> Result<Polarity, DomainError> {
    match squash(value).to_lowercase().as_str() {
        "bigger is better" | "higher is better" | "high is good" => Ok(Polarity::BiggerIsBetter),
        "smaller is better" | "lower is better" | "low is good" => Ok(Polarity::SmallerIsBetter),
        _ => Err(invalid(
            "polarity",
            value,
            "expected Bigger is Better or Smaller is Better",
        )),
    }
}

/// `(q)`/`quarterly`, `(r)`/`rolling 12 months`, `annual`, `biannual`
/// (`RPS - Biannual`), `monthly`.
pub fn parse_frequency(value: &str) -> Result<Frequency, DomainError> {
    let l = squash(value).to_lowercase();
    let l = l.trim_matches(|c| c == '(' || c == ')');
    Ok(match l {
        "q" | "quarterly" => Frequency::Quarterly,
        "r" | "rolling 12 months" | "rolling" | "rolling year" => Frequency::Rolling12Months,
        "a" | "annual" | "annually" => Frequency::Annual,
        "m" | "monthly" => Frequency::Monthly,
        other if other.contains("biannual") || other.contains("bi-annual") => {
            Frequency::BiannualSurvey
        }
        _ => {
            return Err(invalid(
                "frequency",
                value,
                "expected quarterly, rolling 12 months, annual, biannual or monthly",
            ))
        }
    })
}

/// `CPI`, `SPI`, `MPI`, `KPI`, `Outcome` (any case).
pub fn parse_indicator_type(value: &str) -> Result<IndicatorType, DomainError> {
    Ok(match squash(value).to_lowercase().as_str() {
        "cpi" | "corporate plan indicator" => IndicatorType::Cpi,
        "spi" | "commissioning plan indicator" => IndicatorType::Spi,
        "mpi" | "management agreement indicator" => IndicatorType::Mpi,
        "kpi" | "contract performance indicator" => IndicatorType::Kpi,
        "outcome" | "outcome indicator" => IndicatorType::Outcome,
        _ => {
            return Err(invalid(
                "indicator type",
                value,
                "expected CPI, SPI, MPI, KPI or Outcome",
            ))
        }
    })
}

/// A printed risk level: `Major 4`, `Almost Certain 5`, `4`. The trailing
/// number is the level (1–5).
pub fn parse_level(field: &'static str, value: &str) -> Result<u8, DomainError> {
    let last = value.split_whitespace().last().unwrap_or("");
    let n: u8 = last
        .parse()
        .map_err(|_| invalid(field, value, "expected a level 1-5, e.g. Major 4"))?;
    if (1..=5).contains(&n) {
        Ok(n)
    } else {
        Err(DomainError::OutOfRange {
            field,
            value: i64::from(n),
            min: 1,
            max: 5,
        })
    }
}

/// A printed assessment: impact (`Major 4`) and probability (`Almost Certain 5`).
pub fn parse_assessment(impact: &str, probability: &str) -> Result<Assessment, DomainError> {
    Assessment::new(
        parse_level("impact", impact)?,
        parse_level("probability", probability)?,
    )
}

/// A printed benchmark: `London 41% (Autumn 2014, RPS)`,
/// `National 83% (LGA Survey September 2015)`.
pub fn parse_benchmark(value: &str) -> Result<Benchmark, DomainError> {
    let v = strip_footnotes(value);
    let (head, group) = split_trailing_group(&v);
    let words: Vec<&str> = head.split_whitespace().collect();
    let pos = words
        .iter()
        .position(|w| parse_value(w).is_ok())
        .ok_or_else(|| {
            invalid(
                "benchmark",
                value,
                "expected <group> <value> (<date>, <source>)",
            )
        })?;
    let group_name = words[..pos].join(" ");
    let value_text = words[pos..].join(" ");
    let parsed = parse_value(&value_text).map_err(|_| {
        invalid(
            "benchmark",
            value,
            "expected <group> <value> (<date>, <source>)",
        )
    })?;
    let (as_of, source) = match group.as_deref().map(|g| g.rsplit_once(',')) {
        Some(Some((a, s))) => (Some(a.trim().to_string()), Some(s.trim().to_string())),
        Some(None) => (group.clone(), None),
        None => (None, None),
    };
    Ok(Benchmark {
        group: Text::new("benchmark group", &group_name)?,
        value: parsed,
        source: source
            .map(|s| Text::new("benchmark source", &s))
            .transpose()?,
        as_of: as_of.map(|s| Text::new("benchmark date", &s)).transpose()?,
    })
}
