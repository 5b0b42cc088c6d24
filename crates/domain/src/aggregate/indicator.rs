//! The indicator aggregate: definition, amendment and retirement, targets
//! per period, results and their restatements.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::error::DomainError;
use crate::event::{EventBody, ResultEntry, MAX_BENCHMARKS};
use crate::ids::{normalise_key, EntityKind};
use crate::indicator::{IndicatorSpec, Target};
use crate::period::Period;
use crate::text::Text;

use super::{require_reason, unknown, wrong, Context};

fn validate_entry(entry: &ResultEntry, spec: &IndicatorSpec) -> Result<(), DomainError> {
    crate::fit::result_fits(&entry.result, spec.data_type)?;
    if entry.benchmarks.len() > MAX_BENCHMARKS {
        return Err(DomainError::TooLong {
            field: "benchmarks",
            len: entry.benchmarks.len(),
            max: MAX_BENCHMARKS,
        });
    }
    for b in &entry.benchmarks {
        b.value.validate()?;
    }
    Ok(())
}

/// State of an indicator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorState {
    /// Current definition (None until defined).
    pub spec: Option<IndicatorSpec>,
    /// Retired.
    pub retired: bool,
    /// Latest target per period.
    pub targets: BTreeMap<Period, Target>,
    /// Latest result per period.
    pub results: BTreeMap<Period, ResultEntry>,
    /// Number of restatements per period.
    pub restatements: BTreeMap<Period, u32>,
}

impl IndicatorState {
    fn live(&self, key: &Text) -> Result<&IndicatorSpec, DomainError> {
        let spec = self
            .spec
            .as_ref()
            .ok_or_else(|| unknown(EntityKind::Indicator, key))?;
        if self.retired {
            return Err(DomainError::Retired {
                kind: EntityKind::Indicator.token(),
                key: key.to_string(),
            });
        }
        Ok(spec)
    }

    /// Decide the events for a command.
    pub fn handle(&self, cmd: &Command, ctx: &Context) -> Result<Vec<EventBody>, DomainError> {
        Ok(match cmd {
            Command::DefineIndicator { spec } => {
                if self.spec.is_some() {
                    return Err(DomainError::DuplicateDefinition {
                        kind: EntityKind::Indicator.token(),
                        key: spec.natural_key().to_string(),
                    });
                }
                spec.validate()?;
                vec![EventBody::IndicatorDefined { spec: spec.clone() }]
            }
            Command::AmendIndicator {
                indicator,
                spec,
                reason,
            } => {
                self.live(indicator)?;
                require_reason("AmendIndicator", reason)?;
                spec.validate()?;
                if normalise_key(spec.natural_key()) != normalise_key(indicator.as_str()) {
                    return Err(DomainError::Invalid {
                        field: "reference",
                        value: spec.natural_key().to_string(),
                        reason: "an amendment cannot change the indicator's natural key",
                    });
                }
                vec![EventBody::IndicatorAmended {
                    spec: spec.clone(),
                    reason: reason.clone(),
                }]
            }
            Command::RetireIndicator { indicator, reason } => {
                self.live(indicator)?;
                require_reason("RetireIndicator", reason)?;
                vec![EventBody::IndicatorRetired {
                    reason: reason.clone(),
                }]
            }
            Command::SetTarget {
                indicator,
                period,
                target,
            } => self.set_target(indicator, *period, target)?,
            Command::ReviseTarget {
                indicator,
                period,
                target,
                reason,
            } => self.revise_target(indicator, *period, target, reason)?,
            Command::RecordResult {
                indicator,
                period,
                entry,
            } => self.record_result(indicator, *period, entry, ctx)?,
            Command::RestateResult {
                indicator,
                period,
                entry,
                reason,
            } => self.restate_result(indicator, *period, entry, reason, ctx)?,
            other => return Err(wrong(other, EntityKind::Indicator)),
        })
    }

    fn set_target(
        &self,
        indicator: &Text,
        period: Period,
        target: &Target,
    ) -> Result<Vec<EventBody>, DomainError> {
        let spec = self.live(indicator)?;
        check_target_period(period, spec)?;
        crate::fit::target_fits(target, spec.data_type)?;
        if self.targets.contains_key(&period) {
            return Err(DomainError::AlreadyRecorded {
                field: "target",
                period: period.to_string(),
            });
        }
        Ok(vec![EventBody::TargetSet {
            period,
            target: target.clone(),
        }])
    }

    fn revise_target(
        &self,
        indicator: &Text,
        period: Period,
        target: &Target,
        reason: &Text,
    ) -> Result<Vec<EventBody>, DomainError> {
        let spec = self.live(indicator)?;
        require_reason("ReviseTarget", reason)?;
        crate::fit::target_fits(target, spec.data_type)?;
        if !self.targets.contains_key(&period) {
            return Err(DomainError::NothingToRestate {
                field: "target",
                period: period.to_string(),
            });
        }
        Ok(vec![EventBody::TargetRevised {
            period,
            target: target.clone(),
            reason: reason.clone(),
        }])
    }

    fn record_result(
        &self,
        indicator: &Text,
        period: Period,
        entry: &ResultEntry,
        ctx: &Context,
    ) -> Result<Vec<EventBody>, DomainError> {
        let spec = self.live(indicator)?;
        ctx.check_period_ended(period)?;
        if !period.fits(spec.frequency) {
            return Err(DomainError::PeriodDoesNotFitFrequency {
                period: period.to_string(),
                frequency: spec.frequency.name(),
            });
        }
        validate_entry(entry, spec)?;
        if self.results.contains_key(&period) {
            return Err(DomainError::AlreadyRecorded {
                field: "result",
                period: period.to_string(),
            });
        }
        Ok(vec![EventBody::ResultRecorded {
            period,
            entry: entry.clone(),
        }])
    }

    fn restate_result(
        &self,
        indicator: &Text,
        period: Period,
        entry: &ResultEntry,
        reason: &Text,
        ctx: &Context,
    ) -> Result<Vec<EventBody>, DomainError> {
        let spec = self.live(indicator)?;
        require_reason("RestateResult", reason)?;
        ctx.check_period_ended(period)?;
        validate_entry(entry, spec)?;
        let Some(previous) = self.results.get(&period) else {
            return Err(DomainError::NothingToRestate {
                field: "result",
                period: period.to_string(),
            });
        };
        Ok(vec![EventBody::ResultRestated {
            period,
            entry: restated_entry(previous, entry),
            reason: reason.clone(),
        }])
    }

    /// Evolve the state by one event.
    pub fn apply(&mut self, event: &EventBody) {
        match event {
            EventBody::IndicatorDefined { spec } | EventBody::IndicatorAmended { spec, .. } => {
                self.spec = Some(spec.clone());
            }
            EventBody::IndicatorRetired { .. } => self.retired = true,
            EventBody::TargetSet { period, target }
            | EventBody::TargetRevised { period, target, .. } => {
                self.targets.insert(*period, target.clone());
            }
            EventBody::ResultRecorded { period, entry } => {
                self.results.insert(*period, entry.clone());
            }
            EventBody::ResultRestated { period, entry, .. } => {
                self.results.insert(*period, entry.clone());
                let n = self.restatements.entry(*period).or_insert(0);
                *n = n.saturating_add(1);
            }
            _ => {}
        }
    }
}

/// The entry a restatement records: the new result, and each other part
/// (commentary, intervention level, benchmarks) the command gives, else the
/// one it restates. A restatement keeps what it does not change, and the
/// event carries the whole resulting entry (so it stands on its own).
pub fn restated_entry(previous: &ResultEntry, given: &ResultEntry) -> ResultEntry {
    ResultEntry {
        result: given.result.clone(),
        commentary: given
            .commentary
            .clone()
            .or_else(|| previous.commentary.clone()),
        intervention: given.intervention.or(previous.intervention),
        benchmarks: if given.benchmarks.is_empty() {
            previous.benchmarks.clone()
        } else {
            given.benchmarks.clone()
        },
    }
}

/// Targets may be set for the whole financial year or for any period the
/// indicator reports at.
fn check_target_period(period: Period, spec: &IndicatorSpec) -> Result<(), DomainError> {
    if matches!(period, Period::Year(_)) || period.fits(spec.frequency) {
        Ok(())
    } else {
        Err(DomainError::PeriodDoesNotFitFrequency {
            period: period.to_string(),
            frequency: spec.frequency.name(),
        })
    }
}
