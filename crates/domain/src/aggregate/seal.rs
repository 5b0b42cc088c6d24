//! The seal aggregate: dashboard and committee seals of one scope and period.

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::error::DomainError;
use crate::event::{EventBody, Seal};
use crate::ids::{normalise_key, EntityKind};

use super::{non_blank, wrong, Context};

/// Seals of one scope (unit or council) and period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealState {
    /// Seals in order.
    pub seals: Vec<Seal>,
}

impl SealState {
    /// Decide the events for a command.
    pub fn handle(&self, cmd: &Command, _ctx: &Context) -> Result<Vec<EventBody>, DomainError> {
        match cmd {
            Command::SealDashboard { seal } => {
                non_blank("committee", &seal.committee)?;
                if self.seals.iter().any(|s| {
                    normalise_key(s.committee.as_str()) == normalise_key(seal.committee.as_str())
                        && s.meeting_date == seal.meeting_date
                }) {
                    return Err(DomainError::DuplicateDefinition {
                        kind: EntityKind::Seal.token(),
                        key: format!("{} {}", seal.committee, seal.meeting_date),
                    });
                }
                Ok(vec![EventBody::DashboardSealed { seal: seal.clone() }])
            }
            Command::SealCommitteeDashboard { seal } | Command::SealCommitteePack { seal, .. } => {
                non_blank("seal id", &seal.seal_id)?;
                non_blank("committee", &seal.seal.committee)?;
                if let Some(start) = seal.seal.period.start_date() {
                    if seal.seal.meeting_date < start {
                        return Err(DomainError::Invalid {
                            field: "meeting date",
                            value: seal.seal.meeting_date.to_string(),
                            reason: "is before the sealed period began",
                        });
                    }
                }
                // The entity is the seal id: a second seal under it is a
                // duplicate, never a replacement.
                if !self.seals.is_empty() {
                    return Err(DomainError::DuplicateDefinition {
                        kind: EntityKind::Seal.token(),
                        key: seal.seal_id.to_string(),
                    });
                }
                match cmd {
                    Command::SealCommitteePack { pack, .. } => {
                        // The bytes open with their format byte; whether they
                        // hash and re-derive is `verify`'s question.
                        if pack.bytes.first() != Some(&pack.format) {
                            return Err(DomainError::Invalid {
                                field: "pack",
                                value: format!("{} bytes", pack.bytes.len()),
                                reason: "does not open with its format byte",
                            });
                        }
                        Ok(vec![EventBody::CommitteePackSealed {
                            seal: seal.clone(),
                            pack: pack.clone(),
                        }])
                    }
                    _ => Ok(vec![EventBody::CommitteeDashboardSealed {
                        seal: seal.clone(),
                    }]),
                }
            }
            other => Err(wrong(other, EntityKind::Seal)),
        }
    }

    /// Evolve the state by one event.
    pub fn apply(&mut self, event: &EventBody) {
        match event {
            EventBody::DashboardSealed { seal } => self.seals.push(seal.clone()),
            EventBody::CommitteeDashboardSealed { seal }
            | EventBody::CommitteePackSealed { seal, .. } => self.seals.push(seal.seal.clone()),
            _ => {}
        }
    }
}
