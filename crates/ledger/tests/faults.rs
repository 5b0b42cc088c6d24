//! The ledger over a log that fails (issue #11), TigerBeetle-style: random
//! submissions run through `perfledger_testkit::fault_log::FaultLog`, each
//! retried with the same command ids until the ledger gives a definitive
//! answer, must end exactly as a fault-free run of the same submissions:
//! the same submissions accepted and rejected, no command applied twice,
//! nothing partial from a submission, and the same records in the log.
//!
//! Faults: lost acks (stored, then an error), outages, expired dedupe
//! windows (the log cannot recognise a re-sent commit: only the ledger's
//! command ids can), duplicate and reordered deliveries of an entity's
//! records, and records missing from a read. No clock, no sleeps: the
//! ledger's clock is fixed and every fault is drawn from a seed.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::StreamExt;
use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::event::ResultEntry;
use perfledger_domain::indicator::IndicatorSpec;
use perfledger_domain::parse::{parse_result, parse_target};
use perfledger_domain::{decode_commit, EventBody, Period, Tenant, Text, Timestamp};
use perfledger_ledger::{FixedClock, Ledger, LedgerError, Submitted};
use perfledger_log::{EventLog, MemoryLog, Until};
use perfledger_testkit::fault_log::{FaultLog, FaultPlan};
use perfledger_testkit::fixtures;
use uuid::Uuid;

/// The ledger's clock: after every period the tests use.
const NOW: Timestamp = Timestamp(1_900_000_000_000);
/// Attempts per submission before the test gives up (a bound, never reached
/// unless the ledger keeps failing).
const MAX_ATTEMPTS: usize = 200;

fn t(s: &str) -> Text {
    Text::new("test", s).expect("text")
}

fn tenant() -> Tenant {
    Tenant::new("barnet").expect("tenant")
}

fn envelope(id: u128, command: Command) -> CommandEnvelope {
    CommandEnvelope {
        command_id: Uuid::from_u128(0xFA17_0000 + id),
        tenant: tenant(),
        actor: t("Head of Performance"),
        source: t("test"),
        correlation_id: Uuid::from_u128(7),
        causation_id: None,
        command,
    }
}

fn reference(i: u64) -> Text {
    t(&format!("CG/S{i}"))
}

fn define(i: u64) -> Command {
    Command::DefineIndicator {
        spec: IndicatorSpec {
            title: t(&format!("Indicator {i}")),
            ..fixtures::indicator_spec(reference(i).as_str())
        },
    }
}

fn entry(value: u64) -> ResultEntry {
    ResultEntry {
        result: parse_result(&format!("{value}%")).expect("result"),
        commentary: None,
        intervention: None,
        benchmarks: Vec::new(),
    }
}

/// splitmix64 (the test's own decisions, apart from the log's faults).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// A random command over three indicators and four quarters; many are
/// rejected (a result before the indicator, a second definition, ...).
fn random_command(rng: &mut Rng) -> Command {
    let i = rng.below(3);
    let period = Period::parse(&format!("2016/17 Q{}", 1 + rng.below(4))).expect("period");
    let value = 50 + rng.below(50);
    let indicator = reference(i);
    match rng.below(6) {
        0 => define(i),
        1 => Command::SetTarget {
            indicator,
            period,
            target: parse_target(&format!("{value}%")).expect("target"),
        },
        2 => Command::ReviseTarget {
            indicator,
            period,
            target: parse_target(&format!("{value}%")).expect("target"),
            reason: t("revised"),
        },
        3 | 4 => Command::RecordResult {
            indicator,
            period,
            entry: entry(value),
        },
        _ => Command::RestateResult {
            indicator,
            period,
            entry: entry(value),
            reason: t("late returns"),
        },
    }
}

/// Submissions of one to three commands, every command id distinct; the
/// first defines the three indicators (so that most later ones are valid).
fn submissions(seed: u64, n: usize) -> Vec<Vec<CommandEnvelope>> {
    let mut rng = Rng(seed);
    let mut id = 3u128;
    let first = (0..3).map(|i| envelope(i as u128 + 1, define(i))).collect();
    std::iter::once(first)
        .chain((1..n).map(|_| {
            let len = 1 + rng.below(3) as usize;
            (0..len)
                .map(|_| {
                    id += 1;
                    envelope(id, random_command(&mut rng))
                })
                .collect()
        }))
        .collect()
}

fn ledger<L: EventLog>(log: L) -> Ledger<L> {
    Ledger::new(Arc::new(log), "pl").with_clock(Arc::new(FixedClock(NOW)))
}

/// A submission's definitive answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Rejected(String),
}

/// Run every submission, retrying one with the same command ids after any
/// error that says nothing about the commands (the log failed).
async fn run<L: EventLog>(l: &Ledger<L>, subs: &[Vec<CommandEnvelope>]) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(subs.len());
    for (n, sub) in subs.iter().enumerate() {
        let items: Vec<Submitted> = sub.iter().cloned().map(Submitted::new).collect();
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            assert!(attempt <= MAX_ATTEMPTS, "submission {n}: no answer");
            match l.execute_batch(items.clone(), |_, _| {}).await {
                Ok(_) => break Outcome::Accepted,
                Err(LedgerError::Rejected { index, source, .. }) => {
                    break Outcome::Rejected(format!("#{index}: {source}"))
                }
                Err(LedgerError::Log(_) | LedgerError::TooManyConflicts { .. }) => continue,
                Err(e) => panic!("submission {n}: unexpected {e}"),
            }
        };
        out.push(outcome);
    }
    out
}

/// Every record as (subject, [(command id, event body)]), in log order.
async fn contents<L: EventLog>(log: &L) -> Vec<(String, Vec<(Uuid, EventBody)>)> {
    let mut out = Vec::new();
    let mut s = log.read(1, Until::Head);
    while let Some(r) = s.next().await {
        let r = r.expect("read");
        let events = decode_commit(&r.payload).expect("decode");
        let events = events.into_iter().map(|e| (e.command_id, e.body)).collect();
        out.push((r.subject.to_string(), events));
    }
    out
}

#[tokio::test]
async fn random_submissions_under_faults_end_as_a_fault_free_run() {
    let (mut lost, mut forgotten, mut disordered, mut accepted) = (0, 0, 0, 0);
    for seed in 0..24u64 {
        let subs = submissions(seed, 40);
        let clean = ledger(MemoryLog::new());
        let expected = run(&clean, &subs).await;
        let faulty = FaultLog::new(
            MemoryLog::new(),
            FaultPlan {
                seed,
                unavailable: 40,
                outage_calls: 2,
                lost_ack: 150,
                dedupe_expired: 500,
                // Per delivered record: an entity's history of ~20 records
                // still arrives whole more often than not.
                duplicate: 15,
                reorder: 15,
                gap: 15,
            },
        );
        let l = ledger(faulty.clone());
        let got = run(&l, &subs).await;
        accepted += got.iter().filter(|o| **o == Outcome::Accepted).count();
        assert_eq!(
            got, expected,
            "seed {seed}: submissions answered differently"
        );
        let (want, have) = (
            contents(clean.log().as_ref()).await,
            contents(faulty.inner()).await,
        );
        assert_eq!(
            have, want,
            "seed {seed}: the log differs from a fault-free run"
        );
        let mut ids = BTreeSet::new();
        for (_, events) in &have {
            let cmds: BTreeSet<Uuid> = events.iter().map(|(c, _)| *c).collect();
            for c in cmds {
                assert!(ids.insert(c), "seed {seed}: command {c} applied twice");
            }
        }
        let c = faulty.counts();
        lost += c.lost_ack;
        forgotten += c.dedupe_expired;
        disordered += c.duplicate + c.reorder + c.gap;
    }
    assert!(
        lost > 0 && forgotten > 0 && disordered > 0,
        "the faults struck"
    );
    assert!(
        accepted >= 24 * 8,
        "most runs do something: {accepted} accepted"
    );
}

#[tokio::test]
async fn a_retry_after_a_lost_ack_is_a_duplicate_even_when_the_log_forgot_its_id() {
    let faulty = FaultLog::new(
        MemoryLog::new(),
        FaultPlan {
            lost_ack: 1000,
            dedupe_expired: 1000,
            ..FaultPlan::default()
        },
    );
    let l = ledger(faulty.clone());
    let cmd = envelope(1, define(1));
    assert!(matches!(
        l.execute(Submitted::new(cmd.clone())).await,
        Err(LedgerError::Log(_))
    ));
    assert_eq!(faulty.inner().head().await.unwrap(), 1, "stored, ack lost");
    faulty.set_plan(FaultPlan {
        dedupe_expired: 1000,
        ..FaultPlan::default()
    });
    let again = l.execute(Submitted::new(cmd)).await.expect("the retry");
    assert_eq!((again.seq, again.duplicate), (1, true));
    assert_eq!(faulty.inner().head().await.unwrap(), 1, "stored once");
}

#[tokio::test]
async fn loads_through_disordered_deliveries_are_exact_or_refused() {
    let clean = ledger(MemoryLog::new());
    for item in history() {
        clean.execute(item).await.unwrap();
    }
    let (kind, entity) = define(1).entity(&tenant());
    let want = clean.load(&tenant(), kind, entity).await.unwrap();
    let (mut exact, mut refused) = (0, 0);
    for seed in 0..200 {
        let faulty = FaultLog::new(
            clean.log().as_ref().clone(),
            FaultPlan {
                seed,
                duplicate: 100,
                reorder: 100,
                ..FaultPlan::default()
            },
        );
        match ledger(faulty).load(&tenant(), kind, entity).await {
            Ok(got) => {
                assert_eq!(got.state, want.state, "seed {seed}: state");
                assert_eq!(got.version, want.version, "seed {seed}: version");
                assert_eq!(got.commands, want.commands, "seed {seed}: commands");
                exact += 1;
            }
            Err(LedgerError::Log(_)) => refused += 1,
            Err(e) => panic!("seed {seed}: unexpected {e}"),
        }
    }
    assert!(exact > 0 && refused > 0, "exact {exact}, refused {refused}");
}

#[tokio::test]
async fn a_backdated_command_is_refused_when_the_head_is_not_delivered() {
    let faulty = FaultLog::new(MemoryLog::new(), FaultPlan::default());
    let l = ledger(faulty.clone());
    l.execute(Submitted::at(envelope(1, define(1)), Timestamp(2_000)))
        .await
        .unwrap();
    // Every read now loses its records: the ledger cannot see the latest
    // recorded time, so it must not accept one earlier than it.
    faulty.set_plan(FaultPlan {
        gap: 1000,
        ..FaultPlan::default()
    });
    let early = Submitted::at(envelope(2, define(2)), Timestamp(1_000));
    match l.execute(early).await {
        Err(LedgerError::Log(_) | LedgerError::Backdated { .. }) => {}
        other => panic!("a backdated command got through: {other:?}"),
    }
    assert_eq!(faulty.inner().head().await.unwrap(), 1);
}

/// A define, then a result and three restatements for each quarter.
fn history() -> Vec<Submitted> {
    let mut id = 100;
    let mut submit = |c: Command| {
        id += 1;
        Submitted::new(envelope(id, c))
    };
    let mut items = vec![submit(define(1))];
    for q in 1..=4 {
        let period = Period::parse(&format!("2016/17 Q{q}")).unwrap();
        items.push(submit(Command::RecordResult {
            indicator: reference(1),
            period,
            entry: entry(60),
        }));
        for v in [61, 62, 63] {
            items.push(submit(Command::RestateResult {
                indicator: reference(1),
                period,
                entry: entry(v),
                reason: t("late returns"),
            }));
        }
    }
    items
}

#[tokio::test]
async fn retries_are_recognised_when_reads_lose_records() {
    let base = MemoryLog::new();
    let items = history();
    let writer = ledger(base.clone());
    for item in &items {
        writer.execute(item.clone()).await.unwrap();
    }
    let head = base.head().await.unwrap();
    // A second ledger (a restarted process) learns the command ids through
    // reads that lose records: it must refuse to decide, not forget ids.
    let faulty = FaultLog::new(
        base.clone(),
        FaultPlan {
            seed: 1,
            gap: 300,
            ..FaultPlan::default()
        },
    );
    let l = ledger(faulty.clone());
    for item in &items {
        match l.execute(item.clone()).await {
            Ok(e) => assert!(e.duplicate, "{e:?}"),
            Err(LedgerError::Log(_)) => {}
            Err(e) => panic!("a retry was not recognised through lossy reads: {e}"),
        }
    }
    assert!(faulty.counts().gap > 0);
    // Clean reads: every retry is a duplicate, nothing appended.
    faulty.set_plan(FaultPlan::default());
    for item in &items {
        let e = l.execute(item.clone()).await.expect("a clean retry");
        assert!(e.duplicate, "{e:?}");
    }
    // Every read loses its records again: still no decision on a guess.
    faulty.set_plan(FaultPlan {
        gap: 1000,
        ..FaultPlan::default()
    });
    for item in &items {
        match l.execute(item.clone()).await {
            Ok(e) => assert!(e.duplicate, "{e:?}"),
            Err(LedgerError::Log(_)) => {}
            Err(e) => panic!("a retry was not recognised when its record was lost: {e}"),
        }
    }
    assert_eq!(base.head().await.unwrap(), head, "nothing appended twice");
}
