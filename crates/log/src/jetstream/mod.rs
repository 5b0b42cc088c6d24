//! The NATS JetStream backend (production).
//!
//! One stream (file storage, `deny_delete`, `deny_purge`, no discarding
//! limits, a duplicate window) capturing `{prefix}.ev.>` and `{prefix}.chk`
//! (not `{prefix}.cmd.>`/`{prefix}.q.>`, the gateway's request subjects). One record = one
//! message on `{prefix}.ev.{tenant}.{kind}.{entity}`; its stream sequence is
//! the record's sequence. Headers: `Nats-Msg-Id` (dedupe),
//! `Nats-Expected-Last-Subject-Sequence` (optimistic concurrency) and
//! [`RECORDED_AT_HEADER`].
//!
//! # What is atomic
//!
//! Every [`EventLog::append`] (one message) is. (Servers ≥ 2.12 check the
//! expectation before the msg id, so a retried commit whose expectation is
//! now stale is refused rather than acknowledged as a duplicate; `append`
//! then looks at the subject's first record after the expected version and,
//! if it is this commit, answers with its sequence as a duplicate, as 2.9
//! does.) [`EventLog::append_batch`] is
//! atomic only when [`Capabilities::atomic_batch`]: the server is ≥ 2.12, the
//! stream was created (or, if it existed, updated) with `allow_atomic: true`
//! and reading its config back confirmed it (2.9 silently drops the field,
//! so the read-back is the proof); [`JetStreamOptions::atomic_batch`] turns
//! this off. Then a batch is one ADR-50 atomic batch (the rules are in
//! `batch.rs`'s header).
//!
//! Otherwise (older servers) `append_batch` is [`EventLog::append_pipelined`]
//! after the limit checks: in order, stopping at the first failure, the
//! acknowledged prefix stored, resumable with the same msg ids.
//!
//! # Where things are
//!
//! * `setup`: connecting, and creating or checking the stream (a stream with
//!   a setting that could lose records is refused: [`unsafe_settings`]);
//! * `append`: one commit as one message, and pipelined appends;
//! * `batch`: `append_batch` as one ADR-50 atomic batch;
//! * `group`: group commit, concurrent appends gathered into atomic batches
//!   (each answered as if alone);
//! * `read`: subject reads and ordered range reads, gapless or an error;
//!   a subject's version by direct get where the stream's own answer is
//!   certain (one replica; not a mirror's), else from the leader.

use std::time::Duration;

use async_nats::jetstream::{
    self,
    stream::{self, LastRawMessageErrorKind},
};

use crate::{
    check_commit, Appended, BatchProgress, Capabilities, Commit, EventLog, LogError, LogRecord,
    RecordStream, Seq, Subject, Until, DEFAULT_MAX_BATCH, DEFAULT_MAX_PAYLOAD,
};

mod append;
mod batch;
mod group;
mod read;
mod setup;

pub use group::GroupCommitStats;
pub use setup::{server_supports_atomic, unsafe_settings};

/// Header a direct get's answer names its stream in (a mirror with
/// `mirror_direct` answers under its own name).
const STREAM_NAME: async_nats::HeaderName = async_nats::HeaderName::from_static("Nats-Stream");

/// Header carrying `recorded_at` (ms since the epoch, decimal).
pub const RECORDED_AT_HEADER: &str = "Pl-Recorded-At";
/// Header carrying the dedupe id.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// Largest atomic batch a nats-server accepts by default (ADR-50). An
/// `append_batch` above it (or above [`JetStreamOptions::max_batch`], if
/// lower) is refused with [`LogError::BatchTooLarge`] naming the limit.
pub const SERVER_ATOMIC_BATCH_LIMIT: usize = 1000;

// Pre-built header names: no allocation per record read.
const MSG_ID_NAME: async_nats::HeaderName = async_nats::HeaderName::from_static(MSG_ID_HEADER);
const RECORDED_AT_NAME: async_nats::HeaderName =
    async_nats::HeaderName::from_static(RECORDED_AT_HEADER);

/// Options of the JetStream backend.
#[derive(Debug, Clone)]
pub struct JetStreamOptions {
    pub url: String,
    pub stream: String,
    pub prefix: String,
    pub replicas: usize,
    pub duplicate_window: Duration,
    pub max_payload: usize,
    pub max_batch: usize,
    /// Acks in flight during pipelined appends.
    pub pipeline_window: usize,
    /// How long to wait for one ack or API reply.
    pub timeout: Duration,
    /// Use atomic batch publish (ADR-50) for `append_batch` when the server
    /// supports it (default true). When set and the server is ≥ 2.12, the
    /// stream is created (or updated) with `allow_atomic`; the capability is
    /// only reported after reading that setting back.
    pub atomic_batch: bool,
    /// Group commit (`group`): the most concurrent single appends sent as
    /// one atomic batch where batches are atomic. Default 1: off, every
    /// append is its own publish. Only worth trying with `sync_interval:
    /// always` on a disk whose fsync is slow: there a publish costs one
    /// fsync and a committed batch of any size about four, but the server
    /// first stages each batch in a store of its own, and on nats-server
    /// 2.15.1 (R1, this machine) 32 writers measured 0.7–1.4× the
    /// commands per second of single publishes. With the default timer
    /// fsync a batch still costs about three fsyncs where a publish costs
    /// none: far slower (README, "Group commit").
    pub group_commit: usize,
    /// Group commit: groups in flight at once (default 1: the server
    /// stores one batch at a time anyway, and the commits arriving while a
    /// group is in flight make the next, larger group).
    pub group_in_flight: usize,
}

impl Default for JetStreamOptions {
    fn default() -> Self {
        JetStreamOptions {
            url: "nats://127.0.0.1:4222".into(),
            stream: "PERFLEDGER".into(),
            prefix: "pl".into(),
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_batch: DEFAULT_MAX_BATCH,
            pipeline_window: 4096,
            timeout: Duration::from_secs(5),
            atomic_batch: true,
            group_commit: 1,
            group_in_flight: 1,
        }
    }
}

/// The JetStream backend. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct JetStreamLog {
    s: std::sync::Arc<Shared>,
}

struct Shared {
    client: async_nats::Client,
    ctx: jetstream::Context,
    stream: stream::Stream,
    opts: JetStreamOptions,
    server_atomic: bool,
    /// The group commit's queue, when appends are grouped (see `group`).
    group: Option<group::GroupQueue>,
    group_counters: group::Counters,
    /// Until when `read_subject` avoids ephemeral consumers (after one could
    /// not be created in time).
    consumers_paused_until: std::sync::Mutex<Option<std::time::Instant>>,
    /// Test fault: the next ordered consumer starts at the stream's first
    /// record, whatever it was asked for (see `read`).
    #[cfg(test)]
    fault_consumer_from_start: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for JetStreamLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamLog")
            .field("stream", &self.s.opts.stream)
            .field("prefix", &self.s.opts.prefix)
            .finish()
    }
}

fn nats(op: &'static str, e: impl std::fmt::Display) -> LogError {
    LogError::Nats {
        op,
        detail: e.to_string(),
    }
}

impl JetStreamLog {
    /// Whether `subject_version` asks the stream by direct get: on a
    /// single-replica stream that allows them (a replicated stream's
    /// followers also answer direct gets, as soon as they are within 90%
    /// of the leader, so there only the leader's answer will do).
    fn direct_versions(&self) -> bool {
        let config = &self.s.stream.cached_info().config;
        config.num_replicas <= 1 && config.allow_direct
    }
}

impl EventLog for JetStreamLog {
    async fn append(&self, commit: Commit) -> Result<Appended, LogError> {
        match &self.s.group {
            Some(queue) => {
                check_commit(&commit, self.s.opts.max_payload)?;
                self.append_grouped(queue, commit).await
            }
            None => self.append_alone(&commit).await,
        }
    }

    async fn append_batch(&self, commits: Vec<Commit>) -> Result<Vec<Appended>, LogError> {
        if commits.len() > self.s.opts.max_batch {
            return Err(LogError::BatchTooLarge {
                len: commits.len(),
                max: self.s.opts.max_batch,
            });
        }
        for c in &commits {
            check_commit(c, self.s.opts.max_payload)?;
        }
        if let (Some(queue), 1) = (&self.s.group, commits.len()) {
            // One commit: answered as `append` answers it, grouped with
            // concurrent appends.
            let commit = commits.into_iter().next().expect("one commit");
            return Ok(vec![self.append_grouped(queue, commit).await?]);
        }
        if self.s.server_atomic && commits.len() > 1 {
            // One commit is atomic anyway: the plain path keeps its dedupe
            // answer (original sequence, `duplicate`).
            return self.append_atomic(commits).await;
        }
        self.append_pipelined(commits).await.into_result()
    }

    async fn append_pipelined(&self, commits: Vec<Commit>) -> BatchProgress {
        self.pipelined(commits).await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            atomic_batch: self.s.server_atomic,
            max_batch: self.max_batch(),
            // The stream's own setting (read back when it was opened).
            dedupe_window: self.s.stream.cached_info().config.duplicate_window,
            direct_versions: self.direct_versions(),
        }
    }

    async fn head(&self) -> Result<Seq, LogError> {
        let info = self
            .s
            .stream
            .get_info()
            .await
            .map_err(|e| nats("stream info", e))?;
        Ok(info.state.last_sequence)
    }

    /// The subject's last sequence as the stream holds it when asked:
    /// every record acknowledged before the request was sent counts (the
    /// calendar check's invariant rests on it). On a single-replica stream
    /// the direct get (served by the stream itself, raw, beside the JSON
    /// API's queue) is that answer; see `version_by_direct_get`. Otherwise,
    /// or when the direct get cannot be trusted, the leader answers.
    async fn subject_version(&self, subject: &Subject) -> Result<Seq, LogError> {
        if self.direct_versions() {
            if let Some(version) = self.version_by_direct_get(subject).await? {
                return Ok(version);
            }
        }
        match self
            .s
            .stream
            .get_last_raw_message_by_subject(subject.as_str())
            .await
        {
            Ok(m) => Ok(m.sequence),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(0),
            Err(e) => Err(nats("get last message for subject", e)),
        }
    }

    /// Every record of the subject up to its version (the leader's answer
    /// to `subject_version`), in order: through an ephemeral ordered consumer
    /// filtered on the subject, or by stream-leader message gets when that
    /// consumer is not created within 1 s (on a cluster with a dead peer,
    /// nats-server 2.9 can place it there, and then never answers); loads
    /// keep using gets for 30 s after such a miss.
    async fn read_subject(&self, subject: &Subject) -> Result<Vec<LogRecord>, LogError> {
        self.subject_records(subject).await
    }

    fn read(&self, from: Seq, until: Until) -> RecordStream {
        self.stream_range(from, Some(until))
    }

    fn tail(&self, from: Seq) -> RecordStream {
        self.stream_range(from, None)
    }
}
