//! The finance aggregates: revenue lines (budget, revisions, forecasts) and
//! capital lines (budget, forecasts with additions and slippage).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::amount::Fixed;
use crate::budget::LineSpec;
use crate::command::Command;
use crate::error::DomainError;
use crate::event::EventBody;
use crate::ids::EntityKind;
use crate::period::{FinancialYear, Period};
use crate::text::Text;

use super::{non_blank, require_reason, unknown, wrong, Context};

/// State of a revenue line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueLineState {
    /// Definition.
    pub spec: Option<LineSpec>,
    /// (original, revised) budget per year.
    pub budgets: BTreeMap<FinancialYear, (Fixed, Fixed)>,
    /// Latest forecast per period.
    pub forecasts: BTreeMap<Period, Fixed>,
}

impl RevenueLineState {
    /// Decide the events for a command.
    pub fn handle(&self, cmd: &Command, _ctx: &Context) -> Result<Vec<EventBody>, DomainError> {
        Ok(match cmd {
            Command::DefineRevenueLine { spec } => {
                if self.spec.is_some() {
                    return Err(DomainError::DuplicateDefinition {
                        kind: EntityKind::RevenueLine.token(),
                        key: spec.name.to_string(),
                    });
                }
                non_blank("line", &spec.name)?;
                non_blank("unit", &spec.unit)?;
                vec![EventBody::RevenueLineDefined { spec: spec.clone() }]
            }
            Command::SetBudget {
                line,
                year,
                original,
                revised,
                ..
            } => {
                self.defined(line)?;
                if self.budgets.contains_key(year) {
                    return Err(DomainError::AlreadyRecorded {
                        field: "budget",
                        period: year.to_string(),
                    });
                }
                vec![EventBody::BudgetSet {
                    year: *year,
                    original: *original,
                    revised: *revised,
                }]
            }
            Command::ReviseBudget {
                line,
                year,
                original,
                revised,
                reason,
                ..
            } => {
                self.defined(line)?;
                require_reason("ReviseBudget", reason)?;
                if !self.budgets.contains_key(year) {
                    return Err(DomainError::NothingToRestate {
                        field: "budget",
                        period: year.to_string(),
                    });
                }
                vec![EventBody::BudgetRevised {
                    year: *year,
                    original: *original,
                    revised: *revised,
                    reason: reason.clone(),
                }]
            }
            Command::SubmitRevenueForecast {
                line,
                period,
                forecast,
                comment,
                ..
            } => {
                self.defined(line)?;
                vec![EventBody::RevenueForecastSubmitted {
                    period: *period,
                    forecast: *forecast,
                    comment: comment.clone(),
                }]
            }
            other => return Err(wrong(other, EntityKind::RevenueLine)),
        })
    }

    fn defined(&self, line: &Text) -> Result<(), DomainError> {
        if self.spec.is_none() {
            Err(unknown(EntityKind::RevenueLine, line))
        } else {
            Ok(())
        }
    }

    /// Evolve the state by one event.
    pub fn apply(&mut self, event: &EventBody) {
        match event {
            EventBody::RevenueLineDefined { spec } => self.spec = Some(spec.clone()),
            EventBody::BudgetSet {
                year,
                original,
                revised,
            }
            | EventBody::BudgetRevised {
                year,
                original,
                revised,
                ..
            } => {
                self.budgets.insert(*year, (*original, *revised));
            }
            EventBody::RevenueForecastSubmitted {
                period, forecast, ..
            } => {
                self.forecasts.insert(*period, *forecast);
            }
            _ => {}
        }
    }
}

/// A capital forecast: (additions, slippage, forecast).
pub type CapitalForecast = (Fixed, Fixed, Fixed);

/// State of a capital line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapitalLineState {
    /// Definition.
    pub spec: Option<LineSpec>,
    /// Latest approved budget per year.
    pub approved: BTreeMap<FinancialYear, Fixed>,
    /// Latest forecast per period.
    pub forecasts: BTreeMap<Period, CapitalForecast>,
}

impl CapitalLineState {
    /// Decide the events for a command.
    pub fn handle(&self, cmd: &Command, _ctx: &Context) -> Result<Vec<EventBody>, DomainError> {
        Ok(match cmd {
            Command::DefineCapitalLine { spec } => {
                if self.spec.is_some() {
                    return Err(DomainError::DuplicateDefinition {
                        kind: EntityKind::CapitalLine.token(),
                        key: spec.name.to_string(),
                    });
                }
                non_blank("line", &spec.name)?;
                non_blank("unit", &spec.unit)?;
                vec![EventBody::CapitalLineDefined { spec: spec.clone() }]
            }
            Command::SetCapitalBudget {
                line,
                year,
                approved,
                ..
            } => {
                self.defined(line)?;
                vec![EventBody::CapitalBudgetSet {
                    year: *year,
                    approved: *approved,
                }]
            }
            Command::SubmitCapitalForecast {
                line,
                period,
                additions,
                slippage,
                forecast,
                comment,
                ..
            } => {
                self.defined(line)?;
                vec![EventBody::CapitalForecastSubmitted {
                    period: *period,
                    additions: *additions,
                    slippage: *slippage,
                    forecast: *forecast,
                    comment: comment.clone(),
                }]
            }
            other => return Err(wrong(other, EntityKind::CapitalLine)),
        })
    }

    fn defined(&self, line: &Text) -> Result<(), DomainError> {
        if self.spec.is_none() {
            Err(unknown(EntityKind::CapitalLine, line))
        } else {
            Ok(())
        }
    }

    /// Evolve the state by one event.
    pub fn apply(&mut self, event: &EventBody) {
        match event {
            EventBody::CapitalLineDefined { spec } => self.spec = Some(spec.clone()),
            EventBody::CapitalBudgetSet { year, approved } => {
                self.approved.insert(*year, *approved);
            }
            EventBody::CapitalForecastSubmitted {
                period,
                additions,
                slippage,
                forecast,
                ..
            } => {
                self.forecasts
                    .insert(*period, (*additions, *slippage, *forecast));
            }
            _ => {}
        }
    }
}
