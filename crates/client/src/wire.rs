//! The request/reply contract of the command gateway and the query service
//! (`proto/services.md`). Shared by the gateway (which answers) and the
//! client (which asks), so both sides use the same types.
//!
//! A command request is an encoded [`perfledger_domain::CommandEnvelope`]
//! (postcard with its version byte, or JSON) on
//! `{prefix}.cmd.{tenant}.{family}`, with the [`ENCODING_HEADER`] naming the
//! encoding. The reply is a [`CommandReply`] in the same encoding:
//! postcard = `[REPLY_VERSION] ++ postcard(CommandReply)`, JSON = the serde
//! JSON form (`{"Accepted":{...}}` / `{"Refused":{"Conflict":{...}}}`).
//! Every reply also carries [`STATUS_HEADER`] (`ok` or the error code) so a
//! caller can route without decoding.
//!
//! Never reorder variants or fields (postcard is positional); append only.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Header naming the body's encoding: `postcard` or `json`.
pub const ENCODING_HEADER: &str = "Pl-Encoding";
/// Optional request header pinning the entity version the caller expects
/// (optimistic concurrency): a decimal sequence, `0` = the entity must not exist.
pub const EXPECTED_VERSION_HEADER: &str = "Pl-Expected-Version";
/// Reply header: `ok` or the [`ServiceError::code`].
pub const STATUS_HEADER: &str = "Pl-Status";
/// Version byte of postcard replies.
pub const REPLY_VERSION: u8 = 1;
/// Largest reply we accept when decoding (replies are small).
pub const MAX_REPLY_BYTES: usize = 4 * 1024 * 1024;

/// Body encoding of a request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    /// Version byte + postcard (the Rust client's default).
    Postcard,
    /// JSON (services in other languages).
    Json,
}

impl Encoding {
    /// The [`ENCODING_HEADER`] value.
    pub fn header_value(self) -> &'static str {
        match self {
            Encoding::Postcard => "postcard",
            Encoding::Json => "json",
        }
    }

    /// Parse an [`ENCODING_HEADER`] value (case-insensitive).
    pub fn parse(value: &str) -> Option<Encoding> {
        match value.trim().to_ascii_lowercase().as_str() {
            "postcard" | "application/x-postcard" => Some(Encoding::Postcard),
            "json" | "application/json" => Some(Encoding::Json),
            _ => None,
        }
    }

    /// The encoding of a body that came without a header: JSON if it starts
    /// (after whitespace) with `{`, else postcard (whose first byte is the
    /// version byte `0x01`).
    pub fn sniff(body: &[u8]) -> Encoding {
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Encoding::Json,
            _ => Encoding::Postcard,
        }
    }
}

/// The gateway's answer to one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandReply {
    /// Appended (or recognised as already appended).
    Accepted(Accepted),
    /// Refused: nothing was appended.
    Refused(ServiceError),
}

/// A command that is in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The command id.
    pub command_id: Uuid,
    /// Sequence of the commit holding its events (the original's for a
    /// duplicate; for a command that produced no events, the entity's version).
    pub seq: u64,
    /// The command id had been applied before: nothing new was appended.
    pub duplicate: bool,
    /// Number of events appended (0 for a duplicate).
    pub events: u32,
}

/// Why a request was refused. Each variant names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ServiceError {
    /// The body could not be decoded as a command.
    #[error("malformed {encoding} command: {detail}")]
    Malformed {
        /// `postcard`, `json`, or the unknown encoding named in the header.
        encoding: String,
        /// What is wrong (from the decoder: field, position, variant...).
        detail: String,
    },
    /// The body exceeds the size limit.
    #[error("request of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Size of the body.
        len: u64,
        /// Limit.
        max: u64,
    },
    /// The domain refused the command (a rule or a value).
    #[error("{command} refused: {message} (field {field}, value {value:?})")]
    Validation {
        /// Command name (`RecordResult`).
        command: String,
        /// The rule (`unknown_entity`, `wrong_value_type`, `out_of_range`...).
        rule: String,
        /// Field (or entity kind) at fault.
        field: String,
        /// The offending value as given.
        value: String,
        /// Human-readable message.
        message: String,
    },
    /// The command changes a closed period (wrap it in a post-close restatement).
    #[error("{command} refused: period {period} is closed")]
    PeriodClosed {
        /// Command name.
        command: String,
        /// The closed period's label.
        period: String,
    },
    /// The pinned version is not the entity's current version.
    #[error("{command}: version conflict on {subject}: expected {expected}, current {current}")]
    Conflict {
        /// Command name.
        command: String,
        /// The entity's event subject.
        subject: String,
        /// The version the caller pinned.
        expected: u64,
        /// The entity's current version.
        current: u64,
    },
    /// The subject does not permit this command (tenant or family mismatch,
    /// unknown family).
    #[error("not permitted: {field} in the subject is {subject_value:?} but the command's is {command_value:?}")]
    NotPermitted {
        /// `tenant` or `family`.
        field: String,
        /// The token in the request subject.
        subject_value: String,
        /// The command's own value.
        command_value: String,
    },
    /// The log is unavailable or lost repeated version races: retry with the
    /// same command id.
    #[error("unavailable (retry with the same command id): {detail}")]
    Unavailable {
        /// Detail.
        detail: String,
    },
    /// A query named an unknown view or bad parameters.
    #[error("bad query {view}: {detail}")]
    BadQuery {
        /// The view token.
        view: String,
        /// What is wrong.
        detail: String,
    },
    /// Anything else (a bug or a corrupt log); details are in the gateway's log.
    #[error("internal error: {detail}")]
    Internal {
        /// Detail.
        detail: String,
    },
    /// The command id was already used by a *different* command (another
    /// body, entity or tenant), stored at `original_seq`: nothing was
    /// appended. Do not retry; a new command needs a new command id. (The
    /// same command re-sent is `Accepted` with `duplicate: true`.)
    #[error("{command} refused: command id {command_id} was already used by a different command, stored at sequence {original_seq}; a new command needs a new command id")]
    CommandIdReused {
        /// Command name of the refused command.
        command: String,
        /// The reused command id.
        command_id: Uuid,
        /// Sequence of the commit that used the id first.
        original_seq: u64,
    },
}

impl ServiceError {
    /// Stable short code (the [`STATUS_HEADER`] value).
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Malformed { .. } => "malformed",
            ServiceError::TooLarge { .. } => "too_large",
            ServiceError::Validation { .. } => "validation",
            ServiceError::PeriodClosed { .. } => "period_closed",
            ServiceError::Conflict { .. } => "conflict",
            ServiceError::NotPermitted { .. } => "not_permitted",
            ServiceError::Unavailable { .. } => "unavailable",
            ServiceError::BadQuery { .. } => "bad_query",
            ServiceError::Internal { .. } => "internal",
            ServiceError::CommandIdReused { .. } => "command_id_reused",
        }
    }

    /// Whether re-sending the same request (same command id) may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, ServiceError::Unavailable { .. })
    }
}

impl CommandReply {
    /// The [`STATUS_HEADER`] value.
    pub fn status(&self) -> &'static str {
        match self {
            CommandReply::Accepted(_) => "ok",
            CommandReply::Refused(e) => e.code(),
        }
    }

    /// Encode a reply.
    pub fn encode(&self, encoding: Encoding) -> Vec<u8> {
        match encoding {
            // Serialising these plain types cannot fail; fall back to an
            // internal error reply rather than panic if it ever did.
            Encoding::Postcard => postcard::to_extend(self, vec![REPLY_VERSION])
                .unwrap_or_else(|_| vec![REPLY_VERSION, 1, 8, 0]),
            Encoding::Json => serde_json::to_vec(self)
                .unwrap_or_else(|_| br#"{"Refused":{"Internal":{"detail":"encode"}}}"#.to_vec()),
        }
    }

    /// Decode a reply.
    pub fn decode(encoding: Encoding, bytes: &[u8]) -> Result<CommandReply, String> {
        decode_reply(encoding, bytes)
    }
}

/// Decode a postcard (`[REPLY_VERSION] ++ postcard`) or JSON reply body.
pub fn decode_reply<T: serde::de::DeserializeOwned>(
    encoding: Encoding,
    bytes: &[u8],
) -> Result<T, String> {
    if bytes.len() > MAX_REPLY_BYTES {
        return Err(format!(
            "reply of {} bytes exceeds {MAX_REPLY_BYTES}",
            bytes.len()
        ));
    }
    match encoding {
        Encoding::Postcard => match bytes.split_first() {
            None => Err("empty reply".into()),
            Some((&REPLY_VERSION, body)) => {
                let (v, rest) = postcard::take_from_bytes::<T>(body).map_err(|e| e.to_string())?;
                if rest.is_empty() {
                    Ok(v)
                } else {
                    Err(format!("{} trailing bytes in reply", rest.len()))
                }
            }
            Some((v, _)) => Err(format!("unsupported reply version {v}")),
        },
        Encoding::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
    }
}

/// The subject of commands of one family: `{prefix}.cmd.{tenant}.{family}`.
pub fn command_subject(prefix: &str, tenant: &str, family: &str) -> String {
    format!("{prefix}.cmd.{tenant}.{family}")
}

/// The subject of one read-model view: `{prefix}.q.{tenant}.{view}`.
pub fn query_subject(prefix: &str, tenant: &str, view: &str) -> String {
    format!("{prefix}.q.{tenant}.{view}")
}

/// Command families (`Command::family()`), in the order of `proto/subjects.md`.
pub const FAMILIES: [&str; 6] = ["indicator", "action", "risk", "finance", "saving", "admin"];

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<CommandReply> {
        vec![
            CommandReply::Accepted(Accepted {
                command_id: Uuid::from_u128(1),
                seq: 42,
                duplicate: false,
                events: 1,
            }),
            CommandReply::Refused(ServiceError::Conflict {
                command: "RecordResult".into(),
                subject: "pl.ev.barnet.indicator.00".into(),
                expected: 3,
                current: 7,
            }),
            CommandReply::Refused(ServiceError::Malformed {
                encoding: "json".into(),
                detail: "missing field `tenant`".into(),
            }),
        ]
    }

    #[test]
    fn replies_round_trip_in_both_encodings() {
        for r in samples() {
            for enc in [Encoding::Postcard, Encoding::Json] {
                let bytes = r.encode(enc);
                assert_eq!(CommandReply::decode(enc, &bytes).unwrap(), r);
            }
        }
    }

    #[test]
    fn postcard_reply_bytes_are_pinned() {
        // proto/services.md: 0x01 ++ postcard(CommandReply), positional.
        let mut want = vec![REPLY_VERSION, 0, 16];
        want.extend_from_slice(&Uuid::from_u128(1).into_bytes());
        want.extend_from_slice(&[42, 0, 1]);
        assert_eq!(samples()[0].encode(Encoding::Postcard), want);
        let conflict = samples()[1].encode(Encoding::Postcard);
        assert_eq!(&conflict[..4], &[REPLY_VERSION, 1, 4, 12]);
        assert_eq!(&conflict[4..16], b"RecordResult");
        assert_eq!(&conflict[conflict.len() - 2..], &[3, 7]);
    }

    #[test]
    fn json_reply_shape_is_externally_tagged() {
        let v: serde_json::Value =
            serde_json::from_slice(&samples()[1].encode(Encoding::Json)).unwrap();
        assert_eq!(v["Refused"]["Conflict"]["current"], 7);
        let v: serde_json::Value =
            serde_json::from_slice(&samples()[0].encode(Encoding::Json)).unwrap();
        assert_eq!(v["Accepted"]["seq"], 42);
    }

    #[test]
    fn command_id_reused_is_appended_last_with_its_own_code() {
        let r = CommandReply::Refused(ServiceError::CommandIdReused {
            command: "ClosePeriod".into(),
            command_id: Uuid::from_u128(1),
            original_seq: 41,
        });
        assert_eq!(r.status(), "command_id_reused");
        let bytes = r.encode(Encoding::Postcard);
        assert_eq!(
            &bytes[..3],
            &[REPLY_VERSION, 1, 9],
            "variant 9, after Internal"
        );
        assert_eq!(bytes[bytes.len() - 1], 41);
        for enc in [Encoding::Postcard, Encoding::Json] {
            assert_eq!(CommandReply::decode(enc, &r.encode(enc)).unwrap(), r);
        }
        let v: serde_json::Value = serde_json::from_slice(&r.encode(Encoding::Json)).unwrap();
        assert_eq!(v["Refused"]["CommandIdReused"]["original_seq"], 41);
        assert!(!ServiceError::CommandIdReused {
            command: String::new(),
            command_id: Uuid::nil(),
            original_seq: 1
        }
        .retryable());
    }

    #[test]
    fn encodings_parse_and_sniff() {
        assert_eq!(Encoding::parse("JSON"), Some(Encoding::Json));
        assert_eq!(Encoding::parse("postcard"), Some(Encoding::Postcard));
        assert_eq!(Encoding::parse("xml"), None);
        assert_eq!(Encoding::sniff(b"  {\"a\":1}"), Encoding::Json);
        assert_eq!(Encoding::sniff(&[1, 2, 3]), Encoding::Postcard);
        assert_eq!(Encoding::sniff(b""), Encoding::Postcard);
    }

    #[test]
    fn bad_replies_are_errors_not_panics() {
        assert!(CommandReply::decode(Encoding::Postcard, &[]).is_err());
        assert!(CommandReply::decode(Encoding::Postcard, &[9, 0]).is_err());
        assert!(CommandReply::decode(Encoding::Postcard, &[1, 200, 200, 200]).is_err());
        assert!(CommandReply::decode(Encoding::Json, b"{").is_err());
    }
}
