//! The file kinds: one module per kind of record, holding its columns and
//! how its rows become commands.
//!
//! Invariant: [`FILES`] lists every kind in the doc's *Import order*
//! (definitions, then facts), and [`columns`] gives each of them its
//! columns, `(name, required)`, in the order the doc lists them.

pub(crate) mod actions;
pub(crate) mod finance;
pub(crate) mod indicators;
pub(crate) mod org;
pub(crate) mod periods;
pub(crate) mod results;
pub(crate) mod risks;
pub(crate) mod savings;
pub(crate) mod schemes;
pub(crate) mod seals;
pub(crate) mod targets;

/// The file kinds, in the order of the doc's *Import order* (definitions,
/// then facts).
pub const FILES: [&str; 19] = [
    "council",
    "committees",
    "units",
    "themes",
    "tolerance_schemes",
    "indicators",
    "actions",
    "risks",
    "savings",
    "targets",
    "results",
    "benchmarks",
    "action_status",
    "risk_assessments",
    "revenue",
    "capital",
    "savings_progress",
    "periods_closed",
    "seals",
];

/// `(column, required)` of a file kind; none for a kind not in [`FILES`].
pub(crate) fn columns(kind: &str) -> &'static [(&'static str, bool)] {
    match kind {
        "council" => org::COUNCIL,
        "committees" => org::COMMITTEES,
        "units" => org::UNITS,
        "themes" => org::THEMES,
        "tolerance_schemes" => schemes::TOLERANCE_SCHEMES,
        "indicators" => indicators::INDICATORS,
        "targets" => targets::TARGETS,
        "results" => results::RESULTS,
        "benchmarks" => results::BENCHMARKS,
        "actions" => actions::ACTIONS,
        "action_status" => actions::ACTION_STATUS,
        "risks" => risks::RISKS,
        "risk_assessments" => risks::RISK_ASSESSMENTS,
        "revenue" => finance::REVENUE,
        "capital" => finance::CAPITAL,
        "savings" => savings::SAVINGS,
        "savings_progress" => savings::SAVINGS_PROGRESS,
        "periods_closed" => periods::PERIODS_CLOSED,
        "seals" => seals::SEALS,
        _ => &[],
    }
}
