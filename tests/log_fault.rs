//! Fault test against a real nats-server: SIGKILL in the middle of a
//! pipelined append of 100,000 events, restart on the same port and store,
//! the client reconnects by itself and retries with the same msg ids. Every
//! acknowledged event must be present exactly once.

#[path = "support/log_common.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures::StreamExt;
use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};
use perfledger_log::{Appended, EventLog, Expected, Until};
use perfledger_testkit::NatsServer;

const N: usize = 100_000;
const CHUNK: usize = 5_000;
const KILL_AFTER: usize = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_pipelined_append_loses_nothing_and_stores_nothing_twice() {
    let mut server = NatsServer::start();
    let log = JetStreamLog::connect(JetStreamOptions {
        url: server.url(),
        timeout: Duration::from_secs(2),
        ..Default::default()
    })
    .await
    .expect("connect");
    // One new entity per event, Expected::Empty: a retry that was already
    // stored must come back as a duplicate, not a conflict or a second copy.
    let commits: Vec<_> = (0..N as u128)
        .map(|i| commit(&subj(i), Expected::Empty, i, i as i64, "fault-test-payload"))
        .collect();
    let acked = Arc::new(AtomicUsize::new(0));
    let appender = {
        let log = log.clone();
        let acked = acked.clone();
        tokio::spawn(async move {
            let mut results: Vec<Appended> = Vec::with_capacity(N);
            let mut failures = 0usize;
            for chunk in commits.chunks(CHUNK) {
                let mut done = 0;
                while done < chunk.len() {
                    let p = log.append_pipelined(chunk[done..].to_vec()).await;
                    done += p.appended.len();
                    results.extend(p.appended);
                    acked.store(results.len(), Ordering::SeqCst);
                    if let Some(e) = p.error {
                        failures += 1;
                        assert!(failures < 500, "gave up retrying: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            (results, failures)
        })
    };
    // Poll (bounded) until a good part is acknowledged, then SIGKILL.
    let mut polls = 0;
    while acked.load(Ordering::SeqCst) < KILL_AFTER {
        polls += 1;
        assert!(polls < 6_000, "appender made no progress before the kill");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let acked_at_kill = acked.load(Ordering::SeqCst);
    server.kill();
    server.restart();
    let (results, failures) = appender.await.expect("appender task");
    assert!(acked_at_kill < N, "the kill must land mid-append");
    assert!(failures > 0, "the kill must have interrupted the append");
    assert_eq!(results.len(), N);

    // Every acknowledged event is present exactly once, at its acked sequence.
    assert_eq!(log.head().await.unwrap(), N as u64);
    let mut stream = log.read(1, Until::Head);
    let mut seen = vec![0u8; N];
    let mut next = 1u64;
    while let Some(r) = stream.next().await {
        let r = r.expect("read back");
        assert_eq!(r.seq, next);
        next += 1;
        let i = (r.msg_id.as_u128() & 0xFFFF_FFFF) as usize;
        assert!(i < N, "unknown msg id {}", r.msg_id);
        seen[i] += 1;
        assert_eq!(results[i].seq, r.seq, "event {i} acked at another seq");
    }
    assert_eq!(next, N as u64 + 1);
    assert!(
        seen.iter().all(|&c| c == 1),
        "some event missing or stored twice"
    );
    // The same client reconnected on its own.
    assert!(log.client().statistics().connects.load(Ordering::Relaxed) >= 2);
    assert_eq!(
        log.client().connection_state(),
        perfledger_log::async_nats::connection::State::Connected
    );
}
