//! The projector: log records → read-model writes, committed in batches
//! together with the checkpoint.
//!
//! Commit protocol: a batch (at most [`BATCH_RECORDS`] records, or fewer
//! once it has staged [`STAGE_BYTES`]) stages its writes in memory: whole
//! fact-version slots ([`crate::versions`], held as their stored bytes, a
//! new version spliced in) and the other keys. A batch small enough for one `apply_batch` (at most
//! [`WRITE_CHUNK`] keys) commits in one, checkpoint included. A larger one
//! (catch-up, rebuild) is cut in chunks of at most [`WRITE_CHUNK`] keys:
//! all but the last are plain inserts, and the last, one `apply_batch`,
//! holds the rest and the meta writes a resumed projector reads with the
//! checkpoint (the time block, running maximum and chain root), the
//! checkpoint at its end. Plain inserts because sled's
//! `apply_batch` holds a process-wide lock that every read waits for: with
//! every chunk a batch, the projector's own reads of the slots it wrote in
//! earlier batches spent 1.1 of a 6 s rebuild (1M records) waiting for the
//! writer thread. That is still atomic as seen
//! through the checkpoint: every write is a pure function of the log prefix
//! (a slot is rewritten as a superset; other keys carry the sequence that
//! made them), every query reads only versions at or below the checkpoint,
//! and after a crash the projector drops versions above the checkpoint as it
//! reloads a slot and re-applies the same records to the same keys (sled
//! recovers its log as a prefix, so a checkpoint that survives a crash
//! survives with every write before it, chunk or insert). Small
//! chunks keep sled's memory bounded; one key per slot per batch (not one
//! per event) is what makes a rebuild fast, and long batches bounded by
//! their staged bytes rather than a short record count write each slot
//! about once in a rebuild instead of once per batch it spans.
//!
//! Pipelined commit: a committed batch is written by a thread of its own
//! ([`writer`]) while the projector stages the next one, so a rebuild takes
//! about the longer of projecting and sled's writes, not their sum; a
//! projector that has staged the next batch inserts plain chunks of the
//! one landing instead of waiting for it (their order within a batch does
//! not matter: its keys are distinct, and its last chunk, the checkpoint,
//! is applied only once all of them have landed, so the argument above
//! holds). The first batch is cut short (`batch::LEAD_IN_SHARE`) so the
//! writer starts early. Depth one, in order: batch N is handed over only once batch N-1 is applied
//! (and flushed, when due), so while batch N+1 is staged the tree holds
//! every batch up to N-1 and only N is landing. Everything the projector
//! reads from the tree while staging is a slot or another key read through
//! the batch (`Batcher::get`), and what batch N writes of both stays in
//! memory and is read there first until N has landed (its slots are kept
//! for the next batch anyway; its other keys until N is applied); the
//! checkpoint, running maximum and time block are carried in memory and
//! read from the tree only when a projector starts, after any writer of
//! an earlier one has finished (dropping a batcher waits for its writer).
//! A rebuild (a projector started at checkpoint 0) does not read from the
//! tree a key it has not written (`Batcher::written`): sled's reads wait
//! for the batch it is applying. A writer's error stops the projector at
//! its next commit, with that error; progress reports the checkpoint in the tree. The end of a
//! catch-up, a stop on an error and a `follow` that has caught up wait
//! for the writer. Memory: the batch being staged, the slots the previous
//! one wrote, and that batch's copy in sled's write batches, so at most
//! about three batches' staged bytes (3 × [`STAGE_BYTES`]).
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
//! flushes after the catch-up batch that ends [`FLUSH_EVERY`] records (on
//! the writer, once that batch is applied), at the end of a catch-up, and in
//! `follow` whenever it has caught up with the log; sled's own background
//! flush (every second) bounds the loss on a crash to about a second of
//! work, which is re-projected on restart.
//!
//! Where each part lives: [`batch`] stages and commits a batch with the
//! checkpoint and the time index; [`entity`] says what an event is about
//! (entity kind, unit, names, slot); [`apply`] turns one record into staged
//! writes; [`gate`] holds records until the chain vouches for them;
//! [`read_ahead`] overlaps reading the log with applying it; [`writer`]
//! overlaps sled's writes of a batch with staging the next.

mod apply;
mod batch;
mod entity;
mod gate;
mod read_ahead;
#[cfg(test)]
pub(crate) mod tests;
mod writer;

use std::collections::{BTreeMap, HashSet, VecDeque};

use futures::{FutureExt, StreamExt};
use perfledger_log::integrity::{self, ChainCheck};
use perfledger_log::{EventLog, LogRecord, Seq, Until};
use uuid::Uuid;

use crate::{ProjectError, ReadModel, ReadModelError};
use apply::apply_record;
use batch::{Batcher, RecordStage, Slots};
use gate::{CatchUpSink, FollowSink, Gate};
use read_ahead::read_ahead;
use writer::Writer;

pub(crate) use entity::body_unit;

/// Most records per batch (one checkpoint each) in catch-up and follow;
/// [`STAGE_BYTES`] usually cuts a catch-up's batches first.
pub const BATCH_RECORDS: usize = 1 << 20;
/// Records between explicit flushes during catch-up.
pub const FLUSH_EVERY: u64 = 65_536;
/// Records between progress reports within a catch-up batch.
const PROGRESS_EVERY: usize = 4_096;
/// Staged bytes (changed slots and other writes) at which a batch commits
/// before its record count: bounds the batch's memory, so batches can be
/// long (fewer rewrites of the same slots) without it growing.
pub const STAGE_BYTES: usize = 32 * 1024 * 1024;
/// Most keys in one sled `apply_batch` (bounds sled's memory).
pub const WRITE_CHUNK: usize = 1_024;
/// Most records held back waiting for a checkpoint to vouch for them;
/// beyond it the oldest are applied unvouched (a log with longer runs
/// between checkpoints, such as a bulk load, is then checked when its
/// checkpoint is read, after those records were applied). Memory: a held
/// record keeps the chunk it was read in alive, so at 131,072 (as before)
/// a log without checkpoints held 67 MB here, an eighth of a rebuild's
/// peak at 10M events (`heaptrack`). The commits an import or a seal
/// appends before its checkpoint are usually far fewer; more are still
/// checked, as above.
pub const HOLD_RECORDS: usize = 32_768;
// A held record is one the chain check still has the leaf of, so a
// checkpoint names any held record that differs and it is never applied.
const _: () = assert!(HOLD_RECORDS <= integrity::LEAF_WINDOW);

/// Progress of a catch-up: records applied so far (this run) out of the
/// records to apply, and the checkpoint reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Records applied in this run.
    pub applied: u64,
    /// Records this run set out to apply.
    pub total: u64,
    /// Checkpoint in the read model (last sequence of the last batch sled
    /// holds; during a catch-up the batch before the one being written).
    pub checkpoint: Seq,
}

/// One step of what the projector hands to sled, in order: a write batch
/// (`remove_chain`: it also removes the stored chain root) or a flush.
#[derive(Debug, Clone, Copy)]
pub enum SledWrite<'a> {
    /// One `apply_batch`: these inserts, in this order.
    Batch {
        /// Keys and values inserted.
        writes: &'a [(&'a [u8], &'a [u8])],
        /// The batch also removes the stored chain root.
        remove_chain: bool,
    },
    /// Plain inserts, one at a time, in this order (no `apply_batch`: a
    /// batch holds sled's concurrency lock against every read).
    Inserts {
        /// Keys and values inserted.
        writes: &'a [(&'a [u8], &'a [u8])],
    },
    /// A flush of the database.
    Flush,
}

/// An observer of the projector's writes, called before each reaches
/// sled (the benchmark records them to replay into a bare sled: sled's own
/// cost of exactly this write stream).
pub type WriteTap = std::sync::Arc<std::sync::Mutex<dyn FnMut(SledWrite<'_>) + Send>>;

/// Hand `w` to the tap, if any.
fn tap(tap: Option<&WriteTap>, w: SledWrite<'_>) {
    if let Some(t) = tap {
        // A tap that panicked poisons the lock; the writes still go on.
        let mut f = t.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(w);
    }
}

/// Consumes the log into a [`ReadModel`].
#[derive(Clone)]
pub struct Projector {
    rm: ReadModel,
    batch_records: usize,
    flush_every: u64,
    stage_bytes: usize,
    tap: Option<WriteTap>,
}

impl Projector {
    /// A projector writing into `rm` (applying only its tenant's records).
    pub fn new(rm: &ReadModel) -> Self {
        Projector {
            rm: rm.clone(),
            batch_records: BATCH_RECORDS,
            flush_every: FLUSH_EVERY,
            stage_bytes: STAGE_BYTES,
            tap: None,
        }
    }

    /// Hand every write batch and flush to `tap` before it reaches sled.
    pub fn with_write_tap(mut self, tap: WriteTap) -> Self {
        self.tap = Some(tap);
        self
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

    /// Staged bytes at which a batch commits before its record count
    /// ([`STAGE_BYTES`]; tests use small values to commit mid-batch).
    pub fn with_stage_bytes(mut self, n: usize) -> Self {
        self.stage_bytes = n.max(1);
        self
    }

    fn batcher(&self) -> Result<Batcher, ReadModelError> {
        let checkpoint = self.rm.checkpoint()?;
        Ok(Batcher {
            tree: self.rm.tree.clone(),
            committed: checkpoint,
            stored: checkpoint,
            checkpoint,
            maxrec: self.rm.max_recorded_at()?,
            records_in_batch: 0,
            time_block: self.rm.time_block_at(checkpoint)?,
            slots: Slots::default(),
            staged_bytes: 0,
            stage_bytes: self.stage_bytes,
            puts: BTreeMap::new(),
            landing: BTreeMap::new(),
            record: RecordStage::default(),
            entities: HashSet::default(),
            tenant: self.rm.tenant().as_str().to_string(),
            chain: self.rm.chain_root()?,
            tap: self.tap.clone(),
            writer: Writer::new(&self.rm),
            handed_over: false,
            written: (checkpoint == 0).then(HashSet::default),
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
                b.commit_settled(false)?;
                return Err(e);
            }
            if b.is_full(self.batch_records) {
                b.commit_batch(false)?;
            }
        }
        b.commit_settled(false)?;
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
            let (rec, leaf) = item?;
            if let Err(e) = gate.push(rec, leaf, &mut sink) {
                sink.b.commit_settled(true)?;
                return Err(e);
            }
        }
        if let Err(e) = gate.drain(&mut sink) {
            sink.b.commit_settled(true)?;
            return Err(e);
        }
        let CatchUpSink {
            mut b, progress, ..
        } = sink;
        b.commit_settled(true)?;
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
            sink.b.commit_settled(true)?;
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
                        sink.b.commit_settled(false)?;
                        tap(self.tap.as_ref(), SledWrite::Flush);
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
                sink.b.commit_settled(true)?;
                (sink.progress)(report(&sink.b));
                return Ok(sink.b.checkpoint);
            };
            let rec = item?;
            let leaf = integrity::leaf_hash(&rec);
            if let Err(e) = gate.push(rec, leaf, &mut sink) {
                return stop(&mut sink, e);
            }
        }
    }
}

/// Used by queries: entity ids are uuids.
pub(crate) fn uuid_from(bytes: &[u8]) -> Option<Uuid> {
    Uuid::from_slice(bytes).ok()
}
