//! The tenant calendar aggregate: closed periods.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::error::DomainError;
use crate::event::EventBody;
use crate::ids::EntityKind;
use crate::period::Period;

use super::{wrong, Context};

/// State of the tenant calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarState {
    /// Closed periods.
    pub closed: BTreeSet<Period>,
}

impl CalendarState {
    /// Decide the events for a command.
    pub fn handle(&self, cmd: &Command, ctx: &Context) -> Result<Vec<EventBody>, DomainError> {
        match cmd {
            Command::ClosePeriod { period } => {
                if self.closed.contains(period) || ctx.closed_periods.contains(period) {
                    return Err(DomainError::AlreadyRecorded {
                        field: "period close",
                        period: period.to_string(),
                    });
                }
                Ok(vec![EventBody::PeriodClosed { period: *period }])
            }
            other => Err(wrong(other, EntityKind::Calendar)),
        }
    }

    /// Evolve the state by one event.
    pub fn apply(&mut self, event: &EventBody) {
        if let EventBody::PeriodClosed { period } = event {
            self.closed.insert(*period);
        }
    }
}
