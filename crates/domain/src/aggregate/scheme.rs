//! The tenant's tolerance-scheme aggregate: schemes by the year each takes
//! effect (never a year with a closed period).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::error::DomainError;
use crate::event::EventBody;
use crate::ids::EntityKind;
use crate::period::FinancialYear;
use crate::rag::ToleranceScheme;
use crate::text::Text;

use super::{non_blank, wrong, Context};

/// State of the tenant's tolerance schemes, by the year each takes effect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemeState {
    /// (name, scheme) adopted per effective-from year.
    pub versions: BTreeMap<FinancialYear, (Text, ToleranceScheme)>,
}

impl SchemeState {
    /// Schemes by effective year (for [`crate::rag::scheme_in_force`]).
    pub fn schemes(&self) -> BTreeMap<FinancialYear, ToleranceScheme> {
        self.versions
            .iter()
            .map(|(y, (_, s))| (*y, s.clone()))
            .collect()
    }

    /// Decide the events for a command.
    /// A scheme may not take effect in a financial year that has a closed
    /// period: that would recolour history committee has already seen.
    pub fn handle(&self, cmd: &Command, ctx: &Context) -> Result<Vec<EventBody>, DomainError> {
        match cmd {
            Command::AdoptToleranceScheme {
                name,
                effective_from,
                scheme,
            } => {
                scheme.validate()?;
                if let Some(closed) = ctx
                    .closed_periods
                    .iter()
                    .find(|p| p.financial_year() >= *effective_from)
                {
                    return Err(DomainError::PeriodClosed {
                        period: closed.to_string(),
                    });
                }
                non_blank("scheme name", name)?;
                if self.versions.contains_key(effective_from) {
                    return Err(DomainError::AlreadyRecorded {
                        field: "tolerance scheme",
                        period: effective_from.to_string(),
                    });
                }
                Ok(vec![EventBody::ToleranceSchemeAdopted {
                    name: name.clone(),
                    effective_from: *effective_from,
                    scheme: scheme.clone(),
                }])
            }
            other => Err(wrong(other, EntityKind::Scheme)),
        }
    }

    /// Evolve the state by one event.
    pub fn apply(&mut self, event: &EventBody) {
        if let EventBody::ToleranceSchemeAdopted {
            name,
            effective_from,
            scheme,
        } = event
        {
            self.versions
                .insert(*effective_from, (name.clone(), scheme.clone()));
        }
    }
}
