//! The perfledger event log.
//!
//! One interface ([`EventLog`]) with two backends: NATS JetStream
//! (production) and an embedded log in one local directory (the zero-setup
//! default), plus an in-memory log for tests ([`MemoryLog`]). All give the
//! same semantics, proven by one conformance suite:
//! gapless sequences, atomic commits, optimistic concurrency per subject,
//! dedupe by message id, durable when acknowledged.
//!
//! A *record* is one commit: the events one command produced for one entity,
//! encoded by the caller into one opaque payload. The log never decodes
//! payloads; integrity ([`integrity`]) hashes them as bytes.
//!
//! # Choosing a backend
//!
//! [`LogConfig`] selects the backend: with `nats_url` set, [`JetStreamLog`];
//! without, [`EmbeddedLog`] in `dir`. [`LogConfig::from_env`] reads the URL
//! from the environment variable `PERFLEDGER_NATS_URL` ([`NATS_URL_ENV`]);
//! unset or empty means the embedded log. [`AnyLog::open`] opens either.
//!
//! # Bulk appends
//!
//! [`EventLog::append_batch`] is all-or-nothing where
//! [`Capabilities::atomic_batch`] is true:
//!
//! | backend | `append_batch` | limit |
//! |---|---|---|
//! | embedded | atomic: one frame, one fsync | `max_batch` |
//! | JetStream, nats-server ≥ 2.12 (stream read back with `allow_atomic`) | atomic: one ADR-50 batch, consecutive sequences | `max_batch`, at most 1000 ([`jetstream::SERVER_ATOMIC_BATCH_LIMIT`]) |
//! | JetStream, older servers (e.g. Debian's 2.9) | pipelined, in order, stops at the first failure; resumable with the same msg ids | `max_batch` |
//!
//! Atomic or not, a conflict is [`LogError::Conflict`] naming the subject and
//! its current version; where atomic, nothing of the batch is stored. A single
//! [`EventLog::append`] is always atomic. For bulk work use
//! [`EventLog::append_pipelined`] (never atomic across commits), which reports
//! the acknowledged prefix.
//!
//! Dedupe: a re-sent commit (same msg id) answers with its original sequence
//! and `duplicate`. For an atomic JetStream batch this holds when the whole
//! batch is re-sent after it was stored (a lost commit ack); a batch mixing
//! stored and new msg ids is refused whole (JetStream refuses duplicate ids
//! inside atomic batches) — as a [`LogError::Conflict`] when a stale
//! expectation explains it, which is the usual case: the ledger's commits
//! carry expectations, and it recognises re-sent commands by the command id
//! in every event envelope.

#![forbid(unsafe_code)]

use std::fmt;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use uuid::Uuid;

mod any;
pub mod embedded;
pub mod integrity;
pub mod jetstream;
pub mod memory;
pub mod subject;

pub use any::{AnyLog, LogConfig, NATS_URL_ENV};
pub use embedded::EmbeddedLog;
pub use jetstream::JetStreamLog;
pub use memory::MemoryLog;
pub use subject::Subject;

/// Re-export of the NATS client this crate is built on (for tests and tools).
pub use async_nats;

/// Largest payload accepted by default (1 MiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
/// Largest `append_batch` accepted by default.
pub const DEFAULT_MAX_BATCH: usize = 10_000;

/// Position of a record in the log: 1-based, gapless, assigned by the log.
pub type Seq = u64;

/// Milliseconds since the Unix epoch, UTC.
pub type RecordedAt = i64;

/// What the appender believes the subject's current version is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// No check (used only for log-level records such as checkpoints when the
    /// caller serialises them itself).
    Any,
    /// The subject must have no records yet.
    Empty,
    /// The subject's last record must be at exactly this sequence.
    At(Seq),
}

/// One commit to append: one subject, one payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub subject: Subject,
    pub expected: Expected,
    /// Dedupe id (`Nats-Msg-Id` on JetStream). Re-sending the same id returns
    /// the original sequence and stores nothing.
    pub msg_id: Uuid,
    pub recorded_at: RecordedAt,
    pub payload: Bytes,
}

/// The log's answer to one appended commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub seq: Seq,
    /// True when the msg id had been seen: nothing new was stored.
    pub duplicate: bool,
}

/// A stored record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub seq: Seq,
    pub subject: Subject,
    pub msg_id: Uuid,
    pub recorded_at: RecordedAt,
    pub payload: Bytes,
}

/// Where a read stops (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The last sequence at the moment the read starts.
    Head,
    /// Up to and including this sequence (or the head, if lower).
    Seq(Seq),
    /// The longest prefix whose records all have `recorded_at <= t`.
    RecordedAt(RecordedAt),
}

/// Outcome of [`EventLog::append_pipelined`]: the acknowledged prefix and,
/// if it stopped early, why. Commits after `appended.len()` may or may not
/// be stored; re-sending them (same msg ids) is safe.
#[derive(Debug)]
pub struct BatchProgress {
    pub appended: Vec<Appended>,
    pub error: Option<LogError>,
}

impl BatchProgress {
    /// All appended, or the error.
    pub fn into_result(self) -> Result<Vec<Appended>, LogError> {
        match self.error {
            None => Ok(self.appended),
            Some(e) => Err(e),
        }
    }
}

/// What a backend can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// `append_batch` is all-or-nothing across subjects.
    pub atomic_batch: bool,
    /// The most commits one `append_batch` accepts.
    pub max_batch: usize,
    /// How long after a record is stored the log still answers a re-sent
    /// msg id as a duplicate (JetStream's duplicate window). `ZERO` promises
    /// nothing: the ledger then checks every command id against its own
    /// index, caught up to the head, before appending.
    pub dedupe_window: std::time::Duration,
    /// [`EventLog::subject_version`] is answered by the store itself (a
    /// read in this process, or a direct get from a stream's only replica),
    /// not queued behind other requests at a leader: cheap enough that the
    /// ledger asks once per command rather than making concurrent commands
    /// share (and wait for) one request (`perfledger-ledger`'s
    /// `calendar_check`).
    pub direct_versions: bool,
}

/// Errors from the log. Each carries enough context to act on.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("version conflict on {subject}: expected {expected:?}, current version is {current}")]
    Conflict {
        subject: Subject,
        expected: Expected,
        /// The subject's current version (0 = no records).
        current: Seq,
    },
    #[error("sequence gap or disorder: expected sequence {expected}, got {got}")]
    Gap { expected: Seq, got: Seq },
    #[error("corrupt record at sequence {seq}: {detail}")]
    Corrupt { seq: Seq, detail: String },
    #[error("invalid subject {value:?}: {reason}")]
    InvalidSubject { value: String, reason: &'static str },
    #[error("existing stream {stream} has unsafe settings: {problem}")]
    UnsafeStream { stream: String, problem: String },
    #[error("payload of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("batch of {len} commits exceeds the limit of {max}")]
    BatchTooLarge { len: usize, max: usize },
    #[error("invalid log configuration: {0}")]
    Config(String),
    #[error("log unavailable: {0}")]
    Unavailable(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("NATS error during {op}: {detail}")]
    Nats { op: &'static str, detail: String },
}

/// A stream of records in sequence order; a gap is an error item, never skipped.
pub type RecordStream = BoxStream<'static, Result<LogRecord, LogError>>;

/// The event log interface, implemented by every backend.
pub trait EventLog: Send + Sync + 'static {
    /// Append one commit atomically, with optimistic concurrency and dedupe.
    fn append(
        &self,
        commit: Commit,
    ) -> impl std::future::Future<Output = Result<Appended, LogError>> + Send;

    /// Append many commits (any subjects), pipelined. All-or-nothing where
    /// [`Capabilities::atomic_batch`]; otherwise in order, stopping at the first
    /// failure, and safe to resume by re-sending the same commits (same msg ids).
    fn append_batch(
        &self,
        commits: Vec<Commit>,
    ) -> impl std::future::Future<Output = Result<Vec<Appended>, LogError>> + Send;

    /// Bulk append of any number of commits, pipelined, never atomic across
    /// commits: returns the acknowledged prefix and the first error, so a
    /// caller can resume from `appended.len()` with the same commits.
    fn append_pipelined(
        &self,
        commits: Vec<Commit>,
    ) -> impl std::future::Future<Output = BatchProgress> + Send;

    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// The last sequence in the log (0 when empty).
    fn head(&self) -> impl std::future::Future<Output = Result<Seq, LogError>> + Send;

    /// The subject's version: the sequence of its last record (0 = none).
    fn subject_version(
        &self,
        subject: &Subject,
    ) -> impl std::future::Future<Output = Result<Seq, LogError>> + Send;

    /// All records of one subject, in order.
    fn read_subject(
        &self,
        subject: &Subject,
    ) -> impl std::future::Future<Output = Result<Vec<LogRecord>, LogError>> + Send;

    /// Records from `from` (inclusive, >= 1) to `until`, in order, gapless.
    fn read(&self, from: Seq, until: Until) -> RecordStream;

    /// Records from `from` on, then new records as they are appended; never ends.
    fn tail(&self, from: Seq) -> RecordStream;

    /// Records `from..=to` (`to` clamped to the head) as the hash chain
    /// reads them ([`integrity::Hashed`]): in order, gapless, with the
    /// errors [`EventLog::read`] gives. The default hashes what `read`
    /// decodes; a backend that can hash a record from its stored bytes,
    /// without decoding it, overrides this (the embedded log does).
    fn read_hashed(&self, from: Seq, to: Seq) -> integrity::HashedStream {
        self.read(from, Until::Seq(to))
            .map(|r| r.map(|r| integrity::Hashed::of(&r)))
            .boxed()
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Any => f.write_str("any"),
            Expected::Empty => f.write_str("empty"),
            Expected::At(s) => write!(f, "{s}"),
        }
    }
}

/// Check one commit against the limits (shared by all backends).
pub(crate) fn check_commit(c: &Commit, max_payload: usize) -> Result<(), LogError> {
    if c.payload.len() > max_payload {
        return Err(LogError::TooLarge {
            len: c.payload.len(),
            max: max_payload,
        });
    }
    Ok(())
}

/// Normalise `Expected::At(0)` to `Expected::Empty` and test it against the
/// subject's current version.
pub(crate) fn expected_ok(expected: Expected, current: Seq) -> bool {
    match expected {
        Expected::Any => true,
        Expected::Empty | Expected::At(0) => current == 0,
        Expected::At(v) => current == v,
    }
}
