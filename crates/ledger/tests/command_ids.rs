//! Issue #14 item 2: a command id is used once, forever. The same id with
//! the same command is a duplicate; the same id with another command (body,
//! entity) is refused with its own error and nothing is appended — on the
//! embedded log and on JetStream, inside and after JetStream's duplicate
//! window. `reused_command_ids` (behind `perfledger verify`) finds stored
//! records sharing a command id.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::event::{build_envelopes, EventBody};
use perfledger_domain::{encode_commit, Period, Timestamp};
use perfledger_ledger::{
    reused_command_ids, subject_for, CommandIdCheck, CommandIdThread, FixedClock, Ledger,
    LedgerError, ReusedCommandId, Submitted,
};
use perfledger_log::embedded::EmbeddedLog;
use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};
use perfledger_log::{integrity, Commit, EventLog, Expected};
use perfledger_testkit::fixtures::{self, define, envelope, text as t};
use perfledger_testkit::NatsServer;
use uuid::Uuid;

fn q1() -> Period {
    Period::parse("2016/17 Q1").unwrap()
}

fn record(id: u128, reference: &str, value: &str) -> CommandEnvelope {
    fixtures::record(id, reference, q1(), value)
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock(Timestamp(1_470_000_000_000)))
}

async fn embedded(dir: &tempfile::TempDir) -> Ledger<EmbeddedLog> {
    let log = EmbeddedLog::open(dir.path().join("log")).await.unwrap();
    Ledger::new(Arc::new(log), "pl").with_clock(clock())
}

fn reused(err: &LedgerError) -> Option<(Uuid, u64)> {
    match err {
        LedgerError::CommandIdReused {
            command_id,
            original_seq,
            ..
        } => Some((*command_id, *original_seq)),
        _ => None,
    }
}

/// Same id, another body on the same entity (a result of 99% instead of
/// 77%), and the same id on the admin calendar (`ClosePeriod`): refused,
/// naming the original sequence; the identical re-send is still a duplicate.
#[tokio::test]
async fn a_reused_id_with_another_command_is_refused_not_answered_as_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let l = embedded(&dir).await;
    l.execute(Submitted::new(define(1, "CG/S24")))
        .await
        .unwrap();
    let first = l
        .execute(Submitted::new(record(2, "CG/S24", "77%")))
        .await
        .unwrap();
    assert_eq!(first.seq, 2);

    let err = l
        .execute(Submitted::new(record(2, "CG/S24", "99%")))
        .await
        .unwrap_err();
    assert_eq!(
        reused(&err),
        Some((Uuid::from_u128(0xC0DE_0002), 2)),
        "{err}"
    );
    let err = l
        .execute(Submitted::new(envelope(
            2,
            Command::ClosePeriod { period: q1() },
        )))
        .await
        .unwrap_err();
    assert_eq!(
        reused(&err),
        Some((Uuid::from_u128(0xC0DE_0002), 2)),
        "{err}"
    );
    assert_eq!(l.log().head().await.unwrap(), 2, "nothing appended");

    let again = l
        .execute(Submitted::new(record(2, "CG/S24", "77%")))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.seq, 2);
    // Who relayed it does not make it another command.
    let mut relayed = record(2, "CG/S24", "77%");
    relayed.actor = t("Finance System");
    relayed.correlation_id = Uuid::from_u128(8);
    let again = l.execute(Submitted::new(relayed)).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(reused_command_ids(&**l.log()).await.unwrap(), vec![]);
}

/// Same id on another entity: the embedded log's own dedupe used to answer
/// with the other entity's record as if it were this command.
#[tokio::test]
async fn a_reused_id_on_another_entity_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let l = embedded(&dir).await;
    l.execute(Submitted::new(define(1, "CG/S24")))
        .await
        .unwrap();
    let err = l
        .execute(Submitted::new(define(1, "CG/S26")))
        .await
        .unwrap_err();
    assert_eq!(
        reused(&err),
        Some((Uuid::from_u128(0xC0DE_0001), 1)),
        "{err}"
    );
    assert_eq!(l.log().head().await.unwrap(), 1);
    // A fresh ledger (another process) knows it too: the index is the log.
    let fresh = Ledger::new(l.log().clone(), "pl").with_clock(clock());
    let err = fresh
        .execute(Submitted::new(define(1, "CG/S26")))
        .await
        .unwrap_err();
    assert!(reused(&err).is_some(), "{err}");
}

async fn jetstream(
    server: &NatsServer,
    stream: &str,
    prefix: &str,
    window: Duration,
) -> Ledger<JetStreamLog> {
    let log = JetStreamLog::connect(JetStreamOptions {
        url: server.url(),
        stream: stream.into(),
        prefix: prefix.into(),
        duplicate_window: window,
        ..JetStreamOptions::default()
    })
    .await
    .unwrap();
    Ledger::new(Arc::new(log), prefix).with_clock(clock())
}

/// On JetStream the id is refused on the default stream (inside the 120 s
/// window, where the server answered "duplicate" with the other entity's
/// sequence) and on a stream with the shortest window the server allows
/// (100 ms; once it has passed, the server stores a second record under the
/// same id). The ledger decides from its index before appending, so the
/// outcome does not depend on the window or on how much time has passed.
#[tokio::test]
async fn on_jetstream_a_reused_id_is_refused_whatever_the_duplicate_window() {
    let server = NatsServer::start();
    for (stream, prefix, window) in [
        ("PERFLEDGER", "pl", Duration::from_secs(120)),
        ("FORGETFUL", "px", Duration::from_millis(100)),
    ] {
        let l = jetstream(&server, stream, prefix, window).await;
        l.execute(Submitted::new(define(1, "CG/S24")))
            .await
            .unwrap();
        let err = l
            .execute(Submitted::new(define(1, "CG/S26")))
            .await
            .unwrap_err();
        assert_eq!(
            reused(&err),
            Some((Uuid::from_u128(0xC0DE_0001), 1)),
            "{stream}: {err}"
        );
        assert_eq!(
            l.log().head().await.unwrap(),
            1,
            "{stream}: nothing appended"
        );
        let dup = l
            .execute(Submitted::new(define(1, "CG/S24")))
            .await
            .unwrap();
        assert!(dup.duplicate, "{stream}");
        assert_eq!(dup.seq, 1);
    }
}

/// A log written around the ledger: command id 1 stored three times (at
/// 1, 3 and 4), under other msg ids.
async fn log_reusing_a_command_id(dir: &tempfile::TempDir) -> EmbeddedLog {
    let log = EmbeddedLog::open(dir.path().join("log")).await.unwrap();
    let mut seq = 0;
    for (cmd, msg) in [
        (define(1, "CG/S24"), 1u128),
        (define(2, "CG/S25"), 2),
        (define(1, "CG/S26"), 3), // command id 1 again, under another msg id
        (record(1, "CG/S24", "50%"), 4),
    ] {
        let body = match &cmd.command {
            Command::DefineIndicator { spec } => EventBody::IndicatorDefined { spec: spec.clone() },
            Command::RecordResult { period, entry, .. } => EventBody::ResultRecorded {
                period: *period,
                entry: entry.clone(),
            },
            _ => unreachable!(),
        };
        let envs = build_envelopes(
            &cmd,
            vec![body],
            &[Uuid::from_u128(msg)],
            Timestamp(1_470_000_000_000),
            None,
        )
        .unwrap();
        let (kind, id) = cmd.command.entity(&cmd.tenant);
        let subject = subject_for("pl", &cmd.tenant, kind, id).unwrap();
        let expected = match log.subject_version(&subject).await.unwrap() {
            0 => Expected::Empty,
            v => Expected::At(v),
        };
        seq = log
            .append(Commit {
                subject,
                expected,
                msg_id: Uuid::from_u128(0xAB00 + msg),
                recorded_at: 1_470_000_000_000,
                payload: Bytes::from(encode_commit(&envs).unwrap()),
            })
            .await
            .unwrap()
            .seq;
    }
    assert_eq!(seq, 4);
    log
}

/// Two stored commits carrying one command id (as JetStream stores them
/// once its window has passed, or as a rogue writer might) are reported.
#[tokio::test]
async fn stored_records_sharing_a_command_id_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_reusing_a_command_id(&dir).await;
    let id = Uuid::from_u128(0xC0DE_0001);
    assert_eq!(
        reused_command_ids(&log).await.unwrap(),
        vec![
            ReusedCommandId {
                command_id: id,
                first_seq: 1,
                seq: 3
            },
            ReusedCommandId {
                command_id: id,
                first_seq: 1,
                seq: 4
            },
        ]
    );
}

/// Issue #14 item 11: the nil UUID is not a command id (nor a correlation
/// id), whichever way the command arrives; nothing is appended.
#[tokio::test]
async fn the_nil_uuid_is_refused_as_command_id() {
    let dir = tempfile::tempdir().unwrap();
    let l = embedded(&dir).await;
    for field in ["command_id", "correlation_id"] {
        let mut cmd = define(1, "CG/S24");
        match field {
            "command_id" => cmd.command_id = Uuid::nil(),
            _ => cmd.correlation_id = Uuid::nil(),
        }
        match l.execute(Submitted::new(cmd)).await.unwrap_err() {
            LedgerError::Rejected {
                source: perfledger_domain::DomainError::Invalid { field: f, .. },
                ..
            } => assert_eq!(f, field),
            other => panic!("{field}: {other}"),
        }
    }
    assert_eq!(l.log().head().await.unwrap(), 0);
}

/// `perfledger verify` finds reused command ids in its hash-chain pass
/// (one read of the log): the same findings as `reused_command_ids`'
/// own pass, and an undecodable commit is still an error naming it.
#[tokio::test]
async fn reused_command_ids_are_found_in_the_hash_chain_pass() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_reusing_a_command_id(&dir).await;
    integrity::checkpoint(&log, "pl").await.unwrap();
    let mut check = CommandIdCheck::default();
    let report = integrity::verify_each(&log, None, |r, _| {
        check.push(r.seq, r.checkpoint, &r.payload)
    })
    .await
    .unwrap();
    assert!(report.ok() && report.checked == 5, "{report:?}");
    let reused = reused_command_ids(&log).await.unwrap();
    assert_eq!(reused.len(), 2, "{reused:?}");
    assert_eq!(check.finish(&log).await.unwrap(), reused);
    // The same, decoded on a thread of its own.
    let mut beside = CommandIdThread::new();
    integrity::verify_each(&log, None, |r, _| {
        beside.push(r.seq, r.checkpoint, &r.payload)
    })
    .await
    .unwrap();
    assert_eq!(beside.finish().finish(&log).await.unwrap(), reused);

    let mut check = CommandIdCheck::default();
    check.push(1, false, b"\x02not a commit");
    check.push(2, true, b"checkpoints are not decoded");
    match check.finish(&log).await {
        Err(LedgerError::Undecodable { seq: 1, .. }) => {}
        other => panic!("expected record 1 undecodable, got {other:?}"),
    }
}
