//! Results: `results.csv`, the value of an indicator for a period, and
//! `benchmarks.csv`, comparators printed beside it.
//!
//! Invariant: the first row for an indicator, period and breakdown records
//! its result (`kind=record`); a later one restates it (`kind=restate`),
//! with a reason and, in a backdated load, a later recorded time. A result
//! fits the indicator's data type and one of its periods (a row for another
//! period is an error, or a warning when it carries no value). A row with a
//! `breakdown` is the result of a derived indicator, `<ref> [<breakdown>]`
//! titled `<title> [<breakdown>]`, defined once after its parent. Benchmarks
//! ride on the first recorded (not restated, not broken down) result of the
//! same indicator and period; one that cannot be parsed is kept as text in
//! the commentary, one with no such result is a warning. Rows are read in
//! recorded-time order.

use std::collections::BTreeMap;

use perfledger_domain::event::ResultEntry;
use perfledger_domain::indicator::{Benchmark, IndicatorSpec, InterventionLevel, ResultValue};
use perfledger_domain::{parse, Command, Period, Text, Timestamp};

use crate::build::{Ctx, Known};
use crate::cells::parse_intervention;
use crate::kinds::indicators::{indicator_text, resolve};
use crate::order::{Items, Recorded};
use crate::table::{Row, Table};

pub(crate) const RESULTS: &[(&str, bool)] = &[
    ("indicator_ref", false),
    ("indicator_title", false),
    ("unit", false),
    ("period", true),
    ("result", true),
    ("result_label", false),
    ("breakdown", false),
    ("sample_size", false),
    ("kind", true),
    ("actor", true),
    ("recorded_at", false),
    ("reason", false),
    ("commentary", false),
    ("intervention", false),
    ("source", false),
];

pub(crate) const BENCHMARKS: &[(&str, bool)] = &[
    ("indicator_ref", false),
    ("indicator_title", false),
    ("unit", false),
    ("period", true),
    ("benchmark", true),
    ("source", false),
];

/// A benchmark row: its line and the parsed benchmark (or the text kept).
type ParsedBenchmark = (usize, Result<Benchmark, String>);

/// Benchmarks by indicator key and period, in file order.
type Benchmarks = BTreeMap<(String, Period), Vec<ParsedBenchmark>>;

/// One result row, read.
struct ResultRow {
    key: String,
    spec: Option<IndicatorSpec>,
    period: Period,
    restate: bool,
    by: Recorded,
    result: ResultValue,
    intervention: Option<InterventionLevel>,
    commentary: Option<Text>,
}

/// Results, then the breakdown indicators they need, with benchmarks
/// attached.
pub(crate) fn results(cx: &mut Ctx, out: &mut Items, known: &Known, t: &Table, bm: &Table) {
    let mut benchmarks = benchmarks(cx, known, bm);
    let mut seen: BTreeMap<(String, Period), Timestamp> = BTreeMap::new();
    let mut rows: Vec<&Row> = t.rows.iter().collect();
    rows.sort_by_key(|r| (Timestamp::parse(r.get("recorded_at")).ok(), r.line));
    // derived key -> (definition, index of the first row naming it)
    let mut breakdowns: BTreeMap<String, (IndicatorSpec, usize)> = BTreeMap::new();
    for r in rows {
        let Some(mut row) = read_row(cx, known, t, r) else {
            continue;
        };
        if !fits_period(cx, t, r, &row) {
            continue;
        }
        let breakdown = r.get("breakdown");
        let mut bms = Vec::new();
        if breakdown.is_empty() {
            if !row.restate {
                if let Some(list) = benchmarks.remove(&(row.key.clone(), row.period)) {
                    let Some(attached) = attach(cx, t, r, list, &mut row.commentary) else {
                        continue;
                    };
                    bms = attached;
                }
            }
        } else {
            let Some(d) = derived(cx, t, r, &row, breakdown) else {
                continue;
            };
            row.key = d.natural_key().to_string();
            let first = t
                .rows
                .iter()
                .position(|x| x.line == r.line)
                .expect("the row is one of the table's rows");
            breakdowns.entry(row.key.clone()).or_insert((d, first));
        }
        let k = (row.key.clone(), row.period);
        match (row.restate, seen.get(&k)) {
            (false, Some(_)) => {
                cx.err(t, r, "kind", "a result for this indicator, period and breakdown is already recorded in this file; use kind=restate with a reason");
                continue;
            }
            (true, Some(prev)) if cx.backdated && *prev >= row.by.time => {
                cx.err(
                    t,
                    r,
                    "recorded_at",
                    "a restatement must be later than the value it replaces",
                );
                continue;
            }
            _ => {}
        }
        let Some(indicator) = indicator_text(cx, t, r, &row.key) else {
            continue;
        };
        seen.insert(k, row.by.time);
        let entry = ResultEntry {
            result: row.result,
            commentary: row.commentary,
            intervention: row.intervention,
            benchmarks: bms,
        };
        let command = match row.by.reason.clone() {
            Some(reason) if row.restate => Command::RestateResult {
                indicator,
                period: row.period,
                entry,
                reason,
            },
            _ => Command::RecordResult {
                indicator,
                period: row.period,
                entry,
            },
        };
        out.fact(t, r, 0, &row.by, command);
    }
    for ((key, period), list) in benchmarks {
        for (line, _) in list {
            cx.warnings.push(crate::errors::Warning {
                file: bm.file.clone(),
                line,
                message: format!("benchmark not imported: no result of {key} for {period} in this import to carry it"),
            });
        }
    }
    for (d, i) in breakdowns.into_values() {
        out.define(t, &t.rows[i], 1, Command::DefineIndicator { spec: d });
    }
}

/// The benchmarks file, by indicator and period.
fn benchmarks(cx: &mut Ctx, known: &Known, bm: &Table) -> Benchmarks {
    let mut benchmarks: Benchmarks = BTreeMap::new();
    for r in &bm.rows {
        let ind = resolve(cx, known, bm, r);
        let period = cx.period(bm, r, "period");
        let (Some((key, _)), Some(period)) = (ind, period) else {
            continue;
        };
        let b =
            parse::parse_benchmark(r.get("benchmark")).map_err(|_| r.get("benchmark").to_string());
        benchmarks
            .entry((key, period))
            .or_default()
            .push((r.line, b));
    }
    benchmarks
}

/// The parsed benchmarks of result row `r`; those kept as text are
/// appended to its commentary. `None` when the commentary outgrows the text
/// limit (reported at the result's commentary).
fn attach(
    cx: &mut Ctx,
    t: &Table,
    r: &Row,
    list: Vec<ParsedBenchmark>,
    commentary: &mut Option<Text>,
) -> Option<Vec<Benchmark>> {
    let mut bms = Vec::new();
    for (_, b) in list {
        match b {
            Ok(b) => bms.push(b),
            Err(text) => {
                let c = commentary
                    .as_ref()
                    .map(|c| format!("{c}\nBenchmark: {text}"))
                    .unwrap_or_else(|| format!("Benchmark: {text}"));
                let what = "the commentary with the benchmarks kept as text";
                *commentary = Some(cx.composed(t, r, "commentary", what, &c)?);
            }
        }
    }
    Some(bms)
}

/// The derived indicator of a breakdown row (a disaggregation is its own
/// indicator); `None` when reported.
fn derived(
    cx: &mut Ctx,
    t: &Table,
    r: &Row,
    row: &ResultRow,
    breakdown: &str,
) -> Option<IndicatorSpec> {
    let Some(spec) = &row.spec else {
        cx.err(t, r, "breakdown", "a breakdown needs indicators.csv in the same import (the breakdown indicator is derived from it)");
        return None;
    };
    let mut d = spec.clone();
    d.reference = match &spec.reference {
        None => None,
        Some(rf) => Some(cx.composed(
            t,
            r,
            "breakdown",
            "the breakdown indicator's reference",
            &format!("{rf} [{breakdown}]"),
        )?),
    };
    d.title = cx.composed(
        t,
        r,
        "breakdown",
        "the breakdown indicator's title",
        &format!("{} [{breakdown}]", spec.title),
    )?;
    Some(d)
}

/// False when the period is not one of the indicator's (reported; a row
/// without a value is a warning, not an error).
fn fits_period(cx: &mut Ctx, t: &Table, r: &Row, row: &ResultRow) -> bool {
    let Some(spec) = &row.spec else {
        return true;
    };
    let (key, period) = (&row.key, row.period);
    if period.fits(spec.frequency) {
        return true;
    }
    if row.result.value().is_none() {
        cx.warn(
            t,
            r,
            format!(
                "not imported: {key} reports {} and {period} is not one of its periods; the row carries no value ({})",
                spec.frequency.name(),
                r.get("result")
            ),
        );
        return false;
    }
    cx.err(
        t,
        r,
        "period",
        format!(
            "the indicator reports {}; {period} is not one of its periods",
            spec.frequency.name()
        ),
    );
    false
}

/// Read the cells of one result row; `None` when reported.
fn read_row(cx: &mut Ctx, known: &Known, t: &Table, r: &Row) -> Option<ResultRow> {
    let ind = resolve(cx, known, t, r);
    let period = cx.period(t, r, "period");
    let time = cx.recorded(t, r, "recorded_at");
    let actor = cx.actor(t, r);
    let restate = match r.get("kind").to_lowercase().as_str() {
        "record" => false,
        "restate" => true,
        _ => {
            cx.err(t, r, "kind", "expected record or restate");
            return None;
        }
    };
    let reason = cx.reason(t, r, restate, "a restate row replaces an existing result");
    let mut result = match parse::parse_result(r.get("result")) {
        Ok(v) => Some(v),
        Err(e) => {
            cx.err(t, r, "result", e.to_string());
            None
        }
    };
    if let (Some(ResultValue::Measured { label, .. }), Some(_)) =
        (result.as_mut(), r.opt("result_label"))
    {
        if label.is_none() {
            *label = Some(cx.text(t, r, "result_label")?);
        }
    }
    check_sample_size(cx, t, r);
    let intervention = intervention(cx, t, r);
    let commentary = cx.opt_text(t, r, "commentary");
    if let (Some(res), Some((_, Some(spec)))) = (&result, &ind) {
        if let Err(e) = perfledger_domain::fit::result_fits(res, spec.data_type) {
            cx.err(
                t,
                r,
                "result",
                format!("does not fit the indicator's data type: {e}"),
            );
            return None;
        }
    }
    let (key, spec) = ind?;
    Some(ResultRow {
        key,
        spec,
        period: period?,
        restate,
        by: Recorded {
            time: time?,
            actor: actor?,
            reason: reason?,
        },
        result: result?,
        intervention: intervention?,
        commentary: commentary?,
    })
}

/// A sample size is a whole number of respondents (checked only).
fn check_sample_size(cx: &mut Ctx, t: &Table, r: &Row) {
    if let Some(s) = r.opt("sample_size") {
        if parse::parse_amount(s)
            .map(|n| n.is_negative())
            .unwrap_or(true)
            || s.contains('(')
        {
            cx.err(
                t,
                r,
                "sample_size",
                "expected a whole number of respondents, e.g. 1,587",
            );
        }
    }
}

/// The intervention level, when given; `None` when reported.
fn intervention(cx: &mut Ctx, t: &Table, r: &Row) -> Option<Option<InterventionLevel>> {
    match r.opt("intervention") {
        None => Some(None),
        Some(v) => match parse_intervention(v) {
            Some(l) => Some(Some(l)),
            None => {
                cx.err(
                    t,
                    r,
                    "intervention",
                    "expected an intervention level, e.g. Level 2",
                );
                None
            }
        },
    }
}
