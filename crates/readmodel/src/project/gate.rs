//! The chain gate: records read but not yet applied are held until a
//! checkpoint record of the log vouches for them (at most
//! [`HOLD_RECORDS`]); a record failing the chain is never applied. Sinks
//! apply what the gate releases, committing batches (catch-up or follow).

use std::collections::VecDeque;

use perfledger_log::integrity::{ChainCheck, Hash, Hashed};
use perfledger_log::{LogRecord, Seq};

use super::apply::apply_record;
use super::batch::Batcher;
use super::{Progress, Projector, HOLD_RECORDS, PROGRESS_EVERY};
use crate::ProjectError;

pub(super) trait Sink {
    /// Apply one record whose chain root (after it) is `root`.
    fn apply(&mut self, rec: &LogRecord, root: Hash) -> Result<(), ProjectError>;
}

/// Records read but not yet applied, held until a checkpoint vouches for
/// them (see the module docs).
pub(super) struct Gate {
    pub(super) chain: ChainCheck,
    pub(super) held: VecDeque<(LogRecord, Hash)>,
}

impl Gate {
    /// Check `rec`, whose [`perfledger_log::integrity::leaf_hash`] is
    /// `leaf` (computed by the reader); apply what is now vouched for. On a
    /// chain failure the held records before the bad one are applied and
    /// the error names it.
    pub(super) fn push(
        &mut self,
        rec: LogRecord,
        leaf: Hash,
        sink: &mut dyn Sink,
    ) -> Result<(), ProjectError> {
        // A record delivered again was checked (and is held or applied)
        // already: skip it, as `apply_record` skips what the checkpoint
        // covers. A transport's redelivery is not a broken chain.
        if rec.seq < self.chain.next() {
            return Ok(());
        }
        match self.chain.push_hashed(&Hashed::with_leaf(&rec, leaf)) {
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
    pub(super) fn drain(&mut self, sink: &mut dyn Sink) -> Result<(), ProjectError> {
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

pub(super) struct CatchUpSink<'a> {
    pub(super) projector: &'a Projector,
    pub(super) b: Batcher,
    pub(super) start: Seq,
    pub(super) total: u64,
    pub(super) since_flush: u64,
    pub(super) progress: &'a mut dyn FnMut(Progress),
}

impl Sink for CatchUpSink<'_> {
    fn apply(&mut self, rec: &LogRecord, root: Hash) -> Result<(), ProjectError> {
        let b = &mut self.b;
        apply_checked(b, rec, root)?;
        if b.records_in_batch.is_multiple_of(PROGRESS_EVERY) {
            (self.progress)(Progress {
                applied: b.checkpoint - self.start,
                total: self.total,
                checkpoint: b.stored,
            });
        }
        if b.is_full(self.projector.batch_records) {
            self.since_flush += b.records_in_batch as u64;
            // Flushed by the writer once the batch is applied.
            let flush = self.since_flush >= self.projector.flush_every;
            if flush {
                self.since_flush = 0;
            }
            b.commit_batch(flush)?;
            (self.progress)(Progress {
                applied: b.checkpoint - self.start,
                total: self.total,
                checkpoint: b.stored,
            });
        }
        Ok(())
    }
}

pub(super) struct FollowSink<'a> {
    pub(super) b: Batcher,
    pub(super) batch_records: usize,
    pub(super) progress: &'a mut (dyn FnMut(Progress) + Send),
    pub(super) start: Seq,
}

impl Sink for FollowSink<'_> {
    fn apply(&mut self, rec: &LogRecord, root: Hash) -> Result<(), ProjectError> {
        apply_checked(&mut self.b, rec, root)?;
        if self.b.is_full(self.batch_records) {
            self.b.commit_batch(false)?;
            (self.progress)(Progress {
                applied: self.b.checkpoint - self.start,
                total: 0,
                checkpoint: self.b.stored,
            });
        }
        Ok(())
    }
}
