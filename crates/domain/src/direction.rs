//! Direction of travel (DoT): short term vs the previous period, long term vs
//! the same period last year; Improving / Same / Worsening judged by
//! polarity. Annual, cumulative and seasonal indicators
//! ([`ComparisonBasis::SamePeriodLastYear`]) compare with the same period of
//! the previous year for both. No DoT without a comparable earlier value.

use serde::{Deserialize, Serialize};

use crate::indicator::{ComparisonBasis, Polarity, ResultValue, Value};
use crate::period::Period;

/// A direction of travel. Never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// Better than before.
    Improving,
    /// Unchanged.
    Same,
    /// Worse than before.
    Worsening,
}

impl Direction {
    /// Dashboard grouping: improved or the same.
    pub fn improved_or_same(self) -> bool {
        !matches!(self, Direction::Worsening)
    }
}

/// The period a short-term DoT compares with.
pub fn short_term_period(basis: ComparisonBasis, period: Period) -> Option<Period> {
    match basis {
        ComparisonBasis::Sequential => period.previous(),
        ComparisonBasis::SamePeriodLastYear => period.same_period_last_year(),
    }
}

/// The period a long-term DoT compares with.
pub fn long_term_period(period: Period) -> Option<Period> {
    period.same_period_last_year()
}

/// Direction between two values by polarity (None when the values are not
/// comparable, e.g. a percentage against money).
pub fn direction(polarity: Polarity, current: &Value, previous: &Value) -> Option<Direction> {
    if std::mem::discriminant(current) != std::mem::discriminant(previous)
        && !matches!(
            (current, previous),
            (Value::Percent(_), Value::Fraction { .. })
                | (Value::Fraction { .. }, Value::Percent(_))
        )
    {
        return None;
    }
    let c = current.comparable()?;
    let p = previous.comparable()?;
    Some(if c == p {
        Direction::Same
    } else if (c > p) == matches!(polarity, Polarity::BiggerIsBetter) {
        Direction::Improving
    } else {
        Direction::Worsening
    })
}

/// Direction between two results (None unless both are measured).
pub fn direction_of_results(
    polarity: Polarity,
    current: &ResultValue,
    previous: Option<&ResultValue>,
) -> Option<Direction> {
    direction(polarity, current.value()?, previous?.value()?)
}
