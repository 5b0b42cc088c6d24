//! The risk register's JSON: current and target assessments per risk
//! (grammar in [`super`]).

use super::*;

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
