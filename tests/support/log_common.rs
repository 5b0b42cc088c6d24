//! Shared helpers of the log test suites (included with `#[path]`).
#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};
use perfledger_log::{
    async_nats, embedded, memory, AnyLog, Commit, EventLog, Expected, LogConfig, LogRecord, Seq,
    Subject, Until,
};
use perfledger_testkit::NatsServer;
use uuid::Uuid;

pub const PREFIX: &str = "pl";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Embedded,
    JetStream,
    /// JetStream on the modern server from `$NATS_SERVER_ATOMIC` (≥ 2.12):
    /// `append_batch` is one atomic batch.
    JetStreamAtomic,
    /// The in-memory log (`perfledger_log::memory`).
    Memory,
}

impl Kind {
    /// Start the nats-server this backend runs on (none for the embedded log).
    pub fn start_server(self) -> Option<NatsServer> {
        match self {
            Kind::Embedded | Kind::Memory => None,
            Kind::JetStream => Some(NatsServer::start()),
            Kind::JetStreamAtomic => Some(NatsServer::start_atomic()),
        }
    }
}

/// One backend under test plus what it needs to restart.
pub struct Harness {
    pub kind: Kind,
    pub dir: tempfile::TempDir,
    pub server: Option<NatsServer>,
    log: Option<AnyLog>,
}

pub fn config(kind: Kind, dir: &std::path::Path, server: Option<&NatsServer>) -> LogConfig {
    let mut c = LogConfig::embedded(dir.join("log"));
    if kind == Kind::JetStream || kind == Kind::JetStreamAtomic {
        c.nats_url = Some(server.expect("server").url());
    }
    c.max_batch = 100;
    c
}

/// The in-memory log with the limits of `cfg`, holding `records`.
fn memory_log(cfg: &LogConfig, records: Vec<LogRecord>) -> AnyLog {
    let opts = memory::MemoryOptions {
        max_payload: cfg.max_payload,
        max_batch: cfg.max_batch,
    };
    AnyLog::Memory(memory::MemoryLog::from_records(records, opts).expect("memory log"))
}

impl Harness {
    pub async fn new(kind: Kind) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = kind.start_server();
        let cfg = config(kind, dir.path(), server.as_ref());
        let log = match kind {
            Kind::Memory => memory_log(&cfg, Vec::new()),
            _ => AnyLog::open(&cfg).await.expect("open log"),
        };
        Harness {
            kind,
            dir,
            server,
            log: Some(log),
        }
    }

    pub fn log(&self) -> &AnyLog {
        self.log.as_ref().expect("log open")
    }

    pub fn cfg(&self) -> LogConfig {
        config(self.kind, self.dir.path(), self.server.as_ref())
    }

    /// Close and reopen (embedded: the directory; JetStream: restart the
    /// server on the same store, then reconnect; memory: a new handle on
    /// the same store).
    pub async fn restart(&mut self) {
        if let Some(AnyLog::Memory(m)) = self.log.take() {
            self.log = Some(AnyLog::Memory(m.clone()));
            return;
        }
        if let Some(s) = self.server.as_mut() {
            s.restart();
        }
        self.log = Some(AnyLog::open(&self.cfg()).await.expect("reopen log"));
    }

    /// Replace the log's contents with `f(records)`, renumbered 1.. (a
    /// deliberate tamperer keeps sequences and CRCs consistent). Embedded:
    /// rewrite the file on disk. JetStream: a doctored copy in a fresh server.
    pub async fn tamper(&mut self, f: impl FnOnce(Vec<LogRecord>) -> Vec<LogRecord>) {
        let records = read_all(self.log()).await;
        let mut doctored = f(records);
        for (i, r) in doctored.iter_mut().enumerate() {
            r.seq = i as Seq + 1;
        }
        match self.kind {
            Kind::Memory => {
                self.log = Some(memory_log(&self.cfg(), doctored));
            }
            Kind::Embedded => {
                self.log = None;
                let dir = self.dir.path().join("log");
                embedded::write_raw(&dir, &doctored).expect("write doctored log");
                self.log = Some(AnyLog::open(&self.cfg()).await.expect("reopen log"));
            }
            Kind::JetStream | Kind::JetStreamAtomic => {
                self.log = None;
                self.server = self.kind.start_server();
                let log = AnyLog::open(&self.cfg()).await.expect("open copy");
                for r in doctored {
                    log.append(Commit {
                        subject: r.subject,
                        expected: Expected::Any,
                        msg_id: r.msg_id,
                        recorded_at: r.recorded_at,
                        payload: r.payload,
                    })
                    .await
                    .expect("copy record");
                }
                self.log = Some(log);
            }
        }
    }
}

pub fn subj(n: u128) -> Subject {
    Subject::entity(PREFIX, "t1", "indicator", Uuid::from_u128(n + 1)).expect("subject")
}

pub fn commit(s: &Subject, expected: Expected, id: u128, at: i64, payload: &str) -> Commit {
    Commit {
        subject: s.clone(),
        expected,
        msg_id: Uuid::from_u128(0xABCD_0000_0000_0000_0000_0000_0000_0000 | id),
        recorded_at: at,
        payload: Bytes::copy_from_slice(payload.as_bytes()),
    }
}

pub async fn read_range<L: EventLog>(log: &L, from: Seq, until: Until) -> Vec<LogRecord> {
    let mut s = log.read(from, until);
    let mut out = Vec::new();
    while let Some(r) = s.next().await {
        out.push(r.expect("read record"));
    }
    out
}

pub async fn read_all<L: EventLog>(log: &L) -> Vec<LogRecord> {
    read_range(log, 1, Until::Head).await
}

/// Append `n` records round-robin over `entities` entities, each with the
/// right expected version. Returns the seqs.
pub async fn fill<L: EventLog>(log: &L, n: u128, entities: u128, id_base: u128) -> Vec<Seq> {
    let mut out = Vec::new();
    for i in 0..n {
        let s = subj(i % entities);
        let v = log.subject_version(&s).await.expect("version");
        let e = if v == 0 {
            Expected::Empty
        } else {
            Expected::At(v)
        };
        let a = log
            .append(commit(
                &s,
                e,
                id_base + i,
                1_000 + i as i64,
                &format!("rec {i}"),
            ))
            .await
            .expect("append");
        out.push(a.seq);
    }
    out
}

/// Bound for things that must happen "soon" (a guard against hangs, not a
/// performance assertion).
pub const HANG_GUARD: Duration = Duration::from_secs(30);

/// The log on a fresh cluster's 3-replica stream, with `timeout` for each
/// ack or API reply. Right after the meta leader is elected, stream creation
/// can still be refused while peers catch up: retry, bounded (20 s).
pub async fn open_r3(client: &async_nats::Client, timeout: Duration) -> JetStreamLog {
    for _ in 0..100 {
        if let Ok(l) = JetStreamLog::with_client(
            client.clone(),
            JetStreamOptions {
                replicas: 3,
                timeout,
                ..Default::default()
            },
        )
        .await
        {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no R3 stream on the cluster");
}
