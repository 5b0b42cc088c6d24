//! What the caller decides about an import: tenant, definition actor, the
//! clock reading, live or backdated, the periods the ledger has closed, and
//! the error cap.
//!
//! Invariant: `now` is read once by the caller; the import itself never
//! reads a clock, so the same files and options give the same plan.

use std::collections::BTreeSet;

use perfledger_domain::{Period, Tenant, Text, Timestamp};

/// Default cap on the number of errors collected.
pub const DEFAULT_MAX_ERRORS: usize = 100;

/// Options.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Tenant, when not given by `council.csv` (must agree when both are).
    pub tenant: Option<Tenant>,
    /// Actor of definition rows (files without an `actor` column).
    pub actor: Text,
    /// Now: rows recorded later than this are errors.
    pub now: Timestamp,
    /// A historical (backdated) load: every fact row claims its recorded
    /// time (`recorded_at`, `closed_at`), the rows are appended in that
    /// order and each is marked as migrated by the ledger. Without it (a
    /// live import) rows carry no recorded time and are recorded now by
    /// the ledger's clock; a row that claims one is an error.
    pub backdated: bool,
    /// Periods already closed in the ledger: rows for them that carry a
    /// reason are wrapped in post-close restatements (rows without one are
    /// left to the ledger: duplicates pass, new ones are refused).
    pub closed_periods: BTreeSet<Period>,
    /// Error cap.
    pub max_errors: usize,
}

impl ImportOptions {
    /// Options with the given definition actor and clock reading.
    pub fn new(actor: Text, now: Timestamp) -> Self {
        ImportOptions {
            tenant: None,
            actor,
            now,
            backdated: false,
            closed_periods: BTreeSet::new(),
            max_errors: DEFAULT_MAX_ERRORS,
        }
    }
}
