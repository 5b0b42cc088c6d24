//! The committee pack: a canonical, versioned document of one unit (or the
//! whole council) for one period, as of a log position (issue #13).
//!
//! Invariants:
//!
//! * **Same events → same bytes.** A [`Pack`] is a pure function of
//!   (log prefix 1..=`as_of`, scope, period, [`RulesVersion`]). It holds no
//!   wall-clock time, no randomness and no floating point; every list is in
//!   a stated deterministic order (never `HashMap` order); amounts are
//!   fixed-point integers ([`Num`] wraps [`Fixed`]).
//! * **Canonical bytes** = `[PACK_FORMAT]` ++ postcard([`Pack`]); the digest
//!   is SHA-256 of those bytes ([`canonical_bytes`], [`digest_hex`],
//!   [`decode`]). The pack's `dashboard.digest` is the digest existing
//!   dashboard seals pin, so a pack and a dashboard seal of the same scope,
//!   period and position agree by construction.
//! * **Provenance.** Every row carries `sources`: the log sequences of the
//!   fact versions it was derived from (definition, target, result, previous
//!   results, tolerance scheme, budget, forecast, status, assessment),
//!   sorted and without duplicates. Summary rows carry the union of the
//!   rows they count.
//! * **Versioned rules.** Everything that turns events into pack figures
//!   (RAG standing, direction of travel, rounding, percentages, counting,
//!   row selection) is named by [`RulesVersion`]. [`RulesVersion::V1`] is
//!   today's rules: the domain's `rag`, `direction`, `rounding` and
//!   `dashboard` modules through the read model's existing as-of queries.
//!
//! Seals: a [`PackSealRecord`] pins `(scope, period, as_of, rules id,
//! format byte, digest, canonical bytes)`. [`crate::ReadModel::verify_pack_seal`]
//! checks the stored bytes against the digest, decodes them with [`decode`]
//! (the format byte selects the decoder), re-derives the pack at `as_of`
//! under the rules the seal names ([`Rules`]) and compares bit for bit; on
//! a mismatch it names every differing figure ([`diff_packs`]). Outcomes are
//! distinct ([`SealOutcome`]): matches, content altered, re-derivation
//! differs, derivation unavailable (rules or format unknown to this build,
//! content intact). A new rule set is a new `RulesVersion` variant with its
//! own build path; the old path stays in the code, frozen, so old seals
//! keep re-deriving to their digests.
//!
//! Row selection (v1): the indicator table lists the scope's indicators
//! with a result for the period (the dashboard's "reported" set), grouped
//! by linked theme in order of first appearance in the log, rows in order
//! of definition; "off target" lists rated rows that are not Green; key
//! actions, finance lines and risks are the dashboard's own sets, in the
//! read model's order (unit, then reference / line / risk id).

mod build;
mod canonical;
pub mod changes;
mod seal;
mod sealed;
mod sections;
mod sources;

use perfledger_domain::action::ActionStatus;
use perfledger_domain::dashboard::RagBreakdown;
use perfledger_domain::direction::Direction;
use perfledger_domain::indicator::{IndicatorType, Polarity, ResultValue, Target};
use perfledger_domain::period::Period;
use perfledger_domain::rag::Rag;
use perfledger_domain::risk::{Assessment, HeatMap};
use perfledger_domain::Fixed;
use perfledger_log::Seq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use canonical::{canonical_bytes, decode, digest_hex, PackDecodeError, PACK_FORMAT};
pub use seal::{diff_packs, Derivation, PackSealRecord, Rules, SealOutcome};
pub use sealed::{anchor_text, SealedPack};

/// The rule set that turned events into the pack's figures. Never reorder
/// or remove a variant: seals name it, and `verify` re-derives under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RulesVersion {
    /// Today's rules (the domain's `rag`, `direction`, `rounding`,
    /// `dashboard`; row selection as in the module header).
    V1,
}

impl RulesVersion {
    /// The rules new packs are built under.
    pub const CURRENT: RulesVersion = RulesVersion::V1;

    /// Printed name (`v1`).
    pub fn name(self) -> &'static str {
        match self {
            RulesVersion::V1 => "v1",
        }
    }
}

/// A fixed-point figure that JSON prints as a number (`-491`, `86.6`)
/// and postcard stores as its raw `i64` (4 implied decimals). No float is
/// ever involved: JSON gets the exact decimal text of [`Fixed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Num(pub Fixed);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            // Fixed's Display is a plain decimal (`-50.7`, `0.0001`): always
            // a valid JSON number.
            let raw = serde_json::value::RawValue::from_string(self.0.to_string())
                .map_err(serde::ser::Error::custom)?;
            raw.serialize(s)
        } else {
            s.serialize_i64(self.0.raw())
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
            Fixed::parse_full(raw.get())
                .map(Num)
                .map_err(serde::de::Error::custom)
        } else {
            i64::deserialize(d).map(|r| Num(Fixed::from_raw(r)))
        }
    }
}

/// The committee pack. Never reorder fields (canonical bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pack {
    /// [`PACK_FORMAT`] of the bytes this pack is encoded to.
    pub format_version: u8,
    /// Rules the figures were derived under.
    pub rules_version: RulesVersion,
    /// Unit name, None = the whole council.
    pub unit: Option<String>,
    /// Reporting period.
    pub period: Period,
    /// Log position (sequence) the pack is as of.
    pub as_of: Seq,
    /// §1.1 / §3.1 dashboard.
    pub dashboard: PackDashboard,
    /// §2.1 revenue lines.
    pub revenue: Vec<RevenueLine>,
    /// §2.1 revenue total (sum of the lines).
    pub revenue_total: RevenueTotal,
    /// §2.2 capital lines.
    pub capital: Vec<CapitalLine>,
    /// §2.2 capital total.
    pub capital_total: CapitalTotal,
    /// Savings lines.
    pub savings: Vec<SavingLine>,
    /// Savings total.
    pub savings_total: SavingsTotal,
    /// §3.1 overview by indicator type (types present, in type order).
    pub overview: Vec<TypeOverview>,
    /// §3.2a indicator table grouped by theme / priority.
    pub indicators: Vec<IndicatorGroup>,
    /// §3.2b comments on indicators off target.
    pub off_target: Vec<OffTarget>,
    /// §4 key actions.
    pub actions: Vec<ActionLine>,
    /// §6 risk register.
    pub risks: RiskSection,
    /// HR, customer-experience and other measures reported by the scope's
    /// child units (`CG-WORKFORCE`, `CG-CX`), by unit name.
    pub measures: Vec<MeasureSection>,
    /// Council-wide pack only: the per-unit overview table.
    pub units: Vec<UnitOverview>,
}

/// The dashboard section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackDashboard {
    /// SHA-256 hex of the domain dashboard's canonical bytes (what dashboard
    /// seals pin).
    pub digest: String,
    /// Revenue variance (£000) and % of budget (1 dp).
    pub revenue_variance: Num,
    /// Revenue variance % of revised budget, one decimal.
    pub revenue_variance_percent_1dp: Option<Num>,
    /// Capital variance from approved (£000).
    pub capital_variance: Num,
    /// Capital % slippage of approved, whole.
    pub capital_slippage_percent: Option<Num>,
    /// Savings achieved (£000).
    pub savings_achieved: Num,
    /// Savings achieved % of target, one decimal.
    pub savings_achieved_percent_1dp: Option<Num>,
    /// Indicators, all types together.
    pub indicators: RagBreakdown,
    /// Key actions: total.
    pub actions_total: u32,
    /// Key actions per status, in [`ActionStatus::ALL`] order.
    pub actions: Vec<StatusCount>,
    /// Risks scoring 15+.
    pub risks_escalated: u32,
    /// Union of the sources of every row the dashboard counts.
    pub sources: Vec<Seq>,
}

/// A key-action status count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCount {
    /// Status.
    pub status: ActionStatus,
    /// Count.
    pub count: u32,
    /// Whole % of all actions.
    pub percent: Option<i64>,
}

/// A revenue line (£000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueLine {
    /// Unit.
    pub unit: String,
    /// Line.
    pub line: String,
    /// Original budget.
    pub original: Num,
    /// Revised budget (Budget V1).
    pub revised: Num,
    /// Forecast.
    pub forecast: Num,
    /// Variation = forecast − revised.
    pub variation: Num,
    /// % of revised budget, one decimal.
    pub variation_percent_1dp: Option<Num>,
    /// Comment with the forecast.
    pub comment: Option<String>,
    /// Log sequences.
    pub sources: Vec<Seq>,
}

/// The revenue total (£000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueTotal {
    /// Original.
    pub original: Num,
    /// Revised.
    pub revised: Num,
    /// Forecast.
    pub forecast: Num,
    /// Variation.
    pub variation: Num,
    /// % of revised, one decimal.
    pub variation_percent_1dp: Option<Num>,
}

/// A capital line (£000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapitalLine {
    /// Unit.
    pub unit: String,
    /// Line.
    pub line: String,
    /// Latest approved budget.
    pub approved: Num,
    /// Additions / (deletions).
    pub additions: Num,
    /// (Slippage) or accelerated spend.
    pub slippage: Num,
    /// Proposed = approved + additions + slippage.
    pub proposed: Num,
    /// Forecast to year end.
    pub forecast: Num,
    /// Variance from approved.
    pub variance: Num,
    /// % slippage of approved, whole.
    pub slippage_percent: Option<Num>,
    /// Comment with the forecast.
    pub comment: Option<String>,
    /// Log sequences.
    pub sources: Vec<Seq>,
}

/// The capital total (£000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapitalTotal {
    /// Approved.
    pub approved: Num,
    /// Additions.
    pub additions: Num,
    /// Slippage.
    pub slippage: Num,
    /// Proposed.
    pub proposed: Num,
    /// Forecast.
    pub forecast: Num,
    /// Variance.
    pub variance: Num,
    /// % slippage, whole.
    pub slippage_percent: Option<Num>,
}

/// A saving (£000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavingLine {
    /// Unit.
    pub unit: String,
    /// Reference.
    pub reference: String,
    /// Description.
    pub description: String,
    /// Target for the year (negative = saving, as printed in brackets).
    pub target: Num,
    /// Achieved so far.
    pub achieved: Num,
    /// Achieved % of target, one decimal.
    pub achieved_percent_1dp: Option<Num>,
    /// Log sequences.
    pub sources: Vec<Seq>,
}

/// The savings total (£000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavingsTotal {
    /// Target.
    pub target: Num,
    /// Achieved.
    pub achieved: Num,
}

/// §3.1: one indicator type's RAG and direction counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeOverview {
    /// Type.
    pub indicator_type: IndicatorType,
    /// Counts and percentages.
    pub breakdown: RagBreakdown,
    /// Sources of the rows counted.
    pub sources: Vec<Seq>,
}

/// A group of the indicator table (a theme / priority).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorGroup {
    /// Theme code as linked by the indicators (None = no theme).
    pub theme: Option<String>,
    /// Rows, in order of definition.
    pub rows: Vec<IndicatorLine>,
}

/// A target with its printed form and comparable value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetCell {
    /// Period the target was set for.
    pub period: Period,
    /// The target.
    pub target: Target,
    /// As printed.
    pub text: String,
    /// The number inside, if any (money in pounds, fractions as %).
    pub value: Option<Num>,
}

/// A result with its printed form and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultCell {
    /// Period reported.
    pub period: Period,
    /// The result.
    pub result: ResultValue,
    /// As printed.
    pub text: String,
    /// The number as printed (fractions as % to 1 dp), if measured.
    pub value: Option<Num>,
}

/// §3.2a: one indicator row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorLine {
    /// Reference.
    pub reference: Option<String>,
    /// Title.
    pub title: String,
    /// Type.
    pub indicator_type: IndicatorType,
    /// Polarity.
    pub polarity: Polarity,
    /// Annual target (the period's financial year).
    pub annual_target: Option<TargetCell>,
    /// The period's own target.
    pub period_target: Option<TargetCell>,
    /// Result for the period.
    pub result: Option<ResultCell>,
    /// Previous period's result (the short-term comparison).
    pub previous: Option<ResultCell>,
    /// Short-term direction of travel.
    pub direction_short: Option<Direction>,
    /// Same period last year's result (the long-term comparison).
    pub last_year: Option<ResultCell>,
    /// Long-term direction of travel.
    pub direction_long: Option<Direction>,
    /// RAG computed under the scheme in force.
    pub rag: Option<Rag>,
    /// RAG as printed by the source, when carried (`82% (A)`).
    pub rag_printed: Option<Rag>,
    /// Target is `Monitor`.
    pub monitor: bool,
    /// Benchmarks as printed.
    pub benchmarks: Vec<String>,
    /// Commentary / proposed intervention.
    pub commentary: Option<String>,
    /// Intervention level (1–5).
    pub intervention: Option<u8>,
    /// Log sequences.
    pub sources: Vec<Seq>,
}

/// §3.2b: an indicator off target with its comments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffTarget {
    /// Theme code.
    pub theme: Option<String>,
    /// Reference.
    pub reference: Option<String>,
    /// Title.
    pub title: String,
    /// RAG.
    pub rag: Rag,
    /// Comments and proposed intervention.
    pub commentary: Option<String>,
    /// Intervention level.
    pub intervention: Option<u8>,
    /// Log sequences.
    pub sources: Vec<Seq>,
}

/// §4: a key action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionLine {
    /// Unit.
    pub unit: String,
    /// Reference.
    pub reference: String,
    /// Description.
    pub description: String,
    /// Due.
    pub due: Option<String>,
    /// Status for the period (None = not reported).
    pub status: Option<ActionStatus>,
    /// Comment.
    pub comment: Option<String>,
    /// Log sequences.
    pub sources: Vec<Seq>,
}

/// §6: the risk register as at the period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskSection {
    /// Open risks, by risk id.
    pub rows: Vec<RiskLine>,
    /// 5×5 heat map of current scores.
    pub heat_map_current: HeatMap,
    /// 5×5 heat map of target scores.
    pub heat_map_target: HeatMap,
    /// Risk ids scoring 15+ (escalated).
    pub escalated: Vec<String>,
}

/// A risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskLine {
    /// Risk id.
    pub risk_id: String,
    /// Unit.
    pub unit: String,
    /// Title.
    pub title: String,
    /// Owner.
    pub owner: Option<String>,
    /// Period of the assessment.
    pub period: Option<Period>,
    /// Current assessment.
    pub current: Option<Assessment>,
    /// Current score.
    pub current_score: Option<u8>,
    /// Target assessment.
    pub target: Option<Assessment>,
    /// Target score.
    pub target_score: Option<u8>,
    /// Score 15+.
    pub escalated: bool,
    /// Log sequences.
    pub sources: Vec<Seq>,
}

/// Measures of a child unit (HR, customer experience).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasureSection {
    /// Child unit name.
    pub unit: String,
    /// Measures, in order of definition.
    pub rows: Vec<MeasureLine>,
}

/// One measure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasureLine {
    /// Title.
    pub title: String,
    /// Result for the period.
    pub result: ResultCell,
    /// Whole % for numerator/denominator results (`153/159` → 96).
    pub percent: Option<Num>,
    /// Log sequences.
    pub sources: Vec<Seq>,
}

/// Council-wide pack: one unit's row of the service performance overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitOverview {
    /// Unit.
    pub unit: String,
    /// Reported, rated, RAG counts and % of rated, monitor, DoT counts and %.
    pub breakdown: RagBreakdown,
    /// Sources of the unit's rows.
    pub sources: Vec<Seq>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn num_is_a_json_number_and_a_raw_integer_in_postcard() {
        for (raw, text) in [
            (-507_000, "-50.7"),
            (43_310_000, "4331"),
            (1, "0.0001"),
            (0, "0"),
        ] {
            let n = Num(Fixed::from_raw(raw));
            let j = serde_json::to_string(&n).unwrap();
            assert_eq!(j, text);
            assert!(serde_json::from_str::<serde_json::Value>(&j)
                .unwrap()
                .is_number());
            assert_eq!(serde_json::from_str::<Num>(&j).unwrap(), n);
            let b = postcard::to_allocvec(&n).unwrap();
            assert_eq!(postcard::from_bytes::<i64>(&b).unwrap(), raw);
            assert_eq!(postcard::from_bytes::<Num>(&b).unwrap(), n);
        }
        // Not a number: an error, never a panic.
        assert!(serde_json::from_str::<Num>("\"12\"").is_err());
        assert!(serde_json::from_str::<Num>("1e3").is_err());
    }

    #[test]
    fn rules_versions_keep_their_wire_index() {
        // Seals name the rules by postcard index: V1 is 0 forever.
        assert_eq!(postcard::to_allocvec(&RulesVersion::V1).unwrap(), vec![0]);
        assert_eq!(RulesVersion::CURRENT.name(), "v1");
    }
}
