//! Typed domain errors. Every error names the field and the offending value.

use std::cell::RefCell;
use std::fmt;

use thiserror::Error;

/// Anything a command, a parser or a constructor can reject.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A value that does not have the required form.
    #[error("invalid {field} {value:?}: {reason}")]
    Invalid {
        /// Field or input name.
        field: &'static str,
        /// The value as given.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A text longer than the limit.
    #[error("{field} is {len} bytes long; the limit is {max}")]
    TooLong {
        /// Field name.
        field: &'static str,
        /// Actual length in bytes (or items).
        len: usize,
        /// Limit.
        max: usize,
    },
    /// A number outside its permitted range.
    #[error("{field} {value} is outside {min}..={max}")]
    OutOfRange {
        /// Field name.
        field: &'static str,
        /// The value given.
        value: i64,
        /// Smallest permitted.
        min: i64,
        /// Largest permitted.
        max: i64,
    },
    /// Arithmetic would overflow the fixed-point range.
    #[error("{field}: arithmetic overflow")]
    Overflow {
        /// Field or computation name.
        field: &'static str,
    },
    /// The command targets an entity that has not been defined.
    #[error("unknown {kind} {key:?}")]
    UnknownEntity {
        /// Entity kind token.
        kind: &'static str,
        /// The natural key used.
        key: String,
    },
    /// The entity is already defined.
    #[error("{kind} {key:?} is already defined")]
    DuplicateDefinition {
        /// Entity kind token.
        kind: &'static str,
        /// The natural key used.
        key: String,
    },
    /// The entity has been retired or closed and accepts no more changes.
    #[error("{kind} {key:?} is retired or closed")]
    Retired {
        /// Entity kind token.
        kind: &'static str,
        /// The natural key.
        key: String,
    },
    /// The period is not one the indicator reports at.
    #[error("period {period} does not fit frequency {frequency}")]
    PeriodDoesNotFitFrequency {
        /// Period label.
        period: String,
        /// Frequency name.
        frequency: &'static str,
    },
    /// A value of a type other than the indicator's data type, in the
    /// user's words: `result 965,000 is a count, but the indicator is
    /// reported as a percentage`.
    #[error("{field} {value} is {given}, but the indicator is reported as {expected}")]
    WrongValueType {
        /// Field name.
        field: &'static str,
        /// The value given, in its printed form.
        value: String,
        /// What the value given is, in words (`a count`).
        given: &'static str,
        /// What the indicator is reported as, in words (`a percentage`).
        expected: &'static str,
    },
    /// A second record for a period that must instead be a restatement with a reason.
    #[error("{field} for {period} already recorded; use a restatement with a reason")]
    AlreadyRecorded {
        /// What was recorded (result, target, budget...).
        field: &'static str,
        /// Period label.
        period: String,
    },
    /// A restatement or revision of something never recorded.
    #[error("no {field} recorded for {period} to restate or revise")]
    NothingToRestate {
        /// What was to be restated.
        field: &'static str,
        /// Period label.
        period: String,
    },
    /// A change to a closed period without an explicit post-close restatement.
    #[error("period {period} is closed; changes need a post-close restatement")]
    PeriodClosed {
        /// Period label.
        period: String,
    },
    /// A command that requires a reason was given none.
    #[error("{command} requires a non-empty reason")]
    MissingReason {
        /// The command name.
        command: &'static str,
    },
    /// A command addressed to an aggregate of another kind.
    #[error("command {command} does not apply to a {kind} entity")]
    WrongEntityKind {
        /// Command name.
        command: &'static str,
        /// Entity kind token of the state given.
        kind: &'static str,
    },
}

thread_local! {
    /// The message of the last [`de_error`] on this thread: postcard keeps
    /// only "Serde Deserialization Error" of a custom error, so the codec
    /// reads the message from here when it explains a failure.
    static LAST_CUSTOM: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A serde error for the domain's own `Deserialize` impls (a text too long,
/// a bad tenant, a period label that does not parse...), whose message the
/// codec can still report when the format (postcard) drops it.
pub fn de_error<E: serde::de::Error>(msg: impl fmt::Display) -> E {
    let msg = msg.to_string();
    LAST_CUSTOM.with(|l| *l.borrow_mut() = Some(msg.clone()));
    E::custom(msg)
}

/// Take the message of the last [`de_error`] on this thread (the codec,
/// explaining a postcard failure).
pub(crate) fn take_last_custom() -> Option<String> {
    LAST_CUSTOM.with(|l| l.borrow_mut().take())
}
