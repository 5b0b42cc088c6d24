//! The CLI's error: every failure is printed as `error: <one line>` plus
//! its causes (by `main`), exit 1. `verify`'s findings are not errors: it
//! reports them itself and exits 2.
//!
//! The errors of the lower crates are the application layer's
//! ([`ServiceError`]): one wording for every front end, whichever of them
//! (or the service itself) met the error.

use perfledger_domain::DomainError;
use perfledger_ledger::LedgerError;
use perfledger_log::LogError;
use perfledger_readmodel::{ProjectError, ReadModelError};
use perfledger_service::ServiceError;

/// Everything that can go wrong, printed as one line plus causes.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments, or a state the command cannot work in; the message
    /// says what to do.
    #[error("{0}")]
    Usage(String),
    /// From the ledger, log, read model, import or domain, worded by the
    /// application layer.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Files and stdout.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// `From` for each lower error: through [`ServiceError`], so `?` works on
/// them and each keeps the service's wording.
macro_rules! via_service {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError::Service(e.into())
            }
        }
    )*};
}
via_service!(
    LedgerError,
    LogError,
    ReadModelError,
    ProjectError,
    DomainError
);

/// A CLI result.
pub type Res<T> = Result<T, CliError>;
