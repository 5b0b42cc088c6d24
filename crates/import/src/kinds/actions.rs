//! Actions: `actions.csv` (the actions of a plan) and `action_status.csv`
//! (their quarterly status).
//!
//! Invariant: action references are unique; a status names an action of
//! the same import, for a quarter; a later row that changes the status of
//! an action for a quarter gives a reason, which is kept in the comment.

use std::collections::BTreeMap;

use perfledger_domain::action::{ActionSpec, ActionStatus};
use perfledger_domain::{Command, Period, Text, Timestamp};

use crate::build::{Ctx, Known};
use crate::order::{Items, Recorded};
use crate::table::{Row, Table};

pub(crate) const ACTIONS: &[(&str, bool)] = &[
    ("ref", true),
    ("printed_ref", false),
    ("theme", false),
    ("description", true),
    ("aim", false),
    ("due", false),
    ("service_area", false),
    ("unit", true),
    ("lead_officer", false),
    ("source", false),
];

pub(crate) const ACTION_STATUS: &[(&str, bool)] = &[
    ("action_ref", true),
    ("period", true),
    ("status", true),
    ("comment", false),
    ("actor", true),
    ("recorded_at", false),
    ("reason", false),
    ("source", false),
];

/// Actions; returns reference → (reference, unit) of those defined.
pub(crate) fn actions(
    cx: &mut Ctx,
    out: &mut Items,
    known: &Known,
    t: &Table,
) -> BTreeMap<String, (Text, Text)> {
    let mut actions = BTreeMap::new();
    for r in &t.rows {
        known.check_unit(cx, t, r, "unit");
        known.check_theme(cx, t, r, "theme");
        if actions.contains_key(r.get("ref")) {
            cx.err(t, r, "ref", "duplicate action reference");
            continue;
        }
        let (Some(reference), Some(unit), Some(description), Some(due), Some(lead)) = (
            cx.text(t, r, "ref"),
            cx.text(t, r, "unit"),
            cx.text(t, r, "description"),
            cx.opt_text(t, r, "due"),
            cx.opt_text(t, r, "lead_officer"),
        ) else {
            continue;
        };
        actions.insert(r.get("ref").to_string(), (reference.clone(), unit.clone()));
        out.define(
            t,
            r,
            0,
            Command::DefineAction {
                spec: ActionSpec {
                    reference,
                    unit,
                    description,
                    due,
                    lead_officer: lead,
                },
            },
        );
    }
    actions
}

/// Action statuses, in recorded-time order.
pub(crate) fn statuses(cx: &mut Ctx, out: &mut Items, known: &Known, t: &Table) {
    let mut seen: BTreeMap<(String, Period), (Timestamp, ActionStatus)> = BTreeMap::new();
    let mut rows: Vec<&Row> = t.rows.iter().collect();
    rows.sort_by_key(|r| (Timestamp::parse(r.get("recorded_at")).ok(), r.line));
    for r in rows {
        let action = match known
            .actions
            .as_ref()
            .and_then(|a| a.get(r.get("action_ref")))
        {
            Some(a) => Some(a.clone()),
            None => {
                cx.err(
                    t,
                    r,
                    "action_ref",
                    if known.actions.is_some() {
                        "unknown action (not in actions.csv)"
                    } else {
                        "unknown action: import actions.csv with its statuses"
                    },
                );
                None
            }
        };
        let period = cx.quarter(t, r, "period");
        let time = cx.recorded(t, r, "recorded_at");
        let actor = cx.actor(t, r);
        let status = ActionStatus::parse(r.get("status"))
            .map_err(|e| cx.err(t, r, "status", e.to_string()))
            .ok();
        let comment = cx.opt_text(t, r, "comment");
        let (
            Some((reference, unit)),
            Some(period),
            Some(time),
            Some(actor),
            Some(status),
            Some(mut comment),
        ) = (action, period, time, actor, status, comment)
        else {
            continue;
        };
        let k = (r.get("action_ref").to_string(), period);
        let changed = seen.get(&k).is_some_and(|(_, s)| *s != status);
        let Some(reason) = cx.reason(
            t,
            r,
            changed,
            "a later row changes the status of this action for this period",
        ) else {
            continue;
        };
        if let Some(reason) = &reason {
            let Some(c) = cx.with_reason(t, r, comment.as_ref(), reason) else {
                continue;
            };
            comment = Some(c);
        }
        seen.insert(k, (time, status));
        let command = Command::ReportActionStatus {
            unit,
            reference,
            period,
            status,
            comment,
        };
        let by = Recorded {
            time,
            actor,
            reason,
        };
        out.fact(t, r, 0, &by, command);
    }
}
