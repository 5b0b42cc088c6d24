//! The batch being built: writes staged per record (discarded if the record
//! fails), merged into the batch when it succeeds, and committed with the
//! checkpoint as the last write of the last chunk (the commit protocol of
//! the [`super`] module docs). The batch also carries the log position: the
//! checkpoint, the running maximum recorded time and the current block of
//! the time index, which every record advances, applied or skipped.

use std::collections::{BTreeMap, HashSet};

use perfledger_log::integrity::Hash;
use perfledger_log::Seq;
use uuid::Uuid;

use super::WRITE_CHUNK;
use crate::keys;
use crate::store::{self, FactRecord};
use crate::versions::{self, Version};
use crate::ReadModelError;

/// Writes of the record being applied: discarded if it fails, merged into
/// the batch when it succeeds.
#[derive(Default)]
pub(super) struct RecordStage {
    pub(super) versions: Vec<(Vec<u8>, Version)>,
    pub(super) puts: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// Staged writes of one batch plus the state carried across records.
pub(super) struct Batcher {
    pub(super) tree: sled::Tree,
    /// Checkpoint stored in the tree (versions above it are ignored).
    pub(super) committed: Seq,
    /// Last applied sequence.
    pub(super) checkpoint: Seq,
    pub(super) maxrec: i64,
    pub(super) records_in_batch: usize,
    /// Current time-index block (number, bytes).
    pub(super) time_block: (u64, Vec<u8>),
    /// Every slot this batch touches, whole (loaded on first touch).
    pub(super) slots: BTreeMap<Vec<u8>, Vec<Version>>,
    /// The slots the previous batch wrote, as written (memory is bounded
    /// by two batches' slots).
    pub(super) recent: BTreeMap<Vec<u8>, Vec<Version>>,
    /// Other writes of fully applied records of this batch.
    pub(super) puts: BTreeMap<Vec<u8>, Vec<u8>>,
    pub(super) record: RecordStage,
    /// Entities known to be registered (avoids re-reading the registry).
    pub(super) entities: HashSet<Uuid>,
    /// The read model's tenant: only its records are applied.
    pub(super) tenant: String,
    /// The log's chain root after `checkpoint`, when known (stored with it).
    pub(super) chain: Option<Hash>,
}

impl Batcher {
    pub(super) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ReadModelError> {
        if let Some(v) = self.record.puts.get(key).or_else(|| self.puts.get(key)) {
            return Ok(Some(v.clone()));
        }
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    pub(super) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.record.puts.insert(key, value);
    }

    pub(super) fn put_if_absent(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<(), ReadModelError> {
        if self.get(&key)?.is_none() {
            self.put(key, value);
        }
        Ok(())
    }

    /// The slot `key`: staged in this batch, else written by the previous
    /// batch (kept in memory: batches mostly touch the same slots), else
    /// loaded from the tree without versions above the stored checkpoint
    /// (leftovers of an interrupted batch).
    pub(super) fn slot(&mut self, key: &[u8]) -> Result<&mut Vec<Version>, ReadModelError> {
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
    pub(super) fn previous(
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

    pub(super) fn add_version(&mut self, key: Vec<u8>, version: Version) {
        self.record.versions.push((key, version));
    }

    /// Move the position to `seq` (applied or skipped): checkpoint, running
    /// maximum recorded time, and the time index entry of `seq` (a finished
    /// block is staged as the position leaves it).
    pub(super) fn advance(&mut self, seq: Seq, maxrec: i64) {
        self.maxrec = maxrec;
        self.checkpoint = seq;
        let block = (seq - 1) / keys::TIME_BLOCK;
        if block != self.time_block.0 {
            let done = std::mem::replace(&mut self.time_block, (block, Vec::new()));
            self.put(keys::time_block_key(done.0), done.1);
        }
        self.time_block.1.extend_from_slice(&maxrec.to_be_bytes());
    }

    pub(super) fn commit_record(&mut self) -> Result<(), ReadModelError> {
        let rec = std::mem::take(&mut self.record);
        for (key, version) in rec.versions {
            versions::insert(self.slot(&key)?, version);
        }
        self.puts.extend(rec.puts);
        self.records_in_batch += 1;
        Ok(())
    }

    /// Apply the staged batch, checkpoint last (see the module docs).
    pub(super) fn commit_batch(&mut self) -> Result<(), ReadModelError> {
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
