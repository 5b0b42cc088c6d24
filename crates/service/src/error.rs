//! The application layer's error. Its messages are the ones a person reads
//! (front ends print them as they are): a refused row names its file and
//! line, a refused seal says what to do instead.

use perfledger_domain::DomainError;
use perfledger_import::ImportErrors;
use perfledger_ledger::LedgerError;
use perfledger_log::LogError;
use perfledger_readmodel::{ProjectError, ReadModelError};

/// An error of the front end, passed through unchanged (e.g. from opening
/// its read model).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a workflow stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input files failed validation (every failure, by file, line and
    /// column); nothing was appended.
    #[error(transparent)]
    Import(#[from] ImportErrors),
    /// A row the ledger refused (by file and line), or a seal of seals.csv
    /// that could not be completed.
    #[error("{0}")]
    Rows(String),
    /// A request refused as it stands (e.g. a seal whose position is not
    /// what the committee saw): the message says what to give instead.
    #[error("{0}")]
    Refused(String),
    /// The ledger refused a command.
    #[error("the ledger refused the command: {0}")]
    Ledger(#[from] LedgerError),
    /// The log failed.
    #[error("log: {0}")]
    Log(#[from] LogError),
    /// The read model failed.
    #[error("read model: {0}")]
    ReadModel(#[from] ReadModelError),
    /// Catching the read model up with the log failed.
    #[error("projecting the log: {0}")]
    Project(#[from] ProjectError),
    /// A value failed a domain rule (a text too long, a bad date...).
    #[error("{0}")]
    Domain(#[from] DomainError),
    /// The front end's own error, unchanged.
    #[error(transparent)]
    FrontEnd(BoxError),
}
