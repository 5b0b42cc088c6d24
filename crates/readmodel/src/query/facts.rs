//! As-of reads of the versioned slots and registries, shared by every
//! view: each takes the sequence S a query resolved its [`crate::AsOf`] to and
//! returns only what was written at or below S (a version's seq, a
//! membership's or alias's first sequence). Nothing here knows a view.

use std::collections::{BTreeMap, BTreeSet};

use perfledger_domain::event::EventBody;
use perfledger_domain::ids::normalise_key;
use perfledger_domain::period::{FinancialYear, Period};
use perfledger_domain::rag::ToleranceScheme;
use perfledger_domain::EntityKind;
use perfledger_log::Seq;
use uuid::Uuid;

use super::R;
use crate::keys::{self, field};
use crate::project::uuid_from;
use crate::store::{self, EntityInfo, FactRecord, Membership};
use crate::versions::{self, VersionRef};
use crate::{ReadModel, ReadModelError};

/// The first month of a financial year as the period keys count months
/// ([`FinancialYear::first_month`], the domain's calendar).
pub(crate) fn fy_start_month(fy: FinancialYear) -> u32 {
    u32::try_from(fy.first_month().0).expect("a financial year is validated to 1900-9998")
}

impl ReadModel {
    /// Decode a version's stored record.
    pub(super) fn decode_version(&self, key: &[u8], v: &VersionRef<'_>) -> R<FactRecord> {
        store::decode_fact(key, v.record)
    }

    /// Last version of one fact with seq ≤ s.
    pub(crate) fn fact_at(
        &self,
        entity: Uuid,
        fld: u8,
        period: Option<Period>,
        s: Seq,
    ) -> R<Option<FactRecord>> {
        let pk = versions::period_key(period);
        let key = keys::slot_key(entity, fld, pk);
        let Some(value) = self.tree.get(&key)? else {
            return Ok(None);
        };
        match versions::find_at(&key, &value, pk, s)? {
            Some(v) => Ok(Some(self.decode_version(&key, &v)?)),
            None => Ok(None),
        }
    }

    /// Every version of one fact (one period) with seq ≤ s, oldest first.
    pub(super) fn fact_history(
        &self,
        entity: Uuid,
        fld: u8,
        period: Option<Period>,
        s: Seq,
    ) -> R<Vec<FactRecord>> {
        let pk = versions::period_key(period);
        let key = keys::slot_key(entity, fld, pk);
        let Some(value) = self.tree.get(&key)? else {
            return Ok(Vec::new());
        };
        versions::parse(&key, &value)?
            .iter()
            .filter(|v| v.period == pk && v.seq <= s)
            .map(|v| self.decode_version(&key, v))
            .collect()
    }

    /// The fact of the latest period ending no later than `upto` (and, if
    /// given, starting no earlier than month `min_start`), as known at s.
    pub(crate) fn fact_latest_upto(
        &self,
        entity: Uuid,
        fld: u8,
        min_start: Option<u32>,
        upto: Option<Period>,
        s: Seq,
    ) -> R<Option<FactRecord>> {
        let fp = keys::slot_field_prefix(entity, fld);
        let upto_key = upto.map(keys::period_bytes);
        let hi = match upto_key {
            Some(pk) => keys::prefix_end(&keys::slot_key(entity, fld, pk)),
            None => keys::prefix_end(&fp),
        };
        for r in self.tree.range(fp..hi).rev() {
            let (k, value) = r?;
            let slot = versions::parse(&k, &value)?;
            for v in slot.iter().rev() {
                if upto_key.is_some_and(|u| v.period > u) {
                    continue;
                }
                if let Some(ms) = min_start {
                    if v.end_month() < ms {
                        return Ok(None);
                    }
                    if v.start_month() < ms {
                        continue;
                    }
                }
                if v.seq > s {
                    continue;
                }
                return Ok(Some(self.decode_version(&k, v)?));
            }
        }
        Ok(None)
    }

    /// All versions of one field (every period) with seq ≤ s, in period order.
    pub(super) fn fact_versions(&self, entity: Uuid, fld: u8, s: Seq) -> R<Vec<FactRecord>> {
        let mut out = Vec::new();
        for r in self.tree.scan_prefix(keys::slot_field_prefix(entity, fld)) {
            let (k, value) = r?;
            for v in versions::parse(&k, &value)? {
                if v.seq <= s {
                    out.push(self.decode_version(&k, &v)?);
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn schemes_at(&self, s: Seq) -> R<BTreeMap<FinancialYear, ToleranceScheme>> {
        let mut out = BTreeMap::new();
        for r in self
            .tree
            .scan_prefix(keys::global_field_prefix(field::SCHEME))
        {
            let (k, value) = r?;
            for v in versions::parse(&k, &value)? {
                if v.seq > s {
                    continue;
                }
                if let EventBody::ToleranceSchemeAdopted {
                    effective_from,
                    scheme,
                    ..
                } = self.decode_version(&k, &v)?.body
                {
                    out.insert(effective_from, scheme);
                }
            }
        }
        Ok(out)
    }

    /// Entities of `kind` in `unit` (None = all units) as of s, by id.
    pub(crate) fn members(&self, unit: Option<&str>, kind: EntityKind, s: Seq) -> R<Vec<Uuid>> {
        let prefix = match unit {
            Some(u) => {
                let mut p = keys::member_unit_prefix(&normalise_key(u));
                p.push(keys::kind_byte(kind));
                p
            }
            None => vec![keys::MEMBER],
        };
        let set: BTreeSet<Uuid> = self
            .memberships(&prefix, kind, s)?
            .into_iter()
            .filter(|(_, present)| *present)
            .map(|((_, id), _)| id)
            .collect();
        Ok(set.into_iter().collect())
    }

    /// Entities of `kind` as of s by unit (normalised unit key → ids in id
    /// order): one scan for what [`ReadModel::members`] of each unit would
    /// find, for views that split council-wide rows by unit.
    pub(crate) fn members_by_unit(
        &self,
        kind: EntityKind,
        s: Seq,
    ) -> R<BTreeMap<Vec<u8>, Vec<Uuid>>> {
        let mut out: BTreeMap<Vec<u8>, Vec<Uuid>> = BTreeMap::new();
        for ((unit, id), present) in self.memberships(&[keys::MEMBER], kind, s)? {
            if present {
                out.entry(unit).or_default().push(id);
            }
        }
        Ok(out)
    }

    /// The latest membership of each (unit key, entity) of `kind` under
    /// `prefix` as of s: present, or moved away.
    fn memberships(
        &self,
        prefix: &[u8],
        kind: EntityKind,
        s: Seq,
    ) -> R<BTreeMap<(Vec<u8>, Uuid), bool>> {
        let kb = keys::kind_byte(kind);
        let mut last: BTreeMap<(Vec<u8>, Uuid), bool> = BTreeMap::new();
        for r in self.tree.scan_prefix(prefix) {
            let (k, v) = r?;
            // u ++ unit ++ 0 ++ kind ++ uuid(16) ++ seq(8)
            if k.len() < 1 + 1 + 1 + 16 + 8 {
                continue;
            }
            let n = k.len();
            if k[n - 25] != kb || k[n - 26] != 0 {
                continue;
            }
            if keys::trailing_seq(&k).unwrap_or(u64::MAX) > s {
                continue;
            }
            let Some(id) = uuid_from(&k[n - 24..n - 8]) else {
                continue;
            };
            let m: Membership = store::decode(&k, &v)?;
            last.insert((k[1..n - 26].to_vec(), id), m.present);
        }
        Ok(last)
    }

    pub(crate) fn spec_at(&self, entity: Uuid, s: Seq) -> R<Option<EventBody>> {
        Ok(self.fact_at(entity, field::SPEC, None, s)?.map(|f| f.body))
    }

    pub(super) fn ended_at(&self, entity: Uuid, s: Seq) -> R<bool> {
        Ok(self.fact_at(entity, field::STATUS, None, s)?.is_some())
    }

    /// The natural key of an entity found by [`ReadModel::find_entity`]:
    /// its registry entry is written with the aliases it was found by, so
    /// a missing one is a corrupt read model, not an empty key.
    pub(super) fn natural_key(&self, entity: Uuid) -> R<String> {
        match self.entity_info(entity)? {
            Some(info) => Ok(info.natural_key),
            None => Err(ReadModelError::Corrupt {
                key: hex::encode(keys::entity_key(entity)),
                detail: "an entity found by name has no registry entry".to_string(),
            }),
        }
    }

    pub(super) fn entity_info(&self, entity: Uuid) -> R<Option<EntityInfo>> {
        let k = keys::entity_key(entity);
        match self.tree.get(&k)? {
            Some(v) => Ok(Some(store::decode(&k, &v)?)),
            None => Ok(None),
        }
    }
}
