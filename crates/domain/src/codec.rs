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
//! Version 1 is the only version so far.

use thiserror::Error;

use crate::command::{Command, CommandEnvelope};
use crate::event::{Envelope, EventBody, MAX_BENCHMARKS, SCHEMA_VERSION};
use crate::saving::MAX_SAVING_YEARS;

/// Version byte of encoded commits.
pub const COMMIT_VERSION: u8 = 1;
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
        COMMIT_VERSION => {
            let (events, rest) = postcard::take_from_bytes::<Vec<Envelope>>(body).map_err(|e| {
                CodecError::Malformed {
                    what: "commit",
                    detail: e.to_string(),
                }
            })?;
            if !rest.is_empty() {
                return Err(CodecError::Trailing {
                    what: "commit",
                    count: rest.len(),
                });
            }
            events
        }
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

/// Encode a command envelope: version byte + postcard.
pub fn encode_command(cmd: &CommandEnvelope) -> Result<Vec<u8>, CodecError> {
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
    let (cmd, rest) =
        postcard::take_from_bytes::<CommandEnvelope>(body).map_err(|e| CodecError::Malformed {
            what: "command",
            detail: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(CodecError::Trailing {
            what: "command",
            count: rest.len(),
        });
    }
    check_command_limits(&cmd.command).map_err(|detail| CodecError::Limit { index: 0, detail })?;
    Ok(cmd)
}

/// Encode a command envelope as JSON (externally tagged command names,
/// periods as labels, fixed-point numbers as decimal strings).
pub fn encode_command_json(cmd: &CommandEnvelope) -> Result<String, CodecError> {
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
    Ok(cmd)
}
