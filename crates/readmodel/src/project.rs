//! The projector: log records → read-model writes, committed in batches
//! together with the checkpoint.
//!
//! Commit protocol: a batch (at most [`BATCH_RECORDS`] records) stages its
//! writes in memory: whole fact-version slots ([`crate::versions`]) and the
//! other keys. A batch small enough for one `apply_batch` (at most
//! [`WRITE_CHUNK`] keys) commits in one, checkpoint included. A larger one
//! (catch-up, rebuild) is applied in chunks of at most [`WRITE_CHUNK`] keys
//! and the checkpoint goes in the last chunk. That is still atomic as seen
//! through the checkpoint: every write is a pure function of the log prefix
//! (a slot is rewritten as a superset; other keys carry the sequence that
//! made them), every query reads only versions at or below the checkpoint,
//! and after a crash the projector drops versions above the checkpoint as it
//! reloads a slot and re-applies the same records to the same keys. Small
//! chunks keep sled's memory bounded; one key per slot per batch (not one
//! per event) is what makes a rebuild fast.
//!
//! Tenancy: the read model belongs to one tenant; records on other tenants'
//! subjects are skipped without being decoded, but still advance the
//! checkpoint and the time index (both are positions in the whole log), so
//! checkpoints, as-of positions and digests are exact and another tenant's
//! writes change nothing this tenant sees. A record on this tenant's subject
//! whose envelope names another tenant is not something the ledger writes:
//! it stops the projector with an error naming the sequence.
//!
//! Chain check: catch-up, rebuild and `follow` check the log's hash chain
//! ([`integrity::ChainCheck`]) as they read, one SHA-256 per record on the
//! read they already do. A record is applied once a checkpoint record in
//! the log vouches for it (records are held until then, at most
//! [`HOLD_RECORDS`]; the tail after the last checkpoint, which nothing
//! vouches for yet, is applied when the read reaches the head). A record
//! that fails the chain is not applied: the records before it are
//! committed and the projector stops with [`ProjectError::Chain`] naming
//! it. The chain root at the checkpoint is stored with it, so a resumed
//! catch-up goes on checking from there.
//!
//! Flush policy: sled makes nothing durable until it flushes. The projector
//! flushes after every catch-up batch, at the end of a catch-up, and in
//! `follow` whenever it has caught up with the log; sled's own background
//! flush (every second) bounds the loss on a crash to about a second of
//! work, which is re-projected on restart.

use std::collections::{BTreeMap, HashSet, VecDeque};

use futures::{FutureExt, StreamExt};
use perfledger_domain::command::{CALENDAR_KEY, COUNCIL_SCOPE, SCHEME_KEY};
use perfledger_domain::event::{EventBody, Seal};
use perfledger_domain::ids::{composite_key, normalise_key};
use perfledger_domain::organisation::OrgKind;
use perfledger_domain::{decode_commit, EntityKind, Envelope};
use perfledger_log::integrity::{self, ChainCheck, Hash};
use perfledger_log::{EventLog, LogRecord, Seq, Until};
use uuid::Uuid;

use crate::keys::{self, field};
use crate::store::{self, EntityInfo, FactRecord, Membership, UnitInfo};
use crate::versions::{self, Version};
use crate::{render, ProjectError, ReadModel, ReadModelError};

/// Records per batch (one checkpoint each) in catch-up and follow.
pub const BATCH_RECORDS: usize = 65_536;
/// Records between explicit flushes during catch-up.
pub const FLUSH_EVERY: u64 = 65_536;
/// Records between progress reports within a catch-up batch.
const PROGRESS_EVERY: usize = 4_096;
/// Most keys in one sled `apply_batch` (bounds sled's memory).
pub const WRITE_CHUNK: usize = 1_024;
/// Most records held back waiting for a checkpoint to vouch for them;
/// beyond it the oldest are applied unvouched (a log with longer runs
/// between checkpoints, such as a bulk load, is then checked when its
/// checkpoint is read, after those records were applied).
pub const HOLD_RECORDS: usize = 131_072;

/// Progress of a catch-up: records applied so far (this run) out of the
/// records to apply, and the checkpoint reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Records applied in this run.
    pub applied: u64,
    /// Records this run set out to apply.
    pub total: u64,
    /// Checkpoint (last applied sequence) after the last committed batch.
    pub checkpoint: Seq,
}

/// Consumes the log into a [`ReadModel`].
#[derive(Clone)]
pub struct Projector {
    rm: ReadModel,
    batch_records: usize,
    flush_every: u64,
}

/// Writes of the record being applied: discarded if it fails, merged into
/// the batch when it succeeds.
#[derive(Default)]
struct RecordStage {
    versions: Vec<(Vec<u8>, Version)>,
    puts: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// Staged writes of one batch plus the state carried across records.
struct Batcher {
    tree: sled::Tree,
    /// Checkpoint stored in the tree (versions above it are ignored).
    committed: Seq,
    /// Last applied sequence.
    checkpoint: Seq,
    maxrec: i64,
    records_in_batch: usize,
    /// Current time-index block (number, bytes).
    time_block: (u64, Vec<u8>),
    /// Every slot this batch touches, whole (loaded on first touch).
    slots: BTreeMap<Vec<u8>, Vec<Version>>,
    /// The slots the previous batch wrote, as written (memory is bounded
    /// by two batches' slots).
    recent: BTreeMap<Vec<u8>, Vec<Version>>,
    /// Other writes of fully applied records of this batch.
    puts: BTreeMap<Vec<u8>, Vec<u8>>,
    record: RecordStage,
    /// Entities known to be registered (avoids re-reading the registry).
    entities: HashSet<Uuid>,
    /// The read model's tenant: only its records are applied.
    tenant: String,
    /// The log's chain root after `checkpoint`, when known (stored with it).
    chain: Option<Hash>,
}

impl Batcher {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ReadModelError> {
        if let Some(v) = self.record.puts.get(key).or_else(|| self.puts.get(key)) {
            return Ok(Some(v.clone()));
        }
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.record.puts.insert(key, value);
    }

    fn put_if_absent(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), ReadModelError> {
        if self.get(&key)?.is_none() {
            self.put(key, value);
        }
        Ok(())
    }

    /// The slot `key`: staged in this batch, else written by the previous
    /// batch (kept in memory: batches mostly touch the same slots), else
    /// loaded from the tree without versions above the stored checkpoint
    /// (leftovers of an interrupted batch).
    fn slot(&mut self, key: &[u8]) -> Result<&mut Vec<Version>, ReadModelError> {
        // Two lookups instead of `entry` so that a hit allocates no key.
        if !self.slots.contains_key(key) {
            let loaded = match self.recent.remove(key) {
                Some(slot) => slot,
                None => match self.tree.get(key)? {
                    Some(v) => versions::parse(key, &v)?
                        .into_iter()
                        .filter(|x| x.seq <= self.committed)
                        .map(|x| x.to_owned())
                        .collect(),
                    None => Vec::new(),
                },
            };
            self.slots.insert(key.to_vec(), loaded);
        }
        match self.slots.get_mut(key) {
            Some(slot) => Ok(slot),
            None => Err(ReadModelError::Corrupt {
                key: hex::encode(key),
                detail: "slot vanished from the batch".to_string(),
            }),
        }
    }

    /// The latest version of `period` in slot `key` (this record's own
    /// earlier events first), decoded.
    fn previous(
        &mut self,
        key: &[u8],
        period: [u8; 8],
    ) -> Result<Option<FactRecord>, ReadModelError> {
        if let Some((_, v)) = self
            .record
            .versions
            .iter()
            .rev()
            .find(|(k, v)| k == key && v.period == period)
        {
            return Ok(Some(store::decode_fact(key, &v.record)?));
        }
        match versions::last_of_period(self.slot(key)?, period) {
            Some(v) => Ok(Some(store::decode_fact(key, &v.record)?)),
            None => Ok(None),
        }
    }

    fn add_version(&mut self, key: Vec<u8>, version: Version) {
        self.record.versions.push((key, version));
    }

    fn commit_record(&mut self) -> Result<(), ReadModelError> {
        let rec = std::mem::take(&mut self.record);
        for (key, version) in rec.versions {
            versions::insert(self.slot(&key)?, version);
        }
        self.puts.extend(rec.puts);
        self.records_in_batch += 1;
        Ok(())
    }

    /// Apply the staged batch, checkpoint last (see the module docs).
    fn commit_batch(&mut self) -> Result<(), ReadModelError> {
        self.record = RecordStage::default();
        if self.records_in_batch == 0 {
            self.slots.clear();
            self.puts.clear();
            return Ok(());
        }
        let mut writes: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (key, slot) in &self.slots {
            if !slot.is_empty() {
                writes.push((key.clone(), versions::encode(slot)));
            }
        }
        // What this batch wrote is what the next one most likely touches.
        self.recent = std::mem::take(&mut self.slots);
        writes.extend(std::mem::take(&mut self.puts));
        writes.push((
            keys::time_block_key(self.time_block.0),
            self.time_block.1.clone(),
        ));
        writes.push((
            keys::META_MAXREC.to_vec(),
            self.maxrec.to_be_bytes().to_vec(),
        ));
        if let Some(root) = self.chain {
            writes.push((keys::META_CHAIN.to_vec(), root.to_vec()));
        }
        writes.push((
            keys::META_CHECKPOINT.to_vec(),
            self.checkpoint.to_be_bytes().to_vec(),
        ));
        // The checkpoint is the last write of the last chunk.
        let chunks = writes.len().div_ceil(WRITE_CHUNK);
        for (i, chunk) in writes.chunks(WRITE_CHUNK).enumerate() {
            let mut batch = sled::Batch::default();
            if i + 1 == chunks && self.chain.is_none() {
                batch.remove(keys::META_CHAIN);
            }
            for (k, v) in chunk {
                batch.insert(k.as_slice(), v.as_slice());
            }
            self.tree.apply_batch(batch)?;
        }
        self.committed = self.checkpoint;
        self.records_in_batch = 0;
        Ok(())
    }
}

fn body_kind(body: &EventBody) -> EntityKind {
    use EntityKind as K;
    match body {
        EventBody::IndicatorDefined { .. }
        | EventBody::IndicatorAmended { .. }
        | EventBody::IndicatorRetired { .. }
        | EventBody::TargetSet { .. }
        | EventBody::TargetRevised { .. }
        | EventBody::ResultRecorded { .. }
        | EventBody::ResultRestated { .. } => K::Indicator,
        EventBody::ActionDefined { .. } | EventBody::ActionStatusReported { .. } => K::Action,
        EventBody::RiskRegistered { .. }
        | EventBody::RiskAssessed { .. }
        | EventBody::RiskClosed { .. } => K::Risk,
        EventBody::RevenueLineDefined { .. }
        | EventBody::BudgetSet { .. }
        | EventBody::BudgetRevised { .. }
        | EventBody::RevenueForecastSubmitted { .. } => K::RevenueLine,
        EventBody::CapitalLineDefined { .. }
        | EventBody::CapitalBudgetSet { .. }
        | EventBody::CapitalForecastSubmitted { .. } => K::CapitalLine,
        EventBody::SavingProposed { .. } | EventBody::SavingDeliveryReported { .. } => K::Saving,
        EventBody::ToleranceSchemeAdopted { .. } => K::Scheme,
        EventBody::PeriodClosed { .. } => K::Calendar,
        EventBody::UnitDefined { .. } | EventBody::CommitteeDefined { .. } => K::Unit,
        EventBody::DashboardSealed { .. }
        | EventBody::CommitteeDashboardSealed { .. }
        | EventBody::CommitteePackSealed { .. } => K::Seal,
        // A post-close marker travels in the commit of the entity it changes.
        EventBody::PostCloseRestatement { .. } => K::Seal,
    }
}

/// The unit an entity belongs to, from its defining event.
pub(crate) fn body_unit(body: &EventBody) -> Option<&str> {
    match body {
        EventBody::IndicatorDefined { spec } | EventBody::IndicatorAmended { spec, .. } => {
            Some(spec.unit.as_str())
        }
        EventBody::ActionDefined { spec } => Some(spec.unit.as_str()),
        EventBody::RiskRegistered { spec } => Some(spec.unit.as_str()),
        EventBody::RevenueLineDefined { spec } | EventBody::CapitalLineDefined { spec } => {
            Some(spec.unit.as_str())
        }
        EventBody::SavingProposed { spec } => Some(spec.unit.as_str()),
        _ => None,
    }
}

/// Natural key and further names an entity can be found by.
fn body_names(body: &EventBody) -> Option<(String, Vec<String>)> {
    let n = |s: &str| normalise_key(s);
    Some(match body {
        EventBody::IndicatorDefined { spec } | EventBody::IndicatorAmended { spec, .. } => {
            let mut aliases = vec![n(spec.title.as_str())];
            if let Some(r) = &spec.reference {
                aliases.push(n(r.as_str()));
            }
            (spec.natural_key().to_string(), aliases)
        }
        EventBody::ActionDefined { spec } => (
            composite_key(&[spec.unit.as_str(), spec.reference.as_str()]),
            vec![n(spec.reference.as_str())],
        ),
        EventBody::RiskRegistered { spec } => (
            spec.risk_id.to_string(),
            vec![n(spec.risk_id.as_str()), n(spec.title.as_str())],
        ),
        EventBody::RevenueLineDefined { spec } | EventBody::CapitalLineDefined { spec } => (
            composite_key(&[spec.unit.as_str(), spec.name.as_str()]),
            vec![n(spec.name.as_str())],
        ),
        EventBody::SavingProposed { spec } => {
            (spec.reference.to_string(), vec![n(spec.reference.as_str())])
        }
        EventBody::UnitDefined { spec } | EventBody::CommitteeDefined { spec } => (
            composite_key(&[spec.kind.token(), spec.name.as_str()]),
            vec![n(spec.name.as_str())],
        ),
        EventBody::ToleranceSchemeAdopted { .. } => (SCHEME_KEY.to_string(), vec![]),
        EventBody::PeriodClosed { .. } => (CALENDAR_KEY.to_string(), vec![]),
        EventBody::DashboardSealed { seal } => (seal_key_name(seal), vec![]),
        EventBody::CommitteeDashboardSealed { seal }
        | EventBody::CommitteePackSealed { seal, .. } => {
            (seal.seal_id.to_string(), vec![n(seal.seal_id.as_str())])
        }
        _ => return None,
    })
}

pub(crate) fn seal_key_name(seal: &Seal) -> String {
    let scope = seal.unit.as_ref().map_or(COUNCIL_SCOPE, |u| u.as_str());
    composite_key(&[scope, &seal.period.to_string()])
}

/// Where an event's figure is kept: (field, period, tenant-wide copy?).
fn fact_slot(body: &EventBody) -> Option<(u8, Option<perfledger_domain::Period>, bool)> {
    use perfledger_domain::Period;
    Some(match body {
        EventBody::IndicatorDefined { .. }
        | EventBody::IndicatorAmended { .. }
        | EventBody::ActionDefined { .. }
        | EventBody::RiskRegistered { .. }
        | EventBody::RevenueLineDefined { .. }
        | EventBody::CapitalLineDefined { .. }
        | EventBody::SavingProposed { .. }
        | EventBody::UnitDefined { .. }
        | EventBody::CommitteeDefined { .. } => (field::SPEC, None, false),
        EventBody::IndicatorRetired { .. } | EventBody::RiskClosed { .. } => {
            (field::STATUS, None, false)
        }
        EventBody::TargetSet { period, .. } | EventBody::TargetRevised { period, .. } => {
            (field::TARGET, Some(*period), false)
        }
        EventBody::ResultRecorded { period, .. } | EventBody::ResultRestated { period, .. } => {
            (field::RESULT, Some(*period), false)
        }
        EventBody::ActionStatusReported { period, .. } => {
            (field::ACTION_STATUS, Some(*period), false)
        }
        EventBody::RiskAssessed { period, .. } => (field::ASSESSMENT, Some(*period), false),
        EventBody::BudgetSet { year, .. }
        | EventBody::BudgetRevised { year, .. }
        | EventBody::CapitalBudgetSet { year, .. } => {
            (field::BUDGET, Some(Period::Year(*year)), false)
        }
        EventBody::RevenueForecastSubmitted { period, .. }
        | EventBody::CapitalForecastSubmitted { period, .. } => {
            (field::FORECAST, Some(*period), false)
        }
        EventBody::SavingDeliveryReported { period, .. } => (field::DELIVERY, Some(*period), false),
        EventBody::ToleranceSchemeAdopted { effective_from, .. } => {
            (field::SCHEME, Some(Period::Year(*effective_from)), true)
        }
        EventBody::PeriodClosed { period } => (field::CLOSED, Some(*period), true),
        EventBody::DashboardSealed { .. }
        | EventBody::CommitteeDashboardSealed { .. }
        | EventBody::CommitteePackSealed { .. }
        | EventBody::PostCloseRestatement { .. } => (field::EVENT, None, false),
    })
}

fn apply_event(
    b: &mut Batcher,
    seq: Seq,
    index: u16,
    recorded_at: i64,
    env: &Envelope,
) -> Result<(), ProjectError> {
    let apply_err = |reason: String| ProjectError::Apply { seq, index, reason };
    if env.tenant.as_str() != b.tenant {
        return Err(apply_err(format!(
            "event of tenant {:?} on a subject of tenant {:?}",
            env.tenant.as_str(),
            b.tenant
        )));
    }
    let entity = env.entity.id;
    let kind = env.entity.kind;
    let bk = body_kind(&env.body);
    if bk != kind && !matches!(env.body, EventBody::PostCloseRestatement { .. }) {
        return Err(apply_err(format!(
            "event {} belongs to a {} but the envelope names a {}",
            env.body.name(),
            bk.token(),
            kind.token()
        )));
    }
    // Registry and aliases.
    let names = body_names(&env.body);
    if !b.entities.contains(&entity) {
        let natural_key = names.as_ref().map(|(k, _)| k.clone()).unwrap_or_default();
        b.put_if_absent(
            keys::entity_key(entity),
            store::encode(&EntityInfo {
                kind,
                natural_key,
                first_seq: seq,
            }),
        )?;
        b.entities.insert(entity);
    }
    if let Some((natural_key, aliases)) = &names {
        // Definitions and amendments are rare: read-checked.
        let mut all = aliases.clone();
        all.push(normalise_key(natural_key));
        for alias in all {
            let mut k = keys::alias_prefix(kind, &alias);
            k.extend_from_slice(entity.as_bytes());
            b.put_if_absent(k, seq.to_be_bytes().to_vec())?;
        }
    }
    // The figure: previous version (for before → after), new version.
    let (fld, period, global) = fact_slot(&env.body).unwrap_or((field::EVENT, None, false));
    let period_key = versions::period_key(period);
    let slot = keys::slot_key(entity, fld, period_key);
    let previous = b.previous(&slot, period_key)?;
    let before = previous
        .as_ref()
        .and_then(|prev| render::figure(&prev.body).1);
    let rec = store::encode(&store::FactRecordRef {
        seq,
        index,
        recorded_at,
        period,
        body: &env.body,
        event_id: env.event_id,
        command_id: env.command_id,
        actor: env.actor.as_str(),
        source: env.source.as_str(),
        reason: env
            .reason
            .as_ref()
            .or(env.body.reason())
            .map(|r| r.as_str()),
        before: before.as_deref(),
        migrated_at: env.migrated_at.map(|t| t.0),
    });
    let version = Version {
        period: period_key,
        seq,
        index,
        record: rec,
    };
    if global {
        b.add_version(keys::global_slot_key(fld, period_key), version.clone());
    }
    b.add_version(slot, version);
    // Unit membership follows the definition.
    if let Some(new_unit) = body_unit(&env.body) {
        let new_norm = normalise_key(new_unit);
        let old_norm = previous
            .as_ref()
            .and_then(|prev| body_unit(&prev.body))
            .map(normalise_key);
        if old_norm.as_deref() != Some(new_norm.as_str()) {
            if let Some(old) = &old_norm {
                b.put(
                    keys::member_key(old, kind, entity, seq),
                    store::encode(&Membership { present: false }),
                );
            }
            b.put(
                keys::member_key(&new_norm, kind, entity, seq),
                store::encode(&Membership { present: true }),
            );
        }
        b.put_if_absent(
            keys::unit_key(&new_norm),
            store::encode(&UnitInfo {
                name: new_unit.trim().to_string(),
                first_seq: seq,
            }),
        )?;
    }
    if let EventBody::UnitDefined { spec } = &env.body {
        if spec.kind == OrgKind::Unit {
            b.put_if_absent(
                keys::unit_key(&normalise_key(spec.name.as_str())),
                store::encode(&UnitInfo {
                    name: spec.name.as_str().trim().to_string(),
                    first_seq: seq,
                }),
            )?;
        }
    }
    match &env.body {
        EventBody::DashboardSealed { seal } => {
            b.put(keys::seal_key(seq, index), store::encode(seal));
        }
        EventBody::CommitteeDashboardSealed { seal }
        | EventBody::CommitteePackSealed { seal, .. } => {
            // The seal as every seal is kept (listed and verified alike),
            // and its id, title and time beside it.
            b.put(keys::seal_key(seq, index), store::encode(&seal.seal));
            b.put(
                keys::seal_meta_key(seq, index),
                store::encode(&crate::store::SealMeta {
                    seal_id: seal.seal_id.to_string(),
                    title: seal.title.as_ref().map(|t| t.to_string()),
                    sealed_at: seal.sealed_at.0,
                }),
            );
            if let EventBody::CommitteePackSealed { pack, .. } = &env.body {
                b.put(keys::seal_pack_key(seq, index), store::encode(pack));
            }
        }
        _ => {}
    }

    Ok(())
}

fn apply_record(b: &mut Batcher, rec: &LogRecord) -> Result<bool, ProjectError> {
    if rec.seq <= b.checkpoint {
        return Ok(false);
    }
    let expected = b.checkpoint + 1;
    if rec.seq != expected {
        return Err(ProjectError::Gap {
            expected,
            got: rec.seq,
        });
    }
    let maxrec = b.maxrec.max(rec.recorded_at);
    if !rec.subject.is_checkpoint()
        && subject_tenant(rec.subject.as_str()) == Some(b.tenant.as_str())
    {
        let events = decode_commit(&rec.payload).map_err(|source| ProjectError::Decode {
            seq: rec.seq,
            source,
        })?;
        for (i, env) in events.iter().enumerate() {
            let index = u16::try_from(i).map_err(|_| ProjectError::Apply {
                seq: rec.seq,
                index: u16::MAX,
                reason: "more than 65535 events in one commit".to_string(),
            })?;
            apply_event(b, rec.seq, index, rec.recorded_at, env)?;
        }
    }
    b.maxrec = maxrec;
    b.checkpoint = rec.seq;
    let block = (rec.seq - 1) / keys::TIME_BLOCK;
    if block != b.time_block.0 {
        let done = std::mem::replace(&mut b.time_block, (block, Vec::new()));
        b.put(keys::time_block_key(done.0), done.1);
    }
    b.time_block.1.extend_from_slice(&maxrec.to_be_bytes());
    b.commit_record()?;
    Ok(true)
}

/// The tenant token of an entity subject `{prefix}.ev.{tenant}.{kind}.{entity}`.
fn subject_tenant(subject: &str) -> Option<&str> {
    let mut t = subject.split('.');
    match (t.next(), t.next(), t.next()) {
        (Some(_), Some("ev"), Some(tenant)) => Some(tenant),
        _ => None,
    }
}

impl Projector {
    /// A projector writing into `rm` (applying only its tenant's records).
    pub fn new(rm: &ReadModel) -> Self {
        Projector {
            rm: rm.clone(),
            batch_records: BATCH_RECORDS,
            flush_every: FLUSH_EVERY,
        }
    }

    /// Records per atomic batch (tests use small batches to exercise
    /// batch boundaries).
    pub fn with_batch_records(mut self, n: usize) -> Self {
        self.batch_records = n.max(1);
        self
    }

    /// Records between explicit flushes during catch-up.
    pub fn with_flush_every(mut self, n: u64) -> Self {
        self.flush_every = n.max(1);
        self
    }

    fn batcher(&self) -> Result<Batcher, ReadModelError> {
        let checkpoint = self.rm.checkpoint()?;
        Ok(Batcher {
            tree: self.rm.tree.clone(),
            committed: checkpoint,
            checkpoint,
            maxrec: self.rm.max_recorded_at()?,
            records_in_batch: 0,
            time_block: self.rm.time_block_at(checkpoint)?,
            slots: BTreeMap::new(),
            recent: BTreeMap::new(),
            puts: BTreeMap::new(),
            record: RecordStage::default(),
            entities: HashSet::new(),
            tenant: self.rm.tenant().as_str().to_string(),
            chain: self.rm.chain_root()?,
        })
    }

    /// The chain check continuing after the read model's checkpoint (the
    /// stored root, else recomputed from the log once).
    async fn chain_check<L: EventLog>(
        &self,
        log: &L,
        b: &mut Batcher,
    ) -> Result<ChainCheck, ProjectError> {
        let root = match b.chain {
            Some(root) => root,
            None => integrity::chain_root_at(log, b.checkpoint).await?,
        };
        b.chain = Some(root);
        Ok(ChainCheck::resume(b.checkpoint, root))
    }

    /// Apply records already read (in order); commits in batches. Returns
    /// the checkpoint. Used by `catch_up`, `follow` and tests.
    pub fn apply_records<'a, I: IntoIterator<Item = &'a LogRecord>>(
        &self,
        records: I,
    ) -> Result<Seq, ProjectError> {
        let mut b = self.batcher()?;
        // Not checked against the chain: the stored root no longer applies.
        b.chain = None;
        for rec in records {
            if let Err(e) = apply_record(&mut b, rec) {
                b.commit_batch()?;
                return Err(e);
            }
            if b.records_in_batch >= self.batch_records {
                b.commit_batch()?;
            }
        }
        b.commit_batch()?;
        Ok(b.checkpoint)
    }

    /// Catch up with the log: read from the checkpoint to the head as it is
    /// now, committing batches and calling `progress` after each; flushes at
    /// the end. Returns the checkpoint reached.
    pub async fn catch_up<L: EventLog>(
        &self,
        log: &L,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Seq, ProjectError> {
        let mut b = self.batcher()?;
        let head = log.head().await?;
        let start = b.checkpoint;
        let total = head.saturating_sub(start);
        progress(Progress {
            applied: 0,
            total,
            checkpoint: start,
        });
        if head <= start {
            return Ok(start);
        }
        let mut gate = Gate {
            chain: self.chain_check(log, &mut b).await?,
            held: VecDeque::new(),
        };
        let mut records = read_ahead(log.read(start + 1, Until::Seq(head)));
        let mut sink = CatchUpSink {
            projector: self,
            b,
            start,
            total,
            since_flush: 0,
            progress,
        };
        while let Some(item) = records.next().await {
            let rec = item?;
            if let Err(e) = gate.push(rec, &mut sink) {
                sink.b.commit_batch()?;
                self.rm.flush()?;
                return Err(e);
            }
        }
        if let Err(e) = gate.drain(&mut sink) {
            sink.b.commit_batch()?;
            self.rm.flush()?;
            return Err(e);
        }
        let CatchUpSink {
            mut b, progress, ..
        } = sink;
        b.commit_batch()?;
        self.rm.flush()?;
        if b.checkpoint < head {
            return Err(ProjectError::Gap {
                expected: b.checkpoint + 1,
                got: 0,
            });
        }
        progress(Progress {
            applied: b.checkpoint - start,
            total,
            checkpoint: b.checkpoint,
        });
        Ok(b.checkpoint)
    }

    /// Follow the log from the checkpoint: catch up, then apply new records
    /// as they arrive, committing whenever no record is immediately ready
    /// (and flushing then), and calling `progress` after each commit
    /// (`total` = 0: open-ended). Returns only on an error or when the
    /// stream ends.
    pub async fn follow<L: EventLog>(
        &self,
        log: &L,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Seq, ProjectError> {
        let mut b = self.batcher()?;
        let start = b.checkpoint;
        let mut gate = Gate {
            chain: self.chain_check(log, &mut b).await?,
            held: VecDeque::new(),
        };
        let mut stream = log.tail(b.checkpoint + 1);
        let report = |b: &Batcher| Progress {
            applied: b.checkpoint - start,
            total: 0,
            checkpoint: b.checkpoint,
        };
        let mut sink = FollowSink {
            b,
            batch_records: self.batch_records,
            progress,
            start,
        };
        let stop = |sink: &mut FollowSink<'_>, e: ProjectError| -> Result<Seq, ProjectError> {
            sink.b.commit_batch()?;
            self.rm.flush()?;
            Err(e)
        };
        loop {
            let item = match stream.next().now_or_never() {
                Some(item) => item,
                None => {
                    // Nothing more to read for now: what is held is the
                    // tail no checkpoint vouches for yet.
                    if let Err(e) = gate.drain(&mut sink) {
                        return stop(&mut sink, e);
                    }
                    if sink.b.records_in_batch > 0 {
                        sink.b.commit_batch()?;
                        self.rm.flush_async().await?;
                        (sink.progress)(report(&sink.b));
                    }
                    stream.next().await
                }
            };
            let Some(item) = item else {
                if let Err(e) = gate.drain(&mut sink) {
                    return stop(&mut sink, e);
                }
                sink.b.commit_batch()?;
                self.rm.flush()?;
                (sink.progress)(report(&sink.b));
                return Ok(sink.b.checkpoint);
            };
            let rec = item?;
            if let Err(e) = gate.push(rec, &mut sink) {
                return stop(&mut sink, e);
            }
        }
    }
}

/// Where checked records go.
trait Sink {
    /// Apply one record whose chain root (after it) is `root`.
    fn apply(&mut self, rec: &LogRecord, root: Hash) -> Result<(), ProjectError>;
}

/// Records read but not yet applied, held until a checkpoint vouches for
/// them (see the module docs).
struct Gate {
    chain: ChainCheck,
    held: VecDeque<(LogRecord, Hash)>,
}

impl Gate {
    /// Check `rec`; apply what is now vouched for. On a chain failure the
    /// held records before the bad one are applied and the error names it.
    fn push(&mut self, rec: LogRecord, sink: &mut dyn Sink) -> Result<(), ProjectError> {
        // A record delivered again was checked (and is held or applied)
        // already: skip it, as `apply_record` skips what the checkpoint
        // covers. A transport's redelivery is not a broken chain.
        if rec.seq < self.chain.next() {
            return Ok(());
        }
        match self.chain.push(&rec) {
            Err((seq, problem)) => {
                while let Some((r, root)) = self.held.pop_front() {
                    if r.seq >= seq {
                        break;
                    }
                    sink.apply(&r, root)?;
                }
                self.held.clear();
                Err(ProjectError::Chain { seq, problem })
            }
            Ok(vouched) => {
                if let Some(cp) = vouched {
                    while self.held.front().is_some_and(|(r, _)| r.seq <= cp.upto) {
                        if let Some((r, root)) = self.held.pop_front() {
                            sink.apply(&r, root)?;
                        }
                    }
                }
                self.held.push_back((rec, self.chain.root()));
                while self.held.len() > HOLD_RECORDS {
                    if let Some((r, root)) = self.held.pop_front() {
                        sink.apply(&r, root)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Apply everything held (the tail no checkpoint vouches for yet).
    fn drain(&mut self, sink: &mut dyn Sink) -> Result<(), ProjectError> {
        while let Some((r, root)) = self.held.pop_front() {
            sink.apply(&r, root)?;
        }
        Ok(())
    }
}

/// Apply one record and note the chain root it leaves.
fn apply_checked(b: &mut Batcher, rec: &LogRecord, root: Hash) -> Result<(), ProjectError> {
    if apply_record(b, rec)? {
        b.chain = Some(root);
    }
    Ok(())
}

struct CatchUpSink<'a> {
    projector: &'a Projector,
    b: Batcher,
    start: Seq,
    total: u64,
    since_flush: u64,
    progress: &'a mut dyn FnMut(Progress),
}

impl Sink for CatchUpSink<'_> {
    fn apply(&mut self, rec: &LogRecord, root: Hash) -> Result<(), ProjectError> {
        let b = &mut self.b;
        apply_checked(b, rec, root)?;
        if b.records_in_batch.is_multiple_of(PROGRESS_EVERY) {
            (self.progress)(Progress {
                applied: b.checkpoint - self.start,
                total: self.total,
                checkpoint: b.committed,
            });
        }
        if b.records_in_batch >= self.projector.batch_records {
            self.since_flush += b.records_in_batch as u64;
            b.commit_batch()?;
            if self.since_flush >= self.projector.flush_every {
                self.projector.rm.flush()?;
                self.since_flush = 0;
            }
            (self.progress)(Progress {
                applied: b.checkpoint - self.start,
                total: self.total,
                checkpoint: b.checkpoint,
            });
        }
        Ok(())
    }
}

struct FollowSink<'a> {
    b: Batcher,
    batch_records: usize,
    progress: &'a mut (dyn FnMut(Progress) + Send),
    start: Seq,
}

impl Sink for FollowSink<'_> {
    fn apply(&mut self, rec: &LogRecord, root: Hash) -> Result<(), ProjectError> {
        apply_checked(&mut self.b, rec, root)?;
        if self.b.records_in_batch >= self.batch_records {
            self.b.commit_batch()?;
            (self.progress)(Progress {
                applied: self.b.checkpoint - self.start,
                total: 0,
                checkpoint: self.b.checkpoint,
            });
        }
        Ok(())
    }
}

/// Records read ahead of the projector, at most.
const READ_AHEAD_RECORDS: usize = 16_384;

/// The records of `stream`, read by a task of their own up to
/// [`READ_AHEAD_RECORDS`] ahead, so that on a multi-threaded runtime
/// reading (JetStream delivery, decoding) overlaps applying and committing.
/// Dropping the result stops the reader.
fn read_ahead(stream: perfledger_log::RecordStream) -> ReadAhead {
    const CHUNK: usize = 1_024;
    // Fused: `now_or_never` below may see the end, and the outer loop then
    // polls once more.
    let mut stream = stream.fuse();
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<Result<LogRecord, perfledger_log::LogError>>>(
        READ_AHEAD_RECORDS / CHUNK,
    );
    let reader = tokio::spawn(async move {
        while let Some(first) = stream.next().await {
            let mut failed = first.is_err();
            let mut chunk = vec![first];
            while !failed && chunk.len() < CHUNK {
                match stream.next().now_or_never() {
                    Some(Some(item)) => {
                        failed = item.is_err();
                        chunk.push(item);
                    }
                    _ => break,
                }
            }
            if tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    ReadAhead {
        rx,
        chunk: Vec::new().into_iter(),
        reader,
    }
}

struct ReadAhead {
    rx: tokio::sync::mpsc::Receiver<Vec<Result<LogRecord, perfledger_log::LogError>>>,
    chunk: std::vec::IntoIter<Result<LogRecord, perfledger_log::LogError>>,
    reader: tokio::task::JoinHandle<()>,
}

impl ReadAhead {
    async fn next(&mut self) -> Option<Result<LogRecord, perfledger_log::LogError>> {
        loop {
            if let Some(item) = self.chunk.next() {
                return Some(item);
            }
            self.chunk = self.rx.recv().await?.into_iter();
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Used by queries: entity ids are uuids.
pub(crate) fn uuid_from(bytes: &[u8]) -> Option<Uuid> {
    Uuid::from_slice(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testgen::{to_commit, Generator, Shape, TENANT};
    use perfledger_domain::Tenant;

    fn tenant() -> Tenant {
        Tenant::new(TENANT).unwrap()
    }

    fn temporary() -> ReadModel {
        ReadModel::open_temporary(&tenant()).unwrap()
    }

    fn generated() -> Vec<Vec<Envelope>> {
        Generator::new(Shape::small(), 7).collect()
    }

    /// The commits numbered from 1.
    fn sequenced(commits: &[Vec<Envelope>]) -> Vec<LogRecord> {
        commits
            .iter()
            .enumerate()
            .map(|(i, events)| {
                let c = to_commit(events).expect("generated commit encodes");
                LogRecord {
                    seq: i as u64 + 1,
                    subject: c.subject,
                    msg_id: c.msg_id,
                    recorded_at: c.recorded_at,
                    payload: c.payload,
                }
            })
            .collect()
    }

    fn records() -> Vec<LogRecord> {
        sequenced(&generated())
    }

    /// A batch applied in chunks can be interrupted after any chunk: the
    /// worst case leaves every later write in the tree above the checkpoint.
    /// Resuming from the checkpoint must give exactly a clean build.
    #[test]
    fn writes_left_above_the_checkpoint_are_ignored_and_rewritten() {
        let recs = records();
        assert!(recs.len() > 100, "{} records", recs.len());
        let clean = temporary();
        Projector::new(&clean).apply_records(&recs).unwrap();

        for cut in [1, recs.len() / 3, recs.len() - 1] {
            let rm = temporary();
            Projector::new(&rm).apply_records(&recs[..cut]).unwrap();
            assert_eq!(rm.checkpoint().unwrap(), cut as u64);
            // Simulate the interrupted batch: every key of the finished
            // read model except the checkpoint, time index and max time.
            for r in clean.tree.iter() {
                let (k, v) = r.unwrap();
                if k.first() == Some(&b'm') || k.first() == Some(&keys::TIME) {
                    continue;
                }
                rm.tree.insert(k, v).unwrap();
            }
            assert_ne!(
                rm.content_digest().unwrap(),
                clean.content_digest().unwrap()
            );
            Projector::new(&rm)
                .with_batch_records(17)
                .apply_records(&recs[cut..])
                .unwrap();
            assert_eq!(
                rm.content_digest().unwrap(),
                clean.content_digest().unwrap(),
                "resumed at {cut}"
            );
        }
    }

    /// Read-ahead hands over every record once, in order, whatever the
    /// chunking, and ends cleanly (the end may be seen mid-chunk).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn read_ahead_delivers_every_record_in_order() {
        let recs = records();
        for n in [0, 1, 1_023, 1_024, 1_025, recs.len()] {
            let items = recs.iter().take(n).cloned().map(Ok).collect::<Vec<_>>();
            // `unfold` panics if polled after its end, like the logs' streams.
            let stream = futures::stream::unfold(items.into_iter(), |mut it| async move {
                it.next().map(|x| (x, it))
            });
            let mut ahead = read_ahead(Box::pin(stream));
            let mut seqs = Vec::new();
            while let Some(item) = ahead.next().await {
                seqs.push(item.unwrap().seq);
            }
            let want: Vec<u64> = (1..=n.min(recs.len()) as u64).collect();
            assert_eq!(seqs, want, "n = {n}");
            (&mut ahead.reader)
                .await
                .expect("the reader ends without panicking");
        }
    }

    #[test]
    fn batch_size_does_not_change_the_bytes() {
        let recs = records();
        let digest = |batch: usize| {
            let rm = temporary();
            Projector::new(&rm)
                .with_batch_records(batch)
                .apply_records(&recs)
                .unwrap();
            rm.content_digest().unwrap()
        };
        let one = digest(1);
        assert_eq!(one, digest(7));
        assert_eq!(one, digest(BATCH_RECORDS));
    }

    /// Another tenant writing the same references (same units, periods and
    /// keys) interleaved with this tenant's commits changes nothing in this
    /// tenant's read model: it is byte for byte the read model of the same
    /// log with those records replaced by records that carry nothing (the
    /// checkpoint and time index still count every record of the log).
    #[test]
    fn records_of_other_tenants_change_nothing_but_the_position() {
        let evil = Tenant::new("evil").unwrap();
        let mut mixed = Vec::new();
        for events in generated() {
            let mut copy = events.clone();
            for env in &mut copy {
                env.tenant = evil.clone();
            }
            mixed.push(events);
            mixed.push(copy);
        }
        let mixed = sequenced(&mixed);
        assert!(mixed[1].subject.as_str().starts_with("pl.ev.evil."));
        let neutral: Vec<LogRecord> = mixed
            .iter()
            .map(|r| {
                if r.subject.as_str().starts_with("pl.ev.evil.") {
                    LogRecord {
                        subject: perfledger_log::Subject::checkpoint("pl").unwrap(),
                        payload: Default::default(),
                        ..r.clone()
                    }
                } else {
                    r.clone()
                }
            })
            .collect();
        let rm = temporary();
        let cp = Projector::new(&rm)
            .with_batch_records(5)
            .apply_records(&mixed)
            .unwrap();
        assert_eq!(cp, mixed.len() as u64);
        let clean = temporary();
        Projector::new(&clean).apply_records(&neutral).unwrap();
        assert_eq!(
            rm.content_digest().unwrap(),
            clean.content_digest().unwrap()
        );
        assert!(!rm.indicators(None, crate::AsOf::Head).unwrap().is_empty());
    }

    /// A record on this tenant's subject whose events name another tenant
    /// stops the projector naming the sequence; nothing of it is applied.
    #[test]
    fn an_event_of_another_tenant_on_our_subject_is_refused() {
        let mut recs = records();
        let mut events = generated()[0].clone();
        events[0].tenant = Tenant::new("evil").unwrap();
        recs[0].payload = perfledger_domain::encode_commit(&events).unwrap().into();
        let rm = temporary();
        let err = Projector::new(&rm).apply_records(&recs).unwrap_err();
        assert!(matches!(err, ProjectError::Apply { seq: 1, .. }), "{err}");
        assert_eq!(rm.checkpoint().unwrap(), 0);
    }

    /// The tenant is recorded when the read model is created: opening it
    /// for another tenant is refused, and clearing keeps the tenant. (Each
    /// test reopens a path once: sled releases its lock asynchronously
    /// after a refused open.)
    #[test]
    fn a_read_model_opens_only_for_its_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rm");
        {
            let rm = ReadModel::open(&path, &tenant()).unwrap();
            assert_eq!(rm.tenant(), &tenant());
            Projector::new(&rm).apply_records(&records()[..3]).unwrap();
            rm.clear().unwrap();
            rm.flush().unwrap();
        }
        let err = ReadModel::open(&path, &Tenant::new("evil").unwrap()).unwrap_err();
        match err {
            ReadModelError::WrongTenant {
                recorded,
                requested,
            } => assert_eq!((recorded.as_str(), requested.as_str()), (TENANT, "evil")),
            other => panic!("{other}"),
        }
    }

    /// A read model made before tenants were recorded may hold any
    /// tenant's records: opening it starts it again (it is a cache of the
    /// log) for the tenant asked, instead of serving what it holds.
    #[test]
    fn a_read_model_without_a_recorded_tenant_is_started_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rm");
        {
            let rm = ReadModel::open(&path, &tenant()).unwrap();
            Projector::new(&rm).apply_records(&records()[..3]).unwrap();
            rm.tree.remove(keys::META_TENANT).unwrap();
            rm.flush().unwrap();
        }
        let evil = Tenant::new("evil").unwrap();
        let rm = ReadModel::open(&path, &evil).unwrap();
        assert_eq!(rm.checkpoint().unwrap(), 0);
        assert!(rm.is_empty());
        assert_eq!(
            rm.tree.get(keys::META_TENANT).unwrap().as_deref(),
            Some(&b"evil"[..])
        );
    }
}
