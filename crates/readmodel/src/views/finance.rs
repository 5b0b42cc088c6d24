//! The finance view's JSON: revenue and capital lines, savings, totals
//! (grammar in [`super`]).

use super::*;

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
