//! Risks: score = impact (1–5) × probability (1–5); band; escalation.
//!
//! Bands as printed in the seeds (003: 20 and 15 High, 12 and 10 Medium
//! High, 6 Medium Low; DOMAIN.md adds 9 and 8 Medium High):
//! 15–25 High, 8–12 Medium High, 4–6 Medium Low, 1–3 Low. (Products of two
//! 1–5 factors never fall on 7, 11, 13 or 14.) Scores of 15 and above are
//! escalated to Policy & Resources.

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::text::Text;

/// Smallest score escalated.
pub const ESCALATION_SCORE: u8 = 15;

/// Impact 1–5 (Negligible, Minor, Moderate, Major, Catastrophic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Impact(u8);

/// Probability 1–5 (Rare, Unlikely, Possible, Likely, Almost Certain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Probability(u8);

fn one_to_five(field: &'static str, v: u8) -> Result<u8, DomainError> {
    if (1..=5).contains(&v) {
        Ok(v)
    } else {
        Err(DomainError::OutOfRange {
            field,
            value: i64::from(v),
            min: 1,
            max: 5,
        })
    }
}

impl Impact {
    /// A validated impact 1–5.
    pub fn new(v: u8) -> Result<Self, DomainError> {
        one_to_five("impact", v).map(Impact)
    }
    /// The level 1–5.
    pub fn get(self) -> u8 {
        self.0
    }
    /// Printed name.
    pub fn name(self) -> &'static str {
        ["Negligible", "Minor", "Moderate", "Major", "Catastrophic"]
            .get(usize::from(self.0).wrapping_sub(1))
            .copied()
            .unwrap_or("?")
    }
}

impl Probability {
    /// A validated probability 1–5.
    pub fn new(v: u8) -> Result<Self, DomainError> {
        one_to_five("probability", v).map(Probability)
    }
    /// The level 1–5.
    pub fn get(self) -> u8 {
        self.0
    }
    /// Printed name.
    pub fn name(self) -> &'static str {
        ["Rare", "Unlikely", "Possible", "Likely", "Almost Certain"]
            .get(usize::from(self.0).wrapping_sub(1))
            .copied()
            .unwrap_or("?")
    }
}

/// One assessment: impact × probability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// Impact 1–5.
    pub impact: u8,
    /// Probability 1–5.
    pub probability: u8,
}

/// Risk band. Never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Band {
    /// 1–3.
    Low,
    /// 4–6.
    MediumLow,
    /// 8–12.
    MediumHigh,
    /// 15–25.
    High,
}

impl Band {
    /// Printed name.
    pub fn label(self) -> &'static str {
        match self {
            Band::Low => "Low",
            Band::MediumLow => "Medium Low",
            Band::MediumHigh => "Medium High",
            Band::High => "High",
        }
    }
}

impl Assessment {
    /// A validated assessment; errors name impact or probability and the value.
    pub fn new(impact: u8, probability: u8) -> Result<Self, DomainError> {
        Impact::new(impact)?;
        Probability::new(probability)?;
        Ok(Assessment {
            impact,
            probability,
        })
    }

    /// Re-check the ranges (for values decoded or built by hand).
    pub fn validate(&self) -> Result<(), DomainError> {
        Assessment::new(self.impact, self.probability).map(|_| ())
    }

    /// Score 1–25.
    pub fn score(&self) -> u8 {
        self.impact.saturating_mul(self.probability)
    }

    /// Band of the score.
    pub fn band(&self) -> Band {
        band(self.score())
    }

    /// Escalated to Policy & Resources (score ≥ 15).
    pub fn escalated(&self) -> bool {
        self.score() >= ESCALATION_SCORE
    }
}

/// Band of a score: 15–25 High, 8–12 Medium High, 4–6 Medium Low, 1–3 Low
/// (7 and 13–14 cannot occur; they fall in the band below the next printed one).
pub fn band(score: u8) -> Band {
    match score {
        15.. => Band::High,
        8..=14 => Band::MediumHigh,
        4..=7 => Band::MediumLow,
        _ => Band::Low,
    }
}

/// Risk response. Never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Response {
    /// Treat.
    Treat,
    /// Tolerate.
    Tolerate,
    /// Transfer.
    Transfer,
    /// Terminate.
    Terminate,
}

/// The definition of a risk.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskSpec {
    /// Risk id (`FIN001`, `ST0072`, `G&C019`).
    pub risk_id: Text,
    /// Unit / service area.
    pub unit: Text,
    /// Short title.
    pub title: Text,
    /// Long description.
    pub description: Text,
    /// Owner (job title).
    pub owner: Option<Text>,
    /// Primary category (Finance, Statutory Duty, ...).
    pub category: Option<Text>,
    /// Control actions.
    pub controls: Option<Text>,
    /// Response.
    pub response: Option<Response>,
    /// Board assurance timing (`Quarterly`).
    pub assurance: Option<Text>,
}

/// 5×5 heat map: `cells[impact-1][probability-1]` counts risks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeatMap {
    /// Counts by impact (row) and probability (column).
    pub cells: [[u32; 5]; 5],
}

impl HeatMap {
    /// Count assessments into a heat map (out-of-range assessments are skipped).
    pub fn from_assessments<'a, I: IntoIterator<Item = &'a Assessment>>(items: I) -> Self {
        let mut map = HeatMap::default();
        for a in items {
            if a.validate().is_err() {
                continue;
            }
            if let Some(cell) = map
                .cells
                .get_mut(usize::from(a.impact) - 1)
                .and_then(|row| row.get_mut(usize::from(a.probability) - 1))
            {
                *cell = cell.saturating_add(1);
            }
        }
        map
    }
}
