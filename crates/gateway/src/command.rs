//! The command gateway: NATS request/reply into the ledger.
//!
//! Serves the tenants it is configured for, and only those: it subscribes to
//! `{prefix}.cmd.{tenant}.*` for each of them in a queue group (several
//! gateway instances share the load; each request goes to one of them), so a
//! command for another tenant finds no responder here (and `deploy/`'s
//! permissions name the tenants a user may command); a request for another
//! tenant that reaches [`CommandGateway::handle`] anyway is refused
//! `not_permitted` naming the tenant before it is decoded. It decodes the
//! command (postcard or JSON, by the `Pl-Encoding` header or by sniffing),
//! checks that the subject's tenant and family are the command's, executes
//! it through [`perfledger_ledger::Ledger`] and replies with a
//! [`CommandReply`] in the request's encoding. Idempotent by command id (the
//! ledger recognises a command id it has applied). Concurrency is bounded by
//! a semaphore; request bodies are bounded in size; nothing on the request
//! path panics on input.

use std::future::Future;
use std::sync::Arc;

use async_nats::HeaderMap;
use perfledger_client::wire::{
    self, Accepted, CommandReply, Encoding, ServiceError, ENCODING_HEADER, EXPECTED_VERSION_HEADER,
    FAMILIES,
};
use perfledger_domain::codec::{self, MAX_COMMAND_BYTES};
use perfledger_domain::{CommandEnvelope, DomainError, Tenant};
use perfledger_ledger::{Ledger, LedgerError, Submitted};
use perfledger_log::{EventLog, LogError};
use tracing::Instrument;

pub use crate::error::GatewayError;
use crate::serve::{serve_requests, Reply};

/// Options of the command gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The tenants (councils) served; commands for any other are refused.
    pub tenants: Vec<Tenant>,
    /// Subject prefix (default `pl`).
    pub prefix: String,
    /// Queue group shared by gateway instances (default `perfledger-gateway`).
    pub queue_group: String,
    /// Requests executed at once (default 64); further requests wait.
    pub max_in_flight: usize,
    /// Largest request body (default and ceiling: the codec's 256 KiB).
    pub max_body: usize,
    /// Longest time one command may take in the ledger (default 5 s); past
    /// it the request is answered `unavailable` (retry with the same command
    /// id) and its entity is released. Keep it below the clients' timeout.
    pub execute_timeout: std::time::Duration,
}

impl GatewayConfig {
    /// Defaults for a gateway serving `tenants` (no default tenant: a
    /// gateway must be told whom it serves).
    pub fn new(tenants: impl IntoIterator<Item = Tenant>) -> Self {
        GatewayConfig {
            tenants: tenants.into_iter().collect(),
            prefix: "pl".into(),
            queue_group: "perfledger-gateway".into(),
            max_in_flight: 64,
            max_body: MAX_COMMAND_BYTES,
            execute_timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// Lock stripes serialising commands to the same entity within one gateway
/// instance (the ledger's optimistic retries then only see races with
/// other instances, instead of every concurrent request for a hot entity).
const ENTITY_STRIPES: usize = 256;

/// The command gateway over a ledger.
pub struct CommandGateway<L> {
    ledger: Ledger<L>,
    cfg: GatewayConfig,
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl<L: EventLog> CommandGateway<L> {
    /// A gateway appending through `ledger`.
    pub fn new(ledger: Ledger<L>, mut cfg: GatewayConfig) -> Self {
        cfg.tenants.sort();
        cfg.tenants.dedup();
        cfg.max_in_flight = cfg.max_in_flight.max(1);
        cfg.max_body = cfg.max_body.clamp(1, MAX_COMMAND_BYTES);
        CommandGateway {
            ledger,
            cfg,
            stripes: (0..ENTITY_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    /// The options.
    pub fn config(&self) -> &GatewayConfig {
        &self.cfg
    }

    /// The subscription subjects: `{prefix}.cmd.{tenant}.*` per tenant served.
    pub fn subjects(&self) -> Vec<String> {
        self.cfg
            .tenants
            .iter()
            .map(|t| format!("{}.cmd.{}.*", self.cfg.prefix, t.as_str()))
            .collect()
    }

    /// Answer one request (no NATS involved: the serving loop and tests
    /// call this). Returns the reply's encoding and the reply.
    pub async fn handle(
        &self,
        subject: &str,
        headers: Option<&HeaderMap>,
        body: &[u8],
    ) -> (Encoding, CommandReply) {
        let header = |name: &str| headers.and_then(|h| h.get(name)).map(|v| v.as_str());
        let encoding = match header(ENCODING_HEADER) {
            None => Encoding::sniff(body),
            Some(v) => match Encoding::parse(v) {
                Some(e) => e,
                None => {
                    return (
                        Encoding::Json,
                        refuse(ServiceError::Malformed {
                            encoding: v.chars().take(64).collect(),
                            detail: format!(
                                "unknown {ENCODING_HEADER} {:?}: use \"postcard\" or \"json\"",
                                v.chars().take(64).collect::<String>()
                            ),
                        }),
                    )
                }
            },
        };
        let reply = match self.decide(subject, header(EXPECTED_VERSION_HEADER), encoding, body) {
            Ok(submitted) => self.execute(submitted).await,
            Err(e) => refuse(e),
        };
        (encoding, reply)
    }

    fn decide(
        &self,
        subject: &str,
        expected: Option<&str>,
        encoding: Encoding,
        body: &[u8],
    ) -> Result<Submitted, ServiceError> {
        if body.len() > self.cfg.max_body {
            return Err(ServiceError::TooLarge {
                len: body.len() as u64,
                max: self.cfg.max_body as u64,
            });
        }
        let (tenant, family) = self.parse_subject(subject)?;
        let malformed = |detail: String| ServiceError::Malformed {
            encoding: encoding.header_value().into(),
            detail,
        };
        let command = match encoding {
            Encoding::Postcard => {
                codec::decode_command(body).map_err(|e| malformed(e.to_string()))?
            }
            Encoding::Json => {
                let text = std::str::from_utf8(body).map_err(|e| {
                    malformed(format!(
                        "body is not UTF-8 (invalid byte at offset {})",
                        e.valid_up_to()
                    ))
                })?;
                codec::decode_command_json(text).map_err(|e| malformed(e.to_string()))?
            }
        };
        let expected = match expected {
            None => None,
            Some(v) => Some(
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| ServiceError::Malformed {
                        encoding: "header".into(),
                        detail: format!(
                            "{EXPECTED_VERSION_HEADER} {:?} is not a sequence number",
                            v.chars().take(64).collect::<String>()
                        ),
                    })?,
            ),
        };
        check_permitted(&command, tenant, family)?;
        Ok(Submitted {
            command,
            recorded_at: None,
            expected,
        })
    }

    fn parse_subject<'a>(&self, subject: &'a str) -> Result<(&'a str, &'a str), ServiceError> {
        let mut t = subject.split('.');
        match (t.next(), t.next(), t.next(), t.next(), t.next()) {
            (Some(p), Some("cmd"), Some(tenant), Some(family), None) if p == self.cfg.prefix => {
                if !self.cfg.tenants.iter().any(|t| t.as_str() == tenant) {
                    return Err(ServiceError::NotPermitted {
                        field: "tenant".into(),
                        subject_value: tenant.chars().take(64).collect(),
                        command_value: format!("a tenant this gateway serves: {}", self.served()),
                    });
                }
                if !FAMILIES.contains(&family) {
                    return Err(ServiceError::NotPermitted {
                        field: "family".into(),
                        subject_value: family.into(),
                        command_value: format!("one of {}", FAMILIES.join(", ")),
                    });
                }
                Ok((tenant, family))
            }
            _ => Err(ServiceError::NotPermitted {
                field: "subject".into(),
                subject_value: subject.chars().take(256).collect(),
                command_value: format!("{}.cmd.{{tenant}}.{{family}}", self.cfg.prefix),
            }),
        }
    }

    fn served(&self) -> String {
        let names: Vec<&str> = self.cfg.tenants.iter().map(|t| t.as_str()).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    async fn execute(&self, submitted: Submitted) -> CommandReply {
        let command_id = submitted.command.command_id;
        let name = submitted.command.command.name();
        let (_, entity) = submitted.command.command.entity(&submitted.command.tenant);
        let stripe = (entity.as_u128() % ENTITY_STRIPES as u128) as usize;
        let limit = self.cfg.execute_timeout;
        // The ledger's future is large (every await point of a command's
        // path): boxed here, it is written to the heap once, and the
        // futures around it (the timeout, the request's task) stay small
        // to move and to spawn. Unboxed, spawning each request copied it
        // several times (about 4% of the gateway process's time).
        let run = async {
            let _serial = self.stripes[stripe].lock().await;
            Box::pin(self.ledger.execute(submitted)).await
        };
        let Ok(outcome) = tokio::time::timeout(limit, run).await else {
            tracing::warn!(%command_id, ?limit, "command timed out in the ledger");
            return CommandReply::Refused(ServiceError::Unavailable {
                detail: format!("the ledger did not finish within {limit:?}"),
            });
        };
        match outcome {
            Ok(done) => {
                tracing::debug!(%command_id, seq = done.seq, duplicate = done.duplicate, "command accepted");
                CommandReply::Accepted(Accepted {
                    command_id,
                    seq: done.seq,
                    duplicate: done.duplicate,
                    events: done.events.len() as u32,
                })
            }
            Err(e) => {
                let err = map_ledger_error(name, e);
                match &err {
                    ServiceError::Internal { detail } => {
                        tracing::error!(%command_id, %detail, "command failed")
                    }
                    ServiceError::Unavailable { detail } => {
                        tracing::warn!(%command_id, %detail, "command failed (retryable)")
                    }
                    other => tracing::debug!(%command_id, error = %other, "command refused"),
                }
                CommandReply::Refused(err)
            }
        }
    }

    /// Serve requests until `shutdown` completes, then stop taking requests
    /// and wait for those in flight.
    pub async fn serve(
        self: Arc<Self>,
        client: async_nats::Client,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), GatewayError> {
        let subjects = self.subjects();
        let queue = self.cfg.queue_group.clone();
        let limit = self.cfg.max_in_flight;
        serve_requests(client, subjects, queue, limit, shutdown, move |msg| {
            let gw = self.clone();
            let span = tracing::debug_span!("command", subject = %msg.subject);
            async move {
                let (encoding, reply) = gw
                    .handle(msg.subject.as_str(), msg.headers.as_ref(), &msg.payload)
                    .await;
                Reply {
                    encoding,
                    status: reply.status(),
                    body: reply.encode(encoding),
                }
            }
            .instrument(span)
        })
        .await
    }
}

fn refuse(e: ServiceError) -> CommandReply {
    CommandReply::Refused(e)
}

/// The subject's tenant and family must be the command's.
pub fn check_permitted(
    cmd: &CommandEnvelope,
    tenant: &str,
    family: &str,
) -> Result<(), ServiceError> {
    if cmd.tenant.as_str() != tenant {
        return Err(ServiceError::NotPermitted {
            field: "tenant".into(),
            subject_value: tenant.into(),
            command_value: cmd.tenant.as_str().into(),
        });
    }
    let own = cmd.command.family();
    if own != family {
        return Err(ServiceError::NotPermitted {
            field: "family".into(),
            subject_value: family.into(),
            command_value: own.into(),
        });
    }
    Ok(())
}

/// A ledger error as a service error.
pub fn map_ledger_error(command: &str, e: LedgerError) -> ServiceError {
    match e {
        LedgerError::Rejected { source, .. } => map_domain_error(command, source),
        LedgerError::Conflict {
            subject,
            expected,
            current,
            ..
        } => ServiceError::Conflict {
            command: command.into(),
            subject,
            expected,
            current,
        },
        LedgerError::Log(LogError::Conflict {
            subject,
            expected,
            current,
        }) => ServiceError::Conflict {
            command: command.into(),
            subject: subject.to_string(),
            expected: match expected {
                perfledger_log::Expected::At(s) => s,
                _ => 0,
            },
            current,
        },
        LedgerError::CommandIdReused {
            command_id,
            original_seq,
            ..
        } => ServiceError::CommandIdReused {
            command: command.into(),
            command_id,
            original_seq,
        },
        LedgerError::Encode { source, .. } => ServiceError::Validation {
            command: command.into(),
            rule: "encode".into(),
            field: "events".into(),
            value: String::new(),
            message: source.to_string(),
        },
        e @ (LedgerError::TooManyConflicts { .. }
        | LedgerError::Log(LogError::Unavailable(_))
        | LedgerError::Log(LogError::Nats { .. })
        | LedgerError::Log(LogError::Io { .. })) => ServiceError::Unavailable {
            detail: e.to_string(),
        },
        other => ServiceError::Internal {
            detail: other.to_string(),
        },
    }
}

/// A domain refusal as a service error naming field and value.
pub fn map_domain_error(command: &str, e: DomainError) -> ServiceError {
    let message = e.to_string();
    let (rule, field, value): (&str, String, String) = match e {
        DomainError::PeriodClosed { period } => {
            return ServiceError::PeriodClosed {
                command: command.into(),
                period,
            }
        }
        DomainError::Invalid { field, value, .. } => ("invalid", field.into(), value),
        DomainError::TooLong { field, len, .. } => ("too_long", field.into(), len.to_string()),
        DomainError::OutOfRange { field, value, .. } => {
            ("out_of_range", field.into(), value.to_string())
        }
        DomainError::Overflow { field } => ("overflow", field.into(), String::new()),
        DomainError::UnknownEntity { kind, key } => ("unknown_entity", kind.into(), key),
        DomainError::DuplicateDefinition { kind, key } => {
            ("duplicate_definition", kind.into(), key)
        }
        DomainError::Retired { kind, key } => ("retired", kind.into(), key),
        DomainError::PeriodDoesNotFitFrequency { period, .. } => {
            ("period_does_not_fit_frequency", "period".into(), period)
        }
        DomainError::WrongValueType { field, value, .. } => {
            ("wrong_value_type", field.into(), value)
        }
        DomainError::AlreadyRecorded { field, period } => {
            ("already_recorded", field.into(), period)
        }
        DomainError::NothingToRestate { field, period } => {
            ("nothing_to_restate", field.into(), period)
        }
        DomainError::MissingReason { command } => {
            ("missing_reason", "reason".into(), command.into())
        }
        DomainError::WrongEntityKind { command, kind } => (
            "wrong_entity_kind",
            "command".into(),
            format!("{command} on {kind}"),
        ),
    };
    ServiceError::Validation {
        command: command.into(),
        rule: rule.into(),
        field,
        value,
        message,
    }
}

/// Encode a reply (re-exported for tools).
pub fn encode_reply(reply: &CommandReply, enc: Encoding) -> Vec<u8> {
    reply.encode(enc)
}

/// Decode a reply (re-exported for tools).
pub fn decode_reply(enc: Encoding, bytes: &[u8]) -> Result<CommandReply, String> {
    wire::decode_reply(enc, bytes)
}
