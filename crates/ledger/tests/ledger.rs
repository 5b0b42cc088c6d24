//! The ledger against the embedded log: validation before append, all-or-nothing
//! submissions, idempotency by command id, conflicts, recorded-time order.

use std::sync::Arc;

use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::event::{EventBody, ResultEntry};
use perfledger_domain::parse::parse_result;
use perfledger_domain::{AggregateState, DomainError, Period, Timestamp};
use perfledger_ledger::{FixedClock, Ledger, LedgerError, Submitted};
use perfledger_log::embedded::EmbeddedLog;
use perfledger_log::EventLog;
use perfledger_testkit::fixtures::{self, define, envelope, tenant, text as t};
use uuid::Uuid;

fn q1() -> Period {
    Period::parse("2016/17 Q1").unwrap()
}

fn record(n: u128, reference: &str, value: &str) -> CommandEnvelope {
    fixtures::record(n, reference, q1(), value)
}

fn set_target(n: u128, reference: &str, value: &str) -> CommandEnvelope {
    fixtures::set_target(n, reference, q1(), value)
}

async fn ledger(dir: &tempfile::TempDir) -> Ledger<EmbeddedLog> {
    let log = EmbeddedLog::open(dir.path().join("log")).await.unwrap();
    Ledger::new(Arc::new(log), "pl").with_clock(Arc::new(FixedClock(Timestamp(1_470_000_000_000))))
}

#[tokio::test]
async fn a_command_appends_one_commit_with_full_envelopes() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir).await;
    let done = l
        .execute(Submitted::new(define(1, "CG/S24")))
        .await
        .unwrap();
    assert_eq!(done.seq, 1);
    assert!(!done.duplicate);
    assert_eq!(done.events.len(), 1);
    let e = &done.events[0];
    assert_eq!(e.command_id, Uuid::from_u128(0xC0DE_0001));
    assert_eq!(e.recorded_at, Timestamp(1_470_000_000_000));
    assert_eq!(e.actor.as_str(), "Head of Performance");
    assert!(matches!(e.body, EventBody::IndicatorDefined { .. }));
    assert_eq!(l.log().head().await.unwrap(), 1);
}

#[tokio::test]
async fn unknown_entity_is_rejected_and_nothing_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir).await;
    let err = l
        .execute(Submitted::new(record(1, "CG/S99", "77%")))
        .await
        .unwrap_err();
    // Named by what it was about, not `command #0 (RecordResult)` (issue #14
    // item 12).
    assert!(
        err.to_string()
            .starts_with("RecordResult for indicator CG/S99, 2016/17 Q1 rejected: "),
        "{err}"
    );
    match err {
        LedgerError::Rejected {
            index: 0,
            command: "RecordResult",
            source: DomainError::UnknownEntity { key, .. },
            ..
        } => {
            assert_eq!(key, "CG/S99")
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(l.log().head().await.unwrap(), 0);
}

#[tokio::test]
async fn one_bad_command_rejects_the_whole_submission() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir).await;
    let items = vec![
        Submitted::new(define(1, "CG/S24")),
        Submitted::new(set_target(2, "CG/S24", "80%")),
        Submitted::new(record(3, "CG/S24", "77%")),
        // A second result for the same period must be a restatement.
        Submitted::new(record(4, "CG/S24", "79%")),
    ];
    let err = l.execute_batch(items, |_, _| {}).await.unwrap_err();
    assert!(
        matches!(err, LedgerError::Rejected { index: 3, .. }),
        "{err}"
    );
    assert_eq!(
        l.log().head().await.unwrap(),
        0,
        "nothing partial is appended"
    );
}

#[tokio::test]
async fn a_submission_sees_its_own_earlier_commands() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir).await;
    let items = vec![
        Submitted::new(define(1, "CG/S24")),
        Submitted::new(set_target(2, "CG/S24", "80%")),
        Submitted::new(record(3, "CG/S24", "77%")),
    ];
    let done = l.execute_batch(items, |_, _| {}).await.unwrap();
    assert_eq!(
        done.iter().map(|d| d.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let loaded = l
        .load(
            &tenant(),
            perfledger_domain::EntityKind::Indicator,
            define(1, "CG/S24").command.entity(&tenant()).1,
        )
        .await
        .unwrap();
    assert_eq!(loaded.version, 3);
    let AggregateState::Indicator(s) = loaded.state else {
        panic!("not an indicator")
    };
    assert_eq!(s.results.len(), 1);
}

#[tokio::test]
async fn resending_a_command_is_idempotent_by_command_id() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir).await;
    l.execute(Submitted::new(define(1, "CG/S24")))
        .await
        .unwrap();
    let first = l
        .execute(Submitted::new(record(2, "CG/S24", "77%")))
        .await
        .unwrap();
    // The same command again would be "a second result" — but it is the same
    // command, so it is recognised, not rejected and not stored twice.
    let again = l
        .execute(Submitted::new(record(2, "CG/S24", "77%")))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.seq, first.seq);
    assert_eq!(l.log().head().await.unwrap(), 2);
    // A whole submission re-run after a partial failure resumes.
    let items = vec![
        Submitted::new(define(1, "CG/S24")),
        Submitted::new(record(2, "CG/S24", "77%")),
        Submitted::new(define(3, "CG/S26")),
    ];
    let done = l.execute_batch(items, |_, _| {}).await.unwrap();
    assert_eq!(
        done.iter().map(|d| d.duplicate).collect::<Vec<_>>(),
        vec![true, true, false]
    );
    assert_eq!(l.log().head().await.unwrap(), 3);
}

#[tokio::test]
async fn a_pinned_stale_version_is_a_conflict_carrying_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir).await;
    l.execute(Submitted::new(define(1, "CG/S24")))
        .await
        .unwrap();
    l.execute(Submitted::new(set_target(2, "CG/S24", "80%")))
        .await
        .unwrap();
    let mut item = Submitted::new(record(3, "CG/S24", "77%"));
    item.expected = Some(1);
    match l.execute(item).await.unwrap_err() {
        LedgerError::Conflict {
            expected: 1,
            current: 2,
            ..
        } => {}
        other => panic!("unexpected {other}"),
    }
    let mut item = Submitted::new(record(3, "CG/S24", "77%"));
    item.expected = Some(2);
    assert_eq!(l.execute(item).await.unwrap().seq, 3);
}

#[tokio::test]
async fn concurrent_writers_to_one_entity_both_land_after_revalidation() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir).await;
    l.execute(Submitted::new(define(1, "CG/S24")))
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        l.execute(Submitted::new(set_target(2, "CG/S24", "80%"))),
        l.execute(Submitted::new(record(3, "CG/S24", "77%"))),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(l.log().head().await.unwrap(), 3);
}

#[tokio::test]
async fn history_is_appended_only_at_the_head_in_recorded_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir).await;
    let t1 = Timestamp(1_460_000_000_000);
    l.execute(Submitted::at(define(1, "CG/S24"), t1))
        .await
        .unwrap();
    let err = l
        .execute(Submitted::at(
            set_target(2, "CG/S24", "80%"),
            Timestamp(t1.0 - 1),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::Backdated { .. }), "{err}");
    assert_eq!(l.log().head().await.unwrap(), 1);
}

#[tokio::test]
async fn a_command_id_twice_in_one_submission_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir).await;
    let items = vec![
        Submitted::new(define(1, "CG/S24")),
        Submitted::new(define(1, "CG/S26")),
    ];
    let err = l.execute_batch(items, |_, _| {}).await.unwrap_err();
    assert!(
        matches!(err, LedgerError::DuplicateCommandId { index: 1, .. }),
        "{err}"
    );
    assert_eq!(l.log().head().await.unwrap(), 0);
}

#[tokio::test]
async fn large_submissions_are_appended_in_chunks_after_full_validation() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir).await.with_max_batch(2);
    let mut items: Vec<Submitted> = (0..5u128)
        .map(|i| Submitted::new(define(i, &format!("CG/X{i}"))))
        .collect();
    items.push(Submitted::new(record(9, "CG/NOPE", "1%")));
    let err = l.execute_batch(items.clone(), |_, _| {}).await.unwrap_err();
    assert!(
        matches!(err, LedgerError::Rejected { index: 5, .. }),
        "{err}"
    );
    assert_eq!(l.log().head().await.unwrap(), 0);
    items.pop();
    let mut calls = Vec::new();
    l.execute_batch(items, |done, total| calls.push((done, total)))
        .await
        .unwrap();
    assert_eq!(calls, vec![(2, 5), (4, 5), (5, 5)]);
    assert_eq!(l.log().head().await.unwrap(), 5);
}

#[tokio::test]
async fn submissions_are_chunked_by_the_logs_own_batch_limit() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open_with(
        dir.path().join("log"),
        perfledger_log::embedded::EmbeddedOptions {
            max_batch: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let l = Ledger::new(Arc::new(log), "pl");
    let items: Vec<Submitted> = (0..5u128)
        .map(|i| Submitted::new(define(i, &format!("CG/X{i}"))))
        .collect();
    let mut calls = Vec::new();
    l.execute_batch(items, |done, total| calls.push((done, total)))
        .await
        .unwrap();
    assert_eq!(calls, vec![(2, 5), (4, 5), (5, 5)]);
    assert_eq!(l.log().head().await.unwrap(), 5);
}

/// Issue #14 item 7: the ledger decides as of the recorded time (its clock,
/// or a migrated record's claimed time): a result for a period that has not
/// ended then is refused.
#[tokio::test]
async fn a_result_for_a_period_not_yet_ended_is_refused_as_of_the_recorded_time() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir).await; // the clock reads 2016-07-31
    l.execute(Submitted::new(define(1, "CG/S24")))
        .await
        .unwrap();
    let in_period = |n: u128, period: &str| {
        envelope(
            n,
            Command::RecordResult {
                indicator: t("CG/S24"),
                period: Period::parse(period).unwrap(),
                entry: ResultEntry {
                    result: parse_result("80%").unwrap(),
                    commentary: None,
                    intervention: None,
                    benchmarks: Vec::new(),
                },
            },
        )
    };
    // 2016/17 Q2 runs to 30 September 2016.
    let e = l
        .execute(Submitted::new(in_period(2, "2016/17 Q2")))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, LedgerError::Rejected { source: DomainError::Invalid { field: "period", value, .. }, .. } if value == "2016/17 Q2"),
        "{e}"
    );
    // A migrated result is judged at its claimed time.
    let e = l
        .execute(Submitted::at(
            in_period(3, "2016/17 Q1"),
            Timestamp::parse("2016-06-15").unwrap(),
        ))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("has not ended"), "{e}");
    l.execute(Submitted::new(in_period(4, "2016/17 Q1")))
        .await
        .unwrap();
    assert_eq!(l.log().head().await.unwrap(), 2);
}
