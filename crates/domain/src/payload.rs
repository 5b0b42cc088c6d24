//! The values a command carries and the event it produces records as they
//! are: a result entry with what is printed beside it, dashboard and
//! committee seals, and the committee pack a seal pins. Shared by
//! [`crate::command`] and [`crate::event`] (which re-exports them), so that
//! neither module depends on the other for them. Never reorder fields.

use serde::{Deserialize, Serialize};

use crate::indicator::{Benchmark, InterventionLevel, ResultValue};
use crate::period::Period;
use crate::text::Text;
use crate::time::{Date, Timestamp};

/// Most benchmarks on one result.
pub const MAX_BENCHMARKS: usize = 16;

/// A result with what is printed beside it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultEntry {
    /// The result.
    pub result: ResultValue,
    /// Commentary / proposed intervention text.
    pub commentary: Option<Text>,
    /// Intervention level, if given.
    pub intervention: Option<InterventionLevel>,
    /// Benchmarks printed beside the result (at most [`MAX_BENCHMARKS`]).
    pub benchmarks: Vec<Benchmark>,
}

/// A dashboard seal: what committee saw on a date, pinned to a log position
/// and the SHA-256 of the dashboard's canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// Unit, or None for the council-wide dashboard.
    pub unit: Option<Text>,
    /// Period of the dashboard.
    pub period: Period,
    /// Committee it went to.
    pub committee: Text,
    /// Meeting date.
    pub meeting_date: Date,
    /// Log position (sequence) the dashboard was computed at.
    pub seq: u64,
    /// SHA-256 of [`crate::dashboard::canonical_bytes`].
    pub digest: [u8; 32],
}

/// The committee pack a pack seal pins (issue #13): chain root at the
/// seal's position, the pack's format byte and rules version, its SHA-256
/// digest and its canonical bytes (`[format]` ++ postcard(pack), stored
/// uncompressed). Never reorder fields.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PackPin {
    /// Hash-chain root at the seal's position.
    pub chain_root: [u8; 32],
    /// Format byte of `bytes`.
    pub format: u8,
    /// Wire id of the rules the pack was derived under (1 = v1).
    pub rules: u32,
    /// SHA-256 of `bytes`.
    pub digest: [u8; 32],
    /// Canonical bytes of the pack.
    pub bytes: Vec<u8>,
}

/// A committee seal with its own identity (issue #14): the seal id and
/// report title as the governance record gives them, and when it was
/// sealed (an imported seal keeps its own time, not the import's).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CommitteeSeal {
    /// Seal id, e.g. `PCMC-2016-09-06-CG-Q1` (the seal entity's natural key).
    pub seal_id: Text,
    /// Title of the report committee received, if given.
    pub title: Option<Text>,
    /// When it was sealed.
    pub sealed_at: Timestamp,
    /// What was sealed: scope, period, committee, meeting date, the log
    /// position of the meeting's papers and the dashboard digest.
    pub seal: Seal,
}
