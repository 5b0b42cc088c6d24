//! The event catalogue and the envelope every event travels in.
//!
//! Wire rules (see `proto/`): variants and fields are encoded by position in
//! postcard, so they are **never reordered, never removed**; new variants go
//! at the end; a changed shape gets a new schema version and an upcast in
//! [`crate::codec`]. No `skip_serializing_if` anywhere.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::action::{ActionSpec, ActionStatus};
use crate::amount::Fixed;
use crate::budget::LineSpec;
use crate::command::CommandEnvelope;
use crate::error::DomainError;
use crate::ids::{EntityKind, Tenant};
use crate::indicator::{IndicatorSpec, Target};
use crate::keys;
use crate::organisation::OrgSpec;
pub use crate::payload::{CommitteeSeal, PackPin, ResultEntry, Seal, MAX_BENCHMARKS};
use crate::period::{FinancialYear, Period};
use crate::rag::ToleranceScheme;
use crate::risk::{Assessment, RiskSpec};
use crate::saving::SavingSpec;
use crate::text::Text;
use crate::time::Timestamp;

/// Current schema version of envelopes and events. Version 2 appended
/// [`Envelope::command_digest`] and [`Envelope::migrated_at`]; version 1
/// records are upcast on decode ([`crate::codec::decode_commit`]).
pub const SCHEMA_VERSION: u16 = 2;

/// Which entity an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityRef {
    /// Kind.
    pub kind: EntityKind,
    /// Deterministic id ([`crate::ids::entity_id`]).
    pub id: Uuid,
}

/// Every fact the ledger records. Never reorder variants or fields.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventBody {
    /// An indicator was defined.
    IndicatorDefined {
        /// Definition.
        spec: IndicatorSpec,
    },
    /// An indicator's definition was amended.
    IndicatorAmended {
        /// New definition (same natural key).
        spec: IndicatorSpec,
        /// Why.
        reason: Text,
    },
    /// An indicator was retired.
    IndicatorRetired {
        /// Why.
        reason: Text,
    },
    /// A target was set for a period.
    TargetSet {
        /// Period.
        period: Period,
        /// Target.
        target: Target,
    },
    /// A target was revised.
    TargetRevised {
        /// Period.
        period: Period,
        /// New target.
        target: Target,
        /// Why.
        reason: Text,
    },
    /// A result was recorded for a period.
    ResultRecorded {
        /// Period.
        period: Period,
        /// Result and what is printed beside it.
        entry: ResultEntry,
    },
    /// A result was restated (late data, correction).
    ResultRestated {
        /// Period.
        period: Period,
        /// New result.
        entry: ResultEntry,
        /// Why.
        reason: Text,
    },
    /// A key action was defined.
    ActionDefined {
        /// Definition.
        spec: ActionSpec,
    },
    /// A key action's status for a period.
    ActionStatusReported {
        /// Period.
        period: Period,
        /// Status.
        status: ActionStatus,
        /// Comment.
        comment: Option<Text>,
    },
    /// A risk was registered.
    RiskRegistered {
        /// Definition.
        spec: RiskSpec,
    },
    /// A risk was (re)assessed for a period.
    RiskAssessed {
        /// Period.
        period: Period,
        /// Current assessment.
        current: Assessment,
        /// Target assessment.
        target: Option<Assessment>,
        /// Comment.
        comment: Option<Text>,
    },
    /// A risk was closed.
    RiskClosed {
        /// Why.
        reason: Text,
    },
    /// A revenue line was defined.
    RevenueLineDefined {
        /// Definition.
        spec: LineSpec,
    },
    /// Original and revised budget set for a year (£000).
    BudgetSet {
        /// Year.
        year: FinancialYear,
        /// Original budget.
        original: Fixed,
        /// Revised budget.
        revised: Fixed,
    },
    /// Budget revised.
    BudgetRevised {
        /// Year.
        year: FinancialYear,
        /// Original budget.
        original: Fixed,
        /// Revised budget.
        revised: Fixed,
        /// Why.
        reason: Text,
    },
    /// A revenue forecast for a period (£000).
    RevenueForecastSubmitted {
        /// Period.
        period: Period,
        /// Forecast outturn.
        forecast: Fixed,
        /// Comment.
        comment: Option<Text>,
    },
    /// A capital line was defined.
    CapitalLineDefined {
        /// Definition.
        spec: LineSpec,
    },
    /// Capital approved budget for a year (£000).
    CapitalBudgetSet {
        /// Year.
        year: FinancialYear,
        /// Latest approved budget.
        approved: Fixed,
    },
    /// A capital forecast for a period (£000).
    CapitalForecastSubmitted {
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
    /// A savings proposal.
    SavingProposed {
        /// Definition.
        spec: SavingSpec,
    },
    /// Savings delivery for a period (achieved, £000, positive).
    SavingDeliveryReported {
        /// Period.
        period: Period,
        /// Achieved.
        achieved: Fixed,
        /// Comment.
        comment: Option<Text>,
    },
    /// A tolerance (RAG) scheme adopted from a financial year onwards.
    ToleranceSchemeAdopted {
        /// Name.
        name: Text,
        /// First year it applies to.
        effective_from: FinancialYear,
        /// The scheme.
        scheme: ToleranceScheme,
    },
    /// A period was closed; later changes need a post-close restatement.
    PeriodClosed {
        /// Period.
        period: Period,
    },
    /// A unit, theme or objective was defined.
    UnitDefined {
        /// Definition.
        spec: OrgSpec,
    },
    /// A committee was defined.
    CommitteeDefined {
        /// Definition.
        spec: OrgSpec,
    },
    /// A dashboard was sealed as seen by committee.
    DashboardSealed {
        /// The seal.
        seal: Seal,
    },
    /// Marks the start of an explicit post-close restatement; the events
    /// that follow in the same commit change the closed period.
    PostCloseRestatement {
        /// The closed period changed.
        period: Period,
        /// Why.
        reason: Text,
    },
    /// A dashboard was sealed as seen by committee, with the seal's id,
    /// report title and time (appended; [`EventBody::DashboardSealed`]
    /// records stay valid and read as seals without an id).
    CommitteeDashboardSealed {
        /// The seal.
        seal: CommitteeSeal,
    },
    /// A committee pack was sealed (issue #13): the committee seal (whose
    /// dashboard digest is the pack's dashboard digest) and the pinned pack
    /// (appended; dashboard-only seals stay valid and keep verifying).
    CommitteePackSealed {
        /// The seal's id, title, time, scope, period, committee, meeting
        /// date, position and dashboard digest.
        seal: CommitteeSeal,
        /// The pack it pins.
        pack: PackPin,
    },
}

impl EventBody {
    /// Every variant's name, in wire (postcard variant index) order; the
    /// tests check it against the codec's variant count and [`EventBody::name`].
    pub const NAMES: [&'static str; 29] = [
        "IndicatorDefined",
        "IndicatorAmended",
        "IndicatorRetired",
        "TargetSet",
        "TargetRevised",
        "ResultRecorded",
        "ResultRestated",
        "ActionDefined",
        "ActionStatusReported",
        "RiskRegistered",
        "RiskAssessed",
        "RiskClosed",
        "RevenueLineDefined",
        "BudgetSet",
        "BudgetRevised",
        "RevenueForecastSubmitted",
        "CapitalLineDefined",
        "CapitalBudgetSet",
        "CapitalForecastSubmitted",
        "SavingProposed",
        "SavingDeliveryReported",
        "ToleranceSchemeAdopted",
        "PeriodClosed",
        "UnitDefined",
        "CommitteeDefined",
        "DashboardSealed",
        "PostCloseRestatement",
        "CommitteeDashboardSealed",
        "CommitteePackSealed",
    ];

    /// Variant name (`ResultRecorded`).
    pub fn name(&self) -> &'static str {
        match self {
            EventBody::IndicatorDefined { .. } => "IndicatorDefined",
            EventBody::IndicatorAmended { .. } => "IndicatorAmended",
            EventBody::IndicatorRetired { .. } => "IndicatorRetired",
            EventBody::TargetSet { .. } => "TargetSet",
            EventBody::TargetRevised { .. } => "TargetRevised",
            EventBody::ResultRecorded { .. } => "ResultRecorded",
            EventBody::ResultRestated { .. } => "ResultRestated",
            EventBody::ActionDefined { .. } => "ActionDefined",
            EventBody::ActionStatusReported { .. } => "ActionStatusReported",
            EventBody::RiskRegistered { .. } => "RiskRegistered",
            EventBody::RiskAssessed { .. } => "RiskAssessed",
            EventBody::RiskClosed { .. } => "RiskClosed",
            EventBody::RevenueLineDefined { .. } => "RevenueLineDefined",
            EventBody::BudgetSet { .. } => "BudgetSet",
            EventBody::BudgetRevised { .. } => "BudgetRevised",
            EventBody::RevenueForecastSubmitted { .. } => "RevenueForecastSubmitted",
            EventBody::CapitalLineDefined { .. } => "CapitalLineDefined",
            EventBody::CapitalBudgetSet { .. } => "CapitalBudgetSet",
            EventBody::CapitalForecastSubmitted { .. } => "CapitalForecastSubmitted",
            EventBody::SavingProposed { .. } => "SavingProposed",
            EventBody::SavingDeliveryReported { .. } => "SavingDeliveryReported",
            EventBody::ToleranceSchemeAdopted { .. } => "ToleranceSchemeAdopted",
            EventBody::PeriodClosed { .. } => "PeriodClosed",
            EventBody::UnitDefined { .. } => "UnitDefined",
            EventBody::CommitteeDefined { .. } => "CommitteeDefined",
            EventBody::DashboardSealed { .. } => "DashboardSealed",
            EventBody::PostCloseRestatement { .. } => "PostCloseRestatement",
            EventBody::CommitteeDashboardSealed { .. } => "CommitteeDashboardSealed",
            EventBody::CommitteePackSealed { .. } => "CommitteePackSealed",
        }
    }

    /// The period the event is effective for, if it has one (budget events:
    /// the financial year). Every variant is listed: a new event must decide
    /// here which period it belongs to.
    pub fn period(&self) -> Option<Period> {
        match self {
            EventBody::TargetSet { period, .. }
            | EventBody::TargetRevised { period, .. }
            | EventBody::ResultRecorded { period, .. }
            | EventBody::ResultRestated { period, .. }
            | EventBody::ActionStatusReported { period, .. }
            | EventBody::RiskAssessed { period, .. }
            | EventBody::RevenueForecastSubmitted { period, .. }
            | EventBody::CapitalForecastSubmitted { period, .. }
            | EventBody::SavingDeliveryReported { period, .. }
            | EventBody::PeriodClosed { period }
            | EventBody::PostCloseRestatement { period, .. } => Some(*period),
            EventBody::DashboardSealed { seal } => Some(seal.period),
            EventBody::CommitteeDashboardSealed { seal }
            | EventBody::CommitteePackSealed { seal, .. } => Some(seal.seal.period),
            EventBody::BudgetSet { year, .. }
            | EventBody::BudgetRevised { year, .. }
            | EventBody::CapitalBudgetSet { year, .. } => Some(Period::Year(*year)),
            EventBody::ToleranceSchemeAdopted { effective_from, .. } => {
                Some(Period::Year(*effective_from))
            }
            EventBody::IndicatorDefined { .. }
            | EventBody::IndicatorAmended { .. }
            | EventBody::IndicatorRetired { .. }
            | EventBody::ActionDefined { .. }
            | EventBody::RiskRegistered { .. }
            | EventBody::RiskClosed { .. }
            | EventBody::RevenueLineDefined { .. }
            | EventBody::CapitalLineDefined { .. }
            | EventBody::SavingProposed { .. }
            | EventBody::UnitDefined { .. }
            | EventBody::CommitteeDefined { .. } => None,
        }
    }

    /// The reason carried by the event body, if any.
    pub fn reason(&self) -> Option<&Text> {
        match self {
            EventBody::IndicatorAmended { reason, .. }
            | EventBody::IndicatorRetired { reason }
            | EventBody::TargetRevised { reason, .. }
            | EventBody::ResultRestated { reason, .. }
            | EventBody::RiskClosed { reason }
            | EventBody::BudgetRevised { reason, .. }
            | EventBody::PostCloseRestatement { reason, .. } => Some(reason),
            EventBody::IndicatorDefined { .. }
            | EventBody::TargetSet { .. }
            | EventBody::ResultRecorded { .. }
            | EventBody::ActionDefined { .. }
            | EventBody::ActionStatusReported { .. }
            | EventBody::RiskRegistered { .. }
            | EventBody::RiskAssessed { .. }
            | EventBody::RevenueLineDefined { .. }
            | EventBody::BudgetSet { .. }
            | EventBody::RevenueForecastSubmitted { .. }
            | EventBody::CapitalLineDefined { .. }
            | EventBody::CapitalBudgetSet { .. }
            | EventBody::CapitalForecastSubmitted { .. }
            | EventBody::SavingProposed { .. }
            | EventBody::SavingDeliveryReported { .. }
            | EventBody::ToleranceSchemeAdopted { .. }
            | EventBody::PeriodClosed { .. }
            | EventBody::UnitDefined { .. }
            | EventBody::CommitteeDefined { .. }
            | EventBody::DashboardSealed { .. }
            | EventBody::CommitteeDashboardSealed { .. }
            | EventBody::CommitteePackSealed { .. } => None,
        }
    }

    /// THE entity kind an event belongs to. None for a post-close
    /// restatement marker: it travels in the commit of the entity it
    /// changes, whatever its kind (the envelope's kind is the entity's).
    pub fn entity_kind(&self) -> Option<EntityKind> {
        use EntityKind as K;
        Some(match self {
            EventBody::IndicatorDefined { .. }
            | EventBody::IndicatorAmended { .. }
            | EventBody::IndicatorRetired { .. }
            | EventBody::TargetSet { .. }
            | EventBody::TargetRevised { .. }
            | EventBody::ResultRecorded { .. }
            | EventBody::ResultRestated { .. } => K::Indicator,
            EventBody::ActionDefined { .. } | EventBody::ActionStatusReported { .. } => K::Action,
            EventBody::RiskRegistered { .. }
            | EventBody::RiskAssessed { .. }
            | EventBody::RiskClosed { .. } => K::Risk,
            EventBody::RevenueLineDefined { .. }
            | EventBody::BudgetSet { .. }
            | EventBody::BudgetRevised { .. }
            | EventBody::RevenueForecastSubmitted { .. } => K::RevenueLine,
            EventBody::CapitalLineDefined { .. }
            | EventBody::CapitalBudgetSet { .. }
            | EventBody::CapitalForecastSubmitted { .. } => K::CapitalLine,
            EventBody::SavingProposed { .. } | EventBody::SavingDeliveryReported { .. } => {
                K::Saving
            }
            EventBody::ToleranceSchemeAdopted { .. } => K::Scheme,
            EventBody::PeriodClosed { .. } => K::Calendar,
            EventBody::UnitDefined { .. } | EventBody::CommitteeDefined { .. } => K::Unit,
            EventBody::DashboardSealed { .. }
            | EventBody::CommitteeDashboardSealed { .. }
            | EventBody::CommitteePackSealed { .. } => K::Seal,
            EventBody::PostCloseRestatement { .. } => return None,
        })
    }

    /// The natural key of the entity, for events that carry its identity
    /// (definitions, amendments, the scheme, the calendar, seals), named as
    /// the command that made it names it ([`crate::keys`]); None for events
    /// that only change an entity named elsewhere.
    pub fn natural_key(&self) -> Option<String> {
        Some(match self {
            EventBody::IndicatorDefined { spec } | EventBody::IndicatorAmended { spec, .. } => {
                spec.natural_key().to_string()
            }
            EventBody::ActionDefined { spec } => keys::action(&spec.unit, &spec.reference),
            EventBody::RiskRegistered { spec } => spec.risk_id.to_string(),
            EventBody::RevenueLineDefined { spec } | EventBody::CapitalLineDefined { spec } => {
                keys::line(&spec.unit, &spec.name)
            }
            EventBody::SavingProposed { spec } => spec.reference.to_string(),
            EventBody::UnitDefined { spec } | EventBody::CommitteeDefined { spec } => {
                keys::org(spec.kind.token(), &spec.name)
            }
            EventBody::ToleranceSchemeAdopted { .. } => keys::SCHEME_KEY.to_string(),
            EventBody::PeriodClosed { .. } => keys::CALENDAR_KEY.to_string(),
            EventBody::DashboardSealed { seal } => {
                keys::dashboard_seal(seal.unit.as_ref(), seal.period)
            }
            EventBody::CommitteeDashboardSealed { seal }
            | EventBody::CommitteePackSealed { seal, .. } => seal.seal_id.to_string(),
            EventBody::IndicatorRetired { .. }
            | EventBody::TargetSet { .. }
            | EventBody::TargetRevised { .. }
            | EventBody::ResultRecorded { .. }
            | EventBody::ResultRestated { .. }
            | EventBody::ActionStatusReported { .. }
            | EventBody::RiskAssessed { .. }
            | EventBody::RiskClosed { .. }
            | EventBody::BudgetSet { .. }
            | EventBody::BudgetRevised { .. }
            | EventBody::RevenueForecastSubmitted { .. }
            | EventBody::CapitalBudgetSet { .. }
            | EventBody::CapitalForecastSubmitted { .. }
            | EventBody::SavingDeliveryReported { .. }
            | EventBody::PostCloseRestatement { .. } => return None,
        })
    }
}

/// The envelope of one event. Never reorder fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Event id (uuid v7, generated by the ledger and passed in).
    pub event_id: Uuid,
    /// The entity the event belongs to.
    pub entity: EntityRef,
    /// Tenant (council).
    pub tenant: Tenant,
    /// Recorded time (same instant as the log record's `recorded_at`).
    pub recorded_at: Timestamp,
    /// Effective period, if the event has one.
    pub effective: Option<Period>,
    /// Who (user or service principal).
    pub actor: Text,
    /// Source service (`import`, `web`, `gateway`...).
    pub source: Text,
    /// Why (required for revisions, restatements, retirements).
    pub reason: Option<Text>,
    /// Correlation id (a whole import or user action).
    pub correlation_id: Uuid,
    /// The event or command that caused this one, if any.
    pub causation_id: Option<Uuid>,
    /// The command that produced this event.
    pub command_id: Uuid,
    /// Schema version of this envelope and body ([`SCHEMA_VERSION`]).
    pub schema_version: u16,
    /// The event.
    pub body: EventBody,
    /// SHA-256 of the command's canonical encoding
    /// ([`crate::codec::command_digest`]), so that a re-sent command id can
    /// be compared with the command that was applied. `None` on records
    /// written before schema version 2.
    pub command_digest: Option<[u8; 32]>,
    /// When the ledger actually appended a command that was given a
    /// historical `recorded_at` (a backdated import or migration): the
    /// ledger clock at the append, while `recorded_at` keeps the claimed
    /// time. `None` for live writes and for records before schema version 2.
    pub migrated_at: Option<Timestamp>,
}

/// Wrap the event bodies a command produced into envelopes, as every writer
/// must: one event id per body (uuid v7, generated by the caller), the
/// command's entity, tenant, actor, source, reason, correlation and
/// causation, the recorded time, each body's own period, the current schema
/// version, the command's digest ([`crate::codec::command_digest`]) and
/// `migrated_at` (the append time of a command given a historical recorded
/// time; `None` for live writes). The result is one commit (see
/// [`crate::codec::encode_commit`]).
pub fn build_envelopes(
    command: &CommandEnvelope,
    bodies: Vec<EventBody>,
    event_ids: &[Uuid],
    recorded_at: Timestamp,
    migrated_at: Option<Timestamp>,
) -> Result<Vec<Envelope>, DomainError> {
    if event_ids.len() != bodies.len() {
        return Err(DomainError::Invalid {
            field: "event ids",
            value: event_ids.len().to_string(),
            reason: "one event id is needed per event",
        });
    }
    let digest = crate::codec::command_digest(command).map_err(|e| DomainError::Invalid {
        field: "command",
        value: command.command.name().to_string(),
        reason: match e {
            crate::codec::CodecError::Limit { detail, .. } => detail,
            _ => "the command cannot be encoded",
        },
    })?;
    let (kind, id) = command.command.entity(&command.tenant);
    Ok(bodies
        .into_iter()
        .zip(event_ids)
        .map(|(body, event_id)| Envelope {
            event_id: *event_id,
            entity: EntityRef { kind, id },
            tenant: command.tenant.clone(),
            recorded_at,
            effective: body.period(),
            actor: command.actor.clone(),
            source: command.source.clone(),
            reason: command.command.reason().cloned(),
            correlation_id: command.correlation_id,
            causation_id: command.causation_id,
            command_id: command.command_id,
            schema_version: SCHEMA_VERSION,
            body,
            command_digest: Some(digest),
            migrated_at,
        })
        .collect())
}
