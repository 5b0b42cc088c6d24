//! The wire codec: postcard with an explicit version header, limits checked
//! on encode *and* decode (TigerBeetle style).
//!
//! * A commit (one log record) = all events one command produced for one
//!   entity: `[COMMIT_VERSION: u8] ++ postcard(Vec<Envelope>)`.
//! * A command = `[COMMAND_VERSION: u8] ++ postcard(CommandEnvelope)`;
//!   commands also travel as JSON ([`encode_command_json`]).
//!
//! Rules (also in `proto/README.md`): never reorder or remove enum variants
//! or struct fields; add variants only at the end; never use
//! `skip_serializing_if` (postcard is positional); a shape change bumps the
//! version byte and adds an upcast from the old shape in [`decode_commit`].
//!
//! Commit versions: 1 (the envelope without `command_digest` and
//! `migrated_at`; kept as a frozen copy here and upcast with both `None`),
//! 2 (current).
//!
//! Commands are decoded strictly: unknown JSON fields, the nil UUID as
//! command or correlation id, and non-canonical postcard (over-long varints;
//! checked by re-encoding) are refused. A postcard failure is explained in
//! words with the field path and the byte where decoding stopped.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use uuid::Uuid;

use crate::command::{Command, CommandEnvelope};
use crate::event::{EntityRef, Envelope, EventBody, MAX_BENCHMARKS, SCHEMA_VERSION};
use crate::ids::Tenant;
use crate::period::Period;
use crate::saving::MAX_SAVING_YEARS;
use crate::text::Text;
use crate::time::Timestamp;

/// Version byte of encoded commits.
pub const COMMIT_VERSION: u8 = 2;
/// The first commit version (frozen; decoded and upcast, never written).
pub const COMMIT_VERSION_1: u8 = 1;
/// Version byte of encoded commands.
pub const COMMAND_VERSION: u8 = 1;
/// Most events in one commit.
pub const MAX_EVENTS_PER_COMMIT: usize = 256;
/// Largest encoded commit in bytes (header included).
pub const MAX_COMMIT_BYTES: usize = 1024 * 1024;
/// Largest encoded command in bytes (header included; JSON too).
pub const MAX_COMMAND_BYTES: usize = 256 * 1024;

/// Why bytes could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// No bytes at all.
    #[error("{what}: empty input")]
    Empty {
        /// commit or command.
        what: &'static str,
    },
    /// Unknown version byte.
    #[error("{what}: unsupported version {version}")]
    UnsupportedVersion {
        /// commit or command.
        what: &'static str,
        /// The version byte found.
        version: u8,
    },
    /// Over the size limit.
    #[error("{what} is {len} bytes; the limit is {max}")]
    TooLarge {
        /// commit or command.
        what: &'static str,
        /// Size.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Event count outside 1..=MAX_EVENTS_PER_COMMIT.
    #[error("commit has {count} events; allowed 1..={max}")]
    EventCount {
        /// Count.
        count: usize,
        /// Limit.
        max: usize,
    },
    /// The events of a commit disagree on entity, tenant, command or time.
    #[error("commit event {index} differs from the first in {field}")]
    Inconsistent {
        /// Index of the offending event.
        index: usize,
        /// Field that differs.
        field: &'static str,
    },
    /// An envelope with an unknown schema version.
    #[error("event {index} has schema version {version}; supported up to {max}")]
    SchemaVersion {
        /// Index of the event.
        index: usize,
        /// Its version.
        version: u16,
        /// Highest supported.
        max: u16,
    },
    /// Postcard or JSON could not (de)serialise.
    #[error("{what}: malformed: {detail}")]
    Malformed {
        /// commit or command.
        what: &'static str,
        /// Detail from the serialiser.
        detail: String,
    },
    /// A collection limit inside an event or command was exceeded.
    #[error("item {index}: {detail}")]
    Limit {
        /// Index of the event (0 for a command).
        index: usize,
        /// Which limit.
        detail: &'static str,
    },
    /// Bytes left over after the body.
    #[error("{what}: {count} trailing bytes")]
    Trailing {
        /// commit or command.
        what: &'static str,
        /// Number of bytes.
        count: usize,
    },
    /// The bytes decode, but are not the canonical encoding of what they
    /// decode to (an over-long varint such as `0x81 0x00` for 1): one value
    /// must have one encoding, or equal commands would differ in bytes.
    #[error("{what}: not canonical postcard: byte {offset} differs from the canonical encoding of the decoded value (an over-long varint?)")]
    NonCanonical {
        /// commit or command.
        what: &'static str,
        /// Offset of the first differing byte (version byte = 0).
        offset: usize,
    },
    /// An id that must identify something is the nil UUID.
    #[error("{what}: {field} is the nil UUID (00000000-0000-0000-0000-000000000000); give a real id (uuid v7 or v5)")]
    NilId {
        /// command.
        what: &'static str,
        /// `command_id` or `correlation_id`.
        field: &'static str,
    },
}

pub use crate::error::de_error;
use crate::error::take_last_custom;

/// Words for postcard's error kinds.
fn postcard_words(e: &postcard::Error) -> String {
    use postcard::Error as P;
    match e {
        P::DeserializeUnexpectedEnd => "the input ends early (more bytes expected)".into(),
        P::DeserializeBadVarint => {
            "a malformed varint (longer than its type allows, or overflowing)".into()
        }
        P::DeserializeBadBool => "a bool byte that is neither 0 nor 1".into(),
        P::DeserializeBadChar => "an invalid char".into(),
        P::DeserializeBadUtf8 => "a string that is not valid UTF-8".into(),
        P::DeserializeBadOption => "an Option tag that is neither 0 (None) nor 1 (Some)".into(),
        P::DeserializeBadEnum => "an enum variant index over u32".into(),
        P::DeserializeBadEncoding => "bytes that are not a valid encoding".into(),
        P::SerdeDeCustom => take_last_custom().unwrap_or_else(|| {
            "a value its type refuses (an unknown enum variant index, or a value out of range)"
                .into()
        }),
        other => other.to_string(),
    }
}

/// Field names of the command envelope, in wire order.
const COMMAND_FIELDS: [&str; 7] = [
    "command_id",
    "tenant",
    "actor",
    "source",
    "correlation_id",
    "causation_id",
    "command",
];

/// Field names of the envelope (version 2; version 1 is its prefix).
const ENVELOPE_FIELDS: [&str; 15] = [
    "event_id",
    "entity",
    "tenant",
    "recorded_at",
    "effective",
    "actor",
    "source",
    "reason",
    "correlation_id",
    "causation_id",
    "command_id",
    "schema_version",
    "body",
    "command_digest",
    "migrated_at",
];

/// What a decoded unit is, for naming the place of a failure: postcard is
/// positional, so the path has positions; the top level gets its names.
#[derive(Clone, Copy)]
enum Shape {
    Command,
    Commit,
}

/// `[6].5[2][1]` → `command.5[2][1]`; `[1][2]` → `event 1: tenant`.
fn name_path(shape: Shape, path: &str) -> String {
    fn leading_index(p: &str) -> Option<(usize, &str)> {
        let rest = p.strip_prefix('[')?;
        let end = rest.find(']')?;
        Some((rest[..end].parse().ok()?, &rest[end + 1..]))
    }
    match shape {
        Shape::Command => match leading_index(path) {
            Some((i, rest)) if i < COMMAND_FIELDS.len() => format!("{}{rest}", COMMAND_FIELDS[i]),
            _ => path.to_string(),
        },
        Shape::Commit => match leading_index(path) {
            Some((event, rest)) => match leading_index(rest) {
                Some((f, rest)) if f < ENVELOPE_FIELDS.len() => {
                    format!("event {event}: {}{rest}", ENVELOPE_FIELDS[f])
                }
                _ => format!("event {event}{rest}"),
            },
            None => path.to_string(),
        },
    }
}

/// Explain why `body` does not decode as `T`: postcard's finding in words,
/// the field path and the offset where decoding stopped (just after the
/// refused value; version byte = 0). Run only after a
/// failed decode, so the fast path pays nothing for it.
fn explain<'a, T: Deserialize<'a>>(shape: Shape, body: &'a [u8]) -> String {
    take_last_custom();
    let mut de = postcard::Deserializer::from_bytes(body);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let remaining = de.finalize().map(|r| r.len()).unwrap_or(0);
    let offset = 1 + body.len().saturating_sub(remaining);
    match result {
        Ok(_) => format!("undecodable at byte {offset}"),
        Err(e) => {
            let path = name_path(shape, &e.path().to_string());
            let words = postcard_words(e.inner());
            if path == "." || path.is_empty() {
                format!("{words} (decoding stopped at byte {offset})")
            } else {
                format!("{words} in `{path}` (decoding stopped at byte {offset})")
            }
        }
    }
}

/// Refuse bytes that decoded but are not the canonical encoding of the
/// value (re-encode and compare).
fn check_canonical(what: &'static str, bytes: &[u8], canonical: &[u8]) -> Result<(), CodecError> {
    if bytes == canonical {
        return Ok(());
    }
    let offset = bytes
        .iter()
        .zip(canonical)
        .position(|(a, b)| a != b)
        .unwrap_or(bytes.len().min(canonical.len()));
    Err(CodecError::NonCanonical { what, offset })
}

/// The ids of a command envelope that must not be nil.
fn check_command_ids(what: &'static str, cmd: &CommandEnvelope) -> Result<(), CodecError> {
    if cmd.command_id.is_nil() {
        return Err(CodecError::NilId {
            what,
            field: "command_id",
        });
    }
    if cmd.correlation_id.is_nil() {
        return Err(CodecError::NilId {
            what,
            field: "correlation_id",
        });
    }
    Ok(())
}

/// The version-1 envelope, frozen: exactly the shape commits of version 1
/// were written with. Never change it; it exists only to be upcast.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EnvelopeV1 {
    event_id: Uuid,
    entity: EntityRef,
    tenant: Tenant,
    recorded_at: Timestamp,
    effective: Option<Period>,
    actor: Text,
    source: Text,
    reason: Option<Text>,
    correlation_id: Uuid,
    causation_id: Option<Uuid>,
    command_id: Uuid,
    schema_version: u16,
    body: EventBody,
}

impl EnvelopeV1 {
    /// The upcast: the fields version 2 appended did not exist, so they are
    /// `None`; `schema_version` keeps what was stored.
    fn upcast(self) -> Envelope {
        Envelope {
            event_id: self.event_id,
            entity: self.entity,
            tenant: self.tenant,
            recorded_at: self.recorded_at,
            effective: self.effective,
            actor: self.actor,
            source: self.source,
            reason: self.reason,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            command_id: self.command_id,
            schema_version: self.schema_version,
            body: self.body,
            command_digest: None,
            migrated_at: None,
        }
    }
}

/// SHA-256 of a command's canonical encoding, stored in every envelope it
/// produced ([`Envelope::command_digest`]) so that a command id sent again
/// can be told apart from a *different* command under a reused id.
///
/// The canonical encoding is the command's identity and substance, not who
/// relayed it: `[COMMAND_VERSION] ++ postcard((command_id, tenant,
/// command))`, i.e. the [`encode_command`] bytes without `actor`, `source`,
/// `correlation_id` and `causation_id`. A retry after a lost reply, or a
/// re-import of the same rows in a larger file set (another correlation id),
/// or by another officer, is the same command; another body, entity or
/// tenant under the same id is not.
pub fn command_digest(cmd: &CommandEnvelope) -> Result<[u8; 32], CodecError> {
    check_command_limits(&cmd.command).map_err(|detail| CodecError::Limit { index: 0, detail })?;
    let bytes = postcard::to_extend(
        &(&cmd.command_id, &cmd.tenant, &cmd.command),
        vec![COMMAND_VERSION],
    )
    .map_err(|e| CodecError::Malformed {
        what: "command",
        detail: e.to_string(),
    })?;
    Ok(Sha256::digest(&bytes).into())
}

/// Collection limits inside event bodies (strings are bounded by `Text`).
fn check_body_limits(body: &EventBody) -> Result<(), &'static str> {
    match body {
        EventBody::ResultRecorded { entry, .. } | EventBody::ResultRestated { entry, .. }
            if entry.benchmarks.len() > MAX_BENCHMARKS =>
        {
            Err("too many benchmarks")
        }
        EventBody::SavingProposed { spec } if spec.amounts.len() > MAX_SAVING_YEARS => {
            Err("too many savings years")
        }
        _ => Ok(()),
    }
}

fn check_command_limits(cmd: &Command) -> Result<(), &'static str> {
    match cmd {
        Command::RecordResult { entry, .. } | Command::RestateResult { entry, .. }
            if entry.benchmarks.len() > MAX_BENCHMARKS =>
        {
            Err("too many benchmarks")
        }
        Command::ProposeSaving { spec } if spec.amounts.len() > MAX_SAVING_YEARS => {
            Err("too many savings years")
        }
        Command::PostCloseRestatement { command, .. } => match **command {
            Command::PostCloseRestatement { .. } => Err("nested post-close restatement"),
            ref inner => check_command_limits(inner),
        },
        _ => Ok(()),
    }
}

fn check_commit(events: &[Envelope]) -> Result<(), CodecError> {
    if events.is_empty() || events.len() > MAX_EVENTS_PER_COMMIT {
        return Err(CodecError::EventCount {
            count: events.len(),
            max: MAX_EVENTS_PER_COMMIT,
        });
    }
    let first = &events[0];
    for (index, e) in events.iter().enumerate() {
        if e.schema_version == 0 || e.schema_version > SCHEMA_VERSION {
            return Err(CodecError::SchemaVersion {
                index,
                version: e.schema_version,
                max: SCHEMA_VERSION,
            });
        }
        check_body_limits(&e.body).map_err(|detail| CodecError::Limit { index, detail })?;
        let field = if e.entity != first.entity {
            "entity"
        } else if e.tenant != first.tenant {
            "tenant"
        } else if e.command_id != first.command_id {
            "command_id"
        } else if e.recorded_at != first.recorded_at {
            "recorded_at"
        } else if e.command_digest != first.command_digest {
            "command_digest"
        } else if e.migrated_at != first.migrated_at {
            "migrated_at"
        } else {
            continue;
        };
        return Err(CodecError::Inconsistent { index, field });
    }
    Ok(())
}

/// Encode one commit: version byte + postcard of the envelopes.
pub fn encode_commit(events: &[Envelope]) -> Result<Vec<u8>, CodecError> {
    check_commit(events)?;
    let bytes =
        postcard::to_extend(&events, vec![COMMIT_VERSION]).map_err(|e| CodecError::Malformed {
            what: "commit",
            detail: e.to_string(),
        })?;
    if bytes.len() > MAX_COMMIT_BYTES {
        return Err(CodecError::TooLarge {
            what: "commit",
            len: bytes.len(),
            max: MAX_COMMIT_BYTES,
        });
    }
    Ok(bytes)
}

/// Decode one commit (upcasting older versions when there are any).
pub fn decode_commit(bytes: &[u8]) -> Result<Vec<Envelope>, CodecError> {
    if bytes.len() > MAX_COMMIT_BYTES {
        return Err(CodecError::TooLarge {
            what: "commit",
            len: bytes.len(),
            max: MAX_COMMIT_BYTES,
        });
    }
    let (&version, body) = bytes
        .split_first()
        .ok_or(CodecError::Empty { what: "commit" })?;
    let events: Vec<Envelope> = match version {
        COMMIT_VERSION => take_all::<Vec<Envelope>>("commit", Shape::Commit, body)?,
        COMMIT_VERSION_1 => take_all::<Vec<EnvelopeV1>>("commit", Shape::Commit, body)?
            .into_iter()
            .map(EnvelopeV1::upcast)
            .collect(),
        other => {
            return Err(CodecError::UnsupportedVersion {
                what: "commit",
                version: other,
            })
        }
    };
    check_commit(&events)?;
    Ok(events)
}

/// Decode all of `body` as one `T`, refusing trailing bytes; a failure
/// names postcard's finding, the field and the byte offset.
fn take_all<'a, T: Deserialize<'a>>(
    what: &'static str,
    shape: Shape,
    body: &'a [u8],
) -> Result<T, CodecError> {
    let (value, rest) =
        postcard::take_from_bytes::<T>(body).map_err(|_| CodecError::Malformed {
            what,
            detail: explain::<T>(shape, body),
        })?;
    if !rest.is_empty() {
        return Err(CodecError::Trailing {
            what,
            count: rest.len(),
        });
    }
    Ok(value)
}

/// Encode a command envelope: version byte + postcard.
pub fn encode_command(cmd: &CommandEnvelope) -> Result<Vec<u8>, CodecError> {
    check_command_ids("command", cmd)?;
    check_command_limits(&cmd.command).map_err(|detail| CodecError::Limit { index: 0, detail })?;
    let bytes =
        postcard::to_extend(cmd, vec![COMMAND_VERSION]).map_err(|e| CodecError::Malformed {
            what: "command",
            detail: e.to_string(),
        })?;
    if bytes.len() > MAX_COMMAND_BYTES {
        return Err(CodecError::TooLarge {
            what: "command",
            len: bytes.len(),
            max: MAX_COMMAND_BYTES,
        });
    }
    Ok(bytes)
}

/// Decode a command envelope.
pub fn decode_command(bytes: &[u8]) -> Result<CommandEnvelope, CodecError> {
    if bytes.len() > MAX_COMMAND_BYTES {
        return Err(CodecError::TooLarge {
            what: "command",
            len: bytes.len(),
            max: MAX_COMMAND_BYTES,
        });
    }
    let (&version, body) = bytes
        .split_first()
        .ok_or(CodecError::Empty { what: "command" })?;
    if version != COMMAND_VERSION {
        return Err(CodecError::UnsupportedVersion {
            what: "command",
            version,
        });
    }
    let cmd: CommandEnvelope = take_all("command", Shape::Command, body)?;
    check_command_limits(&cmd.command).map_err(|detail| CodecError::Limit { index: 0, detail })?;
    check_command_ids("command", &cmd)?;
    // One command, one encoding: re-encode and compare (an over-long varint
    // decodes to the same value but would give equal commands other bytes).
    let canonical =
        postcard::to_extend(&cmd, vec![COMMAND_VERSION]).map_err(|e| CodecError::Malformed {
            what: "command",
            detail: e.to_string(),
        })?;
    check_canonical("command", bytes, &canonical)?;
    Ok(cmd)
}

/// Encode a command envelope as JSON (externally tagged command names,
/// periods as labels, fixed-point numbers as decimal strings).
pub fn encode_command_json(cmd: &CommandEnvelope) -> Result<String, CodecError> {
    check_command_ids("command json", cmd)?;
    check_command_limits(&cmd.command).map_err(|detail| CodecError::Limit { index: 0, detail })?;
    let s = serde_json::to_string(cmd).map_err(|e| CodecError::Malformed {
        what: "command json",
        detail: e.to_string(),
    })?;
    if s.len() > MAX_COMMAND_BYTES {
        return Err(CodecError::TooLarge {
            what: "command json",
            len: s.len(),
            max: MAX_COMMAND_BYTES,
        });
    }
    Ok(s)
}

/// Decode a command envelope from JSON.
pub fn decode_command_json(json: &str) -> Result<CommandEnvelope, CodecError> {
    if json.len() > MAX_COMMAND_BYTES {
        return Err(CodecError::TooLarge {
            what: "command json",
            len: json.len(),
            max: MAX_COMMAND_BYTES,
        });
    }
    let cmd: CommandEnvelope = serde_json::from_str(json).map_err(|e| CodecError::Malformed {
        what: "command json",
        detail: e.to_string(),
    })?;
    check_command_limits(&cmd.command).map_err(|detail| CodecError::Limit { index: 0, detail })?;
    check_command_ids("command json", &cmd)?;
    Ok(cmd)
}
