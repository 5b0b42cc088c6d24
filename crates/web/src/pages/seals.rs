//! The seal box: one seal (committee, meeting, scope, period, sequence),
//! whether the view shown still matches it, and which figures changed since.
//!
//! Invariant: a seal's verdict re-derives the dashboard at the seal's
//! position; a box never claims "matches" unless the digests are equal.

use std::fmt::Write;

use perfledger_readmodel::SealRecord;

use super::frame::scope_name;
use crate::html::{esc, query};
use crate::{App, AppError};

pub(crate) fn hex32(d: &[u8; 32]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn seal_box(
    app: &App,
    rec: &SealRecord,
    shown_digest: Option<&str>,
) -> Result<String, AppError> {
    let seal = &rec.seal;
    let v = app.seal_verdict(rec)?;
    let digest = hex32(&seal.digest);
    let (class, verdict) = match shown_digest {
        Some(d) if d == digest => ("ok", "matches this view".to_string()),
        Some(_) => (
            "differs",
            format!(
                "differs from this view ({} figure{} changed between the seal and the latest position)",
                v.changed_since.len(),
                if v.changed_since.len() == 1 { "" } else { "s" }
            ),
        ),
        None => {
            if v.changed_since.is_empty() {
                ("ok", "matches the latest position".to_string())
            } else {
                (
                    "differs",
                    format!(
                        "differs from the latest position: {} figure{} changed since",
                        v.changed_since.len(),
                        if v.changed_since.len() == 1 { "" } else { "s" }
                    ),
                )
            }
        }
    };
    let integrity = if v.matches {
        String::new()
    } else {
        " <strong>Warning: re-deriving the dashboard at the seal's position does not reproduce the sealed digest.</strong>".to_string()
    };
    let link = format!(
        "/dashboard{}",
        query(&[
            ("unit", seal.unit.as_ref().map(|u| u.as_str()).unwrap_or("")),
            ("period", &seal.period.to_string()),
            ("as_of", &seal.seq.to_string()),
        ])
    );
    // A seal with an id names it (and the report and when it was sealed).
    let mut named = String::new();
    if let Some(id) = &rec.seal_id {
        let _ = write!(named, "<span class=\"seal-id\">{}</span>", esc(id));
        if let Some(t) = &rec.title {
            let _ = write!(named, " “{}”", esc(t));
        }
        if let Some(at) = rec.sealed_at {
            let _ = write!(named, ", sealed {}", esc(&at.to_string()));
        }
        named.push_str(": ");
    }
    let mut s = format!(
        "<div class=\"seal {class}\"><p>{named}Sealed for <strong>{}</strong> on {} — {} dashboard {} at log sequence {} — <strong>{}</strong>.{} <a href=\"{}\">Show the sealed view</a></p>",
        esc(seal.committee.as_str()),
        esc(&seal.meeting_date.to_string()),
        esc(&scope_name(seal.unit.as_ref().map(|u| u.as_str()))),
        esc(&seal.period.to_string()),
        seal.seq,
        esc(&verdict),
        integrity,
        esc(&link)
    );
    if class == "differs" && !v.changed_since.is_empty() {
        s.push_str("<details><summary>Figures changed since the seal</summary><table><thead><tr><th scope=\"col\">Figure</th><th scope=\"col\">Sealed</th><th scope=\"col\">Latest</th></tr></thead><tbody>");
        for d in &v.changed_since {
            let _ = write!(
                s,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&d.figure),
                esc(d.expected.as_deref().unwrap_or("–")),
                esc(d.actual.as_deref().unwrap_or("–"))
            );
        }
        s.push_str("</tbody></table></details>");
    }
    s.push_str("</div>");
    Ok(s)
}
