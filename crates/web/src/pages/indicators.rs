//! `/indicators`: the list of indicators of a unit (or of the council),
//! each linking to its own page at the same as-of position.

use std::fmt::Write;

use super::frame::{bar, footer, scope_name, unit_select};
use super::labels::type_name;
use super::{Res, M};
use crate::html::{self, esc, query, url_enc};
use crate::params::{ctx, recorded_at};
use crate::{page, App};

pub(crate) fn indicators(app: &App, m: &M) -> Res {
    let rm = app.rm();
    let c = ctx(rm, m)?;
    let list = rm.indicators(c.unit(), c.at())?;
    let extra = unit_select(app, &c)?;
    let bar = bar(app, &c, "/indicators", vec![], extra)?;
    let mut b = String::new();
    if list.is_empty() {
        b.push_str("<p>No indicators recorded as of this position.</p>");
    } else {
        let _ = write!(
            b,
            "<table id=\"indicator-list\"><caption>{} indicators ({})</caption><thead><tr><th scope=\"col\">Reference</th><th scope=\"col\">Indicator</th><th scope=\"col\">Unit</th><th scope=\"col\">Type</th><th scope=\"col\">Status</th></tr></thead><tbody>",
            esc(&scope_name(c.unit())),
            list.len()
        );
        for i in &list {
            let href = format!(
                "/indicators/{}{}",
                url_enc(&i.natural_key, true),
                query(&[("as_of", &c.as_of_raw)])
            );
            let _ = write!(
                b,
                "<tr><td>{}</td><td><a href=\"{}\">{}</a></td><td>{}</td><td><abbr title=\"{}\">{}</abbr></td><td>{}</td></tr>",
                esc(i.reference.as_deref().unwrap_or("–")),
                esc(&href),
                esc(&i.title),
                esc(&i.unit),
                type_name(i.indicator_type),
                i.indicator_type.label(),
                if i.retired { "Retired" } else { "Active" }
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str(&footer(c.seq, None, recorded_at(rm, c.seq)?));
    page(html::layout(
        &app.web.title,
        &format!("Indicators — {}", scope_name(c.unit())),
        "indicators",
        Some(&bar),
        &b,
    ))
}
