//! The outcome of a valid import: the [`ImportPlan`] of commands to append,
//! each with its [`Origin`], and the [`SealRequest`]s to complete after them.
//!
//! Invariant: `origins[i]` is the file and line of `submissions[i]`, so a
//! ledger rejection of submission `i` is reported at that row
//! ([`ImportPlan::locate`]).

use std::collections::BTreeMap;
use std::fmt;

use perfledger_domain::{Date, Period, Tenant, Text, Timestamp};
use perfledger_ledger::{LedgerError, Submitted};
use uuid::Uuid;

use crate::errors::{ImportError, Warning};

/// Where a submission came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// File name.
    pub file: String,
    /// Line (1-based).
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A seal row, to be completed with the dashboard digest by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealRequest {
    /// `seal_id` as given.
    pub seal_id: String,
    /// `report_title`, if given.
    pub title: Option<Text>,
    /// Committee code.
    pub committee: Text,
    /// Meeting date (`sealed_at`'s date when the file gives none).
    pub meeting_date: Date,
    /// Unit code; `None` = council-wide (`COUNCIL`).
    pub unit: Option<Text>,
    /// Period reported.
    pub period: Period,
    /// The sealed view is the ledger up to this recorded time.
    pub sealed_at: Timestamp,
    /// Who sealed.
    pub actor: Text,
    /// Deterministic command id.
    pub command_id: Uuid,
    /// Provenance text for the envelope's `source`.
    pub source: Text,
    /// Where.
    pub origin: Origin,
}

/// A validated import, ready to submit.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    /// The tenant.
    pub tenant: Tenant,
    /// The commands, in the order to append.
    pub submissions: Vec<Submitted>,
    /// `origins[i]` = file and line of `submissions[i]`.
    pub origins: Vec<Origin>,
    /// Seals to complete and append after the submissions.
    pub seals: Vec<SealRequest>,
    /// Non-fatal findings.
    pub warnings: Vec<Warning>,
    /// Rows read per file.
    pub rows: BTreeMap<String, usize>,
    /// The latest recorded time among the submissions.
    pub latest: Option<Timestamp>,
}

impl ImportPlan {
    /// Commands per command name.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for s in &self.submissions {
            *m.entry(s.command.command.name()).or_insert(0) += 1;
        }
        m
    }

    /// Map a ledger rejection of this plan's submission back to its row:
    /// the one way a ledger error becomes an [`ImportError`]. `None` when
    /// the error is about no one submission of this plan (the log, a stored
    /// record, lost races), which the caller reports as it is.
    pub fn locate(&self, err: &LedgerError) -> Option<ImportError> {
        let (index, column, value, message) = match err {
            LedgerError::Rejected { index, source, .. } => {
                (*index, "", String::new(), format!("rejected by the ledger: {source}"))
            }
            LedgerError::Backdated { index, given, latest } => (
                *index,
                "recorded_at",
                given.to_string(),
                format!("a backdated load must keep the log's time order, but the log already holds a record at {latest}; load history before live writes, or import rows without recorded_at to record them now"),
            ),
            LedgerError::CommandIdReused { index, original_seq, .. } => (
                *index,
                "",
                String::new(),
                format!("rejected by the ledger: this row (same file, line and content) was imported before as a different command, stored at sequence {original_seq}"),
            ),
            LedgerError::Conflict { index, .. }
            | LedgerError::DuplicateCommandId { index, .. }
            | LedgerError::Encode { index, .. } => (*index, "", String::new(), err.to_string()),
            // Not about one submission: no row to name.
            LedgerError::Undecodable { .. }
            | LedgerError::TooManyConflicts { .. }
            | LedgerError::Log(_) => return None,
        };
        let o = self.origins.get(index)?;
        Some(ImportError::at(&o.file, o.line, column, &value, message))
    }
}
