//! Finance arithmetic (all figures `Fixed`, in £000 unless stated).
//!
//! Revenue: variation = forecast − revised budget; % variation of revised
//! budget to one decimal place. Capital: proposed = approved + additions +
//! slippage (slippage negative, accelerated spend positive); variance from
//! approved = forecast − approved; % slippage of approved, whole number.
//! Percentages through [`crate::rounding`].

use serde::{Deserialize, Serialize};

use crate::amount::Fixed;
use crate::error::DomainError;
use crate::rounding;
use crate::text::Text;

/// Definition of a budget line (revenue or capital): a name within a unit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineSpec {
    /// Unit / delivery unit.
    pub unit: Text,
    /// Line name (`Finance`, `Commercial`, `Depot relocation`).
    pub name: Text,
    /// Optional description.
    pub description: Option<Text>,
}

fn add(a: Fixed, b: Fixed, field: &'static str) -> Result<Fixed, DomainError> {
    a.checked_add(b).ok_or(DomainError::Overflow { field })
}
fn sub(a: Fixed, b: Fixed, field: &'static str) -> Result<Fixed, DomainError> {
    a.checked_sub(b).ok_or(DomainError::Overflow { field })
}

/// Revenue figures of one line (or a total) for one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RevenueFigures {
    /// Original budget.
    pub original: Fixed,
    /// Revised budget ("Budget V1").
    pub revised: Fixed,
    /// Forecast outturn.
    pub forecast: Fixed,
}

impl RevenueFigures {
    /// Variation = forecast − revised budget.
    pub fn variation(&self) -> Result<Fixed, DomainError> {
        sub(self.forecast, self.revised, "revenue variation")
    }

    /// % variation of the revised budget, one decimal place (None when the
    /// revised budget is zero).
    pub fn variation_percent_1dp(&self) -> Result<Option<Fixed>, DomainError> {
        Ok(rounding::percent_1dp(self.variation()?, self.revised))
    }

    /// Line-by-line sum.
    pub fn total<'a, I: IntoIterator<Item = &'a RevenueFigures>>(
        lines: I,
    ) -> Result<RevenueFigures, DomainError> {
        lines
            .into_iter()
            .try_fold(RevenueFigures::default(), |acc, l| {
                Ok(RevenueFigures {
                    original: add(acc.original, l.original, "original budget total")?,
                    revised: add(acc.revised, l.revised, "revised budget total")?,
                    forecast: add(acc.forecast, l.forecast, "forecast total")?,
                })
            })
    }
}

/// Capital figures of one line (or a total) for one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CapitalFigures {
    /// Latest approved budget.
    pub approved: Fixed,
    /// Additions (deletions negative).
    pub additions: Fixed,
    /// Slippage (negative) or accelerated spend (positive).
    pub slippage: Fixed,
    /// Forecast to year end.
    pub forecast: Fixed,
}

impl CapitalFigures {
    /// Proposed = approved + additions + slippage.
    pub fn proposed(&self) -> Result<Fixed, DomainError> {
        add(
            add(self.approved, self.additions, "capital proposed")?,
            self.slippage,
            "capital proposed",
        )
    }

    /// Variance from approved budget = forecast − approved.
    pub fn variance(&self) -> Result<Fixed, DomainError> {
        sub(self.forecast, self.approved, "capital variance")
    }

    /// % slippage of approved budget, whole number (None when approved is zero).
    pub fn slippage_percent_whole(&self) -> Option<Fixed> {
        rounding::percent_whole_fixed(self.slippage, self.approved)
    }

    /// % variance of approved budget, whole number.
    pub fn variance_percent_whole(&self) -> Result<Option<Fixed>, DomainError> {
        Ok(rounding::percent_whole_fixed(
            self.variance()?,
            self.approved,
        ))
    }

    /// Line-by-line sum.
    pub fn total<'a, I: IntoIterator<Item = &'a CapitalFigures>>(
        lines: I,
    ) -> Result<CapitalFigures, DomainError> {
        lines
            .into_iter()
            .try_fold(CapitalFigures::default(), |acc, l| {
                Ok(CapitalFigures {
                    approved: add(acc.approved, l.approved, "capital approved total")?,
                    additions: add(acc.additions, l.additions, "capital additions total")?,
                    slippage: add(acc.slippage, l.slippage, "capital slippage total")?,
                    forecast: add(acc.forecast, l.forecast, "capital forecast total")?,
                })
            })
    }
}
