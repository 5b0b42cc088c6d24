//! Aggregates, cqrs-es style: one state struct per entity kind with
//! `handle(&self, cmd, &Context) -> Result<Vec<EventBody>, DomainError>` and
//! `apply(&mut self, &EventBody)`, plus a kind-generic dispatch
//! ([`AggregateState`], [`new_state`], [`apply`], [`handle`]) so the ledger can
//! load any entity, decide, and append.
//!
//! `apply` is total and deterministic: applying the same events from scratch
//! always gives identical state; events of another kind are ignored.
//!
//! One file per entity kind: `indicator.rs`, `action.rs`, `risk.rs`,
//! `finance.rs` (revenue and capital lines), `saving.rs`, `scheme.rs`,
//! `calendar.rs`, `unit.rs`, `seal.rs`; this module holds the [`Context`],
//! the checks every command passes and the dispatch.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::command::{Command, CommandEnvelope};
use crate::error::DomainError;
use crate::event::{Envelope, EventBody};
use crate::ids::EntityKind;
use crate::period::Period;
use crate::text::Text;
use crate::time::Timestamp;

mod action;
mod calendar;
mod finance;
mod indicator;
mod risk;
mod saving;
mod scheme;
mod seal;
mod unit;

pub use action::ActionState;
pub use calendar::CalendarState;
pub use finance::{CapitalForecast, CapitalLineState, RevenueLineState};
pub use indicator::{restated_entry, IndicatorState};
pub use risk::RiskState;
pub use saving::SavingState;
pub use scheme::SchemeState;
pub use seal::SealState;
pub use unit::UnitState;

/// What the ledger gives a decision besides the entity's state: the tenant
/// calendar's closed periods (from the calendar aggregate) and the time the
/// command is recorded at (the domain has no clock).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    /// Closed periods; a period inside a closed one is closed too.
    pub closed_periods: BTreeSet<Period>,
    /// The recorded time of the command being decided: the ledger's clock,
    /// or the claimed time of a backdated (migrated) record. The ledger
    /// always sets it; `None` (tests of other rules) skips the rules that
    /// need it.
    pub now: Option<Timestamp>,
}

impl Context {
    /// Context from the calendar state.
    pub fn from_calendar(calendar: &CalendarState) -> Self {
        Context {
            closed_periods: calendar.closed.clone(),
            now: None,
        }
    }

    /// The same context, deciding as of `now`.
    pub fn at(mut self, now: Timestamp) -> Self {
        self.now = Some(now);
        self
    }

    /// A result is a fact about a period that has ended: refused while the
    /// period is still running (or has not begun) at [`Context::now`].
    pub fn check_period_ended(&self, period: Period) -> Result<(), DomainError> {
        let Some(now) = self.now else {
            return Ok(());
        };
        let ended_at = period
            .end_date()
            .and_then(|d| crate::time::Date::from_days_since_epoch(d.days_since_epoch() + 1))
            .map(|d| d.start());
        match ended_at {
            Some(end) if now < end => Err(DomainError::Invalid {
                field: "period",
                value: period.to_string(),
                reason: "the period has not ended at this recorded time: a result is recorded once its period is over",
            }),
            _ => Ok(()),
        }
    }

    /// True when `period` lies within a closed period.
    pub fn is_closed(&self, period: Period) -> bool {
        crate::command::period_is_closed(&self.closed_periods, period)
    }
}

pub(super) fn require_reason(command: &'static str, reason: &Text) -> Result<(), DomainError> {
    if reason.is_blank() {
        Err(DomainError::MissingReason { command })
    } else {
        Ok(())
    }
}

pub(super) fn unknown(kind: EntityKind, key: &Text) -> DomainError {
    DomainError::UnknownEntity {
        kind: kind.token(),
        key: key.to_string(),
    }
}

pub(super) fn wrong(cmd: &Command, kind: EntityKind) -> DomainError {
    DomainError::WrongEntityKind {
        command: cmd.name(),
        kind: kind.token(),
    }
}

pub(super) fn non_blank(field: &'static str, t: &Text) -> Result<(), DomainError> {
    if t.is_blank() {
        Err(DomainError::Invalid {
            field,
            value: t.to_string(),
            reason: "must not be blank",
        })
    } else {
        Ok(())
    }
}

/// The state of any entity, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AggregateState {
    /// Indicator.
    Indicator(IndicatorState),
    /// Key action.
    Action(ActionState),
    /// Risk.
    Risk(RiskState),
    /// Revenue line.
    RevenueLine(RevenueLineState),
    /// Capital line.
    CapitalLine(CapitalLineState),
    /// Saving.
    Saving(SavingState),
    /// Tolerance scheme.
    Scheme(SchemeState),
    /// Calendar.
    Calendar(CalendarState),
    /// Organisation entry.
    Unit(UnitState),
    /// Seals.
    Seal(SealState),
}

/// The empty state of an entity of `kind` (before any event).
pub fn new_state(kind: EntityKind) -> AggregateState {
    match kind {
        EntityKind::Indicator => AggregateState::Indicator(IndicatorState::default()),
        EntityKind::Action => AggregateState::Action(ActionState::default()),
        EntityKind::Risk => AggregateState::Risk(RiskState::default()),
        EntityKind::RevenueLine => AggregateState::RevenueLine(RevenueLineState::default()),
        EntityKind::CapitalLine => AggregateState::CapitalLine(CapitalLineState::default()),
        EntityKind::Saving => AggregateState::Saving(SavingState::default()),
        EntityKind::Scheme => AggregateState::Scheme(SchemeState::default()),
        EntityKind::Calendar => AggregateState::Calendar(CalendarState::default()),
        EntityKind::Unit => AggregateState::Unit(UnitState::default()),
        EntityKind::Seal => AggregateState::Seal(SealState::default()),
    }
}

impl AggregateState {
    /// The kind of entity this state belongs to.
    pub fn kind(&self) -> EntityKind {
        match self {
            AggregateState::Indicator(_) => EntityKind::Indicator,
            AggregateState::Action(_) => EntityKind::Action,
            AggregateState::Risk(_) => EntityKind::Risk,
            AggregateState::RevenueLine(_) => EntityKind::RevenueLine,
            AggregateState::CapitalLine(_) => EntityKind::CapitalLine,
            AggregateState::Saving(_) => EntityKind::Saving,
            AggregateState::Scheme(_) => EntityKind::Scheme,
            AggregateState::Calendar(_) => EntityKind::Calendar,
            AggregateState::Unit(_) => EntityKind::Unit,
            AggregateState::Seal(_) => EntityKind::Seal,
        }
    }

    /// Evolve by one event body.
    pub fn apply_body(&mut self, body: &EventBody) {
        match self {
            AggregateState::Indicator(s) => s.apply(body),
            AggregateState::Action(s) => s.apply(body),
            AggregateState::Risk(s) => s.apply(body),
            AggregateState::RevenueLine(s) => s.apply(body),
            AggregateState::CapitalLine(s) => s.apply(body),
            AggregateState::Saving(s) => s.apply(body),
            AggregateState::Scheme(s) => s.apply(body),
            AggregateState::Calendar(s) => s.apply(body),
            AggregateState::Unit(s) => s.apply(body),
            AggregateState::Seal(s) => s.apply(body),
        }
    }

    fn handle_command(&self, cmd: &Command, ctx: &Context) -> Result<Vec<EventBody>, DomainError> {
        match self {
            AggregateState::Indicator(s) => s.handle(cmd, ctx),
            AggregateState::Action(s) => s.handle(cmd, ctx),
            AggregateState::Risk(s) => s.handle(cmd, ctx),
            AggregateState::RevenueLine(s) => s.handle(cmd, ctx),
            AggregateState::CapitalLine(s) => s.handle(cmd, ctx),
            AggregateState::Saving(s) => s.handle(cmd, ctx),
            AggregateState::Scheme(s) => s.handle(cmd, ctx),
            AggregateState::Calendar(s) => s.handle(cmd, ctx),
            AggregateState::Unit(s) => s.handle(cmd, ctx),
            AggregateState::Seal(s) => s.handle(cmd, ctx),
        }
    }
}

/// Evolve a state by one envelope (events for another entity kind are ignored).
pub fn apply(state: &mut AggregateState, envelope: &Envelope) {
    if envelope.entity.kind == state.kind() {
        state.apply_body(&envelope.body);
    }
}

/// Decide the events a command produces against the current state.
///
/// Checks, in order: the command targets this state's kind; a change to a
/// closed period is refused unless wrapped in
/// [`Command::PostCloseRestatement`] (which needs a reason, a period, and a
/// closed one); then the aggregate's own rules.
pub fn handle(
    state: &AggregateState,
    envelope: &CommandEnvelope,
    ctx: &Context,
) -> Result<Vec<EventBody>, DomainError> {
    let cmd = &envelope.command;
    let kind = cmd.natural_key().0;
    if kind != state.kind() {
        return Err(wrong(cmd, state.kind()));
    }
    if let Command::PostCloseRestatement { reason, command } = cmd {
        require_reason("PostCloseRestatement", reason)?;
        if matches!(**command, Command::PostCloseRestatement { .. }) {
            return Err(DomainError::Invalid {
                field: "command",
                value: "PostCloseRestatement".to_string(),
                reason: "post-close restatements cannot be nested",
            });
        }
        let Some(period) = command.period() else {
            return Err(DomainError::Invalid {
                field: "command",
                value: command.name().to_string(),
                reason: "only a command for a period can be a post-close restatement",
            });
        };
        if !ctx.is_closed(period) {
            return Err(DomainError::Invalid {
                field: "period",
                value: period.to_string(),
                reason: "period is not closed; no post-close restatement needed",
            });
        }
        let mut events = vec![EventBody::PostCloseRestatement {
            period,
            reason: reason.clone(),
        }];
        events.extend(state.handle_command(command, ctx)?);
        return Ok(events);
    }
    if let Some(period) = cmd.closed_period(&ctx.closed_periods) {
        return Err(DomainError::PeriodClosed {
            period: period.to_string(),
        });
    }
    state.handle_command(cmd, ctx)
}
