//! Group commit: concurrent single appends gathered into atomic batches.
//!
//! Invariant: every `append` gets exactly the answer it would get alone.
//! A group is sent as one ADR-50 atomic batch only when it holds commits
//! to distinct subjects with distinct msg ids (the server checks
//! `Nats-Expected-Last-Subject-Sequence` on every first write to a subject
//! in a batch, and refuses a batch holding a stored msg id); then the
//! batch's outcome is each commit's own: stored on consecutive sequences,
//! none of them a duplicate. If the server refuses the batch for any reason
//! (one stale expectation, one msg id already stored, too many batches in
//! flight, a lost ack), each commit is re-sent on its own with its own
//! expectation and msg id and answered as a single append is: a stored
//! batch makes each re-send a duplicate of its own record, a refused one
//! stores each commit that is good alone.
//!
//! Why: with `sync_interval: always` nats-server 2.15 fsyncs once per
//! publish but about four times per committed atomic batch of any size, so
//! a group of N costs four fsyncs where N publishes cost N (issue #12). It
//! is off by default: the server stages every batch in a store of its own
//! before committing it, and on 2.15.1 (R1) that cost ate the saving in
//! the README's runs (0.7–1.4× single publishes at 32 writers); with the
//! timer fsync a batch still costs about three fsyncs and a publish none.
//!
//! Shape: appends queue for one driver task. It keeps at most
//! [`JetStreamOptions::group_in_flight`](super::JetStreamOptions::group_in_flight)
//! groups in flight; whenever one may start it takes everything queued (up
//! to [`JetStreamOptions::group_commit`](super::JetStreamOptions::group_commit)),
//! so an idle log sends a lone commit at once as a plain publish, and
//! commits only wait while earlier groups are in flight. A commit whose
//! subject or msg id is already in the group waits for the next one.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};

use futures::future::join_all;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{JetStreamLog, Shared};
use crate::{Appended, Commit, LogError};

/// One append waiting for its group.
pub(super) struct Waiting {
    commit: Commit,
    reply: oneshot::Sender<Result<Appended, LogError>>,
}

/// The queue into the driver.
pub(super) type GroupQueue = mpsc::UnboundedSender<Waiting>;

/// What the group commit did since the log was opened (for benchmarks and
/// tests; counts only, no effect on answers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Groups of one, sent as a plain publish.
    pub alone: u64,
    /// Groups of two or more stored as one atomic batch.
    pub batches: u64,
    /// Appends stored in those batches.
    pub batched: u64,
    /// Groups of two or more the server did not store as a batch, whose
    /// appends were then each sent alone.
    pub resent: u64,
}

/// The counters behind [`GroupCommitStats`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    alone: AtomicU64,
    batches: AtomicU64,
    batched: AtomicU64,
    resent: AtomicU64,
}

impl Counters {
    pub(super) fn snapshot(&self) -> GroupCommitStats {
        GroupCommitStats {
            alone: self.alone.load(Relaxed),
            batches: self.batches.load(Relaxed),
            batched: self.batched.load(Relaxed),
            resent: self.resent.load(Relaxed),
        }
    }
}

/// Start the driver of `shared`'s group commit; it ends when the last
/// handle on the log is dropped.
pub(super) fn start(shared: &Arc<Shared>, rx: mpsc::UnboundedReceiver<Waiting>) {
    let max = shared.opts.group_commit.max(1);
    let in_flight = shared.opts.group_in_flight.max(1);
    tokio::spawn(drive(Arc::downgrade(shared), rx, max, in_flight));
}

impl JetStreamLog {
    /// Append through the group commit driver.
    pub(super) async fn append_grouped(
        &self,
        queue: &GroupQueue,
        commit: Commit,
    ) -> Result<Appended, LogError> {
        let (reply, answer) = oneshot::channel();
        queue
            .send(Waiting { commit, reply })
            .map_err(|_| LogError::Unavailable("the log's group commit has stopped".into()))?;
        answer.await.map_err(|_| {
            LogError::Unavailable(
                "the log's group commit dropped an append (the log is closing); \
                 retry with the same msg id"
                    .into(),
            )
        })?
    }

    /// Commit one group and answer each of its appends.
    async fn commit_group(&self, group: Vec<Waiting>) {
        let (commits, replies): (Vec<Commit>, Vec<_>) =
            group.into_iter().map(|w| (w.commit, w.reply)).unzip();
        if commits.len() == 1 {
            self.s.group_counters.alone.fetch_add(1, Relaxed);
            let answer = self.append_alone(&commits[0]).await;
            let reply = replies.into_iter().next().expect("one reply per commit");
            // A caller that stopped waiting needs no answer.
            let _ = reply.send(answer);
            return;
        }
        if let Some(appended) = self.try_atomic_group(&commits).await {
            let c = &self.s.group_counters;
            c.batches.fetch_add(1, Relaxed);
            c.batched.fetch_add(appended.len() as u64, Relaxed);
            for (reply, a) in replies.into_iter().zip(appended) {
                let _ = reply.send(Ok(a));
            }
            return;
        }
        // Refused, or not known to be stored: each on its own, pipelined.
        self.s.group_counters.resent.fetch_add(1, Relaxed);
        let mut sent = Vec::with_capacity(commits.len());
        for c in &commits {
            sent.push(self.send(c).await);
        }
        let answers = join_all(commits.iter().zip(sent).map(|(c, fut)| async move {
            match fut {
                Ok(fut) => self.finish(c, fut).await,
                Err(e) => Err(e),
            }
        }))
        .await;
        for (reply, answer) in replies.into_iter().zip(answers) {
            let _ = reply.send(answer);
        }
    }

    /// What the group commit did since the log was opened (all zero when
    /// appends are not grouped).
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.s.group_counters.snapshot()
    }

    /// One commit as one message (the path without group commit).
    pub(super) async fn append_alone(&self, commit: &Commit) -> Result<Appended, LogError> {
        let fut = self.send(commit).await?;
        self.finish(commit, fut).await
    }
}

/// The driver: gathers queued appends into groups, at most `in_flight`
/// groups at a time, each of at most `max` commits.
async fn drive(
    shared: Weak<Shared>,
    mut rx: mpsc::UnboundedReceiver<Waiting>,
    max: usize,
    in_flight: usize,
) {
    let slots = Arc::new(Semaphore::new(in_flight));
    // Appends put off by an earlier group (same subject or msg id), oldest
    // first: they lead the next group.
    let mut carried: VecDeque<Waiting> = VecDeque::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let first = match carried.pop_front() {
            Some(w) => w,
            None => match rx.recv().await {
                Some(w) => w,
                None => return,
            },
        };
        let group = gather(first, &mut carried, &mut rx, max);
        let Some(s) = shared.upgrade() else {
            return;
        };
        let log = JetStreamLog { s };
        tokio::spawn(async move {
            log.commit_group(group).await;
            drop(slot);
        });
    }
}

/// `first` and what is waiting (carried first, then queued), up to `max`
/// commits to distinct subjects with distinct msg ids; the rest is carried.
fn gather(
    first: Waiting,
    carried: &mut VecDeque<Waiting>,
    rx: &mut mpsc::UnboundedReceiver<Waiting>,
    max: usize,
) -> Vec<Waiting> {
    let mut subjects = HashSet::from([first.commit.subject.as_str().to_string()]);
    let mut ids = HashSet::from([first.commit.msg_id]);
    let mut group = vec![first];
    let mut put_off = VecDeque::new();
    // Each waiting append is looked at once per group.
    let mut budget = carried.len() + max * 4;
    while group.len() < max && budget > 0 {
        budget -= 1;
        let Some(w) = carried.pop_front().or_else(|| rx.try_recv().ok()) else {
            break;
        };
        let subject = w.commit.subject.as_str();
        if subjects.contains(subject) || ids.contains(&w.commit.msg_id) {
            put_off.push_back(w);
            continue;
        }
        subjects.insert(subject.to_string());
        ids.insert(w.commit.msg_id);
        group.push(w);
    }
    put_off.append(carried);
    *carried = put_off;
    group
}

#[cfg(test)]
mod tests {
    //! On the modern server (`$NATS_SERVER_ATOMIC`). The tests run on a
    //! current-thread runtime: appends polled together by `join_all` are all
    //! queued before the driver runs, so they form one group.
    use futures::future::join_all;
    use uuid::Uuid;

    use super::super::JetStreamOptions;
    use super::*;
    use crate::{EventLog, Expected, Seq, Subject};

    fn subject(e: u128) -> Subject {
        Subject::entity("pl", "t", "k", Uuid::from_u128(e)).unwrap()
    }

    fn commit(e: u128, expected: Expected, id: u128) -> Commit {
        Commit {
            subject: subject(e),
            expected,
            msg_id: Uuid::from_u128(id),
            recorded_at: id as i64,
            payload: bytes::Bytes::from(format!("commit {id}")),
        }
    }

    async fn open(server: &perfledger_testkit::NatsServer) -> JetStreamLog {
        let log = JetStreamLog::connect(JetStreamOptions {
            url: server.url(),
            group_commit: 64,
            ..Default::default()
        })
        .await
        .unwrap();
        assert!(log.server_allows_atomic(), "the modern server is atomic");
        log
    }

    /// Entities 1..=n with one record each: entity e at sequence e.
    async fn seeded(log: &JetStreamLog, n: u128) {
        for e in 1..=n {
            let a = log.append(commit(e, Expected::Empty, 1000 + e)).await;
            assert_eq!(a.unwrap().seq, e as Seq);
        }
    }

    #[tokio::test]
    async fn concurrent_appends_are_one_batch_on_consecutive_sequences() {
        let server = perfledger_testkit::NatsServer::start_atomic();
        let log = open(&server).await;
        seeded(&log, 20).await;
        let before = log.group_commit_stats();
        assert_eq!(before.alone, 20, "one at a time: plain publishes");
        let answers =
            join_all((1..=20).map(|e| log.append(commit(e, Expected::At(e as Seq), 2000 + e))))
                .await;
        let seqs: Vec<Seq> = answers
            .into_iter()
            .map(|a| {
                let a = a.unwrap();
                assert!(!a.duplicate);
                a.seq
            })
            .collect();
        assert_eq!(seqs, (21..=40).collect::<Vec<Seq>>());
        let after = log.group_commit_stats();
        assert_eq!((after.batches, after.batched, after.resent), (1, 20, 0));
    }

    /// One stale expectation refuses the batch; each append is then
    /// answered as alone: the stale one a conflict naming its subject's
    /// version, the others stored.
    #[tokio::test]
    async fn one_stale_expectation_fails_only_its_own_append() {
        let server = perfledger_testkit::NatsServer::start_atomic();
        let log = open(&server).await;
        seeded(&log, 10).await;
        let answers = join_all((1..=10).map(|e| {
            // Entity 4 is at 4: expecting "empty" is stale.
            let expected = if e == 4 {
                Expected::Empty
            } else {
                Expected::At(e as Seq)
            };
            log.append(commit(e, expected, 2000 + e))
        }))
        .await;
        for (e, a) in (1..=10u128).zip(answers) {
            match (e, a) {
                (4, Err(LogError::Conflict { current, .. })) => assert_eq!(current, 4),
                (4, other) => panic!("entity 4 expected a conflict, got {other:?}"),
                (_, a) => assert!(!a.unwrap().duplicate, "entity {e} is stored"),
            }
        }
        assert_eq!(log.head().await.unwrap(), 19);
        assert_eq!(log.subject_version(&subject(4)).await.unwrap(), 4);
        assert_eq!(log.group_commit_stats().resent, 1);
    }

    /// Two appends to one subject expecting the same version (a race): they
    /// never share a batch; one is stored, the other is a conflict, as when
    /// sent alone; the rest of the group is unaffected.
    #[tokio::test]
    async fn a_race_on_one_subject_inside_a_group_is_a_plain_conflict() {
        let server = perfledger_testkit::NatsServer::start_atomic();
        let log = open(&server).await;
        seeded(&log, 5).await;
        let mut commits: Vec<Commit> = (1..=5)
            .map(|e| commit(e, Expected::At(e as Seq), 2000 + e))
            .collect();
        commits.push(commit(2, Expected::At(2), 3002));
        let answers = join_all(commits.into_iter().map(|c| log.append(c))).await;
        let (won, lost): (Vec<_>, Vec<_>) = answers.into_iter().partition(|a| a.is_ok());
        assert_eq!(won.len(), 5);
        assert!(
            matches!(lost[0], Err(LogError::Conflict { current, .. }) if current > 5),
            "{lost:?}"
        );
        assert_eq!(log.head().await.unwrap(), 10);
    }

    /// A msg id already stored, re-sent inside a group (refused whole by the
    /// server), is answered with its original sequence as a duplicate; the
    /// same msg id twice in one burst is stored once.
    #[tokio::test]
    async fn a_repeated_msg_id_is_a_duplicate_inside_and_between_groups() {
        let server = perfledger_testkit::NatsServer::start_atomic();
        let log = open(&server).await;
        seeded(&log, 6).await;
        // Between groups: entity 1's record (msg id 1001) re-sent with the
        // expectation it was first sent with, among new commits.
        let mut commits = vec![commit(1, Expected::Empty, 1001)];
        commits.extend((2..=6).map(|e| commit(e, Expected::At(e as Seq), 2000 + e)));
        let answers = join_all(commits.into_iter().map(|c| log.append(c))).await;
        let first = answers[0].as_ref().unwrap();
        assert_eq!((first.seq, first.duplicate), (1, true));
        for a in &answers[1..] {
            assert!(!a.as_ref().unwrap().duplicate);
        }
        assert_eq!(log.head().await.unwrap(), 11);
        // Inside one burst: the same commit twice (a client retry racing
        // its original) and a new one.
        // The fallback re-sent the group in order: entity 2 at 7, 3 at 8.
        let twice = commit(2, Expected::At(7), 4002);
        let answers = join_all([
            log.append(twice.clone()),
            log.append(twice),
            log.append(commit(3, Expected::At(8), 4003)),
        ])
        .await;
        let a: Vec<Appended> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(a[0].seq, a[1].seq, "one record for one msg id");
        assert_eq!(
            [a[0].duplicate, a[1].duplicate, a[2].duplicate],
            [false, true, false]
        );
        assert_eq!(log.head().await.unwrap(), 13);
    }

    /// Without group commit (the default) every append is alone.
    #[tokio::test]
    async fn without_group_commit_each_append_is_alone() {
        let server = perfledger_testkit::NatsServer::start_atomic();
        let log = JetStreamLog::connect(JetStreamOptions {
            url: server.url(),
            ..Default::default()
        })
        .await
        .unwrap();
        let answers =
            join_all((1..=8).map(|e| log.append(commit(e, Expected::Empty, 2000 + e)))).await;
        assert!(answers.iter().all(Result::is_ok));
        assert_eq!(log.group_commit_stats(), GroupCommitStats::default());
    }
}
