//! perfledger-client: the Rust client of perfledger's NATS services.
//!
//! * Publishers ([`Publisher`]) send commands to the command gateway
//!   (`{prefix}.cmd.{tenant}.{family}`, request/reply) with timeouts, bounded
//!   retries and backoff. A retry re-sends the *same bytes* (same command id),
//!   so the ledger recognises a command that was appended but whose reply was
//!   lost: the answer is then `duplicate = true` with the original sequence.
//! * Read-only consumers follow the event stream ([`Follower`]: a durable
//!   JetStream pull consumer per consumer name, from any sequence) and query
//!   read models ([`QueryClient`], `{prefix}.q.{tenant}.{view}`).
//!
//! The request/reply contract is in [`wire`] and `proto/services.md`.

#![forbid(unsafe_code)]

pub mod follow;
pub mod query;
pub mod wire;

use std::time::Duration;

use async_nats::HeaderMap;
use perfledger_domain::{codec, CommandEnvelope};

pub use follow::{FollowError, Followed, Follower, FollowerConfig};
pub use query::QueryClient;
pub use wire::{Accepted, CommandReply, Encoding, ServiceError};

/// Errors of a publisher.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The gateway refused the command (nothing was appended).
    #[error("refused: {0}")]
    Refused(ServiceError),
    /// No reply within the timeout, on every attempt. The command may or may
    /// not be in the log: re-send it (same command id) to find out.
    #[error("no reply after {attempts} attempts (command {command_id} may or may not be appended; re-send it)")]
    Timeout {
        /// Attempts made.
        attempts: u32,
        /// The command id to re-send.
        command_id: uuid::Uuid,
    },
    /// No gateway is subscribed to the subject, on every attempt.
    #[error("no gateway answers on {subject} after {attempts} attempts")]
    NoResponders {
        /// The subject.
        subject: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The command could not be encoded (limits, sizes).
    #[error("cannot encode command: {0}")]
    Encode(#[from] codec::CodecError),
    /// The reply could not be decoded.
    #[error("undecodable reply: {0}")]
    Decode(String),
    /// Another NATS error (e.g. a permissions violation on the subject).
    #[error("NATS error: {0}")]
    Nats(String),
}

impl ClientError {
    /// The service error, if the gateway refused the command.
    pub fn refusal(&self) -> Option<&ServiceError> {
        match self {
            ClientError::Refused(e) => Some(e),
            _ => None,
        }
    }
}

/// Publisher options.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// Subject prefix (default `pl`).
    pub prefix: String,
    /// Request encoding (default postcard).
    pub encoding: Encoding,
    /// Time to wait for one reply (default 10 s; keep it above the
    /// gateway's `execute_timeout`, 5 s by default).
    pub timeout: Duration,
    /// Attempts in total, at least 1 (default 5).
    pub attempts: u32,
    /// First backoff between attempts, doubled each time (default 100 ms).
    pub backoff: Duration,
    /// Largest backoff (default 2 s).
    pub max_backoff: Duration,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        PublisherConfig {
            prefix: "pl".into(),
            encoding: Encoding::Postcard,
            timeout: Duration::from_secs(10),
            attempts: 5,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// Sends commands to the command gateway.
#[derive(Debug, Clone)]
pub struct Publisher {
    client: async_nats::Client,
    cfg: PublisherConfig,
}

impl Publisher {
    /// A publisher on an existing connection.
    pub fn new(client: async_nats::Client, cfg: PublisherConfig) -> Self {
        Publisher { client, cfg }
    }

    /// The options.
    pub fn config(&self) -> &PublisherConfig {
        &self.cfg
    }

    /// The connection.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Encode a command in the configured encoding.
    pub fn encode(&self, cmd: &CommandEnvelope) -> Result<Vec<u8>, ClientError> {
        Ok(match self.cfg.encoding {
            Encoding::Postcard => codec::encode_command(cmd)?,
            Encoding::Json => codec::encode_command_json(cmd)?.into_bytes(),
        })
    }

    /// Send a command (retrying lost replies with the same command id).
    pub async fn send(&self, cmd: &CommandEnvelope) -> Result<Accepted, ClientError> {
        self.send_inner(cmd, None).await
    }

    /// Send a command that must apply to the entity at exactly `version`
    /// (0 = the entity must not exist yet); otherwise `Conflict`.
    pub async fn send_expecting(
        &self,
        cmd: &CommandEnvelope,
        version: u64,
    ) -> Result<Accepted, ClientError> {
        self.send_inner(cmd, Some(version)).await
    }

    async fn send_inner(
        &self,
        cmd: &CommandEnvelope,
        expected: Option<u64>,
    ) -> Result<Accepted, ClientError> {
        let body = bytes::Bytes::from(self.encode(cmd)?);
        let subject = cmd.subject(&self.cfg.prefix);
        self.send_raw(&subject, self.cfg.encoding, body, expected, cmd.command_id)
            .await
    }

    /// Send an already encoded body to a subject (for tools relaying bytes).
    pub async fn send_raw(
        &self,
        subject: &str,
        encoding: Encoding,
        body: bytes::Bytes,
        expected: Option<u64>,
        command_id: uuid::Uuid,
    ) -> Result<Accepted, ClientError> {
        let mut headers = HeaderMap::new();
        headers.insert(wire::ENCODING_HEADER, encoding.header_value());
        if let Some(v) = expected {
            headers.insert(wire::EXPECTED_VERSION_HEADER, v.to_string().as_str());
        }
        let attempts = self.cfg.attempts.max(1);
        let mut backoff = self.cfg.backoff;
        let mut last = None;
        for attempt in 1..=attempts {
            let req = async_nats::Request::new()
                .payload(body.clone())
                .headers(headers.clone())
                .timeout(Some(self.cfg.timeout));
            let outcome = self.client.send_request(subject.to_string(), req).await;
            let err = match outcome {
                Ok(msg) => match CommandReply::decode(reply_encoding(&msg, encoding), &msg.payload)
                {
                    Ok(CommandReply::Accepted(a)) => return Ok(a),
                    Ok(CommandReply::Refused(e)) if e.retryable() => ClientError::Refused(e),
                    Ok(CommandReply::Refused(e)) => return Err(ClientError::Refused(e)),
                    Err(e) => return Err(ClientError::Decode(e)),
                },
                Err(e) => match e.kind() {
                    async_nats::RequestErrorKind::TimedOut => ClientError::Timeout {
                        attempts: attempt,
                        command_id,
                    },
                    async_nats::RequestErrorKind::NoResponders => ClientError::NoResponders {
                        subject: subject.to_string(),
                        attempts: attempt,
                    },
                    async_nats::RequestErrorKind::Other => ClientError::Nats(e.to_string()),
                    // Invalid subject, payload over the server's max_payload:
                    // re-sending cannot help.
                    _ => return Err(ClientError::Nats(e.to_string())),
                },
            };
            tracing::debug!(%subject, attempt, error = %err, "command attempt failed");
            last = Some(err);
            if attempt < attempts {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.cfg.max_backoff);
            }
        }
        Err(last.unwrap_or(ClientError::Timeout {
            attempts,
            command_id,
        }))
    }
}

/// The encoding of a reply: its header, else the request's.
pub(crate) fn reply_encoding(msg: &async_nats::Message, fallback: Encoding) -> Encoding {
    msg.headers
        .as_ref()
        .and_then(|h| h.get(wire::ENCODING_HEADER))
        .and_then(|v| Encoding::parse(v.as_str()))
        .unwrap_or(fallback)
}
