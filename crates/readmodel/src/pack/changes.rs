//! Changes since a seal (issue #13 item 7): every figure of the sealed
//! pack that differs now, before → after, with the events that changed it,
//! and every summary count attributed to the rows that moved it.
//!
//! Invariants:
//!
//! * **The sealed pack is re-derived**: [`crate::ReadModel::pack`] at the
//!   seal's dashboard position (`Seal::seq`) under the current rules; the
//!   current pack is the pack at head (or a given position). Works for
//!   every seal in the log, whether or not it stores the pack bytes.
//! * **Every section is diffed**, rows matched by identity, never by
//!   position: indicator rows by reference (title when there is none); the
//!   dashboard by scope (its digest, finance, action-total and escalation
//!   figures; its indicator and action counts are count changes below);
//!   revenue and capital lines by (unit, line); savings and actions by
//!   (unit, reference); the revenue, capital and savings totals by name;
//!   the overview by indicator type; off-target comments by reference;
//!   risks by risk id; each heat-map cell by map, impact and probability
//!   (`current I4 P3`); HR and customer-experience measures by (unit,
//!   title); the council-wide per-unit overview by unit. A row on one side
//!   only is listed as added or removed.
//! * **Deterministic order**: the indicator table first, then sections in
//!   pack order (`SECTIONS`), rows by key within a section, fields by
//!   name (serde_json's sorted map), events by (sequence, index), counts in
//!   dashboard order. No clock, no `HashMap`, no floats.
//! * **Figures** are the row's serde fields flattened to `a.b[i]` paths,
//!   `sources` left out (they are the events) and a target / result cell
//!   reduced to its printed `text` and `period`.
//! * **Events that changed a row** are the fact versions in the row's
//!   `sources` (current and sealed) recorded after the seal's position
//!   and of its related rows (a total's sources are its lines'; a
//!   heat-map cell's related rows are the risks assessed into it on either
//!   side; an off-target comment's is its indicator row, whose rating moves
//!   it in or out):
//!   each with sequence, recorded time, actor, reason, source, migrated_at.
//! * **Count attribution**: a summary count (RAG, direction of travel,
//!   action status, RAG by indicator type in the overview, risks escalated) is listed when it differs or a row moved in or out of
//!   it; `moved_by` names the rows whose rating entered or left it. The
//!   counts are the dashboard's own (`dashboard.indicators`,
//!   `dashboard.actions`), so the figures agree with the printed pack.

use std::collections::{BTreeMap, BTreeSet};

use perfledger_domain::action::ActionStatus;
use perfledger_domain::dashboard::RagBreakdown;
use perfledger_domain::period::Period;
use perfledger_log::Seq;
use serde::Serialize;
use serde_json::Value;

use perfledger_domain::risk::{Assessment, HeatMap};

use super::{Pack, RiskLine, RulesVersion};
use crate::{keys, store, versions, AsOf, AuditEntry, ReadModel, ReadModelError};

type R<T> = Result<T, ReadModelError>;

/// What changed in a sealed pack since its seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackChanges {
    /// Seal id (`PCMC-2016-09-06-CG-Q1`).
    pub seal_id: String,
    /// Unit, None = the whole council.
    pub unit: Option<String>,
    /// Period sealed.
    pub period: Period,
    /// Position the sealed pack is derived at (the seal's dashboard position).
    pub sealed_as_of: Seq,
    /// Position of the current pack.
    pub now_as_of: Seq,
    /// Rows that differ, in section then key order.
    pub rows: Vec<RowChange>,
    /// Summary counts that moved, with the rows that moved them.
    pub counts: Vec<CountChange>,
}

/// One pack row that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowChange {
    /// `indicator`, `dashboard`, `revenue`, `capital`, `savings`, `total`,
    /// `overview`, `off-target`, `action`, `risk`, `heat-map`, `measure` or
    /// `unit` (see `SECTIONS`).
    pub section: String,
    /// The row's identity (`CG/S26`, `CG / Finance`).
    pub key: String,
    /// Figures before → after (a missing side = the row was added/removed).
    pub fields: Vec<FieldChange>,
    /// Events recorded after the seal that this row is derived from.
    pub events: Vec<AuditEntry>,
}

/// One figure before → after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// Field path (`result.text`, `rag`).
    pub field: String,
    /// Value in the sealed pack.
    pub before: Option<String>,
    /// Value now.
    pub after: Option<String>,
}

/// A summary count that moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountChange {
    /// `indicators.Green`, `direction.worsened`, `actions.Red`,
    /// `overview.Spi.GreenAmber`, ...
    pub count: String,
    /// Count in the sealed pack.
    pub before: u32,
    /// Count now.
    pub after: u32,
    /// Row keys whose rating entered or left this count.
    pub moved_by: Vec<String>,
}

/// A row flattened to (field → value) with its sources.
struct Flat {
    fields: BTreeMap<String, String>,
    sources: Vec<Seq>,
    /// Rows whose events are this row's too: an off-target comment's
    /// indicator (its rating moves the comment in or out), a heat-map
    /// cell's risks (a risk rescored out of a cell changes it, though its
    /// new sources are on the risk's row only).
    related: Vec<Key>,
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if prefix.is_empty() && k == "sources" {
                    continue;
                }
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        Value::Null => {}
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn flat<T: Serialize>(row: &T, sources: &[Seq]) -> Flat {
    let mut fields = BTreeMap::new();
    if let Ok(v) = serde_json::to_value(row) {
        flatten("", &v, &mut fields);
    }
    // A target / result cell's printed `text` is its figure; the structured
    // value and the number behind it repeat it.
    fields.retain(|k, _| {
        let mut p = k.split('.');
        !matches!(
            (p.next(), p.next()),
            (Some(_), Some("result" | "target" | "value"))
        )
    });
    Flat {
        fields,
        sources: sources.to_vec(),
        related: Vec::new(),
    }
}

/// Section order of [`rows`]: the indicator table first (the figures
/// committee discusses), then the rest in the pack's own order. Never
/// reorder: the output order is part of the JSON and CSV contract.
const SECTIONS: [&str; 13] = [
    "indicator",
    "dashboard",
    "revenue",
    "capital",
    "savings",
    "total",
    "overview",
    "off-target",
    "action",
    "risk",
    "heat-map",
    "measure",
    "unit",
];

/// A row key: (section order, section, row identity).
type Key = (u8, &'static str, String);

fn key(section: &'static str, id: String) -> Key {
    let order = SECTIONS
        .iter()
        .position(|s| *s == section)
        .expect("every section diffed is listed in SECTIONS");
    (
        u8::try_from(order).expect("fewer than 256 sections"),
        section,
        id,
    )
}

/// The static name of a section listed in `SECTIONS`.
fn section_name(s: &str) -> &'static str {
    SECTIONS
        .iter()
        .find(|x| **x == s)
        .expect("a row change names a section of SECTIONS")
}

/// Sorted union of several rows' sources.
fn union<'a>(of: impl IntoIterator<Item = &'a [Seq]>) -> Vec<Seq> {
    let all: BTreeSet<Seq> = of.into_iter().flatten().copied().collect();
    all.into_iter().collect()
}

/// Every diffable row of a pack: every section, each row under its
/// identity (see the module header), with the sources it was derived from.
fn rows(p: &Pack) -> BTreeMap<Key, Flat> {
    let mut out = BTreeMap::new();
    for l in p.indicators.iter().flat_map(|g| &g.rows) {
        let id = l.reference.clone().unwrap_or_else(|| l.title.clone());
        out.insert(key("indicator", id), flat(l, &l.sources));
    }
    let mut dash = flat(&p.dashboard, &p.dashboard.sources);
    // The indicator and action counts are listed, with the rows that moved
    // them, as count changes; the row keeps the digest and the finance,
    // action total and escalation figures.
    dash.fields
        .retain(|k, _| !k.starts_with("indicators.") && !k.starts_with("actions["));
    out.insert(key("dashboard", scope(p)), dash);
    for l in &p.revenue {
        let id = format!("{} / {}", l.unit, l.line);
        out.insert(key("revenue", id), flat(l, &l.sources));
    }
    for l in &p.capital {
        let id = format!("{} / {}", l.unit, l.line);
        out.insert(key("capital", id), flat(l, &l.sources));
    }
    for l in &p.savings {
        let id = format!("{} / {}", l.unit, l.reference);
        out.insert(key("savings", id), flat(l, &l.sources));
    }
    totals(p, &mut out);
    for t in &p.overview {
        let id = t.indicator_type.label().to_string();
        out.insert(key("overview", id), flat(&t.breakdown, &t.sources));
    }
    for o in &p.off_target {
        let id = o.reference.clone().unwrap_or_else(|| o.title.clone());
        let mut row = flat(o, &o.sources);
        row.related.push(key("indicator", id.clone()));
        out.insert(key("off-target", id), row);
    }
    for l in &p.actions {
        let id = format!("{} / {}", l.unit, l.reference);
        out.insert(key("action", id), flat(l, &l.sources));
    }
    for l in &p.risks.rows {
        out.insert(key("risk", l.risk_id.clone()), flat(l, &l.sources));
    }
    heat_maps(p, &mut out);
    for m in &p.measures {
        for r in &m.rows {
            let id = format!("{} / {}", m.unit, r.title);
            out.insert(key("measure", id), flat(r, &r.sources));
        }
    }
    for u in &p.units {
        out.insert(key("unit", u.unit.clone()), flat(&u.breakdown, &u.sources));
    }
    out
}

/// Printed scope of a pack (the dashboard row's key).
fn scope(p: &Pack) -> String {
    p.unit.clone().unwrap_or_else(|| "council-wide".to_string())
}

/// The revenue, capital and savings totals, each derived from its lines.
fn totals(p: &Pack, out: &mut BTreeMap<Key, Flat>) {
    let rev = union(p.revenue.iter().map(|l| l.sources.as_slice()));
    out.insert(key("total", "revenue".into()), flat(&p.revenue_total, &rev));
    let cap = union(p.capital.iter().map(|l| l.sources.as_slice()));
    out.insert(key("total", "capital".into()), flat(&p.capital_total, &cap));
    let sav = union(p.savings.iter().map(|l| l.sources.as_slice()));
    out.insert(key("total", "savings".into()), flat(&p.savings_total, &sav));
}

/// The two 5×5 heat maps, one row per cell (`current I4 P3`: impact 4,
/// probability 3) with its `count`, derived from the risks assessed into
/// that cell. Empty cells are rows too, so a cell emptied since the seal
/// is listed.
fn heat_maps(p: &Pack, out: &mut BTreeMap<Key, Flat>) {
    let r = &p.risks;
    type Pick = fn(&RiskLine) -> Option<Assessment>;
    let maps: [(&str, &HeatMap, Pick); 2] = [
        ("current", &r.heat_map_current, |l| l.current),
        ("target", &r.heat_map_target, |l| l.target),
    ];
    for (name, map, pick) in maps {
        for (i, row) in map.cells.iter().enumerate() {
            for (j, count) in row.iter().enumerate() {
                let (impact, probability) = (i + 1, j + 1);
                let in_cell: Vec<&RiskLine> = r
                    .rows
                    .iter()
                    .filter(|l| {
                        pick(l).is_some_and(|a| {
                            usize::from(a.impact) == impact
                                && usize::from(a.probability) == probability
                        })
                    })
                    .collect();
                let sources = union(in_cell.iter().map(|l| l.sources.as_slice()));
                let related = in_cell
                    .iter()
                    .map(|l| key("risk", l.risk_id.clone()))
                    .collect();
                let mut fields = BTreeMap::new();
                fields.insert("count".to_string(), count.to_string());
                out.insert(
                    key("heat-map", format!("{name} I{impact} P{probability}")),
                    Flat {
                        fields,
                        sources,
                        related,
                    },
                );
            }
        }
    }
}

/// Buckets a row counts in: (count name → row keys).
fn buckets(p: &Pack) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for l in p.indicators.iter().flat_map(|g| &g.rows) {
        let key = l.reference.clone().unwrap_or_else(|| l.title.clone());
        if let Some(r) = l.rag {
            out.entry(format!("indicators.{r:?}"))
                .or_default()
                .insert(key.clone());
            out.entry(format!("overview.{:?}.{r:?}", l.indicator_type))
                .or_default()
                .insert(key.clone());
        }
        let d = match l.direction_short {
            Some(d) if d.improved_or_same() => "direction.improved_or_same",
            Some(_) => "direction.worsened",
            None => "direction.none",
        };
        out.entry(d.to_string()).or_default().insert(key);
    }
    for l in &p.actions {
        if let Some(s) = l.status {
            out.entry(format!("actions.{s:?}"))
                .or_default()
                .insert(format!("{} / {}", l.unit, l.reference));
        }
    }
    for l in p.risks.rows.iter().filter(|l| l.escalated) {
        out.entry("risks.escalated".to_string())
            .or_default()
            .insert(l.risk_id.clone());
    }
    out
}

/// The dashboard's counts in dashboard order.
fn counts(p: &Pack) -> Vec<(String, u32)> {
    let b: &RagBreakdown = &p.dashboard.indicators;
    let mut out: Vec<(String, u32)> = b
        .counts
        .iter()
        .map(|(r, n)| (format!("indicators.{r:?}"), *n))
        .collect();
    out.push(("direction.improved_or_same".into(), b.improved_or_same));
    out.push(("direction.worsened".into(), b.worsened));
    out.push(("direction.none".into(), b.no_direction));
    for s in &p.dashboard.actions {
        let st: ActionStatus = s.status;
        out.push((format!("actions.{st:?}"), s.count));
    }
    for t in &p.overview {
        for (r, n) in &t.breakdown.counts {
            out.push((format!("overview.{:?}.{r:?}", t.indicator_type), *n));
        }
    }
    out.push(("risks.escalated".into(), p.dashboard.risks_escalated));
    out
}

/// Diff the summary counts of two packs, attributing each to moved rows.
pub fn count_changes(then: &Pack, now: &Pack) -> Vec<CountChange> {
    let before: BTreeMap<String, u32> = counts(then).into_iter().collect();
    let (bt, bn) = (buckets(then), buckets(now));
    let empty = BTreeSet::new();
    let mut out = Vec::new();
    for (name, after) in counts(now) {
        let before = before.get(&name).copied().unwrap_or(0);
        let (t, n) = (
            bt.get(&name).unwrap_or(&empty),
            bn.get(&name).unwrap_or(&empty),
        );
        let moved_by: Vec<String> = t.symmetric_difference(n).cloned().collect();
        if before != after || !moved_by.is_empty() {
            out.push(CountChange {
                count: name,
                before,
                after,
                moved_by,
            });
        }
    }
    out
}

impl ReadModel {
    /// What changed in the pack a seal (by id) pinned, from the seal's
    /// position to `at`. `NotFound` (kind `seal`) for an unknown id.
    pub fn pack_changes(&self, seal_id: &str, at: AsOf) -> R<PackChanges> {
        let now_s = self.resolve(at)?;
        let rec = self
            .seals(AsOf::Head)?
            .into_iter()
            .find(|r| r.seal_id.as_deref() == Some(seal_id.trim()))
            .ok_or_else(|| ReadModelError::NotFound {
                kind: "seal",
                key: seal_id.to_string(),
            })?;
        let unit = rec.seal.unit.as_ref().map(|u| u.to_string());
        let period = rec.seal.period;
        let then = self.pack(
            unit.as_deref(),
            period,
            AsOf::Seq(rec.seal.seq),
            RulesVersion::CURRENT,
        )?;
        let now = self.pack(
            unit.as_deref(),
            period,
            AsOf::Seq(now_s),
            RulesVersion::CURRENT,
        )?;
        let mut changes = PackChanges {
            seal_id: seal_id.trim().to_string(),
            unit,
            period,
            sealed_as_of: then.as_of,
            now_as_of: now.as_of,
            rows: row_changes(&then, &now),
            counts: count_changes(&then, &now),
        };
        self.attach_events(&mut changes, &then, &now)?;
        Ok(changes)
    }

    /// Fill each changed row's events: its sources after the seal.
    fn attach_events(&self, c: &mut PackChanges, then: &Pack, now: &Pack) -> R<()> {
        let (rt, rn) = (rows(then), rows(now));
        let mut wanted: BTreeMap<usize, BTreeSet<Seq>> = BTreeMap::new();
        for (i, row) in c.rows.iter().enumerate() {
            let seqs = wanted.entry(i).or_default();
            let k = key(section_name(&row.section), row.key.clone());
            let mut keys = vec![k.clone()];
            for side in [&rt, &rn] {
                keys.extend(side.get(&k).into_iter().flat_map(|f| f.related.clone()));
            }
            for k in &keys {
                for side in [&rt, &rn] {
                    let found = side.get(k).into_iter().flat_map(|f| &f.sources);
                    seqs.extend(found.filter(|s| **s > c.sealed_as_of));
                }
            }
        }
        let all: BTreeSet<Seq> = wanted.values().flatten().copied().collect();
        let entries = self.entries_at_seqs(&all)?;
        for (i, seqs) in wanted {
            c.rows[i].events = entries
                .iter()
                .filter(|e| seqs.contains(&e.seq))
                .cloned()
                .collect();
        }
        Ok(())
    }

    /// Audit entries of the fact versions recorded at the given sequences,
    /// by (sequence, index).
    fn entries_at_seqs(&self, seqs: &BTreeSet<Seq>) -> R<Vec<AuditEntry>> {
        let mut out = Vec::new();
        if seqs.is_empty() {
            return Ok(out);
        }
        for r in self.tree.scan_prefix([keys::FACT]) {
            let (k, value) = r?;
            for v in versions::parse(&k, &value)? {
                if seqs.contains(&v.seq) {
                    out.push(store::decode_fact(&k, v.record)?.audit_entry());
                }
            }
        }
        out.sort_by_key(|e| (e.seq, e.index));
        out.dedup_by(|a, b| (a.seq, a.index) == (b.seq, b.index));
        Ok(out)
    }
}

/// Rows that differ between two packs (events left empty).
pub fn row_changes(then: &Pack, now: &Pack) -> Vec<RowChange> {
    let (rt, rn) = (rows(then), rows(now));
    let keys: BTreeSet<&Key> = rt.keys().chain(rn.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let empty = BTreeMap::new();
        let (a, b) = (
            rt.get(key).map(|f| &f.fields),
            rn.get(key).map(|f| &f.fields),
        );
        let (fa, fb) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
        let names: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
        let mut fields: Vec<FieldChange> = names
            .into_iter()
            .filter(|n| fa.get(*n) != fb.get(*n))
            .map(|n| FieldChange {
                field: n.clone(),
                before: fa.get(n).cloned(),
                after: fb.get(n).cloned(),
            })
            .collect();
        if a.is_none() || b.is_none() {
            fields.insert(
                0,
                FieldChange {
                    field: "row".into(),
                    before: a.map(|_| "present".to_string()),
                    after: b.map(|_| "present".to_string()),
                },
            );
        }
        if !fields.is_empty() {
            out.push(RowChange {
                section: key.1.to_string(),
                key: key.2.clone(),
                fields,
                events: Vec::new(),
            });
        }
    }
    out
}
