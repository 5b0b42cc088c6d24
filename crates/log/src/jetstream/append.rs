//! One commit as one message, and pipelined appends.
//!
//! Invariant: one commit is one message on its subject, so a single append
//! is atomic; its stream sequence is the record's sequence. `Nats-Msg-Id`
//! (the commit's msg id) dedupes a re-sent commit, answered with the original
//! sequence and `duplicate`; `Nats-Expected-Last-Subject-Sequence` carries
//! the expectation, and a refusal is [`LogError::Conflict`] with the
//! subject's current version, unless the refused commit is itself already
//! stored right after the version it expected (a retry after a lost ack on a
//! server ≥ 2.12, which checks the expectation before the msg id): then it is
//! a duplicate, as on 2.9. Pipelined appends keep acks in flight but report
//! only an in-order acknowledged prefix.

use std::collections::VecDeque;

use async_nats::jetstream::{
    self,
    context::{PublishAckFuture, PublishError, PublishErrorKind},
    message::PublishMessage,
    ErrorCode,
};
use uuid::Uuid;

use super::{nats, JetStreamLog, MSG_ID_NAME, RECORDED_AT_NAME};
use crate::{check_commit, Appended, BatchProgress, Commit, EventLog, Expected, LogError, Seq};

/// Is this publish error a "wrong last subject sequence" (10071; 10163/10164 on
/// clustered servers ≥ 2.11)?
pub(super) fn is_wrong_last_seq(e: &PublishError) -> bool {
    if e.kind() == PublishErrorKind::WrongLastSequence {
        return true;
    }
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(js) = s.downcast_ref::<jetstream::Error>() {
            let c = js.error_code();
            return c == ErrorCode(10071) || c == ErrorCode(10163) || c == ErrorCode(10164);
        }
        src = s.source();
    }
    false
}

/// The JetStream API error behind a publish error, if any.
pub(super) fn js_error(e: &PublishError) -> Option<&jetstream::Error> {
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(js) = s.downcast_ref::<jetstream::Error>() {
            return Some(js);
        }
        src = s.source();
    }
    None
}

pub(super) fn js_code(e: &PublishError) -> Option<ErrorCode> {
    js_error(e).map(|j| j.error_code())
}

impl JetStreamLog {
    fn message(c: &Commit) -> PublishMessage {
        let p = PublishMessage::build()
            .payload(c.payload.clone())
            .message_id(c.msg_id.hyphenated().to_string())
            .header(RECORDED_AT_NAME, c.recorded_at.to_string());
        match c.expected {
            Expected::Any => p,
            Expected::Empty => p.expected_last_subject_sequence(0),
            Expected::At(v) => p.expected_last_subject_sequence(v),
        }
    }

    pub(super) async fn send(&self, c: &Commit) -> Result<PublishAckFuture, LogError> {
        check_commit(c, self.s.opts.max_payload)?;
        self.s
            .ctx
            .send_publish(c.subject.as_str().to_string(), Self::message(c))
            .await
            .map_err(|e| nats("publish", e))
    }

    pub(super) async fn finish(
        &self,
        c: &Commit,
        fut: PublishAckFuture,
    ) -> Result<Appended, LogError> {
        match fut.await {
            Ok(ack) => Ok(Appended {
                seq: ack.sequence,
                duplicate: ack.duplicate,
            }),
            Err(e) if is_wrong_last_seq(&e) => {
                if let Some(seq) = self.stored_after_expected(c).await {
                    return Ok(Appended {
                        seq,
                        duplicate: true,
                    });
                }
                let current = self.subject_version(&c.subject).await?;
                Err(LogError::Conflict {
                    subject: c.subject.clone(),
                    expected: c.expected,
                    current,
                })
            }
            Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => Err(LogError::TooLarge {
                len: c.payload.len(),
                max: self.s.opts.max_payload,
            }),
            Err(e) => Err(nats("publish ack", e)),
        }
    }

    /// A retried commit whose expectation is now stale: servers ≥ 2.12 check
    /// the expectation before the msg id, so the retry is refused instead of
    /// acknowledged as a duplicate (2.9 does the reverse). If it was stored,
    /// it is the subject's first record after the version it expected: answer
    /// with that sequence, as a duplicate.
    async fn stored_after_expected(&self, c: &Commit) -> Option<Seq> {
        let after = match c.expected {
            Expected::Any => return None,
            Expected::Empty => 0,
            Expected::At(v) => v,
        };
        let m = self
            .s
            .stream
            .direct_get_next_for_subject(c.subject.as_str(), Some(after + 1))
            .await
            // Not found, or no direct get (a stream created elsewhere without
            // `allow_direct`): the refusal stands as a conflict, which is
            // what it is unless this commit was stored; a re-sent command is
            // then still recognised by the ledger's command-id index. Making
            // this an error would turn every version race into a failure.
            .ok()?;
        let id = m
            .headers
            .get(MSG_ID_NAME)
            .and_then(|v| Uuid::try_parse(v.as_str()).ok())?;
        (id == c.msg_id && m.subject.as_str() == c.subject.as_str()).then_some(m.sequence)
    }

    /// `append_pipelined`: up to `pipeline_window` acks in flight, stopping
    /// at the first failure with the acknowledged prefix.
    pub(super) async fn pipelined(&self, commits: Vec<Commit>) -> BatchProgress {
        let window = self.s.opts.pipeline_window.max(1);
        let mut appended = Vec::with_capacity(commits.len());
        let mut pending: VecDeque<(usize, PublishAckFuture)> = VecDeque::with_capacity(window);
        let mut error = None;
        for (i, c) in commits.iter().enumerate() {
            while pending.len() >= window {
                if let Some((j, fut)) = pending.pop_front() {
                    match self.finish(&commits[j], fut).await {
                        Ok(a) => appended.push(a),
                        Err(e) => {
                            return BatchProgress {
                                appended,
                                error: Some(e),
                            }
                        }
                    }
                }
            }
            match self.send(c).await {
                Ok(f) => pending.push_back((i, f)),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        while let Some((j, fut)) = pending.pop_front() {
            match self.finish(&commits[j], fut).await {
                Ok(a) => appended.push(a),
                Err(e) => {
                    return BatchProgress {
                        appended,
                        error: Some(e),
                    }
                }
            }
        }
        BatchProgress { appended, error }
    }
}
