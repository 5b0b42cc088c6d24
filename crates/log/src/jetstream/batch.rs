//! `append_batch` as one ADR-50 atomic batch (servers ≥ 2.12 whose stream
//! was read back with `allow_atomic`).
//!
//! Invariant: all or nothing. The records of a batch land on consecutive
//! sequences `seq - count + 1 ..= seq`, or none of them does.
//!
//! * every message carries `Nats-Batch-Id` (a fresh UUID, 32 chars) and
//!   `Nats-Batch-Sequence` (1-based), plus the usual `Nats-Msg-Id`,
//!   [`RECORDED_AT_HEADER`] and expectations; all but the last are plain
//!   publishes (no reply); the last adds `Nats-Batch-Commit: 1` and is a
//!   request answered by one PubAck carrying the last sequence, `batch` (the
//!   id) and `count`. The records land on consecutive sequences
//!   `seq - count + 1 ..= seq`, which is what `append_batch` returns;
//! * the server checks expectations at commit, against the stream as it was
//!   before the batch, and stores all or nothing. It accepts
//!   `Nats-Expected-Last-Subject-Sequence` only on the first write to a
//!   subject in the batch; a later write to the same subject expecting
//!   `At(v)` (the sequence of the previous in-batch write) pins the stream
//!   head, sent as `Nats-Expected-Last-Sequence` on the first message (a
//!   concurrent append elsewhere then fails the batch as a conflict on that
//!   subject). Expectations no batch can meet fail before sending;
//! * a refusal ("wrong last sequence", which names no subject) is mapped to
//!   [`LogError::Conflict`] on the first commit whose expectation is stale
//!   against its subject's current version;
//! * `Nats-Msg-Id` is allowed, but a batch holding an id already stored
//!   (within the duplicate window) is refused whole (error 10201) instead of
//!   being answered as a duplicate. If the very same batch is stored (a retry
//!   after a lost ack) the original sequences are returned as duplicates;
//!   otherwise the stale expectation is reported as a conflict, or without
//!   expectations an error. Ids of a refused batch are not remembered;
//! * the server limits a batch to 1000 messages:
//!   [`SERVER_ATOMIC_BATCH_LIMIT`] caps [`JetStreamLog::max_batch`], and a
//!   longer batch is [`LogError::BatchTooLarge`] naming the limit (never
//!   split: split bulk work with [`EventLog::append_pipelined`]);
//! * a batch the server dropped before the commit (error 10176 "incomplete",
//!   e.g. more than 50 batches in flight on the stream) is
//!   [`LogError::Unavailable`]: nothing stored, retry.

use std::collections::HashMap;

use async_nats::jetstream::{
    context::{PublishAckFuture, PublishError, PublishErrorKind},
    message::PublishMessage,
    publish::PublishAck,
    ErrorCode,
};
use uuid::Uuid;

use super::append::{is_wrong_last_seq, js_code, js_error};
use super::{nats, JetStreamLog, MSG_ID_NAME, RECORDED_AT_NAME, SERVER_ATOMIC_BATCH_LIMIT};
use crate::{Appended, Commit, EventLog, Expected, LogError, Seq};

// ADR-50 headers of atomic batch publish.
const BATCH_ID_HEADER: &str = "Nats-Batch-Id";
const BATCH_SEQ_HEADER: &str = "Nats-Batch-Sequence";
const BATCH_COMMIT_HEADER: &str = "Nats-Batch-Commit";
const EXPECTED_LAST_SUBJECT_SEQ_HEADER: &str = "Nats-Expected-Last-Subject-Sequence";
const EXPECTED_LAST_SEQ_HEADER: &str = "Nats-Expected-Last-Sequence";
/// "atomic publish batch contains duplicate message id".
const ERR_BATCH_DUPLICATE_MSG_ID: ErrorCode = ErrorCode(10201);
/// "atomic publish batch is incomplete": the server dropped the batch (e.g.
/// 50 batches already in flight on the stream, or a message lost).
const ERR_BATCH_INCOMPLETE: ErrorCode = ErrorCode(10176);
/// "atomic publish batch is too large: {limit}".
const ERR_BATCH_TOO_LARGE: ErrorCode = ErrorCode(10199);

/// How one atomic batch states its expectations (see `append_atomic`).
struct AtomicPlan {
    /// `Nats-Expected-Last-Subject-Sequence` per commit (first write to its
    /// subject inside the batch only).
    subject_seq: Vec<Option<Seq>>,
    /// `Nats-Expected-Last-Sequence` on the first message: the stream head
    /// implied by chained expectations (a later write to a subject already
    /// written in the batch).
    head: Option<Seq>,
    /// Index of the first chained commit with an expectation.
    chained: Option<usize>,
}

/// Atomic batch publish (ADR-50).
impl JetStreamLog {
    /// Largest `append_batch` this log accepts: [`JetStreamOptions::max_batch`](super::JetStreamOptions::max_batch),
    /// capped at [`SERVER_ATOMIC_BATCH_LIMIT`] when batches are atomic.
    pub fn max_batch(&self) -> usize {
        if self.s.server_atomic {
            self.s.opts.max_batch.min(SERVER_ATOMIC_BATCH_LIMIT)
        } else {
            self.s.opts.max_batch
        }
    }

    /// Map each commit's expectation onto batch headers. The server checks
    /// `Nats-Expected-Last-Subject-Sequence` only on the first write to a
    /// subject inside a batch (against the stream as it was before the batch)
    /// and refuses it on later writes to the same subject. A later write's
    /// `Expected::At(v)` names the sequence of the previous in-batch write to
    /// its subject; as a batch lands on consecutive sequences, that pins the
    /// stream head, checked with `Nats-Expected-Last-Sequence` on the first
    /// message. Expectations no batch can satisfy fail here, before sending.
    async fn plan_atomic(&self, commits: &[Commit]) -> Result<AtomicPlan, LogError> {
        let mut last_at: HashMap<&str, usize> = HashMap::with_capacity(commits.len());
        let mut plan = AtomicPlan {
            subject_seq: vec![None; commits.len()],
            head: None,
            chained: None,
        };
        for (j, c) in commits.iter().enumerate() {
            match last_at.insert(c.subject.as_str(), j) {
                None => {
                    plan.subject_seq[j] = match c.expected {
                        Expected::Any => None,
                        Expected::Empty => Some(0),
                        Expected::At(v) => Some(v),
                    }
                }
                Some(i) => {
                    let implied = match c.expected {
                        Expected::Any => continue,
                        Expected::Empty | Expected::At(0) => None,
                        // In-batch write i lands at head + 1 + i.
                        Expected::At(v) => (v as usize > i).then(|| v - 1 - i as Seq),
                    };
                    plan.chained.get_or_insert(j);
                    match (implied, plan.head) {
                        (Some(h), None) => plan.head = Some(h),
                        (Some(h), Some(prev)) if h == prev => {}
                        _ => {
                            return Err(LogError::Conflict {
                                subject: c.subject.clone(),
                                expected: c.expected,
                                current: self.subject_version(&c.subject).await?,
                            })
                        }
                    }
                }
            }
        }
        Ok(plan)
    }

    /// Name the commit that made the server refuse the batch: the first whose
    /// expectation is stale against the subject's current version; else the
    /// first chained commit (the stream head moved).
    async fn attribute_conflict(
        &self,
        commits: &[Commit],
        plan: &AtomicPlan,
    ) -> Result<Option<LogError>, LogError> {
        for (c, first) in commits.iter().zip(&plan.subject_seq) {
            if first.is_none() {
                continue;
            }
            let current = self.subject_version(&c.subject).await?;
            if !crate::expected_ok(c.expected, current) {
                return Ok(Some(LogError::Conflict {
                    subject: c.subject.clone(),
                    expected: c.expected,
                    current,
                }));
            }
        }
        if let Some(j) = plan.chained {
            let c = &commits[j];
            return Ok(Some(LogError::Conflict {
                subject: c.subject.clone(),
                expected: c.expected,
                current: self.subject_version(&c.subject).await?,
            }));
        }
        Ok(None)
    }

    /// After "batch contains duplicate message id": if this very batch is
    /// already stored (a retry after a lost commit ack), answer with its
    /// sequences as duplicates, like a retried single append.
    async fn stored_as_batch(&self, commits: &[Commit]) -> Result<Option<Vec<Appended>>, LogError> {
        let n = commits.len() as Seq;
        let Some(last) = commits.last() else {
            return Ok(None);
        };
        let end = self.subject_version(&last.subject).await?;
        if end < n {
            return Ok(None);
        }
        let first = end + 1 - n;
        for (i, c) in commits.iter().enumerate() {
            // Records are never deleted (deny_delete) and `first + i` is at
            // most the subject's version: a failed get is the server's
            // error, not "another batch".
            let m = self
                .s
                .stream
                .get_raw_message(first + i as Seq)
                .await
                .map_err(|e| nats("get a stored batch record", e))?;
            let same_id = m
                .headers
                .get(MSG_ID_NAME)
                .and_then(|v| Uuid::try_parse(v.as_str()).ok())
                == Some(c.msg_id);
            if !same_id || m.subject.as_str() != c.subject.as_str() {
                return Ok(None);
            }
        }
        Ok(Some(
            (0..n)
                .map(|i| Appended {
                    seq: first + i,
                    duplicate: true,
                })
                .collect(),
        ))
    }

    /// One ADR-50 atomic batch: every message carries `Nats-Batch-Id` and
    /// `Nats-Batch-Sequence` (1-based); all but the last are plain publishes
    /// (no reply wanted), the last adds `Nats-Batch-Commit: 1` and is a
    /// request answered by a PubAck with the last sequence, `batch` and
    /// `count`. The server stores all or nothing.
    pub(super) async fn append_atomic(
        &self,
        commits: Vec<Commit>,
    ) -> Result<Vec<Appended>, LogError> {
        let n = commits.len();
        if n > SERVER_ATOMIC_BATCH_LIMIT {
            return Err(LogError::BatchTooLarge {
                len: n,
                max: SERVER_ATOMIC_BATCH_LIMIT,
            });
        }
        let plan = self.plan_atomic(&commits).await?;
        let batch_id = Uuid::new_v4().simple().to_string();
        let Some(fut) = self.publish_atomic(&commits, &plan, &batch_id).await? else {
            return Ok(Vec::new());
        };
        match fut.await {
            Ok(ack) => batch_appended(&ack, &batch_id, n),
            Err(e) => self.refused(e, &commits, &plan).await,
        }
    }

    /// A group of single appends (distinct subjects and msg ids, see
    /// `group`) as one atomic batch: each commit's answer, or `None` when
    /// the batch was not stored (refused, or its ack lost): the caller then
    /// sends each commit alone.
    pub(super) async fn try_atomic_group(&self, commits: &[Commit]) -> Option<Vec<Appended>> {
        // Distinct subjects: every expectation is a first write's header,
        // no head is pinned and nothing is refused before sending.
        let plan = self.plan_atomic(commits).await.ok()?;
        debug_assert!(plan.chained.is_none(), "a group holds distinct subjects");
        let batch_id = Uuid::new_v4().simple().to_string();
        let fut = self
            .publish_atomic(commits, &plan, &batch_id)
            .await
            .ok()??;
        batch_appended(&fut.await.ok()?, &batch_id, commits.len()).ok()
    }

    /// Send every message of the batch; the future of the commit message's
    /// ack (`None` for an empty batch).
    async fn publish_atomic(
        &self,
        commits: &[Commit],
        plan: &AtomicPlan,
        batch_id: &str,
    ) -> Result<Option<PublishAckFuture>, LogError> {
        let n = commits.len();
        let mut commit_ack = None;
        for (i, c) in commits.iter().enumerate() {
            let mut h = async_nats::HeaderMap::new();
            h.insert(BATCH_ID_HEADER, batch_id);
            h.insert(BATCH_SEQ_HEADER, (i + 1).to_string());
            h.insert(MSG_ID_NAME, c.msg_id.hyphenated().to_string());
            h.insert(RECORDED_AT_NAME, c.recorded_at.to_string());
            if let Some(v) = plan.subject_seq[i] {
                h.insert(EXPECTED_LAST_SUBJECT_SEQ_HEADER, v.to_string());
            }
            if i == 0 {
                if let Some(head) = plan.head {
                    h.insert(EXPECTED_LAST_SEQ_HEADER, head.to_string());
                }
            }
            let subject = c.subject.as_str().to_string();
            if i + 1 < n {
                self.s
                    .client
                    .publish_with_headers(subject, h, c.payload.clone())
                    .await
                    .map_err(|e| nats("atomic batch publish", e))?;
            } else {
                h.insert(BATCH_COMMIT_HEADER, "1");
                let msg = PublishMessage::build()
                    .payload(c.payload.clone())
                    .headers(h);
                commit_ack = Some(
                    self.s
                        .ctx
                        .send_publish(subject, msg)
                        .await
                        .map_err(|e| nats("atomic batch commit", e))?,
                );
            }
        }
        Ok(commit_ack)
    }

    /// The answer to a batch the server refused at its commit: a duplicate
    /// of this very batch, a conflict naming a commit, or an error.
    async fn refused(
        &self,
        e: PublishError,
        commits: &[Commit],
        plan: &AtomicPlan,
    ) -> Result<Vec<Appended>, LogError> {
        let n = commits.len();
        if is_wrong_last_seq(&e) {
            return match self.attribute_conflict(commits, plan).await? {
                Some(conflict) => Err(conflict),
                None => Err(nats("atomic batch commit", e)),
            };
        }
        match js_code(&e) {
            Some(ERR_BATCH_DUPLICATE_MSG_ID) => {
                if let Some(dups) = self.stored_as_batch(commits).await? {
                    return Ok(dups);
                }
                if let Some(conflict) = self.attribute_conflict(commits, plan).await? {
                    return Err(conflict);
                }
                Err(nats(
                    "atomic batch commit",
                    format!(
                        "{e}: a msg id of this batch is already stored (within the duplicate \
                         window) but not as this same batch; nothing was stored"
                    ),
                ))
            }
            Some(ERR_BATCH_TOO_LARGE) => {
                let max = js_error(&e)
                    .and_then(|j| {
                        j.to_string()
                            .rsplit(':')
                            .next()
                            .and_then(|t| t.trim().parse().ok())
                    })
                    .unwrap_or(SERVER_ATOMIC_BATCH_LIMIT);
                Err(LogError::BatchTooLarge { len: n, max })
            }
            Some(ERR_BATCH_INCOMPLETE) => Err(LogError::Unavailable(format!(
                "atomic batch of {n} not accepted ({e}; the server holds at most 50 \
                 batches in flight per stream); nothing was stored, retry"
            ))),
            _ if e.kind() == PublishErrorKind::MaxPayloadExceeded => {
                let len = commits.iter().map(|c| c.payload.len()).max().unwrap_or(0);
                Err(LogError::TooLarge {
                    len,
                    max: self.s.opts.max_payload,
                })
            }
            _ => Err(nats("atomic batch commit", e)),
        }
    }
}

/// The appended sequences of a committed batch of `n` from its ack, which
/// must name the batch and its size.
fn batch_appended(ack: &PublishAck, batch_id: &str, n: usize) -> Result<Vec<Appended>, LogError> {
    if ack.batch_id.as_deref() != Some(batch_id)
        || ack.batch_size != Some(n as u64)
        || ack.sequence < n as Seq
    {
        return Err(nats(
            "atomic batch commit",
            format!(
                "ack does not match batch {batch_id} of {n}: batch {:?}, count {:?}, seq {}",
                ack.batch_id, ack.batch_size, ack.sequence
            ),
        ));
    }
    let first = ack.sequence + 1 - n as Seq;
    Ok((0..n as Seq)
        .map(|i| Appended {
            seq: first + i,
            duplicate: false,
        })
        .collect())
}
