//! Catch-up over a log that delivers badly (issue #11) never produces a read
//! model different from a clean rebuild: whatever the faults, the read
//! model at its checkpoint equals a clean projection of that prefix, and
//! once catch-up reaches the head it equals a clean rebuild.
//!
//! Per fault, what the projector does (asserted below):
//! - a record delivered again: recovered (it is at or below the
//!   checkpoint, so it is skipped);
//! - records swapped, or one not delivered: detected — catch-up stops with
//!   an error naming the sequence it expected (checkpoint + 1): the chain
//!   check's [`ProjectError::Chain`], or [`ProjectError::Gap`] where the
//!   read ends early; everything before it is committed and a later
//!   catch-up resumes;
//! - an outage: the log's error, nothing after the checkpoint kept.
//!
//! Faults come from `perfledger_testkit::fault_log::FaultLog`, seeded; no
//! clock, no sleeps.

use perfledger_domain::Tenant;
use perfledger_log::{EventLog, LogError, LogRecord, MemoryLog, Seq, Until};
use perfledger_readmodel::{ProjectError, Projector, ReadModel};
use perfledger_testkit::council::{to_commit, Generator, Shape, TENANT};
use perfledger_testkit::fault_log::{FaultLog, FaultPlan};

use futures::StreamExt;

/// Catch-ups per seed before the test gives up (a bound on a loop that
/// makes progress on almost every attempt, not a timing claim).
const MAX_ATTEMPTS: usize = 2_000;

fn tenant() -> Tenant {
    Tenant::new(TENANT).expect("tenant")
}

/// A generated council in a memory log, and its records.
async fn council(seed: u64) -> (MemoryLog, Vec<LogRecord>) {
    let log = MemoryLog::new();
    let commits: Vec<_> = Generator::new(Shape::small(), seed)
        .filter_map(|e| to_commit(&e))
        .collect();
    for chunk in commits.chunks(500) {
        log.append_batch(chunk.to_vec()).await.expect("append");
    }
    let records: Vec<LogRecord> = log
        .read(1, Until::Head)
        .map(|r| r.expect("read"))
        .collect()
        .await;
    (log, records)
}

/// Digest of a clean projection of the first `n` records.
fn clean_digest(records: &[LogRecord], n: Seq) -> String {
    let rm = ReadModel::open_temporary(&tenant()).expect("read model");
    Projector::new(&rm)
        .apply_records(&records[..n as usize])
        .expect("clean projection");
    rm.content_digest().expect("digest")
}

/// The sequence a delivery-fault error names, if it is one.
fn named(e: &ProjectError) -> Option<Seq> {
    match e {
        ProjectError::Gap { expected, .. } => Some(*expected),
        ProjectError::Chain { seq, .. } => Some(*seq),
        _ => None,
    }
}

/// What one catch-up over a faulty log did, checked against the prefix.
async fn catch_up_once<L: EventLog>(
    rm: &ReadModel,
    log: &L,
    records: &[LogRecord],
) -> Result<Seq, ProjectError> {
    let res = Projector::new(rm)
        .with_batch_records(64)
        .catch_up(log, &mut |_| {})
        .await;
    let cp = rm.checkpoint().expect("checkpoint");
    if let Err(e) = &res {
        match (e, named(e)) {
            (ProjectError::Log(LogError::Unavailable(_)), _) => {}
            (_, Some(seq)) => assert_eq!(seq, cp + 1, "the error names the next sequence: {e}"),
            (other, None) => panic!("unexpected error at checkpoint {cp}: {other}"),
        }
        assert_eq!(
            rm.content_digest().expect("digest"),
            clean_digest(records, cp),
            "after `{e}` the read model differs from a clean projection to {cp}"
        );
    }
    res
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_through_faulty_deliveries_ends_as_a_clean_rebuild() {
    let (log, records) = council(11).await;
    let head = records.len() as Seq;
    assert!(head > 300, "a council worth projecting: {head}");
    let want = clean_digest(&records, head);
    let (mut detected, mut faults) = (0, 0);
    for seed in 0..12 {
        let faulty = FaultLog::new(
            log.clone(),
            FaultPlan {
                seed,
                unavailable: 20,
                outage_calls: 1,
                duplicate: 10,
                reorder: 4,
                gap: 4,
                ..FaultPlan::default()
            },
        );
        let rm = ReadModel::open_temporary(&tenant()).expect("read model");
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(attempts <= MAX_ATTEMPTS, "seed {seed}: no progress");
            match catch_up_once(&rm, &faulty, &records).await {
                Ok(cp) => {
                    assert_eq!(cp, head, "seed {seed}");
                    break;
                }
                Err(e) => detected += usize::from(named(&e).is_some()),
            }
        }
        assert_eq!(rm.content_digest().unwrap(), want, "seed {seed}");
        let c = faulty.counts();
        faults += c.duplicate.min(1) + c.reorder.min(1) + c.gap.min(1);
    }
    assert!(
        detected > 0 && faults >= 24,
        "detected {detected}, faults {faults}"
    );
}

async fn records_in(seed: u64) -> Seq {
    council(seed).await.1.len() as Seq
}

/// One catch-up from empty over a log with faults on its records.
async fn first_catch_up(plan: FaultPlan) -> (ReadModel, Result<Seq, ProjectError>, String) {
    let (log, records) = council(3).await;
    let want = clean_digest(&records, records.len() as Seq);
    let rm = ReadModel::open_temporary(&tenant()).expect("read model");
    let res = catch_up_once(&rm, &FaultLog::new(log, plan), &records).await;
    (rm, res, want)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_delivered_twice_is_skipped() {
    let (rm, res, want) = first_catch_up(FaultPlan {
        duplicate: 1000,
        ..FaultPlan::default()
    })
    .await;
    assert!(res.is_ok(), "{res:?}");
    assert_eq!(rm.content_digest().unwrap(), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_out_of_order_are_refused_naming_the_sequence() {
    let (rm, res, _) = first_catch_up(FaultPlan {
        reorder: 1000,
        ..FaultPlan::default()
    })
    .await;
    // 2 arrives first: nothing applied, sequence 1 named.
    assert_eq!(res.as_ref().err().and_then(named), Some(1), "{res:?}");
    assert_eq!(rm.checkpoint().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_record_is_refused_naming_the_sequence() {
    let (rm, res, _) = first_catch_up(FaultPlan {
        seed: 5,
        gap: 50,
        ..FaultPlan::default()
    })
    .await;
    let cp = rm.checkpoint().unwrap();
    assert!(cp < records_in(3).await, "stopped short");
    assert_eq!(res.as_ref().err().and_then(named), Some(cp + 1), "{res:?}");
}
