//! Indicators: identity, type, polarity, frequency, data type, values,
//! targets and results (every printed form has a variant here; the parsers
//! of the printed strings are in [`crate::parse`]).

use serde::{Deserialize, Serialize};

use crate::amount::Fixed;
use crate::error::DomainError;
pub use crate::period::Frequency;
use crate::period::{FinancialYear, Period};
use crate::rating::Rag;
use crate::rounding;
use crate::text::Text;

/// The plan an indicator belongs to. Never reorder (wire format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum IndicatorType {
    /// Corporate Plan Indicator.
    Cpi,
    /// Commissioning Plan (service) Indicator.
    Spi,
    /// Management Agreement Indicator.
    Mpi,
    /// Contract Performance Indicator.
    Kpi,
    /// Outcome indicator (outcomes framework).
    Outcome,
}

impl IndicatorType {
    /// Short printed name (`CPI`).
    pub fn label(self) -> &'static str {
        match self {
            IndicatorType::Cpi => "CPI",
            IndicatorType::Spi => "SPI",
            IndicatorType::Mpi => "MPI",
            IndicatorType::Kpi => "KPI",
            IndicatorType::Outcome => "Outcome",
        }
    }
}

/// Which direction is good. Never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Polarity {
    /// "Bigger is Better".
    BiggerIsBetter,
    /// "Smaller is Better".
    SmallerIsBetter,
}

/// Which earlier period the long/short-term direction of travel compares
/// with. Annual, cumulative (year-to-date) and seasonal indicators compare
/// with the same period of the previous year only. Never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ComparisonBasis {
    /// Short term vs previous period, long term vs same period last year.
    Sequential,
    /// Annual / cumulative / seasonal: same period last year only.
    SamePeriodLastYear,
}

/// Unit of a money figure. Never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MoneyUnit {
    /// £.
    Pounds,
    /// £000.
    Thousands,
    /// £m.
    Millions,
}

impl MoneyUnit {
    /// Pounds per unit.
    pub fn pounds(self) -> i64 {
        match self {
            MoneyUnit::Pounds => 1,
            MoneyUnit::Thousands => 1_000,
            MoneyUnit::Millions => 1_000_000,
        }
    }
}

/// What kind of number an indicator reports. Never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DataType {
    /// A percentage.
    Percentage,
    /// Money in the given unit (any unit is accepted and converted).
    Money(MoneyUnit),
    /// A count.
    Count,
    /// Days (e.g. sickness days per FTE).
    Days,
    /// A ratio.
    Ratio,
    /// Numerator/denominator, reported as a percentage (`1,385/1,599` → 86.6%).
    NumeratorDenominator,
}

impl DataType {
    /// What an indicator of this type is reported as, in words, for
    /// messages (`a percentage`).
    pub fn words(self) -> &'static str {
        match self {
            DataType::Percentage => "a percentage",
            DataType::Money(_) => "an amount of money",
            DataType::Count => "a count",
            DataType::Days => "a number of days",
            DataType::Ratio => "a ratio",
            DataType::NumeratorDenominator => "a numerator/denominator (reported as a percentage)",
        }
    }
}

/// A measured or target value. Never reorder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Value {
    /// A percentage (`86.6` = 86.6%).
    Percent(Fixed),
    /// Money.
    Money {
        /// Amount in `unit`.
        amount: Fixed,
        /// Unit of `amount`.
        unit: MoneyUnit,
    },
    /// A count.
    Count(Fixed),
    /// Days.
    Days(Fixed),
    /// A ratio.
    Ratio(Fixed),
    /// Numerator and denominator (denominator never zero).
    Fraction {
        /// Numerator.
        numerator: Fixed,
        /// Denominator.
        denominator: Fixed,
    },
    /// A percentage reduction (`17.5% reduction`); bigger means more reduction.
    PercentReduction(Fixed),
}

impl Value {
    /// What this value is, in words, for messages (`a count`).
    pub fn words(&self) -> &'static str {
        match self {
            Value::Percent(_) => "a percentage",
            Value::Money { .. } => "an amount of money",
            Value::Count(_) => "a count",
            Value::Days(_) => "a number of days",
            Value::Ratio(_) => "a ratio",
            Value::Fraction { .. } => "a numerator/denominator",
            Value::PercentReduction(_) => "a percentage reduction",
        }
    }
}

impl Value {
    /// Check internal invariants (non-zero denominator, magnitude limits).
    pub fn validate(&self) -> Result<(), DomainError> {
        let lim = |v: Fixed| {
            let max = Fixed::MAX_INPUT.saturating_mul(Fixed::SCALE);
            if v.raw().saturating_abs() > max {
                Err(DomainError::Invalid {
                    field: "value",
                    value: v.to_string(),
                    reason: "magnitude too large",
                })
            } else {
                Ok(())
            }
        };
        match self {
            Value::Percent(v)
            | Value::Count(v)
            | Value::Days(v)
            | Value::Ratio(v)
            | Value::PercentReduction(v)
            | Value::Money { amount: v, .. } => lim(*v),
            Value::Fraction {
                numerator,
                denominator,
            } => {
                lim(*numerator)?;
                lim(*denominator)?;
                if denominator.raw() == 0 {
                    return Err(DomainError::Invalid {
                        field: "denominator",
                        value: format!("{numerator}/{denominator}"),
                        reason: "denominator is zero",
                    });
                }
                Ok(())
            }
        }
    }

    /// Whether this value may be recorded for an indicator of `data_type`.
    pub fn fits(&self, data_type: DataType) -> bool {
        matches!(
            (self, data_type),
            (
                Value::Percent(_) | Value::Fraction { .. } | Value::PercentReduction(_),
                DataType::Percentage | DataType::NumeratorDenominator
            ) | (Value::Money { .. }, DataType::Money(_))
                | (Value::Count(_), DataType::Count)
                | (Value::Days(_), DataType::Days)
                | (Value::Ratio(_), DataType::Ratio)
        )
    }

    /// The number that is compared (RAG, direction of travel): money in £,
    /// fractions as an exact percentage, everything else as is.
    pub fn comparable(&self) -> Option<Fixed> {
        match self {
            Value::Percent(v)
            | Value::Count(v)
            | Value::Days(v)
            | Value::Ratio(v)
            | Value::PercentReduction(v) => Some(*v),
            Value::Money { amount, unit } => rounding::mul_div(*amount, unit.pounds(), 1),
            Value::Fraction {
                numerator,
                denominator,
            } => rounding::percent_exact(*numerator, *denominator),
        }
    }

    /// The value as printed: fractions as a percentage to one decimal place.
    pub fn display_value(&self) -> Option<Fixed> {
        match self {
            Value::Fraction {
                numerator,
                denominator,
            } => rounding::percent_1dp(*numerator, *denominator),
            other => other.comparable(),
        }
    }
}

/// How a numeric target is compared. Never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Comparator {
    /// A plain figure (`90%`, `6 days`, `0`): met when at least as good as it, by polarity.
    Plain,
    /// `<£1m`: strictly less.
    LessThan,
    /// `>85%`: strictly greater.
    GreaterThan,
    /// `≤` / "at or below".
    AtMost,
    /// `≥` / "at or above".
    AtLeast,
}

/// A target, in every printed form. Never reorder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Target {
    /// A number with a comparator (`90%`, `<£1m`, `>85%`, `0`, `6 days`);
    /// `note` carries a label or trailing words (`(Spring 2016)`, `above average`).
    Numeric {
        /// Comparator.
        comparator: Comparator,
        /// Target value.
        value: Value,
        /// Printed qualifier, if any.
        note: Option<Text>,
    },
    /// `Monitor`: reported, never RAG-rated.
    Monitor,
    /// `TBC`.
    Tbc,
    /// `Increase` (direction only).
    Increase,
    /// `Decrease` (direction only).
    Decrease,
    /// `Remain at or above 85%`.
    RemainAtOrAbove(Value),
    /// `Remain at or below ...`.
    RemainAtOrBelow(Value),
    /// `20% reduction` (percent).
    Reduction(Fixed),
    /// `New for 2020/21`.
    NewFor(FinancialYear),
    /// `N/A`.
    NotApplicable,
}

impl Target {
    /// The value inside the target, if any.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Target::Numeric { value, .. }
            | Target::RemainAtOrAbove(value)
            | Target::RemainAtOrBelow(value) => Some(value),
            _ => None,
        }
    }
}

/// A result for a period, in every printed form. Never reorder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ResultValue {
    /// A measured value; `source_rag` is a rating printed by the source
    /// (`82% (A)`), carried as given; `label` is the result's own period label
    /// (`Spring 2016`, `Dec 2015`, `Rolling 12 months to September 2019`).
    Measured {
        /// The value.
        value: Value,
        /// RAG printed by the source, if any.
        source_rag: Option<Rag>,
        /// The result's own period label, if any.
        label: Option<Text>,
    },
    /// `Due Q3 19/20`: not yet due.
    NotYetDue {
        /// The period it is due, when printed.
        due: Option<Period>,
    },
    /// `Not available`, `Q not included in Autumn 2015`, `Not Applicable`.
    NotAvailable {
        /// The printed reason.
        note: Text,
    },
    /// `New (2016/17)` / `New for 2016/17`: no result yet, new indicator.
    New {
        /// The year it is new for, when printed.
        year: Option<FinancialYear>,
    },
}

impl ResultValue {
    /// The measured value, if any.
    pub fn value(&self) -> Option<&Value> {
        match self {
            ResultValue::Measured { value, .. } => Some(value),
            _ => None,
        }
    }
}

/// A benchmark printed beside a result (`London 41% (Autumn 2014, RPS)`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Benchmark {
    /// Comparator group (`London`, `National`).
    pub group: Text,
    /// The benchmark value.
    pub value: Value,
    /// Source (`RPS`, `LGA Survey`).
    pub source: Option<Text>,
    /// Date or period label as printed (`Autumn 2014`).
    pub as_of: Option<Text>,
}

/// Intervention level (Level 1: none requested; Level 2...; 1–5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InterventionLevel(pub u8);

impl InterventionLevel {
    /// A validated level 1–5.
    pub fn new(level: u8) -> Result<Self, DomainError> {
        if (1..=5).contains(&level) {
            Ok(InterventionLevel(level))
        } else {
            Err(DomainError::OutOfRange {
                field: "intervention level",
                value: i64::from(level),
                min: 1,
                max: 5,
            })
        }
    }
}

/// The definition of an indicator (identity and how it is measured).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorSpec {
    /// Reference (`CG/S24`, `CPI 5001`), if it has one.
    pub reference: Option<Text>,
    /// Title.
    pub title: Text,
    /// Unit / service area.
    pub unit: Text,
    /// Lead officer (job title).
    pub lead_officer: Option<Text>,
    /// Plan type.
    pub indicator_type: IndicatorType,
    /// Polarity.
    pub polarity: Polarity,
    /// Frequency.
    pub frequency: Frequency,
    /// Data type.
    pub data_type: DataType,
    /// Direction-of-travel comparison basis.
    pub comparison: ComparisonBasis,
    /// Linked theme.
    pub theme: Option<Text>,
    /// Linked objective / committee priority.
    pub objective: Option<Text>,
    /// Committee reported to.
    pub committee: Option<Text>,
}

impl IndicatorSpec {
    /// The natural key: the reference, or the title when there is none.
    pub fn natural_key(&self) -> &str {
        match &self.reference {
            Some(r) if !r.is_blank() => r.as_str(),
            _ => self.title.as_str(),
        }
    }

    /// Validate required fields.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.title.is_blank() {
            return Err(DomainError::Invalid {
                field: "title",
                value: self.title.to_string(),
                reason: "must not be blank",
            });
        }
        if self.unit.is_blank() {
            return Err(DomainError::Invalid {
                field: "unit",
                value: self.unit.to_string(),
                reason: "must not be blank",
            });
        }
        Ok(())
    }
}
