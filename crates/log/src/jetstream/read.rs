//! Reading: one subject's records, and ordered ranges of the whole log.
//!
//! Invariant: records come back in sequence order without a gap or a
//! repeat. A read that would skip, repeat or reorder a record ends with
//! [`LogError::Gap`] instead; a record whose subject or headers cannot be
//! decoded is [`LogError::Corrupt`]. Ranges read through an ordered consumer;
//! a subject's first few records by stream-leader message gets, the rest (a
//! longer history) through an ephemeral consumer, or by gets too while
//! consumers cannot be created in time (see `read_subject_by_gets`).
//! A range whose consumer has delivered nothing for [`STALL_CHECK`] while
//! the stream holds records it has not delivered is read on through a
//! fresh consumer. Every consumer a read creates is deleted when the read
//! lets go of it ([`ReadConsumer`]).
//!
//! A consumer the client recreates before it delivered anything starts
//! again from the stream's first record (async-nats 0.51's ordered consumer
//! then asks for `DeliverPolicy::All`, not the start sequence it was made
//! with: `recreate_consumer_stream` with a last sequence of 0). It happens
//! on a three-node cluster under load (`bench/peer --durability
//! replicated`: the ledger's loads failed with "expected sequence 43, got
//! 1"). Records below the start of such a read are therefore a restart, not
//! a repeat: a subject read skips them (they are the subject's records
//! already read by gets), a range read goes on through a fresh consumer
//! from where it is, at most [`RESTARTS_BELOW_START`] times.

use std::time::Duration;

use async_nats::jetstream::{
    consumer::{pull, DeliverPolicy},
    stream::{DirectGetErrorKind, RawMessageErrorKind},
};
use futures::StreamExt;
use uuid::Uuid;

use super::{
    nats, JetStreamLog, MSG_ID_HEADER, MSG_ID_NAME, RECORDED_AT_HEADER, RECORDED_AT_NAME,
    STREAM_NAME,
};
use crate::{EventLog, LogError, LogRecord, RecordStream, Seq, Subject, Until};

/// Longest time [`EventLog::read_subject`] waits for its ephemeral consumer
/// to be created before reading by message gets instead (see
/// [`JetStreamLog::read_subject_by_gets`]). A creation normally takes a few
/// milliseconds.
const CONSUMER_CREATE_DEADLINE: Duration = Duration::from_secs(1);
/// How long a range read waits for its next record before asking whether
/// the stream has grown past it. The client (async-nats 0.51) recreates an
/// ordered consumer that misses heartbeats, but not one that heartbeats and
/// delivers nothing, and it retries a recreation with backoff growing to
/// 10 s, each attempt waiting out the request timeout: in a cluster an
/// attempt placed on a recovering peer is never answered. A live projector
/// once stood one record behind for over 90 s after a node's restart
/// (`tests/services_cluster.rs`); here it would go on through a consumer
/// created with [`JetStreamLog::consumer_stream`]'s own deadlines.
const STALL_CHECK: Duration = Duration::from_secs(5);
/// A subject read takes its first records by message gets, this many at
/// most, before it creates a consumer for the rest.
const GETS_BEFORE_CONSUMER: usize = 4;
/// How many times one range read replaces a consumer that went back below
/// the read's position (see the module docs) before it reports the gap.
const RESTARTS_BELOW_START: u32 = 3;
/// After a consumer creation failed or missed its deadline, `read_subject`
/// reads by message gets only, for this long, then tries consumers again.
const CONSUMER_PAUSE: Duration = Duration::from_secs(30);

/// An ordered consumer created for one read, deleted on the server when the
/// read drops it (finished, failed, replaced or abandoned).
///
/// Why: the client creates ordered consumers with a 30 s inactivity
/// threshold, and nats-server signals every consumer of the stream on each
/// message it stores. The ledger's full path reads through one per command
/// (catching its command-id index up to the head), so defining new entities
/// left hundreds lingering: in `bench/peer`, 762 after 32 writers defined
/// 800 indicators, with the server spending about a quarter of its CPU
/// signalling them (mutexes in `processStreamSignal`) while the next
/// commands were stored, and the stream near the server's default limit of
/// 1,000 consumers, past which commands are refused (10026).
pub(super) struct ReadConsumer {
    msgs: pull::Ordered,
    /// The server's name for it as created. A recreation by the client
    /// deletes the old one itself and names the new one `{name}_{n}`
    /// (async-nats 0.51: `n` counts the recreations), which the client does
    /// not expose: dropping the read deletes the first of the series that
    /// is still there ([`delete_read_consumer`]).
    name: String,
    log: JetStreamLog,
}

impl futures::Stream for ReadConsumer {
    type Item = <pull::Ordered as futures::Stream>::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.msgs.poll_next_unpin(cx)
    }
}

impl Drop for ReadConsumer {
    fn drop(&mut self) {
        // Outside a runtime (a process ending) the server reaps it when idle.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (log, name) = (self.log.clone(), std::mem::take(&mut self.name));
        runtime.spawn(async move { delete_read_consumer(&log, &name).await });
    }
}

/// How many of a read's consumer names [`delete_read_consumer`] tries: the
/// one it was created with and the client's recreations of it up to this
/// many (each recreation deletes its predecessor first, so at most one of
/// them is on the server; more recreations than this in one read, each a
/// second of missed heartbeats at least, are left to the inactivity
/// threshold).
const RECREATED_NAMES_TRIED: u64 = 8;

/// Delete a read's consumer: `name`, or when the server has no consumer of
/// that name (the client recreated it), `{name}_1`, `{name}_2`, … up to
/// [`RECREATED_NAMES_TRIED`], stopping at the first deleted or at an error
/// other than "not found". Without this, a consumer the client recreated
/// lingered until the server's inactivity threshold (30 s), signalled on
/// every stored message (two after each replicated `bench/peer` cell).
async fn delete_read_consumer(log: &JetStreamLog, name: &str) {
    use async_nats::jetstream::{stream::ConsumerErrorKind, ErrorCode};
    for serial in 0..=RECREATED_NAMES_TRIED {
        let candidate = match serial {
            0 => name.to_string(),
            n => format!("{name}_{n}"),
        };
        match log.s.stream.delete_consumer(&candidate).await {
            Ok(_) => return,
            Err(e)
                if matches!(e.kind(), ConsumerErrorKind::JetStream(j)
                    if j.error_code() == ErrorCode::CONSUMER_NOT_FOUND) => {}
            Err(e) => {
                tracing::debug!(consumer = %candidate, error = %e,
                    "cannot delete a read's consumer; the server reaps it when idle");
                return;
            }
        }
    }
    tracing::debug!(consumer = %name, tried = RECREATED_NAMES_TRIED,
        "no consumer of a read's names to delete: reaped, or recreated more often");
}

impl JetStreamLog {
    /// The subject's last sequence by direct get, when that answer is the
    /// stream's own: `Ok(None)` means "ask the leader".
    ///
    /// Only called for a single-replica stream, where the one server holding
    /// it stores a record before acknowledging it, so a direct get sent
    /// after an acknowledgement sees the record. But the request's subject
    /// is also answered by any mirror of the stream made with
    /// `mirror_direct` (the same `_sys_` queue group), which may lag: an
    /// answer naming another stream is set aside, and so is "not found",
    /// which names no stream (a subject never written, such as the calendar
    /// of a tenant that has closed no period, costs a second request), and
    /// so is a refusal (no responders while the stream's direct
    /// subscription is being set up). A request that timed out is an error:
    /// the leader, on the same server, would only make the caller wait
    /// twice as long to learn it.
    pub(super) async fn version_by_direct_get(
        &self,
        subject: &Subject,
    ) -> Result<Option<Seq>, LogError> {
        let m = match self
            .s
            .stream
            .direct_get_last_for_subject(subject.as_str())
            .await
        {
            Ok(m) => m,
            Err(e) if e.kind() == DirectGetErrorKind::TimedOut => {
                return Err(nats("direct get of a subject's last record", e))
            }
            Err(e) => {
                tracing::debug!(%subject, error = %e, "direct get not answered: asking the leader");
                return Ok(None);
            }
        };
        let ours = m
            .headers
            .get(STREAM_NAME)
            .is_some_and(|name| name.as_str() == self.s.opts.stream);
        if !ours {
            tracing::debug!(%subject, answered_by = ?m.headers.get(STREAM_NAME),
                "a direct get answered by another stream (a mirror?): asking the leader");
        }
        Ok(ours.then_some(m.sequence))
    }

    /// Every record of the subject up to its version (the leader's answer
    /// to `subject_version`), in order: the first [`GETS_BEFORE_CONSUMER`]
    /// by stream-leader message gets, the rest through an ephemeral ordered
    /// consumer filtered on the subject, or by message gets when that
    /// consumer is not created within 1 s (on a cluster with a dead peer,
    /// nats-server 2.9 can place it there, and then never answers); loads
    /// keep using gets for 30 s after such a miss.
    pub(super) async fn subject_records(
        &self,
        subject: &Subject,
    ) -> Result<Vec<LogRecord>, LogError> {
        let last = self.subject_version(subject).await?;
        if last == 0 {
            return Ok(Vec::new());
        }
        // A short history costs fewer requests by gets than by a consumer
        // (create, pull, delete): read the first records so, and only a
        // longer history through a consumer, from where the gets stopped.
        let mut head = self
            .read_subject_by_gets(subject, last, Some(GETS_BEFORE_CONSUMER))
            .await?;
        let from = match head.last() {
            Some(r) if r.seq < last => r.seq + 1,
            _ => return Ok(head),
        };
        if !self.consumers_paused() {
            let deadline = CONSUMER_CREATE_DEADLINE.min(self.s.opts.timeout);
            match self.ordered_consumer(from, Some(subject), deadline).await {
                Ok(Some(msgs)) => {
                    head.extend(Self::read_subject_from(msgs, from, last).await?);
                    return Ok(head);
                }
                Ok(None) => {
                    self.pause_consumers(subject, &format!("not created within {deadline:?}"))
                }
                Err(e) => self.pause_consumers(subject, &e.to_string()),
            }
        }
        let rest = self
            .read_subject_by_gets_from(subject, from, last, None)
            .await?;
        head.extend(rest);
        Ok(head)
    }

    fn decode(msg: &async_nats::Message, seq: Seq) -> Result<LogRecord, LogError> {
        Self::decode_parts(
            msg.subject.as_str(),
            msg.headers.as_ref(),
            &msg.payload,
            seq,
        )
    }

    fn decode_parts(
        subject: &str,
        headers: Option<&async_nats::HeaderMap>,
        payload: &bytes::Bytes,
        seq: Seq,
    ) -> Result<LogRecord, LogError> {
        let corrupt = |detail: String| LogError::Corrupt { seq, detail };
        let subject = Subject::parse(subject).map_err(|e| corrupt(e.to_string()))?;
        let headers = headers.ok_or_else(|| corrupt("message has no headers".into()))?;
        let msg_id = headers
            .get(MSG_ID_NAME)
            .and_then(|v| Uuid::try_parse(v.as_str()).ok())
            .ok_or_else(|| corrupt(format!("missing or invalid {MSG_ID_HEADER}")))?;
        let recorded_at = headers
            .get(RECORDED_AT_NAME)
            .and_then(|v| v.as_str().parse::<i64>().ok())
            .ok_or_else(|| corrupt(format!("missing or invalid {RECORDED_AT_HEADER}")))?;
        Ok(LogRecord {
            seq,
            subject,
            msg_id,
            recorded_at,
            payload: payload.clone(),
        })
    }

    /// One ordered consumer from `from` (filtered on `filter`), or `None`
    /// if it is not created within `deadline`.
    async fn ordered_consumer(
        &self,
        from: Seq,
        filter: Option<&Subject>,
        deadline: Duration,
    ) -> Result<Option<ReadConsumer>, LogError> {
        #[allow(unused_mut)] // changed by a test fault
        let mut cfg = pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: from.max(1),
            },
            filter_subject: filter.map(|s| s.as_str().to_string()).unwrap_or_default(),
            ..Default::default()
        };
        #[cfg(test)]
        if self
            .s
            .fault_consumer_from_start
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            // What the client's recreation of a consumer that delivered
            // nothing asks for (see the module docs).
            cfg.deliver_policy = DeliverPolicy::All;
        }
        let create = async {
            let consumer = self
                .s
                .stream
                .create_consumer(cfg)
                .await
                .map_err(|e| nats("create ordered consumer", e))?;
            let name = consumer.cached_info().name.clone();
            match consumer.messages().await {
                Ok(msgs) => Ok(ReadConsumer {
                    msgs,
                    name,
                    log: self.clone(),
                }),
                Err(e) => {
                    if let Err(d) = self.s.stream.delete_consumer(&name).await {
                        tracing::debug!(consumer = %name, error = %d, "cannot delete a consumer");
                    }
                    Err(nats("ordered consumer messages", e))
                }
            }
        };
        match tokio::time::timeout(deadline, create).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// An ordered consumer for a stream read. A creation not answered within
    /// [`CONSUMER_CREATE_DEADLINE`] is abandoned and tried again (the meta
    /// leader places each one anew) with twice the deadline, up to
    /// [`JetStreamOptions::timeout`] in all: on a cluster, a consumer placed
    /// on a peer that is down or still recovering is never created (see
    /// [`JetStreamLog::read_subject_by_gets`]), while one that is merely slow
    /// gets the longer deadline next time.
    async fn consumer_stream(
        &self,
        from: Seq,
        filter: Option<&Subject>,
    ) -> Result<ReadConsumer, LogError> {
        let budget = self.s.opts.timeout;
        let start = std::time::Instant::now();
        let mut attempt_deadline = CONSUMER_CREATE_DEADLINE;
        loop {
            let left = budget.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(nats(
                    "create ordered consumer",
                    format!("not created within {budget:?}"),
                ));
            }
            let deadline = attempt_deadline.min(left);
            attempt_deadline *= 2;
            if let Some(msgs) = self.ordered_consumer(from, filter, deadline).await? {
                return Ok(msgs);
            }
            tracing::debug!(
                from,
                ?deadline,
                "ordered consumer not created in time; again"
            );
        }
    }

    fn consumers_paused(&self) -> bool {
        let until = self
            .s
            .consumers_paused_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        until.is_some_and(|t| std::time::Instant::now() < t)
    }

    fn pause_consumers(&self, subject: &Subject, why: &str) {
        tracing::warn!(
            %subject,
            reason = why,
            pause = ?CONSUMER_PAUSE,
            "ephemeral consumer for a subject read failed; reading subjects by message gets"
        );
        *self
            .s
            .consumers_paused_until
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now() + CONSUMER_PAUSE);
    }

    /// The records of `read_subject` from its consumer (created at
    /// `from`), up to `last`.
    async fn read_subject_from(
        mut msgs: ReadConsumer,
        from: Seq,
        last: Seq,
    ) -> Result<Vec<LogRecord>, LogError> {
        assert!(from >= 1, "a subject read starts at a sequence");
        let mut out = Vec::new();
        let mut prev = from - 1;
        while let Some(m) = msgs.next().await {
            let m = m.map_err(|e| nats("read subject", e))?;
            let seq = m
                .info()
                .map_err(|e| nats("read message info", e))?
                .stream_sequence;
            if seq < from && out.is_empty() {
                // Recreated before its first message, from the stream's
                // start (see the module docs): the subject's records the
                // gets already read.
                continue;
            }
            if seq <= prev {
                return Err(LogError::Gap {
                    expected: prev + 1,
                    got: seq,
                });
            }
            prev = seq;
            out.push(Self::decode(&m.message, seq)?);
            if seq >= last {
                break;
            }
        }
        Ok(out)
    }

    /// The records of `subject` up to `last`, in order, by stream-leader
    /// message gets (`STREAM.MSG.GET` with `next_by_subj`, one request per
    /// record): slower than a consumer for long histories, but no consumer.
    ///
    /// Why it exists: an ephemeral consumer is created through the meta
    /// leader, which places it (R1) on one of the stream's peers. When a
    /// peer is killed (SIGKILL, power loss), nats-server 2.9 keeps placing
    /// consumers on it until it notices the peer is gone (minutes), and those
    /// creations are never answered: about one subject read in three then
    /// hung until the caller's timeout (commands took 60-120 s to get
    /// through after a node failure instead of about 1 s).
    async fn read_subject_by_gets(
        &self,
        subject: &Subject,
        last: Seq,
        at_most: Option<usize>,
    ) -> Result<Vec<LogRecord>, LogError> {
        self.read_subject_by_gets_from(subject, 1, last, at_most)
            .await
    }

    /// [`JetStreamLog::read_subject_by_gets`] from sequence `next`, stopping
    /// after `at_most` records if given.
    async fn read_subject_by_gets_from(
        &self,
        subject: &Subject,
        mut next: Seq,
        last: Seq,
        at_most: Option<usize>,
    ) -> Result<Vec<LogRecord>, LogError> {
        let mut out = Vec::new();
        while next <= last && at_most.is_none_or(|n| out.len() < n) {
            let m = match self
                .s
                .stream
                .get_first_raw_message_by_subject(subject.as_str(), next)
                .await
            {
                Ok(m) => m,
                // Records are never deleted (deny_delete): the subject's
                // records up to `last` must all be there.
                Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => {
                    return Err(nats(
                        "read subject",
                        format!("no record of {subject} from {next} on, but its version is {last}"),
                    ))
                }
                Err(e) => return Err(nats("read subject", e)),
            };
            if m.sequence < next || m.sequence > last {
                return Err(LogError::Gap {
                    expected: next,
                    got: m.sequence,
                });
            }
            out.push(Self::decode_parts(
                m.subject.as_str(),
                Some(&m.headers),
                &m.payload,
                m.sequence,
            )?);
            next = m.sequence + 1;
        }
        Ok(out)
    }

    pub(super) fn stream_range(&self, from: Seq, until: Option<Until>) -> RecordStream {
        let st = Range {
            log: self.clone(),
            next: from.max(1),
            until,
            stop: Stop::Never,
            msgs: None,
            done: false,
            restarts: 0,
        };
        futures::stream::unfold(st, Range::step).boxed()
    }
}

/// Where a range read ends, resolved against the head when it starts.
enum Stop {
    /// A tail: never.
    Never,
    /// After this sequence.
    Seq(Seq),
    /// After this sequence, or before the first record recorded after the
    /// time.
    Time(Seq, i64),
}

/// The state of one range read.
struct Range {
    log: JetStreamLog,
    next: Seq,
    until: Option<Until>,
    stop: Stop,
    msgs: Option<ReadConsumer>,
    done: bool,
    /// Consumers replaced for going back below `next` (see the module docs).
    restarts: u32,
}

impl Range {
    /// One step of the stream: the next record, or the error that ends it.
    async fn step(mut self) -> Option<(Result<LogRecord, LogError>, Range)> {
        if self.done {
            return None;
        }
        if self.msgs.is_none() {
            match self.open().await {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.done = true;
                    return Some((Err(e), self));
                }
            }
        }
        match self.next_record().await {
            Ok(Some(rec)) => Some((Ok(rec), self)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some((Err(e), self))
            }
        }
    }

    /// Resolve the stop against the head and create the consumer; `false`
    /// when the range is empty.
    async fn open(&mut self) -> Result<bool, LogError> {
        if let Some(u) = self.until {
            let head = self.log.head().await?;
            self.stop = match u {
                Until::Head => Stop::Seq(head),
                Until::Seq(s) => Stop::Seq(s.min(head)),
                Until::RecordedAt(t) => Stop::Time(head, t),
            };
            let last = match self.stop {
                Stop::Seq(s) | Stop::Time(s, _) => s,
                Stop::Never => Seq::MAX,
            };
            if self.next > last {
                return Ok(false);
            }
        }
        self.msgs = Some(self.log.consumer_stream(self.next, None).await?);
        Ok(true)
    }

    /// The next record (exactly `self.next`), or `None` past the stop.
    async fn next_record(&mut self) -> Result<Option<LogRecord>, LogError> {
        let mut item = self.next_message().await?;
        let mut got = item
            .info()
            .map_err(|e| nats("read message info", e))?
            .stream_sequence;
        while got < self.next && self.restarts < RESTARTS_BELOW_START {
            // Recreated by the client from the stream's start (see the
            // module docs): go on from here through a fresh consumer.
            self.restarts += 1;
            tracing::warn!(
                next = self.next,
                got,
                "ordered consumer went back below the read; reading through a fresh one"
            );
            self.msgs = Some(self.log.consumer_stream(self.next, None).await?);
            item = self.next_message().await?;
            got = item
                .info()
                .map_err(|e| nats("read message info", e))?
                .stream_sequence;
        }
        if got != self.next {
            return Err(LogError::Gap {
                expected: self.next,
                got,
            });
        }
        let rec = JetStreamLog::decode(&item.message, got)?;
        self.next += 1;
        match self.stop {
            Stop::Never => {}
            Stop::Seq(last) => {
                if got >= last {
                    self.done = true;
                }
            }
            Stop::Time(last, t) => {
                if rec.recorded_at > t {
                    return Ok(None);
                }
                if got >= last {
                    self.done = true;
                }
            }
        }
        if self.done {
            // Let the consumer go now, not when the reader drops the stream.
            self.msgs = None;
        }
        Ok(Some(rec))
    }

    /// The consumer's next message; a consumer stalled behind the stream
    /// (see [`STALL_CHECK`]) is replaced by a fresh one from `self.next`.
    async fn next_message(&mut self) -> Result<async_nats::jetstream::Message, LogError> {
        loop {
            let msgs = self
                .msgs
                .as_mut()
                .expect("open() creates the consumer before the first record is read");
            // Cancel-safe: a stream's `next` loses nothing when dropped.
            match tokio::time::timeout(STALL_CHECK, msgs.next()).await {
                Ok(None) => return Err(LogError::Unavailable("ordered consumer ended".into())),
                Ok(Some(m)) => return m.map_err(|e| nats("read", e)),
                Err(_) => match self.log.head().await {
                    Ok(head) if head >= self.next => {
                        tracing::warn!(
                            next = self.next,
                            head,
                            "ordered consumer stalled behind the stream; reading through a fresh one"
                        );
                        self.msgs = Some(self.log.consumer_stream(self.next, None).await?);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "cannot read the head; waiting on"),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::JetStreamOptions;
    use super::*;
    use crate::{Commit, Expected};

    fn commit(i: u128) -> Commit {
        Commit {
            subject: Subject::entity("pl", "t", "k", Uuid::from_u128(i % 3 + 1)).unwrap(),
            expected: Expected::Any,
            msg_id: Uuid::from_u128(i + 1),
            recorded_at: i as i64,
            payload: bytes::Bytes::from(format!("payload {i}")),
        }
    }

    /// A log on `server` holding `commits` of [`commit`].
    async fn log_with(server: &perfledger_testkit::NatsServer, commits: u128) -> JetStreamLog {
        let log = JetStreamLog::connect(JetStreamOptions {
            url: server.url(),
            ..Default::default()
        })
        .await
        .unwrap();
        log.append_pipelined((0..commits).map(commit).collect())
            .await
            .into_result()
            .unwrap();
        log
    }

    /// The names of the stream's consumers, as the server lists them.
    async fn consumer_names(log: &JetStreamLog) -> Vec<String> {
        let reply = log
            .client()
            .request("$JS.API.CONSUMER.NAMES.PERFLEDGER", "".into())
            .await
            .unwrap();
        let names: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        names["consumers"]
            .as_array()
            .map(|a| a.iter().map(|n| n.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    /// Wait until the stream has no consumer: reads delete theirs in the
    /// background, so allow them a moment (bounded: five seconds).
    async fn until_no_consumer_is_left(log: &JetStreamLog, by: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = consumer_names(log).await;
            if left.is_empty() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "left behind by {by}: {left:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reads let go of their consumers: a finished range read, a subject
    /// read long enough to go through a consumer, and a range read dropped
    /// half way leave none on the server (the client's 30 s inactivity
    /// threshold would keep each, signalled on every stored message: see
    /// [`ReadConsumer`]).
    #[tokio::test]
    async fn reads_leave_no_consumer_behind() {
        use futures::StreamExt;
        let server = perfledger_testkit::NatsServer::start();
        let log = log_with(&server, 15).await;
        let all: Vec<_> = log.read(1, Until::Head).collect().await;
        assert_eq!(all.len(), 15);
        let subject = commit(0).subject;
        let history = log.read_subject(&subject).await.unwrap();
        assert!(
            history.len() > GETS_BEFORE_CONSUMER,
            "long enough to be read through a consumer: {}",
            history.len()
        );
        let mut half = log.read(1, Until::Head);
        assert_eq!(half.next().await.unwrap().unwrap().seq, 1);
        drop(half);
        until_no_consumer_is_left(&log, "finished or dropped reads").await;
    }

    /// A consumer the client recreated (here: deleted on the server under a
    /// tail, so the client recreates it as `{name}_1`) is deleted with the
    /// read, not left to the server's 30 s inactivity threshold.
    #[tokio::test]
    async fn a_consumer_the_client_recreated_is_deleted_with_its_read() {
        use futures::StreamExt;
        let server = perfledger_testkit::NatsServer::start();
        let log = log_with(&server, 3).await;
        let mut tail = log.tail(1);
        for want in 1..=3 {
            assert_eq!(tail.next().await.unwrap().unwrap().seq, want);
        }
        let names = consumer_names(&log).await;
        assert_eq!(names.len(), 1, "the tail's consumer: {names:?}");
        let first = names[0].clone();
        log.s.stream.delete_consumer(&first).await.unwrap();
        log.append_pipelined(vec![commit(3)])
            .await
            .into_result()
            .unwrap();
        let next = tokio::time::timeout(Duration::from_secs(30), tail.next())
            .await
            .expect("the tail went on through a recreated consumer")
            .unwrap()
            .unwrap();
        assert_eq!(next.seq, 4);
        let recreated = consumer_names(&log).await;
        assert_eq!(
            recreated,
            vec![format!("{first}_1")],
            "the client's recreation"
        );
        drop(tail);
        until_no_consumer_is_left(&log, "a dropped read").await;
    }

    /// A tail whose ordered consumer stops delivering while the stream
    /// grows (here: the consumer paused on the server, which keeps its
    /// heartbeats, so the client never recreates it; in a cluster, a
    /// recreation placed on a recovering peer) is noticed and read through a
    /// fresh consumer. Needs a server that pauses consumers (≥ 2.11).
    #[tokio::test]
    async fn a_tail_whose_consumer_stalls_behind_the_stream_goes_on() {
        use futures::StreamExt;
        let server = perfledger_testkit::NatsServer::start_atomic();
        let log = log_with(&server, 3).await;
        let mut tail = log.tail(1);
        for want in 1..=3 {
            assert_eq!(tail.next().await.unwrap().unwrap().seq, want);
        }
        // Pause the tail's consumer (the only one) for an hour.
        let names = consumer_names(&log).await;
        let name = names.first().expect("the tail's consumer");
        let reply = log
            .client()
            .request(
                format!("$JS.API.CONSUMER.PAUSE.PERFLEDGER.{name}"),
                r#"{"pause_until":"2099-01-01T00:00:00Z"}"#.into(),
            )
            .await
            .unwrap();
        let reply: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(reply["paused"], true, "{reply}");
        log.append_pipelined(vec![commit(3)])
            .await
            .into_result()
            .unwrap();
        let next = tokio::time::timeout(Duration::from_secs(60), tail.next())
            .await
            .expect("the tail went on within a minute")
            .unwrap()
            .unwrap();
        assert_eq!(next.seq, 4);
    }

    /// A consumer recreated by the client before it delivered anything
    /// starts again from the stream's first record (async-nats 0.51; the
    /// fault creates the read's consumer so, as the recreation does): a
    /// subject read long enough to use a consumer still returns the
    /// subject's records once each, in order, and a range read from the
    /// middle still starts where it was asked to.
    #[tokio::test]
    async fn a_consumer_recreated_before_its_first_message_reads_on_from_its_start() {
        use futures::StreamExt;
        let server = perfledger_testkit::NatsServer::start();
        let log = log_with(&server, 30).await;
        let subject = commit(0).subject;
        let clean = log.read_subject(&subject).await.unwrap();
        assert!(
            clean.len() > GETS_BEFORE_CONSUMER,
            "read through a consumer"
        );

        log.s
            .fault_consumer_from_start
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let after_fault = log.read_subject(&subject).await.unwrap();
        assert!(!log
            .s
            .fault_consumer_from_start
            .load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(after_fault, clean);

        log.s
            .fault_consumer_from_start
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let range: Vec<Seq> = log
            .read(12, Until::Seq(20))
            .map(|r| r.unwrap().seq)
            .collect()
            .await;
        assert_eq!(range, (12..=20).collect::<Vec<_>>());
    }

    /// The message-get path of `read_subject` (used while consumers are
    /// paused) returns the same records as the consumer path.
    #[tokio::test]
    async fn read_subject_by_gets_matches_the_consumer_read() {
        let server = perfledger_testkit::NatsServer::start();
        let log = log_with(&server, 30).await;
        for e in 1..=4u128 {
            let s = Subject::entity("pl", "t", "k", Uuid::from_u128(e)).unwrap();
            let by_consumer = log.read_subject(&s).await.unwrap();
            let last = log.subject_version(&s).await.unwrap();
            let by_gets = log.read_subject_by_gets(&s, last, None).await.unwrap();
            assert_eq!(by_gets, by_consumer, "{s}");
            assert_eq!(by_gets.len(), if e == 4 { 0 } else { 10 });
            assert!(by_gets.windows(2).all(|w| w[0].seq < w[1].seq));
            assert!(by_gets.iter().all(|r| r.subject == s));
        }
        // While consumers are paused, read_subject reads by gets.
        let s = Subject::entity("pl", "t", "k", Uuid::from_u128(2)).unwrap();
        log.pause_consumers(&s, "test");
        assert!(log.consumers_paused());
        assert_eq!(log.read_subject(&s).await.unwrap().len(), 10);
    }

    /// A subject's version is the stream's own answer even when a lagging
    /// mirror made with `mirror_direct` shares its direct gets: here a
    /// mirror of the checkpoint subject alone, which answers "not found"
    /// for every entity subject, as a mirror that has not yet received a
    /// subject's records would.
    #[tokio::test]
    async fn a_mirror_answering_direct_gets_never_gives_the_version() {
        let server = perfledger_testkit::NatsServer::start_atomic();
        let log = log_with(&server, 6).await;
        let subject = commit(0).subject; // commits 0 and 3: sequences 1 and 4
        assert_eq!(log.subject_version(&subject).await.unwrap(), 4);
        let js = async_nats::jetstream::new(log.client().clone());
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "SHADOW".into(),
            mirror: Some(async_nats::jetstream::stream::Source {
                name: "PERFLEDGER".into(),
                filter_subject: Some("pl.chk".into()),
                ..Default::default()
            }),
            mirror_direct: true,
            allow_direct: true,
            ..Default::default()
        })
        .await
        .unwrap();
        // A mirror joins the direct gets' queue group once a message has
        // reached it and it is nearly caught up (within 10 messages).
        js.publish("pl.chk", "joins".into())
            .await
            .unwrap()
            .await
            .unwrap();
        // The mirror takes part: some plain direct gets come back from it
        // (the server picks one member of the queue group per request).
        let stream = js.get_stream("PERFLEDGER").await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let from_mirror = match stream.direct_get_last_for_subject(subject.as_str()).await {
                Ok(m) => m.headers.get(STREAM_NAME).map(|n| n.as_str()) != Some("PERFLEDGER"),
                Err(_) => true,
            };
            if from_mirror {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the mirror never answered a direct get: this test shows nothing"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for _ in 0..64 {
            assert_eq!(log.subject_version(&subject).await.unwrap(), 4);
        }
    }

    /// A direct get that times out is the version request's error, after
    /// one timeout: not a second wait for the leader on the same server.
    #[tokio::test]
    async fn a_version_request_to_a_stopped_server_fails_after_one_timeout() {
        let mut server = perfledger_testkit::NatsServer::start();
        let timeout = Duration::from_millis(800);
        let log = JetStreamLog::connect(JetStreamOptions {
            url: server.url(),
            timeout,
            ..Default::default()
        })
        .await
        .unwrap();
        let subject = commit(0).subject;
        assert_eq!(log.subject_version(&subject).await.unwrap(), 0);
        server.kill();
        let started = std::time::Instant::now();
        let err = log.subject_version(&subject).await.unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, LogError::Nats { .. }), "{err}");
        assert!(
            took < timeout * 2,
            "failed after {took:?}: more than the one {timeout:?} timeout"
        );
    }
}
