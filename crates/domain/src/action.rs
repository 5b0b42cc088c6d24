//! Key actions: reference, description, due, status per quarter.

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::text::Text;

/// Quarterly status of a key action. Never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ActionStatus {
    /// On track or met.
    Green,
    /// Delayed, low impact.
    GreenAmber,
    /// Delayed, medium impact.
    RedAmber,
    /// Risk of not delivering, or high impact.
    Red,
    /// Not due or N/A.
    NotRated,
}

impl ActionStatus {
    /// All statuses in dashboard order.
    pub const ALL: [ActionStatus; 5] = [
        ActionStatus::Green,
        ActionStatus::GreenAmber,
        ActionStatus::RedAmber,
        ActionStatus::Red,
        ActionStatus::NotRated,
    ];

    /// Parse `Green`, `Green Amber`, `Red Amber`, `Red`, `Not Rated`, `N/A` (any case).
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let n = value
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        Ok(match n.as_str() {
            "green" | "g" => ActionStatus::Green,
            "green amber" | "ga" => ActionStatus::GreenAmber,
            "red amber" | "ra" => ActionStatus::RedAmber,
            "red" | "r" => ActionStatus::Red,
            "not rated" | "n/a" | "na" | "not due" => ActionStatus::NotRated,
            _ => {
                return Err(DomainError::Invalid {
                    field: "action status",
                    value: value.chars().take(64).collect(),
                    reason: "expected Green, Green Amber, Red Amber, Red or Not Rated",
                })
            }
        })
    }
}

/// The definition of a key action.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// Reference (`CG01`, `3`): unique within the unit.
    pub reference: Text,
    /// Unit / service area.
    pub unit: Text,
    /// Description.
    pub description: Text,
    /// Due as printed (`March 2021`, `Fortnightly`).
    pub due: Option<Text>,
    /// Lead officer (job title).
    pub lead_officer: Option<Text>,
}
