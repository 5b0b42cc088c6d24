//! Commands: what officers, imports and services ask the ledger to do.
//! Commands name entities by natural key (indicator reference or title,
//! action unit + reference, risk id, line unit + name, saving reference...);
//! [`Command::entity`] turns that into the entity kind and deterministic id.
//!
//! Serde: externally tagged with the variant names below
//! (`{"RecordResult": {...}}` in JSON). Never reorder variants or fields.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::action::{ActionSpec, ActionStatus};
use crate::amount::Fixed;
use crate::budget::LineSpec;
use crate::ids::{entity_id, EntityKind, Tenant};
use crate::indicator::{IndicatorSpec, Target};
use crate::keys;
use crate::organisation::OrgSpec;
use crate::payload::{CommitteeSeal, PackPin, ResultEntry, Seal};
use crate::period::{FinancialYear, Period};
use crate::rag::ToleranceScheme;
use crate::risk::{Assessment, RiskSpec};
use crate::saving::SavingSpec;
use crate::text::Text;

pub use crate::keys::{CALENDAR_KEY, COUNCIL_SCOPE, SCHEME_KEY};

/// A command. Never reorder variants or fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Command {
    /// → IndicatorDefined.
    DefineIndicator {
        /// Definition (its reference, or title, is the natural key).
        spec: IndicatorSpec,
    },
    /// → IndicatorAmended.
    AmendIndicator {
        /// Natural key of the indicator.
        indicator: Text,
        /// New definition; its natural key must equal `indicator`.
        spec: IndicatorSpec,
        /// Why.
        reason: Text,
    },
    /// → IndicatorRetired.
    RetireIndicator {
        /// Natural key.
        indicator: Text,
        /// Why.
        reason: Text,
    },
    /// → TargetSet.
    SetTarget {
        /// Natural key.
        indicator: Text,
        /// Period.
        period: Period,
        /// Target.
        target: Target,
    },
    /// → TargetRevised.
    ReviseTarget {
        /// Natural key.
        indicator: Text,
        /// Period.
        period: Period,
        /// New target.
        target: Target,
        /// Why.
        reason: Text,
    },
    /// → ResultRecorded.
    RecordResult {
        /// Natural key.
        indicator: Text,
        /// Period.
        period: Period,
        /// Result.
        entry: ResultEntry,
    },
    /// → ResultRestated.
    RestateResult {
        /// Natural key.
        indicator: Text,
        /// Period.
        period: Period,
        /// New result. Commentary, intervention and benchmarks left empty
        /// keep the restated entry's ([`crate::aggregate::restated_entry`]).
        entry: ResultEntry,
        /// Why.
        reason: Text,
    },
    /// → ActionDefined.
    DefineAction {
        /// Definition (unit + reference is the natural key).
        spec: ActionSpec,
    },
    /// → ActionStatusReported.
    ReportActionStatus {
        /// Unit.
        unit: Text,
        /// Action reference.
        reference: Text,
        /// Period.
        period: Period,
        /// Status.
        status: ActionStatus,
        /// Comment.
        comment: Option<Text>,
    },
    /// → RiskRegistered.
    RegisterRisk {
        /// Definition (risk id is the natural key).
        spec: RiskSpec,
    },
    /// → RiskAssessed.
    AssessRisk {
        /// Risk id.
        risk_id: Text,
        /// Period.
        period: Period,
        /// Current assessment.
        current: Assessment,
        /// Target assessment.
        target: Option<Assessment>,
        /// Comment.
        comment: Option<Text>,
    },
    /// → RiskClosed.
    CloseRisk {
        /// Risk id.
        risk_id: Text,
        /// Why.
        reason: Text,
    },
    /// → RevenueLineDefined.
    DefineRevenueLine {
        /// Definition (unit + name is the natural key).
        spec: LineSpec,
    },
    /// → BudgetSet.
    SetBudget {
        /// Unit.
        unit: Text,
        /// Line name.
        line: Text,
        /// Year.
        year: FinancialYear,
        /// Original budget.
        original: Fixed,
        /// Revised budget.
        revised: Fixed,
    },
    /// → BudgetRevised.
    ReviseBudget {
        /// Unit.
        unit: Text,
        /// Line name.
        line: Text,
        /// Year.
        year: FinancialYear,
        /// Original budget.
        original: Fixed,
        /// Revised budget.
        revised: Fixed,
        /// Why.
        reason: Text,
    },
    /// → RevenueForecastSubmitted.
    SubmitRevenueForecast {
        /// Unit.
        unit: Text,
        /// Line name.
        line: Text,
        /// Period.
        period: Period,
        /// Forecast.
        forecast: Fixed,
        /// Comment.
        comment: Option<Text>,
    },
    /// → CapitalLineDefined.
    DefineCapitalLine {
        /// Definition (unit + name is the natural key).
        spec: LineSpec,
    },
    /// → CapitalBudgetSet.
    SetCapitalBudget {
        /// Unit.
        unit: Text,
        /// Line name.
        line: Text,
        /// Year.
        year: FinancialYear,
        /// Approved budget.
        approved: Fixed,
    },
    /// → CapitalForecastSubmitted.
    SubmitCapitalForecast {
        /// Unit.
        unit: Text,
        /// Line name.
        line: Text,
        /// Period.
        period: Period,
        /// Additions (deletions negative).
        additions: Fixed,
        /// Slippage (negative) / accelerated (positive).
        slippage: Fixed,
        /// Forecast to year end.
        forecast: Fixed,
        /// Comment.
        comment: Option<Text>,
    },
    /// → SavingProposed.
    ProposeSaving {
        /// Definition (reference is the natural key).
        spec: SavingSpec,
    },
    /// → SavingDeliveryReported.
    ReportSavingDelivery {
        /// Saving reference.
        reference: Text,
        /// Period.
        period: Period,
        /// Achieved (£000).
        achieved: Fixed,
        /// Comment.
        comment: Option<Text>,
    },
    /// → ToleranceSchemeAdopted.
    AdoptToleranceScheme {
        /// Name.
        name: Text,
        /// First year it applies to.
        effective_from: FinancialYear,
        /// Scheme.
        scheme: ToleranceScheme,
    },
    /// → PeriodClosed.
    ClosePeriod {
        /// Period.
        period: Period,
    },
    /// → UnitDefined (units, themes, objectives).
    DefineUnit {
        /// Definition.
        spec: OrgSpec,
    },
    /// → CommitteeDefined.
    DefineCommittee {
        /// Definition.
        spec: OrgSpec,
    },
    /// → DashboardSealed.
    SealDashboard {
        /// The seal.
        seal: Seal,
    },
    /// → PostCloseRestatement followed by the inner command's events: the
    /// only way to change a closed period.
    PostCloseRestatement {
        /// Why.
        reason: Text,
        /// The change (any command with a period; not itself a restatement
        /// wrapper: nesting is refused on decode, bounding recursion).
        #[serde(deserialize_with = "deserialize_inner")]
        command: Box<Command>,
    },
    /// → CommitteeDashboardSealed: a seal with its id (the seal entity's
    /// natural key), report title and time (appended; issue #14).
    SealCommitteeDashboard {
        /// The seal.
        seal: CommitteeSeal,
    },
    /// → CommitteePackSealed: a committee seal that pins the pack
    /// (appended; issue #13).
    SealCommitteePack {
        /// The seal.
        seal: CommitteeSeal,
        /// The pinned pack.
        pack: PackPin,
    },
}

thread_local! {
    static NESTING: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
}

struct NestingGuard;

impl Drop for NestingGuard {
    fn drop(&mut self) {
        NESTING.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// Decode the command inside a post-close restatement, refusing a second
/// level of nesting so hostile input cannot recurse without bound.
fn deserialize_inner<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Box<Command>, D::Error> {
    let depth = NESTING.with(|n| {
        let v = n.get().saturating_add(1);
        n.set(v);
        v
    });
    let _guard = NestingGuard;
    if depth > 1 {
        return Err(crate::error::de_error(
            "post-close restatements cannot be nested",
        ));
    }
    Box::<Command>::deserialize(d)
}

/// Who asked, on whose behalf, and the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandEnvelope {
    /// Command id (also the log dedupe id).
    pub command_id: Uuid,
    /// Tenant.
    pub tenant: Tenant,
    /// Who.
    pub actor: Text,
    /// Source service.
    pub source: Text,
    /// Correlation id.
    pub correlation_id: Uuid,
    /// Causation id.
    pub causation_id: Option<Uuid>,
    /// The command.
    pub command: Command,
}

impl CommandEnvelope {
    /// The request subject: `{prefix}.cmd.{tenant}.{family}`.
    pub fn subject(&self, prefix: &str) -> String {
        format!("{prefix}.cmd.{}.{}", self.tenant, self.command.family())
    }
}

/// True when `period` lies within one of the `closed` periods (a period
/// inside a closed one is closed too).
pub fn period_is_closed(closed: &BTreeSet<Period>, period: Period) -> bool {
    closed.iter().any(|c| c.contains(period))
}

impl Command {
    /// Every variant's name, in wire (postcard variant index) order; the
    /// tests check it against the codec's variant count and [`Command::name`].
    pub const NAMES: [&'static str; 29] = [
        "DefineIndicator",
        "AmendIndicator",
        "RetireIndicator",
        "SetTarget",
        "ReviseTarget",
        "RecordResult",
        "RestateResult",
        "DefineAction",
        "ReportActionStatus",
        "RegisterRisk",
        "AssessRisk",
        "CloseRisk",
        "DefineRevenueLine",
        "SetBudget",
        "ReviseBudget",
        "SubmitRevenueForecast",
        "DefineCapitalLine",
        "SetCapitalBudget",
        "SubmitCapitalForecast",
        "ProposeSaving",
        "ReportSavingDelivery",
        "AdoptToleranceScheme",
        "ClosePeriod",
        "DefineUnit",
        "DefineCommittee",
        "SealDashboard",
        "PostCloseRestatement",
        "SealCommitteeDashboard",
        "SealCommitteePack",
    ];

    /// Variant name (`RecordResult`).
    pub fn name(&self) -> &'static str {
        match self {
            Command::DefineIndicator { .. } => "DefineIndicator",
            Command::AmendIndicator { .. } => "AmendIndicator",
            Command::RetireIndicator { .. } => "RetireIndicator",
            Command::SetTarget { .. } => "SetTarget",
            Command::ReviseTarget { .. } => "ReviseTarget",
            Command::RecordResult { .. } => "RecordResult",
            Command::RestateResult { .. } => "RestateResult",
            Command::DefineAction { .. } => "DefineAction",
            Command::ReportActionStatus { .. } => "ReportActionStatus",
            Command::RegisterRisk { .. } => "RegisterRisk",
            Command::AssessRisk { .. } => "AssessRisk",
            Command::CloseRisk { .. } => "CloseRisk",
            Command::DefineRevenueLine { .. } => "DefineRevenueLine",
            Command::SetBudget { .. } => "SetBudget",
            Command::ReviseBudget { .. } => "ReviseBudget",
            Command::SubmitRevenueForecast { .. } => "SubmitRevenueForecast",
            Command::DefineCapitalLine { .. } => "DefineCapitalLine",
            Command::SetCapitalBudget { .. } => "SetCapitalBudget",
            Command::SubmitCapitalForecast { .. } => "SubmitCapitalForecast",
            Command::ProposeSaving { .. } => "ProposeSaving",
            Command::ReportSavingDelivery { .. } => "ReportSavingDelivery",
            Command::AdoptToleranceScheme { .. } => "AdoptToleranceScheme",
            Command::ClosePeriod { .. } => "ClosePeriod",
            Command::DefineUnit { .. } => "DefineUnit",
            Command::DefineCommittee { .. } => "DefineCommittee",
            Command::SealDashboard { .. } => "SealDashboard",
            Command::PostCloseRestatement { .. } => "PostCloseRestatement",
            Command::SealCommitteeDashboard { .. } => "SealCommitteeDashboard",
            Command::SealCommitteePack { .. } => "SealCommitteePack",
        }
    }

    /// The entity kind and natural key the command targets ([`crate::keys`]).
    pub fn natural_key(&self) -> (EntityKind, String) {
        use EntityKind as K;
        match self {
            Command::DefineIndicator { spec } => (K::Indicator, spec.natural_key().to_string()),
            Command::AmendIndicator { indicator, .. }
            | Command::RetireIndicator { indicator, .. }
            | Command::SetTarget { indicator, .. }
            | Command::ReviseTarget { indicator, .. }
            | Command::RecordResult { indicator, .. }
            | Command::RestateResult { indicator, .. } => (K::Indicator, indicator.to_string()),
            Command::DefineAction { spec } => {
                (K::Action, keys::action(&spec.unit, &spec.reference))
            }
            Command::ReportActionStatus {
                unit, reference, ..
            } => (K::Action, keys::action(unit, reference)),
            Command::RegisterRisk { spec } => (K::Risk, spec.risk_id.to_string()),
            Command::AssessRisk { risk_id, .. } | Command::CloseRisk { risk_id, .. } => {
                (K::Risk, risk_id.to_string())
            }
            Command::DefineRevenueLine { spec } => {
                (K::RevenueLine, keys::line(&spec.unit, &spec.name))
            }
            Command::SetBudget { unit, line, .. }
            | Command::ReviseBudget { unit, line, .. }
            | Command::SubmitRevenueForecast { unit, line, .. } => {
                (K::RevenueLine, keys::line(unit, line))
            }
            Command::DefineCapitalLine { spec } => {
                (K::CapitalLine, keys::line(&spec.unit, &spec.name))
            }
            Command::SetCapitalBudget { unit, line, .. }
            | Command::SubmitCapitalForecast { unit, line, .. } => {
                (K::CapitalLine, keys::line(unit, line))
            }
            Command::ProposeSaving { spec } => (K::Saving, spec.reference.to_string()),
            Command::ReportSavingDelivery { reference, .. } => (K::Saving, reference.to_string()),
            Command::AdoptToleranceScheme { .. } => (K::Scheme, SCHEME_KEY.to_string()),
            Command::ClosePeriod { .. } => (K::Calendar, CALENDAR_KEY.to_string()),
            Command::DefineUnit { spec } | Command::DefineCommittee { spec } => {
                (K::Unit, keys::org(spec.kind.token(), &spec.name))
            }
            Command::SealDashboard { seal } => (
                K::Seal,
                keys::dashboard_seal(seal.unit.as_ref(), seal.period),
            ),
            Command::PostCloseRestatement { command, .. } => command.natural_key(),
            Command::SealCommitteeDashboard { seal } | Command::SealCommitteePack { seal, .. } => {
                (K::Seal, seal.seal_id.to_string())
            }
        }
    }

    /// Which entity the command targets: kind and deterministic id.
    pub fn entity(&self, tenant: &Tenant) -> (EntityKind, Uuid) {
        let (kind, key) = self.natural_key();
        (kind, entity_id(tenant, kind, &key))
    }

    /// The period the command changes, if any (budget commands: the year).
    /// Every variant is listed: a new command must decide here whether it
    /// changes a period, or it would skip the closed-period check.
    pub fn period(&self) -> Option<Period> {
        match self {
            Command::SetTarget { period, .. }
            | Command::ReviseTarget { period, .. }
            | Command::RecordResult { period, .. }
            | Command::RestateResult { period, .. }
            | Command::ReportActionStatus { period, .. }
            | Command::AssessRisk { period, .. }
            | Command::SubmitRevenueForecast { period, .. }
            | Command::SubmitCapitalForecast { period, .. }
            | Command::ReportSavingDelivery { period, .. } => Some(*period),
            Command::SetBudget { year, .. }
            | Command::ReviseBudget { year, .. }
            | Command::SetCapitalBudget { year, .. } => Some(Period::Year(*year)),
            Command::PostCloseRestatement { command, .. } => command.period(),
            // Definitions, closures and seals change no period's figures:
            // closing a period, adopting a scheme (the scheme aggregate
            // checks closed years itself) and sealing are not changes to it.
            Command::DefineIndicator { .. }
            | Command::AmendIndicator { .. }
            | Command::RetireIndicator { .. }
            | Command::DefineAction { .. }
            | Command::RegisterRisk { .. }
            | Command::CloseRisk { .. }
            | Command::DefineRevenueLine { .. }
            | Command::DefineCapitalLine { .. }
            | Command::ProposeSaving { .. }
            | Command::AdoptToleranceScheme { .. }
            | Command::ClosePeriod { .. }
            | Command::DefineUnit { .. }
            | Command::DefineCommittee { .. }
            | Command::SealDashboard { .. }
            | Command::SealCommitteeDashboard { .. }
            | Command::SealCommitteePack { .. } => None,
        }
    }

    /// THE closed-period rule for writers: the period this command changes
    /// when it lies within one of the `closed` periods (a period inside a
    /// closed one is closed too); such a command is refused unless wrapped
    /// by [`Command::after_close`] with a reason. None for a command already
    /// wrapped (the wrapper is the decision) and for one that changes no
    /// period.
    pub fn closed_period(&self, closed: &BTreeSet<Period>) -> Option<Period> {
        if matches!(self, Command::PostCloseRestatement { .. }) {
            return None;
        }
        self.period().filter(|p| period_is_closed(closed, *p))
    }

    /// Wrap this command as a post-close restatement carrying `reason`
    /// (what a change to a closed period must be).
    pub fn after_close(self, reason: Text) -> Command {
        Command::PostCloseRestatement {
            reason,
            command: Box::new(self),
        }
    }

    /// The reason the command carries, if any (copied into envelopes).
    pub fn reason(&self) -> Option<&Text> {
        match self {
            Command::AmendIndicator { reason, .. }
            | Command::RetireIndicator { reason, .. }
            | Command::ReviseTarget { reason, .. }
            | Command::RestateResult { reason, .. }
            | Command::CloseRisk { reason, .. }
            | Command::ReviseBudget { reason, .. }
            | Command::PostCloseRestatement { reason, .. } => Some(reason),
            Command::DefineIndicator { .. }
            | Command::SetTarget { .. }
            | Command::RecordResult { .. }
            | Command::DefineAction { .. }
            | Command::ReportActionStatus { .. }
            | Command::RegisterRisk { .. }
            | Command::AssessRisk { .. }
            | Command::DefineRevenueLine { .. }
            | Command::SetBudget { .. }
            | Command::SubmitRevenueForecast { .. }
            | Command::DefineCapitalLine { .. }
            | Command::SetCapitalBudget { .. }
            | Command::SubmitCapitalForecast { .. }
            | Command::ProposeSaving { .. }
            | Command::ReportSavingDelivery { .. }
            | Command::AdoptToleranceScheme { .. }
            | Command::ClosePeriod { .. }
            | Command::DefineUnit { .. }
            | Command::DefineCommittee { .. }
            | Command::SealDashboard { .. }
            | Command::SealCommitteeDashboard { .. }
            | Command::SealCommitteePack { .. } => None,
        }
    }

    /// Command subject family: `indicator`, `action`, `risk`, `finance`,
    /// `saving` or `admin` (subject `{prefix}.cmd.{tenant}.{family}`).
    pub fn family(&self) -> &'static str {
        match self.natural_key().0 {
            EntityKind::Indicator => "indicator",
            EntityKind::Action => "action",
            EntityKind::Risk => "risk",
            EntityKind::RevenueLine | EntityKind::CapitalLine => "finance",
            EntityKind::Saving => "saving",
            EntityKind::Scheme | EntityKind::Calendar | EntityKind::Unit | EntityKind::Seal => {
                "admin"
            }
        }
    }
}
