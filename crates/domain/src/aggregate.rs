//! Aggregates, cqrs-es style: one state struct per entity kind with
//! `handle(&self, cmd, &Context) -> Result<Vec<EventBody>, DomainError>` and
//! `apply(&mut self, &EventBody)`, plus a kind-generic dispatch
//! ([`AggregateState`], [`new_state`], [`apply`], [`handle`]) so the ledger can
//! load any entity, decide, and append.
//!
//! `apply` is total and deterministic: applying the same events from scratch
//! always gives identical state; events of another kind are ignored.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::action::{ActionSpec, ActionStatus};
use crate::amount::Fixed;
use crate::budget::LineSpec;
use crate::command::{Command, CommandEnvelope};
use crate::error::DomainError;
use crate::event::{Envelope, EventBody, ResultEntry, Seal, MAX_BENCHMARKS};
use crate::ids::{normalise_key, EntityKind};
use crate::indicator::{IndicatorSpec, Target};
use crate::organisation::{OrgKind, OrgSpec};
use crate::period::{FinancialYear, Period};
use crate::rag::ToleranceScheme;
use crate::risk::{Assessment, RiskSpec};
use crate::saving::{SavingSpec, MAX_SAVING_YEARS};
use crate::text::Text;
use crate::time::Timestamp;

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

fn require_reason(command: &'static str, reason: &Text) -> Result<(), DomainError> {
    if reason.is_blank() {
        Err(DomainError::MissingReason { command })
    } else {
        Ok(())
    }
}

fn unknown(kind: EntityKind, key: &Text) -> DomainError {
    DomainError::UnknownEntity {
        kind: kind.token(),
        key: key.to_string(),
    }
}

fn wrong(cmd: &Command, kind: EntityKind) -> DomainError {
    DomainError::WrongEntityKind {
        command: cmd.name(),
        kind: kind.token(),
    }
}

fn validate_entry(entry: &ResultEntry, spec: &IndicatorSpec) -> Result<(), DomainError> {
    entry.result.validate_for(spec.data_type)?;
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
            } => {
                let spec = self.live(indicator)?;
                check_target_period(*period, spec)?;
                target.validate_for(spec.data_type)?;
                if self.targets.contains_key(period) {
                    return Err(DomainError::AlreadyRecorded {
                        field: "target",
                        period: period.to_string(),
                    });
                }
                vec![EventBody::TargetSet {
                    period: *period,
                    target: target.clone(),
                }]
            }
            Command::ReviseTarget {
                indicator,
                period,
                target,
                reason,
            } => {
                let spec = self.live(indicator)?;
                require_reason("ReviseTarget", reason)?;
                target.validate_for(spec.data_type)?;
                if !self.targets.contains_key(period) {
                    return Err(DomainError::NothingToRestate {
                        field: "target",
                        period: period.to_string(),
                    });
                }
                vec![EventBody::TargetRevised {
                    period: *period,
                    target: target.clone(),
                    reason: reason.clone(),
                }]
            }
            Command::RecordResult {
                indicator,
                period,
                entry,
            } => {
                let spec = self.live(indicator)?;
                ctx.check_period_ended(*period)?;
                if !period.fits(spec.frequency) {
                    return Err(DomainError::PeriodDoesNotFitFrequency {
                        period: period.to_string(),
                        frequency: spec.frequency.name(),
                    });
                }
                validate_entry(entry, spec)?;
                if self.results.contains_key(period) {
                    return Err(DomainError::AlreadyRecorded {
                        field: "result",
                        period: period.to_string(),
                    });
                }
                vec![EventBody::ResultRecorded {
                    period: *period,
                    entry: entry.clone(),
                }]
            }
            Command::RestateResult {
                indicator,
                period,
                entry,
                reason,
            } => {
                let spec = self.live(indicator)?;
                require_reason("RestateResult", reason)?;
                ctx.check_period_ended(*period)?;
                validate_entry(entry, spec)?;
                let Some(previous) = self.results.get(period) else {
                    return Err(DomainError::NothingToRestate {
                        field: "result",
                        period: period.to_string(),
                    });
                };
                vec![EventBody::ResultRestated {
                    period: *period,
                    entry: restated_entry(previous, entry),
                    reason: reason.clone(),
                }]
            }
            other => return Err(wrong(other, EntityKind::Indicator)),
        })
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

fn non_blank(field: &'static str, t: &Text) -> Result<(), DomainError> {
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
