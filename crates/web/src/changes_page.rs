//! `GET /changes?seal=ID[&as_of=]` and `GET /api/changes`: what changed in
//! the pack a seal pinned (issue #13 item 7), from
//! [`perfledger_readmodel::ReadModel::pack_changes`]: every row that
//! differs, figure by figure before → after, with the events recorded after
//! the seal that the row is derived from (sequence, recorded time, actor,
//! source, reason), then every summary count that moved with the rows that
//! moved it. Same order as the read model's (deterministic); a missing
//! `seal` is a 400, an unknown one a 404 naming it.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::response::Response;
use perfledger_domain::Timestamp;
use perfledger_readmodel::pack::changes::PackChanges;

use crate::html::{self, esc, url_enc};
use crate::params::ctx;
use crate::{json, page, App, AppError};

type M = BTreeMap<String, String>;

fn changes_for(app: &App, m: &M) -> Result<PackChanges, AppError> {
    let rm = app.rm();
    let seal = m.get("seal").map(|s| s.trim()).unwrap_or_default();
    if seal.is_empty() {
        return Err(AppError::bad(
            "seal",
            seal,
            "name a seal id (see /api/seals)",
        ));
    }
    let c = ctx(rm, m)?;
    Ok(rm.pack_changes(seal, c.at())?)
}

/// `GET /api/changes?seal=ID`: [`PackChanges`] as JSON.
pub(crate) fn api_changes(app: &App, m: &M) -> Result<Response, AppError> {
    json(&changes_for(app, m)?)
}

fn opt(v: &Option<String>) -> String {
    esc(v.as_deref().unwrap_or("—"))
}

/// `GET /changes?seal=ID`: the HTML page.
pub(crate) fn changes_page(app: &App, m: &M) -> Result<Response, AppError> {
    let c = changes_for(app, m)?;
    let scope = c.unit.as_deref().unwrap_or("council-wide");
    let mut b = format!(
        "<p>The pack sealed as <strong>{}</strong> ({} {}), re-derived as of log \
         sequence {}, against the pack as of sequence {}.</p>",
        esc(&c.seal_id),
        esc(scope),
        esc(&c.period.to_string()),
        c.sealed_as_of,
        c.now_as_of
    );
    if c.rows.is_empty() && c.counts.is_empty() {
        b.push_str("<p class=\"notice\">No figure of the sealed pack has changed.</p>");
    }
    if !c.rows.is_empty() {
        b.push_str("<h2>Rows that changed</h2>");
    }
    for r in &c.rows {
        let _ = write!(
            b,
            "<table class=\"changes\"><caption>{} {}</caption><thead><tr><th>Figure</th>\
             <th>Sealed</th><th>Now</th></tr></thead><tbody>",
            esc(&r.section),
            esc(&r.key)
        );
        for f in &r.fields {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.field),
                opt(&f.before),
                opt(&f.after)
            );
        }
        b.push_str("</tbody></table>");
        if !r.events.is_empty() {
            b.push_str(
                "<table class=\"events\"><thead><tr><th>Seq</th><th>Recorded</th>\
                 <th>Event</th><th>Before → after</th><th>Actor</th><th>Reason</th>\
                 <th>Source</th></tr></thead><tbody>",
            );
            for e in &r.events {
                let _ = write!(
                    b,
                    "<tr><td>#{}</td><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td>\
                     <td>{}</td><td>{}</td></tr>",
                    e.seq,
                    esc(&Timestamp(e.recorded_at).to_string()),
                    esc(&e.event),
                    opt(&e.before),
                    opt(&e.after),
                    esc(&e.actor),
                    opt(&e.reason),
                    esc(&e.source)
                );
            }
            b.push_str("</tbody></table>");
        }
    }
    if !c.counts.is_empty() {
        b.push_str(
            "<h2>Summary counts</h2><table class=\"counts\"><thead><tr><th>Count</th>\
             <th>Sealed</th><th>Now</th><th>Moved by</th></tr></thead><tbody>",
        );
        for k in &c.counts {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&k.count),
                k.before,
                k.after,
                esc(&k.moved_by.join(", "))
            );
        }
        b.push_str("</tbody></table>");
    }
    let _ = write!(
        b,
        "<p><a href=\"/api/changes?seal={}&amp;as_of={}\">JSON</a></p>",
        url_enc(&c.seal_id, false),
        c.now_as_of
    );
    page(html::layout(
        &app.web.title,
        &format!("Changes since seal {}", c.seal_id),
        "",
        None,
        &b,
    ))
}
