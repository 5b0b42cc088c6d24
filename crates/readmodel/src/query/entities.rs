//! Finding entities, units and committees by what people call them
//! (natural key, title or reference alias, uuid), as known at S: a name
//! that is unknown at S, or names several entities, is an error, never an
//! empty view.

use std::collections::BTreeSet;

use perfledger_domain::event::EventBody;
use perfledger_domain::ids::normalise_key;
use perfledger_domain::EntityKind;
use perfledger_log::Seq;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::R;
use crate::keys;
use crate::project::{body_unit, uuid_from};
use crate::store::{self, UnitInfo};
use crate::{AsOf, ReadModel, ReadModelError};

/// A unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRow {
    /// Name.
    pub name: String,
    /// First sequence it appeared at.
    pub first_seq: Seq,
}

impl ReadModel {
    /// Find an entity by natural key, title/reference alias or uuid, as known at s.
    pub fn find_entity(&self, kind: EntityKind, key: &str, at: AsOf) -> R<Uuid> {
        let s = self.resolve(at)?;
        self.find_at(kind, key, s)
    }

    pub(super) fn find_at(&self, kind: EntityKind, key: &str, s: Seq) -> R<Uuid> {
        let not_found = || ReadModelError::NotFound {
            kind: kind.token(),
            key: key.to_string(),
        };
        if let Ok(id) = Uuid::try_parse(key.trim()) {
            if let Some(info) = self.entity_info(id)? {
                if info.kind == kind && info.first_seq <= s {
                    return Ok(id);
                }
            }
        }
        let prefix = keys::alias_prefix(kind, &normalise_key(key));
        let mut found = BTreeSet::new();
        for r in self.tree.scan_prefix(&prefix) {
            let (k, v) = r?;
            let first = <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .unwrap_or(u64::MAX);
            if first > s || k.len() != prefix.len() + 16 {
                continue;
            }
            if let Some(id) = uuid_from(&k[prefix.len()..]) {
                found.insert(id);
            }
        }
        match found.len() {
            0 => Err(not_found()),
            1 => found.into_iter().next().ok_or_else(not_found),
            count => Err(ReadModelError::Ambiguous {
                kind: kind.token(),
                key: key.to_string(),
                count,
            }),
        }
    }

    /// The canonical name of a unit known at `s`, or `NotFound` naming it:
    /// the one check of a `unit` argument shared by the CLI, the web and
    /// the NATS query service (a typo is an error, never an empty view).
    pub fn known_unit(&self, unit: &str, at: AsOf) -> R<String> {
        let s = self.resolve(at)?;
        self.known_unit_at(unit, s)
    }

    pub(super) fn known_unit_at(&self, unit: &str, s: Seq) -> R<String> {
        let k = keys::unit_key(&normalise_key(unit));
        if let Some(v) = self.tree.get(&k)? {
            let info: UnitInfo = store::decode(&k, &v)?;
            if info.first_seq <= s {
                return Ok(info.name);
            }
        }
        Err(ReadModelError::NotFound {
            kind: EntityKind::Unit.token(),
            key: unit.to_string(),
        })
    }

    /// Refuse an unknown unit (None = council-wide, always known).
    pub(crate) fn check_unit(&self, unit: Option<&str>, s: Seq) -> R<()> {
        match unit {
            Some(u) => self.known_unit_at(u, s).map(drop),
            None => Ok(()),
        }
    }

    pub(crate) fn unit_name(&self, unit: &str, s: Seq) -> R<String> {
        let k = keys::unit_key(&normalise_key(unit));
        if let Some(v) = self.tree.get(&k)? {
            let info: UnitInfo = store::decode(&k, &v)?;
            if info.first_seq <= s {
                return Ok(info.name);
            }
        }
        Ok(unit.trim().to_string())
    }

    /// Units known as of a position (from unit definitions and the units
    /// named by indicators, actions, risks, lines and savings).
    pub fn units(&self, at: AsOf) -> R<Vec<UnitRow>> {
        let s = self.resolve(at)?;
        let mut out = Vec::new();
        for r in self.tree.scan_prefix([keys::UNIT]) {
            let (k, v) = r?;
            let info: UnitInfo = store::decode(&k, &v)?;
            if info.first_seq <= s {
                out.push(UnitRow {
                    name: info.name,
                    first_seq: info.first_seq,
                });
            }
        }
        Ok(out)
    }

    /// The code of a committee defined as of a position (by its code or
    /// natural key), or `NotFound` naming it.
    pub fn known_committee(&self, committee: &str, at: AsOf) -> R<String> {
        use perfledger_domain::organisation::OrgKind;
        let s = self.resolve(at)?;
        let key =
            perfledger_domain::ids::composite_key(&[OrgKind::Committee.token(), committee.trim()]);
        let not_found = || ReadModelError::NotFound {
            kind: "committee",
            key: committee.to_string(),
        };
        let id = match self.find_at(EntityKind::Unit, &key, s) {
            Ok(id) => id,
            Err(ReadModelError::NotFound { .. }) => return Err(not_found()),
            Err(e) => return Err(e),
        };
        match self.spec_at(id, s)? {
            Some(EventBody::CommitteeDefined { spec }) => Ok(spec.name.to_string()),
            _ => Err(not_found()),
        }
    }

    /// Unit an entity belongs to as of a position (None if unknown).
    pub fn unit_of(&self, kind: EntityKind, key: &str, at: AsOf) -> R<Option<String>> {
        let s = self.resolve(at)?;
        let id = self.find_at(kind, key, s)?;
        Ok(self
            .spec_at(id, s)?
            .as_ref()
            .and_then(body_unit)
            .map(|u| u.to_string()))
    }
}
