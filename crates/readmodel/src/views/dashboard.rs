//! The dashboard view's JSON: revenue, capital, savings, RAG and direction
//! counts, actions, risks, HR and customer measures (grammar in [`super`]).

use super::*;

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
