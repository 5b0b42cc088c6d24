//! Seals: `seals.csv`, the committee reports to seal.
//!
//! Invariant: seal ids are unique; a seal is of one unit's dashboard, or
//! the council's (`unit` = `COUNCIL`), for a period, as the ledger stood at
//! `sealed_at`, which is no later than the end of the meeting day. A seal
//! needs the dashboard digest, which only the read model can compute, so it
//! becomes a [`SealRequest`] for the caller to complete, not a command.

use std::collections::BTreeSet;

use perfledger_domain::{Date, Tenant, Text, Timestamp};

use crate::build::{Ctx, Known};
use crate::order::{command_id, row_id, source_of};
use crate::plan::{Origin, SealRequest};
use crate::table::{Row, Table};

pub(crate) const SEALS: &[(&str, bool)] = &[
    ("seal_id", true),
    ("committee", true),
    ("meeting_date", false),
    ("unit", true),
    ("period", true),
    ("report_title", false),
    ("sealed_at", true),
    ("actor", true),
    ("source", false),
];

/// Seal requests, in sealed-time order.
pub(crate) fn seals(cx: &mut Ctx, known: &Known, t: &Table, tenant: &Tenant) -> Vec<SealRequest> {
    let mut seals = Vec::new();
    let mut ids = BTreeSet::new();
    for r in &t.rows {
        if !ids.insert(r.get("seal_id").to_string()) {
            cx.err(t, r, "seal_id", "duplicate seal id");
        }
        if let Some(s) = seal(cx, known, t, r, tenant) {
            seals.push(s);
        }
    }
    seals.sort_by_key(|s| (s.sealed_at, s.origin.line));
    seals
}

/// One seal row; `None` when reported.
fn seal(cx: &mut Ctx, known: &Known, t: &Table, r: &Row, tenant: &Tenant) -> Option<SealRequest> {
    known.check_committee(cx, t, r, "committee");
    let unit_code = r.get("unit");
    // `Some(None)` = council-wide.
    let unit = if unit_code.eq_ignore_ascii_case("COUNCIL") {
        Some(None)
    } else {
        known.check_unit(cx, t, r, "unit");
        cx.text(t, r, "unit").map(Some)
    };
    let period = cx.period(t, r, "period");
    let sealed_at = cx.time(t, r, "sealed_at");
    let actor = cx.actor(t, r);
    let meeting = match r.opt("meeting_date") {
        None => Some(None),
        Some(d) => match Date::parse(d) {
            Ok(d) => Some(Some(d)),
            Err(e) => {
                cx.err(t, r, "meeting_date", e.to_string());
                None
            }
        },
    };
    let committee = cx.text(t, r, "committee");
    let (Some(unit), Some(period), Some(sealed_at), Some(actor), Some(meeting), Some(committee)) =
        (unit, period, sealed_at, actor, meeting, committee)
    else {
        return None;
    };
    if let Some(m) = meeting {
        let day_end = m
            .start()
            .0
            .checked_add(86_400_000 - 1)
            .map(Timestamp)
            .unwrap_or(sealed_at);
        if sealed_at > day_end {
            cx.err(t, r, "sealed_at", "is later than the meeting date");
            return None;
        }
    }
    let title = match r.opt("report_title") {
        None => None,
        Some(title) => Some(
            Text::new("report title", title)
                .map_err(|e| cx.err(t, r, "report_title", e.to_string()))
                .ok()?,
        ),
    };
    let Some(date) = meeting.or_else(|| sealed_at.date()) else {
        cx.err(t, r, "sealed_at", "has no calendar date; give meeting_date");
        return None;
    };
    let source = cx.composed(t, r, "source", "the seal's provenance", &source_of(t, r))?;
    Some(SealRequest {
        seal_id: r.get("seal_id").to_string(),
        title,
        committee,
        meeting_date: date,
        unit,
        period,
        sealed_at,
        actor,
        command_id: command_id(tenant, &row_id(t, r), 0),
        source,
        origin: Origin {
            file: t.file.clone(),
            line: r.line,
        },
    })
}
