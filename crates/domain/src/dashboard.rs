//! The unit/quarter dashboard as a pure function of its inputs (seed 004
//! §1.1 and §3.1): revenue variance (amount and % of budget), capital
//! variance and % slippage, savings achieved and %, indicator RAG counts and
//! % of rated, Monitor count, DoT improved-or-same vs worsened (% of those
//! with a DoT) split by indicator type, key-action status counts and % of all
//! actions, the risk 5×5 heat map.
//!
//! Both the read model and a full replay call [`compute`]; what committee
//! saw is pinned by [`digest`] of [`canonical_bytes`] (postcard, canonical
//! field order, BTreeMaps with every key present). Percentages are whole
//! numbers via [`crate::rounding`] except revenue and savings, printed to one
//! decimal place (`819 (4.0%)`, `1,909 (79.3%)`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::action::ActionStatus;
use crate::aggregate::IndicatorState;
use crate::amount::Fixed;
use crate::budget::{CapitalFigures, RevenueFigures};
use crate::direction;
use crate::direction::Direction;
use crate::error::DomainError;
use crate::indicator::IndicatorType;
use crate::indicator::{IndicatorSpec, ResultValue, Target};
use crate::period::FinancialYear;
use crate::period::Period;
use crate::rag::Rag;
use crate::rag::{rate, scheme_in_force, ToleranceScheme};
use crate::risk::{Assessment, Band, HeatMap};
use crate::rounding;
use crate::text::Text;

/// All RAG colours, best first.
pub const RAGS: [Rag; 5] = [
    Rag::Green,
    Rag::GreenAmber,
    Rag::Amber,
    Rag::RedAmber,
    Rag::Red,
];

/// One indicator's contribution to the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorLine {
    /// Plan type.
    pub indicator_type: IndicatorType,
    /// RAG (None when not rated).
    pub rag: Option<Rag>,
    /// True when the target is `Monitor`.
    pub monitor: bool,
    /// Long-term direction of travel, if any.
    pub direction: Option<Direction>,
}

/// One saving's target and achievement for the year (£000, positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavingLine {
    /// Target (magnitude of the saving).
    pub target: Fixed,
    /// Achieved.
    pub achieved: Fixed,
}

/// A customer-experience measure: how many of those received were answered
/// on time (`Of the 159 FOIs received, 153 were responded to on time`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerMeasure {
    /// Name (`FOIs`, `Complaints`, `Member Enquiries`).
    pub name: Text,
    /// Answered on time.
    pub on_time: u32,
    /// Received.
    pub received: u32,
}

/// A customer-experience line on the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerLine {
    /// Name.
    pub name: Text,
    /// Answered on time.
    pub on_time: u32,
    /// Received.
    pub received: u32,
    /// Whole % on time (None when nothing received).
    pub percent: Option<i64>,
}

/// HR figures as reported (carried through unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HrFigures {
    /// Establishment headcount.
    pub headcount: u32,
    /// Number of agency staff.
    pub agency_staff: u32,
    /// % of spend on agency staff.
    pub agency_spend_percent: Option<Fixed>,
    /// Average days lost per FTE (rolling 12 months).
    pub sickness_days_per_fte: Option<Fixed>,
}

/// One indicator's dashboard line for a period, from its aggregate state and
/// the tenant's tolerance schemes: [`line_of`] with the target chosen by
/// [`target_periods`] and the result of [`direction::long_term_period`].
/// None when the indicator is undefined or has no result for the period.
pub fn indicator_line(
    state: &IndicatorState,
    schemes: &BTreeMap<FinancialYear, ToleranceScheme>,
    period: Period,
) -> Option<IndicatorLine> {
    let spec = state.spec.as_ref()?;
    let result = &state.results.get(&period)?.result;
    let target = target_periods(period)
        .iter()
        .find_map(|p| state.targets.get(p));
    let previous = direction::long_term_period(period)
        .and_then(|p| state.results.get(&p))
        .map(|e| &e.result);
    Some(line_of(spec, schemes, period, target, result, previous))
}

/// Where the target in force for `period` is looked for, first found wins:
/// the period's own target, else its financial year's.
pub fn target_periods(period: Period) -> [Period; 2] {
    [period, Period::Year(period.financial_year())]
}

/// The indicator line rule, over the facts it needs (the one place it is
/// written; the aggregate replay and the read model both call it): RAG by
/// the scheme in force for the period's financial year against the target
/// in force, else the RAG the source printed; long-term DoT against
/// `previous`, the result of the same period last year.
pub fn line_of(
    spec: &IndicatorSpec,
    schemes: &BTreeMap<FinancialYear, ToleranceScheme>,
    period: Period,
    target: Option<&Target>,
    result: &ResultValue,
    previous: Option<&ResultValue>,
) -> IndicatorLine {
    let rag = match (target, scheme_in_force(schemes, period.financial_year())) {
        (Some(t), Some(scheme)) => rate(
            scheme,
            spec.polarity,
            t,
            result,
            previous.and_then(ResultValue::value),
        ),
        // a source-printed RAG stands even without target or scheme
        _ => match result {
            ResultValue::Measured { source_rag, .. } => *source_rag,
            _ => None,
        },
    };
    IndicatorLine {
        indicator_type: spec.indicator_type,
        rag,
        monitor: matches!(target, Some(Target::Monitor)),
        direction: direction::direction_of_results(spec.polarity, result, previous),
    }
}

/// Everything the dashboard is computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardInputs {
    /// Unit, or None for council-wide.
    pub unit: Option<Text>,
    /// Period.
    pub period: Period,
    /// Revenue lines.
    pub revenue: Vec<RevenueFigures>,
    /// Capital lines.
    pub capital: Vec<CapitalFigures>,
    /// Savings.
    pub savings: Vec<SavingLine>,
    /// Indicators reported this period.
    pub indicators: Vec<IndicatorLine>,
    /// Key-action statuses this period.
    pub actions: Vec<ActionStatus>,
    /// Current risk assessments.
    pub risks: Vec<Assessment>,
    /// HR figures, if reported.
    pub hr: Option<HrFigures>,
    /// Customer-experience measures, in report order.
    pub customer: Vec<CustomerMeasure>,
}

/// Revenue summary (£000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueSummary {
    /// Total revised budget.
    pub budget: Fixed,
    /// Total forecast.
    pub forecast: Fixed,
    /// Variance = forecast − budget.
    pub variance: Fixed,
    /// Variance as % of budget, one decimal.
    pub variance_percent_1dp: Option<Fixed>,
}

/// Capital summary (£000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapitalSummary {
    /// Total approved.
    pub approved: Fixed,
    /// Total proposed.
    pub proposed: Fixed,
    /// Total forecast.
    pub forecast: Fixed,
    /// Variance from approved.
    pub variance: Fixed,
    /// Total slippage.
    pub slippage: Fixed,
    /// % slippage of approved, whole.
    pub slippage_percent: Option<Fixed>,
}

/// Savings summary (£000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavingsSummary {
    /// Total target.
    pub target: Fixed,
    /// Total achieved.
    pub achieved: Fixed,
    /// Achieved as % of target, one decimal.
    pub achieved_percent_1dp: Option<Fixed>,
}

/// RAG and DoT breakdown of a group of indicators.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RagBreakdown {
    /// Indicators reported.
    pub reported: u32,
    /// Indicators with a RAG.
    pub rated: u32,
    /// Monitor indicators.
    pub monitor: u32,
    /// Count per colour (every colour present).
    pub counts: BTreeMap<Rag, u32>,
    /// Whole % of rated per colour (None when nothing rated).
    pub percent_of_rated: BTreeMap<Rag, Option<i64>>,
    /// Monitor as whole % of reported.
    pub monitor_percent: Option<i64>,
    /// DoT improving or the same.
    pub improved_or_same: u32,
    /// DoT worsening.
    pub worsened: u32,
    /// No DoT.
    pub no_direction: u32,
    /// Improved-or-same as whole % of those with a DoT.
    pub improved_or_same_percent: Option<i64>,
    /// Worsened as whole % of those with a DoT.
    pub worsened_percent: Option<i64>,
}

/// Key-action summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSummary {
    /// All actions.
    pub total: u32,
    /// Count per status (every status present).
    pub counts: BTreeMap<ActionStatus, u32>,
    /// Whole % of all actions per status.
    pub percent: BTreeMap<ActionStatus, Option<i64>>,
}

/// Risk summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskSummary {
    /// 5×5 heat map of current assessments.
    pub heat_map: HeatMap,
    /// Count per band (every band present).
    pub by_band: BTreeMap<Band, u32>,
    /// Risks scoring 15+ (escalated).
    pub escalated: u32,
}

/// The dashboard. Never reorder fields (its canonical bytes are sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    /// Unit, or None for council-wide.
    pub unit: Option<Text>,
    /// Period.
    pub period: Period,
    /// Revenue.
    pub revenue: RevenueSummary,
    /// Capital.
    pub capital: CapitalSummary,
    /// Savings.
    pub savings: SavingsSummary,
    /// Indicators, all types together.
    pub indicators: RagBreakdown,
    /// Indicators by type (only types present).
    pub indicators_by_type: BTreeMap<IndicatorType, RagBreakdown>,
    /// Key actions.
    pub actions: ActionSummary,
    /// Risks.
    pub risks: RiskSummary,
    /// HR figures.
    pub hr: Option<HrFigures>,
    /// Customer experience, in report order.
    pub customer: Vec<CustomerLine>,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn pct(num: u32, den: u32) -> Option<i64> {
    rounding::percent_whole(i64::from(num), i64::from(den))
}

/// Breakdown of a group of indicators.
pub fn breakdown<'a, I: IntoIterator<Item = &'a IndicatorLine>>(lines: I) -> RagBreakdown {
    let mut b = RagBreakdown::default();
    for r in RAGS {
        b.counts.insert(r, 0);
    }
    for l in lines {
        b.reported = b.reported.saturating_add(1);
        if l.monitor {
            b.monitor = b.monitor.saturating_add(1);
        }
        if let Some(r) = l.rag {
            b.rated = b.rated.saturating_add(1);
            let c = b.counts.entry(r).or_insert(0);
            *c = c.saturating_add(1);
        }
        match l.direction {
            Some(d) if d.improved_or_same() => {
                b.improved_or_same = b.improved_or_same.saturating_add(1)
            }
            Some(_) => b.worsened = b.worsened.saturating_add(1),
            None => b.no_direction = b.no_direction.saturating_add(1),
        }
    }
    for r in RAGS {
        let c = b.counts.get(&r).copied().unwrap_or(0);
        b.percent_of_rated.insert(r, pct(c, b.rated));
    }
    b.monitor_percent = pct(b.monitor, b.reported);
    let with_dot = b.improved_or_same.saturating_add(b.worsened);
    b.improved_or_same_percent = pct(b.improved_or_same, with_dot);
    b.worsened_percent = pct(b.worsened, with_dot);
    b
}

/// Summary of key-action statuses.
pub fn action_summary(statuses: &[ActionStatus]) -> ActionSummary {
    let mut s = ActionSummary {
        total: count(statuses.len()),
        ..ActionSummary::default()
    };
    for st in ActionStatus::ALL {
        let n = count(statuses.iter().filter(|x| **x == st).count());
        s.counts.insert(st, n);
        s.percent.insert(st, pct(n, s.total));
    }
    s
}

/// Summary of current risk assessments.
pub fn risk_summary(risks: &[Assessment]) -> RiskSummary {
    let mut s = RiskSummary {
        heat_map: HeatMap::from_assessments(risks),
        ..RiskSummary::default()
    };
    for b in [Band::Low, Band::MediumLow, Band::MediumHigh, Band::High] {
        s.by_band.insert(b, 0);
    }
    for a in risks.iter().filter(|a| a.validate().is_ok()) {
        let c = s.by_band.entry(a.band()).or_insert(0);
        *c = c.saturating_add(1);
        if a.escalated() {
            s.escalated = s.escalated.saturating_add(1);
        }
    }
    s
}

/// Compute the dashboard (errors only on fixed-point overflow).
pub fn compute(inputs: &DashboardInputs) -> Result<Dashboard, DomainError> {
    let rev = RevenueFigures::total(&inputs.revenue)?;
    let cap = CapitalFigures::total(&inputs.capital)?;
    let target = Fixed::sum(inputs.savings.iter().map(|s| s.target.abs()))?;
    let achieved = Fixed::sum(inputs.savings.iter().map(|s| s.achieved))?;
    let mut by_type: BTreeMap<IndicatorType, Vec<&IndicatorLine>> = BTreeMap::new();
    for l in &inputs.indicators {
        by_type.entry(l.indicator_type).or_default().push(l);
    }
    Ok(Dashboard {
        unit: inputs.unit.clone(),
        period: inputs.period,
        revenue: RevenueSummary {
            budget: rev.revised,
            forecast: rev.forecast,
            variance: rev.variation()?,
            variance_percent_1dp: rev.variation_percent_1dp()?,
        },
        capital: CapitalSummary {
            approved: cap.approved,
            proposed: cap.proposed()?,
            forecast: cap.forecast,
            variance: cap.variance()?,
            slippage: cap.slippage,
            slippage_percent: cap.slippage_percent_whole(),
        },
        savings: SavingsSummary {
            target,
            achieved,
            achieved_percent_1dp: rounding::percent_1dp(achieved, target),
        },
        indicators: breakdown(&inputs.indicators),
        indicators_by_type: by_type
            .into_iter()
            .map(|(t, ls)| (t, breakdown(ls)))
            .collect(),
        actions: action_summary(&inputs.actions),
        risks: risk_summary(&inputs.risks),
        hr: inputs.hr.clone(),
        customer: inputs
            .customer
            .iter()
            .map(|c| CustomerLine {
                name: c.name.clone(),
                on_time: c.on_time,
                received: c.received,
                percent: pct(c.on_time, c.received),
            })
            .collect(),
    })
}

/// Canonical bytes of a dashboard (postcard).
pub fn canonical_bytes(dashboard: &Dashboard) -> Vec<u8> {
    // Postcard fails only on a type it cannot encode or a failing writer;
    // `Dashboard` has neither, and empty bytes would let a seal pin the
    // digest of nothing.
    postcard::to_allocvec(dashboard).expect("a dashboard always encodes with postcard")
}

/// SHA-256 of the canonical bytes.
pub fn digest(dashboard: &Dashboard) -> [u8; 32] {
    Sha256::digest(canonical_bytes(dashboard)).into()
}

/// Lowercase hex of [`digest`].
pub fn digest_hex(dashboard: &Dashboard) -> String {
    hex::encode(digest(dashboard))
}
