//! RAG rating of a result against its target, by polarity, under a
//! versioned tolerance scheme held as data.
//!
//! * A scheme is adopted for the financial year it takes effect from
//!   ([`scheme_in_force`]); a result is rated by the scheme in force for
//!   *its* financial year, so adopting a new scheme never recolours history.
//! * `Monitor`, `TBC`, `New for ...`, `N/A` targets are never rated; results
//!   that are not measured are never rated.
//! * A RAG printed by the source (`82% (A)`) is honoured as given.
//! * Distance from target is relative, in basis points of the target's
//!   magnitude, integer arithmetic rounded by [`crate::rounding`]
//!   (a zero target makes any miss maximally distant).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::amount::Fixed;
use crate::error::DomainError;
use crate::indicator::{Comparator, Polarity, ResultValue, Target, Value};
use crate::period::FinancialYear;
use crate::rounding;

pub use crate::rating::Rag;

/// A tolerance scheme (how far off target maps to which colour). Never
/// reorder variants or fields.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ToleranceScheme {
    /// 2013–2017 four levels: Green on/above target; Green Amber when the
    /// miss is at most `green_amber_max_bp`; Red Amber at most
    /// `red_amber_max_bp`; Red beyond.
    FourLevel {
        /// Largest miss (bp) still Green Amber.
        green_amber_max_bp: u32,
        /// Largest miss (bp) still Red Amber.
        red_amber_max_bp: u32,
    },
    /// Three levels: Green on target; Amber for a miss below `red_from_bp`
    /// (e.g. 1000 = "up to 9.9% off"); Red at or beyond it ("10% or more").
    ThreeLevel {
        /// Smallest miss (bp) that is Red.
        red_from_bp: u32,
    },
    /// Direction-dependent: Green within `green_max_bp` of target (e.g. 1000
    /// = within 10%); beyond it Amber if improved on the same period last
    /// year, Red if not improved (or no comparison).
    DirectionDependent {
        /// Largest miss (bp) still Green.
        green_max_bp: u32,
    },
}

impl ToleranceScheme {
    /// The four-level scheme with the given bands.
    pub fn four_level(green_amber_max_bp: u32, red_amber_max_bp: u32) -> Self {
        ToleranceScheme::FourLevel {
            green_amber_max_bp,
            red_amber_max_bp,
        }
    }

    /// "Green on target, Amber up to 9.9% off, Red 10% or more off".
    pub fn three_level_10pc() -> Self {
        ToleranceScheme::ThreeLevel { red_from_bp: 1000 }
    }

    /// "Green within 10%; Amber >10% off but improved; Red >10% off, not improved".
    pub fn direction_dependent_10pc() -> Self {
        ToleranceScheme::DirectionDependent { green_max_bp: 1000 }
    }

    /// Check band ordering.
    pub fn validate(&self) -> Result<(), DomainError> {
        if let ToleranceScheme::FourLevel {
            green_amber_max_bp,
            red_amber_max_bp,
        } = self
        {
            if green_amber_max_bp > red_amber_max_bp {
                return Err(DomainError::Invalid {
                    field: "tolerance scheme",
                    value: format!("{self:?}"),
                    reason: "green-amber band must not exceed red-amber band",
                });
            }
        }
        Ok(())
    }
}

/// The scheme in force for a financial year: the one adopted for the
/// greatest year not after `fy`.
pub fn scheme_in_force(
    versions: &BTreeMap<FinancialYear, ToleranceScheme>,
    fy: FinancialYear,
) -> Option<&ToleranceScheme> {
    versions.range(..=fy).next_back().map(|(_, s)| s)
}

/// How a result stands against a numeric bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The target is met.
    Met,
    /// Missed by this many basis points of the target's magnitude.
    MissedBy(u64),
}

/// Miss distance of `result` against `bar` under `comparator` and polarity.
pub fn standing(result: Fixed, bar: Fixed, comparator: Comparator, polarity: Polarity) -> Standing {
    let met = match comparator {
        Comparator::Plain => match polarity {
            Polarity::BiggerIsBetter => result >= bar,
            Polarity::SmallerIsBetter => result <= bar,
        },
        Comparator::LessThan => result < bar,
        Comparator::GreaterThan => result > bar,
        Comparator::AtMost => result <= bar,
        Comparator::AtLeast => result >= bar,
    };
    if met {
        return Standing::Met;
    }
    let diff = (i128::from(result.raw()) - i128::from(bar.raw())).unsigned_abs();
    let base = i128::from(bar.raw()).unsigned_abs();
    if base == 0 {
        return Standing::MissedBy(u64::MAX);
    }
    let bp = rounding::div_round(
        i128::try_from(diff.saturating_mul(10_000)).unwrap_or(i128::MAX),
        i128::try_from(base).unwrap_or(i128::MAX),
    )
    .unwrap_or(i128::MAX);
    Standing::MissedBy(u64::try_from(bp).unwrap_or(u64::MAX))
}

/// True when `current` is strictly better than `previous` by polarity.
pub fn improved(polarity: Polarity, current: Fixed, previous: Fixed) -> bool {
    match polarity {
        Polarity::BiggerIsBetter => current > previous,
        Polarity::SmallerIsBetter => current < previous,
    }
}

/// Rate a result against its target. `previous` is the comparable earlier
/// value (same period last year) used by direction-only targets
/// (`Increase`/`Decrease`) and the direction-dependent scheme.
/// Returns None when the result is not RAG-rated.
pub fn rate(
    scheme: &ToleranceScheme,
    polarity: Polarity,
    target: &Target,
    result: &ResultValue,
    previous: Option<&Value>,
) -> Option<Rag> {
    let ResultValue::Measured {
        value, source_rag, ..
    } = result
    else {
        return None;
    };
    if let Some(given) = source_rag {
        return Some(*given);
    }
    let r = value.comparable()?;
    let prev = previous.and_then(Value::comparable);
    let (bar, comparator) = match target {
        Target::Numeric {
            comparator, value, ..
        } => (value.comparable()?, *comparator),
        Target::RemainAtOrAbove(v) => (v.comparable()?, Comparator::AtLeast),
        Target::RemainAtOrBelow(v) => (v.comparable()?, Comparator::AtMost),
        Target::Reduction(p) => (*p, Comparator::AtLeast),
        Target::Increase => (prev?, Comparator::GreaterThan),
        Target::Decrease => (prev?, Comparator::LessThan),
        Target::Monitor | Target::Tbc | Target::NewFor(_) | Target::NotApplicable => return None,
    };
    let st = standing(r, bar, comparator, polarity);
    Some(classify(scheme, st, prev.map(|p| improved(polarity, r, p))))
}

/// Map a standing to a colour under a scheme (`improved`: vs same period
/// last year, None when there is no comparison).
pub fn classify(scheme: &ToleranceScheme, st: Standing, improved: Option<bool>) -> Rag {
    let miss = match st {
        Standing::Met => return Rag::Green,
        Standing::MissedBy(bp) => bp,
    };
    match *scheme {
        ToleranceScheme::FourLevel {
            green_amber_max_bp,
            red_amber_max_bp,
        } => {
            if miss <= u64::from(green_amber_max_bp) {
                Rag::GreenAmber
            } else if miss <= u64::from(red_amber_max_bp) {
                Rag::RedAmber
            } else {
                Rag::Red
            }
        }
        ToleranceScheme::ThreeLevel { red_from_bp } => {
            if miss < u64::from(red_from_bp) {
                Rag::Amber
            } else {
                Rag::Red
            }
        }
        ToleranceScheme::DirectionDependent { green_max_bp } => {
            if miss <= u64::from(green_max_bp) {
                Rag::Green
            } else if improved == Some(true) {
                Rag::Amber
            } else {
                Rag::Red
            }
        }
    }
}
