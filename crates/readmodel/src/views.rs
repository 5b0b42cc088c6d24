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

/// Revenue on the dashboard.
#[derive(Debug, Serialize)]
pub struct RevenueJson {
    pub budget: Num,
    pub forecast: Num,
    pub variance: Num,
    /// One decimal.
    pub variance_percent: Option<Num>,
}

/// Capital on the dashboard.
#[derive(Debug, Serialize)]
pub struct CapitalJson {
    pub approved: Num,
    pub proposed: Num,
    pub forecast: Num,
    pub variance: Num,
    pub slippage: Num,
    /// Whole percent; negative = slipped (printed `(12%)` in tables).
    pub slippage_percent: Option<Num>,
}

/// Savings on the dashboard.
#[derive(Debug, Serialize)]
pub struct SavingsJson {
    pub target: Num,
    pub achieved: Num,
    /// One decimal.
    pub achieved_percent: Option<Num>,
}

/// Key actions by status.
#[derive(Debug, Serialize)]
pub struct ActionsJson {
    pub total: u32,
    /// By printed status (`Green Amber`, `Not Rated`, ...), percent of all.
    pub by_status: BTreeMap<&'static str, Share>,
}

/// Risks on the dashboard.
#[derive(Debug, Serialize)]
pub struct RiskSummaryJson {
    pub heat_map: HeatRows,
    /// By band label.
    pub by_band: BTreeMap<&'static str, u32>,
    /// Scored 15 or more.
    pub escalated: u32,
}

/// HR figures.
#[derive(Debug, Serialize)]
pub struct HrJson {
    pub headcount: u32,
    pub agency_staff: u32,
    pub agency_spend_percent: Option<Num>,
    pub sickness_days_per_fte: Option<Num>,
}

/// A customer-experience line.
#[derive(Debug, Serialize)]
pub struct CustomerJson {
    pub name: String,
    pub on_time: u32,
    pub received: u32,
    pub percent: Option<i64>,
}

/// View `dashboard`.
#[derive(Debug, Serialize)]
pub struct DashboardJson {
    pub format: &'static str,
    pub view: &'static str,
    /// Unit, null = council-wide.
    pub unit: Option<String>,
    pub period: String,
    pub as_of: u64,
    /// SHA-256 of the dashboard's canonical bytes (what seals pin).
    pub digest: String,
    /// Nothing reported for the scope and period (zeros are not figures).
    pub no_data: bool,
    pub revenue: RevenueJson,
    pub capital: CapitalJson,
    pub savings: SavingsJson,
    pub indicators: Breakdown,
    /// By indicator type label.
    pub indicators_by_type: BTreeMap<&'static str, Breakdown>,
    pub actions: ActionsJson,
    pub risks: RiskSummaryJson,
    pub hr: Option<HrJson>,
    pub customer: Vec<CustomerJson>,
}

impl From<&DashboardView> for DashboardJson {
    fn from(v: &DashboardView) -> Self {
        let d = &v.dashboard;
        let by_status = perfledger_domain::action::ActionStatus::ALL
            .iter()
            .map(|s| {
                let share = Share {
                    count: d.actions.counts.get(s).copied().unwrap_or(0),
                    percent: d.actions.percent.get(s).copied().flatten(),
                };
                (render::status_label(*s), share)
            })
            .collect();
        DashboardJson {
            format: FORMAT,
            view: "dashboard",
            unit: d.unit.as_ref().map(|u| u.to_string()),
            period: d.period.to_string(),
            as_of: v.as_of,
            digest: v.digest.clone(),
            no_data: v.no_data,
            revenue: RevenueJson {
                budget: num(d.revenue.budget),
                forecast: num(d.revenue.forecast),
                variance: num(d.revenue.variance),
                variance_percent: d.revenue.variance_percent_1dp.map(num),
            },
            capital: CapitalJson {
                approved: num(d.capital.approved),
                proposed: num(d.capital.proposed),
                forecast: num(d.capital.forecast),
                variance: num(d.capital.variance),
                slippage: num(d.capital.slippage),
                slippage_percent: d.capital.slippage_percent.map(num),
            },
            savings: SavingsJson {
                target: num(d.savings.target),
                achieved: num(d.savings.achieved),
                achieved_percent: d.savings.achieved_percent_1dp.map(num),
            },
            indicators: (&d.indicators).into(),
            indicators_by_type: d
                .indicators_by_type
                .iter()
                .map(|(t, b)| (t.label(), b.into()))
                .collect(),
            actions: ActionsJson {
                total: d.actions.total,
                by_status,
            },
            risks: RiskSummaryJson {
                heat_map: heat_rows(&d.risks.heat_map),
                by_band: d
                    .risks
                    .by_band
                    .iter()
                    .map(|(b, n)| (b.label(), *n))
                    .collect(),
                escalated: d.risks.escalated,
            },
            hr: d.hr.as_ref().map(|h| HrJson {
                headcount: h.headcount,
                agency_staff: h.agency_staff,
                agency_spend_percent: h.agency_spend_percent.map(num),
                sickness_days_per_fte: h.sickness_days_per_fte.map(num),
            }),
            customer: d
                .customer
                .iter()
                .map(|c| CustomerJson {
                    name: c.name.to_string(),
                    on_time: c.on_time,
                    received: c.received,
                    percent: c.percent,
                })
                .collect(),
        }
    }
}

/// A revenue line (or the total) of view `finance`.
#[derive(Debug, Serialize)]
pub struct RevenueLineJson {
    pub line: String,
    pub unit: String,
    pub original: Num,
    pub revised: Num,
    pub forecast: Num,
    /// Forecast less revised budget; null if it does not fit.
    pub variation: Option<Num>,
    /// Of the revised budget, one decimal.
    pub variation_percent: Option<Num>,
    /// The period the forecast was submitted for, when carried forward.
    pub forecast_as_at: Option<String>,
}

/// A capital line (or the total) of view `finance`.
#[derive(Debug, Serialize)]
pub struct CapitalLineJson {
    pub line: String,
    pub unit: String,
    pub approved: Num,
    pub additions: Num,
    pub slippage: Num,
    pub proposed: Option<Num>,
    pub forecast: Num,
    pub variance: Option<Num>,
    /// Whole percent, negative = slipped.
    pub slippage_percent: Option<Num>,
    pub forecast_as_at: Option<String>,
}

/// A savings plan of view `finance`.
#[derive(Debug, Serialize)]
pub struct SavingJson {
    pub reference: String,
    pub unit: String,
    pub description: String,
    pub target: Num,
    pub achieved: Num,
    /// One decimal.
    pub achieved_percent: Option<Num>,
    pub reported_as_at: Option<String>,
}

/// View `finance`: lines, and totals apart from the lines.
#[derive(Debug, Serialize)]
pub struct FinanceJson {
    pub format: &'static str,
    pub view: &'static str,
    pub unit: Option<String>,
    pub period: String,
    pub as_of: u64,
    pub no_data: bool,
    /// Periods some figure was carried forward from.
    pub carried_forward: Vec<String>,
    pub revenue: Vec<RevenueLineJson>,
    pub revenue_total: RevenueLineJson,
    pub capital: Vec<CapitalLineJson>,
    pub capital_total: CapitalLineJson,
    pub savings: Vec<SavingJson>,
    pub savings_target: Num,
    pub savings_achieved: Num,
}

impl From<&FinanceView> for FinanceJson {
    fn from(v: &FinanceView) -> Self {
        let p = |p: Option<perfledger_domain::Period>| p.map(|p| p.to_string());
        let unit = v.unit.clone().unwrap_or_default();
        let rev_total = &v.revenue_total;
        let cap_total = &v.capital_total;
        FinanceJson {
            format: FORMAT,
            view: "finance",
            unit: v.unit.clone(),
            period: v.period.to_string(),
            as_of: v.as_of,
            no_data: v.is_empty(),
            carried_forward: v.carried_forward().iter().map(|p| p.to_string()).collect(),
            revenue: v
                .revenue
                .iter()
                .map(|r| RevenueLineJson {
                    line: r.line.clone(),
                    unit: r.unit.clone(),
                    original: num(r.figures.original),
                    revised: num(r.figures.revised),
                    forecast: num(r.figures.forecast),
                    variation: Some(num(r.variation)),
                    variation_percent: r.variation_percent_1dp.map(num),
                    forecast_as_at: p(r.forecast_period),
                })
                .collect(),
            revenue_total: RevenueLineJson {
                line: "Total".into(),
                unit: unit.clone(),
                original: num(rev_total.original),
                revised: num(rev_total.revised),
                forecast: num(rev_total.forecast),
                variation: rev_total.variation().ok().map(num),
                variation_percent: rev_total.variation_percent_1dp().ok().flatten().map(num),
                forecast_as_at: None,
            },
            capital: v
                .capital
                .iter()
                .map(|r| CapitalLineJson {
                    line: r.line.clone(),
                    unit: r.unit.clone(),
                    approved: num(r.figures.approved),
                    additions: num(r.figures.additions),
                    slippage: num(r.figures.slippage),
                    proposed: Some(num(r.proposed)),
                    forecast: num(r.figures.forecast),
                    variance: Some(num(r.variance)),
                    slippage_percent: r.slippage_percent.map(num),
                    forecast_as_at: p(r.forecast_period),
                })
                .collect(),
            capital_total: CapitalLineJson {
                line: "Total".into(),
                unit,
                approved: num(cap_total.approved),
                additions: num(cap_total.additions),
                slippage: num(cap_total.slippage),
                proposed: cap_total.proposed().ok().map(num),
                forecast: num(cap_total.forecast),
                variance: cap_total.variance().ok().map(num),
                slippage_percent: cap_total.slippage_percent_whole().map(num),
                forecast_as_at: None,
            },
            savings: v
                .savings
                .iter()
                .map(|s| SavingJson {
                    reference: s.reference.clone(),
                    unit: s.unit.clone(),
                    description: s.description.clone(),
                    target: num(s.line.target),
                    achieved: num(s.line.achieved),
                    achieved_percent: s.achieved_percent_1dp.map(num),
                    reported_as_at: p(s.reported_period),
                })
                .collect(),
            savings_target: num(v.savings_target),
            savings_achieved: num(v.savings_achieved),
        }
    }
}

/// An indicator of view `indicators`.
#[derive(Debug, Serialize)]
pub struct IndicatorItemJson {
    pub key: String,
    pub reference: Option<String>,
    pub title: String,
    pub unit: String,
    /// Type label (`CPI`).
    #[serde(rename = "type")]
    pub indicator_type: &'static str,
    pub retired: bool,
    pub entity: Uuid,
}

/// View `indicators`.
#[derive(Debug, Serialize)]
pub struct IndicatorsJson {
    pub format: &'static str,
    pub view: &'static str,
    pub unit: Option<String>,
    pub as_of: u64,
    pub indicators: Vec<IndicatorItemJson>,
}

impl IndicatorsJson {
    /// The list read at `as_of`, of `unit` (None = all).
    pub fn new(as_of: u64, unit: Option<&str>, list: &[IndicatorSummary]) -> Self {
        IndicatorsJson {
            format: FORMAT,
            view: "indicators",
            unit: unit.map(str::to_string),
            as_of,
            indicators: list
                .iter()
                .map(|i| IndicatorItemJson {
                    key: i.natural_key.clone(),
                    reference: i.reference.clone(),
                    title: i.title.clone(),
                    unit: i.unit.clone(),
                    indicator_type: i.indicator_type.label(),
                    retired: i.retired,
                    entity: i.entity,
                })
                .collect(),
        }
    }
}

/// One audit entry (who, when, why, before and after).
#[derive(Debug, Serialize)]
pub struct AuditEntryJson {
    pub seq: u64,
    pub index: u16,
    /// Claimed time (the report's for a migrated record).
    pub recorded_at: String,
    /// When the ledger appended a migrated record (null when live).
    pub migrated_at: Option<String>,
    pub event: String,
    pub period: Option<String>,
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub actor: String,
    pub reason: Option<String>,
    pub source: String,
    pub command_id: Uuid,
    pub event_id: Uuid,
}

impl From<&AuditEntry> for AuditEntryJson {
    fn from(e: &AuditEntry) -> Self {
        AuditEntryJson {
            seq: e.seq,
            index: e.index,
            recorded_at: time(e.recorded_at),
            migrated_at: e.migrated_at.map(time),
            event: e.event.clone(),
            period: e.period.map(|p| p.to_string()),
            field: e.field.clone(),
            before: e.before.clone(),
            after: e.after.clone(),
            actor: e.actor.clone(),
            reason: e.reason.clone(),
            source: e.source.clone(),
            command_id: e.command_id,
            event_id: e.event_id,
        }
    }
}

/// An indicator's figures for one period.
#[derive(Debug, Serialize)]
pub struct HistoryRowJson {
    pub period: String,
    /// As printed (`≥ 70%`); its kind varies by indicator.
    pub target: Option<String>,
    /// As printed (`70%`, `965,000`, `Not yet due`).
    pub result: Option<String>,
    /// Full rating name.
    pub rag: Option<&'static str>,
    pub direction_short: Option<&'static str>,
    pub direction_long: Option<&'static str>,
    pub restatements: u32,
    pub commentary: Option<String>,
}

/// View `history`: an indicator's figures by period and its audit trail.
#[derive(Debug, Serialize)]
pub struct HistoryJson {
    pub format: &'static str,
    pub view: &'static str,
    pub key: String,
    pub entity: Uuid,
    pub as_of: u64,
    pub title: Option<String>,
    pub unit: Option<String>,
    #[serde(rename = "type")]
    pub indicator_type: Option<&'static str>,
    pub retired: bool,
    pub rows: Vec<HistoryRowJson>,
    pub audit: Vec<AuditEntryJson>,
}

impl From<&IndicatorView> for HistoryJson {
    fn from(v: &IndicatorView) -> Self {
        HistoryJson {
            format: FORMAT,
            view: "history",
            key: v.natural_key.clone(),
            entity: v.entity,
            as_of: v.as_of,
            title: v.spec.as_ref().map(|s| s.title.to_string()),
            unit: v.spec.as_ref().map(|s| s.unit.to_string()),
            indicator_type: v.spec.as_ref().map(|s| s.indicator_type.label()),
            retired: v.retired,
            rows: v
                .rows
                .iter()
                .map(|r| HistoryRowJson {
                    period: r.period.to_string(),
                    target: r.target_text.clone(),
                    result: r.result_text.clone(),
                    rag: r.rag.map(printed::rag_name),
                    direction_short: r.direction_short.map(printed::direction),
                    direction_long: r.direction_long.map(printed::direction),
                    restatements: r.restatements,
                    commentary: r.commentary.clone(),
                })
                .collect(),
            audit: v.audit.iter().map(AuditEntryJson::from).collect(),
        }
    }
}

/// View `audit`: an entity's audit trail.
#[derive(Debug, Serialize)]
pub struct AuditJson {
    pub format: &'static str,
    pub view: &'static str,
    /// Entity kind token (`indicator`, `revenue_line`).
    pub kind: String,
    pub key: String,
    pub entity: Uuid,
    pub as_of: u64,
    /// SHA-256 of the trail's canonical bytes.
    pub digest: String,
    pub entries: Vec<AuditEntryJson>,
}

impl From<&AuditTrail> for AuditJson {
    fn from(t: &AuditTrail) -> Self {
        AuditJson {
            format: FORMAT,
            view: "audit",
            kind: t.kind.clone(),
            key: t.natural_key.clone(),
            entity: t.entity,
            as_of: t.as_of,
            digest: t.digest_hex(),
            entries: t.entries.iter().map(AuditEntryJson::from).collect(),
        }
    }
}

/// A risk assessment.
#[derive(Debug, Serialize)]
pub struct AssessmentJson {
    pub impact: u8,
    pub probability: u8,
    pub score: u8,
    /// Band label.
    pub band: &'static str,
}

fn assessment(a: &Option<Assessment>) -> Option<AssessmentJson> {
    a.map(|a| AssessmentJson {
        impact: a.impact,
        probability: a.probability,
        score: a.score(),
        band: a.band().label(),
    })
}

/// A risk of view `risks`.
#[derive(Debug, Serialize)]
pub struct RiskJson {
    pub risk_id: String,
    pub unit: String,
    pub title: String,
    pub owner: Option<String>,
    pub category: Option<String>,
    pub period: Option<String>,
    pub current: Option<AssessmentJson>,
    pub target: Option<AssessmentJson>,
    pub escalated: bool,
    pub closed: bool,
}

/// View `risks`: the register with both heat maps.
#[derive(Debug, Serialize)]
pub struct RisksJson {
    pub format: &'static str,
    pub view: &'static str,
    pub unit: Option<String>,
    pub as_of: u64,
    pub risks: Vec<RiskJson>,
    pub heat_map: HeatRows,
    pub target_heat_map: HeatRows,
    /// Risk ids scored 15 or more.
    pub escalated: Vec<String>,
}

impl From<&RiskRegister> for RisksJson {
    fn from(r: &RiskRegister) -> Self {
        RisksJson {
            format: FORMAT,
            view: "risks",
            unit: r.unit.clone(),
            as_of: r.as_of,
            risks: r
                .risks
                .iter()
                .map(|x| RiskJson {
                    risk_id: x.risk_id.clone(),
                    unit: x.unit.clone(),
                    title: x.title.clone(),
                    owner: x.owner.clone(),
                    category: x.category.clone(),
                    period: x.period.map(|p| p.to_string()),
                    current: assessment(&x.current),
                    target: assessment(&x.target),
                    escalated: x.escalated,
                    closed: x.closed,
                })
                .collect(),
            heat_map: heat_rows(&r.heat_maps.current),
            target_heat_map: heat_rows(&r.heat_maps.target),
            escalated: r.escalated.clone(),
        }
    }
}

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
