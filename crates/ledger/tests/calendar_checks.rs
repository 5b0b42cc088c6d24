//! Issue #12, command path: where version requests queue at a leader,
//! concurrent commands share the request for their tenant calendar's
//! version; where the log answers directly, each asks for itself. Either
//! way a period closed before a command arrived is still closed for it (the
//! request it takes was issued after it arrived).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perfledger_domain::command::{Command, CALENDAR_KEY};
use perfledger_domain::{entity_id, DomainError, EntityKind, Period, Timestamp};
use perfledger_ledger::{subject_for, FixedClock, Ledger, LedgerError, Submitted};
use perfledger_log::embedded::EmbeddedLog;
use perfledger_log::{
    Appended, BatchProgress, Capabilities, Commit, EventLog, LogError, LogRecord, RecordStream,
    Seq, Subject, Until,
};
use perfledger_testkit::fixtures;

/// The embedded log, counting requests for the calendar's version and
/// answering them `delay_ms` after reading it (a slow round trip).
struct Slowed {
    inner: EmbeddedLog,
    calendar: Subject,
    calendar_asks: AtomicUsize,
    delay_ms: AtomicU64,
    /// Report `direct_versions` (default false).
    direct: AtomicBool,
}

impl EventLog for Slowed {
    async fn append(&self, commit: Commit) -> Result<Appended, LogError> {
        self.inner.append(commit).await
    }
    async fn append_batch(&self, commits: Vec<Commit>) -> Result<Vec<Appended>, LogError> {
        self.inner.append_batch(commits).await
    }
    async fn append_pipelined(&self, commits: Vec<Commit>) -> BatchProgress {
        self.inner.append_pipelined(commits).await
    }
    /// Version requests that queue at a leader (as a replicated JetStream
    /// stream's do): the ledger shares them. `direct` says otherwise.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            direct_versions: self.direct.load(Ordering::SeqCst),
            ..self.inner.capabilities()
        }
    }
    async fn head(&self) -> Result<Seq, LogError> {
        self.inner.head().await
    }
    async fn subject_version(&self, subject: &Subject) -> Result<Seq, LogError> {
        let version = self.inner.subject_version(subject).await?;
        if *subject == self.calendar {
            self.calendar_asks.fetch_add(1, Ordering::SeqCst);
            let delay = self.delay_ms.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        Ok(version)
    }
    async fn read_subject(&self, subject: &Subject) -> Result<Vec<LogRecord>, LogError> {
        self.inner.read_subject(subject).await
    }
    fn read(&self, from: Seq, until: Until) -> RecordStream {
        self.inner.read(from, until)
    }
    fn tail(&self, from: Seq) -> RecordStream {
        self.inner.tail(from)
    }
}

fn q(quarter: u8) -> Period {
    Period::Quarter(perfledger_domain::FinancialYear(2016), quarter)
}

fn reference(i: u128) -> String {
    format!("CG/S{i}")
}

async fn slowed(dir: &tempfile::TempDir) -> Arc<Slowed> {
    let tenant = fixtures::tenant();
    let calendar = entity_id(&tenant, EntityKind::Calendar, CALENDAR_KEY);
    Arc::new(Slowed {
        inner: EmbeddedLog::open(dir.path().join("log")).await.unwrap(),
        calendar: subject_for("pl", &tenant, EntityKind::Calendar, calendar).unwrap(),
        calendar_asks: AtomicUsize::new(0),
        delay_ms: AtomicU64::new(0),
        direct: AtomicBool::new(false),
    })
}

fn ledger(log: &Arc<Slowed>) -> Ledger<Slowed> {
    Ledger::new(log.clone(), "pl").with_clock(Arc::new(FixedClock(Timestamp(1_470_000_000_000))))
}

/// A ledger that keeps the calendar and indicators `1..=n`.
async fn keeping(log: &Arc<Slowed>, n: u128) -> Ledger<Slowed> {
    let l = ledger(log);
    for i in 1..=n {
        l.execute(Submitted::new(fixtures::define(i, &reference(i))))
            .await
            .unwrap();
    }
    l
}

fn set_target(n: u128, indicator: u128, quarter: u8) -> Submitted {
    Submitted::new(fixtures::set_target(
        n,
        &reference(indicator),
        q(quarter),
        "80%",
    ))
}

#[tokio::test]
async fn concurrent_commands_share_one_calendar_request() {
    let dir = tempfile::tempdir().unwrap();
    let log = slowed(&dir).await;
    let writers = 16u128;
    let l = keeping(&log, writers).await;
    log.delay_ms.store(40, Ordering::SeqCst);
    log.calendar_asks.store(0, Ordering::SeqCst);
    let commands: Vec<_> = (1..=writers)
        .map(|i| {
            let l = l.clone();
            tokio::spawn(async move { l.execute(set_target(100 + i, i, 3)).await })
        })
        .collect();
    for c in commands {
        c.await.unwrap().unwrap();
    }
    let asks = log.calendar_asks.load(Ordering::SeqCst);
    // one request for the first arrival, one for all who came while it
    // was in flight; asked one by one it would be 16
    assert!(
        asks <= 3,
        "{asks} calendar requests for {writers} concurrent commands"
    );
    assert_eq!(l.log().head().await.unwrap(), (2 * writers) as Seq);
}

/// Where the log answers versions directly, no command waits for another's
/// request: each asks once, for itself.
#[tokio::test]
async fn with_direct_versions_every_command_asks_for_itself() {
    let dir = tempfile::tempdir().unwrap();
    let log = slowed(&dir).await;
    log.direct.store(true, Ordering::SeqCst);
    let writers = 16u128;
    let l = keeping(&log, writers).await;
    log.delay_ms.store(40, Ordering::SeqCst);
    log.calendar_asks.store(0, Ordering::SeqCst);
    let commands: Vec<_> = (1..=writers)
        .map(|i| {
            let l = l.clone();
            tokio::spawn(async move { l.execute(set_target(100 + i, i, 3)).await })
        })
        .collect();
    for c in commands {
        c.await.unwrap().unwrap();
    }
    assert_eq!(
        log.calendar_asks.load(Ordering::SeqCst),
        writers as usize,
        "one calendar request per command (shared, 16 concurrent commands make 2 or 3)"
    );
    // And a close is seen by the next command at once.
    log.delay_ms.store(0, Ordering::SeqCst);
    l.execute(Submitted::new(fixtures::envelope(
        200,
        Command::ClosePeriod { period: q(1) },
    )))
    .await
    .unwrap();
    let err = l.execute(set_target(201, 1, 1)).await.unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::Rejected {
                source: DomainError::PeriodClosed { .. },
                ..
            }
        ),
        "Q1 was closed before the command arrived: {err}"
    );
}

#[tokio::test]
async fn a_close_before_a_command_arrived_is_never_missed_through_a_request_sent_earlier() {
    let dir = tempfile::tempdir().unwrap();
    let log = slowed(&dir).await;
    let l = keeping(&log, 2).await;
    let closer = ledger(&log);
    // the closer keeps the calendar too, so its close asks for nothing slow
    closer
        .execute(Submitted::new(fixtures::define(3, &reference(3))))
        .await
        .unwrap();
    log.delay_ms.store(300, Ordering::SeqCst);
    log.calendar_asks.store(0, Ordering::SeqCst);
    // the first command's request reads the open calendar, then is slow
    let first = {
        let l = l.clone();
        tokio::spawn(async move { l.execute(set_target(10, 1, 3)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(log.calendar_asks.load(Ordering::SeqCst), 1, "in flight");
    log.delay_ms.store(0, Ordering::SeqCst);
    closer
        .execute(Submitted::new(fixtures::envelope(
            11,
            Command::ClosePeriod { period: q(1) },
        )))
        .await
        .unwrap();
    // arrives after the close, while the first request (sent before the
    // close) is still out: it must not take that request's answer
    let err = l.execute(set_target(12, 2, 1)).await.unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::Rejected {
                source: DomainError::PeriodClosed { .. },
                ..
            }
        ),
        "Q1 was closed before the command arrived: {err}"
    );
    let stored = first.await.unwrap().unwrap();
    assert!(!stored.duplicate);
}

/// A command on an entity the ledger does not keep goes straight to the
/// full path, which asks for the calendar itself: once, not twice.
#[tokio::test]
async fn a_new_entity_asks_for_the_calendar_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = slowed(&dir).await;
    let l = keeping(&log, 1).await;
    log.calendar_asks.store(0, Ordering::SeqCst);
    l.execute(Submitted::new(fixtures::define(2, &reference(2))))
        .await
        .unwrap();
    assert_eq!(log.calendar_asks.load(Ordering::SeqCst), 1);
}
