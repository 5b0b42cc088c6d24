//! The savings aggregate: a proposal and its delivery per period.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::amount::Fixed;
use crate::command::Command;
use crate::error::DomainError;
use crate::event::EventBody;
use crate::ids::EntityKind;
use crate::period::Period;
use crate::saving::{SavingSpec, MAX_SAVING_YEARS};

use super::{non_blank, unknown, wrong, Context};

/// State of a savings proposal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavingState {
    /// Definition.
    pub spec: Option<SavingSpec>,
    /// Latest achieved amount per period.
    pub delivery: BTreeMap<Period, Fixed>,
}

impl SavingState {
    /// Decide the events for a command.
    pub fn handle(&self, cmd: &Command, _ctx: &Context) -> Result<Vec<EventBody>, DomainError> {
        Ok(match cmd {
            Command::ProposeSaving { spec } => {
                if self.spec.is_some() {
                    return Err(DomainError::DuplicateDefinition {
                        kind: EntityKind::Saving.token(),
                        key: spec.reference.to_string(),
                    });
                }
                non_blank("reference", &spec.reference)?;
                if spec.amounts.len() > MAX_SAVING_YEARS {
                    return Err(DomainError::TooLong {
                        field: "saving amounts",
                        len: spec.amounts.len(),
                        max: MAX_SAVING_YEARS,
                    });
                }
                if spec.amounts.windows(2).any(|w| w[0].0 >= w[1].0) {
                    return Err(DomainError::Invalid {
                        field: "saving amounts",
                        value: format!("{:?}", spec.amounts),
                        reason: "years must be unique and ascending",
                    });
                }
                vec![EventBody::SavingProposed { spec: spec.clone() }]
            }
            Command::ReportSavingDelivery {
                reference,
                period,
                achieved,
                comment,
            } => {
                if self.spec.is_none() {
                    return Err(unknown(EntityKind::Saving, reference));
                }
                vec![EventBody::SavingDeliveryReported {
                    period: *period,
                    achieved: *achieved,
                    comment: comment.clone(),
                }]
            }
            other => return Err(wrong(other, EntityKind::Saving)),
        })
    }

    /// Evolve the state by one event.
    pub fn apply(&mut self, event: &EventBody) {
        match event {
            EventBody::SavingProposed { spec } => self.spec = Some(spec.clone()),
            EventBody::SavingDeliveryReported {
                period, achieved, ..
            } => {
                self.delivery.insert(*period, *achieved);
            }
            _ => {}
        }
    }
}
