//! Atomic batch publish (ADR-50) of the JetStream log against a real
//! nats-server ≥ 2.12 from `$NATS_SERVER_ATOMIC` (a loud panic when it is
//! missing: see `scripts/test`), and the non-atomic default server (2.9).

#[path = "support/log_common.rs"]
mod common;

use common::*;
use perfledger_log::jetstream::{JetStreamOptions, SERVER_ATOMIC_BATCH_LIMIT};
use perfledger_log::{Commit, EventLog, Expected, JetStreamLog, LogError, Seq};
use perfledger_testkit::NatsServer;

async fn open(server: &NatsServer, atomic: bool, max_batch: usize) -> JetStreamLog {
    JetStreamLog::connect(JetStreamOptions {
        url: server.url(),
        atomic_batch: atomic,
        max_batch,
        ..JetStreamOptions::default()
    })
    .await
    .expect("connect")
}

/// The stream config as the server reports it, raw JSON.
async fn raw_stream_config(log: &JetStreamLog) -> serde_json::Value {
    let reply = log
        .client()
        .request("$JS.API.STREAM.INFO.PERFLEDGER", "".into())
        .await
        .expect("stream info");
    let v: serde_json::Value = serde_json::from_slice(&reply.payload).expect("json");
    v["config"].clone()
}

async fn versions(log: &JetStreamLog, n: u128) -> Vec<Seq> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(log.subject_version(&subj(i)).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modern_server_reports_atomic_and_default_server_does_not() {
    let modern = NatsServer::start_atomic();
    let log = open(&modern, true, 100).await;
    let version = log.client().server_info().version;
    assert!(
        perfledger_log::jetstream::server_supports_atomic(&version),
        "$NATS_SERVER_ATOMIC runs nats-server {version}, need >= 2.12"
    );
    assert!(log.capabilities().atomic_batch);
    assert!(log.server_allows_atomic());
    assert_eq!(raw_stream_config(&log).await["allow_atomic"], true);
    assert_eq!(log.max_batch(), 100);

    let old = NatsServer::start();
    let log = open(&old, true, 100).await;
    let version = log.client().server_info().version;
    assert!(!perfledger_log::jetstream::server_supports_atomic(&version));
    assert!(!log.capabilities().atomic_batch);
    assert!(!log.server_allows_atomic());
    assert!(raw_stream_config(&log).await.get("allow_atomic").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_stream_is_upgraded_and_option_turns_it_off() {
    let server = NatsServer::start_atomic();
    {
        let log = open(&server, false, 100).await;
        assert!(!log.capabilities().atomic_batch);
        assert!(raw_stream_config(&log).await.get("allow_atomic").is_none());
    }
    let log = open(&server, true, 100).await;
    assert!(log.capabilities().atomic_batch);
    assert_eq!(raw_stream_config(&log).await["allow_atomic"], true);
    // The upgrade changed nothing else that matters.
    let info = log
        .context()
        .get_stream("PERFLEDGER")
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap();
    assert!(perfledger_log::jetstream::unsafe_settings(&info.config, PREFIX, 1).is_empty());
    // Opting out on a stream that allows atomic: non-atomic behaviour.
    let off = open(&server, false, 100).await;
    assert!(!off.capabilities().atomic_batch);
}

/// 30 entities with one record each (seqs 1..=30), then one more on entity 26
/// (seq 31).
async fn seeded(log: &JetStreamLog) {
    let seed: Vec<Commit> = (0..30u128)
        .map(|i| commit(&subj(i), Expected::Empty, 10_000 + i, 1, "seed"))
        .collect();
    let a = log.append_batch(seed).await.unwrap();
    assert_eq!(
        a.iter().map(|a| a.seq).collect::<Vec<_>>(),
        (1..=30).collect::<Vec<_>>()
    );
    let moved = log
        .append(commit(&subj(26), Expected::At(27), 20_000, 2, "moved"))
        .await
        .unwrap();
    assert_eq!(moved.seq, 31);
}

/// 40 commits over 40 entities; entities 0..30 exist (entity i at i + 1,
/// entity 26 moved on to 31), 30..40 are new. Commit #27 (index 26) states the
/// stale version 27.
fn forty(id_base: u128) -> Vec<Commit> {
    (0..40u128)
        .map(|i| {
            let expected = if i < 30 {
                Expected::At(i as Seq + 1)
            } else {
                Expected::Empty
            };
            commit(&subj(i), expected, id_base + i, 3, &format!("b{i}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_commit_batch_is_all_or_nothing() {
    let server = NatsServer::start_atomic();
    let log = open(&server, true, 100).await;
    seeded(&log).await;
    let before = versions(&log, 40).await;

    let batch = forty(0);
    match log.append_batch(batch.clone()).await {
        Err(LogError::Conflict {
            subject,
            expected,
            current,
        }) => {
            assert_eq!(subject, subj(26));
            assert_eq!(expected, Expected::At(27));
            assert_eq!(current, 31);
        }
        other => panic!("expected Conflict on commit #27, got {other:?}"),
    }
    // Nothing of the batch was stored: head, versions and records unchanged.
    assert_eq!(log.head().await.unwrap(), 31);
    assert_eq!(versions(&log, 40).await, before);
    assert_eq!(read_all(&log).await.len(), 31);

    // Fixed and re-sent with the same ids (a failed batch registers no ids):
    // one batch on consecutive sequences.
    let mut fixed = batch;
    fixed[26].expected = Expected::At(31);
    let a = log.append_batch(fixed.clone()).await.unwrap();
    assert_eq!(
        a.iter().map(|a| a.seq).collect::<Vec<_>>(),
        (32..=71).collect::<Vec<_>>()
    );
    assert!(a.iter().all(|a| !a.duplicate));
    let all = read_all(&log).await;
    assert_eq!(all.len(), 71);
    for (r, c) in all[31..].iter().zip(&fixed) {
        assert_eq!(
            (&r.subject, r.msg_id, r.recorded_at, &r.payload),
            (&c.subject, c.msg_id, c.recorded_at, &c.payload)
        );
    }
    assert_eq!(log.subject_version(&subj(26)).await.unwrap(), 58);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chained_commits_to_one_entity_pin_the_head() {
    let server = NatsServer::start_atomic();
    let log = open(&server, true, 100).await;
    seeded(&log).await;
    // Entity 0 three times and entity 40 once: the later writes to entity 0
    // expect the sequences the earlier in-batch writes land on (32, 33).
    let chained = vec![
        commit(&subj(0), Expected::At(1), 100, 4, "c0"),
        commit(&subj(0), Expected::At(32), 101, 4, "c1"),
        commit(&subj(40), Expected::Empty, 102, 4, "c2"),
        commit(&subj(0), Expected::At(33), 103, 4, "c3"),
    ];
    let a = log.append_batch(chained).await.unwrap();
    assert_eq!(
        a.iter().map(|a| a.seq).collect::<Vec<_>>(),
        vec![32, 33, 34, 35]
    );
    assert_eq!(log.subject_version(&subj(0)).await.unwrap(), 35);

    // The same shape planned against head 35, but another writer moves the
    // head first: the batch is refused whole, naming the chained entity.
    let planned = vec![
        commit(&subj(1), Expected::At(2), 200, 5, "d0"),
        commit(&subj(1), Expected::At(36), 201, 5, "d1"),
    ];
    log.append(commit(&subj(2), Expected::At(3), 202, 5, "other"))
        .await
        .unwrap();
    match log.append_batch(planned).await {
        Err(LogError::Conflict {
            subject, current, ..
        }) => {
            assert_eq!(subject, subj(1));
            assert_eq!(current, 2);
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(log.head().await.unwrap(), 36);

    // Expectations no batch can meet are refused before sending.
    let impossible = vec![
        commit(&subj(3), Expected::At(4), 300, 6, "e0"),
        commit(&subj(3), Expected::Empty, 301, 6, "e1"),
    ];
    match log.append_batch(impossible).await {
        Err(LogError::Conflict {
            subject, current, ..
        }) => assert_eq!((subject, current), (subj(3), 4)),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(log.head().await.unwrap(), 36);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_batch_is_deduplicated_or_refused_whole() {
    let server = NatsServer::start_atomic();
    let log = open(&server, true, 100).await;
    let batch: Vec<Commit> = (0..10u128)
        .map(|i| commit(&subj(i), Expected::Empty, i, 1, "once"))
        .collect();
    let a = log.append_batch(batch.clone()).await.unwrap();
    assert_eq!(a.last().unwrap().seq, 10);
    // A retry of the stored batch (lost ack): the original sequences, as
    // duplicates, nothing stored.
    let again = log.append_batch(batch.clone()).await.unwrap();
    assert!(again.iter().all(|a| a.duplicate));
    assert_eq!(
        again.iter().map(|a| a.seq).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(log.head().await.unwrap(), 10);

    // A batch mixing a stored id with new ones is refused whole: with
    // expectations, as the conflict of the stale one...
    let mixed = vec![
        commit(&subj(20), Expected::Empty, 20, 2, "new"),
        commit(&subj(0), Expected::Empty, 0, 1, "once"),
    ];
    match log.append_batch(mixed).await {
        Err(LogError::Conflict {
            subject, current, ..
        }) => assert_eq!((subject, current), (subj(0), 1)),
        other => panic!("expected Conflict, got {other:?}"),
    }
    // ...without, as the server's duplicate-id refusal.
    let mixed_any = vec![
        commit(&subj(21), Expected::Any, 21, 2, "new"),
        commit(&subj(1), Expected::Any, 1, 1, "once"),
    ];
    match log.append_batch(mixed_any).await {
        Err(LogError::Nats { detail, .. }) => {
            assert!(detail.contains("duplicate"), "{detail}")
        }
        other => panic!("expected the duplicate-id refusal, got {other:?}"),
    }
    assert_eq!(log.head().await.unwrap(), 10);
    assert_eq!(read_all(&log).await.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_limit_is_the_server_limit() {
    let server = NatsServer::start_atomic();
    let log = open(&server, true, 5_000).await;
    assert_eq!(log.max_batch(), SERVER_ATOMIC_BATCH_LIMIT);
    let many = |n: u128, base: u128| -> Vec<Commit> {
        (0..n)
            .map(|i| commit(&subj(base + i), Expected::Empty, base + i, 1, "x"))
            .collect()
    };
    match log.append_batch(many(1001, 0)).await {
        Err(LogError::BatchTooLarge { len: 1001, max }) => {
            assert_eq!(max, SERVER_ATOMIC_BATCH_LIMIT)
        }
        other => panic!("expected BatchTooLarge, got {other:?}"),
    }
    assert_eq!(log.head().await.unwrap(), 0);
    let a = log.append_batch(many(1000, 0)).await.unwrap();
    assert_eq!(a.first().unwrap().seq, 1);
    assert_eq!(a.last().unwrap().seq, 1000);
    // Bulk work beyond the limit goes through append_pipelined, never atomic.
    let p = log.append_pipelined(many(1500, 5_000)).await;
    assert!(p.error.is_none());
    assert_eq!(p.appended.last().unwrap().seq, 2500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_dropped_by_the_server_is_unavailable_and_stores_nothing() {
    let server = NatsServer::start_atomic();
    let log = open(&server, true, 100).await;
    // 50 batches left open on the stream (the server's in-flight limit), sent
    // on the log's own connection so they reach the server first.
    for i in 0..50 {
        let mut h = perfledger_log::async_nats::HeaderMap::new();
        h.insert("Nats-Batch-Id", format!("open-{i}"));
        h.insert("Nats-Batch-Sequence", "1");
        log.client()
            .publish_with_headers(subj(100 + i).as_str().to_string(), h, "open".into())
            .await
            .unwrap();
    }
    let batch: Vec<Commit> = (0..3u128)
        .map(|i| commit(&subj(i), Expected::Empty, i, 1, "x"))
        .collect();
    match log.append_batch(batch).await {
        Err(LogError::Unavailable(detail)) => assert!(detail.contains("nothing was stored")),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(log.head().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_node_cluster_with_three_replicas_is_atomic() {
    let cluster = perfledger_testkit::NatsCluster::start_atomic();
    let client = perfledger_log::async_nats::connect(cluster.nodes[0].url())
        .await
        .unwrap();
    cluster.wait_jetstream(&client).await;
    let log = open_r3(&client, JetStreamOptions::default().timeout).await;
    assert!(log.capabilities().atomic_batch);
    seeded(&log).await;
    match log.append_batch(forty(0)).await {
        Err(LogError::Conflict {
            subject, current, ..
        }) => assert_eq!((subject, current), (subj(26), 31)),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(log.head().await.unwrap(), 31);
    let mut fixed = forty(0);
    fixed[26].expected = Expected::At(31);
    let a = log.append_batch(fixed).await.unwrap();
    assert_eq!(
        a.iter().map(|a| a.seq).collect::<Vec<_>>(),
        (32..=71).collect::<Vec<_>>()
    );
    assert_eq!(read_all(&log).await.len(), 71);
}
