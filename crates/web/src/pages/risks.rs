//! `/risks`: the risk register of a unit (or the council) with its current
//! and target heat maps; each risk links to its audit trail.

use std::fmt::Write;

use super::frame::{bar, footer, scope_name, unit_select};
use super::heat_map::heat_map_table;
use super::labels::{assessment_text, band_class};
use super::{Res, M};
use crate::html::{self, esc, query, url_enc};
use crate::params::{ctx, recorded_at};
use crate::{page, App};

pub(crate) fn risks(app: &App, m: &M) -> Res {
    let rm = app.rm();
    let c = ctx(rm, m)?;
    let reg = rm.risks(c.unit(), c.at())?;
    let extra = unit_select(app, &c)?;
    let bar = bar(app, &c, "/risks", vec![], extra)?;
    let mut b = String::new();
    b.push_str("<div class=\"grid\"><div>");
    b.push_str(&heat_map_table(
        "heat-map",
        "Current risk scores: open risks by impact and probability",
        &reg.heat_maps.current,
    ));
    b.push_str("</div><div>");
    b.push_str(&heat_map_table(
        "heat-map-target",
        "Target risk scores: open risks by impact and probability",
        &reg.heat_maps.target,
    ));
    b.push_str("</div></div>");
    let _ = write!(
        b,
        "<h2>Risk register</h2><table id=\"risk-register\"><caption>{} risk register ({} risks, {} escalated)</caption><thead><tr><th scope=\"col\">ID</th><th scope=\"col\">Risk</th><th scope=\"col\">Unit</th><th scope=\"col\">Owner</th><th scope=\"col\">Category</th><th scope=\"col\">Assessed</th><th scope=\"col\">Current</th><th scope=\"col\">Target</th><th scope=\"col\">Status</th></tr></thead><tbody>",
        esc(&scope_name(c.unit())),
        reg.risks.len(),
        reg.escalated.len()
    );
    for r in &reg.risks {
        let href = format!(
            "/audit/risk/{}{}",
            url_enc(&r.risk_id, true),
            query(&[("as_of", &c.as_of_raw)])
        );
        let cls = r.current.map(|a| band_class(a.band())).unwrap_or("");
        let status = if r.closed {
            "Closed"
        } else if r.escalated {
            "Escalated (15+)"
        } else {
            "Open"
        };
        let _ = write!(
            b,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&href),
            esc(&r.risk_id),
            esc(&r.title),
            esc(&r.unit),
            esc(r.owner.as_deref().unwrap_or("–")),
            esc(r.category.as_deref().unwrap_or("–")),
            esc(&r.period.map(|p| p.to_string()).unwrap_or_else(|| "–".into())),
            cls,
            esc(&assessment_text(r.current.as_ref())),
            esc(&assessment_text(r.target.as_ref())),
            status
        );
    }
    b.push_str("</tbody></table>");
    b.push_str(&footer(c.seq, None, recorded_at(rm, c.seq)?));
    page(html::layout(
        &app.web.title,
        &format!("Risks — {}", scope_name(c.unit())),
        "risks",
        Some(&bar),
        &b,
    ))
}
