//! Appending: staging and the group commit.
//!
//! Invariant: a record is acknowledged only after the frame holding it is
//! written and fsynced, and each request is all-or-nothing. Concurrent
//! requests are queued; whoever holds the writer drains the queue, stages
//! every request against the index (and the requests staged before it),
//! writes all new records as one frame with one fsync, and only then
//! updates the index (and, before letting it go, the head readers wait on)
//! and answers. A failed write is rolled back and fails
//! every request of the group.
//!
//! One committer at a time: the append that finds no committer running
//! starts one (a blocking task), which commits group after group until it
//! finds the queue empty, and says so under the queue's lock, so an append
//! queued after that starts the next. Appends only wait for their answer.
//! A committer that fails or panics fails the requests still queued
//! ([`Committer`]'s drop), so no append waits for a committer that is gone.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};

use uuid::Uuid;

use super::format::{encode_frame, encode_record, LogRecordRef};
use super::ids::MsgIds;
use super::{io_err, poisoned, EmbeddedLog, Index, Inner, FRAME_HEADER, REC_HEADER};
use crate::{check_commit, expected_ok, Appended, Commit, LogError, Seq, Subject};

/// The writing end of the data file and its length (the end of the last
/// acknowledged frame).
pub(super) struct Writer {
    pub(super) file: File,
    pub(super) len: u64,
    /// Why appends are refused: a failed write could not be rolled back, so
    /// the file may hold part of an unacknowledged frame after `len` and the
    /// next frame would land behind it. Reopening the log sets such a torn
    /// tail aside.
    pub(super) broken: Option<String>,
    /// Every record's msg id, built by the first append (see [`MsgIds`]):
    /// only appends dedupe, so a reader never pays for it.
    pub(super) ids: Option<MsgIds>,
}

/// Records read at a time while building the msg-id index.
const IDS_CHUNK: Seq = 65_536;

/// An append waiting for the group commit.
pub(super) struct Queued {
    commits: Vec<Commit>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<Appended>, LogError>>,
}

/// Appends waiting for the group commit, and whether a committer runs.
#[derive(Default)]
pub(super) struct Queue {
    requests: Vec<Queued>,
    /// A committer is running: it commits until it finds `requests` empty
    /// and clears this under the same lock.
    committing: bool,
}

/// The running committer's claim, moved into its task: dropped before
/// [`Committer::finish_if_empty`] found the queue empty (the committer
/// failed or panicked, or its task never ran), it lets the next append
/// start a committer and fails every request still queued (their callers
/// get "dropped" rather than wait).
struct Committer {
    inner: std::sync::Arc<Inner>,
    finished: bool,
}

impl Committer {
    /// Whether the queue is empty; if it is, the claim is given up under
    /// the same lock (the next append starts a committer).
    fn finish_if_empty(&mut self) -> Result<bool, LogError> {
        let mut q = self.inner.queue.lock().map_err(|_| poisoned("queue"))?;
        if q.requests.is_empty() {
            q.committing = false;
            self.finished = true;
        }
        Ok(self.finished)
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // A poisoned queue is still cleared: its requests must not wait.
        let mut q = self
            .inner
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        q.committing = false;
        q.requests.clear();
    }
}

/// A request and what to answer it.
type Answer = (Queued, Result<Vec<Appended>, LogError>);

struct NewRec {
    start: usize,
    len: usize,
    subject: Subject,
    msg_id: Uuid,
    recorded_at: i64,
}

/// Records staged for one group commit.
#[derive(Default)]
struct Group {
    next: Seq,
    body: Vec<u8>,
    new: Vec<NewRec>,
    ids: HashMap<Uuid, Seq>,
    versions: HashMap<Subject, Seq>,
}

impl EmbeddedLog {
    /// Validate one request against the index plus what the current group
    /// already holds; encode its new records into `g`. All-or-nothing per
    /// request: on error nothing of it stays in `g`.
    fn stage(
        inner: &Inner,
        idx: &Index,
        known: &MsgIds,
        g: &mut Group,
        commits: &[Commit],
    ) -> Result<Vec<Appended>, LogError> {
        let mut out = Vec::with_capacity(commits.len());
        let mut ids: HashMap<Uuid, Seq> = HashMap::new();
        let mut versions: HashMap<&Subject, Seq> = HashMap::new();
        let body_mark = g.body.len();
        let new_mark = g.new.len();
        let mut next = g.next;
        for c in commits {
            let staged = ids.get(&c.msg_id).or_else(|| g.ids.get(&c.msg_id));
            let seen = match staged {
                Some(&seq) => Some(seq),
                None => known.find(&c.msg_id, |seq| Self::id_at(inner, idx, seq))?,
            };
            if let Some(seq) = seen {
                out.push(Appended {
                    seq,
                    duplicate: true,
                });
                continue;
            }
            let current = versions
                .get(&c.subject)
                .or_else(|| g.versions.get(&c.subject))
                .copied()
                .unwrap_or_else(|| idx.version(&c.subject));
            if !expected_ok(c.expected, current) {
                g.body.truncate(body_mark);
                g.new.truncate(new_mark);
                return Err(LogError::Conflict {
                    subject: c.subject.clone(),
                    expected: c.expected,
                    current,
                });
            }
            let start = g.body.len();
            encode_record(
                &mut g.body,
                next,
                &LogRecordRef {
                    subject: c.subject.as_str(),
                    msg_id: c.msg_id,
                    recorded_at: c.recorded_at,
                    payload: &c.payload,
                },
            );
            g.new.push(NewRec {
                start,
                len: g.body.len() - start,
                subject: c.subject.clone(),
                msg_id: c.msg_id,
                recorded_at: c.recorded_at,
            });
            ids.insert(c.msg_id, next);
            versions.insert(&c.subject, next);
            out.push(Appended {
                seq: next,
                duplicate: false,
            });
            next += 1;
        }
        g.next = next;
        g.ids.extend(ids);
        for (s, v) in versions {
            g.versions.insert(s.clone(), v);
        }
        Ok(out)
    }

    /// The committer: group commits until it finds the queue empty (see
    /// the module docs).
    fn commit_while_queued(mut committer: Committer) -> Result<(), LogError> {
        while !committer.finish_if_empty()? {
            Self::commit_queued(&committer.inner)?;
        }
        Ok(())
    }

    /// Group commit: holding the writer, drain every queued request, write
    /// all their new records as ONE frame, fsync once, let the writer go,
    /// then answer each request.
    fn commit_queued(inner: &Inner) -> Result<(), LogError> {
        let mut w = inner.writer.lock().map_err(|_| poisoned("writer"))?;
        let answers = Self::commit_group(inner, &mut w)?;
        drop(w);
        for (q, r) in answers {
            // A caller that went away needs no answer.
            let _ = q.reply.send(r);
        }
        Ok(())
    }

    /// The group commit of [`Self::commit_queued`] by the holder of the
    /// writer `w`: the answers to send once it lets `w` go (requests failed
    /// as a group are answered here).
    fn commit_group(inner: &Inner, w: &mut Writer) -> Result<Vec<Answer>, LogError> {
        let queued: Vec<Queued> =
            std::mem::take(&mut inner.queue.lock().map_err(|_| poisoned("queue"))?.requests);
        if queued.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(why) = &w.broken {
            for q in queued {
                // A caller that went away needs no answer.
                let _ = q.reply.send(Err(LogError::Unavailable(format!(
                    "embedded log {} refuses appends until reopened: {why}",
                    inner.data_path.display()
                ))));
            }
            return Ok(Vec::new());
        }
        if w.ids.is_none() {
            match Self::read_ids(inner) {
                Ok(ids) => w.ids = Some(ids),
                Err(e) => {
                    // Nothing was staged: every request fails with the read's error.
                    let msg = e.to_string();
                    for q in queued {
                        let _ = q.reply.send(Err(LogError::Unavailable(format!(
                            "embedded log {}: indexing msg ids for dedupe failed: {msg}",
                            inner.data_path.display()
                        ))));
                    }
                    return Ok(Vec::new());
                }
            }
        }
        let known = w.ids.as_ref().expect("the msg-id index was built above");
        let mut g = Group::default();
        let mut answers: Vec<Answer> = Vec::new();
        {
            let idx = inner.index.read().map_err(|_| poisoned("index"))?;
            g.next = idx.head() + 1;
            for q in queued {
                let r = q
                    .commits
                    .iter()
                    .try_for_each(|c| check_commit(c, inner.opts.max_payload))
                    .and_then(|_| Self::stage(inner, &idx, known, &mut g, &q.commits));
                answers.push((q, r));
            }
        }
        if !g.new.is_empty() {
            let frame = encode_frame(g.new.len() as u32, &g.body);
            let base = w.len;
            let res = w.file.write_all(&frame).and_then(|_| w.file.sync_data());
            if let Err(e) = res {
                // Roll back a partial write: the file never keeps an unacknowledged frame.
                let rollback = w
                    .file
                    .set_len(base)
                    .and_then(|_| w.file.seek(SeekFrom::Start(base)));
                if let Err(r) = rollback {
                    w.broken = Some(format!(
                        "a failed write ({e}) could not be rolled back ({r})"
                    ));
                }
                // Nothing of this group is durable: fail every request in it
                // (even all-duplicate ones, which may point into this group).
                let msg = e.to_string();
                for (q, _) in answers {
                    let _ = q.reply.send(Err(io_err(
                        &inner.data_path,
                        std::io::Error::new(e.kind(), msg.clone()),
                    )));
                }
                return Ok(Vec::new());
            }
            w.len = base + frame.len() as u64;
            let ids = w.ids.as_mut().expect("the msg-id index was built above");
            let mut idx = inner.index.write().map_err(|_| poisoned("index"))?;
            for n in g.new {
                let seq = idx.push(
                    base + (FRAME_HEADER + n.start) as u64,
                    n.len as u32,
                    n.subject,
                    n.recorded_at,
                );
                ids.insert(n.msg_id, seq);
            }
            // Readers' head moves before the index is let go: whoever sees
            // the new head in the index (`head`, `subject_version`) and
            // then reads up to it finds it in the head a read goes by.
            inner.head_tx.send_replace(idx.head());
            drop(idx);
        }
        Ok(answers)
    }

    /// The msg-id index of every record, read from the data file (CRCs
    /// checked) `IDS_CHUNK` records at a time.
    fn read_ids(inner: &Inner) -> Result<MsgIds, LogError> {
        let head = inner.index.read().map_err(|_| poisoned("index"))?.head();
        MsgIds::build(head, IDS_CHUNK, |from, to| {
            Self::read_chunk_with(inner, from, to, |_, v| Ok(v.msg_id))
        })
    }

    /// The msg id of record `seq` (a fingerprint hit to confirm), read from
    /// the file where the index puts it.
    fn id_at(inner: &Inner, idx: &Index, seq: Seq) -> Result<Uuid, LogError> {
        use std::os::unix::fs::FileExt;
        let offset = idx.offset(seq);
        let mut id = [0u8; 16];
        inner
            .reader
            .read_exact_at(&mut id, offset + (REC_HEADER + 16) as u64)
            .map_err(|e| io_err(&inner.data_path, e))?;
        Ok(Uuid::from_bytes(id))
    }

    pub(super) async fn append_many(
        &self,
        commits: Vec<Commit>,
    ) -> Result<Vec<Appended>, LogError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let start = {
            let mut q = self.inner.queue.lock().map_err(|_| poisoned("queue"))?;
            q.requests.push(Queued { commits, reply });
            !std::mem::replace(&mut q.committing, true)
        };
        if start {
            // One blocking task commits for every append queued while it
            // runs. A task per append, each waiting for the writer, held
            // up to the runtime's 512 blocking threads under 32 writers
            // (`log_bench --writers`), which reads also run on.
            let committer = Committer {
                inner: self.inner.clone(),
                finished: false,
            };
            tokio::task::spawn_blocking(move || {
                let data = committer.inner.data_path.clone();
                if let Err(e) = Self::commit_while_queued(committer) {
                    tracing::warn!(log = %data.display(), error = %e, "embedded log committer failed; its queued appends fail");
                }
            });
        }
        // The committer answers, or fails and drops the request.
        rx.await.map_err(|_| {
            LogError::Unavailable(
                "append was dropped by the group commit (its committer failed)".into(),
            )
        })?
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use uuid::Uuid;

    use super::*;
    use crate::{EventLog, Expected};

    /// An append is answered once the group holding it is committed, while
    /// its own commit task still waits for the writer (held here, as by the
    /// leader of a later group during its fsync). Before, the caller also
    /// waited for that task: for later groups not its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    // Holding the writer across the awaits below is the point.
    #[allow(clippy::await_holding_lock)]
    async fn an_append_is_answered_without_waiting_for_the_writer_again() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path()).await.unwrap();
        let inner = log.inner.clone();
        let mut writer = inner.writer.lock().unwrap();
        let appending = tokio::spawn({
            let log = log.clone();
            async move {
                log.append(Commit {
                    subject: Subject::entity("pl", "t", "k", Uuid::from_u128(1)).unwrap(),
                    expected: Expected::Empty,
                    msg_id: Uuid::from_u128(1),
                    recorded_at: 1,
                    payload: bytes::Bytes::from_static(b"one"),
                })
                .await
            }
        });
        // Queued, with its own task waiting for the writer held here.
        while inner.queue.lock().unwrap().requests.is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The group committed and answered as its leader would, the writer
        // still held.
        let answers = EmbeddedLog::commit_group(&inner, &mut writer).unwrap();
        assert_eq!(answers.len(), 1, "one request queued");
        for (q, r) in answers {
            let _ = q.reply.send(r);
        }
        let appended = tokio::time::timeout(Duration::from_secs(5), appending)
            .await
            .expect("the append is answered while the writer is held")
            .expect("the append task")
            .expect("appended");
        assert_eq!(appended.seq, 1);
        drop(writer);
        assert_eq!(log.head().await.unwrap(), 1);
    }

    /// However many appends wait, one committer runs: appends queued while
    /// the writer is held (as during a group's fsync) start no task of
    /// their own, and are all committed, as one group, once it is free.
    /// Before, every append spawned a blocking task that waited for the
    /// writer: 32 writers held the runtime's 512 blocking threads.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    // Holding the writer across the awaits below is the point.
    #[allow(clippy::await_holding_lock)]
    async fn appends_waiting_for_the_writer_share_one_committer() {
        const APPENDS: usize = 50;
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path()).await.unwrap();
        let inner = log.inner.clone();
        let writer = inner.writer.lock().unwrap();
        let appends: Vec<_> = (0..APPENDS)
            .map(|i| {
                let log = log.clone();
                tokio::spawn(async move {
                    let id = Uuid::from_u128(i as u128 + 1);
                    log.append(Commit {
                        subject: Subject::entity("pl", "t", "k", id).unwrap(),
                        expected: Expected::Empty,
                        msg_id: id,
                        recorded_at: 1,
                        payload: bytes::Bytes::from_static(b"one"),
                    })
                    .await
                })
            })
            .collect();
        while inner.queue.lock().unwrap().requests.len() < APPENDS {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(inner.queue.lock().unwrap().committing, "a committer runs");
        assert_eq!(
            std::sync::Arc::strong_count(&inner),
            // This test's two handles, the tasks' clones of the log, and
            // the one committer's.
            2 + APPENDS + 1,
            "one committer holds the log, not one per append"
        );
        drop(writer);
        let mut seqs = Vec::new();
        for a in appends {
            seqs.push(a.await.unwrap().unwrap().seq);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=APPENDS as u64).collect::<Vec<_>>());
        // The committer gives up its claim once the queue is empty.
        while inner.queue.lock().unwrap().committing {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(log.head().await.unwrap(), APPENDS as u64);
    }

    /// A committer that fails fails the appends still queued, and the next
    /// append starts a committer of its own: none waits for one that is
    /// gone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_committer_fails_its_queue_and_the_next_append_starts_anew() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path()).await.unwrap();
        let inner = log.inner.clone();
        let commit = |i: u128| Commit {
            subject: Subject::entity("pl", "t", "k", Uuid::from_u128(i)).unwrap(),
            expected: Expected::Empty,
            msg_id: Uuid::from_u128(i),
            recorded_at: 1,
            payload: bytes::Bytes::from_static(b"one"),
        };
        // A committer whose task dies with requests still queued (as one
        // whose writer lock was poisoned returns early).
        let (reply, rx) = tokio::sync::oneshot::channel();
        {
            let mut q = inner.queue.lock().unwrap();
            q.requests.push(Queued {
                commits: vec![commit(1)],
                reply,
            });
            q.committing = true;
        }
        drop(Committer {
            inner: inner.clone(),
            finished: false,
        });
        assert!(
            rx.await.is_err(),
            "the queued request is failed, not left waiting"
        );
        assert!(!inner.queue.lock().unwrap().committing);
        let appended = tokio::time::timeout(Duration::from_secs(5), log.append(commit(2)))
            .await
            .expect("the next append starts a committer")
            .unwrap();
        assert_eq!(appended.seq, 1);
    }
}
