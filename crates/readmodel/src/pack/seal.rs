//! Pack seals: what a seal pins and how `verify` judges it (issue #13
//! items 3 and 4).
//!
//! A [`PackSealRecord`] pins a pack: scope, period, log position, the
//! rules version it was derived under (by wire id, so a seal naming rules
//! this build does not know still decodes), the format byte, the SHA-256
//! digest and the canonical bytes themselves.
//!
//! Invariants:
//!
//! * **Distinct outcomes** ([`SealOutcome`]), judged in this order:
//!   stored bytes that do not hash to the recorded digest are
//!   [`SealOutcome::ContentAltered`] (tampering, or a damaged record); with
//!   the content intact, a rules version (or format byte) this build cannot
//!   derive is [`SealOutcome::DerivationUnavailable`], never tampering; a
//!   re-derivation at the position under the named rules that is not bit
//!   for bit the stored bytes is [`SealOutcome::Differs`], naming every
//!   differing figure (decoded vs re-derived, by JSON path); otherwise
//!   [`SealOutcome::Matches`].
//! * **Frozen rules.** [`Rules::builtin`] maps each [`RulesVersion`]'s
//!   wire id to its own build path ([`crate::ReadModel::pack`]); a change
//!   that alters a figure is a new id beside the old one. Tests register
//!   extra versions with `Rules::with` (compiled only under `cfg(test)`).
//! * Verification never panics on bad stored bytes and reads no clock.

use std::collections::BTreeMap;

use perfledger_domain::event::{PackPin, Seal};
use perfledger_domain::period::Period;
use perfledger_log::Seq;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{canonical_bytes, decode, Pack, RulesVersion, PACK_FORMAT};
use crate::{keys, store, AsOf, ReadModel, ReadModelError};

type R<T> = Result<T, ReadModelError>;

impl RulesVersion {
    /// Wire id a seal records (`V1` = 1). Never reused.
    pub fn id(self) -> u32 {
        match self {
            RulesVersion::V1 => 1,
        }
    }

    /// The rules version of a wire id, if this build knows it.
    pub fn from_id(id: u32) -> Option<RulesVersion> {
        match id {
            1 => Some(RulesVersion::V1),
            _ => None,
        }
    }
}

/// What a pack seal pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackSealRecord {
    /// Unit key (None = the whole council).
    pub unit: Option<String>,
    /// Reporting period.
    pub period: Period,
    /// Log position the pack is as of.
    pub as_of: Seq,
    /// Wire id of the rules the pack was derived under.
    pub rules: u32,
    /// Format byte of the stored bytes.
    pub format: u8,
    /// SHA-256 of the canonical bytes.
    pub digest: [u8; 32],
    /// The canonical bytes (`[format]` ++ postcard(pack)).
    pub bytes: Vec<u8>,
}

/// How a pack seal verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealOutcome {
    /// The stored bytes hash to the digest and re-derive bit for bit.
    Matches,
    /// The stored bytes do not hash to the recorded digest.
    ContentAltered {
        /// Hex SHA-256 of the stored bytes.
        stored_digest: String,
    },
    /// Content intact, but this build cannot derive it: unknown rules
    /// version or format byte.
    DerivationUnavailable {
        /// Why (e.g. `rules version 7 unknown to this build`).
        reason: String,
    },
    /// Content intact, but the re-derivation under the named rules differs.
    Differs {
        /// Every differing figure: `path: sealed → re-derived`.
        figures: Vec<String>,
    },
}

impl SealOutcome {
    /// Short printed name.
    pub fn name(&self) -> &'static str {
        match self {
            SealOutcome::Matches => "matches",
            SealOutcome::ContentAltered { .. } => "content altered",
            SealOutcome::DerivationUnavailable { .. } => "derivation unavailable",
            SealOutcome::Differs { .. } => "re-derivation differs",
        }
    }
}

/// A build path: the pack of a unit (None = council) for a period at a
/// position.
pub type Derivation = fn(&ReadModel, Option<&str>, Period, Seq) -> R<Pack>;

/// The rules versions this build can derive, by wire id.
pub struct Rules {
    versions: BTreeMap<u32, (&'static str, Derivation)>,
}

fn derive_v1(rm: &ReadModel, unit: Option<&str>, period: Period, s: Seq) -> R<Pack> {
    rm.pack(unit, period, AsOf::Seq(s), RulesVersion::V1)
}

impl Rules {
    /// Every [`RulesVersion`] this build has (each frozen).
    pub fn builtin() -> Rules {
        let mut versions: BTreeMap<u32, (&'static str, Derivation)> = BTreeMap::new();
        versions.insert(RulesVersion::V1.id(), (RulesVersion::V1.name(), derive_v1));
        Rules { versions }
    }

    /// Add a (test-only) rules version.
    #[cfg(test)]
    pub(crate) fn with(mut self, id: u32, name: &'static str, f: Derivation) -> Rules {
        self.versions.insert(id, (name, f));
        self
    }

    /// Printed name of a rules id (`v1`, or `#7` when unknown).
    pub fn name(&self, id: u32) -> String {
        self.versions
            .get(&id)
            .map_or_else(|| format!("#{id}"), |(n, _)| (*n).to_string())
    }

    /// Derive under a rules id (None = unknown to this build).
    pub fn derive(
        &self,
        rm: &ReadModel,
        id: u32,
        unit: Option<&str>,
        period: Period,
        s: Seq,
    ) -> Option<R<Pack>> {
        self.versions.get(&id).map(|(_, f)| f(rm, unit, period, s))
    }
}

impl PackSealRecord {
    /// The record of a stored pack seal: its seal and pinned pack.
    pub fn of(seal: &Seal, pin: &PackPin) -> PackSealRecord {
        PackSealRecord {
            unit: seal.unit.as_ref().map(|u| u.to_string()),
            period: seal.period,
            as_of: seal.seq,
            rules: pin.rules,
            format: pin.format,
            digest: pin.digest,
            bytes: pin.bytes.clone(),
        }
    }
}

impl ReadModel {
    /// The pack a pack seal (the seal at `seq`, `index` of
    /// [`ReadModel::seals`]) pins; None for dashboard-only seals.
    pub fn seal_pack(&self, seq: Seq, index: u16) -> R<Option<PackPin>> {
        let k = keys::seal_pack_key(seq, index);
        match self.tree.get(&k)? {
            Some(v) => Ok(Some(store::decode(&k, &v)?)),
            None => Ok(None),
        }
    }

    /// Build the record a pack seal pins, under `rules` (an id of
    /// [`Rules`]; [`RulesVersion::CURRENT`] for new seals).
    pub fn pack_seal_record(
        &self,
        rules: &Rules,
        id: u32,
        unit: Option<&str>,
        period: Period,
        at: AsOf,
    ) -> R<Option<PackSealRecord>> {
        let s = self.resolve(at)?;
        let Some(pack) = rules.derive(self, id, unit, period, s) else {
            return Ok(None);
        };
        let bytes = canonical_bytes(&pack?);
        Ok(Some(PackSealRecord {
            unit: unit.map(str::to_string),
            period,
            as_of: s,
            rules: id,
            format: PACK_FORMAT,
            digest: Sha256::digest(&bytes).into(),
            bytes,
        }))
    }

    /// Verify a pack seal (see the module header for the outcomes).
    pub fn verify_pack_seal(&self, seal: &PackSealRecord, rules: &Rules) -> R<SealOutcome> {
        let stored: [u8; 32] = Sha256::digest(&seal.bytes).into();
        if stored != seal.digest || seal.bytes.first() != Some(&seal.format) {
            return Ok(SealOutcome::ContentAltered {
                stored_digest: hex::encode(stored),
            });
        }
        let sealed = match decode(&seal.bytes) {
            Ok(p) => p,
            Err(e) => {
                return Ok(SealOutcome::DerivationUnavailable {
                    reason: e.to_string(),
                })
            }
        };
        let unit = seal.unit.as_deref();
        let Some(derived) = rules.derive(self, seal.rules, unit, seal.period, seal.as_of) else {
            return Ok(SealOutcome::DerivationUnavailable {
                reason: format!("rules version {} unknown to this build", seal.rules),
            });
        };
        let derived = derived?;
        if canonical_bytes(&derived) == seal.bytes {
            return Ok(SealOutcome::Matches);
        }
        Ok(SealOutcome::Differs {
            figures: diff_packs(&sealed, &derived),
        })
    }
}

/// Every differing leaf of two packs, as `path: sealed → re-derived`, in
/// the packs' field order.
pub fn diff_packs(sealed: &Pack, derived: &Pack) -> Vec<String> {
    let as_json = |p: &Pack| {
        serde_json::to_string(p)
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .unwrap_or(Value::Null)
    };
    let mut out = Vec::new();
    diff_values("", &as_json(sealed), &as_json(derived), &mut out);
    if out.is_empty() {
        // Equal JSON but different bytes: name the encoding, not a figure.
        out.push("(encoding)".to_string());
    }
    out
}

fn diff_values(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = format!("{path}.{k}");
                diff_values(&p, va, y.get(k).unwrap_or(&Value::Null), out);
            }
            for (k, vb) in y.iter().filter(|(k, _)| !x.contains_key(*k)) {
                diff_values(&format!("{path}.{k}"), &Value::Null, vb, out);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let null = Value::Null;
                diff_values(
                    &format!("{path}[{i}]"),
                    x.get(i).unwrap_or(&null),
                    y.get(i).unwrap_or(&null),
                    out,
                );
            }
        }
        _ if a != b => out.push(format!("{}: {a} → {b}", path.trim_start_matches('.'))),
        _ => {}
    }
}

#[cfg(test)]
#[path = "seal_tests.rs"]
mod tests;
