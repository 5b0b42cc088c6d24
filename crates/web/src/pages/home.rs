//! `/`: the home page — units with links to their latest dashboards, the
//! periods available, and the latest seals with their verdicts.

use std::fmt::Write;

use super::frame::{bar, footer};
use super::seals::seal_box;
use super::{Res, M};
use crate::html::{self, esc, query};
use crate::params::{self, ctx, recorded_at};
use crate::{page, App};

pub(crate) fn home(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let rm = app.rm();
    let known = app.periods()?;
    let latest = params::period(m, &known)?;
    let mut b = String::new();
    b.push_str("<p>Performance, risk and finance reports for committee, rebuilt from an immutable ledger. Choose a unit and a quarter, or view the council-wide dashboard.</p>");
    b.push_str("<h2>Units</h2>");
    let units = rm.units(c.at())?;
    if units.is_empty() {
        b.push_str("<p>No units recorded yet.</p>");
    } else {
        b.push_str("<table id=\"units\"><caption>Units and their latest dashboards</caption><thead><tr><th scope=\"col\">Unit</th><th scope=\"col\">Dashboard</th><th scope=\"col\">Indicators</th><th scope=\"col\">Risks</th><th scope=\"col\">Finance</th></tr></thead><tbody>");
        let p = latest.map(|p| p.to_string()).unwrap_or_default();
        let mut rows: Vec<(String, Option<String>)> = vec![("Council-wide".into(), None)];
        rows.extend(units.iter().map(|u| (u.name.clone(), Some(u.name.clone()))));
        for (label, unit) in rows {
            let u = unit.as_deref().unwrap_or("");
            let _ = write!(
                b,
                "<tr><th scope=\"row\">{}</th><td><a href=\"/dashboard{}\">{} dashboard</a></td><td><a href=\"/indicators{}\">Indicators</a></td><td><a href=\"/risks{}\">Risk register</a></td><td><a href=\"/finance{}\">Finance</a></td></tr>",
                esc(&label),
                esc(&query(&[("unit", u), ("period", &p), ("as_of", &c.as_of_raw)])),
                esc(&p),
                esc(&query(&[("unit", u), ("as_of", &c.as_of_raw)])),
                esc(&query(&[("unit", u), ("as_of", &c.as_of_raw)])),
                esc(&query(&[("unit", u), ("period", &p), ("as_of", &c.as_of_raw)])),
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("<h2>Periods available</h2>");
    if known.is_empty() {
        b.push_str("<p>No periods recorded yet.</p>");
    } else {
        b.push_str("<ul id=\"periods\">");
        for p in known.iter().rev() {
            let ps = p.to_string();
            let _ = write!(
                b,
                "<li><a href=\"/dashboard{}\">{}</a></li>",
                esc(&query(&[("period", &ps), ("as_of", &c.as_of_raw)])),
                esc(&ps)
            );
        }
        b.push_str("</ul>");
    }
    b.push_str("<h2>Latest seals</h2>");
    let seals = rm.seals(c.at())?;
    if seals.is_empty() {
        b.push_str("<p>No dashboards sealed yet.</p>");
    } else {
        for rec in seals.iter().rev().take(10) {
            b.push_str(&seal_box(app, rec, None)?);
        }
    }
    let recorded = recorded_at(rm, c.seq)?;
    b.push_str(&footer(c.seq, None, recorded));
    let bar = bar(app, &c, "/", vec![], String::new())?;
    page(html::layout(
        &app.web.title,
        "Performance ledger",
        "home",
        Some(&bar),
        &b,
    ))
}
