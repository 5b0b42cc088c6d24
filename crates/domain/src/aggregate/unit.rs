//! The organisation aggregate: units, committees, themes, objectives.

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::error::DomainError;
use crate::event::EventBody;
use crate::ids::EntityKind;
use crate::organisation::{OrgKind, OrgSpec};

use super::{non_blank, wrong, Context};

/// State of an organisation entry (unit, committee, theme, objective).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitState {
    /// Definition.
    pub spec: Option<OrgSpec>,
}

impl UnitState {
    /// Decide the events for a command.
    pub fn handle(&self, cmd: &Command, _ctx: &Context) -> Result<Vec<EventBody>, DomainError> {
        let (spec, committee) = match cmd {
            Command::DefineUnit { spec } => (spec, false),
            Command::DefineCommittee { spec } => (spec, true),
            other => return Err(wrong(other, EntityKind::Unit)),
        };
        if (spec.kind == OrgKind::Committee) != committee {
            return Err(DomainError::Invalid {
                field: "organisation kind",
                value: spec.kind.token().to_string(),
                reason:
                    "committees are defined with DefineCommittee, everything else with DefineUnit",
            });
        }
        non_blank("name", &spec.name)?;
        if self.spec.is_some() {
            return Err(DomainError::DuplicateDefinition {
                kind: EntityKind::Unit.token(),
                key: spec.name.to_string(),
            });
        }
        Ok(vec![if committee {
            EventBody::CommitteeDefined { spec: spec.clone() }
        } else {
            EventBody::UnitDefined { spec: spec.clone() }
        }])
    }

    /// Evolve the state by one event.
    pub fn apply(&mut self, event: &EventBody) {
        if let EventBody::UnitDefined { spec } | EventBody::CommitteeDefined { spec } = event {
            self.spec = Some(spec.clone());
        }
    }
}
