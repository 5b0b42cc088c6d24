//! The batch being built: writes staged per record (discarded if the record
//! fails), merged into the batch when it succeeds, and committed with the
//! checkpoint as the last write of the last chunk (the commit protocol of
//! the [`super`] module docs), by the [`Writer`] while the next batch is
//! staged. Every read of the tree during staging goes through [`Batcher::get`]
//! (other keys) or the slot loader, and both look in memory first at what
//! the batch in flight writes, so no read misses a write still landing. The batch also carries the log position: the
//! checkpoint, the running maximum recorded time and the current block of
//! the time index, which every record advances, applied or skipped.

use std::collections::{BTreeMap, HashMap, HashSet};

use perfledger_log::integrity::Hash;
use perfledger_log::Seq;
use uuid::Uuid;

use super::writer::{Chunk, Job, Writer};
use super::{SledWrite, WriteTap, WRITE_CHUNK};
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

/// A slot's stored bytes in memory: its own, or (once committed) shared
/// with the write handed to the sled writer, so a committed batch's slots
/// are not held twice while they land and after; the first change in a
/// later batch copies them.
enum SlotBytes {
    Owned(Vec<u8>),
    Shared(sled::IVec),
}

impl SlotBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            SlotBytes::Owned(v) => v,
            SlotBytes::Shared(v) => v,
        }
    }

    /// The bytes to change, copied first if shared (with room for the
    /// versions a batch usually adds).
    fn make_mut(&mut self) -> &mut Vec<u8> {
        if let SlotBytes::Shared(shared) = self {
            let mut own = Vec::with_capacity(shared.len() + shared.len() / 4 + 256);
            own.extend_from_slice(shared);
            *self = SlotBytes::Owned(own);
        }
        match self {
            SlotBytes::Owned(v) => v,
            SlotBytes::Shared(_) => unreachable!("made owned just above"),
        }
    }

    /// Share the bytes (one copy, if owned): the value to write.
    fn share(&mut self) -> sled::IVec {
        if let SlotBytes::Owned(v) = self {
            *self = SlotBytes::Shared(sled::IVec::from(std::mem::take(v)));
        }
        match self {
            SlotBytes::Shared(v) => v.clone(),
            SlotBytes::Owned(_) => unreachable!("shared just above"),
        }
    }
}

/// A slot held in memory, as its stored bytes ([`versions`] layout: a new
/// version is spliced in, never decoded and encoded again).
pub(super) struct Staged {
    bytes: SlotBytes,
    /// Changed in this batch (written at its commit).
    dirty: bool,
    /// The slot's last version (None iff the slot is empty): most new
    /// versions go after it and most look-ups ask for its period or a
    /// later one, both answered without walking the slot.
    tail: Option<Tail>,
}

/// The last version of a slot: its order and where its record lies.
#[derive(Clone)]
struct Tail {
    order: ([u8; 8], u64, u16),
    record: std::ops::Range<usize>,
}

impl Staged {
    /// A slot of these stored bytes (well-formed: built or checked here).
    fn new(key: &[u8], bytes: Vec<u8>) -> Result<Self, ReadModelError> {
        let last = if bytes.is_empty() {
            None
        } else {
            versions::iter(key, &bytes).last()
        };
        let tail = match last {
            None => None,
            Some(v) => {
                let v = v?;
                // The record is a sub-slice of `bytes`.
                let start = v.record.as_ptr() as usize - bytes.as_ptr() as usize;
                Some(Tail {
                    order: (v.period, v.seq, v.index),
                    record: start..start + v.record.len(),
                })
            }
        };
        Ok(Staged {
            bytes: SlotBytes::Owned(bytes),
            dirty: false,
            tail,
        })
    }

    /// Insert `v` in order ([`versions::insert_encoded`]); a version after
    /// the last one is appended without walking the slot.
    fn insert(&mut self, key: &[u8], v: &Version) -> Result<(), ReadModelError> {
        let order = (v.period, v.seq, v.index);
        match &mut self.tail {
            Some(t) if order < t.order => {
                let bytes = self.bytes.make_mut();
                let before = bytes.len();
                versions::insert_encoded(bytes, v);
                // Inserted (or replaced) before the last version, which
                // moves by the change in length.
                let after = bytes.len();
                t.record = t.record.start + after - before..t.record.end + after - before;
            }
            Some(t) if order == t.order => {
                // The last version again (a record applied again): rare.
                let bytes = self.bytes.make_mut();
                versions::insert_encoded(bytes, v);
                *self = Staged {
                    dirty: self.dirty,
                    ..Staged::new(key, std::mem::take(bytes))?
                };
            }
            _ => {
                // One growth per version at most (amortised), not one per
                // header field.
                let bytes = self.bytes.make_mut();
                bytes.reserve(1 + versions::HEADER + v.record.len());
                if bytes.is_empty() {
                    bytes.push(versions::SLOT_FORMAT);
                }
                versions::put_version(bytes, v);
                let end = bytes.len();
                self.tail = Some(Tail {
                    order,
                    record: end - v.record.len()..end,
                });
            }
        }
        Ok(())
    }

    /// The record of the last version of `period` (as
    /// [`versions::find_at`] at the head).
    fn latest_of<'a>(
        &'a self,
        key: &'a [u8],
        period: [u8; 8],
    ) -> Result<Option<&'a [u8]>, ReadModelError> {
        let Some(t) = &self.tail else {
            return Ok(None);
        };
        // Versions are in (period, seq, index) order: the last one has the
        // latest period, and is the latest version of it.
        match period.cmp(&t.order.0) {
            std::cmp::Ordering::Greater => Ok(None),
            std::cmp::Ordering::Equal => Ok(Some(&self.bytes.as_slice()[t.record.clone()])),
            std::cmp::Ordering::Less => {
                Ok(
                    versions::find_at(key, self.bytes.as_slice(), period, u64::MAX)?
                        .map(|v| v.record),
                )
            }
        }
    }
}

/// The slot map's hasher: FxHash's rotate-xor-multiply over 8-byte words
/// (std's SipHash was a twentieth of the projection thread in a rebuild).
/// Not keyed: slot keys are entity ids, fields and periods, so events could
/// be chosen to collide, which costs time, never bytes (the map's order
/// never reaches the tree: slots are written in key order).
#[derive(Default, Clone, Copy)]
pub(super) struct SlotHasher(u64);

impl SlotHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for SlotHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.add(u64::from_le_bytes(w.try_into().expect("chunks of 8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    /// The state folded once more (its 128-bit product's halves xored):
    /// hashbrown takes a bucket from the hash's low bits and a tag from its
    /// top seven, and a product's low bits see only its input's low bits,
    /// so without this a field's slots of different years (keys differing
    /// in their last word's high bytes) shared one probe start.
    fn finish(&self) -> u64 {
        let wide = u128::from(self.0) * 0x9e37_79b9_7f4a_7c15;
        (wide as u64) ^ ((wide >> 64) as u64)
    }
}

/// A slot's key as the slot map holds it: inline up to [`SlotKey::INLINE`]
/// bytes (every slot key: `f` keys are 22 bytes, roll and tenant-wide ones
/// fewer), so a look-up compares the key in the map's own bucket instead
/// of following a pointer to it (a cache miss a look-up, when keys were
/// `Vec`s); a longer key is boxed. Hashes and compares as its bytes.
#[derive(Clone)]
pub(super) enum SlotKey {
    Inline {
        len: u8,
        bytes: [u8; SlotKey::INLINE],
    },
    Boxed(Box<[u8]>),
}

impl SlotKey {
    const INLINE: usize = 30;

    fn new(key: &[u8]) -> Self {
        if key.len() <= Self::INLINE {
            let mut bytes = [0u8; Self::INLINE];
            bytes[..key.len()].copy_from_slice(key);
            SlotKey::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            SlotKey::Boxed(key.into())
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            SlotKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            SlotKey::Boxed(b) => b,
        }
    }
}

impl std::borrow::Borrow<[u8]> for SlotKey {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for SlotKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SlotKey {}

impl std::hash::Hash for SlotKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

/// The first batch a projector hands to its writer is due at this share of
/// the batch limits: while it is staged the writer has nothing to do, so in
/// a catch-up that much of the projecting is never overlapped with sled's
/// writes (at 1M events a full first batch was about a tenth of a
/// rebuild's projecting, 0.2 s, with one of the two cores idle). Batches
/// after it are full size: a smaller batch rewrites the slots it shares
/// with the next, so only the first is cut.
pub(super) const LEAD_IN_SHARE: usize = 16;

/// Slots in memory by key ([`Batcher::slots`]).
pub(super) type Slots = HashMap<SlotKey, Staged, std::hash::BuildHasherDefault<SlotHasher>>;

/// Staged writes of one batch plus the state carried across records.
pub(super) struct Batcher {
    pub(super) tree: sled::Tree,
    /// Checkpoint of the last batch handed to the writer: stored in the
    /// tree, or landing (versions above it in a slot loaded from the tree
    /// are leftovers of an interrupted run and are ignored).
    pub(super) committed: Seq,
    /// Checkpoint the writer has applied: in the tree.
    pub(super) stored: Seq,
    /// Last applied sequence.
    pub(super) checkpoint: Seq,
    pub(super) maxrec: i64,
    pub(super) records_in_batch: usize,
    /// Current time-index block (number, bytes).
    pub(super) time_block: (u64, Vec<u8>),
    /// Slots in memory: every slot this batch touches, whole (loaded on
    /// first touch, dirty once changed), and the slots the previous batch
    /// wrote, as written (batches mostly touch the same slots, and while
    /// that batch is in flight its slots are read here, not from the tree;
    /// memory is bounded by two batches' slots). Written in key order: the map's
    /// order never reaches the tree.
    pub(super) slots: Slots,
    /// Bytes of the dirty slots and the other writes (about): the batch
    /// commits early when it passes `stage_bytes`.
    pub(super) staged_bytes: usize,
    /// [`super::Projector::with_stage_bytes`].
    pub(super) stage_bytes: usize,
    /// Other writes of fully applied records of this batch.
    pub(super) puts: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The other writes of the batch in flight, read here until the writer
    /// has applied them (empty once it is settled).
    pub(super) landing: BTreeMap<Vec<u8>, Vec<u8>>,
    pub(super) record: RecordStage,
    /// Entities known to be registered (avoids re-reading the registry);
    /// hashed as the slots are (SipHash was 3% of the projecting thread).
    /// Only asked and added to: its order reaches nothing.
    pub(super) entities: HashSet<Uuid, std::hash::BuildHasherDefault<SlotHasher>>,
    /// The read model's tenant: only its records are applied.
    pub(super) tenant: String,
    /// The log's chain root after `checkpoint`, when known (stored with it).
    pub(super) chain: Option<Hash>,
    /// Observer of the writes ([`super::Projector::with_write_tap`]).
    pub(super) tap: Option<WriteTap>,
    /// Applies committed batches, one in flight at most.
    pub(super) writer: Writer,
    /// Whether a batch has gone to the writer ([`Batcher::is_full`]).
    pub(super) handed_over: bool,
    /// When this projector started at checkpoint 0 (a rebuild): the hashes
    /// of every key it has handed to the writer. A key not among them is
    /// read as absent without asking sled: nothing at or below the
    /// checkpoint can be in the tree but what this projector wrote (a slot
    /// left by an interrupted run holds only versions above it, dropped on
    /// load anyway; another key left by one holds the value re-applying
    /// writes again, a pure function of the log prefix). A read from the
    /// tree waits for the writer's batch in progress (sled's reads and
    /// batches share one lock), which made a pipelined rebuild's projector
    /// wait a third of its time. A hash shared by a key not written is
    /// only a read of the tree (what a resumed catch-up does for every
    /// key), so 32 bits are enough: about one look-up in 4,000 asks sled
    /// in vain at a million keys. Memory: 4 bytes and a control byte a
    /// bucket, 10 MB for the 1.06M keys of 10M events (19 MB when the
    /// hashes were 64 bits; the set is largest at the end of a rebuild,
    /// where its peak is). None on a resumed catch-up (the tree is read).
    pub(super) written: Option<HashSet<WrittenHash, std::hash::BuildHasherDefault<SlotHasher>>>,
}

/// A key's hash in [`Batcher::written`].
pub(super) type WrittenHash = u32;

/// The hash of `key` in [`Batcher::written`]: the top half of its slot
/// hash ([`SlotHasher::finish`] folds every input bit into both halves).
fn key_hash(key: &[u8]) -> WrittenHash {
    use std::hash::BuildHasher;
    (std::hash::BuildHasherDefault::<SlotHasher>::default().hash_one(key) >> 32) as WrittenHash
}

impl Batcher {
    /// Whether `key` may be in the tree (see [`Batcher::written`]).
    fn in_tree(&self, key: &[u8]) -> bool {
        self.written
            .as_ref()
            .is_none_or(|w| w.contains(&key_hash(key)))
    }

    pub(super) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ReadModelError> {
        if let Some(v) = self
            .record
            .puts
            .get(key)
            .or_else(|| self.puts.get(key))
            .or_else(|| self.landing.get(key))
        {
            return Ok(Some(v.clone()));
        }
        if !self.in_tree(key) {
            return Ok(None);
        }
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    pub(super) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.record.puts.insert(key, value);
    }

    /// The batch is due: `batch_records` records, or more staged bytes
    /// than `stage_bytes` (bounds memory whatever the batch size); the
    /// first batch this projector hands over is due at a
    /// [`LEAD_IN_SHARE`]th of either, so the writer starts early.
    pub(super) fn is_full(&self, batch_records: usize) -> bool {
        let share = if self.handed_over { 1 } else { LEAD_IN_SHARE };
        self.records_in_batch >= (batch_records / share).max(1)
            || self.staged_bytes >= (self.stage_bytes / share).max(1)
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

    /// The slot `key` as stored: in memory (touched by this batch or
    /// written by the previous one), else loaded from the tree without
    /// versions above the stored checkpoint (leftovers of an interrupted
    /// batch). Loading checks the value (a corrupt slot is an error).
    fn slot(&mut self, key: &[u8]) -> Result<&mut Staged, ReadModelError> {
        // Two lookups instead of `entry` so that a hit allocates no key.
        if !self.slots.contains_key(key) {
            let stored = if self.in_tree(key) {
                self.tree.get(key)?
            } else {
                None
            };
            let bytes = match stored {
                None => Vec::new(),
                Some(v) => {
                    let all = versions::parse(key, &v)?;
                    if all.iter().all(|x| x.seq <= self.committed) {
                        v.to_vec()
                    } else {
                        let kept: Vec<Version> = all
                            .into_iter()
                            .filter(|x| x.seq <= self.committed)
                            .map(|x| x.to_owned())
                            .collect();
                        if kept.is_empty() {
                            Vec::new()
                        } else {
                            versions::encode(&kept)
                        }
                    }
                }
            };
            let staged = Staged::new(key, bytes)?;
            self.slots.insert(SlotKey::new(key), staged);
        }
        self.slots
            .get_mut(key)
            .ok_or_else(|| ReadModelError::Corrupt {
                key: hex::encode(key),
                detail: "slot vanished from the batch".to_string(),
            })
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
        match self.slot(key)?.latest_of(key, period)? {
            Some(record) => Ok(Some(store::decode_fact(key, record)?)),
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
            let slot = self.slot(&key)?;
            let mut added = versions::HEADER + version.record.len();
            if !slot.dirty {
                slot.dirty = true;
                added += slot.bytes.as_slice().len();
            }
            slot.insert(&key, &version)?;
            self.staged_bytes += added;
        }
        for (k, v) in rec.puts {
            self.staged_bytes += k.len() + v.len();
            self.puts.insert(k, v);
        }
        self.records_in_batch += 1;
        Ok(())
    }

    /// Wait until the batch in flight is in the tree (its error if the
    /// writer failed): after it, the tree holds everything committed.
    pub(super) fn settle(&mut self) -> Result<(), ReadModelError> {
        self.writer.settle()?;
        self.stored = self.committed;
        self.landing.clear();
        Ok(())
    }

    /// Commit the staged batch and wait until it is in the tree (flushed
    /// if `flush`): the end of a catch-up, a stop, a follow that caught up.
    pub(super) fn commit_settled(&mut self, flush: bool) -> Result<(), ReadModelError> {
        self.commit_batch(flush)?;
        self.settle()
    }

    /// Hand the staged batch to the writer, checkpoint last, then a flush
    /// if `flush` (see the module docs), once the batch before it is in the
    /// tree; returns without waiting for this one.
    pub(super) fn commit_batch(&mut self, flush: bool) -> Result<(), ReadModelError> {
        self.record = RecordStage::default();
        // Depth one: the previous batch lands before this one goes, so
        // while the next batch is staged only this one is landing (and is
        // read from memory).
        self.settle()?;
        if self.records_in_batch == 0 {
            self.slots.retain(|_, s| !s.dirty);
            self.puts.clear();
            self.staged_bytes = 0;
            if flush {
                super::tap(self.tap.as_ref(), SledWrite::Flush);
                self.writer.hand_over(Job {
                    chunks: Vec::new(),
                    flush,
                });
            }
            return Ok(());
        }
        let puts = std::mem::take(&mut self.puts);
        let mut meta: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (
                keys::time_block_key(self.time_block.0),
                self.time_block.1.clone(),
            ),
            (
                keys::META_MAXREC.to_vec(),
                self.maxrec.to_be_bytes().to_vec(),
            ),
        ];
        if let Some(root) = self.chain {
            meta.push((keys::META_CHAIN.to_vec(), root.to_vec()));
        }
        meta.push((
            keys::META_CHECKPOINT.to_vec(),
            self.checkpoint.to_be_bytes().to_vec(),
        ));
        // The slots' bytes are shared with the writes (one copy each); the
        // other keys are copied.
        let mut slots: Vec<(sled::IVec, sled::IVec)> = self
            .slots
            .iter_mut()
            .filter(|(_, s)| s.dirty && !s.bytes.as_slice().is_empty())
            .map(|(k, s)| (sled::IVec::from(k.as_slice()), s.bytes.share()))
            .collect();
        slots.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = &mut self.written {
            w.extend(slots.iter().map(|(k, _)| key_hash(k)));
            w.extend(puts.keys().map(|k| key_hash(k)));
        }
        let writes: Vec<(sled::IVec, sled::IVec)> = slots
            .into_iter()
            .chain(
                puts.iter()
                    .chain(meta.iter().map(|(k, v)| (k, v)))
                    .map(|(k, v)| {
                        (
                            sled::IVec::from(k.as_slice()),
                            sled::IVec::from(v.as_slice()),
                        )
                    }),
            )
            .collect();
        let chunks = chunked(writes, meta.len(), self.chain.is_none(), self.tap.as_ref());
        if flush {
            super::tap(self.tap.as_ref(), SledWrite::Flush);
        }
        self.writer.hand_over(Job { chunks, flush });
        self.handed_over = true;
        self.landing = puts;
        // What this batch wrote is what the next one most likely touches
        // (and, while it lands, must be read here); what it only kept from
        // the previous one, which is in the tree, is let go.
        self.slots.retain(|_, s| {
            let keep = s.dirty;
            s.dirty = false;
            keep
        });
        self.staged_bytes = 0;
        self.committed = self.checkpoint;
        self.records_in_batch = 0;
        Ok(())
    }
}

/// A commit's writes as the writer's chunks, in order (the commit protocol
/// of the [`super`] module docs): the first `writes.len() - meta` (slots
/// and other keys) in plain inserts of [`WRITE_CHUNK`] keys, then one
/// atomic batch, the last chunk, holding the rest of them (fewer than
/// [`WRITE_CHUNK`]) and the last `meta` writes (the time block, running
/// maximum, chain root and checkpoint, the checkpoint last), and removing
/// the stored chain root if `remove_chain`. The meta writes go together:
/// a resumed projector reads the running maximum and the chain root as the
/// ones of the stored checkpoint, so they must never land without it (a
/// SIGKILL between a plain chunk holding them and the batch left a future
/// maximum and root beside an older checkpoint, and the resumed read
/// model's time index and chain root differed from a clean rebuild's).
/// Each chunk is shown to `tap` first.
fn chunked(
    writes: Vec<(sled::IVec, sled::IVec)>,
    meta: usize,
    remove_chain: bool,
    tap: Option<&WriteTap>,
) -> Vec<Chunk> {
    assert!(
        (1..=writes.len()).contains(&meta),
        "a commit's writes end with its meta writes, the checkpoint last"
    );
    let plain = (writes.len() - meta) / WRITE_CHUNK;
    let mut chunks = Vec::with_capacity(plain + 1);
    let mut writes = writes.into_iter();
    for i in 0..=plain {
        let last = i == plain;
        let chunk: Vec<(sled::IVec, sled::IVec)> = if last {
            writes.by_ref().collect()
        } else {
            writes.by_ref().take(WRITE_CHUNK).collect()
        };
        let remove_chain = last && remove_chain;
        if tap.is_some() {
            let view: Vec<(&[u8], &[u8])> = chunk.iter().map(|(k, v)| (&k[..], &v[..])).collect();
            let w = if last {
                SledWrite::Batch {
                    writes: &view,
                    remove_chain,
                }
            } else {
                SledWrite::Inserts { writes: &view }
            };
            super::tap(tap, w);
        }
        if !last {
            chunks.push(Chunk::Inserts(chunk));
            continue;
        }
        let mut batch = sled::Batch::default();
        if remove_chain {
            batch.remove(keys::META_CHAIN);
        }
        for (k, v) in chunk {
            batch.insert(k, v);
        }
        chunks.push(Chunk::Atomic(batch));
    }
    chunks
}

#[cfg(test)]
mod staged_tests {
    use super::*;

    /// Whatever the count of a commit's other writes, its meta writes all
    /// go in the last, atomic chunk (never a plain insert), every plain
    /// chunk is [`WRITE_CHUNK`] writes, and the writes keep their order.
    #[test]
    fn a_commits_meta_writes_are_all_in_its_atomic_chunk() {
        let meta: Vec<(sled::IVec, sled::IVec)> = [
            keys::time_block_key(3),
            keys::META_MAXREC.to_vec(),
            keys::META_CHAIN.to_vec(),
            keys::META_CHECKPOINT.to_vec(),
        ]
        .into_iter()
        .map(|k| (sled::IVec::from(k), sled::IVec::from(&b"m"[..])))
        .collect();
        for data in [
            0, 1, 1_020, 1_021, 1_022, 1_023, 1_024, 1_025, 2_047, 2_048, 3_000,
        ] {
            let mut writes: Vec<(sled::IVec, sled::IVec)> = (0..data)
                .map(|i: u32| {
                    let k = format!("d{i:08}");
                    (sled::IVec::from(k.as_bytes()), sled::IVec::from(&b"v"[..]))
                })
                .collect();
            writes.extend(meta.iter().cloned());
            let want: Vec<sled::IVec> = writes.iter().map(|(k, _)| k.clone()).collect();
            let chunks = chunked(writes, meta.len(), false, None);
            let (last, plain) = chunks.split_last().expect("at least the atomic chunk");
            let mut got = Vec::new();
            for c in plain {
                let Chunk::Inserts(w) = c else {
                    panic!("only the last chunk is atomic ({data} writes)");
                };
                assert_eq!(w.len(), WRITE_CHUNK, "{data} writes");
                got.extend(w.iter().map(|(k, _)| k.clone()));
            }
            let Chunk::Atomic(batch) = last else {
                panic!("the last chunk is atomic ({data} writes)");
            };
            let tail = want.len() - got.len();
            assert!(
                tail >= meta.len() && tail < WRITE_CHUNK + meta.len(),
                "{data}: {tail}"
            );
            // The batch holds the rest, the meta writes among them.
            let probe = sled::Config::new().temporary(true).open().expect("sled");
            probe.apply_batch(batch.clone()).expect("apply");
            for (k, _) in &meta {
                assert!(probe.contains_key(k).expect("read"), "{data} writes");
            }
            assert_eq!(probe.len(), tail, "{data} writes");
            got.extend(want[got.len()..].iter().cloned());
            assert_eq!(got, want);
        }
    }

    /// A staged slot built version by version, in any order, holds the
    /// bytes of the sorted versions encoded at once, and its look-up of a
    /// period's latest version agrees with [`versions::find_at`].
    /// A slot key is found by its bytes, inline or boxed, and equal keys
    /// hash alike (the map's `Borrow<[u8]>` contract).
    #[test]
    fn slot_keys_are_found_by_their_bytes() {
        let short = b"f0123456789abcdef0123456".to_vec();
        let long = vec![7u8; SlotKey::INLINE + 5];
        let mut slots = Slots::default();
        for k in [&short, &long] {
            let staged = Staged::new(k, Vec::new()).expect("empty slot");
            slots.insert(SlotKey::new(k), staged);
        }
        assert!(matches!(SlotKey::new(&short), SlotKey::Inline { .. }));
        assert!(matches!(SlotKey::new(&long), SlotKey::Boxed(_)));
        assert!(slots.contains_key(short.as_slice()));
        assert!(slots.contains_key(long.as_slice()));
        assert!(!slots.contains_key(&short[..short.len() - 1]));
        assert!(!slots.contains_key(&long[..SlotKey::INLINE]));
        use std::hash::BuildHasher;
        let hasher = std::hash::BuildHasherDefault::<SlotHasher>::default();
        for k in [&short, &long] {
            assert_eq!(
                hasher.hash_one(SlotKey::new(k)),
                hasher.hash_one(k.as_slice())
            );
        }
    }

    #[test]
    fn a_staged_slot_is_the_encoded_slot_whatever_the_insertion_order() {
        let key = b"slot".as_slice();
        let mut all = Vec::new();
        let mut slot = Staged::new(key, Vec::new()).expect("empty slot");
        // Periods 1..=4 with several seqs each, in an order that appends,
        // inserts before the last and re-applies versions.
        let order = [
            (2, 10),
            (2, 11),
            (1, 12),
            (4, 13),
            (3, 14),
            (4, 15),
            (1, 16),
        ];
        for (i, &(period, seq)) in order.iter().chain(&order[5..]).enumerate() {
            let v = Version {
                period: [0, 0, 0, 0, 0, 0, 0, period],
                seq,
                index: 0,
                record: vec![period; i % 3 + 1],
            };
            slot.insert(key, &v).expect("insert");
            all.retain(|x: &Version| (x.period, x.seq, x.index) != (v.period, v.seq, v.index));
            all.push(v);
            all.sort_by_key(|x| (x.period, x.seq, x.index));
            assert_eq!(slot.bytes.as_slice(), versions::encode(&all));
            for p in 0..=5 {
                let period = [0, 0, 0, 0, 0, 0, 0, p];
                let want = versions::find_at(key, slot.bytes.as_slice(), period, u64::MAX)
                    .expect("well-formed")
                    .map(|v| v.record);
                assert_eq!(slot.latest_of(key, period).expect("look-up"), want);
            }
        }
        let reloaded = Staged::new(key, slot.bytes.as_slice().to_vec()).expect("reload");
        assert_eq!(
            reloaded.tail.map(|t| (t.order, t.record)),
            slot.tail.map(|t| (t.order, t.record))
        );
    }
}
