//! Command ids: the index of used ids, and the judgement of a re-sent or
//! reused one.
//!
//! Invariant: a command id is used once, forever. The index only locates
//! candidates (by a 64-bit fold of the id); the stored record is always the
//! judge: the same command on the same entity is a duplicate, anything else
//! under that id is [`LedgerError::CommandIdReused`]. The index covers every
//! record up to the head it was caught up to, or the lookup fails: a record
//! it skipped would let a reused id through.

use std::collections::BTreeSet;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use perfledger_domain::{decode_commit, CommandEnvelope, EntityRef, Envelope};
use perfledger_log::{EventLog, Seq, Until};
use uuid::Uuid;

use crate::error::gap;
use crate::{Ledger, LedgerError};

/// Where a command id was used: sequence -> locator of records by a 64-bit
/// fold of their msg id (= command id for ledger commits). A locator, not a
/// judge: every hit is checked against the stored record.
#[derive(Debug, Default)]
pub(crate) struct CommandIndex {
    /// Records 1..=indexed_to are in the index.
    indexed_to: Seq,
    /// Sorted (fold, seq) pairs.
    base: Vec<(u64, Seq)>,
    /// Entries added since the last merge into `base`.
    recent: BTreeSet<(u64, Seq)>,
    /// When the head the index last reached was asked for: every record
    /// stored before this instant is in the index.
    covers_until: Option<Instant>,
}

impl CommandIndex {
    fn fold(id: &Uuid) -> u64 {
        let (hi, lo) = id.as_u64_pair();
        hi ^ lo
    }

    fn insert(&mut self, id: &Uuid, seq: Seq) {
        self.recent.insert((Self::fold(id), seq));
        if self.recent.len() > 4096.max(self.base.len() / 8) {
            let recent = std::mem::take(&mut self.recent);
            self.base.extend(recent);
            self.base.sort_unstable();
        }
    }

    /// Sequences of records whose msg id folds like `id`, in order.
    fn candidates(&self, id: &Uuid) -> Vec<Seq> {
        let k = Self::fold(id);
        let from = self.base.partition_point(|&(f, _)| f < k);
        let mut out: Vec<Seq> = self.base[from..]
            .iter()
            .take_while(|&&(f, _)| f == k)
            .map(|&(_, s)| s)
            .chain(self.recent.range((k, 0)..=(k, Seq::MAX)).map(|&(_, s)| s))
            .collect();
        out.sort_unstable();
        out
    }
}

impl<L: EventLog> Ledger<L> {
    /// Bring the command-id index up to `head`, asked for at `asked`,
    /// reading only records it has not seen. The records are read without
    /// holding the index (other commands look ids up meanwhile); two
    /// catch-ups at once both read, and the second one's records are
    /// already indexed.
    pub(crate) async fn catch_up_index(
        &self,
        head: Seq,
        asked: Instant,
    ) -> Result<(), LedgerError> {
        let from = self.index.lock().await.indexed_to + 1;
        let mut read = Vec::new();
        if from <= head {
            let mut records = self.log.read(from, Until::Seq(head));
            while let Some(r) = records.next().await {
                let r = r?;
                read.push((r.seq, r.msg_id));
            }
        }
        let mut idx = self.index.lock().await;
        for (seq, msg_id) in read {
            // Delivered again, or indexed by another catch-up meanwhile:
            // already there. Out of place or after a missing record: refuse,
            // or that id would never be found.
            if seq <= idx.indexed_to {
                continue;
            }
            if seq != idx.indexed_to + 1 {
                return Err(gap(idx.indexed_to + 1, seq));
            }
            idx.insert(&msg_id, seq);
            idx.indexed_to = seq;
        }
        if idx.indexed_to < head {
            return Err(gap(idx.indexed_to + 1, 0));
        }
        if idx.covers_until.is_none_or(|t| t < asked) {
            idx.covers_until = Some(asked);
        }
        Ok(())
    }

    /// Bring the command-id index up to `head` (asked for at `asked`) and
    /// return the sequences that may hold `id`.
    async fn index_candidates(
        &self,
        id: &Uuid,
        head: Seq,
        asked: Instant,
    ) -> Result<Vec<Seq>, LedgerError> {
        self.catch_up_index(head, asked).await?;
        Ok(self.index.lock().await.candidates(id))
    }

    /// The sequences that may hold `id` among the records indexed so far,
    /// and the instant before which every stored record is indexed (`None`:
    /// never caught up). No read.
    pub(crate) async fn indexed_candidates(&self, id: &Uuid) -> (Vec<Seq>, Option<Instant>) {
        let idx = self.index.lock().await;
        (idx.candidates(id), idx.covers_until)
    }

    /// The stored commit at `seq`, if it exists and is a commit of `id`.
    async fn stored_commit(&self, seq: Seq, id: &Uuid) -> Result<Option<Envelope>, LedgerError> {
        let mut s = self.log.read(seq, Until::Seq(seq));
        // `seq` is in the log (indexed, or named by the log): a read that
        // does not deliver it must not pass for "another command".
        let r = match s.next().await {
            Some(r) => r?,
            None => return Err(gap(seq, 0)),
        };
        if r.seq != seq {
            return Err(gap(seq, r.seq));
        }
        if r.subject.is_checkpoint() || r.msg_id != *id {
            return Ok(None);
        }
        let mut events = decode_commit(&r.payload)
            .map_err(|source| LedgerError::Undecodable { seq: r.seq, source })?;
        Ok(if events[0].command_id == *id {
            Some(events.swap_remove(0))
        } else {
            None
        })
    }

    /// Has this command been applied already? `Some(seq)` for a duplicate
    /// (same id, same digest, same tenant and entity), `None` for a new id,
    /// [`LedgerError::CommandIdReused`] for another command under this id.
    /// Candidates: the index's, caught up to `head` (read at `asked`), and
    /// `on_entity`, the sequence the loaded entity records for the id.
    pub(crate) async fn applied(
        &self,
        index: usize,
        cmd: &CommandEnvelope,
        digest: &[u8; 32],
        (head, asked): (Seq, Instant),
        on_entity: Option<Seq>,
    ) -> Result<Option<Seq>, LedgerError> {
        let mut candidates = self.index_candidates(&cmd.command_id, head, asked).await?;
        if let Some(seq) = on_entity.filter(|s| !candidates.contains(s)) {
            candidates.push(seq);
        }
        for seq in candidates {
            if let Some(stored) = self.stored_commit(seq, &cmd.command_id).await? {
                let (kind, id) = cmd.command.entity(&cmd.tenant);
                let same = stored.tenant == cmd.tenant
                    && stored.entity == (EntityRef { kind, id })
                    // records before schema version 2 carry no digest: the
                    // entity is all that can be compared
                    && stored.command_digest.is_none_or(|d| d == *digest);
                return if same {
                    Ok(Some(seq))
                } else {
                    Err(LedgerError::CommandIdReused {
                        index,
                        command: cmd.command.name(),
                        command_id: cmd.command_id,
                        original_seq: seq,
                    })
                };
            }
        }
        Ok(None)
    }

    /// The log answered `duplicate` with `seq` for the commit whose first
    /// envelope is `ours`: accept only if the record there is this command.
    pub(crate) async fn check_log_duplicate(
        &self,
        index: usize,
        command: &'static str,
        ours: &Envelope,
        seq: Seq,
    ) -> Result<(), LedgerError> {
        let same = match self.stored_commit(seq, &ours.command_id).await? {
            Some(stored) => {
                stored.tenant == ours.tenant
                    && stored.entity == ours.entity
                    && stored
                        .command_digest
                        .is_none_or(|d| Some(d) == ours.command_digest)
            }
            None => false,
        };
        if same {
            Ok(())
        } else {
            Err(LedgerError::CommandIdReused {
                index,
                command,
                command_id: ours.command_id,
                original_seq: seq,
            })
        }
    }
}

/// A command id carried by more than one stored commit: `seq` repeats the
/// command id first stored at `first_seq`. The ledger never writes this (it
/// refuses reused ids and answers re-sent commands with the original); a
/// log holding it was written around the ledger, or by a ledger from
/// before command ids were indexed while JetStream's duplicate window had
/// passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReusedCommandId {
    /// The command id.
    pub command_id: Uuid,
    /// Sequence of the first commit with this command id.
    pub first_seq: Seq,
    /// Sequence of a later commit with the same command id.
    pub seq: Seq,
}

/// Every stored commit whose command id an earlier commit already carried,
/// in log order (`perfledger verify` reports them). Reads and decodes the
/// whole log once; memory as the ledger's command-id index (16 bytes per
/// record). A pass that reads the log anyway feeds a [`CommandIdCheck`]
/// instead.
pub async fn reused_command_ids<L: EventLog>(log: &L) -> Result<Vec<ReusedCommandId>, LedgerError> {
    let head = log.head().await?;
    let mut check = CommandIdCheck::default();
    let mut records = log.read(1, Until::Seq(head));
    while let Some(r) = records.next().await {
        let r = r?;
        check.push(r.seq, r.subject.is_checkpoint(), &r.payload);
    }
    check.finish(log).await
}

/// [`reused_command_ids`] gathered from records as another pass over the
/// log meets them (`perfledger verify` feeds it from the hash chain's
/// pass, so the log is read once). Each commit is decoded and its command
/// id looked up in the index of those before it; a hit (the index folds
/// ids to 64 bits) is judged against the stored record after the pass, in
/// [`CommandIdCheck::finish`].
#[derive(Debug, Default)]
pub struct CommandIdCheck {
    index: CommandIndex,
    /// Commits whose command id folds like earlier ones': (sequence,
    /// command id, the earlier commits' sequences).
    hits: Vec<(Seq, Uuid, Vec<Seq>)>,
    /// The first commit that could not be decoded: nothing after it is
    /// gathered, and `finish` answers this.
    failed: Option<LedgerError>,
}

impl CommandIdCheck {
    /// The next record of the log (records must come in order, each once):
    /// its sequence, whether it is a checkpoint (which carries no
    /// command), and its payload.
    pub fn push(&mut self, seq: Seq, checkpoint: bool, payload: &[u8]) {
        if checkpoint || self.failed.is_some() {
            return;
        }
        match decode_commit(payload) {
            Ok(events) => {
                let id = events[0].command_id;
                let candidates = self.index.candidates(&id);
                if !candidates.is_empty() {
                    self.hits.push((seq, id, candidates));
                }
                self.index.insert(&id, seq);
            }
            Err(source) => self.failed = Some(LedgerError::Undecodable { seq, source }),
        }
    }

    /// Every commit pushed whose command id an earlier one already
    /// carried, in log order, each with the first commit that carried it
    /// (read back from `log`, the log the records came from); or the first
    /// commit that could not be decoded.
    pub async fn finish<L: EventLog>(self, log: &L) -> Result<Vec<ReusedCommandId>, LedgerError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut found = Vec::new();
        for (seq, id, candidates) in self.hits {
            for first in candidates {
                // a fold collision is possible: the earlier record is the judge
                if command_id_at(log, first).await? == Some(id) {
                    found.push(ReusedCommandId {
                        command_id: id,
                        first_seq: first,
                        seq,
                    });
                    break;
                }
            }
        }
        Ok(found)
    }
}

/// Records in a batch handed to [`CommandIdThread`].
const BATCH: usize = 2048;
/// Batches queued for [`CommandIdThread`] at most: the pass feeding it
/// waits beyond this (memory stays bounded: the payloads are slices of
/// what was read, holding those reads).
const QUEUED: usize = 4;

/// A [`CommandIdCheck`] on a thread of its own, fed in order, in batches:
/// decoding every commit costs more than the hash chain does (about
/// 1.6 s of CPU per million council records against 0.6 s), so on the
/// chain's thread it would make the chain wait; beside it, another core
/// decodes while the chain steps.
pub struct CommandIdThread {
    batch: Vec<(Seq, bool, Bytes)>,
    tx: std::sync::mpsc::SyncSender<Vec<(Seq, bool, Bytes)>>,
    worker: std::thread::JoinHandle<CommandIdCheck>,
}

impl Default for CommandIdThread {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandIdThread {
    /// Start the thread.
    pub fn new() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(Seq, bool, Bytes)>>(QUEUED);
        let worker = std::thread::Builder::new()
            .name("command-ids".into())
            .spawn(move || {
                let mut check = CommandIdCheck::default();
                for batch in rx {
                    for (seq, checkpoint, payload) in batch {
                        check.push(seq, checkpoint, &payload);
                    }
                }
                check
            })
            .expect("a thread can be started for the command-id check");
        CommandIdThread {
            batch: Vec::with_capacity(BATCH),
            tx,
            worker,
        }
    }

    /// [`CommandIdCheck::push`]: the next record of the log, in order.
    pub fn push(&mut self, seq: Seq, checkpoint: bool, payload: &Bytes) {
        self.batch.push((seq, checkpoint, payload.clone()));
        if self.batch.len() == BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        // Fails only when the thread has ended, i.e. panicked: `finish`
        // reports that.
        let _ = self.tx.send(batch);
    }

    /// The check with every record pushed (see [`CommandIdCheck::finish`]).
    pub fn finish(mut self) -> CommandIdCheck {
        self.send();
        drop(self.tx);
        self.worker
            .join()
            .expect("the command-id check's thread does not panic")
    }
}

/// The command id of the commit at `seq` (`None` for a checkpoint).
async fn command_id_at<L: EventLog>(log: &L, seq: Seq) -> Result<Option<Uuid>, LedgerError> {
    let mut s = log.read(seq, Until::Seq(seq));
    // `seq` was read once already (it is in the index): a read that does
    // not deliver it must not pass for "another command id", or a reused
    // id would go unreported.
    let r = match s.next().await {
        Some(r) => r?,
        None => return Err(gap(seq, 0)),
    };
    if r.seq != seq {
        return Err(gap(seq, r.seq));
    }
    if r.subject.is_checkpoint() {
        return Ok(None);
    }
    let events = decode_commit(&r.payload)
        .map_err(|source| LedgerError::Undecodable { seq: r.seq, source })?;
    Ok(Some(events[0].command_id))
}
