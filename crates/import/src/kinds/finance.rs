//! Finance: `revenue.csv` and `capital.csv`, the budget monitoring tables
//! (£000) of a unit for a quarter.
//!
//! Invariant: a `line` row defines its line once, sets the line's budget
//! for the financial year (revenue: a changed budget later is a revision
//! with a reason; capital: a changed approved budget is set again) and
//! submits its forecast; a later row that replaces a line's forecast gives
//! a reason, kept in the comment. A `total` row is a check only: a total
//! that differs from the sum of its lines is a warning, never a line.
//! Rows are read in recorded-time order.

use std::collections::{BTreeMap, BTreeSet};

use perfledger_domain::budget::LineSpec;
use perfledger_domain::{Command, FinancialYear, Fixed, Period, Text, Timestamp};

use crate::build::{Ctx, Known};
use crate::order::{Items, Recorded};
use crate::printed_amount;
use crate::table::{Row, Table};

pub(crate) const REVENUE: &[(&str, bool)] = &[
    ("unit", true),
    ("period", true),
    ("row_type", true),
    ("line", true),
    ("original_budget", false),
    ("revised_budget", true),
    ("forecast", true),
    ("comment", false),
    ("actor", true),
    ("recorded_at", false),
    ("reason", false),
    ("source", false),
];

pub(crate) const CAPITAL: &[(&str, bool)] = &[
    ("unit", true),
    ("period", true),
    ("row_type", true),
    ("line", true),
    ("approved_budget", true),
    ("additions_deletions", false),
    ("slippage_accelerated", false),
    ("forecast", true),
    ("comment", false),
    ("actor", true),
    ("recorded_at", false),
    ("reason", false),
    ("source", false),
];

/// The figure columns of a revenue row and their printed names.
const REVENUE_FIGURES: [(&str, &str); 3] = [
    ("original_budget", "original budget"),
    ("revised_budget", "revised budget"),
    ("forecast", "forecast"),
];

/// The figure columns of a capital row and their printed names.
const CAPITAL_FIGURES: [(&str, &str); 4] = [
    ("approved_budget", "approved budget"),
    ("additions_deletions", "additions/deletions"),
    ("slippage_accelerated", "slippage/accelerated"),
    ("forecast", "forecast"),
];

/// The rows of a table in recorded-time order (unparsable times first,
/// then by line; their errors are reported when the row is read).
fn in_time_order(t: &Table) -> Vec<&Row> {
    let mut rows: Vec<&Row> = t.rows.iter().collect();
    rows.sort_by_key(|r| (Timestamp::parse(r.get("recorded_at")).ok(), r.line));
    rows
}

/// `line` or `total`; `None` when reported.
fn is_total(cx: &mut Ctx, t: &Table, r: &Row) -> Option<bool> {
    match r.get("row_type").to_lowercase().as_str() {
        "line" => Some(false),
        "total" => Some(true),
        _ => {
            cx.err(t, r, "row_type", "expected line or total");
            None
        }
    }
}

/// The sums of the lines of each unit and quarter, and the printed totals
/// to check against them.
struct Totals<'a, const N: usize> {
    /// The figure columns and their printed names.
    names: [(&'static str, &'static str); N],
    sums: BTreeMap<(String, Period), [Fixed; N]>,
    printed: Vec<(&'a Row, String, Period, [Fixed; N])>,
}

impl<'a, const N: usize> Totals<'a, N> {
    fn new(names: [(&'static str, &'static str); N]) -> Self {
        Totals {
            names,
            sums: BTreeMap::new(),
            printed: Vec::new(),
        }
    }

    /// Add line row `r` to its unit's and quarter's sums; a sum beyond the
    /// largest amount is an error at the row.
    fn add_line(&mut self, cx: &mut Ctx, t: &Table, r: &Row, period: Period, figs: [Fixed; N]) {
        let s = self
            .sums
            .entry((r.get("unit").to_string(), period))
            .or_insert([Fixed::ZERO; N]);
        for (i, v) in figs.into_iter().enumerate() {
            match s[i].checked_add(v) {
                Some(sum) => s[i] = sum,
                None => cx.err(
                    t,
                    r,
                    self.names[i].0,
                    "the lines of this unit and quarter add up to more than the largest amount",
                ),
            }
        }
    }

    /// Warn about every printed total that differs from its lines' sum
    /// (`skip_empty`: a figure left empty on the total row is not printed).
    fn check(self, cx: &mut Ctx, t: &Table, skip_empty: bool) {
        let names = self.names;
        for (r, unit, period, printed) in self.printed {
            let sum = self
                .sums
                .get(&(unit.clone(), period))
                .copied()
                .unwrap_or([Fixed::ZERO; N]);
            for (i, (col, name)) in names.iter().enumerate() {
                if skip_empty && r.get(col).is_empty() {
                    continue;
                }
                if sum[i] != printed[i] {
                    cx.warn(t, r, format!("printed total {name} of {unit} {period} is {}, the lines sum to {} (kept as printed; not imported)", printed_amount(printed[i]), printed_amount(sum[i])));
                }
            }
        }
    }
}

/// One revenue row, read.
struct RevenueRow {
    period: Period,
    by: Recorded,
    original: Fixed,
    revised: Fixed,
    forecast: Fixed,
    comment: Option<Text>,
}

/// Read the cells of a revenue row; `Some(None)` for a row with an error
/// (reported), `None` for an unknown row type (reported).
fn read_revenue(
    cx: &mut Ctx,
    known: &Known,
    t: &Table,
    r: &Row,
) -> Option<(bool, Option<RevenueRow>)> {
    known.check_unit(cx, t, r, "unit");
    let period = cx.quarter(t, r, "period");
    let time = cx.recorded(t, r, "recorded_at");
    let actor = cx.actor(t, r);
    let original = if r.get("original_budget").is_empty() {
        None
    } else {
        cx.amount(t, r, "original_budget").map(Some)
    }
    .unwrap_or(None);
    let revised = cx.amount(t, r, "revised_budget");
    let forecast = cx.amount(t, r, "forecast");
    let comment = cx.opt_text(t, r, "comment");
    let total = is_total(cx, t, r)?;
    let (Some(period), Some(time), Some(actor), Some(revised), Some(forecast), Some(comment)) =
        (period, time, actor, revised, forecast, comment)
    else {
        return Some((total, None));
    };
    let row = RevenueRow {
        period,
        by: Recorded {
            time,
            actor,
            reason: None,
        },
        original: original.unwrap_or(revised),
        revised,
        forecast,
        comment,
    };
    Some((total, Some(row)))
}

/// Revenue lines, budgets and forecasts.
pub(crate) fn revenue(cx: &mut Ctx, out: &mut Items, known: &Known, t: &Table) {
    let mut lines: BTreeSet<(String, String)> = BTreeSet::new();
    let mut budgets: BTreeMap<(String, String, FinancialYear), (Fixed, Fixed)> = BTreeMap::new();
    let mut forecasts: BTreeSet<(String, String, Period)> = BTreeSet::new();
    let mut totals = Totals::new(REVENUE_FIGURES);
    for r in in_time_order(t) {
        let Some((total, Some(mut row))) = read_revenue(cx, known, t, r) else {
            continue;
        };
        let unit = r.get("unit").to_string();
        let (period, figs) = (row.period, [row.original, row.revised, row.forecast]);
        if total {
            totals.printed.push((r, unit, period, figs));
            continue;
        }
        totals.add_line(cx, t, r, period, figs);
        let line = r.get("line").to_string();
        let fy = period.financial_year();
        let fkey = (unit.clone(), line.clone(), period);
        let replaces = forecasts.contains(&fkey);
        let bkey = (unit.clone(), line.clone(), fy);
        let budget_changes = budgets
            .get(&bkey)
            .is_some_and(|b| *b != (row.original, row.revised));
        let Some(reason) = cx.reason(
            t,
            r,
            replaces || budget_changes,
            "a later row replaces this line's forecast or budget",
        ) else {
            continue;
        };
        row.by.reason = reason;
        let Some((unit_t, line_t)) = line_texts(cx, t, r, &unit, &line) else {
            continue;
        };
        define_line(&mut lines, out, t, r, (&unit_t, &line_t), |spec| {
            Command::DefineRevenueLine { spec }
        });
        let budget = match budgets.get(&bkey) {
            None => Some(Command::SetBudget {
                unit: unit_t.clone(),
                line: line_t.clone(),
                year: fy,
                original: row.original,
                revised: row.revised,
            }),
            Some(_) if budget_changes => Some(Command::ReviseBudget {
                unit: unit_t.clone(),
                line: line_t.clone(),
                year: fy,
                original: row.original,
                revised: row.revised,
                reason: row
                    .by
                    .reason
                    .clone()
                    .expect("a budget change needs a reason (checked)"),
            }),
            Some(_) => None,
        };
        if let Some(c) = budget {
            out.fact(t, r, 1, &row.by, c);
        }
        budgets.insert(bkey, (row.original, row.revised));
        if replaces {
            if let Some(reason) = &row.by.reason {
                let Some(c) = cx.with_reason(t, r, row.comment.as_ref(), reason) else {
                    continue;
                };
                row.comment = Some(c);
            }
        }
        forecasts.insert(fkey);
        let command = Command::SubmitRevenueForecast {
            unit: unit_t,
            line: line_t,
            period,
            forecast: row.forecast,
            comment: row.comment,
        };
        out.fact(t, r, 2, &row.by, command);
    }
    totals.check(cx, t, true);
}

/// The unit and line of a finance row as command texts; `None` when over
/// the text limit (reported).
fn line_texts(cx: &mut Ctx, t: &Table, r: &Row, unit: &str, line: &str) -> Option<(Text, Text)> {
    let unit = cx.composed(t, r, "unit", "the unit code", unit);
    let line = cx.composed(t, r, "line", "the line name", line);
    Some((unit?, line?))
}

/// Define a line at the first row that names it (`define` makes the
/// revenue or capital command).
fn define_line(
    lines: &mut BTreeSet<(String, String)>,
    out: &mut Items,
    t: &Table,
    r: &Row,
    (unit, line): (&Text, &Text),
    define: fn(LineSpec) -> Command,
) {
    if lines.insert((unit.to_string(), line.to_string())) {
        let spec = LineSpec {
            unit: unit.clone(),
            name: line.clone(),
            description: None,
        };
        out.define(t, r, 0, define(spec));
    }
}

/// One capital row, read.
struct CapitalRow {
    period: Period,
    by: Recorded,
    /// approved budget, additions/deletions, slippage/accelerated, forecast
    figs: [Fixed; 4],
    comment: Option<Text>,
}

/// An optional capital figure: empty = 0.
fn zero_or_amount(cx: &mut Ctx, t: &Table, r: &Row, col: &str) -> Option<Fixed> {
    if r.get(col).is_empty() {
        Some(Fixed::ZERO)
    } else {
        cx.amount(t, r, col)
    }
}

/// Read the cells of a capital row, as [`read_revenue`].
fn read_capital(
    cx: &mut Ctx,
    known: &Known,
    t: &Table,
    r: &Row,
) -> Option<(bool, Option<CapitalRow>)> {
    known.check_unit(cx, t, r, "unit");
    let period = cx.quarter(t, r, "period");
    let time = cx.recorded(t, r, "recorded_at");
    let actor = cx.actor(t, r);
    let approved = cx.amount(t, r, "approved_budget");
    let additions = zero_or_amount(cx, t, r, "additions_deletions");
    let slippage = zero_or_amount(cx, t, r, "slippage_accelerated");
    let forecast = cx.amount(t, r, "forecast");
    let comment = cx.opt_text(t, r, "comment");
    let total = is_total(cx, t, r)?;
    let (
        Some(period),
        Some(time),
        Some(actor),
        Some(approved),
        Some(additions),
        Some(slippage),
        Some(forecast),
        Some(comment),
    ) = (
        period, time, actor, approved, additions, slippage, forecast, comment,
    )
    else {
        return Some((total, None));
    };
    let row = CapitalRow {
        period,
        by: Recorded {
            time,
            actor,
            reason: None,
        },
        figs: [approved, additions, slippage, forecast],
        comment,
    };
    Some((total, Some(row)))
}

/// Capital lines, approved budgets and forecasts.
pub(crate) fn capital(cx: &mut Ctx, out: &mut Items, known: &Known, t: &Table) {
    let mut lines: BTreeSet<(String, String)> = BTreeSet::new();
    let mut budgets: BTreeMap<(String, String, FinancialYear), Fixed> = BTreeMap::new();
    let mut forecasts: BTreeSet<(String, String, Period)> = BTreeSet::new();
    let mut totals = Totals::new(CAPITAL_FIGURES);
    for r in in_time_order(t) {
        let Some((total, Some(mut row))) = read_capital(cx, known, t, r) else {
            continue;
        };
        let unit = r.get("unit").to_string();
        let period = row.period;
        if total {
            totals.printed.push((r, unit, period, row.figs));
            continue;
        }
        totals.add_line(cx, t, r, period, row.figs);
        let [approved, additions, slippage, forecast] = row.figs;
        let line = r.get("line").to_string();
        let fy = period.financial_year();
        let fkey = (unit.clone(), line.clone(), period);
        let replaces = forecasts.contains(&fkey);
        let Some(reason) = cx.reason(t, r, replaces, "a later row replaces this line's forecast")
        else {
            continue;
        };
        row.by.reason = reason;
        let Some((unit_t, line_t)) = line_texts(cx, t, r, &unit, &line) else {
            continue;
        };
        define_line(&mut lines, out, t, r, (&unit_t, &line_t), |spec| {
            Command::DefineCapitalLine { spec }
        });
        let bkey = (unit.clone(), line.clone(), fy);
        if budgets.get(&bkey) != Some(&approved) {
            budgets.insert(bkey, approved);
            let command = Command::SetCapitalBudget {
                unit: unit_t.clone(),
                line: line_t.clone(),
                year: fy,
                approved,
            };
            out.fact(t, r, 1, &row.by, command);
        }
        forecasts.insert(fkey);
        let command = Command::SubmitCapitalForecast {
            unit: unit_t,
            line: line_t,
            period,
            additions,
            slippage,
            forecast,
            comment: row.comment,
        };
        out.fact(t, r, 2, &row.by, command);
    }
    totals.check(cx, t, false);
}
