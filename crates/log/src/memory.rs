//! The in-memory log: the semantics of the other backends, no storage.
//!
//! Invariant: a `MemoryLog` answers every [`EventLog`] call exactly as the
//! embedded log would for the same calls (gapless sequences from 1, atomic
//! `append` and `append_batch`, optimistic concurrency per subject, dedupe by
//! msg id for the life of the store, `Until::RecordedAt` as a prefix), and the
//! shared conformance suite (`tests/log_conformance.rs`) proves it. It only
//! forgets everything when its last handle is dropped.
//!
//! It exists for tests that need a log without a directory or a server, and
//! as the inner log of the fault-injecting wrapper in `perfledger-testkit`
//! (`fault_log`), which keeps randomness and faults out of this crate: this
//! file holds no RNG, no clock and no fault.
//!
//! Clones share one store (like a reopened embedded directory);
//! [`MemoryLog::from_records`] builds a store from records read elsewhere
//! (tamper tests), refusing any that are not numbered 1, 2, 3, ...

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use tokio::sync::watch;
use uuid::Uuid;

use crate::{
    check_commit, expected_ok, Appended, BatchProgress, Capabilities, Commit, EventLog, LogError,
    LogRecord, RecordStream, Seq, Subject, Until, DEFAULT_MAX_BATCH, DEFAULT_MAX_PAYLOAD,
};

/// Options of the in-memory log (the same limits as the embedded log's).
#[derive(Debug, Clone)]
pub struct MemoryOptions {
    pub max_payload: usize,
    pub max_batch: usize,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_batch: DEFAULT_MAX_BATCH,
        }
    }
}

#[derive(Default)]
struct Store {
    /// seq-1 → record.
    records: Vec<LogRecord>,
    /// seq-1 → max recorded_at over 1..=seq (for `Until::RecordedAt`).
    prefix_max: Vec<i64>,
    subjects: HashMap<Subject, Vec<Seq>>,
    msg_ids: HashMap<Uuid, Seq>,
}

impl Store {
    fn head(&self) -> Seq {
        self.records.len() as Seq
    }

    fn version(&self, s: &Subject) -> Seq {
        self.subjects
            .get(s)
            .and_then(|v| v.last().copied())
            .unwrap_or(0)
    }

    fn push(&mut self, record: LogRecord) {
        let pm = self.prefix_max.last().copied().unwrap_or(i64::MIN);
        self.prefix_max.push(pm.max(record.recorded_at));
        self.subjects
            .entry(record.subject.clone())
            .or_default()
            .push(record.seq);
        self.msg_ids.insert(record.msg_id, record.seq);
        self.records.push(record);
    }

    /// Validate `commits` as one all-or-nothing request and answer it; the
    /// records to store are returned, nothing is stored here. Mirrors the
    /// embedded log's staging: a msg id already seen (stored, or earlier in
    /// this request) is a duplicate whatever its expectation.
    fn stage(&self, commits: &[Commit]) -> Result<(Vec<Appended>, Vec<LogRecord>), LogError> {
        let mut out = Vec::with_capacity(commits.len());
        let mut new: Vec<LogRecord> = Vec::new();
        let mut ids: HashMap<Uuid, Seq> = HashMap::new();
        let mut versions: HashMap<&Subject, Seq> = HashMap::new();
        let mut next = self.head() + 1;
        for c in commits {
            if let Some(&seq) = ids.get(&c.msg_id).or_else(|| self.msg_ids.get(&c.msg_id)) {
                out.push(Appended {
                    seq,
                    duplicate: true,
                });
                continue;
            }
            let current = versions
                .get(&c.subject)
                .copied()
                .unwrap_or_else(|| self.version(&c.subject));
            if !expected_ok(c.expected, current) {
                return Err(LogError::Conflict {
                    subject: c.subject.clone(),
                    expected: c.expected,
                    current,
                });
            }
            new.push(LogRecord {
                seq: next,
                subject: c.subject.clone(),
                msg_id: c.msg_id,
                recorded_at: c.recorded_at,
                payload: c.payload.clone(),
            });
            ids.insert(c.msg_id, next);
            versions.insert(&c.subject, next);
            out.push(Appended {
                seq: next,
                duplicate: false,
            });
            next += 1;
        }
        Ok((out, new))
    }
}

struct Inner {
    opts: MemoryOptions,
    store: RwLock<Store>,
    head_tx: watch::Sender<Seq>,
}

/// The in-memory backend. Cheap to clone (shared store).
#[derive(Clone)]
pub struct MemoryLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemoryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLog")
            .field("head", &self.head_now().ok())
            .finish()
    }
}

impl Default for MemoryLog {
    fn default() -> Self {
        Self::new()
    }
}

fn poisoned() -> LogError {
    LogError::Unavailable("memory log lock poisoned by a panic".into())
}

impl MemoryLog {
    /// An empty log with default limits.
    pub fn new() -> Self {
        Self::with_options(MemoryOptions::default())
    }

    /// An empty log with the given limits.
    pub fn with_options(opts: MemoryOptions) -> Self {
        let (head_tx, _) = watch::channel(0);
        MemoryLog {
            inner: Arc::new(Inner {
                opts,
                store: RwLock::new(Store::default()),
                head_tx,
            }),
        }
    }

    /// A log holding `records`, which must be numbered 1, 2, 3, ... (a
    /// record out of place is [`LogError::Corrupt`] naming its position).
    pub fn from_records(records: Vec<LogRecord>, opts: MemoryOptions) -> Result<Self, LogError> {
        let log = Self::with_options(opts);
        {
            let mut store = log.inner.store.write().map_err(|_| poisoned())?;
            for r in records {
                let expected = store.head() + 1;
                if r.seq != expected {
                    return Err(LogError::Corrupt {
                        seq: expected,
                        detail: format!("record carries sequence {} here", r.seq),
                    });
                }
                store.push(r);
            }
            log.inner.head_tx.send_replace(store.head());
        }
        Ok(log)
    }

    fn head_now(&self) -> Result<Seq, LogError> {
        Ok(self.inner.store.read().map_err(|_| poisoned())?.head())
    }

    /// One all-or-nothing request (what `append` and `append_batch` share).
    fn append_many(&self, commits: &[Commit]) -> Result<Vec<Appended>, LogError> {
        commits
            .iter()
            .try_for_each(|c| check_commit(c, self.inner.opts.max_payload))?;
        let mut store = self.inner.store.write().map_err(|_| poisoned())?;
        let (out, new) = store.stage(commits)?;
        if !new.is_empty() {
            new.into_iter().for_each(|r| store.push(r));
            self.inner.head_tx.send_replace(store.head());
        }
        Ok(out)
    }

    fn range(&self, from: Seq, to: Seq) -> Result<Vec<LogRecord>, LogError> {
        let store = self.inner.store.read().map_err(|_| poisoned())?;
        let to = to.min(store.head());
        if from == 0 || from > to {
            return Ok(Vec::new());
        }
        Ok(store.records[(from - 1) as usize..to as usize].to_vec())
    }

    fn resolve_until(&self, until: Until) -> Result<Seq, LogError> {
        let store = self.inner.store.read().map_err(|_| poisoned())?;
        Ok(match until {
            Until::Head => store.head(),
            Until::Seq(s) => s.min(store.head()),
            Until::RecordedAt(t) => store.prefix_max.partition_point(|&m| m <= t) as Seq,
        })
    }

    /// Records from `from`, up to `to` or (live tail) forever.
    fn stream_range(&self, from: Seq, to: Option<Seq>) -> RecordStream {
        let st = (self.clone(), from.max(1), self.inner.head_tx.subscribe());
        futures::stream::unfold(st, move |(log, next, mut rx)| async move {
            loop {
                if to.is_some_and(|to| next > to) {
                    return None;
                }
                let head = *rx.borrow_and_update();
                if next > head {
                    // A bounded read ends at the head it resolved; a tail waits.
                    if to.is_some() || rx.changed().await.is_err() {
                        return None;
                    }
                    continue;
                }
                return match log.range(next, next) {
                    Ok(mut v) => match v.pop() {
                        Some(r) => Some((Ok(r), (log, next + 1, rx))),
                        None => Some((
                            Err(LogError::Gap {
                                expected: next,
                                got: 0,
                            }),
                            (log, Seq::MAX, rx),
                        )),
                    },
                    // After an error the stream ends (next past any bound).
                    Err(e) => Some((Err(e), (log, Seq::MAX, rx))),
                };
            }
        })
        .boxed()
    }
}

impl EventLog for MemoryLog {
    async fn append(&self, commit: Commit) -> Result<Appended, LogError> {
        let mut v = self.append_many(std::slice::from_ref(&commit))?;
        v.pop()
            .ok_or_else(|| LogError::Unavailable("append produced no acknowledgement".into()))
    }

    async fn append_batch(&self, commits: Vec<Commit>) -> Result<Vec<Appended>, LogError> {
        if commits.len() > self.inner.opts.max_batch {
            return Err(LogError::BatchTooLarge {
                len: commits.len(),
                max: self.inner.opts.max_batch,
            });
        }
        self.append_many(&commits)
    }

    async fn append_pipelined(&self, commits: Vec<Commit>) -> BatchProgress {
        let mut appended = Vec::with_capacity(commits.len());
        for chunk in commits.chunks(self.inner.opts.max_batch.max(1)) {
            match self.append_many(chunk) {
                Ok(a) => appended.extend(a),
                Err(e) => {
                    return BatchProgress {
                        appended,
                        error: Some(e),
                    }
                }
            }
        }
        BatchProgress {
            appended,
            error: None,
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            atomic_batch: true,
            max_batch: self.inner.opts.max_batch,
            // Ids are remembered forever, but a wrapper may forget them
            // (testkit's fault log): promise nothing.
            dedupe_window: std::time::Duration::ZERO,
            // A read of this process's own index.
            direct_versions: true,
        }
    }

    async fn head(&self) -> Result<Seq, LogError> {
        self.head_now()
    }

    async fn subject_version(&self, subject: &Subject) -> Result<Seq, LogError> {
        Ok(self
            .inner
            .store
            .read()
            .map_err(|_| poisoned())?
            .version(subject))
    }

    async fn read_subject(&self, subject: &Subject) -> Result<Vec<LogRecord>, LogError> {
        let store = self.inner.store.read().map_err(|_| poisoned())?;
        Ok(store
            .subjects
            .get(subject)
            .map(|seqs| {
                seqs.iter()
                    .map(|&s| store.records[(s - 1) as usize].clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    fn read(&self, from: Seq, until: Until) -> RecordStream {
        match self.resolve_until(until) {
            Ok(to) => self.stream_range(from, Some(to)),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        }
    }

    fn tail(&self, from: Seq) -> RecordStream {
        self.stream_range(from, None)
    }
}
