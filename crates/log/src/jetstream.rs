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
//! this off. Then a batch is one ADR-50 atomic batch:
//!
//! * every message carries `Nats-Batch-Id` (a fresh UUID, 32 chars) and
//!   `Nats-Batch-Sequence` (1-based), plus the usual `Nats-Msg-Id`,
//!   [`RECORDED_AT_HEADER`] and expectations; all but the last are plain
//!   publishes (no reply); the last adds `Nats-Batch-Commit: 1` and is a
//!   request answered by one PubAck carrying the last sequence, `batch` (the
//!   id) and `count`. The records land on consecutive sequences
//!   `seq - count + 1 ..= seq`, which is what `append_batch` returns;
//! * the server checks expectations at commit, against the stream as it was
//!   before the batch, and stores all or nothing. It accepts
//!   `Nats-Expected-Last-Subject-Sequence` only on the first write to a
//!   subject in the batch; a later write to the same subject expecting
//!   `At(v)` (the sequence of the previous in-batch write) pins the stream
//!   head, sent as `Nats-Expected-Last-Sequence` on the first message (a
//!   concurrent append elsewhere then fails the batch as a conflict on that
//!   subject). Expectations no batch can meet fail before sending;
//! * a refusal ("wrong last sequence", which names no subject) is mapped to
//!   [`LogError::Conflict`] on the first commit whose expectation is stale
//!   against its subject's current version;
//! * `Nats-Msg-Id` is allowed, but a batch holding an id already stored
//!   (within the duplicate window) is refused whole (error 10201) instead of
//!   being answered as a duplicate. If the very same batch is stored (a retry
//!   after a lost ack) the original sequences are returned as duplicates;
//!   otherwise the stale expectation is reported as a conflict, or without
//!   expectations an error. Ids of a refused batch are not remembered;
//! * the server limits a batch to 1000 messages:
//!   [`SERVER_ATOMIC_BATCH_LIMIT`] caps [`JetStreamLog::max_batch`], and a
//!   longer batch is [`LogError::BatchTooLarge`] naming the limit (never
//!   split: split bulk work with [`EventLog::append_pipelined`]);
//! * a batch the server dropped before the commit (error 10176 "incomplete",
//!   e.g. more than 50 batches in flight on the stream) is
//!   [`LogError::Unavailable`]: nothing stored, retry.
//!
//! Otherwise (older servers) `append_batch` is [`EventLog::append_pipelined`]
//! after the limit checks: in order, stopping at the first failure, the
//! acknowledged prefix stored, resumable with the same msg ids.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{pull, DeliverPolicy},
    context::{
        ContextBuilder, GetStreamErrorKind, PublishAckFuture, PublishError, PublishErrorKind,
    },
    message::PublishMessage,
    stream::{
        self, DiscardPolicy, LastRawMessageErrorKind, RawMessageErrorKind, RetentionPolicy,
        StorageType,
    },
    ErrorCode,
};
use futures::StreamExt;
use uuid::Uuid;

use crate::{
    check_commit, Appended, BatchProgress, Capabilities, Commit, EventLog, Expected, LogError,
    LogRecord, RecordStream, Seq, Subject, Until, DEFAULT_MAX_BATCH, DEFAULT_MAX_PAYLOAD,
};

/// Header carrying `recorded_at` (ms since the epoch, decimal).
pub const RECORDED_AT_HEADER: &str = "Pl-Recorded-At";
/// Header carrying the dedupe id.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// Largest atomic batch a nats-server accepts by default (ADR-50). An
/// `append_batch` above it (or above [`JetStreamOptions::max_batch`], if
/// lower) is refused with [`LogError::BatchTooLarge`] naming the limit.
pub const SERVER_ATOMIC_BATCH_LIMIT: usize = 1000;

/// Longest time [`EventLog::read_subject`] waits for its ephemeral consumer
/// to be created before reading by message gets instead (see
/// [`JetStreamLog::read_subject_by_gets`]). A creation normally takes a few
/// milliseconds.
const CONSUMER_CREATE_DEADLINE: Duration = Duration::from_secs(1);
/// After a consumer creation failed or missed its deadline, `read_subject`
/// reads by message gets only, for this long, then tries consumers again.
const CONSUMER_PAUSE: Duration = Duration::from_secs(30);

// ADR-50 headers of atomic batch publish.
const BATCH_ID_HEADER: &str = "Nats-Batch-Id";
const BATCH_SEQ_HEADER: &str = "Nats-Batch-Sequence";
const BATCH_COMMIT_HEADER: &str = "Nats-Batch-Commit";
const EXPECTED_LAST_SUBJECT_SEQ_HEADER: &str = "Nats-Expected-Last-Subject-Sequence";
const EXPECTED_LAST_SEQ_HEADER: &str = "Nats-Expected-Last-Sequence";
/// "atomic publish batch contains duplicate message id".
const ERR_BATCH_DUPLICATE_MSG_ID: ErrorCode = ErrorCode(10201);
/// "atomic publish batch is incomplete": the server dropped the batch (e.g.
/// 50 batches already in flight on the stream, or a message lost).
const ERR_BATCH_INCOMPLETE: ErrorCode = ErrorCode(10176);
/// "atomic publish batch is too large: {limit}".
const ERR_BATCH_TOO_LARGE: ErrorCode = ErrorCode(10199);

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
    /// Until when `read_subject` avoids ephemeral consumers (after one could
    /// not be created in time).
    consumers_paused_until: std::sync::Mutex<Option<std::time::Instant>>,
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

/// Is this publish error a "wrong last subject sequence" (10071; 10163/10164 on
/// clustered servers ≥ 2.11)?
fn is_wrong_last_seq(e: &PublishError) -> bool {
    if e.kind() == PublishErrorKind::WrongLastSequence {
        return true;
    }
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(js) = s.downcast_ref::<jetstream::Error>() {
            let c = js.error_code();
            return c == ErrorCode(10071) || c == ErrorCode(10163) || c == ErrorCode(10164);
        }
        src = s.source();
    }
    false
}

/// Does this server version (`INFO.version`, e.g. `2.15.1`) implement atomic
/// batch publish (ADR-50, 2.12 and later)?
pub fn server_supports_atomic(version: &str) -> bool {
    let mut parts = version.trim_start_matches('v').split('.').map(|p| {
        p.chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse::<u64>()
            .unwrap_or(0)
    });
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (2, 12)
}

/// The JetStream API error behind a publish error, if any.
fn js_error(e: &PublishError) -> Option<&jetstream::Error> {
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(js) = s.downcast_ref::<jetstream::Error>() {
            return Some(js);
        }
        src = s.source();
    }
    None
}

fn js_code(e: &PublishError) -> Option<ErrorCode> {
    js_error(e).map(|j| j.error_code())
}

/// How one atomic batch states its expectations (see `append_atomic`).
struct AtomicPlan {
    /// `Nats-Expected-Last-Subject-Sequence` per commit (first write to its
    /// subject inside the batch only).
    subject_seq: Vec<Option<Seq>>,
    /// `Nats-Expected-Last-Sequence` on the first message: the stream head
    /// implied by chained expectations (a later write to a subject already
    /// written in the batch).
    head: Option<Seq>,
    /// Index of the first chained commit with an expectation.
    chained: Option<usize>,
}

/// Problems that make an existing stream unsafe as the source of truth.
pub fn unsafe_settings(cfg: &stream::Config, prefix: &str, replicas: usize) -> Vec<String> {
    let mut p = Vec::new();
    if cfg.storage != StorageType::File {
        p.push("memory storage (records lost on restart)".to_string());
    }
    if !cfg.deny_delete {
        p.push("deny_delete is off (records can be deleted)".into());
    }
    if !cfg.deny_purge {
        p.push("deny_purge is off (the stream can be purged)".into());
    }
    if cfg.max_messages > 0 {
        p.push(format!("max_msgs = {} discards records", cfg.max_messages));
    }
    if cfg.max_bytes > 0 {
        p.push(format!("max_bytes = {} discards records", cfg.max_bytes));
    }
    if cfg.max_messages_per_subject > 0 {
        p.push(format!(
            "max_msgs_per_subject = {} discards records",
            cfg.max_messages_per_subject
        ));
    }
    if !cfg.max_age.is_zero() {
        p.push(format!("max_age = {:?} expires records", cfg.max_age));
    }
    if cfg.discard == DiscardPolicy::Old && (cfg.max_messages > 0 || cfg.max_bytes > 0) {
        p.push("discard policy old with limits deletes the oldest records".into());
    }
    if cfg.retention != RetentionPolicy::Limits {
        p.push(format!(
            "retention {:?} removes consumed records",
            cfg.retention
        ));
    }
    if cfg.allow_rollup {
        p.push("allow_rollup_hdrs lets a message purge a subject".into());
    }
    if cfg.allow_message_ttl {
        p.push("allow_msg_ttl lets messages expire".into());
    }
    if cfg.sealed {
        p.push("stream is sealed (read-only)".into());
    }
    if cfg.num_replicas < replicas {
        p.push(format!(
            "{} replicas where {replicas} are configured",
            cfg.num_replicas
        ));
    }
    let all = format!("{prefix}.>");
    let captures = |want: &str| {
        cfg.subjects
            .iter()
            .any(|s| s == want || *s == all || s == ">")
    };
    for want in [format!("{prefix}.ev.>"), format!("{prefix}.chk")] {
        if !captures(&want) {
            p.push(format!("subjects {:?} do not capture {want}", cfg.subjects));
        }
    }
    p
}

impl JetStreamLog {
    /// Connect and create (or check) the stream.
    pub async fn connect(opts: JetStreamOptions) -> Result<Self, LogError> {
        if opts.stream.is_empty()
            || opts
                .stream
                .chars()
                .any(|c| c == '.' || c == '*' || c == '>' || c.is_whitespace())
        {
            return Err(LogError::Config(format!(
                "invalid stream name {:?}",
                opts.stream
            )));
        }
        Subject::checkpoint(&opts.prefix)?;
        let client = async_nats::ConnectOptions::new()
            .name("perfledger-log")
            .connect(opts.url.as_str())
            .await
            .map_err(|e| LogError::Unavailable(format!("connect to {}: {e}", opts.url)))?;
        Self::with_client(client, opts).await
    }

    /// Use an existing client connection.
    pub async fn with_client(
        client: async_nats::Client,
        opts: JetStreamOptions,
    ) -> Result<Self, LogError> {
        let ctx = ContextBuilder::new()
            .timeout(opts.timeout)
            .max_ack_inflight(opts.pipeline_window.max(1) * 2)
            .backpressure_on_inflight(true)
            .build(client.clone());
        // Ask for `allow_atomic` only where the server can honour it (older
        // servers silently drop the field; the read-back below decides).
        let want_atomic =
            opts.atomic_batch && server_supports_atomic(&client.server_info().version);
        let stream = match ctx.get_stream(&opts.stream).await {
            Ok(s) => {
                let info = s.get_info().await.map_err(|e| nats("stream info", e))?;
                let problems = unsafe_settings(&info.config, &opts.prefix, opts.replicas);
                if !problems.is_empty() {
                    return Err(LogError::UnsafeStream {
                        stream: opts.stream.clone(),
                        problem: problems.join("; "),
                    });
                }
                if want_atomic && !info.config.allow_atomic_publish {
                    // Enabling atomic batches weakens nothing; without the
                    // permission to update, stay non-atomic.
                    let mut cfg = info.config.clone();
                    cfg.allow_atomic_publish = true;
                    if let Err(e) = ctx.update_stream(cfg).await {
                        tracing::warn!(
                            stream = %opts.stream,
                            error = %e,
                            "could not enable allow_atomic; append_batch stays non-atomic"
                        );
                    }
                    ctx.get_stream(&opts.stream)
                        .await
                        .map_err(|e| nats("get stream", e))?
                } else {
                    s
                }
            }
            Err(e) => {
                let not_found = matches!(e.kind(), GetStreamErrorKind::JetStream(j)
                    if j.error_code() == ErrorCode::STREAM_NOT_FOUND);
                if !not_found {
                    return Err(nats("get stream", e));
                }
                let cfg = stream::Config {
                    name: opts.stream.clone(),
                    // Only events and checkpoints: `{prefix}.cmd.>` and
                    // `{prefix}.q.>` are request/reply subjects of the
                    // gateway and must never be captured by the stream.
                    subjects: vec![
                        format!("{}.ev.>", opts.prefix),
                        format!("{}.chk", opts.prefix),
                    ],
                    storage: StorageType::File,
                    retention: RetentionPolicy::Limits,
                    discard: DiscardPolicy::New,
                    max_bytes: -1,
                    max_messages: -1,
                    max_messages_per_subject: -1,
                    max_consumers: -1,
                    deny_delete: true,
                    deny_purge: true,
                    allow_direct: true,
                    duplicate_window: opts.duplicate_window,
                    num_replicas: opts.replicas.max(1),
                    description: Some("perfledger event log".into()),
                    allow_atomic_publish: want_atomic,
                    ..Default::default()
                };
                ctx.create_stream(cfg)
                    .await
                    .map_err(|e| nats("create stream", e))?;
                ctx.get_stream(&opts.stream)
                    .await
                    .map_err(|e| nats("get stream", e))?
            }
        };
        // Read back: the stream's own config is the only proof the server
        // will treat batch headers atomically (2.9.x drops the field).
        let server_atomic = opts.atomic_batch && stream.cached_info().config.allow_atomic_publish;
        Ok(JetStreamLog {
            s: std::sync::Arc::new(Shared {
                client,
                ctx,
                stream,
                opts,
                server_atomic,
                consumers_paused_until: std::sync::Mutex::new(None),
            }),
        })
    }

    /// The underlying client (for tests and tools).
    pub fn client(&self) -> &async_nats::Client {
        &self.s.client
    }

    /// The JetStream context (for tests and tools).
    pub fn context(&self) -> &jetstream::Context {
        &self.s.ctx
    }

    /// Whether the stream's config, as read back from the server, has
    /// `allow_atomic` (server ≥ 2.12) and atomic batches are enabled in the
    /// options; then [`Capabilities::atomic_batch`] is true and `append_batch`
    /// publishes one ADR-50 atomic batch.
    pub fn server_allows_atomic(&self) -> bool {
        self.s.server_atomic
    }

    fn message(c: &Commit) -> PublishMessage {
        let p = PublishMessage::build()
            .payload(c.payload.clone())
            .message_id(c.msg_id.hyphenated().to_string())
            .header(RECORDED_AT_NAME, c.recorded_at.to_string());
        match c.expected {
            Expected::Any => p,
            Expected::Empty => p.expected_last_subject_sequence(0),
            Expected::At(v) => p.expected_last_subject_sequence(v),
        }
    }

    async fn send(&self, c: &Commit) -> Result<PublishAckFuture, LogError> {
        check_commit(c, self.s.opts.max_payload)?;
        self.s
            .ctx
            .send_publish(c.subject.as_str().to_string(), Self::message(c))
            .await
            .map_err(|e| nats("publish", e))
    }

    async fn finish(&self, c: &Commit, fut: PublishAckFuture) -> Result<Appended, LogError> {
        match fut.await {
            Ok(ack) => Ok(Appended {
                seq: ack.sequence,
                duplicate: ack.duplicate,
            }),
            Err(e) if is_wrong_last_seq(&e) => {
                if let Some(seq) = self.stored_after_expected(c).await {
                    return Ok(Appended {
                        seq,
                        duplicate: true,
                    });
                }
                let current = self.subject_version(&c.subject).await?;
                Err(LogError::Conflict {
                    subject: c.subject.clone(),
                    expected: c.expected,
                    current,
                })
            }
            Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => Err(LogError::TooLarge {
                len: c.payload.len(),
                max: self.s.opts.max_payload,
            }),
            Err(e) => Err(nats("publish ack", e)),
        }
    }

    /// A retried commit whose expectation is now stale: servers ≥ 2.12 check
    /// the expectation before the msg id, so the retry is refused instead of
    /// acknowledged as a duplicate (2.9 does the reverse). If it was stored,
    /// it is the subject's first record after the version it expected: answer
    /// with that sequence, as a duplicate.
    async fn stored_after_expected(&self, c: &Commit) -> Option<Seq> {
        let after = match c.expected {
            Expected::Any => return None,
            Expected::Empty => 0,
            Expected::At(v) => v,
        };
        let m = self
            .s
            .stream
            .direct_get_next_for_subject(c.subject.as_str(), Some(after + 1))
            .await
            .ok()?;
        let id = m
            .headers
            .get(MSG_ID_NAME)
            .and_then(|v| Uuid::try_parse(v.as_str()).ok())?;
        (id == c.msg_id && m.subject.as_str() == c.subject.as_str()).then_some(m.sequence)
    }

    fn decode(msg: &async_nats::Message, seq: Seq) -> Result<LogRecord, LogError> {
        Self::decode_parts(
            msg.subject.as_str(),
            msg.headers.as_ref(),
            &msg.payload,
            seq,
        )
    }

    fn decode_parts(
        subject: &str,
        headers: Option<&async_nats::HeaderMap>,
        payload: &bytes::Bytes,
        seq: Seq,
    ) -> Result<LogRecord, LogError> {
        let corrupt = |detail: String| LogError::Corrupt { seq, detail };
        let subject = Subject::parse(subject).map_err(|e| corrupt(e.to_string()))?;
        let headers = headers.ok_or_else(|| corrupt("message has no headers".into()))?;
        let msg_id = headers
            .get(MSG_ID_NAME)
            .and_then(|v| Uuid::try_parse(v.as_str()).ok())
            .ok_or_else(|| corrupt(format!("missing or invalid {MSG_ID_HEADER}")))?;
        let recorded_at = headers
            .get(RECORDED_AT_NAME)
            .and_then(|v| v.as_str().parse::<i64>().ok())
            .ok_or_else(|| corrupt(format!("missing or invalid {RECORDED_AT_HEADER}")))?;
        Ok(LogRecord {
            seq,
            subject,
            msg_id,
            recorded_at,
            payload: payload.clone(),
        })
    }

    /// One ordered consumer from `from` (filtered on `filter`), or `None`
    /// if it is not created within `deadline`.
    async fn ordered_consumer(
        &self,
        from: Seq,
        filter: Option<&Subject>,
        deadline: Duration,
    ) -> Result<Option<pull::Ordered>, LogError> {
        let cfg = pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: from.max(1),
            },
            filter_subject: filter.map(|s| s.as_str().to_string()).unwrap_or_default(),
            ..Default::default()
        };
        let create = async {
            let consumer = self
                .s
                .stream
                .create_consumer(cfg)
                .await
                .map_err(|e| nats("create ordered consumer", e))?;
            consumer
                .messages()
                .await
                .map_err(|e| nats("ordered consumer messages", e))
        };
        match tokio::time::timeout(deadline, create).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// An ordered consumer for a stream read. A creation not answered within
    /// [`CONSUMER_CREATE_DEADLINE`] is abandoned and tried again (the meta
    /// leader places each one anew) with twice the deadline, up to
    /// [`JetStreamOptions::timeout`] in all: on a cluster, a consumer placed
    /// on a peer that is down or still recovering is never created (see
    /// [`JetStreamLog::read_subject_by_gets`]), while one that is merely slow
    /// gets the longer deadline next time.
    async fn consumer_stream(
        &self,
        from: Seq,
        filter: Option<&Subject>,
    ) -> Result<pull::Ordered, LogError> {
        let budget = self.s.opts.timeout;
        let start = std::time::Instant::now();
        let mut attempt_deadline = CONSUMER_CREATE_DEADLINE;
        loop {
            let left = budget.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(nats(
                    "create ordered consumer",
                    format!("not created within {budget:?}"),
                ));
            }
            let deadline = attempt_deadline.min(left);
            attempt_deadline *= 2;
            if let Some(msgs) = self.ordered_consumer(from, filter, deadline).await? {
                return Ok(msgs);
            }
            tracing::debug!(
                from,
                ?deadline,
                "ordered consumer not created in time; again"
            );
        }
    }

    fn consumers_paused(&self) -> bool {
        let until = self
            .s
            .consumers_paused_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        until.is_some_and(|t| std::time::Instant::now() < t)
    }

    fn pause_consumers(&self, subject: &Subject, why: &str) {
        tracing::warn!(
            %subject,
            reason = why,
            pause = ?CONSUMER_PAUSE,
            "ephemeral consumer for a subject read failed; reading subjects by message gets"
        );
        *self
            .s
            .consumers_paused_until
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now() + CONSUMER_PAUSE);
    }

    /// The records of `read_subject` from its consumer, up to `last`.
    async fn read_subject_from(
        mut msgs: pull::Ordered,
        last: Seq,
    ) -> Result<Vec<LogRecord>, LogError> {
        let mut out = Vec::new();
        let mut prev = 0;
        while let Some(m) = msgs.next().await {
            let m = m.map_err(|e| nats("read subject", e))?;
            let seq = m
                .info()
                .map_err(|e| nats("read message info", e))?
                .stream_sequence;
            if seq <= prev {
                return Err(LogError::Gap {
                    expected: prev + 1,
                    got: seq,
                });
            }
            prev = seq;
            out.push(Self::decode(&m.message, seq)?);
            if seq >= last {
                break;
            }
        }
        Ok(out)
    }

    /// The records of `subject` up to `last`, in order, by stream-leader
    /// message gets (`STREAM.MSG.GET` with `next_by_subj`, one request per
    /// record): slower than a consumer for long histories, but no consumer.
    ///
    /// Why it exists: an ephemeral consumer is created through the meta
    /// leader, which places it (R1) on one of the stream's peers. When a
    /// peer is killed (SIGKILL, power loss), nats-server 2.9 keeps placing
    /// consumers on it until it notices the peer is gone (minutes), and those
    /// creations are never answered: about one subject read in three then
    /// hung until the caller's timeout (commands took 60-120 s to get
    /// through after a node failure instead of about 1 s).
    async fn read_subject_by_gets(
        &self,
        subject: &Subject,
        last: Seq,
    ) -> Result<Vec<LogRecord>, LogError> {
        let mut out = Vec::new();
        let mut next: Seq = 1;
        while next <= last {
            let m = match self
                .s
                .stream
                .get_first_raw_message_by_subject(subject.as_str(), next)
                .await
            {
                Ok(m) => m,
                // Records are never deleted (deny_delete): the subject's
                // records up to `last` must all be there.
                Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => {
                    return Err(nats(
                        "read subject",
                        format!("no record of {subject} from {next} on, but its version is {last}"),
                    ))
                }
                Err(e) => return Err(nats("read subject", e)),
            };
            if m.sequence < next || m.sequence > last {
                return Err(LogError::Gap {
                    expected: next,
                    got: m.sequence,
                });
            }
            out.push(Self::decode_parts(
                m.subject.as_str(),
                Some(&m.headers),
                &m.payload,
                m.sequence,
            )?);
            next = m.sequence + 1;
        }
        Ok(out)
    }

    fn stream_range(&self, from: Seq, until: Option<Until>) -> RecordStream {
        enum Stop {
            Never,
            Seq(Seq),
            Time(Seq, i64),
        }
        struct St {
            log: JetStreamLog,
            next: Seq,
            until: Option<Until>,
            stop: Stop,
            msgs: Option<pull::Ordered>,
            done: bool,
        }
        let st = St {
            log: self.clone(),
            next: from.max(1),
            until,
            stop: Stop::Never,
            msgs: None,
            done: false,
        };
        futures::stream::unfold(st, |mut st| async move {
            if st.done {
                return None;
            }
            if st.msgs.is_none() {
                if let Some(u) = st.until {
                    let head = match st.log.head().await {
                        Ok(h) => h,
                        Err(e) => {
                            st.done = true;
                            return Some((Err(e), st));
                        }
                    };
                    st.stop = match u {
                        Until::Head => Stop::Seq(head),
                        Until::Seq(s) => Stop::Seq(s.min(head)),
                        Until::RecordedAt(t) => Stop::Time(head, t),
                    };
                    let last = match st.stop {
                        Stop::Seq(s) | Stop::Time(s, _) => s,
                        Stop::Never => Seq::MAX,
                    };
                    if st.next > last {
                        return None;
                    }
                }
                match st.log.consumer_stream(st.next, None).await {
                    Ok(m) => st.msgs = Some(m),
                    Err(e) => {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                }
            }
            let msgs = st.msgs.as_mut()?;
            let item = match msgs.next().await {
                None => {
                    st.done = true;
                    return Some((
                        Err(LogError::Unavailable("ordered consumer ended".into())),
                        st,
                    ));
                }
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(nats("read", e)), st));
                }
                Some(Ok(m)) => m,
            };
            let got = match item.info() {
                Ok(i) => i.stream_sequence,
                Err(e) => {
                    st.done = true;
                    return Some((Err(nats("read message info", e)), st));
                }
            };
            if got != st.next {
                st.done = true;
                let expected = st.next;
                return Some((Err(LogError::Gap { expected, got }), st));
            }
            let rec = match Self::decode(&item.message, got) {
                Ok(r) => r,
                Err(e) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
            };
            st.next += 1;
            match st.stop {
                Stop::Never => {}
                Stop::Seq(last) => {
                    if got >= last {
                        st.done = true;
                    }
                }
                Stop::Time(last, t) => {
                    if rec.recorded_at > t {
                        return None;
                    }
                    if got >= last {
                        st.done = true;
                    }
                }
            }
            Some((Ok(rec), st))
        })
        .boxed()
    }
}

/// Atomic batch publish (ADR-50).
impl JetStreamLog {
    /// Largest `append_batch` this log accepts: [`JetStreamOptions::max_batch`],
    /// capped at [`SERVER_ATOMIC_BATCH_LIMIT`] when batches are atomic.
    pub fn max_batch(&self) -> usize {
        if self.s.server_atomic {
            self.s.opts.max_batch.min(SERVER_ATOMIC_BATCH_LIMIT)
        } else {
            self.s.opts.max_batch
        }
    }

    /// Map each commit's expectation onto batch headers. The server checks
    /// `Nats-Expected-Last-Subject-Sequence` only on the first write to a
    /// subject inside a batch (against the stream as it was before the batch)
    /// and refuses it on later writes to the same subject. A later write's
    /// `Expected::At(v)` names the sequence of the previous in-batch write to
    /// its subject; as a batch lands on consecutive sequences, that pins the
    /// stream head, checked with `Nats-Expected-Last-Sequence` on the first
    /// message. Expectations no batch can satisfy fail here, before sending.
    async fn plan_atomic(&self, commits: &[Commit]) -> Result<AtomicPlan, LogError> {
        let mut last_at: std::collections::HashMap<&str, usize> =
            std::collections::HashMap::with_capacity(commits.len());
        let mut plan = AtomicPlan {
            subject_seq: vec![None; commits.len()],
            head: None,
            chained: None,
        };
        for (j, c) in commits.iter().enumerate() {
            match last_at.insert(c.subject.as_str(), j) {
                None => {
                    plan.subject_seq[j] = match c.expected {
                        Expected::Any => None,
                        Expected::Empty => Some(0),
                        Expected::At(v) => Some(v),
                    }
                }
                Some(i) => {
                    let implied = match c.expected {
                        Expected::Any => continue,
                        Expected::Empty | Expected::At(0) => None,
                        // In-batch write i lands at head + 1 + i.
                        Expected::At(v) => (v as usize > i).then(|| v - 1 - i as Seq),
                    };
                    plan.chained.get_or_insert(j);
                    match (implied, plan.head) {
                        (Some(h), None) => plan.head = Some(h),
                        (Some(h), Some(prev)) if h == prev => {}
                        _ => {
                            return Err(LogError::Conflict {
                                subject: c.subject.clone(),
                                expected: c.expected,
                                current: self.subject_version(&c.subject).await?,
                            })
                        }
                    }
                }
            }
        }
        Ok(plan)
    }

    /// Name the commit that made the server refuse the batch: the first whose
    /// expectation is stale against the subject's current version; else the
    /// first chained commit (the stream head moved).
    async fn attribute_conflict(
        &self,
        commits: &[Commit],
        plan: &AtomicPlan,
    ) -> Result<Option<LogError>, LogError> {
        for (c, first) in commits.iter().zip(&plan.subject_seq) {
            if first.is_none() {
                continue;
            }
            let current = self.subject_version(&c.subject).await?;
            if !crate::expected_ok(c.expected, current) {
                return Ok(Some(LogError::Conflict {
                    subject: c.subject.clone(),
                    expected: c.expected,
                    current,
                }));
            }
        }
        if let Some(j) = plan.chained {
            let c = &commits[j];
            return Ok(Some(LogError::Conflict {
                subject: c.subject.clone(),
                expected: c.expected,
                current: self.subject_version(&c.subject).await?,
            }));
        }
        Ok(None)
    }

    /// After "batch contains duplicate message id": if this very batch is
    /// already stored (a retry after a lost commit ack), answer with its
    /// sequences as duplicates, like a retried single append.
    async fn stored_as_batch(&self, commits: &[Commit]) -> Result<Option<Vec<Appended>>, LogError> {
        let n = commits.len() as Seq;
        let Some(last) = commits.last() else {
            return Ok(None);
        };
        let end = self.subject_version(&last.subject).await?;
        if end < n {
            return Ok(None);
        }
        let first = end + 1 - n;
        for (i, c) in commits.iter().enumerate() {
            let m = match self.s.stream.get_raw_message(first + i as Seq).await {
                Ok(m) => m,
                Err(_) => return Ok(None),
            };
            let same_id = m
                .headers
                .get(MSG_ID_NAME)
                .and_then(|v| Uuid::try_parse(v.as_str()).ok())
                == Some(c.msg_id);
            if !same_id || m.subject.as_str() != c.subject.as_str() {
                return Ok(None);
            }
        }
        Ok(Some(
            (0..n)
                .map(|i| Appended {
                    seq: first + i,
                    duplicate: true,
                })
                .collect(),
        ))
    }

    /// One ADR-50 atomic batch: every message carries `Nats-Batch-Id` and
    /// `Nats-Batch-Sequence` (1-based); all but the last are plain publishes
    /// (no reply wanted), the last adds `Nats-Batch-Commit: 1` and is a
    /// request answered by a PubAck with the last sequence, `batch` and
    /// `count`. The server stores all or nothing.
    async fn append_atomic(&self, commits: Vec<Commit>) -> Result<Vec<Appended>, LogError> {
        let n = commits.len();
        if n > SERVER_ATOMIC_BATCH_LIMIT {
            return Err(LogError::BatchTooLarge {
                len: n,
                max: SERVER_ATOMIC_BATCH_LIMIT,
            });
        }
        let plan = self.plan_atomic(&commits).await?;
        let batch_id = Uuid::new_v4().simple().to_string();
        let mut commit_ack = None;
        for (i, c) in commits.iter().enumerate() {
            let mut h = async_nats::HeaderMap::new();
            h.insert(BATCH_ID_HEADER, batch_id.as_str());
            h.insert(BATCH_SEQ_HEADER, (i + 1).to_string());
            h.insert(MSG_ID_NAME, c.msg_id.hyphenated().to_string());
            h.insert(RECORDED_AT_NAME, c.recorded_at.to_string());
            if let Some(v) = plan.subject_seq[i] {
                h.insert(EXPECTED_LAST_SUBJECT_SEQ_HEADER, v.to_string());
            }
            if i == 0 {
                if let Some(head) = plan.head {
                    h.insert(EXPECTED_LAST_SEQ_HEADER, head.to_string());
                }
            }
            let subject = c.subject.as_str().to_string();
            if i + 1 < n {
                self.s
                    .client
                    .publish_with_headers(subject, h, c.payload.clone())
                    .await
                    .map_err(|e| nats("atomic batch publish", e))?;
            } else {
                h.insert(BATCH_COMMIT_HEADER, "1");
                let msg = PublishMessage::build()
                    .payload(c.payload.clone())
                    .headers(h);
                commit_ack = Some(
                    self.s
                        .ctx
                        .send_publish(subject, msg)
                        .await
                        .map_err(|e| nats("atomic batch commit", e))?,
                );
            }
        }
        let Some(fut) = commit_ack else {
            return Ok(Vec::new());
        };
        match fut.await {
            Ok(ack) => {
                if ack.batch_id.as_deref() != Some(batch_id.as_str())
                    || ack.batch_size != Some(n as u64)
                    || ack.sequence < n as Seq
                {
                    return Err(nats(
                        "atomic batch commit",
                        format!(
                            "ack does not match batch {batch_id} of {n}: batch {:?}, count {:?}, seq {}",
                            ack.batch_id, ack.batch_size, ack.sequence
                        ),
                    ));
                }
                let first = ack.sequence + 1 - n as Seq;
                Ok((0..n as Seq)
                    .map(|i| Appended {
                        seq: first + i,
                        duplicate: false,
                    })
                    .collect())
            }
            Err(e) if is_wrong_last_seq(&e) => {
                match self.attribute_conflict(&commits, &plan).await? {
                    Some(conflict) => Err(conflict),
                    None => Err(nats("atomic batch commit", e)),
                }
            }
            Err(e) if js_code(&e) == Some(ERR_BATCH_DUPLICATE_MSG_ID) => {
                if let Some(dups) = self.stored_as_batch(&commits).await? {
                    return Ok(dups);
                }
                if let Some(conflict) = self.attribute_conflict(&commits, &plan).await? {
                    return Err(conflict);
                }
                Err(nats(
                    "atomic batch commit",
                    format!(
                        "{e}: a msg id of this batch is already stored (within the duplicate \
                         window) but not as this same batch; nothing was stored"
                    ),
                ))
            }
            Err(e) if js_code(&e) == Some(ERR_BATCH_TOO_LARGE) => {
                let max = js_error(&e)
                    .and_then(|j| {
                        j.to_string()
                            .rsplit(':')
                            .next()
                            .and_then(|t| t.trim().parse().ok())
                    })
                    .unwrap_or(SERVER_ATOMIC_BATCH_LIMIT);
                Err(LogError::BatchTooLarge { len: n, max })
            }
            Err(e) if js_code(&e) == Some(ERR_BATCH_INCOMPLETE) => {
                Err(LogError::Unavailable(format!(
                    "atomic batch of {n} not accepted ({e}; the server holds at most 50 \
                     batches in flight per stream); nothing was stored, retry"
                )))
            }
            Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => {
                let len = commits.iter().map(|c| c.payload.len()).max().unwrap_or(0);
                Err(LogError::TooLarge {
                    len,
                    max: self.s.opts.max_payload,
                })
            }
            Err(e) => Err(nats("atomic batch commit", e)),
        }
    }
}

impl EventLog for JetStreamLog {
    async fn append(&self, commit: Commit) -> Result<Appended, LogError> {
        let fut = self.send(&commit).await?;
        self.finish(&commit, fut).await
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
        if self.s.server_atomic && commits.len() > 1 {
            // One commit is atomic anyway: the plain path keeps its dedupe
            // answer (original sequence, `duplicate`).
            return self.append_atomic(commits).await;
        }
        self.append_pipelined(commits).await.into_result()
    }

    async fn append_pipelined(&self, commits: Vec<Commit>) -> BatchProgress {
        let window = self.s.opts.pipeline_window.max(1);
        let mut appended = Vec::with_capacity(commits.len());
        let mut pending: VecDeque<(usize, PublishAckFuture)> = VecDeque::with_capacity(window);
        let mut error = None;
        for (i, c) in commits.iter().enumerate() {
            while pending.len() >= window {
                if let Some((j, fut)) = pending.pop_front() {
                    match self.finish(&commits[j], fut).await {
                        Ok(a) => appended.push(a),
                        Err(e) => {
                            return BatchProgress {
                                appended,
                                error: Some(e),
                            }
                        }
                    }
                }
            }
            match self.send(c).await {
                Ok(f) => pending.push_back((i, f)),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        while let Some((j, fut)) = pending.pop_front() {
            match self.finish(&commits[j], fut).await {
                Ok(a) => appended.push(a),
                Err(e) => {
                    return BatchProgress {
                        appended,
                        error: Some(e),
                    }
                }
            }
        }
        BatchProgress { appended, error }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            atomic_batch: self.s.server_atomic,
            max_batch: self.max_batch(),
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

    async fn subject_version(&self, subject: &Subject) -> Result<Seq, LogError> {
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
        let last = self.subject_version(subject).await?;
        if last == 0 {
            return Ok(Vec::new());
        }
        if !self.consumers_paused() {
            let deadline = CONSUMER_CREATE_DEADLINE.min(self.s.opts.timeout);
            match self.ordered_consumer(1, Some(subject), deadline).await {
                Ok(Some(msgs)) => return Self::read_subject_from(msgs, last).await,
                Ok(None) => {
                    self.pause_consumers(subject, &format!("not created within {deadline:?}"))
                }
                Err(e) => self.pause_consumers(subject, &e.to_string()),
            }
        }
        self.read_subject_by_gets(subject, last).await
    }

    fn read(&self, from: Seq, until: Until) -> RecordStream {
        self.stream_range(from, Some(until))
    }

    fn tail(&self, from: Seq) -> RecordStream {
        self.stream_range(from, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(i: u128) -> Commit {
        Commit {
            subject: Subject::entity("pl", "t", "k", Uuid::from_u128(i % 3 + 1)).unwrap(),
            expected: Expected::Any,
            msg_id: Uuid::from_u128(i + 1),
            recorded_at: i as i64,
            payload: bytes::Bytes::from(format!("payload {i}")),
        }
    }

    /// The message-get path of `read_subject` (used while consumers are
    /// paused) returns the same records as the consumer path.
    #[tokio::test]
    async fn read_subject_by_gets_matches_the_consumer_read() {
        let server = perfledger_testkit::NatsServer::start();
        let log = JetStreamLog::connect(JetStreamOptions {
            url: server.url(),
            ..Default::default()
        })
        .await
        .unwrap();
        let commits: Vec<_> = (0..30).map(commit).collect();
        log.append_pipelined(commits).await.into_result().unwrap();
        for e in 1..=4u128 {
            let s = Subject::entity("pl", "t", "k", Uuid::from_u128(e)).unwrap();
            let by_consumer = log.read_subject(&s).await.unwrap();
            let last = log.subject_version(&s).await.unwrap();
            let by_gets = log.read_subject_by_gets(&s, last).await.unwrap();
            assert_eq!(by_gets, by_consumer, "{s}");
            assert_eq!(by_gets.len(), if e == 4 { 0 } else { 10 });
            assert!(by_gets.windows(2).all(|w| w[0].seq < w[1].seq));
            assert!(by_gets.iter().all(|r| r.subject == s));
        }
        // While consumers are paused, read_subject reads by gets.
        let s = Subject::entity("pl", "t", "k", Uuid::from_u128(2)).unwrap();
        log.pause_consumers(&s, "test");
        assert!(log.consumers_paused());
        assert_eq!(log.read_subject(&s).await.unwrap().len(), 10);
    }
}
