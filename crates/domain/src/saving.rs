//! Savings proposals and delivery (amounts in £000; negative = saving, as
//! printed in brackets).

use serde::{Deserialize, Serialize};

use crate::amount::Fixed;
use crate::period::FinancialYear;
use crate::rounding;
use crate::text::Text;

/// Most financial years one proposal may carry.
pub const MAX_SAVING_YEARS: usize = 16;

/// A savings proposal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavingSpec {
    /// Reference (`P&R1`).
    pub reference: Text,
    /// Unit / service area.
    pub unit: Text,
    /// Description.
    pub description: Text,
    /// Amount per financial year (negative = saving), ascending by year.
    pub amounts: Vec<(FinancialYear, Fixed)>,
}

impl SavingSpec {
    /// The target for a year (magnitude of the saving), if any.
    pub fn target_for(&self, fy: FinancialYear) -> Option<Fixed> {
        self.amounts
            .iter()
            .find(|(y, _)| *y == fy)
            .map(|(_, a)| a.abs())
    }
}

/// Achieved as a percentage of target, one decimal place (`1,909` of a
/// target → `79.3`); None when the target is zero.
pub fn achieved_percent_1dp(achieved: Fixed, target: Fixed) -> Option<Fixed> {
    rounding::percent_1dp(achieved, target.abs())
}
