//! Group commit on JetStream (issue #12): concurrent commands waiting for
//! the log share one atomic batch, and each gets exactly the answer it would
//! get alone. On the modern server (`$NATS_SERVER_ATOMIC`); a current-thread
//! runtime, so commands polled together by `join_all` queue together.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use perfledger_domain::command::CommandEnvelope;
use perfledger_domain::{Period, Timestamp};
use perfledger_ledger::{FixedClock, Ledger, LedgerError, Submitted};
use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};
use perfledger_log::EventLog;
use perfledger_testkit::{fixtures, NatsServer};

const N: u128 = 8;

fn q(quarter: u8) -> Period {
    Period::Quarter(perfledger_domain::FinancialYear(2016), quarter)
}

fn reference(i: u128) -> String {
    format!("CG/G{i}")
}

fn target(n: u128, i: u128) -> CommandEnvelope {
    fixtures::set_target(n, &reference(i), q(1), "80%")
}

async fn open(server: &NatsServer) -> (JetStreamLog, Ledger<JetStreamLog>) {
    let log = JetStreamLog::connect(JetStreamOptions {
        url: server.url(),
        group_commit: 64,
        ..JetStreamOptions::default()
    })
    .await
    .unwrap();
    assert!(log.server_allows_atomic(), "the modern server is atomic");
    // A calendar checked within the minute is trusted: a command on a kept
    // entity reaches the log without a read first, so a burst queues whole.
    let ledger = Ledger::new(Arc::new(log.clone()), "pl")
        .with_clock(Arc::new(FixedClock(Timestamp(1_470_000_000_000))))
        .with_calendar_staleness(Duration::from_secs(60));
    (log, ledger)
}

/// Indicators 1..=N defined one at a time (indicator i at sequence i), so
/// the ledger keeps each one's state and takes the one-append path.
async fn defined(ledger: &Ledger<JetStreamLog>) {
    for i in 1..=N {
        let done = ledger
            .execute(Submitted::new(fixtures::define(i, &reference(i))))
            .await
            .unwrap();
        assert_eq!(done.seq, i as u64);
    }
}

/// One command of a burst pins a version another writer has moved past: it
/// gets its conflict, the others are stored (in one batch, or alone after
/// the batch was refused), and a repeated command id is answered as the
/// original.
#[tokio::test]
async fn a_conflicting_command_fails_alone_and_the_others_succeed() {
    let server = NatsServer::start_atomic();
    let (log, a) = open(&server).await;
    let (_, b) = open(&server).await;
    defined(&a).await;
    // Another writer moves indicator 3 on: a's kept state is stale.
    b.execute(Submitted::new(fixtures::record(
        50,
        &reference(3),
        q(1),
        "77%",
    )))
    .await
    .unwrap();
    let before = log.group_commit_stats();
    let burst = (1..=N).map(|i| {
        let mut s = Submitted::new(target(100 + i, i));
        if i == 3 {
            // Pinned to the version a read before b's write.
            s.expected = Some(3);
        }
        a.execute(s)
    });
    let answers = join_all(burst).await;
    for (i, answer) in (1..=N).zip(answers) {
        match (i, answer) {
            (
                3,
                Err(LedgerError::Conflict {
                    expected, current, ..
                }),
            ) => assert_eq!((expected, current), (3, 9)),
            (3, other) => panic!("indicator 3 expected its conflict, got {other:?}"),
            (_, answer) => {
                let done = answer.unwrap();
                assert!(!done.duplicate && done.seq > 9, "indicator {i}: {done:?}");
            }
        }
    }
    assert_eq!(a.log().head().await.unwrap(), 9 + N as u64 - 1);
    let after = log.group_commit_stats();
    assert_eq!(
        after.resent,
        before.resent + 1,
        "the batch was refused once"
    );
}

/// Without a conflict the burst is one batch; the same command twice in a
/// burst, and again later, is stored once and answered as a duplicate.
#[tokio::test]
async fn a_repeated_command_id_is_a_duplicate_inside_and_between_batches() {
    let server = NatsServer::start_atomic();
    let (log, a) = open(&server).await;
    defined(&a).await;
    let before = log.group_commit_stats();
    let mut burst: Vec<CommandEnvelope> = (1..=N).map(|i| target(100 + i, i)).collect();
    burst.push(target(101, 1));
    let answers = join_all(burst.into_iter().map(|c| a.execute(Submitted::new(c)))).await;
    let done: Vec<_> = answers.into_iter().map(Result::unwrap).collect();
    let mut seqs: Vec<u64> = done[..N as usize].iter().map(|d| d.seq).collect();
    seqs.sort();
    assert_eq!(seqs, (N as u64 + 1..=2 * N as u64).collect::<Vec<_>>());
    assert!(done[..N as usize].iter().all(|d| !d.duplicate));
    let again = &done[N as usize];
    assert_eq!((again.seq, again.duplicate), (done[0].seq, true));
    let after = log.group_commit_stats();
    assert_eq!(after.batches, before.batches + 1, "{after:?}");
    assert_eq!(after.batched, before.batched + N as u64, "{after:?}");
    // Between batches: the command re-sent later is the original.
    let later = join_all([
        a.execute(Submitted::new(target(102, 2))),
        a.execute(Submitted::new(fixtures::record(
            200,
            &reference(4),
            q(1),
            "71%",
        ))),
    ])
    .await;
    let dup = later[0].as_ref().unwrap();
    assert_eq!((dup.seq, dup.duplicate), (done[1].seq, true));
    assert!(!later[1].as_ref().unwrap().duplicate);
    assert_eq!(a.log().head().await.unwrap(), 2 * N as u64 + 1);
}
