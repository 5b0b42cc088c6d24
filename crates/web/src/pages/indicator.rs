//! `/indicators/{key}`: one indicator — its definition, the trend chart of
//! results against targets, results by period, and its audit trail.

use std::fmt::Write;

use perfledger_domain::indicator::Value;

use super::audit::audit_table;
use super::frame::{bar, footer};
use super::labels::{dir_name, polarity_name, type_name};
use super::{Res, M};
use crate::html::{self, esc, query, url_enc};
use crate::params::{ctx, recorded_at};
use crate::svg;
use crate::{page, App};

pub(crate) fn indicator(app: &App, key: &str, m: &M) -> Res {
    let rm = app.rm();
    let c = ctx(rm, m)?;
    let v = rm.indicator(key, c.at())?;
    let action = format!("/indicators/{}", url_enc(&v.natural_key, true));
    let bar = bar(app, &c, &action, vec![], String::new())?;
    let mut b = String::new();
    let title = v
        .spec
        .as_ref()
        .map(|s| s.title.to_string())
        .unwrap_or_else(|| v.natural_key.clone());
    if let Some(s) = &v.spec {
        let _ = write!(
            b,
            "<dl class=\"grid\"><div><dt>Reference</dt><dd>{}</dd></div><div><dt>Unit</dt><dd><a href=\"/indicators{}\">{}</a></dd></div>\
             <div><dt>Type</dt><dd>{} ({})</dd></div><div><dt>Polarity</dt><dd>{}</dd></div><div><dt>Frequency</dt><dd>{}</dd></div>\
             <div><dt>Lead officer</dt><dd>{}</dd></div><div><dt>Status</dt><dd>{}</dd></div></dl>",
            esc(s.reference.as_ref().map(|r| r.as_str()).unwrap_or("–")),
            esc(&query(&[("unit", s.unit.as_str()), ("as_of", &c.as_of_raw)])),
            esc(s.unit.as_str()),
            type_name(s.indicator_type),
            s.indicator_type.label(),
            esc(&polarity_name(s.polarity)),
            s.frequency.name(),
            esc(s.lead_officer.as_ref().map(|r| r.as_str()).unwrap_or("–")),
            if v.retired { "Retired" } else { "Active" }
        );
    }
    let points: Vec<svg::Point> = v
        .rows
        .iter()
        .map(|r| svg::Point {
            label: r.period.to_string(),
            result: r
                .result
                .as_ref()
                .and_then(|e| e.result.value())
                .and_then(Value::display_value),
            target: r
                .target
                .as_ref()
                .and_then(|t| t.value())
                .and_then(Value::display_value),
        })
        .collect();
    b.push_str("<h2>Trend</h2>");
    match svg::chart(&format!("{title}: results and targets by period"), &points) {
        Some(svg) => {
            b.push_str("<figure id=\"trend\">");
            b.push_str(&svg);
            b.push_str("<figcaption class=\"muted\">Results (solid) against targets (dashed) by period.</figcaption></figure>");
        }
        None => b.push_str("<p>No numeric results or targets to chart.</p>"),
    }
    b.push_str("<h2>Results by period</h2>");
    b.push_str("<table id=\"periods\"><caption>Targets, results, RAG and direction of travel by period</caption><thead><tr><th scope=\"col\">Period</th><th scope=\"col\">Target</th><th scope=\"col\">Result</th><th scope=\"col\">RAG</th><th scope=\"col\">DoT short term</th><th scope=\"col\">DoT long term</th><th scope=\"col\" class=\"num\">Restated</th><th scope=\"col\">Commentary</th></tr></thead><tbody>");
    for r in &v.rows {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"result\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&r.period.to_string()),
            esc(r.target_text.as_deref().unwrap_or("–")),
            esc(r.result_text.as_deref().unwrap_or("–")),
            if r.result.is_some() { html::rag_badge(r.rag) } else { "–".into() },
            dir_name(r.direction_short),
            dir_name(r.direction_long),
            if r.restatements == 0 { "–".to_string() } else { format!("{}×", r.restatements) },
            esc(r.commentary.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</tbody></table>");
    b.push_str("<h2>Audit trail</h2>");
    b.push_str(&audit_table(
        "audit",
        "Every event recorded for this indicator, in log order",
        &v.audit,
    ));
    b.push_str(&footer(c.seq, None, recorded_at(rm, c.seq)?));
    page(html::layout(
        &app.web.title,
        &title,
        "indicators",
        Some(&bar),
        &b,
    ))
}
