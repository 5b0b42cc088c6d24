//! The seals view's JSON: every seal with its verdict (grammar in
//! [`super`]).

use super::*;

/// A seal re-derived: does the dashboard it pinned still derive to its
/// digest, and what changed since.
#[derive(Debug, Serialize)]
pub struct VerdictJson {
    pub matches: bool,
    pub expected_digest: String,
    pub actual_digest: String,
    /// Figures that differ from the sealed dashboard, re-derived.
    pub differences: Vec<FigureDiff>,
    /// Figures changed since the sealed position (restatements).
    pub changed_since: Vec<FigureDiff>,
}

/// A seal of view `seals`.
#[derive(Debug, Serialize)]
pub struct SealJson {
    /// Sequence of the seal's record.
    pub seq: u64,
    pub index: u16,
    pub seal_id: Option<String>,
    pub title: Option<String>,
    pub sealed_at: Option<String>,
    pub committee: String,
    /// `YYYY-MM-DD`.
    pub meeting_date: String,
    pub unit: Option<String>,
    pub period: String,
    /// The position the sealed dashboard was read at.
    pub dashboard_as_of: u64,
    pub digest: String,
    pub verdict: VerdictJson,
}

/// View `seals`: every seal up to `as_of`, each re-derived.
#[derive(Debug, Serialize)]
pub struct SealsJson {
    pub format: &'static str,
    pub view: &'static str,
    pub as_of: u64,
    pub seals: Vec<SealJson>,
}

impl SealsJson {
    /// The seals read at `as_of` with their verdicts.
    pub fn new(as_of: u64, rows: &[(SealRecord, SealVerdict)]) -> Self {
        SealsJson {
            format: FORMAT,
            view: "seals",
            as_of,
            seals: rows
                .iter()
                .map(|(r, v)| SealJson {
                    seq: r.seq,
                    index: r.index,
                    seal_id: r.seal_id.clone(),
                    title: r.title.clone(),
                    sealed_at: r.sealed_at.map(|t| t.to_string()),
                    committee: r.seal.committee.to_string(),
                    meeting_date: r.seal.meeting_date.to_string(),
                    unit: r.seal.unit.as_ref().map(|u| u.to_string()),
                    period: r.seal.period.to_string(),
                    dashboard_as_of: r.seal.seq,
                    digest: hex::encode(r.seal.digest),
                    verdict: VerdictJson {
                        matches: v.matches,
                        expected_digest: v.expected_digest.clone(),
                        actual_digest: v.actual_digest.clone(),
                        differences: v.differences.clone(),
                        changed_since: v.changed_since.clone(),
                    },
                })
                .collect(),
        }
    }
}
