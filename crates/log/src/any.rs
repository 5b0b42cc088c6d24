//! Backend chosen by configuration: no NATS URL means the embedded log.

use std::path::PathBuf;
use std::time::Duration;

use crate::embedded::{EmbeddedLog, EmbeddedOptions};
use crate::jetstream::{JetStreamLog, JetStreamOptions};
use crate::memory::MemoryLog;
use crate::{
    Appended, BatchProgress, Capabilities, Commit, EventLog, LogError, LogRecord, RecordStream,
    Seq, Subject, Until, DEFAULT_MAX_BATCH, DEFAULT_MAX_PAYLOAD,
};

/// Environment variable naming the NATS server (e.g. `nats://127.0.0.1:4222`).
/// Unset or empty: the embedded log in [`LogConfig::dir`].
pub const NATS_URL_ENV: &str = "PERFLEDGER_NATS_URL";

/// Where the log lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// JetStream when set; the embedded log in `dir` otherwise.
    pub nats_url: Option<String>,
    /// Directory of the embedded log.
    pub dir: PathBuf,
    /// JetStream stream name (default `PERFLEDGER`).
    pub stream: String,
    /// Subject prefix (default `pl`).
    pub prefix: String,
    /// JetStream replicas (default 1).
    pub replicas: usize,
    /// JetStream duplicate window (default 2 min).
    pub duplicate_window: Duration,
    /// Largest payload (default 1 MiB).
    pub max_payload: usize,
    /// Largest `append_batch` (default 10,000).
    pub max_batch: usize,
}

impl LogConfig {
    /// Defaults with the embedded log in `dir`.
    pub fn embedded(dir: impl Into<PathBuf>) -> Self {
        LogConfig {
            nats_url: None,
            dir: dir.into(),
            stream: "PERFLEDGER".into(),
            prefix: "pl".into(),
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_batch: DEFAULT_MAX_BATCH,
        }
    }

    /// Defaults with JetStream at `url`.
    pub fn jetstream(url: impl Into<String>) -> Self {
        LogConfig {
            nats_url: Some(url.into()),
            ..Self::embedded("perfledger-data")
        }
    }

    /// Defaults, with `nats_url` from [`NATS_URL_ENV`] when set and non-empty.
    pub fn from_env(dir: impl Into<PathBuf>) -> Self {
        let mut c = Self::embedded(dir);
        c.nats_url = std::env::var(NATS_URL_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty());
        c
    }
}

/// Either backend, chosen by [`LogConfig`] (or the in-memory log, which
/// configuration never chooses: tests build it themselves).
#[derive(Debug, Clone)]
pub enum AnyLog {
    Embedded(EmbeddedLog),
    JetStream(JetStreamLog),
    Memory(MemoryLog),
}

impl AnyLog {
    /// Open the configured backend.
    pub async fn open(cfg: &LogConfig) -> Result<Self, LogError> {
        if cfg.max_payload == 0 || cfg.max_batch == 0 {
            return Err(LogError::Config(
                "max_payload and max_batch must be positive".into(),
            ));
        }
        match &cfg.nats_url {
            None => Ok(AnyLog::Embedded(
                EmbeddedLog::open_with(
                    cfg.dir.clone(),
                    EmbeddedOptions {
                        max_payload: cfg.max_payload,
                        max_batch: cfg.max_batch,
                    },
                )
                .await?,
            )),
            Some(url) => Ok(AnyLog::JetStream(
                JetStreamLog::connect(JetStreamOptions {
                    url: url.clone(),
                    stream: cfg.stream.clone(),
                    prefix: cfg.prefix.clone(),
                    replicas: cfg.replicas,
                    duplicate_window: cfg.duplicate_window,
                    max_payload: cfg.max_payload,
                    max_batch: cfg.max_batch,
                    ..JetStreamOptions::default()
                })
                .await?,
            )),
        }
    }
}

macro_rules! each {
    ($self:ident, $l:ident => $e:expr) => {
        match $self {
            AnyLog::Embedded($l) => $e,
            AnyLog::JetStream($l) => $e,
            AnyLog::Memory($l) => $e,
        }
    };
}

impl EventLog for AnyLog {
    async fn append(&self, commit: Commit) -> Result<Appended, LogError> {
        each!(self, l => l.append(commit).await)
    }
    async fn append_batch(&self, commits: Vec<Commit>) -> Result<Vec<Appended>, LogError> {
        each!(self, l => l.append_batch(commits).await)
    }
    async fn append_pipelined(&self, commits: Vec<Commit>) -> BatchProgress {
        each!(self, l => l.append_pipelined(commits).await)
    }
    fn capabilities(&self) -> Capabilities {
        each!(self, l => l.capabilities())
    }
    async fn head(&self) -> Result<Seq, LogError> {
        each!(self, l => l.head().await)
    }
    async fn subject_version(&self, subject: &Subject) -> Result<Seq, LogError> {
        each!(self, l => l.subject_version(subject).await)
    }
    async fn read_subject(&self, subject: &Subject) -> Result<Vec<LogRecord>, LogError> {
        each!(self, l => l.read_subject(subject).await)
    }
    fn read(&self, from: Seq, until: Until) -> RecordStream {
        each!(self, l => l.read(from, until))
    }
    fn tail(&self, from: Seq) -> RecordStream {
        each!(self, l => l.tail(from))
    }
    fn read_hashed(&self, from: Seq, to: Seq) -> crate::integrity::HashedStream {
        each!(self, l => l.read_hashed(from, to))
    }
}
