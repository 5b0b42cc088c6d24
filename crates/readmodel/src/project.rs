//! The projector: log records → read-model writes, committed in atomic
//! batches together with the checkpoint.
//!
//! Flush policy: sled makes nothing durable until it flushes. Every batch
//! (at most [`BATCH_RECORDS`] records) is applied with one `apply_batch`
//! that also carries the checkpoint and the running max recorded time, so
//! after a crash the tree is some earlier *batch boundary*, never half a
//! batch; the projector then resumes from that checkpoint. The projector
//! flushes every [`FLUSH_EVERY`] records, at the end of a catch-up, and in
//! `follow` whenever it has caught up with the log; sled's own background
//! flush (every second) bounds the loss on a crash to about a second of work,
//! which is re-projected on restart.

use std::collections::{HashMap, HashSet};

use futures::{FutureExt, StreamExt};
use perfledger_domain::command::{CALENDAR_KEY, COUNCIL_SCOPE, SCHEME_KEY};
use perfledger_domain::event::{EventBody, Seal};
use perfledger_domain::ids::{composite_key, normalise_key};
use perfledger_domain::organisation::OrgKind;
use perfledger_domain::{decode_commit, EntityKind, Envelope};
use perfledger_log::{EventLog, LogRecord, Seq, Until};
use uuid::Uuid;

use crate::keys::{self, field};
use crate::store::{self, EntityInfo, FactRecord, Membership, UnitInfo};
use crate::{render, ProjectError, ReadModel, ReadModelError};

/// Records per atomic batch.
pub const BATCH_RECORDS: usize = 1024;
/// Records between explicit flushes during catch-up.
pub const FLUSH_EVERY: u64 = 16_384;

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

/// Most fact heads kept in the projector's cache before it is dropped
/// (memory bound); after that, lookups fall back to the tree.
pub const MAX_CACHED_FACTS: usize = 2_000_000;

/// What the projector remembers of what it wrote, so that it rarely has to
/// read the tree: the latest figure (as printed) and unit of every fact it
/// wrote, and the entities it registered. When the run started from an
/// empty read model (`complete`), a miss means "absent"; otherwise a miss
/// falls back to a read of the staged batch and the tree.
#[derive(Default)]
struct Cache {
    complete: bool,
    facts: HashMap<FactSlot, CachedFact>,
    entities: HashSet<Uuid>,
}

/// A fact prefix without its `f` byte: entity(16) ++ field(1) ++ period(8).
type FactSlot = [u8; 25];

/// The latest figure (as printed) and unit of a fact.
type CachedFact = (Option<Box<str>>, Option<Box<str>>);

fn slot_of(prefix: &[u8]) -> FactSlot {
    let mut slot = [0u8; 25];
    let tail = prefix.get(1..).unwrap_or_default();
    let n = tail.len().min(25);
    slot[..n].copy_from_slice(&tail[..n]);
    slot
}

/// Staged writes of one batch plus the state carried across records.
struct Batcher {
    cache: Cache,
    tree: sled::Tree,
    /// Writes of fully applied records of this batch.
    batch: store::Stage,
    /// Writes of the record being applied.
    record: store::Stage,
    checkpoint: Seq,
    maxrec: i64,
    records_in_batch: usize,
    /// Current time-index block (number, bytes).
    time_block: (u64, Vec<u8>),
}

impl Batcher {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ReadModelError> {
        if let Some(v) = self.record.pending.get(key) {
            return Ok(Some(v.clone()));
        }
        self.batch.get(&self.tree, key)
    }

    fn last_with_prefix(&self, prefix: &[u8]) -> Result<Option<store::Kv>, ReadModelError> {
        let end = keys::prefix_end(prefix);
        if let Some((k, v)) = self.record.pending.range(prefix.to_vec()..end).next_back() {
            return Ok(Some((k.clone(), v.clone())));
        }
        self.batch.last_with_prefix(&self.tree, prefix)
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.record.put(key, value);
    }

    fn put_if_absent(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), ReadModelError> {
        if self.get(&key)?.is_none() {
            self.put(key, value);
        }
        Ok(())
    }

    fn commit_record(&mut self) {
        let rec = std::mem::take(&mut self.record.pending);
        self.batch.pending.extend(rec);
        self.records_in_batch += 1;
    }

    /// Apply the staged batch (with checkpoint and max time) atomically.
    fn commit_batch(&mut self) -> Result<(), ReadModelError> {
        self.record.pending.clear();
        if self.batch.is_empty() && self.records_in_batch == 0 {
            return Ok(());
        }
        let mut stage = std::mem::take(&mut self.batch);
        stage.put(
            keys::time_block_key(self.time_block.0),
            self.time_block.1.clone(),
        );
        stage.put(
            keys::META_CHECKPOINT.to_vec(),
            self.checkpoint.to_be_bytes().to_vec(),
        );
        stage.put(
            keys::META_MAXREC.to_vec(),
            self.maxrec.to_be_bytes().to_vec(),
        );
        self.tree.apply_batch(stage.into_batch())?;
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
        EventBody::DashboardSealed { .. } => K::Seal,
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
        EventBody::DashboardSealed { .. } | EventBody::PostCloseRestatement { .. } => {
            (field::EVENT, None, false)
        }
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
    let known = b.cache.entities.contains(&entity);
    if let Some((natural_key, aliases)) = &names {
        if !known {
            if b.cache.complete {
                b.put(
                    keys::entity_key(entity),
                    store::encode(&EntityInfo {
                        kind,
                        natural_key: natural_key.clone(),
                        first_seq: seq,
                    }),
                );
            } else {
                b.put_if_absent(
                    keys::entity_key(entity),
                    store::encode(&EntityInfo {
                        kind,
                        natural_key: natural_key.clone(),
                        first_seq: seq,
                    }),
                )?;
            }
            b.cache.entities.insert(entity);
        }
        // Aliases (definitions and amendments are rare: read-checked).
        let mut all = aliases.clone();
        all.push(normalise_key(natural_key));
        for alias in all {
            let mut k = keys::alias_prefix(kind, &alias);
            k.extend_from_slice(entity.as_bytes());
            b.put_if_absent(k, seq.to_be_bytes().to_vec())?;
        }
    } else if !known && (b.cache.complete || b.get(&keys::entity_key(entity))?.is_none()) {
        b.cache.entities.insert(entity);
        b.put(
            keys::entity_key(entity),
            store::encode(&EntityInfo {
                kind,
                natural_key: String::new(),
                first_seq: seq,
            }),
        );
    }
    // The figure: previous version (for before → after), new version.
    let after = render::figure(&env.body).1;
    let mut before = None;
    let (fld, period, global) = fact_slot(&env.body).unwrap_or((field::EVENT, None, false));
    {
        let prefix = keys::fact_prefix(entity, fld, period);
        let slot = slot_of(&prefix);
        let previous: Option<CachedFact> = match b.cache.facts.get(&slot) {
            Some(hit) => Some(hit.clone()),
            None if b.cache.complete => None,
            None => match b.last_with_prefix(&prefix)? {
                Some((k, _)) => {
                    let rk = keys::record_key(
                        keys::version_seq(&k).unwrap_or(0),
                        keys::version_index(&k).unwrap_or(0),
                    );
                    let v = b.get(&rk)?.ok_or_else(|| ReadModelError::Corrupt {
                        key: hex::encode(&k),
                        detail: "index entry without its record".to_string(),
                    })?;
                    let prev = store::decode::<FactRecord>(&rk, &v)?;
                    Some((
                        render::figure(&prev.body).1.map(String::into_boxed_str),
                        body_unit(&prev.body).map(Box::from),
                    ))
                }
                None => None,
            },
        };
        if let Some((prev, _)) = &previous {
            before = prev.as_deref().map(str::to_string);
        }
        if b.cache.facts.len() >= MAX_CACHED_FACTS {
            b.cache.facts.clear();
            b.cache.complete = false;
        }
        b.cache.facts.insert(
            slot,
            (
                after.as_deref().map(Box::from),
                body_unit(&env.body).map(Box::from),
            ),
        );
        let rec = store::encode(&FactRecord {
            seq,
            index,
            recorded_at,
            period,
            body: env.body.clone(),
            event_id: env.event_id,
            command_id: env.command_id,
            actor: env.actor.to_string(),
            source: env.source.to_string(),
            reason: env
                .reason
                .as_ref()
                .or(env.body.reason())
                .map(|r| r.to_string()),
            before: before.clone(),
        });
        b.put(keys::record_key(seq, index), rec);
        if global {
            b.put(
                keys::version_key(keys::global_prefix(fld, period), seq, index),
                Vec::new(),
            );
        }
        b.put(keys::version_key(prefix, seq, index), Vec::new());
        // Unit membership follows the definition.
        if let Some(new_unit) = body_unit(&env.body) {
            let new_norm = normalise_key(new_unit);
            let old_norm = previous
                .as_ref()
                .and_then(|(_, unit)| unit.as_deref())
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
    if let EventBody::DashboardSealed { seal } = &env.body {
        b.put(keys::seal_key(seq, index), store::encode(seal));
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
    if !rec.subject.is_checkpoint() {
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
        b.record.put(keys::time_block_key(done.0), done.1);
    }
    b.time_block.1.extend_from_slice(&maxrec.to_be_bytes());
    b.commit_record();
    Ok(true)
}

impl Projector {
    /// A projector writing into `rm`.
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
            cache: Cache {
                complete: checkpoint == 0 && self.rm.is_empty(),
                ..Cache::default()
            },
            tree: self.rm.tree.clone(),
            batch: store::Stage::default(),
            record: store::Stage::default(),
            checkpoint,
            maxrec: self.rm.max_recorded_at()?,
            time_block: self.rm.time_block_at(checkpoint)?,
            records_in_batch: 0,
        })
    }

    /// Apply records already read (in order); commits in batches. Returns
    /// the checkpoint. Used by `catch_up`, `follow` and tests.
    pub fn apply_records<'a, I: IntoIterator<Item = &'a LogRecord>>(
        &self,
        records: I,
    ) -> Result<Seq, ProjectError> {
        let mut b = self.batcher()?;
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
        let mut stream = log.read(start + 1, Until::Seq(head));
        let mut since_flush = 0u64;
        while let Some(item) = stream.next().await {
            let rec = item?;
            if let Err(e) = apply_record(&mut b, &rec) {
                b.commit_batch()?;
                self.rm.flush()?;
                return Err(e);
            }
            if b.records_in_batch >= self.batch_records {
                since_flush += b.records_in_batch as u64;
                b.commit_batch()?;
                if since_flush >= self.flush_every {
                    self.rm.flush()?;
                    since_flush = 0;
                }
                progress(Progress {
                    applied: b.checkpoint - start,
                    total,
                    checkpoint: b.checkpoint,
                });
            }
        }
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
        let mut stream = log.tail(b.checkpoint + 1);
        let report = |b: &Batcher| Progress {
            applied: b.checkpoint - start,
            total: 0,
            checkpoint: b.checkpoint,
        };
        loop {
            let item = match stream.next().now_or_never() {
                Some(item) => item,
                None => {
                    if b.records_in_batch > 0 {
                        b.commit_batch()?;
                        self.rm.flush_async().await?;
                        progress(report(&b));
                    }
                    stream.next().await
                }
            };
            let Some(item) = item else {
                b.commit_batch()?;
                self.rm.flush()?;
                progress(report(&b));
                return Ok(b.checkpoint);
            };
            let rec = item?;
            if let Err(e) = apply_record(&mut b, &rec) {
                b.commit_batch()?;
                self.rm.flush()?;
                return Err(e);
            }
            if b.records_in_batch >= self.batch_records {
                b.commit_batch()?;
                progress(report(&b));
            }
        }
    }
}

/// Used by queries: entity ids are uuids.
pub(crate) fn uuid_from(bytes: &[u8]) -> Option<Uuid> {
    Uuid::from_slice(bytes).ok()
}
