//! The risk aggregate: registration, assessment per period, closure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::error::DomainError;
use crate::event::EventBody;
use crate::ids::EntityKind;
use crate::period::Period;
use crate::risk::{Assessment, RiskSpec};
use crate::text::Text;

use super::{non_blank, require_reason, unknown, wrong, Context};

/// State of a risk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskState {
    /// Definition.
    pub spec: Option<RiskSpec>,
    /// Latest (current, target) assessment per period.
    pub assessments: BTreeMap<Period, (Assessment, Option<Assessment>)>,
    /// Closed.
    pub closed: bool,
}

impl RiskState {
    /// Decide the events for a command.
    pub fn handle(&self, cmd: &Command, _ctx: &Context) -> Result<Vec<EventBody>, DomainError> {
        Ok(match cmd {
            Command::RegisterRisk { spec } => {
                if self.spec.is_some() {
                    return Err(DomainError::DuplicateDefinition {
                        kind: EntityKind::Risk.token(),
                        key: spec.risk_id.to_string(),
                    });
                }
                non_blank("risk id", &spec.risk_id)?;
                non_blank("unit", &spec.unit)?;
                vec![EventBody::RiskRegistered { spec: spec.clone() }]
            }
            Command::AssessRisk {
                risk_id,
                period,
                current,
                target,
                comment,
            } => {
                self.live(risk_id)?;
                current.validate()?;
                if let Some(t) = target {
                    t.validate()?;
                }
                vec![EventBody::RiskAssessed {
                    period: *period,
                    current: *current,
                    target: *target,
                    comment: comment.clone(),
                }]
            }
            Command::CloseRisk { risk_id, reason } => {
                self.live(risk_id)?;
                require_reason("CloseRisk", reason)?;
                vec![EventBody::RiskClosed {
                    reason: reason.clone(),
                }]
            }
            other => return Err(wrong(other, EntityKind::Risk)),
        })
    }

    fn live(&self, key: &Text) -> Result<(), DomainError> {
        if self.spec.is_none() {
            return Err(unknown(EntityKind::Risk, key));
        }
        if self.closed {
            return Err(DomainError::Retired {
                kind: EntityKind::Risk.token(),
                key: key.to_string(),
            });
        }
        Ok(())
    }

    /// Evolve the state by one event.
    pub fn apply(&mut self, event: &EventBody) {
        match event {
            EventBody::RiskRegistered { spec } => self.spec = Some(spec.clone()),
            EventBody::RiskAssessed {
                period,
                current,
                target,
                ..
            } => {
                self.assessments.insert(*period, (*current, *target));
            }
            EventBody::RiskClosed { .. } => self.closed = true,
            _ => {}
        }
    }
}
