//! A fault-injecting [`EventLog`] for simulation tests (issue #11).
//!
//! Invariant: every fault [`FaultLog`] injects is one a real backend can
//! produce, and it never changes what the inner log stores except as that
//! fault would: a lost ack stores the commit and reports an error; an
//! unavailable log stores nothing; duplicate, reordered and missing records
//! are faults of *delivery* only — the inner log keeps its gapless order.
//! Readers (the ledger, the projector) must detect such a delivery fault
//! and refuse, or recover; they must never act on it.
//!
//! The plan is deterministic: one seeded splitmix64 stream decides every
//! fault, one draw per decision, in call order. A test that calls the log
//! from one task replays exactly from its seed; nothing here reads a clock
//! or sleeps. Unavailability lasts a number of *calls*, not a time.
//!
//! Why here and not in `perfledger-log`: the in-memory log itself
//! (`perfledger_log::MemoryLog`) is a plain backend proven by the
//! conformance suite; faults and randomness belong to the test harness, so
//! production code holds neither. The wrapper takes any `EventLog`.
//!
//! Faults, and where they apply:
//!
//! | fault | calls | effect |
//! |---|---|---|
//! | unavailable | all but `tail`, `capabilities` | `LogError::Unavailable` for the next few calls; nothing stored |
//! | lost ack | `append`, `append_batch`, `append_pipelined` | stored, then `LogError::Unavailable` (pipelined: the acked prefix is cut short) |
//! | dedupe window expired | appends | the log does not recognise a re-sent msg id and stores the commit again, under the same msg id (JetStream after its duplicate window) |
//! | duplicate | `read`, `read_subject` | a record is delivered again, right after a later one |
//! | reorder | `read`, `read_subject` | two neighbouring records swap places |
//! | gap | `read` | a record is not delivered |
//!
//! An expired dedupe window is made with the inner log's own dedupe: the
//! commit goes in under a fresh msg id, and every record read back carries
//! the original id again, so readers see what JetStream would store.
//!
//! `read_subject` gets no gaps: a subject's sequences are sparse, so a
//! missing record inside them cannot be told from the log's answer; only the
//! version check at the append (a conflict) could notice one at the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use perfledger_log::{
    Appended, BatchProgress, Capabilities, Commit, EventLog, LogError, LogRecord, RecordStream,
    Seq, Subject, Until,
};
use uuid::Uuid;

/// How often each fault strikes, in per mille of the decisions it applies
/// to (0 = never, 1000 = always).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Seed of the decision stream.
    pub seed: u64,
    /// Per call: the log becomes unavailable (this call fails).
    pub unavailable: u32,
    /// How many further calls fail once it is unavailable.
    pub outage_calls: u32,
    /// Per successful append call: the acknowledgement is lost.
    pub lost_ack: u32,
    /// Per appended commit: the log no longer remembers its msg id.
    pub dedupe_expired: u32,
    /// Per delivered record: it is delivered again later.
    pub duplicate: u32,
    /// Per delivered record: it swaps places with the next.
    pub reorder: u32,
    /// Per delivered record of `read`: it is not delivered.
    pub gap: u32,
}

/// How many faults of each kind were injected so far (tests assert their
/// faults actually struck).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub unavailable: u64,
    pub lost_ack: u64,
    pub dedupe_expired: u64,
    pub duplicate: u64,
    pub reorder: u64,
    pub gap: u64,
}

/// splitmix64: small, seeded, the same on every platform.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn per_mille(&mut self, pm: u32) -> bool {
        pm > 0 && self.next_u64() % 1000 < u64::from(pm)
    }
}

struct State {
    plan: FaultPlan,
    rng: Rng,
    /// Calls still to fail in the current outage.
    outage_left: u32,
    counts: FaultCounts,
    /// Fresh msg id given to the inner log → the id the commit was sent with.
    renamed: HashMap<Uuid, Uuid>,
}

/// An [`EventLog`] that injects the faults of a [`FaultPlan`] around an
/// inner log. Clones share the plan's state.
#[derive(Clone)]
pub struct FaultLog<L> {
    inner: L,
    state: Arc<Mutex<State>>,
}

fn outage(what: &str) -> LogError {
    LogError::Unavailable(format!("injected fault: log unavailable ({what})"))
}

fn lost(what: &str) -> LogError {
    LogError::Unavailable(format!("injected fault: acknowledgement of {what} lost"))
}

impl<L: EventLog + Clone> FaultLog<L> {
    /// Wrap `inner`, injecting faults by `plan`.
    pub fn new(inner: L, plan: FaultPlan) -> Self {
        let rng = Rng(plan.seed ^ 0xF417_F417_F417_F417);
        FaultLog {
            inner,
            state: Arc::new(Mutex::new(State {
                plan,
                rng,
                outage_left: 0,
                counts: FaultCounts::default(),
                renamed: HashMap::new(),
            })),
        }
    }

    /// The inner log (fault-free access, for checking what was stored).
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// Faults injected so far.
    pub fn counts(&self) -> FaultCounts {
        self.with(|s| s.counts)
    }

    /// Replace the plan (e.g. all zeros: no more faults); the decision
    /// stream goes on where it was.
    pub fn set_plan(&self, plan: FaultPlan) {
        self.with(|s| {
            s.plan = plan;
            s.outage_left = 0;
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A panic elsewhere while holding the lock leaves plain data behind.
        let mut s = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        f(&mut s)
    }

    /// Does this call fail for unavailability?
    fn unavailable(&self) -> bool {
        self.with(|s| {
            if s.outage_left > 0 {
                s.outage_left -= 1;
            } else if s.rng.per_mille(s.plan.unavailable) {
                s.outage_left = s.plan.outage_calls;
            } else {
                return false;
            }
            s.counts.unavailable += 1;
            true
        })
    }

    fn ack_lost(&self) -> bool {
        self.with(|s| {
            let hit = s.rng.per_mille(s.plan.lost_ack);
            s.counts.lost_ack += u64::from(hit);
            hit
        })
    }

    /// Commits as the log will see them: some with a msg id it has never
    /// seen (its dedupe window expired).
    fn forget_ids(&self, mut commits: Vec<Commit>) -> Vec<Commit> {
        self.with(|s| {
            for c in &mut commits {
                if s.rng.per_mille(s.plan.dedupe_expired) {
                    let fresh = Uuid::from_u64_pair(s.rng.next_u64(), s.rng.next_u64());
                    s.renamed.insert(fresh, c.msg_id);
                    c.msg_id = fresh;
                    s.counts.dedupe_expired += 1;
                }
            }
        });
        commits
    }

    /// The record as a log that forgot its dedupe window would hold it:
    /// under the msg id it was sent with.
    fn restore_id(renamed: &HashMap<Uuid, Uuid>, mut r: LogRecord) -> LogRecord {
        if let Some(original) = renamed.get(&r.msg_id) {
            r.msg_id = *original;
        }
        r
    }

    /// Apply the delivery faults to records read in order.
    fn deliver(&self, records: Vec<LogRecord>, gaps: bool) -> Vec<LogRecord> {
        self.with(|s| {
            let records: Vec<LogRecord> = records
                .into_iter()
                .map(|r| Self::restore_id(&s.renamed, r))
                .collect();
            let mut out: Vec<LogRecord> = Vec::with_capacity(records.len());
            let mut held: Option<LogRecord> = None;
            for r in records {
                if gaps && s.rng.per_mille(s.plan.gap) {
                    s.counts.gap += 1;
                    continue;
                }
                let dup = s.rng.per_mille(s.plan.duplicate);
                if let Some(h) = held.take() {
                    out.push(r.clone());
                    out.push(h);
                } else if s.rng.per_mille(s.plan.reorder) {
                    s.counts.reorder += 1;
                    held = Some(r.clone());
                } else {
                    out.push(r.clone());
                }
                if dup && held.is_none() {
                    // Delivered again after the record that follows it.
                    s.counts.duplicate += 1;
                    held = Some(r);
                }
            }
            out.extend(held);
            out
        })
    }
}

impl<L: EventLog + Clone> EventLog for FaultLog<L> {
    async fn append(&self, commit: Commit) -> Result<Appended, LogError> {
        if self.unavailable() {
            return Err(outage("append"));
        }
        let commit = self.forget_ids(vec![commit]).remove(0);
        let a = self.inner.append(commit).await?;
        if self.ack_lost() {
            return Err(lost("an append"));
        }
        Ok(a)
    }

    async fn append_batch(&self, commits: Vec<Commit>) -> Result<Vec<Appended>, LogError> {
        if self.unavailable() {
            return Err(outage("append_batch"));
        }
        let a = self.inner.append_batch(self.forget_ids(commits)).await?;
        if self.ack_lost() {
            return Err(lost("a batch"));
        }
        Ok(a)
    }

    async fn append_pipelined(&self, commits: Vec<Commit>) -> BatchProgress {
        if self.unavailable() {
            return BatchProgress {
                appended: Vec::new(),
                error: Some(outage("append_pipelined")),
            };
        }
        let mut p = self.inner.append_pipelined(self.forget_ids(commits)).await;
        if p.error.is_none() && !p.appended.is_empty() && self.ack_lost() {
            // The acks of a stored tail never arrived.
            let keep = self.with(|s| s.rng.next_u64()) as usize % p.appended.len();
            p.appended.truncate(keep);
            p.error = Some(lost("a pipelined tail"));
        }
        p
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = self.inner.capabilities();
        if self.with(|s| s.plan.dedupe_expired > 0) {
            // It forgets msg ids at once: no dedupe window to rely on.
            c.dedupe_window = std::time::Duration::ZERO;
        }
        c
    }

    async fn head(&self) -> Result<Seq, LogError> {
        if self.unavailable() {
            return Err(outage("head"));
        }
        self.inner.head().await
    }

    async fn subject_version(&self, subject: &Subject) -> Result<Seq, LogError> {
        if self.unavailable() {
            return Err(outage("subject_version"));
        }
        self.inner.subject_version(subject).await
    }

    async fn read_subject(&self, subject: &Subject) -> Result<Vec<LogRecord>, LogError> {
        if self.unavailable() {
            return Err(outage("read_subject"));
        }
        let records = self.inner.read_subject(subject).await?;
        Ok(self.deliver(records, false))
    }

    /// The bounded read is taken whole from the inner log, then delivered
    /// with faults; an outage ends the stream with an error after a prefix.
    fn read(&self, from: Seq, until: Until) -> RecordStream {
        let this = self.clone();
        futures::stream::once(async move {
            let mut items: Vec<Result<LogRecord, LogError>> = Vec::new();
            if this.unavailable() {
                items.push(Err(outage("read")));
                return futures::stream::iter(items);
            }
            let mut records = Vec::new();
            let mut inner = this.inner.read(from, until);
            while let Some(item) = inner.next().await {
                match item {
                    Ok(r) => records.push(r),
                    Err(e) => {
                        items.push(Err(e));
                        break;
                    }
                }
            }
            let mut delivered: Vec<_> = this.deliver(records, true).into_iter().map(Ok).collect();
            if !delivered.is_empty() && this.unavailable() {
                // The outage strikes part-way through the delivery.
                let keep = this.with(|s| s.rng.next_u64()) as usize % delivered.len();
                delivered.truncate(keep);
                delivered.push(Err(outage("read, part-way")));
            }
            delivered.extend(items);
            futures::stream::iter(delivered)
        })
        .flatten()
        .boxed()
    }

    /// Live tails get no faults (future work), only their msg ids back.
    fn tail(&self, from: Seq) -> RecordStream {
        let this = self.clone();
        self.inner
            .tail(from)
            .map(move |r| r.map(|r| this.with(|s| Self::restore_id(&s.renamed, r))))
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use perfledger_log::{Expected, MemoryLog};

    fn commit(i: u128) -> Commit {
        Commit {
            subject: Subject::entity("pl", "t", "k", Uuid::from_u128(i + 1)).unwrap(),
            expected: Expected::Empty,
            msg_id: Uuid::from_u128(0xF0 + i),
            recorded_at: i as i64,
            payload: Bytes::from_static(b"x"),
        }
    }

    async fn seqs(log: &FaultLog<MemoryLog>) -> Vec<Result<Seq, String>> {
        log.read(1, Until::Head)
            .map(|r| r.map(|r| r.seq).map_err(|e| e.to_string()))
            .collect()
            .await
    }

    #[tokio::test]
    async fn no_faults_is_the_inner_log_and_a_seed_replays() {
        let plan = FaultPlan {
            seed: 7,
            duplicate: 200,
            reorder: 200,
            gap: 100,
            ..FaultPlan::default()
        };
        let clean = FaultLog::new(MemoryLog::new(), FaultPlan::default());
        let a = FaultLog::new(MemoryLog::new(), plan.clone());
        let b = FaultLog::new(MemoryLog::new(), plan);
        for i in 0..50 {
            for log in [&clean, &a, &b] {
                log.append(commit(i)).await.unwrap();
            }
        }
        assert_eq!(seqs(&clean).await, (1..=50).map(Ok).collect::<Vec<_>>());
        let (fa, fb) = (seqs(&a).await, seqs(&b).await);
        assert_eq!(fa, fb, "one seed, one delivery");
        assert_ne!(fa, seqs(&clean).await);
        let c = a.counts();
        assert!(c.duplicate > 0 && c.reorder > 0 && c.gap > 0, "{c:?}");
    }

    #[tokio::test]
    async fn a_lost_ack_stores_and_an_outage_does_not() {
        let log = FaultLog::new(
            MemoryLog::new(),
            FaultPlan {
                lost_ack: 1000,
                ..FaultPlan::default()
            },
        );
        assert!(log.append(commit(0)).await.is_err());
        assert_eq!(log.inner().head().await.unwrap(), 1);
        log.set_plan(FaultPlan {
            unavailable: 1000,
            ..FaultPlan::default()
        });
        assert!(log.append(commit(1)).await.is_err());
        assert_eq!(log.inner().head().await.unwrap(), 1);
    }
}
