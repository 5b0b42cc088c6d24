//! Unit tests of the hash chain (leaves, checkpoint ids, roots, `verify_each`).

use super::*;
use bytes::Bytes;

fn rec(seq: Seq, payload: &'static [u8]) -> LogRecord {
    LogRecord {
        seq,
        subject: Subject::checkpoint("pl").unwrap(),
        msg_id: Uuid::from_u128(seq as u128),
        recorded_at: 5,
        payload: Bytes::from_static(payload),
    }
}

#[test]
fn leaf_is_the_documented_concatenation() {
    let r = LogRecord {
        subject: Subject::entity("pl", "t", "indicator", Uuid::from_u128(9)).unwrap(),
        ..rec(7, b"payload")
    };
    let mut want = Vec::new();
    want.extend_from_slice(b"pl-leaf-v1");
    want.extend_from_slice(&7u64.to_be_bytes());
    want.extend_from_slice(&(r.subject.as_str().len() as u32).to_be_bytes());
    want.extend_from_slice(r.subject.as_str().as_bytes());
    want.extend_from_slice(r.msg_id.as_bytes());
    want.extend_from_slice(&5i64.to_be_bytes());
    want.extend_from_slice(&7u64.to_be_bytes());
    want.extend_from_slice(b"payload");
    assert_eq!(leaf_hash(&r), <[u8; 32]>::from(Sha256::digest(&want)));
}

#[test]
fn leaf_binds_every_field() {
    let base = leaf_hash(&rec(1, b"a"));
    assert_eq!(base, leaf_hash(&rec(1, b"a")));
    assert_ne!(base, leaf_hash(&rec(2, b"a")));
    assert_ne!(base, leaf_hash(&rec(1, b"b")));
    let mut r = rec(1, b"a");
    r.recorded_at = 6;
    assert_ne!(base, leaf_hash(&r));
    let mut r = rec(1, b"a");
    r.msg_id = Uuid::from_u128(99);
    assert_ne!(base, leaf_hash(&r));
}

#[test]
fn checkpoint_msg_id_is_a_function_of_what_it_states() {
    let id = checkpoint_msg_id("pl", 10, 20, &[7; 32]);
    assert_eq!(id, checkpoint_msg_id("pl", 10, 20, &[7; 32]));
    assert_eq!(id.get_version_num(), 5);
    assert_ne!(id, checkpoint_msg_id("pm", 10, 20, &[7; 32]));
    assert_ne!(id, checkpoint_msg_id("pl", 11, 20, &[7; 32]));
    assert_ne!(id, checkpoint_msg_id("pl", 10, 21, &[7; 32]));
    assert_ne!(id, checkpoint_msg_id("pl", 10, 20, &[8; 32]));
}

/// A memory log of `n` one-byte commits, one entity each.
async fn memory_log(n: u128) -> crate::MemoryLog {
    let log = crate::MemoryLog::new();
    for i in 0..n {
        log.append(Commit {
            subject: Subject::entity("pl", "t", "indicator", Uuid::from_u128(i)).unwrap(),
            expected: Expected::Any,
            msg_id: Uuid::from_u128(100 + i),
            recorded_at: 5,
            payload: Bytes::from_static(b"x"),
        })
        .await
        .unwrap();
    }
    log
}

#[tokio::test]
async fn checkpointing_the_same_log_twice_stores_the_same_bytes() {
    async fn log_with_checkpoint() -> Vec<LogRecord> {
        let log = memory_log(3).await;
        checkpoint(&log, "pl").await.unwrap().expect("new records");
        log.read(1, Until::Head)
            .map(|r| r.unwrap())
            .collect::<Vec<_>>()
            .await
    }
    assert_eq!(log_with_checkpoint().await, log_with_checkpoint().await);
}

#[tokio::test]
async fn roots_at_many_positions_in_one_pass_equal_one_pass_each() {
    let log = memory_log(7).await;
    let positions = BTreeSet::from([0, 2, 3, 7]);
    let roots = chain_roots_at(&log, &positions).await.unwrap();
    assert_eq!(roots.keys().copied().collect::<Vec<_>>(), vec![0, 2, 3, 7]);
    for (seq, root) in &roots {
        assert_eq!(*root, chain_root_at(&log, *seq).await.unwrap(), "at {seq}");
    }
    assert!(chain_roots_at(&log, &Default::default())
        .await
        .unwrap()
        .is_empty());
    let beyond = BTreeSet::from([3, 8]);
    assert!(
        matches!(
            chain_roots_at(&log, &beyond).await,
            Err(LogError::Gap { .. })
        ),
        "a position beyond the head is an error, not a root"
    );
}

#[tokio::test]
async fn roots_from_known_roots_equal_roots_from_the_start() {
    let log = memory_log(9).await;
    let all = chain_roots_at(&log, &(0..=9).collect()).await.unwrap();
    let known = BTreeMap::from([(4, all[&4]), (8, all[&8])]);
    let positions = BTreeSet::from([0, 3, 4, 6, 9]);
    let roots = chain_roots_from(&log, &known, &positions).await.unwrap();
    assert_eq!(
        roots.keys().copied().collect::<Vec<_>>(),
        vec![0, 3, 4, 6, 9]
    );
    for (seq, root) in &roots {
        assert_eq!(*root, all[seq], "at {seq}");
    }
    assert!(
        matches!(
            chain_roots_from(&log, &known, &BTreeSet::from([10])).await,
            Err(LogError::Gap { expected: 10, .. })
        ),
        "a position beyond the head is an error, not a root"
    );
    // Stepped from the known root, not from the start: only the
    // records after it are read.
    let nine = log.read_hashed(9, 9).next().await.unwrap().unwrap();
    let trusted = BTreeMap::from([(8, [7u8; 32])]);
    let roots = chain_roots_from(&log, &trusted, &BTreeSet::from([9]))
        .await
        .unwrap();
    assert_eq!(roots[&9], chain_next(&[7; 32], &nine.leaf));
}

#[tokio::test]
async fn verify_each_hands_over_the_records_the_chain_accepted_with_their_roots() {
    let log = memory_log(5).await;
    let all = chain_roots_at(&log, &(1..=5).collect()).await.unwrap();
    let mut met = Vec::new();
    let report = verify_each(&log, None, |r, root| met.push((r.seq, *root)))
        .await
        .unwrap();
    assert!(report.ok());
    assert_eq!(met, all.into_iter().collect::<Vec<_>>());
    // A wrong anchor at 3: records 1 and 2 only.
    let mut met = Vec::new();
    let report = verify_each(&log, Some((3, [1; 32])), |r, _| met.push(r.seq))
        .await
        .unwrap();
    assert_eq!(report.first_bad, Some((3, Problem::AnchorMismatch)));
    assert_eq!(met, vec![1, 2]);
}

#[test]
fn checkpoint_payload_is_versioned_postcard() {
    let p = CheckpointPayload::V1 {
        prev_upto: 1,
        upto: 3,
        root: [1; 32],
        leaves: vec![[2; 8], [3; 8]],
    };
    let bytes = postcard::to_stdvec(&p).unwrap();
    assert_eq!(bytes[0], 0, "variant tag V1 = 0");
    let r = LogRecord {
        payload: Bytes::from(bytes),
        ..rec(4, b"")
    };
    assert_eq!(decode_checkpoint(&r).unwrap(), p);
    assert!(decode_checkpoint(&rec(4, b"\xff\xff")).is_err());
}

/// An altered record further behind its checkpoint than the leaf window
/// (the check keeps only the newest leaves) is still named exactly by
/// `verify`, and so is the older of two altered records, one on each side
/// of the window; the chain check alone sees a bad root or the newer one.
#[tokio::test]
async fn verify_names_an_altered_record_older_than_the_leaf_window() {
    let n = LEAF_WINDOW as u128 * 3;
    let d = tempfile::tempdir().unwrap();
    {
        let log = crate::EmbeddedLog::open(d.path()).await.unwrap();
        let commits = (0..n)
            .map(|i| Commit {
                subject: Subject::entity("pl", "t", "indicator", Uuid::from_u128(i % 7)).unwrap(),
                expected: Expected::Any,
                msg_id: Uuid::from_u128(100 + i),
                recorded_at: 5,
                payload: Bytes::from_static(b"x"),
            })
            .collect();
        log.append_batch(commits).await.unwrap();
        checkpoint(&log, "pl").await.unwrap().unwrap();
    }
    let alter = |seqs: &[Seq]| {
        let mut records: Vec<LogRecord> = crate::embedded::read_raw(d.path())
            .unwrap()
            .into_iter()
            .map(|r| r.record)
            .collect();
        for &s in seqs {
            records[usize::try_from(s - 1).unwrap()].recorded_at += 1;
        }
        crate::embedded::write_raw(d.path(), &records).unwrap();
    };
    let verify_dir = || async {
        let log = crate::EmbeddedLog::open(d.path()).await.unwrap();
        verify(&log).await.unwrap().first_bad
    };
    assert_eq!(verify_dir().await, None);
    let old: Seq = 10;
    let recent = n as Seq - 5;
    alter(&[old]);
    assert_eq!(verify_dir().await, Some((old, Problem::LeafMismatch)));
    alter(&[recent]);
    assert_eq!(verify_dir().await, Some((old, Problem::LeafMismatch)));
    // What the chain check alone says (a projector holds far fewer records
    // than the window, so it never applies the records it names past).
    let log = crate::EmbeddedLog::open(d.path()).await.unwrap();
    let mut chain = ChainCheck::new();
    let mut s = log.read_hashed(1, n as Seq + 1);
    let mut said = None;
    while let Some(r) = s.next().await {
        if let Err(e) = chain.push_hashed(&r.unwrap()) {
            said = Some(e);
            break;
        }
    }
    assert_eq!(said, Some((recent, Problem::LeafMismatch)));
}

/// More records since the last checkpoint than one checkpoint's payload
/// holds (a gateway appends no checkpoints of its own) are covered by
/// several in a row, each within the default payload limit; the log then
/// verifies, with nothing uncovered, and the checkpoints are covered by
/// the next one.
#[tokio::test]
async fn a_long_run_without_checkpoints_is_covered_by_several() {
    let log = crate::MemoryLog::new();
    let n = 2 * MAX_CHECKPOINT_LEAVES as u128 + 10;
    for start in (0..n).step_by(crate::DEFAULT_MAX_BATCH) {
        let commits = (start..n.min(start + crate::DEFAULT_MAX_BATCH as u128))
            .map(|i| Commit {
                subject: Subject::entity("pl", "t", "indicator", Uuid::from_u128(i % 7)).unwrap(),
                expected: Expected::Any,
                msg_id: Uuid::from_u128(100 + i),
                recorded_at: 5,
                payload: Bytes::from_static(b"x"),
            })
            .collect();
        log.append_batch(commits).await.unwrap();
    }
    let n = n as Seq;
    let last = checkpoint(&log, "pl").await.unwrap().expect("new records");
    assert_eq!((last.seq, last.upto), (n + 3, n), "three checkpoints");
    let chk = Subject::checkpoint("pl").unwrap();
    let mut covered = Vec::new();
    for r in log.read_subject(&chk).await.unwrap() {
        assert!(r.payload.len() < crate::DEFAULT_MAX_PAYLOAD);
        let CheckpointPayload::V1 {
            prev_upto, upto, ..
        } = decode_checkpoint(&r).unwrap();
        covered.push((prev_upto, upto));
    }
    let full = MAX_CHECKPOINT_LEAVES as Seq;
    assert_eq!(covered, [(0, full), (full, 2 * full), (2 * full, n)]);
    let report = verify(&log).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.uncovered_tail, 3, "the checkpoints themselves");
    let again = checkpoint(&log, "pl")
        .await
        .unwrap()
        .expect("the checkpoints");
    assert_eq!(again.upto, n + 3);
    assert_eq!(checkpoint(&log, "pl").await.unwrap(), None);
    assert_eq!(verify(&log).await.unwrap().uncovered_tail, 1, "itself");
}
