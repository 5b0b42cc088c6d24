//! `/audit/{kind}/{key}`: any entity's audit trail, and the audit table
//! the indicator page shares.
//!
//! Invariant: entries are listed in log order, each with who, where from,
//! why and the before → after of the field it changed; the trail's digest
//! is printed so two readers can tell they saw the same trail.

use std::fmt::Write;

use perfledger_domain::EntityKind;
use perfledger_readmodel::AuditEntry;

use super::frame::{bar, footer, when};
use super::{Res, M};
use crate::html::{self, esc, url_enc};
use crate::params::{ctx, recorded_at};
use crate::{page, App, AppError};

pub(crate) fn audit_table(id: &str, caption: &str, entries: &[AuditEntry]) -> String {
    let mut s = format!(
        "<table id=\"{}\"><caption>{}</caption><thead><tr><th scope=\"col\" class=\"num\">Sequence</th><th scope=\"col\">Recorded</th><th scope=\"col\">Actor</th><th scope=\"col\">Source</th><th scope=\"col\">Event</th><th scope=\"col\">Period</th><th scope=\"col\">Reason</th><th scope=\"col\">Before → after</th></tr></thead><tbody>",
        esc(id),
        esc(caption)
    );
    for e in entries {
        let _ = write!(
            s,
            "<tr><td class=\"num\">{}{}</td><td class=\"when\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} → <strong>{}</strong> <span class=\"muted\">({})</span></td></tr>",
            e.seq,
            if e.index == 0 {
                String::new()
            } else {
                format!(" <span class=\"muted\">#{}</span>", e.index)
            },
            esc(&when(e.recorded_at))
                + &e.migrated_at
                    .map(|m| format!(
                        "<br><span class=\"muted\">claimed; migrated {}</span>",
                        esc(&when(m))
                    ))
                    .unwrap_or_default(),
            esc(&e.actor),
            esc(&e.source),
            esc(&e.event),
            esc(&e.period.map(|p| p.to_string()).unwrap_or_else(|| "–".into())),
            esc(e.reason.as_deref().unwrap_or("–")),
            esc(e.before.as_deref().unwrap_or("–")),
            esc(e.after.as_deref().unwrap_or("–")),
            esc(&e.field)
        );
    }
    s.push_str("</tbody></table>");
    s
}

pub(crate) fn kind_param(kind: &str) -> Result<EntityKind, AppError> {
    EntityKind::from_token(kind).map_err(|e| AppError::bad("kind", kind, e.to_string()))
}

pub(crate) fn audit(app: &App, kind: &str, key: &str, m: &M) -> Res {
    let rm = app.rm();
    let c = ctx(rm, m)?;
    let k = kind_param(kind)?;
    let t = rm.audit(k, key, c.at())?;
    let action = format!(
        "/audit/{}/{}",
        url_enc(kind, false),
        url_enc(&t.natural_key, true)
    );
    let bar = bar(app, &c, &action, vec![], String::new())?;
    let mut b = audit_table(
        "audit",
        &format!(
            "Every event recorded for {} {}, in log order",
            k.token(),
            t.natural_key
        ),
        &t.entries,
    );
    let _ = write!(
        b,
        "<p>Audit trail digest: <span class=\"digest\">{}</span></p>",
        esc(&t.digest_hex())
    );
    b.push_str(&footer(c.seq, None, recorded_at(rm, c.seq)?));
    page(html::layout(
        &app.web.title,
        &format!("Audit trail — {} {}", k.token(), t.natural_key),
        "",
        Some(&bar),
        &b,
    ))
}
