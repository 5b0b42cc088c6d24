//! The server's own rate, single publishes against atomic batches (`--raw`,
//! issue #12's group commit question).
//!
//! Each mode gets a fresh nats-server (durable: `sync_interval: always`;
//! relaxed: the timer fsync) and the
//! same `total` commits, each on its own entity subject, each with a msg id
//! and an expected subject sequence (as the ledger sends them), with
//! `in_flight` commits outstanding at any time: `single` = `in_flight`
//! tasks each awaiting one `append` at a time; `batch B` = `in_flight / B`
//! tasks each awaiting one `append_batch` of B commits (one ADR-50 atomic
//! batch) at a time. `perf stat` counts the server's fsync/fdatasync calls
//! during the timed part, when perf is available.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};
use perfledger_log::{Commit, EventLog, Expected, Subject};
use perfledger_testkit::NatsServer;
use uuid::Uuid;

use crate::workload::nearest_rank;

/// One mode's figures.
pub struct RawRow {
    pub mode: String,
    pub msgs_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// fsync + fdatasync calls by the server during the timed part.
    pub syncs: Option<u64>,
    pub msgs: usize,
}

fn commit(subject: &Subject, version: u64) -> Commit {
    Commit {
        subject: subject.clone(),
        expected: if version == 0 {
            Expected::Empty
        } else {
            Expected::At(version)
        },
        msg_id: Uuid::now_v7(),
        recorded_at: 0,
        // About a RecordResult commit's size.
        payload: vec![7u8; 420].into(),
    }
}

/// Count the server's syncs from now until the returned guard is finished.
struct SyncCounter(Option<std::process::Child>);

impl SyncCounter {
    fn start(pid: Option<u32>) -> Self {
        let child = pid.and_then(|pid| {
            Command::new("perf")
                .args([
                    "stat",
                    "-x,",
                    "-e",
                    "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync",
                    "-p",
                    &pid.to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .ok()
        });
        SyncCounter(child)
    }

    fn finish(self) -> Option<u64> {
        let child = self.0?;
        // SAFETY: plain kill(2) of our own child, not yet reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let out = child.wait_with_output().ok()?;
        let text = String::from_utf8_lossy(&out.stderr);
        let counts: Vec<u64> = text
            .lines()
            .filter(|l| l.contains("sys_enter_f"))
            .filter_map(|l| l.split(',').next()?.trim().parse().ok())
            .collect();
        (counts.len() == 2).then(|| counts.iter().sum())
    }
}

/// One mode on a fresh durable server: `batch` = 1 is single appends.
async fn mode(config: &str, total: usize, in_flight: usize, batch: usize) -> RawRow {
    let server = NatsServer::start_with_config_text(config);
    let client = async_nats::connect(server.url())
        .await
        .expect("connect to the raw bench server");
    // No group commit: `single` is one publish per append.
    let opts = JetStreamOptions {
        group_commit: 1,
        ..JetStreamOptions::default()
    };
    let log = Arc::new(
        JetStreamLog::with_client(client, opts)
            .await
            .expect("open the JetStream log"),
    );
    assert!(
        batch == 1 || log.capabilities().atomic_batch,
        "--raw needs a server with atomic batch publish (>= 2.12)"
    );
    let tasks = (in_flight / batch).max(1);
    let rounds = total / (tasks * batch);
    let barrier = Arc::new(tokio::sync::Barrier::new(tasks + 1));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (log, barrier) = (log.clone(), barrier.clone());
        set.spawn(async move {
            let subjects: Vec<Subject> = (0..batch)
                .map(|_| {
                    Subject::entity("pl", "raw", "indicator", Uuid::now_v7())
                        .expect("a valid subject")
                })
                .collect();
            let mut versions = vec![0u64; batch];
            // One untimed round so the subjects exist.
            let mut lat = Vec::with_capacity(rounds);
            for r in 0..=rounds {
                let commits: Vec<Commit> = subjects
                    .iter()
                    .zip(&versions)
                    .map(|(s, &v)| commit(s, v))
                    .collect();
                if r == 1 {
                    barrier.wait().await;
                }
                let t0 = Instant::now();
                let appended = if batch == 1 {
                    vec![log
                        .append(commits.into_iter().next().expect("one commit"))
                        .await
                        .expect("raw append")]
                } else {
                    log.append_batch(commits).await.expect("raw atomic batch")
                };
                if r > 0 {
                    lat.push(t0.elapsed());
                }
                for (v, a) in versions.iter_mut().zip(appended) {
                    *v = a.seq;
                }
            }
            lat
        });
    }
    let counter = SyncCounter::start(server.pid());
    // perf needs a moment to attach.
    tokio::time::sleep(Duration::from_millis(300)).await;
    barrier.wait().await;
    let start = Instant::now();
    let mut lat = Vec::new();
    while let Some(r) = set.join_next().await {
        lat.extend(r.expect("a raw bench task panicked"));
    }
    let elapsed = start.elapsed();
    let syncs = counter.finish();
    lat.sort();
    let msgs = lat.len() * batch;
    RawRow {
        mode: if batch == 1 {
            format!("single × {tasks}")
        } else {
            format!("batch of {batch} × {tasks}")
        },
        msgs_per_s: msgs as f64 / elapsed.as_secs_f64(),
        p50_ms: nearest_rank(&lat, 0.5).as_secs_f64() * 1e3,
        p99_ms: nearest_rank(&lat, 0.99).as_secs_f64() * 1e3,
        syncs,
        msgs,
    }
}

/// Every mode in one run, one after the other.
pub async fn run(config: &str, total: usize, in_flight: usize, batches: &[usize]) -> Vec<RawRow> {
    let mut rows = Vec::new();
    for &b in std::iter::once(&1).chain(batches) {
        rows.push(mode(config, total, in_flight, b).await);
    }
    rows
}
