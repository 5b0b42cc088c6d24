//! `finance`: revenue, capital and savings lines of a unit (or the
//! council) for a quarter or year, with totals; a figure carried forward
//! from an earlier period says so ("forecast as at ...").

use perfledger_domain::{Fixed, Period};
use perfledger_readmodel::views::{self, FinanceJson};
use perfledger_readmodel::FinanceView;

use super::{amount, csv_out, pct1, pct_whole, table};
use crate::args::Format;
use crate::error::Res;

/// What a table or CSV row prints beside a figure carried forward from an
/// earlier period (empty when the figure is the period's own).
fn carried(v: &FinanceView, p: Option<Period>) -> String {
    match p {
        Some(at) if at != v.period => format!("forecast as at {at}"),
        _ => String::new(),
    }
}

/// `finance`.
pub fn finance(f: Format, v: &FinanceView) -> Res<()> {
    match f {
        Format::Json => out!("{}", views::to_json(&FinanceJson::from(v), true)),
        Format::Csv | Format::Table => {
            if v.is_empty() {
                let scope = v.unit.as_deref().unwrap_or("council-wide");
                let message = format!(
                    "no data: no revenue, capital or savings figures for {scope} in {} (financial year {}) as of sequence {}",
                    v.period,
                    v.period.financial_year(),
                    v.as_of
                );
                if f == Format::Csv {
                    // Stdout stays a (header-only) CSV; the note goes to stderr.
                    eprintln!("{message}");
                } else {
                    out!("Finance {scope} {}: {message}", v.period);
                    return Ok(());
                }
            }
            if f == Format::Csv {
                return csv_out(&CSV_HEADER, finance_csv_rows(v));
            }
            let header = [
                "table",
                "line",
                "unit",
                "budget",
                "forecast",
                "variation",
                "percent",
                "note",
            ];
            let rows = finance_rows(v);
            out!(
                "Finance {} {} (as of sequence {}), £000",
                v.unit.as_deref().unwrap_or("council-wide"),
                v.period,
                v.as_of
            );
            table(&header, &rows);
            let carried = v.carried_forward();
            if !carried.is_empty() {
                let list: Vec<String> = carried.iter().map(|p| p.to_string()).collect();
                out!(
                    "Figures marked \"as at\" are carried forward from {} (none was submitted for {}).",
                    list.join(", "),
                    v.period
                );
            }
        }
    }
    Ok(())
}

/// The CSV's columns: `kind` is `line` or `total` (a spreadsheet sums the
/// `line` rows; the `total` rows come after every line); amounts are plain
/// numbers (`-4331`), `percent` the number before `%` (`-50.7`, slippage
/// `-12`, negative = under budget / slipped).
const CSV_HEADER: [&str; 9] = [
    "table",
    "kind",
    "line",
    "unit",
    "budget",
    "forecast",
    "variation",
    "percent",
    "note",
];

/// The CSV rows (see [`CSV_HEADER`]): numbers a spreadsheet can sum.
fn finance_csv_rows(v: &FinanceView) -> Vec<Vec<String>> {
    let n = |x: Fixed| x.to_string();
    let o = |x: Option<Fixed>| x.map(|x| x.to_string()).unwrap_or_default();
    let unit = v.unit.as_deref().unwrap_or("");
    let mut lines = Vec::new();
    for r in &v.revenue {
        lines.push(vec![
            "revenue".into(),
            "line".into(),
            r.line.clone(),
            r.unit.clone(),
            n(r.figures.revised),
            n(r.figures.forecast),
            n(r.variation),
            o(r.variation_percent_1dp),
            carried(v, r.forecast_period),
        ]);
    }
    for r in &v.capital {
        lines.push(vec![
            "capital".into(),
            "line".into(),
            r.line.clone(),
            r.unit.clone(),
            n(r.figures.approved),
            n(r.figures.forecast),
            n(r.variance),
            o(r.slippage_percent),
            carried(v, r.forecast_period),
        ]);
    }
    for s in &v.savings {
        lines.push(vec![
            "savings".into(),
            "line".into(),
            s.reference.clone(),
            s.unit.clone(),
            n(s.line.target),
            n(s.line.achieved),
            String::new(),
            o(s.achieved_percent_1dp),
            carried(v, s.reported_period).replace("forecast as at", "reported as at"),
        ]);
    }
    let (rt, ct) = (&v.revenue_total, &v.capital_total);
    let total = |table: &str, budget, forecast, variation, percent| {
        let row: Vec<String> = vec![
            table.into(),
            "total".into(),
            "Total".into(),
            unit.into(),
            budget,
            forecast,
            variation,
            percent,
            String::new(),
        ];
        row
    };
    lines.push(total(
        "revenue",
        n(rt.revised),
        n(rt.forecast),
        o(rt.variation().ok()),
        o(rt.variation_percent_1dp().ok().flatten()),
    ));
    lines.push(total(
        "capital",
        n(ct.approved),
        n(ct.forecast),
        o(ct.variance().ok()),
        o(ct.slippage_percent_whole()),
    ));
    lines.push(total(
        "savings",
        n(v.savings_target),
        n(v.savings_achieved),
        String::new(),
        String::new(),
    ));
    lines
}

/// The table rows: revenue lines and total, capital lines and total,
/// savings plans, printed as the reports print them.
fn finance_rows(v: &FinanceView) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let unit = v.unit.as_deref().unwrap_or("");
    let or_zero = |r: Result<Fixed, _>| amount(r.unwrap_or(Fixed::ZERO));
    for r in &v.revenue {
        rows.push(vec![
            "revenue".into(),
            r.line.clone(),
            r.unit.clone(),
            amount(r.figures.revised),
            amount(r.figures.forecast),
            amount(r.variation),
            pct1(r.variation_percent_1dp),
            carried(v, r.forecast_period),
        ]);
    }
    let t = &v.revenue_total;
    rows.push(vec![
        "revenue".into(),
        "Total".into(),
        unit.into(),
        amount(t.revised),
        amount(t.forecast),
        or_zero(t.variation()),
        pct1(t.variation_percent_1dp().ok().flatten()),
        String::new(),
    ]);
    for r in &v.capital {
        rows.push(vec![
            "capital".into(),
            r.line.clone(),
            r.unit.clone(),
            amount(r.figures.approved),
            amount(r.figures.forecast),
            amount(r.variance),
            pct_whole(r.slippage_percent),
            carried(v, r.forecast_period),
        ]);
    }
    let t = &v.capital_total;
    rows.push(vec![
        "capital".into(),
        "Total".into(),
        unit.into(),
        amount(t.approved),
        amount(t.forecast),
        or_zero(t.variance()),
        pct_whole(t.slippage_percent_whole()),
        String::new(),
    ]);
    for s in &v.savings {
        rows.push(vec![
            "savings".into(),
            s.reference.clone(),
            s.unit.clone(),
            amount(s.line.target),
            amount(s.line.achieved),
            String::new(),
            pct1(s.achieved_percent_1dp),
            carried(v, s.reported_period).replace("forecast as at", "reported as at"),
        ]);
    }
    rows
}
