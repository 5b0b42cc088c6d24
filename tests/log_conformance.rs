//! One conformance suite for every `EventLog` backend: each body below runs
//! against the embedded log, the in-memory log, against a real nats-server (JetStream, the
//! default 2.9 server: non-atomic batches) and against a nats-server ≥ 2.12
//! from `$NATS_SERVER_ATOMIC` (JetStream with atomic batches).

#[path = "support/log_common.rs"]
mod common;

use common::*;
use futures::StreamExt;
use perfledger_log::integrity::{self, Problem};
use perfledger_log::{EventLog, Expected, LogError, Until};

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Harness::new(super::Kind::Embedded).await).await;
                }
            )*
        }
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Harness::new(super::Kind::Memory).await).await;
                }
            )*
        }
        mod jetstream {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Harness::new(super::Kind::JetStream).await).await;
                }
            )*
        }
        mod jetstream_atomic {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Harness::new(super::Kind::JetStreamAtomic).await).await;
                }
            )*
        }
    };
}

conformance!(
    ordering,
    concurrent_writers,
    dedupe_on_retry,
    read_ranges,
    live_tail,
    positions_readable_at_once,
    durable_across_restart,
    batch_semantics,
    limits,
    verify_clean_and_anchor,
    tamper_altered,
    tamper_removed,
    tamper_reordered,
    tamper_inserted,
);

async fn ordering(h: Harness) {
    let log = h.log();
    assert_eq!(log.head().await.unwrap(), 0);
    let seqs = fill(log, 30, 4, 0).await;
    assert_eq!(seqs, (1..=30).collect::<Vec<_>>());
    let all = read_all(log).await;
    assert_eq!(all.len(), 30);
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.seq, i as u64 + 1);
        assert_eq!(r.subject, subj(i as u128 % 4));
        assert_eq!(r.payload, format!("rec {i}").as_bytes());
        assert_eq!(r.recorded_at, 1_000 + i as i64);
    }
    assert_eq!(log.head().await.unwrap(), 30);
    assert_eq!(log.subject_version(&subj(1)).await.unwrap(), 30);
    assert_eq!(log.subject_version(&subj(9)).await.unwrap(), 0);
    let one = log.read_subject(&subj(2)).await.unwrap();
    assert_eq!(
        one.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![3, 7, 11, 15, 19, 23, 27]
    );
    assert!(log.read_subject(&subj(9)).await.unwrap().is_empty());
    // A long history (more records than a backend may fetch one by one).
    let long = fill(log, 40, 1, 1_000).await;
    let read = log.read_subject(&subj(0)).await.unwrap();
    let mut expected: Vec<u64> = (1..=30).step_by(4).collect();
    expected.extend(long);
    assert_eq!(read.iter().map(|r| r.seq).collect::<Vec<_>>(), expected);
    assert_eq!(read.last().unwrap().payload, &b"rec 39"[..]);
}

async fn concurrent_writers(h: Harness) {
    let log = h.log();
    let s = subj(0);
    let first = log
        .append(commit(&s, Expected::Empty, 1, 1, "a"))
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        log.append(commit(&s, Expected::At(first.seq), 2, 2, "writer a")),
        log.append(commit(&s, Expected::At(first.seq), 3, 2, "writer b")),
    );
    let (won, lost) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("exactly one writer must win: {other:?}"),
    };
    match lost {
        LogError::Conflict {
            subject, current, ..
        } => {
            assert_eq!(subject, s);
            assert_eq!(current, won.seq);
        }
        e => panic!("expected Conflict, got {e}"),
    }
    // Expected::Empty on a subject with records conflicts too.
    match log.append(commit(&s, Expected::Empty, 4, 3, "x")).await {
        Err(LogError::Conflict { current, .. }) => assert_eq!(current, won.seq),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(log.head().await.unwrap(), 2);
}

async fn dedupe_on_retry(h: Harness) {
    let log = h.log();
    let s = subj(0);
    let c = commit(&s, Expected::Empty, 7, 1, "once");
    let a = log.append(c.clone()).await.unwrap();
    assert!(!a.duplicate);
    // A retry with the same id is acknowledged with the original sequence even
    // though its expected version is now stale.
    let b = log.append(c.clone()).await.unwrap();
    assert_eq!((b.seq, b.duplicate), (a.seq, true));
    let other = log
        .append(commit(&s, Expected::At(a.seq), 8, 2, "next"))
        .await
        .unwrap();
    let again = log.append(c).await.unwrap();
    assert_eq!((again.seq, again.duplicate), (a.seq, true));
    assert_eq!(log.head().await.unwrap(), other.seq);
    assert_eq!(read_all(log).await.len(), 2);
}

async fn read_ranges(h: Harness) {
    let log = h.log();
    // recorded_at: 100, 200, 300, 250 (lagging clock), 400, 500 ...
    let times = [100, 200, 300, 250, 400, 500, 600, 700];
    for (i, t) in times.iter().enumerate() {
        log.append(commit(
            &subj(i as u128),
            Expected::Empty,
            i as u128,
            *t,
            "r",
        ))
        .await
        .unwrap();
    }
    let seqs = |v: Vec<perfledger_log::LogRecord>| v.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(seqs(read_range(log, 3, Until::Seq(5)).await), vec![3, 4, 5]);
    assert_eq!(
        seqs(read_range(log, 6, Until::Seq(1000)).await),
        vec![6, 7, 8]
    );
    assert_eq!(seqs(read_range(log, 6, Until::Head).await), vec![6, 7, 8]);
    assert!(read_range(log, 9, Until::Head).await.is_empty());
    assert!(read_range(log, 5, Until::Seq(4)).await.is_empty());
    assert_eq!(
        seqs(read_range(log, 1, Until::RecordedAt(300)).await),
        vec![1, 2, 3, 4]
    );
    assert_eq!(
        seqs(read_range(log, 1, Until::RecordedAt(260)).await),
        vec![1, 2]
    );
    assert!(read_range(log, 1, Until::RecordedAt(99)).await.is_empty());
    assert_eq!(read_range(log, 1, Until::RecordedAt(10_000)).await.len(), 8);
}

async fn live_tail(h: Harness) {
    let log = h.log().clone();
    fill(&log, 3, 3, 0).await;
    let mut tail = log.tail(2);
    let writer = {
        let log = log.clone();
        tokio::spawn(async move {
            for i in 0..4u128 {
                log.append(commit(&subj(10 + i), Expected::Empty, 100 + i, 5, "live"))
                    .await
                    .unwrap();
            }
        })
    };
    let mut got = Vec::new();
    while got.len() < 6 {
        let r = tokio::time::timeout(HANG_GUARD, tail.next())
            .await
            .expect("tail delivered nothing (hang guard)")
            .expect("tail ended")
            .expect("tail record");
        got.push(r.seq);
    }
    writer.await.unwrap();
    assert_eq!(got, vec![2, 3, 4, 5, 6, 7]);
}

/// A position the log has reported (its head, a subject's version) is
/// readable at once, while other writers append: a read up to it delivers
/// it. The embedded log once made its index's new head visible before its
/// readers' view of the head, so a read of a just-reported position could
/// end empty (the ledger refused a command with "sequence gap", a catch-up
/// to the head stopped short).
async fn positions_readable_at_once(h: Harness) {
    const WRITERS: u128 = 6;
    const EACH: u128 = 400;
    let log = h.log().clone();
    let appended = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let log = log.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..EACH {
                let id = 1 + w * EACH + i;
                log.append(commit(&subj(w), Expected::Any, id, id as i64, "r"))
                    .await
                    .expect("append");
            }
        }));
    }
    let readers: Vec<_> = (0..2u128)
        .map(|r| {
            let (log, appended) = (log.clone(), appended.clone());
            tokio::spawn(async move {
                // Until the writers are done, and at least a few checks
                // (the in-memory log's writers may finish first).
                let mut checked = 0u64;
                while checked < 64 || !appended.load(std::sync::atomic::Ordering::Acquire) {
                    let at = if checked.is_multiple_of(2) {
                        log.head().await.expect("head")
                    } else {
                        let s = subj((checked as u128 / 2 + r) % WRITERS);
                        log.subject_version(&s).await.expect("version")
                    };
                    if at == 0 {
                        tokio::task::yield_now().await;
                        continue;
                    }
                    let got = read_range(&log, at, Until::Seq(at)).await;
                    assert_eq!(
                        got.iter().map(|r| r.seq).collect::<Vec<_>>(),
                        vec![at],
                        "a read of reported position {at} (after {checked} checks)"
                    );
                    checked += 1;
                }
                checked
            })
        })
        .collect();
    for w in writers {
        w.await.expect("a writer panicked");
    }
    appended.store(true, std::sync::atomic::Ordering::Release);
    for r in readers {
        r.await.expect("a reader panicked");
    }
    assert_eq!(log.head().await.unwrap(), (WRITERS * EACH) as u64);
}

async fn durable_across_restart(mut h: Harness) {
    fill(h.log(), 20, 3, 0).await;
    let batch: Vec<_> = (0..10u128)
        .map(|i| commit(&subj(50 + i), Expected::Empty, 500 + i, 9, "b"))
        .collect();
    h.log().append_batch(batch.clone()).await.unwrap();
    let before = read_all(h.log()).await;
    h.restart().await;
    let after = read_all(h.log()).await;
    assert_eq!(before, after);
    assert_eq!(h.log().subject_version(&subj(0)).await.unwrap(), 19);
    // Retries after restart are still deduplicated.
    let again = h.log().append_batch(batch).await.unwrap();
    assert!(again.iter().all(|a| a.duplicate));
    assert_eq!(
        again.iter().map(|a| a.seq).collect::<Vec<_>>(),
        (21..=30).collect::<Vec<_>>()
    );
    let next = h
        .log()
        .append(commit(&subj(0), Expected::At(19), 999, 10, "after"))
        .await
        .unwrap();
    assert_eq!(next.seq, 31);
}

async fn batch_semantics(h: Harness) {
    let log = h.log();
    let ok: Vec<_> = (0..5u128)
        .map(|i| commit(&subj(i), Expected::Empty, i, 1, "b1"))
        .collect();
    let a = log.append_batch(ok.clone()).await.unwrap();
    assert_eq!(
        a.iter().map(|a| a.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    // Two commits to one entity inside a batch chain their versions.
    let chained = vec![
        commit(&subj(0), Expected::At(1), 10, 2, "c1"),
        commit(&subj(0), Expected::At(6), 11, 2, "c2"),
    ];
    let c = log.append_batch(chained).await.unwrap();
    assert_eq!(c.iter().map(|a| a.seq).collect::<Vec<_>>(), vec![6, 7]);
    // A batch whose third member conflicts.
    let bad = vec![
        commit(&subj(20), Expected::Empty, 20, 3, "x"),
        commit(&subj(21), Expected::Empty, 21, 3, "x"),
        commit(&subj(1), Expected::Empty, 22, 3, "conflicts"),
        commit(&subj(23), Expected::Empty, 23, 3, "x"),
    ];
    match log.append_batch(bad.clone()).await {
        Err(LogError::Conflict {
            subject, current, ..
        }) => {
            assert_eq!(subject, subj(1));
            assert_eq!(current, 2);
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    if log.capabilities().atomic_batch {
        // All-or-nothing: nothing of the failed batch was stored.
        assert_eq!(log.head().await.unwrap(), 7);
    } else {
        // Pipelined: the prefix before the failure is stored.
        assert!(log.head().await.unwrap() >= 9);
    }
    // Resume: fix the bad member, re-send with the same ids: no duplicates stored.
    let mut fixed = bad;
    fixed[2] = commit(&subj(1), Expected::At(2), 22, 3, "fixed");
    let r = log.append_batch(fixed).await.unwrap();
    assert_eq!(r.len(), 4);
    let all = read_all(log).await;
    assert_eq!(all.len(), 11);
    let mut ids: Vec<_> = all.iter().map(|r| r.msg_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 11, "no msg id stored twice");
    // Pipelined bulk append reports the acknowledged prefix.
    let bulk: Vec<_> = (0..250u128)
        .map(|i| commit(&subj(1000 + i), Expected::Empty, 1000 + i, 4, "bulk"))
        .collect();
    let p = log.append_pipelined(bulk).await;
    assert!(p.error.is_none());
    assert_eq!(p.appended.len(), 250);
    assert_eq!(p.appended.last().unwrap().seq, 261);
}

async fn limits(h: Harness) {
    let log = h.log();
    let big = bytes::Bytes::from(vec![0u8; perfledger_log::DEFAULT_MAX_PAYLOAD + 1]);
    let mut c = commit(&subj(0), Expected::Any, 1, 1, "");
    c.payload = big;
    match log.append(c).await {
        Err(LogError::TooLarge { len, max }) => {
            assert_eq!(len, perfledger_log::DEFAULT_MAX_PAYLOAD + 1);
            assert_eq!(max, perfledger_log::DEFAULT_MAX_PAYLOAD);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let many: Vec<_> = (0..101u128)
        .map(|i| commit(&subj(i), Expected::Empty, i, 1, "x"))
        .collect();
    match log.append_batch(many).await {
        Err(LogError::BatchTooLarge { len: 101, max: 100 }) => {}
        other => panic!("expected BatchTooLarge, got {other:?}"),
    }
    assert_eq!(log.head().await.unwrap(), 0);
}

async fn verify_clean_and_anchor(h: Harness) {
    let log = h.log();
    let empty = integrity::verify(log).await.unwrap();
    assert!(empty.ok());
    assert_eq!(empty.checked, 0);
    assert!(integrity::checkpoint(log, PREFIX).await.unwrap().is_none());
    fill(log, 10, 3, 0).await;
    let c1 = integrity::checkpoint(log, PREFIX).await.unwrap().unwrap();
    assert_eq!((c1.upto, c1.seq), (10, 11));
    // A checkpoint takes the latest recorded time it covers (1_009 here),
    // never the wall clock: it must not move recorded-time order forward.
    let chk: Vec<_> = log
        .read(11, Until::Seq(11))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(chk[0].recorded_at, 1_009);
    assert!(
        integrity::checkpoint(log, PREFIX).await.unwrap().is_none(),
        "nothing new to cover"
    );
    fill(log, 5, 3, 100).await;
    let c2 = integrity::checkpoint(log, PREFIX).await.unwrap().unwrap();
    assert_eq!((c2.upto, c2.seq), (16, 17));
    fill(log, 2, 3, 200).await;
    let r = integrity::verify(log).await.unwrap();
    assert_eq!(r.first_bad, None);
    assert_eq!(r.checked, 19);
    assert_eq!(r.last_checkpoint, Some(c2));
    assert_eq!(r.uncovered_tail, 3);
    assert_eq!(integrity::chain_root_at(log, 16).await.unwrap(), c2.root);
    let good = integrity::verify_with_anchor(log, Some((10, c1.root)))
        .await
        .unwrap();
    assert!(good.ok());
    let bad = integrity::verify_with_anchor(log, Some((10, [7u8; 32])))
        .await
        .unwrap();
    assert_eq!(bad.first_bad, Some((10, Problem::AnchorMismatch)));
    // A stale checkpointer (expected version now wrong) conflicts.
    let stale = perfledger_log::Commit {
        subject: perfledger_log::Subject::checkpoint(PREFIX).unwrap(),
        expected: Expected::At(c1.seq),
        msg_id: uuid::Uuid::new_v4(),
        recorded_at: 0,
        payload: bytes::Bytes::new(),
    };
    match log.append(stale).await {
        Err(LogError::Conflict { current, .. }) => assert_eq!(current, c2.seq),
        other => panic!("expected Conflict, got {other:?}"),
    }
}

/// 12 records + checkpoint (seq 13) + 3 records + checkpoint (seq 17).
async fn checkpointed(h: &Harness) {
    let log = h.log();
    fill(log, 12, 4, 0).await;
    integrity::checkpoint(log, PREFIX).await.unwrap().unwrap();
    fill(log, 3, 4, 100).await;
    integrity::checkpoint(log, PREFIX).await.unwrap().unwrap();
    assert!(integrity::verify(log).await.unwrap().ok());
}

async fn first_bad(h: &Harness) -> u64 {
    let r = integrity::verify(h.log()).await.unwrap();
    let (seq, p) = r.first_bad.expect("verify must detect the tampering");
    assert!(
        matches!(
            p,
            Problem::LeafMismatch | Problem::RootMismatch { .. } | Problem::BadCheckpoint(_)
        ),
        "{p}"
    );
    seq
}

async fn tamper_altered(mut h: Harness) {
    checkpointed(&h).await;
    h.tamper(|mut v| {
        v[6].payload = bytes::Bytes::from_static(b"rec 6 but better");
        v
    })
    .await;
    assert_eq!(first_bad(&h).await, 7);
}

async fn tamper_removed(mut h: Harness) {
    checkpointed(&h).await;
    h.tamper(|mut v| {
        v.remove(4);
        v
    })
    .await;
    assert_eq!(first_bad(&h).await, 5);
}

async fn tamper_reordered(mut h: Harness) {
    checkpointed(&h).await;
    h.tamper(|mut v| {
        v.swap(13, 14);
        v
    })
    .await;
    assert_eq!(first_bad(&h).await, 14);
}

async fn tamper_inserted(mut h: Harness) {
    checkpointed(&h).await;
    h.tamper(|mut v| {
        let mut extra = v[2].clone();
        extra.msg_id = uuid::Uuid::from_u128(42);
        extra.payload = bytes::Bytes::from_static(b"backdated");
        v.insert(8, extra);
        v
    })
    .await;
    assert_eq!(first_bad(&h).await, 9);
}

// ---- backend-specific ----

mod embedded_only {
    use super::*;
    use perfledger_log::embedded::{self, EmbeddedLog};

    async fn written(dir: &std::path::Path) -> Vec<perfledger_log::LogRecord> {
        let log = EmbeddedLog::open(dir).await.unwrap();
        fill(&log, 10, 2, 0).await;
        read_all(&log).await
    }

    #[tokio::test]
    async fn naive_edit_is_corrupt_with_seq() {
        let d = tempfile::tempdir().unwrap();
        written(d.path()).await;
        let raw = embedded::read_raw(d.path()).unwrap();
        let path = d.path().join(embedded::DATA_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        // Flip the last payload byte of record 6.
        let r = &raw[5];
        let at = (r.offset + r.len as u64 - 1) as usize;
        bytes[at] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        match EmbeddedLog::open(d.path()).await {
            Err(LogError::Corrupt { seq, .. }) => assert_eq!(seq, 6),
            other => panic!("expected Corrupt at 6, got {other:?}"),
        }
        // Never silently truncated: the file is untouched.
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[tokio::test]
    async fn naive_removal_is_corrupt_with_seq() {
        let d = tempfile::tempdir().unwrap();
        written(d.path()).await;
        let raw = embedded::read_raw(d.path()).unwrap();
        let path = d.path().join(embedded::DATA_FILE);
        let bytes = std::fs::read(&path).unwrap();
        // Cut out the whole frame holding record 4 (12-byte frame header before it).
        let start = raw[3].offset as usize - 12;
        let end = raw[4].offset as usize - 12;
        let mut cut = bytes[..start].to_vec();
        cut.extend_from_slice(&bytes[end..]);
        std::fs::write(&path, &cut).unwrap();
        match EmbeddedLog::open(d.path()).await {
            Err(LogError::Corrupt { seq, .. }) => assert_eq!(seq, 4),
            other => panic!("expected Corrupt at 4, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn torn_tail_is_truncated_on_open() {
        let d = tempfile::tempdir().unwrap();
        let before = written(d.path()).await;
        let path = d.path().join(embedded::DATA_FILE);
        let good = std::fs::read(&path).unwrap();
        // A crash mid-write: half of a new frame (header claims more than follows).
        let mut torn = good.clone();
        torn.extend_from_slice(&[200, 0, 0, 0, 1, 0, 0, 0, 9, 9, 9, 9, 1, 2, 3]);
        std::fs::write(&path, &torn).unwrap();
        let log = EmbeddedLog::open(d.path()).await.unwrap();
        assert_eq!(read_all(&log).await, before);
        let a = log
            .append(commit(&subj(5), Expected::Empty, 77, 1, "after crash"))
            .await
            .unwrap();
        assert_eq!(a.seq, 11);
        drop(log);
        assert!(std::fs::read_dir(d.path()).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("log.dat.torn-")));
        let log = EmbeddedLog::open(d.path()).await.unwrap();
        assert_eq!(log.head().await.unwrap(), 11);
    }

    #[tokio::test]
    async fn one_owner_per_directory() {
        let d = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(d.path()).await.unwrap();
        match EmbeddedLog::open(d.path()).await {
            Err(LogError::Unavailable(m)) => assert!(m.contains("in use"), "{m}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        drop(log);
        EmbeddedLog::open(d.path()).await.unwrap();
    }
}

mod jetstream_only {
    use super::*;
    use async_nats::jetstream::stream::{Config, StorageType};
    use perfledger_log::async_nats;
    use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};
    use perfledger_testkit::NatsServer;

    #[tokio::test]
    async fn unsafe_existing_stream_is_refused() {
        let server = NatsServer::start();
        let client = async_nats::connect(server.url()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        js.create_stream(Config {
            name: "PERFLEDGER".into(),
            subjects: vec!["pl.>".into()],
            storage: StorageType::Memory,
            max_messages: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
        let opts = JetStreamOptions {
            url: server.url(),
            ..Default::default()
        };
        match JetStreamLog::connect(opts).await {
            Err(LogError::UnsafeStream { stream, problem }) => {
                assert_eq!(stream, "PERFLEDGER");
                assert!(problem.contains("memory storage"), "{problem}");
                assert!(problem.contains("deny_delete"), "{problem}");
                assert!(problem.contains("max_msgs"), "{problem}");
            }
            other => panic!("expected UnsafeStream, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn created_stream_is_safe_and_rechecked() {
        let server = NatsServer::start();
        let opts = JetStreamOptions {
            url: server.url(),
            ..Default::default()
        };
        let a = JetStreamLog::connect(opts.clone()).await.unwrap();
        let info = a
            .context()
            .get_stream("PERFLEDGER")
            .await
            .unwrap()
            .get_info()
            .await
            .unwrap();
        assert!(perfledger_log::jetstream::unsafe_settings(&info.config, "pl", 1).is_empty());
        assert_eq!(info.config.storage, StorageType::File);
        assert!(info.config.deny_delete && info.config.deny_purge);
        // A second start-up checks the existing stream and accepts it.
        JetStreamLog::connect(opts).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_node_cluster_with_three_replicas() {
        let cluster = perfledger_testkit::NatsCluster::start();
        let client = async_nats::connect(cluster.nodes[0].url()).await.unwrap();
        cluster.wait_jetstream(&client).await;
        let log = open_r3(&client, JetStreamOptions::default().timeout).await;
        let s = subj(0);
        let a = log
            .append(commit(&s, Expected::Empty, 1, 1, "r3"))
            .await
            .unwrap();
        match log.append(commit(&s, Expected::Empty, 2, 1, "late")).await {
            Err(LogError::Conflict { current, .. }) => assert_eq!(current, a.seq),
            other => panic!("expected Conflict, got {other:?}"),
        }
        let d = log
            .append(commit(&s, Expected::Empty, 1, 1, "r3"))
            .await
            .unwrap();
        assert!(d.duplicate);
        assert_eq!(read_all(&log).await.len(), 1);
    }
}
