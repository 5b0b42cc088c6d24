//! Issue #14 item 8: catch-up and rebuild check the log's hash chain as they
//! read and stop at the first record that fails it (the one `verify` names)
//! instead of projecting it.

use std::path::Path;

use perfledger_log::embedded::{read_raw, write_raw};
use perfledger_log::integrity::{self, Problem};
use perfledger_log::{EmbeddedLog, EventLog, LogRecord};
use perfledger_readmodel::{ProjectError, Projector, ReadModel};
use perfledger_testkit::council::{to_commit, Generator, Shape};

fn tenant() -> perfledger_domain::Tenant {
    perfledger_domain::Tenant::new(perfledger_testkit::council::TENANT).unwrap()
}

fn commits() -> Vec<perfledger_log::Commit> {
    Generator::new(Shape::small(), 7)
        .map(|e| to_commit(&e).unwrap())
        .collect()
}

/// Alter record `seq` with valid CRCs (its recorded time, by 1 ms: the
/// payload still decodes, so only the chain can tell).
fn tamper(dir: &Path, seq: u64) {
    let mut records: Vec<LogRecord> = read_raw(dir)
        .unwrap()
        .into_iter()
        .map(|r| r.record)
        .collect();
    records[usize::try_from(seq - 1).unwrap()].recorded_at += 1;
    write_raw(dir, &records).unwrap();
}

#[tokio::test]
async fn rebuild_and_catch_up_stop_at_a_tampered_record() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let commits = commits();
    assert!(commits.len() > 120);
    {
        let log = EmbeddedLog::open(&log_dir).await.unwrap();
        log.append_batch(commits[..60].to_vec()).await.unwrap();
        integrity::checkpoint(&log, "pl").await.unwrap().unwrap();
        log.append_batch(commits[60..120].to_vec()).await.unwrap();
        integrity::checkpoint(&log, "pl").await.unwrap().unwrap();
        // A tail no checkpoint covers yet.
        log.append_batch(commits[120..].to_vec()).await.unwrap();
    }
    // Project the first part while the log is intact.
    let rm = ReadModel::open(dir.path().join("rm"), &tenant()).unwrap();
    {
        let log = EmbeddedLog::open(&log_dir).await.unwrap();
        let first: Vec<LogRecord> = {
            use futures::StreamExt;
            log.read(1, perfledger_log::Until::Seq(30))
                .map(|r| r.unwrap())
                .collect()
                .await
        };
        // (applied unchecked: the stored chain root is then recomputed)
        Projector::new(&rm).apply_records(&first).unwrap();
    }
    let victim = 90;
    tamper(&log_dir, victim);
    let log = EmbeddedLog::open(&log_dir).await.unwrap();
    let report = integrity::verify(&log).await.unwrap();
    assert_eq!(report.first_bad, Some((victim, Problem::LeafMismatch)));

    // Catch-up from 30: stops before the victim, naming it.
    let err = Projector::new(&rm)
        .catch_up(&log, &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProjectError::Chain { seq, problem: Problem::LeafMismatch } if seq == victim),
        "{err}"
    );
    assert!(
        err.to_string().contains(&format!("log record {victim}")),
        "{err}"
    );
    assert_eq!(rm.checkpoint().unwrap(), victim - 1);
    // Again from there (the stored chain root): the same stop.
    let err = Projector::new(&rm)
        .catch_up(&log, &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProjectError::Chain { seq, .. } if seq == victim),
        "{err}"
    );
    assert_eq!(rm.checkpoint().unwrap(), victim - 1);

    // Rebuild from nothing: the same.
    let fresh = ReadModel::open_temporary(&tenant()).unwrap();
    let err = fresh.rebuild(&log, &mut |_| {}).await.unwrap_err();
    assert!(
        matches!(err, ProjectError::Chain { seq, .. } if seq == victim),
        "{err}"
    );
    assert_eq!(fresh.checkpoint().unwrap(), victim - 1);
    assert_eq!(
        fresh.content_digest().unwrap(),
        rm.content_digest().unwrap()
    );
}

#[tokio::test]
async fn an_intact_log_projects_whole_including_its_uncovered_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path().join("log")).await.unwrap();
    let commits = commits();
    log.append_batch(commits[..50].to_vec()).await.unwrap();
    integrity::checkpoint(&log, "pl").await.unwrap().unwrap();
    log.append_batch(commits[50..].to_vec()).await.unwrap();
    let head = log.head().await.unwrap();
    let rm = ReadModel::open(dir.path().join("rm"), &tenant()).unwrap();
    let p = Projector::new(&rm).with_batch_records(7);
    assert_eq!(p.catch_up(&log, &mut |_| {}).await.unwrap(), head);
    // Checked in small batches and resumed, the result equals an unchecked
    // projection of the same records.
    integrity::checkpoint(&log, "pl").await.unwrap().unwrap();
    let head = log.head().await.unwrap();
    assert_eq!(p.catch_up(&log, &mut |_| {}).await.unwrap(), head);
    let all: Vec<LogRecord> = {
        use futures::StreamExt;
        log.read(1, perfledger_log::Until::Seq(head))
            .map(|r| r.unwrap())
            .collect()
            .await
    };
    let plain = ReadModel::open_temporary(&tenant()).unwrap();
    Projector::new(&plain).apply_records(&all).unwrap();
    assert_eq!(
        plain.content_digest().unwrap(),
        rm.content_digest().unwrap()
    );
}
