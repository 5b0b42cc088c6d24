//! Targets: `targets.csv`, the target of an indicator for a period.
//!
//! Invariant: the first row for an indicator and period sets its target
//! (`kind=set`); a later one revises it (`kind=revise`), with a reason and,
//! in a backdated load, a later recorded time. A target fits the
//! indicator's data type. Rows are read in recorded-time order.

use std::collections::BTreeMap;

use perfledger_domain::indicator::Target;
use perfledger_domain::{parse, Command, Period, Timestamp};

use crate::build::{Ctx, Known};
use crate::kinds::indicators::{indicator_text, resolve};
use crate::order::{Items, Recorded};
use crate::table::{Row, Table};

pub(crate) const TARGETS: &[(&str, bool)] = &[
    ("indicator_ref", false),
    ("indicator_title", false),
    ("unit", false),
    ("period", true),
    ("target", true),
    ("target_label", false),
    ("kind", true),
    ("actor", true),
    ("recorded_at", false),
    ("reason", false),
    ("source", false),
];

/// Targets.
pub(crate) fn targets(cx: &mut Ctx, out: &mut Items, known: &Known, t: &Table) {
    let mut seen: BTreeMap<(String, Period), Timestamp> = BTreeMap::new();
    let mut rows: Vec<&Row> = t.rows.iter().collect();
    rows.sort_by_key(|r| (Timestamp::parse(r.get("recorded_at")).ok(), r.line));
    for r in rows {
        let ind = resolve(cx, known, t, r);
        let period = cx.period(t, r, "period");
        let time = cx.recorded(t, r, "recorded_at");
        let actor = cx.actor(t, r);
        let revise = match r.get("kind").to_lowercase().as_str() {
            "set" => false,
            "revise" => true,
            _ => {
                cx.err(t, r, "kind", "expected set or revise");
                continue;
            }
        };
        let reason = cx.reason(t, r, revise, "a revise row changes an existing target");
        let mut target = match parse::parse_target(r.get("target")) {
            Ok(t) => Some(t),
            Err(e) => {
                cx.err(t, r, "target", e.to_string());
                None
            }
        };
        if let (Some(Target::Numeric { note, .. }), Some(_)) =
            (target.as_mut(), r.opt("target_label"))
        {
            if note.is_none() {
                let Some(label) = cx.text(t, r, "target_label") else {
                    continue;
                };
                *note = Some(label);
            }
        }
        if let (Some(tg), Some((_, Some(spec)))) = (&target, &ind) {
            if let Err(e) = perfledger_domain::fit::target_fits(tg, spec.data_type) {
                cx.err(
                    t,
                    r,
                    "target",
                    format!("does not fit the indicator's data type: {e}"),
                );
                continue;
            }
        }
        let (Some((key, _)), Some(period), Some(time), Some(actor), Some(reason), Some(target)) =
            (ind, period, time, actor, reason, target)
        else {
            continue;
        };
        let k = (key.clone(), period);
        match (revise, seen.get(&k)) {
            (false, Some(_)) => {
                cx.err(t, r, "kind", "a target for this indicator and period is already set in this file; use kind=revise with a reason");
                continue;
            }
            (true, Some(prev)) if cx.backdated && *prev >= time => {
                cx.err(
                    t,
                    r,
                    "recorded_at",
                    "a revision must be later than the value it replaces",
                );
                continue;
            }
            _ => {}
        }
        let Some(indicator) = indicator_text(cx, t, r, &key) else {
            continue;
        };
        seen.insert(k, time);
        let command = match reason.clone() {
            Some(reason) if revise => Command::ReviseTarget {
                indicator,
                period,
                target,
                reason,
            },
            _ => Command::SetTarget {
                indicator,
                period,
                target,
            },
        };
        let by = Recorded {
            time,
            actor,
            reason,
        };
        out.fact(t, r, 0, &by, command);
    }
}
