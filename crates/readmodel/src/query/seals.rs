//! Seals: listing the seals in the log, sealing a dashboard as of a
//! position, and verifying a seal by re-deriving the dashboard as of the
//! seal's position (figure-level differences named).

use std::collections::{BTreeMap, BTreeSet};

use perfledger_domain::dashboard::{self, Dashboard};
use perfledger_domain::event::Seal;
use perfledger_domain::period::Period;
use perfledger_domain::{Date, Text, Timestamp};
use perfledger_log::Seq;
use serde::{Deserialize, Serialize};

use super::{DashboardView, R};
use crate::keys;
use crate::store;
use crate::{AsOf, ReadModel};

/// A seal found in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealRecord {
    /// Sequence of the seal's commit.
    pub seq: Seq,
    /// Index in the commit.
    pub index: u16,
    /// The seal.
    pub seal: Seal,
    /// Seal id (`PCMC-2016-09-06-CG-Q1`); None for seals recorded before
    /// seals had ids (`DashboardSealed`), found by scope and period.
    pub seal_id: Option<String>,
    /// Title of the report committee received, if recorded.
    pub title: Option<String>,
    /// When it was sealed (an imported seal's own time); None for seals
    /// recorded without one (their commit's recorded time stands in).
    pub sealed_at: Option<Timestamp>,
}

/// One figure that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FigureDiff {
    /// JSON path of the figure (`indicators.counts.Green`).
    pub figure: String,
    /// Value on the left (sealed / expected).
    pub expected: Option<String>,
    /// Value on the right (re-derived / now).
    pub actual: Option<String>,
}

/// The outcome of verifying a seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealVerdict {
    /// The seal.
    pub seal: Seal,
    /// Digest in the seal.
    pub expected_digest: String,
    /// Digest of the dashboard re-derived as of the seal's position.
    pub actual_digest: String,
    /// Equal digests.
    pub matches: bool,
    /// Figures that differ from the expected dashboard, when the caller gave
    /// one ([`ReadModel::verify_seal_against`]); empty otherwise.
    pub differences: Vec<FigureDiff>,
    /// Figures that changed between the seal's position and the head (what
    /// committee saw → what is known now).
    pub changed_since: Vec<FigureDiff>,
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// A dashboard has string or unit-variant map keys only, so it always has
/// a JSON value; a silent `null` would report "no differences".
const DASHBOARD_JSON: &str = "a dashboard always converts to a JSON value";

/// Figure-level differences between two dashboards.
pub fn diff_dashboards(expected: &Dashboard, actual: &Dashboard) -> Vec<FigureDiff> {
    let mut a = BTreeMap::new();
    let mut b = BTreeMap::new();
    flatten(
        "",
        &serde_json::to_value(expected).expect(DASHBOARD_JSON),
        &mut a,
    );
    flatten(
        "",
        &serde_json::to_value(actual).expect(DASHBOARD_JSON),
        &mut b,
    );
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| FigureDiff {
            figure: k.clone(),
            expected: a.get(k).cloned(),
            actual: b.get(k).cloned(),
        })
        .collect()
}

impl ReadModel {
    /// Seals in the log up to a position.
    pub fn seals(&self, at: AsOf) -> R<Vec<SealRecord>> {
        let s = self.resolve(at)?;
        let mut out = Vec::new();
        for r in self.tree.scan_prefix([keys::SEAL]) {
            let (k, v) = r?;
            let seq = if k.len() == 11 {
                let mut b = [0u8; 8];
                b.copy_from_slice(&k[1..9]);
                u64::from_be_bytes(b)
            } else {
                continue;
            };
            if seq > s {
                break;
            }
            let index = u16::from_be_bytes([k[9], k[10]]);
            let mk = keys::seal_meta_key(seq, index);
            let meta: Option<store::SealMeta> = match self.tree.get(&mk)? {
                Some(m) => Some(store::decode(&mk, &m)?),
                None => None,
            };
            out.push(SealRecord {
                seq,
                index,
                seal: store::decode(&k, &v)?,
                seal_id: meta.as_ref().map(|m| m.seal_id.clone()),
                title: meta.as_ref().and_then(|m| m.title.clone()),
                sealed_at: meta.map(|m| Timestamp(m.sealed_at)),
            });
        }
        Ok(out)
    }

    /// A seal of the dashboard as of the checkpoint (the caller appends
    /// `Command::SealDashboard { seal }`).
    pub fn seal_for(
        &self,
        unit: Option<&str>,
        period: Period,
        committee: &str,
        meeting_date: Date,
    ) -> R<Seal> {
        let s = self.checkpoint()?;
        let view = self.dashboard_at(unit, period, s)?;
        Ok(Seal {
            unit: match unit {
                Some(u) => Some(Text::new("unit", u)?),
                None => None,
            },
            period,
            committee: Text::new("committee", committee)?,
            meeting_date,
            seq: s,
            digest: dashboard::digest(&view.dashboard),
        })
    }

    /// A seal of what a committee saw: the dashboard of a known unit (None =
    /// council-wide) for a period as of position `at` (the position the
    /// meeting's papers were produced from), for a known committee. The
    /// unit and committee are stored by their canonical names.
    pub fn seal_at(
        &self,
        unit: Option<&str>,
        period: Period,
        committee: &str,
        meeting_date: Date,
        at: AsOf,
    ) -> R<Seal> {
        let s = self.resolve(at)?;
        let head = self.checkpoint()?;
        let unit = match unit {
            Some(u) => Some(self.known_unit_at(u, head)?),
            None => None,
        };
        let committee = self.known_committee(committee, AsOf::Seq(head))?;
        let view = self.dashboard_at(unit.as_deref(), period, s)?;
        Ok(Seal {
            unit: match unit {
                Some(u) => Some(Text::new("unit", &u)?),
                None => None,
            },
            period,
            committee: Text::new("committee", &committee)?,
            meeting_date,
            seq: s,
            digest: dashboard::digest(&view.dashboard),
        })
    }

    /// Re-derive the sealed dashboard as of the seal's position and compare
    /// digests; also list the figures changed since (seal position → head).
    pub fn verify_seal(&self, seal: &Seal) -> R<SealVerdict> {
        self.verify(seal, None)
    }

    /// [`ReadModel::verify_seal`] with the dashboard committee saw (e.g. an
    /// export): `differences` lists every figure that differs from it.
    pub fn verify_seal_against(&self, seal: &Seal, expected: &Dashboard) -> R<SealVerdict> {
        self.verify(seal, Some(expected))
    }

    pub(super) fn verify(&self, seal: &Seal, expected: Option<&Dashboard>) -> R<SealVerdict> {
        let unit = seal.unit.as_ref().map(|u| u.as_str());
        let then = self.sealed_dashboard(seal)?;
        let now = self.dashboard_at(unit, seal.period, self.checkpoint()?)?;
        Ok(seal_verdict(seal, &then, &now, expected))
    }

    /// The dashboard a seal pins, re-derived as of the seal's position. It
    /// depends on the seal and the log up to that position only, so it
    /// never changes: a caller may keep it (the web keeps it per seal and
    /// recomputes only the dashboard at the new head when the head moves).
    pub fn sealed_dashboard(&self, seal: &Seal) -> R<DashboardView> {
        let unit = seal.unit.as_ref().map(|u| u.as_str());
        let s = self.resolve(AsOf::Seq(seal.seq))?;
        self.dashboard_at(unit, seal.period, s)
    }
}

/// The verdict of a seal from the dashboard re-derived at its position
/// (`then`, [`ReadModel::sealed_dashboard`]) and the dashboard of the same
/// scope and period at a later position (`now`): the digests compared, the
/// figures changed since, and, given the dashboard committee saw
/// (`expected`), every figure that differs from it.
pub fn seal_verdict(
    seal: &Seal,
    then: &DashboardView,
    now: &DashboardView,
    expected: Option<&Dashboard>,
) -> SealVerdict {
    let expected_digest = hex::encode(seal.digest);
    SealVerdict {
        seal: seal.clone(),
        matches: expected_digest == then.digest,
        actual_digest: then.digest.clone(),
        expected_digest,
        differences: expected
            .map(|e| diff_dashboards(e, &then.dashboard))
            .unwrap_or_default(),
        changed_since: diff_dashboards(&then.dashboard, &now.dashboard),
    }
}
