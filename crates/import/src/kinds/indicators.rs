//! Indicators: `indicators.csv`, and how the rows of targets, results and
//! benchmarks name one ([`resolve`]).
//!
//! Invariant: an indicator's key is its reference, or its title when it
//! has none (`IndicatorSpec::natural_key`), unique per tenant. A row names
//! an indicator by `indicator_ref`, or by `indicator_title` (with `unit`)
//! for one without a reference; when indicators.csv is part of the import
//! the name must resolve in it and its title and unit must agree.

use std::collections::BTreeMap;

use perfledger_domain::indicator::{ComparisonBasis, Frequency, IndicatorSpec};
use perfledger_domain::{parse, Command, Text};

use crate::build::{Ctx, Known};
use crate::cells::parse_data_type;
use crate::order::Items;
use crate::table::{Row, Table};

pub(crate) const INDICATORS: &[(&str, bool)] = &[
    ("ref", false),
    ("title", true),
    ("unit", true),
    ("lead_officer", false),
    ("type", true),
    ("category", false),
    ("polarity", true),
    ("frequency", true),
    ("comparison", false),
    ("data_type", true),
    ("theme", false),
    ("committee", false),
    ("notes", false),
    ("source", false),
];

/// The indicators defined by indicators.csv.
pub(crate) struct Indicators {
    by_key: BTreeMap<String, IndicatorSpec>,
    by_title: BTreeMap<String, String>,
}

/// Indicators; returns those defined.
pub(crate) fn indicators(cx: &mut Ctx, out: &mut Items, known: &Known, t: &Table) -> Indicators {
    let mut inds = Indicators {
        by_key: BTreeMap::new(),
        by_title: BTreeMap::new(),
    };
    for r in &t.rows {
        known.check_unit(cx, t, r, "unit");
        known.check_committee(cx, t, r, "committee");
        known.check_theme(cx, t, r, "theme");
        let Some(spec) = spec(cx, t, r) else {
            continue;
        };
        let key = spec.natural_key().to_string();
        if inds.by_key.contains_key(&key) {
            cx.err(
                t,
                r,
                if r.get("ref").is_empty() {
                    "title"
                } else {
                    "ref"
                },
                "duplicate indicator key (ref, or title when no ref): keys are unique per tenant",
            );
            continue;
        }
        inds.by_title.insert(spec.title.to_string(), key.clone());
        out.define(t, r, 0, Command::DefineIndicator { spec: spec.clone() });
        inds.by_key.insert(key, spec);
    }
    inds
}

/// The indicator of one row of indicators.csv; `None` when reported.
fn spec(cx: &mut Ctx, t: &Table, r: &Row) -> Option<IndicatorSpec> {
    let itype = parse::parse_indicator_type(r.get("type"))
        .map_err(|e| cx.err(t, r, "type", e.to_string()))
        .ok();
    let polarity = parse::parse_polarity(r.get("polarity"))
        .map_err(|e| cx.err(t, r, "polarity", e.to_string()))
        .ok();
    let frequency = parse::parse_frequency(r.get("frequency"))
        .map_err(|e| cx.err(t, r, "frequency", e.to_string()))
        .ok();
    let data_type = parse_data_type(r.get("data_type"));
    if data_type.is_none() {
        cx.err(t, r, "data_type", "expected percentage, money (£), money (£000), money (£m), count, days, ratio or numerator/denominator");
    }
    let comparison = match r.get("comparison").to_lowercase().as_str() {
        "" => frequency.map(|f| {
            if f == Frequency::Annual {
                ComparisonBasis::SamePeriodLastYear
            } else {
                ComparisonBasis::Sequential
            }
        }),
        "sequential" => Some(ComparisonBasis::Sequential),
        "same period last year" => Some(ComparisonBasis::SamePeriodLastYear),
        _ => {
            cx.err(
                t,
                r,
                "comparison",
                "expected sequential or same period last year",
            );
            None
        }
    };
    let reference = cx.opt_text(t, r, "ref");
    let title = cx.text(t, r, "title");
    let unit = cx.text(t, r, "unit");
    let lead = cx.opt_text(t, r, "lead_officer");
    let theme = cx.opt_text(t, r, "theme");
    let committee = cx.opt_text(t, r, "committee");
    Some(IndicatorSpec {
        reference: reference?,
        title: title?,
        unit: unit?,
        lead_officer: lead?,
        indicator_type: itype?,
        polarity: polarity?,
        frequency: frequency?,
        data_type: data_type?,
        comparison: comparison?,
        theme: theme?,
        objective: None,
        committee: committee?,
    })
}

/// The indicator a targets/results/benchmarks row names: its key, and its
/// definition when indicators.csv is part of the import; `None` when
/// reported.
pub(crate) fn resolve(
    cx: &mut Ctx,
    known: &Known,
    t: &Table,
    r: &Row,
) -> Option<(String, Option<IndicatorSpec>)> {
    let rf = r.get("indicator_ref");
    let title = r.get("indicator_title");
    if rf.is_empty() && title.is_empty() {
        cx.err(
            t,
            r,
            "indicator_ref",
            "give indicator_ref, or indicator_title for an indicator without a reference",
        );
        return None;
    }
    let Some(inds) = &known.indicators else {
        if rf.is_empty() && r.get("unit").is_empty() {
            cx.err(t, r, "unit", "required when the indicator has no reference");
            return None;
        }
        return Some((if rf.is_empty() { title } else { rf }.to_string(), None));
    };
    let (key, col) = if !rf.is_empty() {
        (rf.to_string(), "indicator_ref")
    } else {
        match inds.by_title.get(title) {
            Some(k) => (k.clone(), "indicator_title"),
            None => {
                cx.err(
                    t,
                    r,
                    "indicator_title",
                    "unknown indicator (no indicator with this title in indicators.csv)",
                );
                return None;
            }
        }
    };
    let Some(spec) = inds.by_key.get(&key) else {
        cx.err(t, r, col, "unknown indicator (not in indicators.csv)");
        return None;
    };
    if !rf.is_empty() && !title.is_empty() && spec.title.as_str() != title {
        cx.err(
            t,
            r,
            "indicator_title",
            format!(
                "does not match the title of {rf} ({:?})",
                spec.title.as_str()
            ),
        );
        return None;
    }
    let u = r.get("unit");
    if !u.is_empty() && u != spec.unit.as_str() {
        cx.err(
            t,
            r,
            "unit",
            format!("the indicator belongs to unit {}", spec.unit),
        );
        return None;
    }
    if rf.is_empty() && u.is_empty() {
        cx.err(t, r, "unit", "required when the indicator has no reference");
        return None;
    }
    Some((key, Some(spec.clone())))
}

/// The indicator key as the command's text; reported at the column that
/// named it when over the text limit.
pub(crate) fn indicator_text(cx: &mut Ctx, t: &Table, r: &Row, key: &str) -> Option<Text> {
    let col = if r.get("indicator_ref").is_empty() {
        "indicator_title"
    } else {
        "indicator_ref"
    };
    cx.composed(t, r, col, "the indicator key", key)
}
