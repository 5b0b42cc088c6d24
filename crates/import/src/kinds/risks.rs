//! Risks: `risks.csv` (the register) and `risk_assessments.csv` (their
//! quarterly assessments).
//!
//! Invariant: risk ids are unique; a risk's response and controls are those
//! of its latest assessment in the files. Printed ratings and level labels
//! are checks only: a label must name its level (`Major 4`) and a rating
//! must equal impact × probability with its band (`High 12`); the ledger
//! gets the levels.

use std::collections::{BTreeMap, BTreeSet};

use perfledger_domain::risk::{band, Assessment, Impact, Probability, RiskSpec};
use perfledger_domain::{parse, Command, Text, Timestamp};

use crate::build::{Ctx, Known};
use crate::cells::parse_response;
use crate::order::{Items, Recorded};
use crate::table::{Row, Table};

pub(crate) const RISKS: &[(&str, bool)] = &[
    ("risk_id", true),
    ("unit", true),
    ("short_title", true),
    ("description", true),
    ("owner", false),
    ("category", false),
    ("board_assurance", false),
    ("source", false),
];

pub(crate) const RISK_ASSESSMENTS: &[(&str, bool)] = &[
    ("risk_id", true),
    ("period", true),
    ("current_impact", true),
    ("current_probability", true),
    ("current_rating", false),
    ("target_impact", false),
    ("target_probability", false),
    ("target_rating", false),
    ("response", false),
    ("controls", false),
    ("actor", true),
    ("recorded_at", false),
    ("reason", false),
    ("source", false),
];

/// `parse::parse_level` accepts exactly the levels a risk assessment has.
const LEVELS: &str =
    "parse_level returns a level 1-5, which Impact, Probability and Assessment accept";

/// Risks (response and controls from the latest assessment in the files);
/// returns the ids defined.
pub(crate) fn risks(
    cx: &mut Ctx,
    out: &mut Items,
    known: &Known,
    t: &Table,
    assessments: &Table,
) -> BTreeSet<String> {
    let mut latest_ra: BTreeMap<String, &Row> = BTreeMap::new();
    for r in &assessments.rows {
        let ts = Timestamp::parse(r.get("recorded_at")).ok();
        let keep = match latest_ra.get(r.get("risk_id")) {
            Some(prev) => Timestamp::parse(prev.get("recorded_at")).ok() <= ts,
            None => true,
        };
        if keep {
            latest_ra.insert(r.get("risk_id").to_string(), r);
        }
    }
    let mut risks = BTreeSet::new();
    for r in &t.rows {
        known.check_unit(cx, t, r, "unit");
        if !risks.insert(r.get("risk_id").to_string()) {
            cx.err(t, r, "risk_id", "duplicate risk id");
            continue;
        }
        // A bad response or overlong controls in that assessment is
        // reported at its own row by `assessments`.
        let latest = latest_ra.get(r.get("risk_id"));
        let response = latest
            .and_then(|a| a.opt("response"))
            .and_then(parse_response);
        let controls = latest
            .and_then(|a| a.opt("controls"))
            .and_then(|c| Text::new("controls", c).ok());
        let (
            Some(risk_id),
            Some(unit),
            Some(title),
            Some(description),
            Some(owner),
            Some(category),
            Some(assurance),
        ) = (
            cx.text(t, r, "risk_id"),
            cx.text(t, r, "unit"),
            cx.text(t, r, "short_title"),
            cx.text(t, r, "description"),
            cx.opt_text(t, r, "owner"),
            cx.opt_text(t, r, "category"),
            cx.opt_text(t, r, "board_assurance"),
        )
        else {
            continue;
        };
        out.define(
            t,
            r,
            0,
            Command::RegisterRisk {
                spec: RiskSpec {
                    risk_id,
                    unit,
                    title,
                    description,
                    owner,
                    category,
                    controls,
                    response,
                    assurance,
                },
            },
        );
    }
    risks
}

/// Risk assessments.
pub(crate) fn assessments(cx: &mut Ctx, out: &mut Items, known: &Known, t: &Table) {
    for r in &t.rows {
        if known
            .risks
            .as_ref()
            .is_some_and(|k| !k.contains(r.get("risk_id")))
        {
            cx.err(t, r, "risk_id", "unknown risk (not in risks.csv)");
        }
        let risk_id = cx.text(t, r, "risk_id");
        let period = cx.quarter(t, r, "period");
        let time = cx.recorded(t, r, "recorded_at");
        let actor = cx.actor(t, r);
        let ci = level(cx, t, r, "current_impact", true);
        let cp = level(cx, t, r, "current_probability", false);
        let current = match (ci, cp) {
            (Some(i), Some(p)) => Some(Assessment::new(i, p).expect(LEVELS)),
            _ => None,
        };
        if let Some(c) = &current {
            rating_check(cx, t, r, "current_rating", c);
        }
        let target = target(cx, t, r);
        if let Some(resp) = r.opt("response") {
            if parse_response(resp).is_none() {
                cx.err(
                    t,
                    r,
                    "response",
                    "expected Treat, Tolerate, Transfer or Terminate",
                );
            }
        }
        let reason = cx.opt_text(t, r, "reason");
        let controls = cx.opt_text(t, r, "controls");
        let (
            Some(risk_id),
            Some(period),
            Some(time),
            Some(actor),
            Some(current),
            Some(target),
            Some(reason),
            Some(controls),
        ) = (
            risk_id, period, time, actor, current, target, reason, controls,
        )
        else {
            continue;
        };
        let comment = match (&reason, &controls) {
            (Some(rs), Some(c)) => {
                let what = "the comment (reason, then controls)";
                let text = format!("{rs}\nControls: {c}");
                let Some(c) = cx.composed(t, r, "controls", what, &text) else {
                    continue;
                };
                Some(c)
            }
            (Some(rs), None) => Some(rs.clone()),
            (None, c) => c.clone(),
        };
        let command = Command::AssessRisk {
            risk_id,
            period,
            current,
            target,
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

/// The target assessment: both levels or neither; `None` when reported.
fn target(cx: &mut Ctx, t: &Table, r: &Row) -> Option<Option<Assessment>> {
    match (r.opt("target_impact"), r.opt("target_probability")) {
        (None, None) => {
            if r.opt("target_rating").is_some() {
                cx.err(
                    t,
                    r,
                    "target_rating",
                    "given without target_impact and target_probability",
                );
                None
            } else {
                Some(None)
            }
        }
        (Some(_), Some(_)) => {
            let ti = level(cx, t, r, "target_impact", true);
            let tp = level(cx, t, r, "target_probability", false);
            match (ti, tp) {
                (Some(i), Some(p)) => {
                    let a = Assessment::new(i, p).expect(LEVELS);
                    rating_check(cx, t, r, "target_rating", &a);
                    Some(Some(a))
                }
                _ => None,
            }
        }
        (Some(_), None) => {
            cx.err(
                t,
                r,
                "target_probability",
                "give both target_impact and target_probability, or neither",
            );
            None
        }
        (None, Some(_)) => {
            cx.err(
                t,
                r,
                "target_impact",
                "give both target_impact and target_probability, or neither",
            );
            None
        }
    }
}

/// An impact or probability level (`Major 4`): the number, with a label
/// that must name it when one is printed.
fn level(cx: &mut Ctx, t: &Table, r: &Row, col: &str, impact: bool) -> Option<u8> {
    let v = r.get(col);
    let n = match parse::parse_level(if impact { "impact" } else { "probability" }, v) {
        Ok(n) => n,
        Err(e) => {
            cx.err(t, r, col, e.to_string());
            return None;
        }
    };
    let label = v
        .rsplit_once(char::is_whitespace)
        .map(|(l, _)| l.trim())
        .unwrap_or("");
    if !label.is_empty() {
        let expected = if impact {
            Impact::new(n).expect(LEVELS).name()
        } else {
            Probability::new(n).expect(LEVELS).name()
        };
        if !label.eq_ignore_ascii_case(expected) {
            cx.err(
                t,
                r,
                col,
                format!("label disagrees with the level: {n} is {expected}"),
            );
            return None;
        }
    }
    Some(n)
}

/// A printed rating (`High 12`) must be the assessment's score and band.
fn rating_check(cx: &mut Ctx, t: &Table, r: &Row, col: &str, a: &Assessment) {
    let v = r.get(col);
    if v.is_empty() {
        return;
    }
    let (label, score) = v.rsplit_once(char::is_whitespace).unwrap_or(("", v));
    let ok = score.trim().parse::<u8>().ok() == Some(a.score())
        && (label.trim().is_empty() || label.trim().eq_ignore_ascii_case(band(a.score()).label()));
    if !ok {
        cx.err(
            t,
            r,
            col,
            format!(
                "printed rating disagrees with impact × probability: {} × {} = {} {}",
                a.impact,
                a.probability,
                band(a.score()).label(),
                a.score()
            ),
        );
    }
}
