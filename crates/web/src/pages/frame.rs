//! What frames every page: the as-of bar with its unit and period
//! selectors, the footer naming the log position (and the digest, when the
//! page has one), and the list of periods the selectors offer.
//!
//! Invariant: the bar and the footer name the same sequence the page was
//! read at (the request's [`Ctx`]), so a reader can always reproduce it.

use std::collections::BTreeMap;
use std::fmt::Write;

use perfledger_domain::period::Period;
use perfledger_domain::{EntityKind, Timestamp};
use perfledger_readmodel::{AsOf, ReadModel};

use crate::html::{esc, AsOfBar};
use crate::params::{recorded_at, Ctx};
use crate::{App, AppError};

/// Periods with indicator targets/results or seals as of `seq`,
/// chronologically.
pub(crate) fn known_periods(rm: &ReadModel, seq: u64) -> Result<Vec<Period>, AppError> {
    let at = AsOf::Seq(seq);
    let mut out: BTreeMap<((i64, i64), String), Period> = BTreeMap::new();
    let mut add = |p: Period| {
        out.insert((p.sort_key(), p.to_string()), p);
    };
    for s in rm.indicators(None, at)? {
        match rm.audit(EntityKind::Indicator, &s.natural_key, at) {
            Ok(t) => t
                .entries
                .iter()
                .filter(|e| e.field == "result" || e.field == "target")
                .filter_map(|e| e.period)
                .for_each(&mut add),
            Err(perfledger_readmodel::ReadModelError::NotFound { .. })
            | Err(perfledger_readmodel::ReadModelError::Ambiguous { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for s in rm.seals(at)? {
        add(s.seal.period);
    }
    Ok(out.into_values().collect())
}

pub(crate) fn ts(ms: i64) -> String {
    Timestamp(ms).to_string()
}

/// Recorded time for tables: `2016-07-01 03:00:00 UTC`.
pub(crate) fn when(ms: i64) -> String {
    let t = ts(ms);
    match t.strip_suffix('Z') {
        Some(x) => format!("{} UTC", x.replacen('T', " ", 1)),
        None => t,
    }
}

pub(crate) fn bar<'a>(
    app: &App,
    c: &'a Ctx,
    action: &'a str,
    keep: Vec<(&'a str, String)>,
    extra: String,
) -> Result<AsOfBar<'a>, AppError> {
    Ok(AsOfBar {
        action,
        as_of_raw: &c.as_of_raw,
        seq: c.seq,
        recorded_at: recorded_at(app.rm(), c.seq)?,
        head: app.rm().checkpoint()?,
        keep,
        extra,
    })
}

pub(crate) fn unit_select(app: &App, c: &Ctx) -> Result<String, AppError> {
    let mut s = String::from(
        "<label for=\"unit\">Unit<select id=\"unit\" name=\"unit\"><option value=\"\">Council-wide</option>",
    );
    for u in app.rm().units(c.at())? {
        let sel = if c.unit.as_deref() == Some(u.name.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(s, "<option{sel}>{}</option>", esc(&u.name));
    }
    s.push_str("</select></label>");
    Ok(s)
}

pub(crate) fn period_select(known: &[Period], chosen: Option<Period>) -> String {
    let mut s = String::from("<label for=\"period\">Period<select id=\"period\" name=\"period\">");
    let mut listed = known.to_vec();
    if let Some(p) = chosen {
        if !listed.contains(&p) {
            listed.push(p);
            listed.sort_by_key(|p| p.sort_key());
        }
    }
    for p in listed.iter().rev() {
        let sel = if Some(*p) == chosen { " selected" } else { "" };
        let _ = write!(s, "<option{sel}>{}</option>", esc(&p.to_string()));
    }
    s.push_str("</select></label>");
    s
}

pub(crate) fn scope_name(unit: Option<&str>) -> String {
    unit.map(str::to_string)
        .unwrap_or_else(|| "Council-wide".to_string())
}

pub(crate) fn footer(seq: u64, digest: Option<&str>, recorded: Option<i64>) -> String {
    let mut s = format!("<footer><p>Log position: sequence {seq}");
    if let Some(t) = recorded {
        let _ = write!(s, ", recorded ≤ {}", esc(&ts(t)));
    }
    s.push_str(".</p>");
    if let Some(d) = digest {
        let _ = write!(
            s,
            "<p>Dashboard digest (SHA-256 of its canonical bytes): <span class=\"digest\" id=\"digest\">{}</span></p>",
            esc(d)
        );
    }
    s.push_str("<p>perfledger — every figure is an immutable, attributable event; this page is rebuilt from the ledger.</p></footer>");
    s
}
