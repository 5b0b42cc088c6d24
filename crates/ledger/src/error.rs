//! The ledger's errors.
//!
//! Invariant: every error names what it is about: the command's position in
//! the submission (and its name) for anything a command caused, the
//! sequence for a stored record, the subject and versions for a conflict.

use perfledger_domain::{CodecError, DomainError, Timestamp};
use perfledger_log::{LogError, Seq};
use uuid::Uuid;

/// Errors from executing commands. Indexes are positions in the submission.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A command the domain refused, named in the user's words by what it
    /// was about (`RecordResult for indicator CG/S26, 2016/17 Q1`), not by
    /// its position alone.
    #[error("{about} rejected: {source}")]
    Rejected {
        index: usize,
        command: &'static str,
        /// What the command was about, in words (see `about` in this module).
        about: String,
        #[source]
        source: DomainError,
    },
    #[error("command #{index} ({command}): version conflict on {subject}: expected {expected}, current version is {current}")]
    Conflict {
        index: usize,
        command: &'static str,
        subject: String,
        expected: Seq,
        current: Seq,
    },
    #[error("command #{index}: recorded time {given} is earlier than the latest recorded time in the log ({latest}); history can only be appended at the head")]
    Backdated {
        index: usize,
        given: Timestamp,
        latest: Timestamp,
    },
    #[error("command #{index}: command id {command_id} appears twice in one submission")]
    DuplicateCommandId { index: usize, command_id: Uuid },
    /// The command id was already used by a *different* command (another
    /// body, entity or tenant) at `original_seq`: nothing was appended. A
    /// re-sent identical command is a duplicate instead, never this error.
    #[error("command #{index} ({command}): command id {command_id} was already used by a different command, stored at sequence {original_seq}; a new command needs a new command id")]
    CommandIdReused {
        index: usize,
        command: &'static str,
        command_id: Uuid,
        original_seq: Seq,
    },
    #[error("stored record {seq} cannot be decoded: {source}")]
    Undecodable {
        seq: Seq,
        #[source]
        source: CodecError,
    },
    #[error("command #{index} ({command}): cannot encode its events: {source}")]
    Encode {
        index: usize,
        command: &'static str,
        #[source]
        source: CodecError,
    },
    #[error("gave up after {attempts} attempts lost version races to other writers")]
    TooManyConflicts { attempts: u32 },
    #[error(transparent)]
    Log(#[from] LogError),
}

/// A read that did not deliver the record expected at `expected`.
pub(crate) fn gap(expected: Seq, got: Seq) -> LedgerError {
    LedgerError::Log(LogError::Gap { expected, got })
}

/// What a command is about, for messages: its name, the entity it names and
/// its period (`RecordResult for indicator CG/S26, 2016/17 Q1`).
pub fn about(command: &perfledger_domain::Command) -> String {
    let (kind, key) = command.natural_key();
    let mut about = format!(
        "{} for {} {key}",
        command.name(),
        kind.token().replace('_', " ")
    );
    if let Some(period) = command.period() {
        about.push_str(&format!(", {period}"));
    }
    about
}
