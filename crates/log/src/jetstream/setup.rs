//! Connecting and the stream set-up.
//!
//! Invariant: the stream is the source of truth, so it must never lose a
//! record. A stream this backend creates has file storage, `deny_delete`,
//! `deny_purge`, no discarding limits, limits retention and captures exactly
//! `{prefix}.ev.>` and `{prefix}.chk`; an existing stream with any setting
//! that could lose or hide records is refused ([`unsafe_settings`]), never
//! "fixed". The only change made to an existing stream is enabling
//! `allow_atomic` (it weakens nothing), and atomic batches are reported only
//! after the stream's config, read back, confirms it.

use async_nats::jetstream::{
    self,
    context::{ContextBuilder, GetStreamErrorKind},
    stream::{self, DiscardPolicy, RetentionPolicy, StorageType},
    ErrorCode,
};

use super::{nats, JetStreamLog, JetStreamOptions, Shared};
use crate::{LogError, Subject};

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
                let cfg = new_stream_config(&opts, want_atomic);
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
        let (queue, grouped) = if server_atomic && opts.group_commit > 1 {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let s = std::sync::Arc::new(Shared {
            client,
            ctx,
            stream,
            opts,
            server_atomic,
            group: queue,
            group_counters: Default::default(),
            consumers_paused_until: std::sync::Mutex::new(None),
            #[cfg(test)]
            fault_consumer_from_start: std::sync::atomic::AtomicBool::new(false),
        });
        if let Some(rx) = grouped {
            super::group::start(&s, rx);
        }
        Ok(JetStreamLog { s })
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
    /// options; then [`Capabilities::atomic_batch`](crate::Capabilities::atomic_batch) is true and `append_batch`
    /// publishes one ADR-50 atomic batch.
    pub fn server_allows_atomic(&self) -> bool {
        self.s.server_atomic
    }
}

/// The configuration of a stream this backend creates: nothing is ever
/// deleted, purged, expired or discarded.
fn new_stream_config(opts: &JetStreamOptions, want_atomic: bool) -> stream::Config {
    stream::Config {
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
    }
}
