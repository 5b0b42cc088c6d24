//! The JSON views: ONE serde type per view (dashboard, finance, indicators,
//! history, audit, risks, seals), used by every front end that answers in
//! JSON — the CLI's `--format json`, the web's `/api/...` and the NATS query
//! service — so the three print the same bytes for the same view
//! (`docs/json.md` documents the fields).
//!
//! Grammar of every view (format [`FORMAT`]):
//! * `format` (`"perfledger.view.v2"`) and `view` (its name) come first;
//!   `as_of` is the log sequence the view was read at.
//! * Amounts and percentages are JSON numbers with the exact decimal of the
//!   fixed-point value ([`Num`]: the text of [`Fixed`] written as a raw JSON
//!   number through serde_json's `raw_value`; never an `f64`). Amounts are in
//!   the reports' unit (£000), a negative is `-4331`; a percentage is the
//!   number before `%` (`-50.7`, slippage `-12`).
//! * Enums have one spelling: ratings and statuses as printed (`Green
//!   Amber`), directions `Improving`/`Same`/`Worsening`, indicator types by
//!   label (`CPI`), entity kinds by token (`indicator`).
//! * The entity's natural key is `key`; digests are lowercase hex strings;
//!   times are RFC 3339 (`2016-08-26T12:00:00Z`), dates `YYYY-MM-DD`, periods
//!   as printed (`2016/17 Q1`).
//!
//! Never serialize these into a `serde_json::Value`: its number type is a
//! float without `arbitrary_precision`. Write them with `to_string`/`to_vec`.
//!
//! This is not the committee pack's JSON ([`crate::pack`]), which is pinned
//! byte for byte by golden tests.

use std::collections::BTreeMap;

use perfledger_domain::dashboard::{RagBreakdown, RAGS};
use perfledger_domain::printed;
use perfledger_domain::risk::{Assessment, HeatMap};
use perfledger_domain::{Fixed, Timestamp};
use serde::Serialize;
use uuid::Uuid;

pub use crate::pack::Num;
use crate::{
    render, AuditEntry, AuditTrail, DashboardView, FigureDiff, FinanceView, IndicatorSummary,
    IndicatorView, RiskRegister, SealRecord, SealVerdict,
};

mod dashboard;
mod finance;
mod risks;
mod seals;
mod trail;
pub use dashboard::*;
pub use finance::*;
pub use risks::*;
pub use seals::*;
pub use trail::*;

/// The version of every view's JSON (field `format`).
pub const FORMAT: &str = "perfledger.view.v2";

fn num(v: Fixed) -> Num {
    Num(v)
}

fn time(ms: i64) -> String {
    Timestamp(ms).to_string()
}

/// Writes a view as pretty JSON (the CLI) or compact JSON (web, NATS).
pub fn to_json<T: Serialize>(v: &T, pretty: bool) -> String {
    let r = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    };
    // Every view is plain data with string keys and raw numbers that are
    // valid JSON (Fixed's Display): encoding cannot fail.
    r.expect("a view is plain data with string keys: encoding cannot fail")
}

/// A count with its percentage (of rated indicators, of all actions).
#[derive(Debug, Serialize)]
pub struct Share {
    /// How many.
    pub count: u32,
    /// Whole percentage, or null when nothing was there to share.
    pub percent: Option<i64>,
}

/// Indicators by rating, with direction of travel.
#[derive(Debug, Serialize)]
pub struct Breakdown {
    /// Indicators with a result.
    pub reported: u32,
    /// Of those, rated against a target.
    pub rated: u32,
    /// Monitored (no target).
    pub monitor: u32,
    /// Monitored, as a whole percentage of reported.
    pub monitor_percent: Option<i64>,
    /// Reported but not rated.
    pub not_rated: u32,
    /// By rating (`Green`, `Green Amber`, ...), percent of rated.
    pub counts: BTreeMap<&'static str, Share>,
    /// Long-term direction of travel (against the same period a year
    /// earlier) improved or stayed the same: the reports' "improved/same".
    pub long_term_improved_or_same: Share,
    /// Long-term direction of travel worsened.
    pub long_term_worsened: Share,
    /// With a long-term direction.
    pub long_term_with_direction: u32,
    /// Without one (no result a year earlier).
    pub long_term_no_direction: u32,
}

impl From<&RagBreakdown> for Breakdown {
    fn from(b: &RagBreakdown) -> Self {
        let counts = RAGS
            .iter()
            .map(|r| {
                let share = Share {
                    count: b.counts.get(r).copied().unwrap_or(0),
                    percent: b.percent_of_rated.get(r).copied().flatten(),
                };
                (printed::rag_name(*r), share)
            })
            .collect();
        Breakdown {
            reported: b.reported,
            rated: b.rated,
            monitor: b.monitor,
            monitor_percent: b.monitor_percent,
            not_rated: b.reported.saturating_sub(b.rated),
            counts,
            long_term_improved_or_same: Share {
                count: b.improved_or_same,
                percent: b.improved_or_same_percent,
            },
            long_term_worsened: Share {
                count: b.worsened,
                percent: b.worsened_percent,
            },
            long_term_with_direction: b.improved_or_same + b.worsened,
            long_term_no_direction: b.no_direction,
        }
    }
}

/// A 5x5 heat map: counts by impact (`"1"`..`"5"`), each a row by
/// probability 1..5.
pub type HeatRows = BTreeMap<String, [u32; 5]>;

fn heat_rows(h: &HeatMap) -> HeatRows {
    (1..=5)
        .map(|impact| (impact.to_string(), h.cells[impact - 1]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_exact_json_numbers() {
        #[derive(Serialize)]
        struct T {
            a: Num,
            b: Option<Num>,
        }
        let t = T {
            a: Num(Fixed::parse_decimal("-4331").expect("a decimal")),
            b: Some(Num(
                Fixed::parse_decimal("123456789012.0001").expect("a decimal")
            )),
        };
        assert_eq!(to_json(&t, false), r#"{"a":-4331,"b":123456789012.0001}"#);
    }
}
