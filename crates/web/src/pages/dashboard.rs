//! `/dashboard`: the unit/quarter (or council-wide) dashboard — seals of
//! the scope and period, finance summary, indicators by RAG and direction
//! of travel, key actions, risks, HR and customer experience.
//!
//! Invariant: every figure shown is the read model's dashboard at the
//! request's one sequence, and the footer prints that dashboard's digest
//! (the one seals pin), so the page and its seal can be compared.

use std::fmt::Write;

use perfledger_domain::action::ActionStatus;
use perfledger_domain::dashboard::{Dashboard, RagBreakdown, RAGS};
use perfledger_domain::ids::normalise_key;
use perfledger_domain::rag::Rag;
use perfledger_domain::risk::Band;
use perfledger_readmodel::render;

use super::frame::{bar, footer, period_select, scope_name, unit_select};
use super::heat_map::heat_map_table;
use super::labels::{band_class, status_class, type_name};
use super::seals::seal_box;
use super::{Res, M};
use crate::html::{self, esc, money, pct, pct_1dp, query, slippage_pct};
use crate::params::{self, ctx, recorded_at};
use crate::{page, App};

/// Which RAG columns to show: four-level by default; Amber when used; GA/RA
/// when used or when Amber is not.
fn rag_columns(b: &RagBreakdown) -> Vec<Rag> {
    let n = |r: Rag| b.counts.get(&r).copied().unwrap_or(0);
    let amber = n(Rag::Amber) > 0;
    let four = n(Rag::GreenAmber) + n(Rag::RedAmber) > 0 || !amber;
    RAGS.into_iter()
        .filter(|r| match r {
            Rag::Amber => amber,
            Rag::GreenAmber | Rag::RedAmber => four,
            _ => true,
        })
        .collect()
}

fn overview_table(d: &Dashboard) -> String {
    let cols = rag_columns(&d.indicators);
    let mut s = String::from(
        "<table id=\"rag-table\" class=\"overview\"><caption>Overview of performance: RAG ratings and long-term direction of travel by indicator type</caption>\
         <thead><tr><th scope=\"col\">Type</th>",
    );
    for r in &cols {
        let _ = write!(
            s,
            "<th scope=\"col\" class=\"{}\">{}</th>",
            html::rag_class(*r),
            html::rag_name(*r)
        );
    }
    s.push_str(
        "<th scope=\"col\">Total RAG ratings</th><th scope=\"col\">Monitor</th>\
         <th scope=\"col\">DoT improving or same</th><th scope=\"col\">DoT worsening</th>\
         <th scope=\"col\">No DoT</th><th scope=\"col\">Reported this quarter</th></tr></thead><tbody>",
    );
    let count = |b: &RagBreakdown, r: Rag| b.counts.get(&r).copied().unwrap_or(0);
    for (t, b) in &d.indicators_by_type {
        let _ = write!(
            s,
            "<tr><th scope=\"row\"><abbr title=\"{}\">{}</abbr></th>",
            type_name(*t),
            t.label()
        );
        for r in &cols {
            let _ = write!(s, "<td class=\"num\">{}</td>", count(b, *r));
        }
        let _ = write!(
            s,
            "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            b.rated, b.monitor, b.improved_or_same, b.worsened, b.no_direction, b.reported
        );
    }
    let b = &d.indicators;
    s.push_str("<tr class=\"total\"><th scope=\"row\">Overall</th>");
    for r in &cols {
        let p = b.percent_of_rated.get(r).copied().flatten();
        let _ = write!(
            s,
            "<td class=\"num\" data-rag=\"{}\">{} ({})</td>",
            render::rag_label(*r),
            pct(p),
            count(b, *r)
        );
    }
    let rated_pct = if b.rated > 0 { Some(100) } else { None };
    let _ = write!(
        s,
        "<td class=\"num\">{} ({})</td><td class=\"num\">{} ({})</td><td class=\"num\">{} ({})</td><td class=\"num\">{} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        pct(rated_pct),
        b.rated,
        pct(b.monitor_percent),
        b.monitor,
        pct(b.improved_or_same_percent),
        b.improved_or_same,
        pct(b.worsened_percent),
        b.worsened,
        b.no_direction,
        b.reported
    );
    s.push_str("</tbody></table><p class=\"muted\">Percentages of RAG colours are of rated indicators; Monitor is of all reported; direction of travel percentages are of those with a direction. CPI Corporate Plan, SPI Commissioning Plan, MPI Management Agreement, KPI Contract indicators.</p>");
    s
}

pub(crate) fn dashboard(app: &App, m: &M) -> Res {
    let rm = app.rm();
    let c = ctx(rm, m)?;
    let known = app.periods()?;
    let period = params::period(m, &known)?;
    let extra = format!("{}{}", unit_select(app, &c)?, period_select(&known, period));
    let bar = bar(app, &c, "/dashboard", vec![], extra)?;
    let scope = scope_name(c.unit());
    let Some(period) = period else {
        let body = "<p>No periods have been recorded yet, so there is no dashboard to show.</p>";
        return page(html::layout(
            &app.web.title,
            &format!("{scope} dashboard"),
            "dashboard",
            Some(&bar),
            body,
        ));
    };
    let view = rm.dashboard(c.unit(), period, c.at())?;
    let d = &view.dashboard;
    let ps = period.to_string();
    let unit_q = c.unit().unwrap_or("");
    let mut b = String::new();

    // Seals of this unit/period.
    let want_unit = c.unit().map(normalise_key);
    for rec in rm.seals(c.at())? {
        let su = rec.seal.unit.as_ref().map(|u| normalise_key(u.as_str()));
        if su == want_unit && rec.seal.period == period {
            b.push_str(&seal_box(app, &rec, Some(&view.digest))?);
        }
    }

    if view.no_data {
        let _ = write!(
            b,
            "<p class=\"notice\" id=\"no-data\">No data: nothing was reported for {} in {} as of sequence {}. \
             The zeros below are not figures; risks are the latest assessments.</p>",
            html::esc(&scope),
            html::esc(&ps),
            view.as_of
        );
    }

    b.push_str(&finance_summary(d, unit_q, &ps, &c.as_of_raw));
    b.push_str(&headline_table(d));
    b.push_str(&overview_table(d));
    b.push_str(&actions_section(d));
    b.push_str(&risks_section(d, unit_q, &c.as_of_raw));
    b.push_str(&hr_and_customer(d));
    let recorded = recorded_at(rm, c.seq)?;
    b.push_str(&footer(view.as_of, Some(&view.digest), recorded));
    page(html::layout(
        &app.web.title,
        &format!("{scope} dashboard — {ps}"),
        "dashboard",
        Some(&bar),
        &b,
    ))
}

/// The finance summary (the report's section 1.1): revenue variance, capital
/// variance and slippage, savings achieved, with a link to the lines.
fn finance_summary(d: &Dashboard, unit_q: &str, ps: &str, as_of_raw: &str) -> String {
    let mut b = String::new();
    b.push_str("<h2 id=\"finance\">Finance</h2>");
    let _ = write!(
        b,
        "<table id=\"finance-summary\"><caption>Finance summary, £000 (negative figures in brackets)</caption>\
         <thead><tr><th scope=\"col\">Revenue budget variance</th><th scope=\"col\">Capital variance (slippage %)</th><th scope=\"col\">Savings achieved</th></tr></thead>\
         <tbody><tr><td class=\"num figure\">{} ({})</td><td class=\"num figure\">{} {}</td><td class=\"num figure\">{} ({})</td></tr>\
         <tr class=\"muted\"><td class=\"num\">forecast {} against budget {}</td><td class=\"num\">forecast {} against approved {}</td><td class=\"num\">of {} target</td></tr></tbody></table>\
         <p class=\"noprint\"><a href=\"/finance{}\">Revenue, capital and savings lines</a></p>",
        money(d.revenue.variance),
        pct_1dp(d.revenue.variance_percent_1dp),
        money(d.capital.variance),
        slippage_pct(d.capital.slippage_percent),
        money(d.savings.achieved),
        pct_1dp(d.savings.achieved_percent_1dp),
        money(d.revenue.forecast),
        money(d.revenue.budget),
        money(d.capital.forecast),
        money(d.capital.approved),
        money(d.savings.target),
        esc(&query(&[("unit", unit_q), ("period", ps), ("as_of", as_of_raw)])),
    );
    b
}

/// The headline: indicators by RAG rating and direction of travel.
fn headline_table(d: &Dashboard) -> String {
    let mut b = String::new();
    b.push_str("<h2 id=\"performance\">Performance</h2>");
    // Headline: indicators and key actions by colour.
    let cols = rag_columns(&d.indicators);
    b.push_str("<table id=\"headline\"><caption>Indicators by RAG rating (percentage of rated, count) and direction of travel</caption><thead><tr><th scope=\"col\"></th>");
    for r in &cols {
        let _ = write!(
            b,
            "<th scope=\"col\" class=\"{}\">{}</th>",
            html::rag_class(*r),
            html::rag_name(*r)
        );
    }
    b.push_str("<th scope=\"col\">Improved / same (long term)</th><th scope=\"col\">Worsened (long term)</th></tr></thead><tbody><tr><th scope=\"row\">Indicators</th>");
    for r in &cols {
        let n = d.indicators.counts.get(r).copied().unwrap_or(0);
        let p = d.indicators.percent_of_rated.get(r).copied().flatten();
        let _ = write!(b, "<td class=\"num\">{} ({n})</td>", pct(p));
    }
    let _ = write!(
        b,
        "<td class=\"num\" id=\"dot-improved\">{} ({})</td><td class=\"num\" id=\"dot-worsened\">{} ({})</td></tr>",
        pct(d.indicators.improved_or_same_percent),
        d.indicators.improved_or_same,
        pct(d.indicators.worsened_percent),
        d.indicators.worsened
    );
    b.push_str("</tbody></table>");
    b
}

/// Key actions by status (or a note that none was reported).
fn actions_section(d: &Dashboard) -> String {
    let mut b = String::new();
    b.push_str("<h2 id=\"actions\">Key actions</h2>");
    if d.actions.total == 0 {
        b.push_str("<p>No key-action statuses reported for this period.</p>");
    } else {
        b.push_str("<table id=\"action-status\"><caption>Key actions by status (percentage of all actions)</caption><thead><tr>");
        for st in ActionStatus::ALL {
            let _ = write!(
                b,
                "<th scope=\"col\" class=\"{}\">{}</th>",
                status_class(st),
                render::status_label(st)
            );
        }
        b.push_str("<th scope=\"col\">Total</th></tr></thead><tbody><tr>");
        for st in ActionStatus::ALL {
            let n = d.actions.counts.get(&st).copied().unwrap_or(0);
            let p = d.actions.percent.get(&st).copied().flatten();
            let _ = write!(b, "<td class=\"num\">{n} ({})</td>", pct(p));
        }
        let _ = write!(
            b,
            "<td class=\"num\">{}</td></tr></tbody></table>",
            d.actions.total
        );
    }
    b
}

/// The risk heat map and the open risks by band, with the escalated count.
fn risks_section(d: &Dashboard, unit_q: &str, as_of_raw: &str) -> String {
    let mut b = String::new();
    b.push_str("<h2 id=\"risks\">Risks</h2>");
    b.push_str("<div class=\"grid\"><div>");
    b.push_str(&heat_map_table(
        "heat-map",
        "Risk heat map: open risks by impact and probability (current scores)",
        &d.risks.heat_map,
    ));
    b.push_str("</div><div><table id=\"risk-bands\"><caption>Open risks by band</caption><thead><tr><th scope=\"col\">Band</th><th scope=\"col\" class=\"num\">Risks</th></tr></thead><tbody>");
    for bnd in [Band::High, Band::MediumHigh, Band::MediumLow, Band::Low] {
        let n = d.risks.by_band.get(&bnd).copied().unwrap_or(0);
        let _ = write!(
            b,
            "<tr><th scope=\"row\" class=\"{}\">{}</th><td class=\"num\">{n}</td></tr>",
            band_class(bnd),
            bnd.label()
        );
    }
    let _ = write!(
        b,
        "<tr class=\"total\"><th scope=\"row\">Escalated (score 15+)</th><td class=\"num\">{}</td></tr></tbody></table>\
         <p class=\"noprint\"><a href=\"/risks{}\">Risk register</a></p></div></div>",
        d.risks.escalated,
        esc(&query(&[("unit", unit_q), ("as_of", as_of_raw)]))
    );
    b
}

/// HR and customer-experience sections (when the dashboard carries them).
fn hr_and_customer(d: &Dashboard) -> String {
    let mut b = String::new();
    if let Some(hr) = &d.hr {
        let _ = write!(
            b,
            "<h2 id=\"hr\">Human resources</h2><table id=\"hr-table\"><caption>Human resources</caption><thead><tr>\
             <th scope=\"col\">Establishment headcount</th><th scope=\"col\">No. of agency staff</th><th scope=\"col\">% of spend on agency staff</th><th scope=\"col\">Average days lost per FTE (rolling 12 months)</th></tr></thead>\
             <tbody><tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></tbody></table>",
            hr.headcount,
            hr.agency_staff,
            hr.agency_spend_percent.map(|p| format!("{p}%")).unwrap_or_else(|| "–".into()),
            hr.sickness_days_per_fte.map(|p| p.to_string()).unwrap_or_else(|| "–".into()),
        );
    }
    if !d.customer.is_empty() {
        b.push_str("<h2 id=\"customer\">Customer experience</h2><table id=\"customer-table\"><caption>Answered on time</caption><thead><tr><th scope=\"col\">Measure</th><th scope=\"col\" class=\"num\">On time / received</th></tr></thead><tbody>");
        for l in &d.customer {
            let _ = write!(
                b,
                "<tr><th scope=\"row\">{}</th><td class=\"num\">{}/{} = {}</td></tr>",
                esc(l.name.as_str()),
                l.on_time,
                l.received,
                pct(l.percent)
            );
        }
        b.push_str("</tbody></table>");
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfledger_domain::dashboard::{compute, CustomerMeasure, DashboardInputs, HrFigures};
    use perfledger_domain::period::Period;
    use perfledger_domain::{Fixed, Text};

    #[test]
    fn hr_and_customer_sections() {
        let d = compute(&DashboardInputs {
            hr: Some(HrFigures {
                headcount: 170,
                agency_staff: 47,
                agency_spend_percent: Some(Fixed::parse_full("22").unwrap()),
                sickness_days_per_fte: Some(Fixed::parse_full("3.75").unwrap()),
            }),
            customer: vec![CustomerMeasure {
                name: Text::new("name", "FOIs <all>").unwrap(),
                on_time: 153,
                received: 159,
            }],
            ..empty()
        })
        .unwrap();
        let s = hr_and_customer(&d);
        assert!(s.contains("<td class=\"num\">170</td><td class=\"num\">47</td><td class=\"num\">22%</td><td class=\"num\">3.75</td>"), "{s}");
        assert!(s.contains("FOIs &lt;all&gt;"));
        assert!(s.contains("153/159 = 96%"), "{s}");
        assert!(hr_and_customer(
            &compute(&DashboardInputs {
                hr: None,
                customer: vec![],
                ..empty()
            })
            .unwrap()
        )
        .is_empty());
    }

    fn empty() -> DashboardInputs {
        DashboardInputs {
            unit: None,
            period: Period::parse("2016/17 Q1").unwrap(),
            revenue: vec![],
            capital: vec![],
            savings: vec![],
            indicators: vec![],
            actions: vec![],
            risks: vec![],
            hr: None,
            customer: vec![],
        }
    }
}
