//! Whether a target or result fits its indicator's data type, with the
//! refusal worded for the user (`result £7.3m is an amount of money, but the
//! indicator is reported as a percentage`).
//!
//! Invariant: [`crate::indicator::Value::fits`] is the rule; this module
//! only applies it and words the refusal through [`crate::printed`]. It sits
//! above both so that the indicator model never depends on how figures are
//! printed (no `indicator` ↔ `printed` cycle). The aggregates and the import
//! call it.

use crate::error::DomainError;
use crate::indicator::{DataType, ResultValue, Target};
use crate::printed;

/// A target fits an indicator of `data_type`: its value is valid and of
/// that type, and a `20% reduction` only targets a percentage.
pub fn target_fits(target: &Target, data_type: DataType) -> Result<(), DomainError> {
    if let Some(v) = target.value() {
        v.validate()?;
        if !v.fits(data_type) {
            return Err(DomainError::WrongValueType {
                field: "target",
                value: printed::value(v),
                given: v.words(),
                expected: data_type.words(),
            });
        }
    }
    if let Target::Reduction(_) = target {
        if !matches!(
            data_type,
            DataType::Percentage | DataType::NumeratorDenominator
        ) {
            return Err(DomainError::WrongValueType {
                field: "target",
                value: printed::target(target),
                given: "a reduction",
                expected: data_type.words(),
            });
        }
    }
    Ok(())
}

/// A result fits an indicator of `data_type`: a measured value is valid and
/// of that type (markers such as `New (2016/17)` always fit).
pub fn result_fits(result: &ResultValue, data_type: DataType) -> Result<(), DomainError> {
    if let Some(v) = result.value() {
        v.validate()?;
        if !v.fits(data_type) {
            return Err(DomainError::WrongValueType {
                field: "result",
                value: printed::value(v),
                given: v.words(),
                expected: data_type.words(),
            });
        }
    }
    Ok(())
}
