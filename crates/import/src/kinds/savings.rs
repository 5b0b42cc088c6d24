//! Savings: `savings.csv` (one row per saving per year) and
//! `savings_progress.csv` (the amount achieved by a quarter).
//!
//! Invariant: the rows of one saving reference share its unit and give at
//! most one amount per year; they become one proposal, defined at its
//! first row. Progress names a saving of the same import and is a positive
//! amount.

use std::collections::{BTreeMap, BTreeSet};

use perfledger_domain::saving::SavingSpec;
use perfledger_domain::Command;

use crate::build::{Ctx, Known};
use crate::order::{Items, Recorded};
use crate::table::Table;

pub(crate) const SAVINGS: &[(&str, bool)] = &[
    ("ref", true),
    ("unit", true),
    ("committee", false),
    ("service_area", false),
    ("description", true),
    ("year", true),
    ("amount", true),
    ("source", false),
];

pub(crate) const SAVINGS_PROGRESS: &[(&str, bool)] = &[
    ("ref", true),
    ("period", true),
    ("achieved", true),
    ("actor", true),
    ("recorded_at", false),
    ("comment", false),
    ("reason", false),
    ("source", false),
];

/// Savings; returns the references defined.
pub(crate) fn savings(cx: &mut Ctx, out: &mut Items, known: &Known, t: &Table) -> BTreeSet<String> {
    // reference -> (index of its first row, the saving so far)
    let mut savings: BTreeMap<String, (usize, SavingSpec)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (i, r) in t.rows.iter().enumerate() {
        known.check_unit(cx, t, r, "unit");
        known.check_committee(cx, t, r, "committee");
        let (Some(year), Some(amount)) = (cx.year(t, r, "year"), cx.amount(t, r, "amount")) else {
            continue;
        };
        let key = r.get("ref").to_string();
        if let Some((_, spec)) = savings.get_mut(&key) {
            if spec.unit.as_str() != r.get("unit") {
                cx.err(
                    t,
                    r,
                    "unit",
                    format!("saving {key} is under unit {} on an earlier row", spec.unit),
                );
                continue;
            }
            if spec.amounts.iter().any(|(y, _)| *y == year) {
                cx.err(
                    t,
                    r,
                    "year",
                    format!("saving {key} already has an amount for this year"),
                );
                continue;
            }
            spec.amounts.push((year, amount));
        } else {
            let (Some(reference), Some(unit), Some(description)) = (
                cx.text(t, r, "ref"),
                cx.text(t, r, "unit"),
                cx.text(t, r, "description"),
            ) else {
                continue;
            };
            order.push(key.clone());
            let spec = SavingSpec {
                reference,
                unit,
                description,
                amounts: vec![(year, amount)],
            };
            savings.insert(key, (i, spec));
        }
    }
    for key in &order {
        let (i, spec) = &savings[key];
        out.define(
            t,
            &t.rows[*i],
            0,
            Command::ProposeSaving { spec: spec.clone() },
        );
    }
    savings.into_keys().collect()
}

/// Savings progress.
pub(crate) fn progress(cx: &mut Ctx, out: &mut Items, known: &Known, t: &Table) {
    for r in &t.rows {
        if known
            .savings
            .as_ref()
            .is_some_and(|k| !k.contains(r.get("ref")))
        {
            cx.err(t, r, "ref", "unknown saving (not in savings.csv)");
        }
        let reference = cx.text(t, r, "ref");
        let period = cx.quarter(t, r, "period");
        let time = cx.recorded(t, r, "recorded_at");
        let actor = cx.actor(t, r);
        let achieved = cx.amount(t, r, "achieved");
        if achieved.is_some_and(|a| a.is_negative()) {
            cx.err(t, r, "achieved", "achieved is a positive amount (£000)");
            continue;
        }
        let comment = cx.opt_text(t, r, "comment");
        let reason = cx.opt_text(t, r, "reason");
        let (
            Some(reference),
            Some(period),
            Some(time),
            Some(actor),
            Some(achieved),
            Some(comment),
            Some(reason),
        ) = (reference, period, time, actor, achieved, comment, reason)
        else {
            continue;
        };
        let command = Command::ReportSavingDelivery {
            reference,
            period,
            achieved,
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
