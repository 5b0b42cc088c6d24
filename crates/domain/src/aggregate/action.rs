//! The key-action aggregate: definition and status per period.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::action::{ActionSpec, ActionStatus};
use crate::command::Command;
use crate::error::DomainError;
use crate::event::EventBody;
use crate::ids::EntityKind;
use crate::period::Period;
use crate::text::Text;

use super::{non_blank, unknown, wrong, Context};

/// State of a key action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionState {
    /// Definition.
    pub spec: Option<ActionSpec>,
    /// Latest status per period (a re-report replaces it).
    pub statuses: BTreeMap<Period, (ActionStatus, Option<Text>)>,
}

impl ActionState {
    /// Decide the events for a command.
    pub fn handle(&self, cmd: &Command, _ctx: &Context) -> Result<Vec<EventBody>, DomainError> {
        Ok(match cmd {
            Command::DefineAction { spec } => {
                if self.spec.is_some() {
                    return Err(DomainError::DuplicateDefinition {
                        kind: EntityKind::Action.token(),
                        key: spec.reference.to_string(),
                    });
                }
                non_blank("reference", &spec.reference)?;
                non_blank("unit", &spec.unit)?;
                vec![EventBody::ActionDefined { spec: spec.clone() }]
            }
            Command::ReportActionStatus {
                reference,
                period,
                status,
                comment,
                ..
            } => {
                if self.spec.is_none() {
                    return Err(unknown(EntityKind::Action, reference));
                }
                vec![EventBody::ActionStatusReported {
                    period: *period,
                    status: *status,
                    comment: comment.clone(),
                }]
            }
            other => return Err(wrong(other, EntityKind::Action)),
        })
    }

    /// Evolve the state by one event.
    pub fn apply(&mut self, event: &EventBody) {
        match event {
            EventBody::ActionDefined { spec } => self.spec = Some(spec.clone()),
            EventBody::ActionStatusReported {
                period,
                status,
                comment,
            } => {
                self.statuses.insert(*period, (*status, comment.clone()));
            }
            _ => {}
        }
    }
}
