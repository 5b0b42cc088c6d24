//! `finance`: revenue, capital and savings lines of a unit (or the
//! council) for a quarter or year, with totals; a figure carried forward
//! from an earlier period says so ("forecast as at ...").

use perfledger_domain::{Fixed, Period};
use perfledger_readmodel::FinanceView;
use serde_json::{json, Value};

use super::{amount, csv_out, pct1, pct_whole, table};
use crate::args::Format;
use crate::error::Res;

/// `finance` JSON.
pub fn finance_json(v: &FinanceView) -> Value {
    let as_at = |p: Option<Period>| p.map(|p| p.to_string());
    let rev = |line: &str,
               unit: &str,
               f: &perfledger_domain::budget::RevenueFigures,
               at: Option<Period>| {
        let var = f.variation().unwrap_or(Fixed::ZERO);
        json!({
            "line": line, "unit": unit,
            "original": amount(f.original), "revised": amount(f.revised), "forecast": amount(f.forecast),
            "variation": amount(var),
            "variation_percent": pct1(f.variation_percent_1dp().ok().flatten()),
            "forecast_as_at": as_at(at),
        })
    };
    let cap = |line: &str,
               unit: &str,
               f: &perfledger_domain::budget::CapitalFigures,
               at: Option<Period>| {
        json!({
            "line": line, "unit": unit,
            "approved": amount(f.approved), "additions": amount(f.additions), "slippage": amount(f.slippage),
            "proposed": amount(f.proposed().unwrap_or(Fixed::ZERO)), "forecast": amount(f.forecast),
            "variance": amount(f.variance().unwrap_or(Fixed::ZERO)),
            "slippage_percent": pct_whole(f.slippage_percent_whole()),
            "forecast_as_at": as_at(at),
        })
    };
    let unit = v.unit.as_deref().unwrap_or("");
    json!({
        "as_of": v.as_of,
        "unit": v.unit,
        "period": v.period.to_string(),
        "no_data": v.is_empty(),
        "carried_forward": v.carried_forward().iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "revenue": v.revenue.iter().map(|r| rev(&r.line, &r.unit, &r.figures, r.forecast_period)).collect::<Vec<_>>(),
        "revenue_total": rev("Total", unit, &v.revenue_total, None),
        "capital": v.capital.iter().map(|r| cap(&r.line, &r.unit, &r.figures, r.forecast_period)).collect::<Vec<_>>(),
        "capital_total": cap("Total", unit, &v.capital_total, None),
        "savings": v.savings.iter().map(|s| json!({
            "reference": s.reference, "unit": s.unit, "description": s.description,
            "target": amount(s.line.target), "achieved": amount(s.line.achieved),
            "achieved_percent": pct1(s.achieved_percent_1dp),
            "reported_as_at": as_at(s.reported_period),
        })).collect::<Vec<_>>(),
        "savings_target": amount(v.savings_target),
        "savings_achieved": amount(v.savings_achieved),
    })
}

/// What a table or CSV row prints beside a figure carried forward from an
/// earlier period (empty when the figure is the period's own).
fn carried(v: &FinanceView, p: &Value) -> String {
    match p.as_str() {
        Some(at) if at != v.period.to_string() => format!("forecast as at {at}"),
        _ => String::new(),
    }
}

/// `finance`.
pub fn finance(f: Format, v: &FinanceView) -> Res<()> {
    let j = finance_json(v);
    match f {
        Format::Json => out!("{j:#}"),
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
            let rows = finance_rows(v, &j);
            if f == Format::Csv {
                return csv_out(&header, rows);
            }
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

/// The table and CSV rows: revenue lines and total, capital lines and
/// total, savings plans (from the JSON, so every surface prints the same
/// figures).
fn finance_rows(v: &FinanceView, j: &Value) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    for r in j["revenue"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(std::iter::once(&j["revenue_total"]))
    {
        rows.push(vec![
            "revenue".into(),
            s(r, "line"),
            s(r, "unit"),
            s(r, "revised"),
            s(r, "forecast"),
            s(r, "variation"),
            s(r, "variation_percent"),
            carried(v, &r["forecast_as_at"]),
        ]);
    }
    for r in j["capital"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(std::iter::once(&j["capital_total"]))
    {
        rows.push(vec![
            "capital".into(),
            s(r, "line"),
            s(r, "unit"),
            s(r, "approved"),
            s(r, "forecast"),
            s(r, "variance"),
            s(r, "slippage_percent"),
            carried(v, &r["forecast_as_at"]),
        ]);
    }
    for r in j["savings"].as_array().into_iter().flatten() {
        rows.push(vec![
            "savings".into(),
            s(r, "reference"),
            s(r, "unit"),
            s(r, "target"),
            s(r, "achieved"),
            String::new(),
            s(r, "achieved_percent"),
            carried(v, &r["reported_as_at"]).replace("forecast as at", "reported as at"),
        ]);
    }
    rows
}
