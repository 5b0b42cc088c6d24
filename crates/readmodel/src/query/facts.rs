//! As-of reads of the versioned slots and registries, shared by every
//! view: each takes the sequence S a query resolved its [`crate::AsOf`] to and
//! returns only what was written at or below S (a version's seq, a
//! membership's or alias's first sequence). Nothing here knows a view.

use std::collections::BTreeMap;

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
/// How many calendar-year slots [`ReadModel::fact_latest_upto`] reads with
/// point gets before it falls back to a reverse range: a financial year
/// spans two calendar years.
const NEAR_BUCKETS: u32 = 2;

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
    ///
    /// Slots hold one calendar year each and the answer is nearly always in
    /// `upto`'s year or the one before (a forecast of the same financial
    /// year, a risk's last quarterly assessment), so the nearest
    /// [`NEAR_BUCKETS`] slots are point gets; only an answer further back
    /// pays for a reverse range, which costs sled several times a get.
    pub(crate) fn fact_latest_upto(
        &self,
        entity: Uuid,
        fld: u8,
        min_start: Option<u32>,
        upto: Option<Period>,
        s: Seq,
    ) -> R<Option<FactRecord>> {
        let fp = keys::slot_field_prefix(entity, fld);
        let Some(upto_key) = upto.map(keys::period_bytes) else {
            let hi = keys::prefix_end(&fp);
            return self.latest_in_range(fp, hi, None, min_start, s);
        };
        let top = keys::bucket(upto_key);
        // A bucket's periods end in months 12b..=12b+11: one ending before
        // `min_start` holds nothing that starts at or after it.
        let below_floor = |b: u32| min_start.is_some_and(|ms| 12 * b + 11 < ms);
        let nearest = top.saturating_sub(NEAR_BUCKETS - 1);
        for b in (nearest..=top).rev() {
            if below_floor(b) {
                return Ok(None);
            }
            let key = keys::slot_key_in_bucket(entity, fld, b);
            if let Some(value) = self.tree.get(&key)? {
                if let Some(found) = self.latest_in_slot(&key, &value, upto_key, min_start, s)? {
                    return Ok(found);
                }
            }
        }
        if nearest == 0 || below_floor(nearest - 1) {
            return Ok(None);
        }
        let hi = keys::slot_key_in_bucket(entity, fld, nearest);
        self.latest_in_range(fp, hi, Some(upto_key), min_start, s)
    }

    /// [`ReadModel::fact_latest_upto`] over the slots in `lo..hi`, newest first.
    fn latest_in_range(
        &self,
        lo: Vec<u8>,
        hi: Vec<u8>,
        upto_key: Option<[u8; 8]>,
        min_start: Option<u32>,
        s: Seq,
    ) -> R<Option<FactRecord>> {
        for r in self.tree.range(lo..hi).rev() {
            let (k, value) = r?;
            let upto = upto_key.unwrap_or([u8::MAX; 8]);
            if let Some(found) = self.latest_in_slot(&k, &value, upto, min_start, s)? {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// One slot's part of [`ReadModel::fact_latest_upto`], newest version
    /// first: `Some(answer)` when the search ends in this slot (found, or
    /// passed `min_start`), None to go on to the slot before.
    fn latest_in_slot(
        &self,
        key: &[u8],
        value: &[u8],
        upto_key: [u8; 8],
        min_start: Option<u32>,
        s: Seq,
    ) -> R<Option<Option<FactRecord>>> {
        let slot = versions::parse(key, value)?;
        for v in slot.iter().rev() {
            if v.period > upto_key {
                continue;
            }
            if let Some(ms) = min_start {
                if v.end_month() < ms {
                    return Ok(Some(None));
                }
                if v.start_month() < ms {
                    continue;
                }
            }
            if v.seq > s {
                continue;
            }
            return Ok(Some(Some(self.decode_version(key, v)?)));
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
            Some(u) => keys::member_unit_prefix(kind, &normalise_key(u)),
            None => keys::member_kind_prefix(kind),
        };
        let mut ids = Vec::new();
        self.memberships(&prefix, s, |_, id| ids.push(id))?;
        // One unit's scan is in id order already; all units' is in (unit,
        // id) order, and an entity present in two units at once would be a
        // projector bug the dedup hides from nobody (it is counted once).
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
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
        self.memberships(&keys::member_kind_prefix(kind), s, |unit, id| {
            match out.get_mut(unit) {
                Some(ids) => ids.push(id),
                None => {
                    out.insert(unit.to_vec(), vec![id]);
                }
            }
        })?;
        Ok(out)
    }

    /// Calls `present(unit key, entity)` for each (unit, entity) under
    /// `prefix` (one kind, [`keys::member_kind_prefix`] or
    /// [`keys::member_unit_prefix`]) whose latest membership version at or
    /// below s says it is in the unit, in (unit, entity) order.
    ///
    /// The versions of one (unit, entity) are adjacent and in sequence
    /// order (`u` ++ kind ++ unit ++ 0 ++ entity(16) ++ seq(8)), so one
    /// pass keeps only the group being read.
    fn memberships(&self, prefix: &[u8], s: Seq, mut present: impl FnMut(&[u8], Uuid)) -> R<()> {
        // (key of the group's latest version ≤ s, whether it is present)
        let mut group: Option<(sled::IVec, bool)> = None;
        let same_group =
            |a: &[u8], b: &[u8]| a.len() == b.len() && a[..a.len() - 8] == b[..b.len() - 8];
        let mut emit = |group: Option<(sled::IVec, bool)>| {
            if let Some((k, true)) = group {
                let n = k.len();
                let id =
                    uuid_from(&k[n - 24..n - 8]).expect("a member key holds a 16-byte entity id");
                present(&k[2..n - 25], id);
            }
        };
        for r in self.tree.scan_prefix(prefix) {
            let (k, v) = r?;
            if k.len() < 2 + 1 + 16 + 8 || k[k.len() - 25] != 0 {
                return Err(ReadModelError::Corrupt {
                    key: hex::encode(&k),
                    detail: "a membership key is u ++ kind ++ unit ++ 0 ++ entity(16) ++ seq(8)"
                        .to_string(),
                });
            }
            if keys::trailing_seq(&k).is_some_and(|seq| seq > s) {
                continue;
            }
            let m: Membership = store::decode(&k, &v)?;
            match &group {
                Some((g, _)) if same_group(g, &k) => {}
                _ => emit(group.take()),
            }
            group = Some((k, m.present));
        }
        emit(group);
        Ok(())
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
