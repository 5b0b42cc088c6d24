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
//! * **Rows are matched by identity**, never by position: indicator rows by
//!   reference (title when there is none), revenue and capital lines by
//!   (unit, line), savings and actions by (unit, reference), risks by risk
//!   id. A row on one
//!   side only is listed as added or removed.
//! * **Deterministic order**: sections in pack order (indicators, revenue,
//!   capital, savings, actions, risks), rows by key within a section, fields by
//!   name (serde_json's sorted map), events by (sequence, index), counts in
//!   dashboard order. No clock, no `HashMap`, no floats.
//! * **Figures** are the row's serde fields flattened to `a.b[i]` paths,
//!   `sources` left out (they are the events) and a target / result cell
//!   reduced to its printed `text` and `period`.
//! * **Events that changed a row** are the fact versions in the row's
//!   `sources` (current and sealed) recorded after the seal's position:
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

use super::{Pack, RulesVersion};
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
    /// `indicator`, `revenue`, `capital`, `savings`, `action` or `risk`.
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
    }
}

/// Every diffable row of a pack: (section order, section, key) → row.
fn rows(p: &Pack) -> BTreeMap<(u8, &'static str, String), Flat> {
    let mut out = BTreeMap::new();
    for l in p.indicators.iter().flat_map(|g| &g.rows) {
        let key = l.reference.clone().unwrap_or_else(|| l.title.clone());
        out.insert((0, "indicator", key), flat(l, &l.sources));
    }
    for l in &p.revenue {
        let key = format!("{} / {}", l.unit, l.line);
        out.insert((1, "revenue", key), flat(l, &l.sources));
    }
    for l in &p.capital {
        let key = format!("{} / {}", l.unit, l.line);
        out.insert((2, "capital", key), flat(l, &l.sources));
    }
    for l in &p.savings {
        let key = format!("{} / {}", l.unit, l.reference);
        out.insert((3, "savings", key), flat(l, &l.sources));
    }
    for l in &p.actions {
        let key = format!("{} / {}", l.unit, l.reference);
        out.insert((4, "action", key), flat(l, &l.sources));
    }
    for l in &p.risks.rows {
        out.insert((5, "risk", l.risk_id.clone()), flat(l, &l.sources));
    }
    out
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
            for side in [&rt, &rn] {
                let hit = side
                    .iter()
                    .find(|((_, sec, k), _)| *sec == row.section && *k == row.key);
                if let Some((_, f)) = hit {
                    seqs.extend(f.sources.iter().filter(|s| **s > c.sealed_as_of));
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
    let keys: BTreeSet<&(u8, &'static str, String)> = rt.keys().chain(rn.keys()).collect();
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
