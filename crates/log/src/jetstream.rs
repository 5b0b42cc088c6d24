//! The NATS JetStream backend (production).
//!
//! One stream (file storage, `deny_delete`, `deny_purge`, no discarding
//! limits, a duplicate window) capturing `{prefix}.ev.>` and `{prefix}.chk`
//! (not `{prefix}.cmd.>`/`{prefix}.q.>`, the gateway's request subjects). One record = one
//! message on `{prefix}.ev.{tenant}.{kind}.{entity}`; its stream sequence is
//! the record's sequence. Headers: `Nats-Msg-Id` (dedupe),
//! `Nats-Expected-Last-Subject-Sequence` (optimistic concurrency) and
//! [`RECORDED_AT_HEADER`].

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{pull, DeliverPolicy},
    context::{
        ContextBuilder, GetStreamErrorKind, PublishAckFuture, PublishError, PublishErrorKind,
    },
    message::PublishMessage,
    stream::{self, DiscardPolicy, LastRawMessageErrorKind, RetentionPolicy, StorageType},
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
                s
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
        let server_atomic = stream.cached_info().config.allow_atomic_publish;
        Ok(JetStreamLog {
            s: std::sync::Arc::new(Shared {
                client,
                ctx,
                stream,
                opts,
                server_atomic,
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

    /// Whether the stream reports `allow_atomic` (server ≥ 2.12). Atomic batch
    /// publish is not used yet: see [`Capabilities`].
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

    fn decode(msg: &async_nats::Message, seq: Seq) -> Result<LogRecord, LogError> {
        let corrupt = |detail: String| LogError::Corrupt { seq, detail };
        let subject = Subject::parse(msg.subject.as_str()).map_err(|e| corrupt(e.to_string()))?;
        let headers = msg
            .headers
            .as_ref()
            .ok_or_else(|| corrupt("message has no headers".into()))?;
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
            payload: msg.payload.clone(),
        })
    }

    async fn consumer_stream(
        &self,
        from: Seq,
        filter: Option<&Subject>,
    ) -> Result<pull::Ordered, LogError> {
        let cfg = pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: from.max(1),
            },
            filter_subject: filter.map(|s| s.as_str().to_string()).unwrap_or_default(),
            ..Default::default()
        };
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
            atomic_batch: false,
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

    async fn read_subject(&self, subject: &Subject) -> Result<Vec<LogRecord>, LogError> {
        let last = self.subject_version(subject).await?;
        let mut out = Vec::new();
        if last == 0 {
            return Ok(out);
        }
        let mut msgs = self.consumer_stream(1, Some(subject)).await?;
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

    fn read(&self, from: Seq, until: Until) -> RecordStream {
        self.stream_range(from, Some(until))
    }

    fn tail(&self, from: Seq) -> RecordStream {
        self.stream_range(from, None)
    }
}
