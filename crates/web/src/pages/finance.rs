//! `/finance`: the revenue, capital and savings tables of a unit (or the
//! council) for a period, in £000.
//!
//! Invariant: a figure carried forward from an earlier period of the
//! financial year is marked "as at" that period, never shown as if it had
//! been submitted for the period asked for.

use std::fmt::Write;

use perfledger_domain::period::Period;
use perfledger_readmodel::FinanceView;

use super::frame::{bar, footer, period_select, scope_name, unit_select};
use super::{Res, M};
use crate::html::{self, esc, money, pct_1dp, slippage_pct};
use crate::params::{self, ctx, recorded_at};
use crate::{page, App};

pub(crate) fn finance(app: &App, m: &M) -> Res {
    let rm = app.rm();
    let c = ctx(rm, m)?;
    let known = app.periods()?;
    let period = params::period(m, &known)?;
    let extra = format!("{}{}", unit_select(app, &c)?, period_select(&known, period));
    let bar = bar(app, &c, "/finance", vec![], extra)?;
    let scope = scope_name(c.unit());
    let Some(period) = period else {
        return page(html::layout(
            &app.web.title,
            &format!("Finance — {scope}"),
            "finance",
            Some(&bar),
            "<p>No periods recorded yet.</p>",
        ));
    };
    let f = rm.finance(c.unit(), period, c.at())?;
    if f.is_empty() {
        let body = format!(
            "<p id=\"no-data\">No data: no revenue, capital or savings figures are recorded for {} in {} (financial year {}).</p>{}",
            esc(&scope),
            esc(&period.to_string()),
            esc(&period.financial_year().to_string()),
            footer(c.seq, None, recorded_at(rm, c.seq)?)
        );
        return page(html::layout(
            &app.web.title,
            &format!("Finance — {scope}, {period}"),
            "finance",
            Some(&bar),
            &body,
        ));
    }
    let mut b = String::new();
    let carried = f.carried_forward();
    if !carried.is_empty() {
        let list: Vec<String> = carried.iter().map(|p| p.to_string()).collect();
        let _ = write!(
            b,
            "<p class=\"note\" id=\"carried-forward\">Figures marked “as at” are carried forward from {} (none was submitted for {}).</p>",
            esc(&list.join(", ")),
            esc(&period.to_string())
        );
    }
    b.push_str(&revenue_table(&f, period));
    b.push_str(&capital_table(&f, period));
    b.push_str(&savings_table(&f, period));
    b.push_str(&footer(c.seq, None, recorded_at(rm, c.seq)?));
    page(html::layout(
        &app.web.title,
        &format!("Finance — {scope} — {period}"),
        "finance",
        Some(&bar),
        &b,
    ))
}

/// The note after a figure carried forward from an earlier period of the
/// year (`p`, the period it was submitted for), or nothing when it was
/// submitted for `period` itself.
fn as_at(p: Option<Period>, period: Period, what: &str) -> String {
    match p {
        Some(p) if p != period => format!(
            " <small class=\"as-at\">({what} as at {})</small>",
            esc(&p.to_string())
        ),
        _ => String::new(),
    }
}

/// Revenue budget monitoring: one row per service line, then the total.
fn revenue_table(f: &FinanceView, period: Period) -> String {
    let mut b = String::new();
    b.push_str("<h2>Revenue</h2>");
    let _ = write!(b, "<table id=\"revenue\"><caption>Revenue budget monitoring, {} (£000)</caption><thead><tr><th scope=\"col\">Unit</th><th scope=\"col\">Service line</th><th scope=\"col\" class=\"num\">Original budget</th><th scope=\"col\" class=\"num\">Revised budget</th><th scope=\"col\" class=\"num\">Forecast</th><th scope=\"col\" class=\"num\">Variation</th><th scope=\"col\" class=\"num\">% variation of revised budget</th></tr></thead><tbody>", esc(&period.to_string()));
    for r in &f.revenue {
        let _ = write!(
            b,
            "<tr><td>{}</td><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&r.unit),
            esc(&r.line),
            money(r.figures.original),
            money(r.figures.revised),
            money(r.figures.forecast) + &as_at(r.forecast_period, period, "forecast"),
            money(r.variation),
            pct_1dp(r.variation_percent_1dp)
        );
    }
    let t = &f.revenue_total;
    let _ = write!(
        b,
        "<tr class=\"total\"><td></td><th scope=\"row\">Total</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></tbody></table>",
        money(t.original),
        money(t.revised),
        money(t.forecast),
        t.variation().map(money).unwrap_or_else(|_| "–".into()),
        pct_1dp(t.variation_percent_1dp().ok().flatten())
    );
    b
}

/// The capital programme: one row per scheme, then the total.
fn capital_table(f: &FinanceView, period: Period) -> String {
    let mut b = String::new();
    b.push_str("<h2>Capital</h2>");
    let _ = write!(b, "<table id=\"capital\"><caption>Capital programme, {} (£000)</caption><thead><tr><th scope=\"col\">Unit</th><th scope=\"col\">Scheme</th><th scope=\"col\" class=\"num\">Latest approved budget</th><th scope=\"col\" class=\"num\">Additions / (deletions)</th><th scope=\"col\" class=\"num\">(Slippage) / accelerated spend</th><th scope=\"col\" class=\"num\">Proposed budget</th><th scope=\"col\" class=\"num\">Forecast to year end</th><th scope=\"col\" class=\"num\">Variance from approved budget</th><th scope=\"col\" class=\"num\">% slippage</th></tr></thead><tbody>", esc(&period.to_string()));
    for r in &f.capital {
        let _ = write!(
            b,
            "<tr><td>{}</td><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&r.unit),
            esc(&r.line),
            money(r.figures.approved),
            money(r.figures.additions),
            money(r.figures.slippage),
            money(r.proposed),
            money(r.figures.forecast) + &as_at(r.forecast_period, period, "forecast"),
            money(r.variance),
            slippage_pct(r.slippage_percent)
        );
    }
    let t = &f.capital_total;
    let _ = write!(
        b,
        "<tr class=\"total\"><td></td><th scope=\"row\">Total</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></tbody></table>",
        money(t.approved),
        money(t.additions),
        money(t.slippage),
        t.proposed().map(money).unwrap_or_else(|_| "–".into()),
        money(t.forecast),
        t.variance().map(money).unwrap_or_else(|_| "–".into()),
        slippage_pct(t.slippage_percent_whole())
    );
    b
}

/// Savings delivery: one row per saving, then the total.
fn savings_table(f: &FinanceView, period: Period) -> String {
    let mut b = String::new();
    b.push_str("<h2>Savings</h2>");
    let _ = write!(b, "<table id=\"savings\"><caption>Savings delivery, {} (£000)</caption><thead><tr><th scope=\"col\">Reference</th><th scope=\"col\">Unit</th><th scope=\"col\">Description</th><th scope=\"col\" class=\"num\">Target</th><th scope=\"col\" class=\"num\">Achieved</th><th scope=\"col\" class=\"num\">% achieved</th></tr></thead><tbody>", esc(&period.to_string()));
    for s in &f.savings {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&s.reference),
            esc(&s.unit),
            esc(&s.description),
            money(s.line.target.abs()),
            money(s.line.achieved) + &as_at(s.reported_period, period, "reported"),
            pct_1dp(s.achieved_percent_1dp)
        );
    }
    let _ = write!(
        b,
        "<tr class=\"total\"><th scope=\"row\">Total</th><td></td><td></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></tbody></table>",
        money(f.savings_target.abs()),
        money(f.savings_achieved),
        pct_1dp(perfledger_domain::saving::achieved_percent_1dp(f.savings_achieved, f.savings_target))
    );
    b
}
