//! Hash-chain integrity over the log.
//!
//! ```text
//! leaf_i  = SHA-256("pl-leaf-v1" ‖ seq:u64be ‖ len(subject):u32be ‖ subject
//!                   ‖ msg_id:16 ‖ recorded_at:i64be ‖ len(payload):u64be ‖ payload)
//! chain_0 = 32 zero bytes
//! chain_i = SHA-256("pl-chain-v1" ‖ chain_{i-1} ‖ leaf_i)
//! ```
//!
//! A checkpoint is a record on `{prefix}.chk`, appended with
//! `Expected::At(last checkpoint)` so concurrent checkpointers conflict. Its
//! payload ([`CheckpointPayload`], postcard, versioned) carries the previous
//! checkpoint's `upto`, its own `upto`, `chain_upto` and the first
//! [`LEAF_PREFIX_BYTES`] bytes of every leaf in `(prev_upto, upto]`, so
//! [`verify`] names the exact first altered, removed, reordered or inserted
//! record. A checkpoint covers at most [`MAX_CHECKPOINT_LEAVES`] records
//! (its payload stays within the default payload limit); a longer run is
//! covered by several in a row. Checkpoints are records too: the next
//! checkpoint covers them.
//!
//! A checkpoint's msg id (hashed into its leaf like any record's) is a
//! function of what it states ([`checkpoint_msg_id`]): the same log
//! checkpointed twice stores the same bytes. Logs whose checkpoints carry
//! random ids (written before this rule) verify unchanged: the chain hashes
//! a stored id as data and never re-derives it.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Commit, EventLog, Expected, LogError, LogRecord, Seq, Subject, Until};

/// A SHA-256 digest.
pub type Hash = [u8; 32];
/// Bytes of each leaf kept in a checkpoint.
pub const LEAF_PREFIX_BYTES: usize = 8;
/// The chain root of the empty log.
pub const ZERO: Hash = [0u8; 32];

/// The payload of a checkpoint record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckpointPayload {
    V1 {
        prev_upto: Seq,
        upto: Seq,
        root: Hash,
        leaves: Vec<[u8; LEAF_PREFIX_BYTES]>,
    },
}

/// A checkpoint just written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// Sequence of the checkpoint record itself.
    pub seq: Seq,
    /// Last record covered.
    pub upto: Seq,
    /// Chain root at `upto`.
    pub root: Hash,
}

/// What is wrong at the first bad sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The record's hash differs from the one a checkpoint recorded: it was
    /// altered, removed, reordered or inserted.
    LeafMismatch,
    /// The chain root at a checkpoint's `upto` differs from the recorded one.
    RootMismatch { upto: Seq },
    /// A checkpoint record is malformed or does not follow the previous one.
    BadCheckpoint(String),
    /// The record could not be read (gap, corrupt bytes).
    Unreadable(String),
    /// The chain root differs from the external anchor.
    AnchorMismatch,
    /// The external anchor's sequence is beyond the head.
    AnchorBeyondHead { head: Seq },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::LeafMismatch => f.write_str(
                "record differs from its checkpointed hash (altered, removed, reordered or inserted)",
            ),
            Problem::RootMismatch { upto } => write!(f, "chain root at {upto} differs"),
            Problem::BadCheckpoint(d) => write!(f, "bad checkpoint: {d}"),
            Problem::Unreadable(d) => write!(f, "unreadable: {d}"),
            Problem::AnchorMismatch => f.write_str("chain root differs from the external anchor"),
            Problem::AnchorBeyondHead { head } => {
                write!(f, "anchor is beyond the head {head} (records removed?)")
            }
        }
    }
}

/// Result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records read and hashed.
    pub checked: Seq,
    /// The last valid checkpoint seen.
    pub last_checkpoint: Option<CheckpointInfo>,
    /// Records after the last checkpoint's `upto` (not yet protected).
    pub uncovered_tail: Seq,
    /// The first bad sequence and what is wrong there.
    pub first_bad: Option<(Seq, Problem)>,
}

impl VerifyReport {
    /// True when nothing bad was found.
    pub fn ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// The leaf hash of one record.
pub fn leaf_hash(r: &LogRecord) -> Hash {
    leaf_hash_of(
        r.seq,
        r.subject.as_str(),
        &r.msg_id,
        r.recorded_at,
        &r.payload,
    )
}

/// The leaf hash of a record given by its fields: a reader that hashes a
/// record from its stored bytes needs no [`LogRecord`].
pub fn leaf_hash_of(
    seq: Seq,
    subject: &str,
    msg_id: &Uuid,
    recorded_at: i64,
    payload: &[u8],
) -> Hash {
    // The fields before the payload are laid out in one stack buffer, and
    // a payload that fits after them too, so SHA-256 gets the leaf in one
    // call (the same bytes as one update per field, without a call and a
    // buffer copy per field: this runs once per record verified).
    const TAG: &[u8] = b"pl-leaf-v1";
    let s = subject.as_bytes();
    let mut buf = [0u8; 512];
    let n = TAG.len() + 8 + 4 + s.len() + 16 + 8 + 8;
    assert!(
        n <= 256,
        "a subject is at most 135 bytes (three 32-byte tokens, a 32-hex id, dots)"
    );
    let mut at = 0;
    for part in [
        TAG,
        &seq.to_be_bytes(),
        &(s.len() as u32).to_be_bytes(),
        s,
        msg_id.as_bytes(),
        &recorded_at.to_be_bytes(),
        &(payload.len() as u64).to_be_bytes(),
    ] {
        buf[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    if let Some(rest) = buf.get_mut(n..n + payload.len()) {
        rest.copy_from_slice(payload);
        return Sha256::digest(&buf[..n + payload.len()]).into();
    }
    let mut h = Sha256::new();
    h.update(&buf[..n]);
    h.update(payload);
    h.finalize().into()
}

/// A record as the hash chain reads it: what [`ChainCheck`], [`verify`],
/// [`chain_root_at`] and [`checkpoint`] need of it, and nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    pub seq: Seq,
    pub recorded_at: i64,
    /// Its [`leaf_hash`].
    pub leaf: Hash,
    /// Whether it is a checkpoint (the chain decodes those payloads).
    pub checkpoint: bool,
    /// Its payload (a slice of what was read, not a copy): a reader that
    /// checks more than the chain, such as `perfledger verify` looking
    /// for reused command ids, needs no second pass over the log.
    pub payload: Bytes,
}

impl Hashed {
    /// A decoded record as the chain reads it.
    pub fn of(r: &LogRecord) -> Self {
        Self::with_leaf(r, leaf_hash(r))
    }

    /// [`Hashed::of`] with its [`leaf_hash`] computed already (by a reader
    /// on another thread). Debug builds check it.
    pub fn with_leaf(r: &LogRecord, leaf: Hash) -> Self {
        debug_assert_eq!(leaf, leaf_hash(r), "the leaf of record {}", r.seq);
        Hashed {
            seq: r.seq,
            recorded_at: r.recorded_at,
            leaf,
            checkpoint: r.subject.is_checkpoint(),
            payload: r.payload.clone(),
        }
    }
}

/// A stream of [`Hashed`] records in sequence order (see
/// [`EventLog::read_hashed`]); a gap is an error item, never skipped.
pub type HashedStream = BoxStream<'static, Result<Hashed, LogError>>;

/// One chain step.
pub fn chain_next(prev: &Hash, leaf: &Hash) -> Hash {
    // One contiguous message, one call (as in `leaf_hash_of`).
    const TAG: &[u8; 11] = b"pl-chain-v1";
    let mut buf = [0u8; 11 + 32 + 32];
    buf[..11].copy_from_slice(TAG);
    buf[11..43].copy_from_slice(prev);
    buf[43..].copy_from_slice(leaf);
    Sha256::digest(buf).into()
}

fn short(leaf: &Hash) -> [u8; LEAF_PREFIX_BYTES] {
    let mut s = [0u8; LEAF_PREFIX_BYTES];
    s.copy_from_slice(&leaf[..LEAF_PREFIX_BYTES]);
    s
}

/// Decode a checkpoint payload.
pub fn decode_checkpoint(r: &LogRecord) -> Result<CheckpointPayload, String> {
    decode_checkpoint_payload(&r.payload)
}

fn decode_checkpoint_payload(payload: &[u8]) -> Result<CheckpointPayload, String> {
    postcard::from_bytes(payload).map_err(|e| format!("undecodable checkpoint payload: {e}"))
}

/// The namespace of checkpoint msg ids (UUID v5).
const CHECKPOINT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6a0c_52f1_8d3e_4b7a_9c21_5e0f_d4a8_b913);

/// The msg id of the checkpoint on `{prefix}.chk` after the one at `last`
/// (0 = none), covering up to `upto` with chain root `root`: a UUID v5 of
/// those, so a checkpoint never brings randomness into the chain. Two
/// checkpointers racing on the same head write the same commit, so the
/// second is a dedupe of the first (the checkpoint it wanted exists).
pub fn checkpoint_msg_id(prefix: &str, last: Seq, upto: Seq, root: &Hash) -> Uuid {
    let mut name = Vec::with_capacity(prefix.len() + 1 + 8 + 8 + 32);
    name.extend_from_slice(prefix.as_bytes());
    name.push(0);
    name.extend_from_slice(&last.to_be_bytes());
    name.extend_from_slice(&upto.to_be_bytes());
    name.extend_from_slice(root);
    Uuid::new_v5(&CHECKPOINT_ID_NAMESPACE, &name)
}

async fn read_one<L: EventLog>(log: &L, seq: Seq) -> Result<LogRecord, LogError> {
    let mut s = log.read(seq, Until::Seq(seq));
    match s.next().await {
        Some(r) => r,
        None => Err(LogError::Gap {
            expected: seq,
            got: 0,
        }),
    }
}

/// The chain root after record `seq` (ZERO for 0), recomputed from the log.
pub async fn chain_root_at<L: EventLog>(log: &L, seq: Seq) -> Result<Hash, LogError> {
    let roots = chain_roots_at(log, &BTreeSet::from([seq])).await?;
    Ok(*roots
        .get(&seq)
        .expect("chain_roots_at returns a root for every position asked"))
}

/// The chain roots after each record of `positions` (ZERO for 0), in one
/// pass over the log up to the largest: what `verify` needs for the head's
/// anchor and every pack seal, which one [`chain_root_at`] per position
/// would read the log for again each time.
pub async fn chain_roots_at<L: EventLog>(
    log: &L,
    positions: &BTreeSet<Seq>,
) -> Result<BTreeMap<Seq, Hash>, LogError> {
    chain_roots_from(log, &BTreeMap::new(), positions).await
}

/// The chain roots after each record of `positions` (ZERO for 0), each
/// stepped from the nearest root known at or before it: `known` (say, the
/// roots [`verify_each`] met every few thousand records) or a position
/// already computed. Reads only the records between them, in order; a
/// position beyond the head is a [`LogError::Gap`]. `known` must hold
/// true roots (they are trusted, not re-derived).
pub async fn chain_roots_from<L: EventLog>(
    log: &L,
    known: &BTreeMap<Seq, Hash>,
    positions: &BTreeSet<Seq>,
) -> Result<BTreeMap<Seq, Hash>, LogError> {
    let mut roots = BTreeMap::new();
    // The latest root computed here, at or before the next position.
    let (mut at, mut root) = (0, ZERO);
    for &pos in positions {
        if let Some((&k, &r)) = known.range(..=pos).next_back() {
            if k > at {
                (at, root) = (k, r);
            }
        }
        if pos > at {
            let mut s = log.read_hashed(at + 1, pos);
            while let Some(r) = s.next().await {
                let r = r?;
                root = chain_next(&root, &r.leaf);
                at = r.seq;
            }
            if at != pos {
                return Err(LogError::Gap {
                    expected: at + 1,
                    got: 0,
                });
            }
        }
        roots.insert(pos, root);
    }
    Ok(roots)
}

/// Most records one checkpoint covers: its leaves take 8 bytes each, so its
/// payload stays under 513 KiB, within the logs' default payload limit
/// ([`crate::DEFAULT_MAX_PAYLOAD`], 1 MiB, as JetStream's). A longer run
/// since the last checkpoint (a gateway appends none of its own) is
/// covered by several checkpoints in a row, each following the one before.
pub const MAX_CHECKPOINT_LEAVES: usize = 65_536;

/// Append checkpoints covering everything up to the current head: one, or
/// more in a row when more than [`MAX_CHECKPOINT_LEAVES`] records are new
/// (the last is returned). `None` when nothing is new since the last
/// checkpoint. A concurrent checkpointer makes this fail with
/// [`LogError::Conflict`] (or, when it covered the same records, answer
/// with its checkpoint: the commit is the same, see [`checkpoint_msg_id`]).
pub async fn checkpoint<L: EventLog>(
    log: &L,
    prefix: &str,
) -> Result<Option<CheckpointInfo>, LogError> {
    let chk = Subject::checkpoint(prefix)?;
    let mut last = log.subject_version(&chk).await?;
    let (mut prev_upto, mut root) = if last == 0 {
        (0, ZERO)
    } else {
        let r = read_one(log, last).await?;
        match decode_checkpoint(&r).map_err(|detail| LogError::Corrupt { seq: last, detail })? {
            CheckpointPayload::V1 { upto, root, .. } => (upto, root),
        }
    };
    let head = log.head().await?;
    if head == prev_upto || (head == last && last == prev_upto + 1) {
        return Ok(None);
    }
    let mut covered = None;
    let mut leaves = Vec::with_capacity(((head - prev_upto) as usize).min(MAX_CHECKPOINT_LEAVES));
    let mut s = log.read_hashed(prev_upto + 1, head);
    let mut next = prev_upto + 1;
    // A checkpoint is not a fact about the council: it takes the latest
    // recorded time it covers, so it never moves the log's recorded-time
    // order forward (a later historical import stays possible, and as-of
    // queries by time are unaffected).
    let mut recorded_at = i64::MIN;
    while let Some(r) = s.next().await {
        let r = r?;
        if r.seq != next {
            return Err(LogError::Gap {
                expected: next,
                got: r.seq,
            });
        }
        recorded_at = recorded_at.max(r.recorded_at);
        leaves.push(short(&r.leaf));
        root = chain_next(&root, &r.leaf);
        next += 1;
        if leaves.len() == MAX_CHECKPOINT_LEAVES || r.seq == head {
            let info = append_checkpoint(
                log,
                prefix,
                &chk,
                last,
                CheckpointPayload::V1 {
                    prev_upto,
                    upto: r.seq,
                    root,
                    leaves: std::mem::take(&mut leaves),
                },
                recorded_at,
            )
            .await?;
            (last, prev_upto, recorded_at) = (info.seq, r.seq, i64::MIN);
            covered = Some(info);
        }
    }
    if next != head + 1 {
        return Err(LogError::Gap {
            expected: next,
            got: 0,
        });
    }
    Ok(covered)
}

/// Append one checkpoint stating `payload`, after the checkpoint at `last`
/// (0: the first).
async fn append_checkpoint<L: EventLog>(
    log: &L,
    prefix: &str,
    chk: &Subject,
    last: Seq,
    payload: CheckpointPayload,
    recorded_at: i64,
) -> Result<CheckpointInfo, LogError> {
    let CheckpointPayload::V1 { upto, root, .. } = payload;
    let bytes = postcard::to_stdvec(&payload).map_err(|e| LogError::Corrupt {
        seq: upto,
        detail: format!("cannot encode checkpoint: {e}"),
    })?;
    let a = log
        .append(Commit {
            subject: chk.clone(),
            expected: if last == 0 {
                Expected::Empty
            } else {
                Expected::At(last)
            },
            msg_id: checkpoint_msg_id(prefix, last, upto, &root),
            recorded_at,
            payload: bytes.into(),
        })
        .await?;
    Ok(CheckpointInfo {
        seq: a.seq,
        upto,
        root,
    })
}

/// The hash chain checked record by record, as a reader meets them: one
/// implementation for [`verify`] and for the read model's catch-up and
/// rebuild, which stop at the first record that fails it instead of
/// projecting it.
///
/// A checkpoint record vouches for the records it covers; their leaves are
/// compared when it is met, so a reader that must not act on a bad record
/// holds records until [`ChainCheck::push`] reports the checkpoint covering
/// them (records after the last checkpoint are not yet protected by any).
/// Cost: one SHA-256 of each record and one of each chain step.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    /// Chain root after the last record pushed.
    root: Hash,
    /// Next sequence expected.
    next: Seq,
    /// Upto of the last checkpoint met; None when resumed (not known).
    last_upto: Option<Seq>,
    /// Records before this one were checked by an earlier reader.
    base: Seq,
    /// Chain root after `base`.
    base_root: Hash,
    /// Records after `base` not yet covered by a checkpoint met (their
    /// short leaves, and the newest ones' chain roots: [`pending`]).
    pending: pending::Pending,
}

impl Default for ChainCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainCheck {
    /// A check from the start of the log.
    pub fn new() -> Self {
        ChainCheck {
            root: ZERO,
            next: 1,
            last_upto: Some(0),
            base: 0,
            base_root: ZERO,
            pending: Default::default(),
        }
    }

    /// A check that continues after record `after`, whose chain root is
    /// `root` (records up to `after` were checked before). Checkpoints met
    /// later are checked for the records this check reads; the part of a
    /// checkpoint covering records at or before `after` is not re-checked.
    pub fn resume(after: Seq, root: Hash) -> Self {
        ChainCheck {
            root,
            next: after + 1,
            last_upto: if after == 0 { Some(0) } else { None },
            base: after,
            base_root: root,
            pending: Default::default(),
        }
    }

    /// The chain root after the last record pushed.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The sequence the next record pushed must carry.
    pub fn next(&self) -> Seq {
        self.next
    }

    /// Check the next record. `Ok(Some(checkpoint))` when the record is a
    /// checkpoint that holds: every record up to its `upto` is vouched for.
    /// `Err((seq, problem))` names the first bad sequence (the record
    /// itself, or an earlier one this checkpoint finds altered).
    pub fn push(&mut self, r: &LogRecord) -> Result<Option<CheckpointInfo>, (Seq, Problem)> {
        self.push_hashed(&Hashed::of(r))
    }

    /// [`ChainCheck::push`] of a record already hashed.
    pub fn push_hashed(&mut self, r: &Hashed) -> Result<Option<CheckpointInfo>, (Seq, Problem)> {
        self.advance(r)?;
        self.settle(r)
    }

    /// The sequence check and the chain step (the root then covers `r`).
    fn advance(&mut self, r: &Hashed) -> Result<(), (Seq, Problem)> {
        if r.seq != self.next {
            return Err((
                self.next,
                Problem::Unreadable(format!("sequence {} out of order", r.seq)),
            ));
        }
        self.next += 1;
        self.root = chain_next(&self.root, &r.leaf);
        Ok(())
    }

    /// A checkpoint's checks, then `r` joins the records awaiting one.
    fn settle(&mut self, r: &Hashed) -> Result<Option<CheckpointInfo>, (Seq, Problem)> {
        let mut confirmed = None;
        if r.checkpoint {
            let cp = decode_checkpoint_payload(&r.payload)
                .map_err(|d| (r.seq, Problem::BadCheckpoint(d)))?;
            confirmed = Some(self.check_checkpoint(r.seq, cp)?);
        }
        self.pending.push(r.seq, short(&r.leaf), self.root);
        Ok(confirmed)
    }

    fn check_checkpoint(
        &mut self,
        seq: Seq,
        cp: CheckpointPayload,
    ) -> Result<CheckpointInfo, (Seq, Problem)> {
        let CheckpointPayload::V1 {
            prev_upto,
            upto,
            root: cp_root,
            leaves,
        } = cp;
        let leaf_of = |s: Seq| -> Option<&[u8; LEAF_PREFIX_BYTES]> {
            s.checked_sub(prev_upto + 1)
                .and_then(|i| leaves.get(usize::try_from(i).ok()?))
        };
        // Compare the overlapping leaves first, so a removed or inserted
        // record is named exactly rather than as a misplaced checkpoint.
        if !matches!(self.last_upto, Some(l) if l != prev_upto) {
            for (s, got) in self.pending.leaves() {
                if let Some(want) = leaf_of(s) {
                    if got != want {
                        return Err((s, Problem::LeafMismatch));
                    }
                }
            }
        }
        if let Some(l) = self.last_upto {
            if prev_upto != l || upto < prev_upto || upto >= seq {
                return Err((
                    seq,
                    Problem::BadCheckpoint(format!(
                        "covers ({prev_upto}, {upto}] but the previous checkpoint covered up to {l}"
                    )),
                ));
            }
        } else if upto < prev_upto || upto >= seq {
            return Err((
                seq,
                Problem::BadCheckpoint(format!("covers ({prev_upto}, {upto}] at sequence {seq}")),
            ));
        }
        let covered = upto - prev_upto;
        if leaves.len() as u64 != covered {
            return Err((
                seq,
                Problem::BadCheckpoint(format!("{} leaves for {covered} records", leaves.len())),
            ));
        }
        if covered > 0 {
            let ours = if upto == self.base {
                Some(self.base_root)
            } else {
                self.pending.root_after(upto)
            };
            if ours.is_some_and(|ours| ours != cp_root) {
                return Err((seq, Problem::RootMismatch { upto }));
            }
        }
        self.pending.drop_through(upto);
        self.last_upto = Some(upto);
        Ok(CheckpointInfo {
            seq,
            upto,
            root: cp_root,
        })
    }
}

/// Verify the whole log against its checkpoints.
pub async fn verify<L: EventLog>(log: &L) -> Result<VerifyReport, LogError> {
    verify_with_anchor(log, None).await
}

/// Verify the whole log, and also that the chain root at `anchor.0` equals
/// `anchor.1` (an anchor kept outside the log, e.g. published elsewhere).
pub async fn verify_with_anchor<L: EventLog>(
    log: &L,
    anchor: Option<(Seq, Hash)>,
) -> Result<VerifyReport, LogError> {
    verify_each(log, anchor, |_, _| {}).await
}

/// [`verify_with_anchor`], handing `each` every record the chain accepted,
/// in order, with the chain root after it, in the same pass over the log:
/// up to the first bad record, so the caller discards what it gathered
/// when the report is not ok.
pub async fn verify_each<L: EventLog>(
    log: &L,
    anchor: Option<(Seq, Hash)>,
    mut each: impl FnMut(&Hashed, &Hash) + Send,
) -> Result<VerifyReport, LogError> {
    let head = log.head().await?;
    let mut report = VerifyReport {
        checked: 0,
        last_checkpoint: None,
        uncovered_tail: 0,
        first_bad: None,
    };
    let mut chain = ChainCheck::new();
    let mut last_upto: Seq = 0;
    let mut s = log.read_hashed(1, head);
    let fail = |mut report: VerifyReport, seq: Seq, p: Problem, last_upto: Seq| {
        report.first_bad = Some((seq, p));
        report.uncovered_tail = head.saturating_sub(last_upto);
        Ok(report)
    };
    while let Some(item) = s.next().await {
        let r = match item {
            Ok(r) => r,
            Err(LogError::Gap { expected, got }) => {
                return fail(
                    report,
                    expected,
                    Problem::Unreadable(format!("gap: got {got}")),
                    last_upto,
                )
            }
            Err(LogError::Corrupt { seq, detail }) => {
                return fail(report, seq, Problem::Unreadable(detail), last_upto)
            }
            Err(e) => return Err(e),
        };
        if let Err((bad, p)) = chain.advance(&r) {
            return fail(report, bad, p, last_upto);
        }
        report.checked += 1;
        if let Some((aseq, aroot)) = anchor {
            if aseq == r.seq && aroot != chain.root() {
                return fail(report, r.seq, Problem::AnchorMismatch, last_upto);
            }
        }
        match chain.settle(&r) {
            Ok(Some(cp)) => {
                last_upto = cp.upto;
                report.last_checkpoint = Some(cp);
            }
            Ok(None) => {}
            Err((bad, p)) => {
                // The check compares only the newest leaves: an older
                // altered record shows as a later mismatch or a bad root.
                // Read the covered records again to name the first one.
                if let Some(first) = first_leaf_mismatch(log, &r).await? {
                    if first <= bad {
                        return fail(report, first, Problem::LeafMismatch, last_upto);
                    }
                }
                return fail(report, bad, p, last_upto);
            }
        }
        each(&r, &chain.root());
    }
    if chain.next != head + 1 {
        return fail(
            report,
            chain.next,
            Problem::Unreadable("log ended before its head".into()),
            last_upto,
        );
    }
    if let Some((aseq, _)) = anchor {
        if aseq > head {
            return fail(
                report,
                head + 1,
                Problem::AnchorBeyondHead { head },
                last_upto,
            );
        }
    }
    report.uncovered_tail = head.saturating_sub(last_upto);
    Ok(report)
}

/// When `cp` is a well-formed checkpoint record: the first record it
/// covers (before itself) whose short leaf differs from the one it states,
/// read again from the log.
async fn first_leaf_mismatch<L: EventLog>(log: &L, cp: &Hashed) -> Result<Option<Seq>, LogError> {
    if !cp.checkpoint {
        return Ok(None);
    }
    let Ok(CheckpointPayload::V1 {
        prev_upto,
        upto,
        leaves,
        ..
    }) = decode_checkpoint_payload(&cp.payload)
    else {
        return Ok(None);
    };
    let to = upto.min(cp.seq.saturating_sub(1));
    if to <= prev_upto || leaves.len() as u64 != upto.saturating_sub(prev_upto) {
        return Ok(None);
    }
    let mut s = log.read_hashed(prev_upto + 1, to);
    let mut want = leaves.iter();
    while let Some(item) = s.next().await {
        // An unreadable record was reported by the first read already.
        let Ok(r) = item else { return Ok(None) };
        if want.next() != Some(&short(&r.leaf)) {
            return Ok(Some(r.seq));
        }
    }
    Ok(None)
}

mod pending;
pub use pending::LEAF_WINDOW;
#[cfg(test)]
mod tests;
