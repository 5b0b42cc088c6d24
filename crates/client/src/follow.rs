//! Following the event stream as a read-only consumer.
//!
//! Each consumer has its own durable JetStream pull consumer on the
//! `PERFLEDGER` stream (created by the client on first use, starting at any
//! sequence; afterwards the server remembers the position). Records are
//! delivered in sequence order; commits on `{prefix}.ev.…` are decoded with
//! [`perfledger_domain::decode_commit`]; integrity checkpoints on
//! `{prefix}.chk` are skipped but their sequences still advance
//! [`Follower::position`], so the follower can check the sequence is gapless.
//!
//! A record is acknowledged when the next one is asked for, so a consumer
//! that crashes while processing a record gets it again (at-least-once); a
//! record at or below the position already seen is skipped (redelivery).

use async_nats::jetstream::{
    self,
    consumer::{pull, AckPolicy, DeliverPolicy},
};
use futures::StreamExt;
use perfledger_domain::{decode_commit, Envelope};

/// Options of a [`Follower`].
#[derive(Debug, Clone)]
pub struct FollowerConfig {
    /// Subject prefix (default `pl`).
    pub prefix: String,
    /// Stream name (default `PERFLEDGER`).
    pub stream: String,
    /// Durable consumer name: one per consumer (`[A-Za-z0-9_-]`).
    pub durable: String,
    /// First sequence to deliver when the durable consumer is created
    /// (ignored when it exists: it resumes where it was).
    pub from: u64,
}

impl FollowerConfig {
    /// Defaults for a durable consumer name, from sequence 1.
    pub fn new(durable: impl Into<String>) -> Self {
        FollowerConfig {
            prefix: "pl".into(),
            stream: "PERFLEDGER".into(),
            durable: durable.into(),
            from: 1,
        }
    }
}

/// One commit as followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followed {
    /// Its sequence in the log.
    pub seq: u64,
    /// Its subject (`{prefix}.ev.{tenant}.{kind}.{entity}`).
    pub subject: String,
    /// The events it holds.
    pub events: Vec<Envelope>,
}

/// Errors while following.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// NATS/JetStream failure (creating the consumer, pulling, permissions).
    #[error("NATS error during {op}: {detail}")]
    Nats {
        /// The operation.
        op: &'static str,
        /// Detail.
        detail: String,
    },
    /// A record was missing from the delivered order.
    #[error("sequence gap: expected {expected}, got {got}")]
    Gap {
        /// Expected sequence.
        expected: u64,
        /// Delivered sequence.
        got: u64,
    },
    /// A record could not be decoded as a commit.
    #[error("record {seq} on {subject} cannot be decoded: {detail}")]
    Undecodable {
        /// Its sequence.
        seq: u64,
        /// Its subject.
        subject: String,
        /// Why.
        detail: String,
    },
}

fn nats(op: &'static str, e: impl std::fmt::Display) -> FollowError {
    FollowError::Nats {
        op,
        detail: e.to_string(),
    }
}

/// Follows the stream through a durable pull consumer.
pub struct Follower {
    consumer: jetstream::consumer::Consumer<pull::Config>,
    messages: Option<pull::Stream>,
    unacked: Option<jetstream::Message>,
    position: u64,
    started: bool,
    checkpoint_subject: String,
    event_prefix: String,
}

impl Follower {
    /// Create (or resume) the durable consumer `cfg.durable`.
    pub async fn start(
        client: async_nats::Client,
        cfg: FollowerConfig,
    ) -> Result<Self, FollowError> {
        let js = jetstream::new(client);
        let stream = js
            .get_stream_no_info(&cfg.stream)
            .await
            .map_err(|e| nats("get stream", e))?;
        let consumer = stream
            .get_or_create_consumer(
                &cfg.durable,
                pull::Config {
                    durable_name: Some(cfg.durable.clone()),
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: cfg.from.max(1),
                    },
                    ack_policy: AckPolicy::Explicit,
                    description: Some("perfledger read-only follower".into()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| nats("create durable consumer", e))?;
        Ok(Follower {
            consumer,
            messages: None,
            unacked: None,
            position: cfg.from.max(1) - 1,
            started: false,
            checkpoint_subject: format!("{}.chk", cfg.prefix),
            event_prefix: format!("{}.ev.", cfg.prefix),
        })
    }

    /// The last sequence delivered (commit or checkpoint); before the first
    /// record, `from - 1`. The first record delivered sets the baseline (a
    /// resumed durable consumer continues where it was); after it, every
    /// sequence must follow the previous one ([`FollowError::Gap`]).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next commit (acknowledging the previous record first). Pends
    /// until a record arrives.
    pub async fn next(&mut self) -> Result<Followed, FollowError> {
        loop {
            if let Some(m) = self.unacked.take() {
                m.ack().await.map_err(|e| nats("ack", e))?;
            }
            if self.messages.is_none() {
                self.messages = Some(
                    self.consumer
                        .messages()
                        .await
                        .map_err(|e| nats("pull", e))?,
                );
            }
            let Some(stream) = self.messages.as_mut() else {
                continue;
            };
            let msg = match stream.next().await {
                None => {
                    self.messages = None;
                    continue;
                }
                Some(Err(e)) => {
                    let transient = matches!(
                        e.kind(),
                        pull::MessagesErrorKind::MissingHeartbeat
                            | pull::MessagesErrorKind::NoResponders
                    );
                    if transient {
                        tracing::debug!(error = %e, "follower: transient pull error, re-pulling");
                        self.messages = None;
                        continue;
                    }
                    return Err(nats("pull", e));
                }
                Some(Ok(m)) => m,
            };
            let seq = msg
                .info()
                .map_err(|e| nats("message info", e))?
                .stream_sequence;
            // The first record sets the baseline (a resumed durable consumer
            // continues where the server says it was); then no gaps.
            if self.started && seq <= self.position {
                // Redelivered: already seen.
                self.unacked = Some(msg);
                continue;
            }
            if self.started && seq != self.position + 1 {
                return Err(FollowError::Gap {
                    expected: self.position + 1,
                    got: seq,
                });
            }
            self.started = true;
            let subject = msg.subject.to_string();
            if subject == self.checkpoint_subject {
                self.position = seq;
                self.unacked = Some(msg);
                continue;
            }
            if !subject.starts_with(&self.event_prefix) {
                return Err(FollowError::Undecodable {
                    seq,
                    subject,
                    detail: "not an event or checkpoint subject".into(),
                });
            }
            let events = decode_commit(&msg.payload).map_err(|e| FollowError::Undecodable {
                seq,
                subject: subject.clone(),
                detail: e.to_string(),
            })?;
            self.position = seq;
            self.unacked = Some(msg);
            return Ok(Followed {
                seq,
                subject,
                events,
            });
        }
    }

    /// Acknowledge the last record now (e.g. before shutting down).
    pub async fn ack(&mut self) -> Result<(), FollowError> {
        if let Some(m) = self.unacked.take() {
            m.double_ack().await.map_err(|e| nats("ack", e))?;
        }
        Ok(())
    }
}
