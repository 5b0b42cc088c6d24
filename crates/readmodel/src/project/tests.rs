//! Projector tests: interrupted batches, batch sizes, tenancy.

use super::batch::LEAD_IN_SHARE;
use super::*;
use crate::keys;
use perfledger_domain::{Envelope, Tenant};
use perfledger_testkit::council::{to_commit, Generator, Shape, TENANT};

fn tenant() -> Tenant {
    Tenant::new(TENANT).unwrap()
}

fn temporary() -> ReadModel {
    ReadModel::open_temporary(&tenant()).unwrap()
}

fn generated() -> Vec<Vec<Envelope>> {
    Generator::new(Shape::small(), 7).collect()
}

/// The commits numbered from 1 (as a log would hand them to the projector).
pub(crate) fn sequenced(commits: &[Vec<Envelope>]) -> Vec<LogRecord> {
    commits
        .iter()
        .enumerate()
        .map(|(i, events)| {
            let c = to_commit(events).expect("generated commit encodes");
            LogRecord {
                seq: i as u64 + 1,
                subject: c.subject,
                msg_id: c.msg_id,
                recorded_at: c.recorded_at,
                payload: c.payload,
            }
        })
        .collect()
}

fn records() -> Vec<LogRecord> {
    sequenced(&generated())
}

/// A batch applied in chunks can be interrupted after any chunk: the
/// worst case leaves every later write in the tree above the checkpoint.
/// Resuming from the checkpoint must give exactly a clean build.
#[test]
fn writes_left_above_the_checkpoint_are_ignored_and_rewritten() {
    let recs = records();
    assert!(recs.len() > 100, "{} records", recs.len());
    let clean = temporary();
    Projector::new(&clean).apply_records(&recs).unwrap();

    for cut in [1, recs.len() / 3, recs.len() - 1] {
        let rm = temporary();
        Projector::new(&rm).apply_records(&recs[..cut]).unwrap();
        assert_eq!(rm.checkpoint().unwrap(), cut as u64);
        // Simulate the interrupted batch: every key of the finished
        // read model except the checkpoint, time index and max time.
        for r in clean.tree.iter() {
            let (k, v) = r.unwrap();
            if k.first() == Some(&b'm') || k.first() == Some(&keys::TIME) {
                continue;
            }
            rm.tree.insert(k, v).unwrap();
        }
        assert_ne!(
            rm.content_digest().unwrap(),
            clean.content_digest().unwrap()
        );
        Projector::new(&rm)
            .with_batch_records(17)
            .apply_records(&recs[cut..])
            .unwrap();
        assert_eq!(
            rm.content_digest().unwrap(),
            clean.content_digest().unwrap(),
            "resumed at {cut}"
        );
    }
}

/// Read-ahead hands over every record once, in order, whatever the
/// chunking, and ends cleanly (the end may be seen mid-chunk).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_ahead_delivers_every_record_in_order() {
    let recs = records();
    for n in [0, 1, 1_023, 1_024, 1_025, recs.len()] {
        let items = recs.iter().take(n).cloned().map(Ok).collect::<Vec<_>>();
        // `unfold` panics if polled after its end, like the logs' streams.
        let stream = futures::stream::unfold(items.into_iter(), |mut it| async move {
            it.next().map(|x| (x, it))
        });
        let mut ahead = read_ahead(Box::pin(stream));
        let mut seqs = Vec::new();
        while let Some(item) = ahead.next().await {
            let (rec, leaf) = item.unwrap();
            assert_eq!(leaf, perfledger_log::integrity::leaf_hash(&rec));
            seqs.push(rec.seq);
        }
        let want: Vec<u64> = (1..=n.min(recs.len()) as u64).collect();
        assert_eq!(seqs, want, "n = {n}");
        (&mut ahead.reader)
            .await
            .expect("the reader ends without panicking");
    }
}

#[test]
fn batch_size_does_not_change_the_bytes() {
    let recs = records();
    let digest = |batch: usize, stage_bytes: usize| {
        let rm = temporary();
        Projector::new(&rm)
            .with_batch_records(batch)
            .with_stage_bytes(stage_bytes)
            .apply_records(&recs)
            .unwrap();
        rm.content_digest().unwrap()
    };
    let one = digest(1, STAGE_BYTES);
    assert_eq!(one, digest(7, STAGE_BYTES));
    assert_eq!(one, digest(BATCH_RECORDS, STAGE_BYTES));
    // Batches cut by their staged bytes, not their records.
    assert_eq!(one, digest(BATCH_RECORDS, 4 * 1024));
}

/// Another tenant writing the same references (same units, periods and
/// keys) interleaved with this tenant's commits changes nothing in this
/// tenant's read model: it is byte for byte the read model of the same
/// log with those records replaced by records that carry nothing (the
/// checkpoint and time index still count every record of the log).
#[test]
fn records_of_other_tenants_change_nothing_but_the_position() {
    let evil = Tenant::new("evil").unwrap();
    let mut mixed = Vec::new();
    for events in generated() {
        let mut copy = events.clone();
        for env in &mut copy {
            env.tenant = evil.clone();
        }
        mixed.push(events);
        mixed.push(copy);
    }
    let mixed = sequenced(&mixed);
    assert!(mixed[1].subject.as_str().starts_with("pl.ev.evil."));
    let neutral: Vec<LogRecord> = mixed
        .iter()
        .map(|r| {
            if r.subject.as_str().starts_with("pl.ev.evil.") {
                LogRecord {
                    subject: perfledger_log::Subject::checkpoint("pl").unwrap(),
                    payload: Default::default(),
                    ..r.clone()
                }
            } else {
                r.clone()
            }
        })
        .collect();
    let rm = temporary();
    let cp = Projector::new(&rm)
        .with_batch_records(5)
        .apply_records(&mixed)
        .unwrap();
    assert_eq!(cp, mixed.len() as u64);
    let clean = temporary();
    Projector::new(&clean).apply_records(&neutral).unwrap();
    assert_eq!(
        rm.content_digest().unwrap(),
        clean.content_digest().unwrap()
    );
    assert!(!rm.indicators(None, crate::AsOf::Head).unwrap().is_empty());
}

/// A record on this tenant's subject whose events name another tenant
/// stops the projector naming the sequence; nothing of it is applied.
#[test]
fn an_event_of_another_tenant_on_our_subject_is_refused() {
    let mut recs = records();
    let mut events = generated()[0].clone();
    events[0].tenant = Tenant::new("evil").unwrap();
    recs[0].payload = perfledger_domain::encode_commit(&events).unwrap().into();
    let rm = temporary();
    let err = Projector::new(&rm).apply_records(&recs).unwrap_err();
    assert!(matches!(err, ProjectError::Apply { seq: 1, .. }), "{err}");
    assert_eq!(rm.checkpoint().unwrap(), 0);
}

/// The tenant is recorded when the read model is created: opening it
/// for another tenant is refused, and clearing keeps the tenant. (Each
/// test reopens a path once: sled releases its lock asynchronously
/// after a refused open.)
#[test]
fn a_read_model_opens_only_for_its_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm");
    {
        let rm = ReadModel::open(&path, &tenant()).unwrap();
        assert_eq!(rm.tenant(), &tenant());
        Projector::new(&rm).apply_records(&records()[..3]).unwrap();
        rm.clear().unwrap();
        rm.flush().unwrap();
    }
    let err = ReadModel::open(&path, &Tenant::new("evil").unwrap()).unwrap_err();
    match err {
        ReadModelError::WrongTenant {
            recorded,
            requested,
        } => assert_eq!((recorded.as_str(), requested.as_str()), (TENANT, "evil")),
        other => panic!("{other}"),
    }
}

/// A read model made before tenants were recorded may hold any
/// tenant's records: opening it starts it again (it is a cache of the
/// log) for the tenant asked, instead of serving what it holds.
#[test]
fn a_read_model_without_a_recorded_tenant_is_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm");
    {
        let rm = ReadModel::open(&path, &tenant()).unwrap();
        Projector::new(&rm).apply_records(&records()[..3]).unwrap();
        rm.tree.remove(keys::META_TENANT).unwrap();
        rm.flush().unwrap();
    }
    let evil = Tenant::new("evil").unwrap();
    let rm = ReadModel::open(&path, &evil).unwrap();
    assert_eq!(rm.checkpoint().unwrap(), 0);
    assert!(rm.is_empty());
    assert_eq!(
        rm.tree.get(keys::META_TENANT).unwrap().as_deref(),
        Some(&b"evil"[..])
    );
}

/// What a commit hands sled, in order: plain inserts for all but its last
/// chunk (an `apply_batch` would hold sled's concurrency lock, and with it
/// every read the projector makes meanwhile), then one atomic batch ending
/// with the checkpoint; the checkpoint is never a plain insert.
#[test]
fn a_commit_is_plain_inserts_then_one_batch_ending_with_the_checkpoint() {
    #[derive(Debug, PartialEq)]
    enum Seen {
        Inserts(usize),
        Batch { keys: usize, last: Vec<u8> },
        Flush,
    }
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let tap: WriteTap = std::sync::Arc::new(std::sync::Mutex::new(move |w: SledWrite<'_>| {
        let mut log = log.lock().unwrap();
        log.push(match w {
            SledWrite::Inserts { writes } => {
                assert!(
                    writes.iter().all(|(k, _)| ![
                        keys::META_CHECKPOINT,
                        keys::META_MAXREC,
                        keys::META_CHAIN
                    ]
                    .contains(k)),
                    "the checkpoint and what is read with it are never plain inserts"
                );
                Seen::Inserts(writes.len())
            }
            SledWrite::Batch { writes, .. } => Seen::Batch {
                keys: writes.len(),
                last: writes.last().map(|(k, _)| k.to_vec()).unwrap_or_default(),
            },
            SledWrite::Flush => Seen::Flush,
        });
    }));
    // Enough entities for more than one chunk of keys in one batch.
    let shape = Shape {
        indicators: 400,
        actions: 200,
        ..Shape::small()
    };
    let recs = sequenced(&Generator::new(shape, 7).collect::<Vec<_>>());
    let rm = temporary();
    Projector::new(&rm)
        .with_write_tap(tap)
        .apply_records(&recs)
        .unwrap();
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().any(|s| matches!(s, Seen::Inserts(WRITE_CHUNK))),
        "one batch of the whole log spans several chunks: {seen:?}"
    );
    let mut commits = 0;
    for (i, s) in seen.iter().enumerate() {
        match s {
            Seen::Inserts(n) => {
                assert_eq!(*n, WRITE_CHUNK, "only the last chunk is short");
                assert!(
                    matches!(seen.get(i + 1), Some(Seen::Inserts(_) | Seen::Batch { .. })),
                    "inserts are followed by the rest of their commit: {seen:?}"
                );
            }
            Seen::Batch { keys: n, last } => {
                // The rest of the writes (fewer than a chunk) and the
                // meta writes (time block, running maximum, chain root,
                // checkpoint).
                assert!((1..WRITE_CHUNK + 4).contains(n));
                assert_eq!(
                    last.as_slice(),
                    keys::META_CHECKPOINT,
                    "the checkpoint goes last"
                );
                commits += 1;
            }
            Seen::Flush => {}
        }
    }
    assert!(commits >= 1);
}

/// Opening waits for sled's file lock a moment (sled lets it go when its
/// last IO thread does, after the `Db` is dropped), and a read model held
/// for longer is still an error.
#[test]
fn opening_waits_briefly_for_the_file_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm");
    let held = ReadModel::open(&path, &tenant()).unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(held);
    });
    let rm = ReadModel::open(&path, &tenant()).expect("opened once the holder let go");
    release.join().unwrap();
    let started = std::time::Instant::now();
    let err = ReadModel::open(&path, &tenant()).expect_err("held for good");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert!(matches!(err, ReadModelError::Storage(_)), "{err}");
    drop(rm);
}

/// The first batch a projector hands to its writer is a
/// `LEAD_IN_SHARE`th of the batch size (the writer idles while it is
/// staged); every later one is full size.
#[test]
fn the_first_batch_is_cut_short_so_the_writer_starts_early() {
    let checkpoints = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = checkpoints.clone();
    let tap: WriteTap = std::sync::Arc::new(std::sync::Mutex::new(move |w: SledWrite<'_>| {
        if let SledWrite::Batch { writes, .. } = w {
            let (k, v) = writes.last().expect("a commit ends with its checkpoint");
            assert_eq!(*k, keys::META_CHECKPOINT);
            let seq = u64::from_be_bytes((*v).try_into().expect("8 bytes"));
            log.lock().unwrap().push(seq);
        }
    }));
    let recs = records();
    let batch = 2 * LEAD_IN_SHARE;
    assert!(recs.len() > 3 * batch, "the sample spans several batches");
    let rm = temporary();
    Projector::new(&rm)
        .with_batch_records(batch)
        .with_write_tap(tap)
        .apply_records(&recs)
        .unwrap();
    let checkpoints = checkpoints.lock().unwrap();
    let lead_in = (batch / LEAD_IN_SHARE) as u64;
    assert!(
        lead_in < batch as u64 / 4,
        "the first batch is cut well short"
    );
    let mut want: Vec<u64> = (0..)
        .map(|i| lead_in + i * batch as u64)
        .take_while(|&c| c < recs.len() as u64)
        .collect();
    want.push(recs.len() as u64);
    assert_eq!(*checkpoints, want);
}
