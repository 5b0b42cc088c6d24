//! proptest strategies for every wire type.

use perfledger_domain::action::{ActionSpec, ActionStatus};
use perfledger_domain::budget::LineSpec;
use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::event::{EntityRef, Envelope, EventBody, ResultEntry, Seal};
use perfledger_domain::ids::{EntityKind, Tenant};
use perfledger_domain::indicator::*;
use perfledger_domain::organisation::{OrgKind, OrgSpec};
use perfledger_domain::period::{FinancialYear, Period};
use perfledger_domain::rag::{Rag, ToleranceScheme};
use perfledger_domain::risk::{Assessment, Response, RiskSpec};
use perfledger_domain::saving::SavingSpec;
use perfledger_domain::text::Text;
use perfledger_domain::time::{Date, Timestamp};
use perfledger_domain::Fixed;
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use uuid::Uuid;

pub fn text() -> impl Strategy<Value = Text> {
    "[^\u{0}]{0,24}".prop_map(|s| Text::new("t", &s).unwrap())
}
pub fn otext() -> impl Strategy<Value = Option<Text>> {
    of(text())
}
pub fn fixed() -> impl Strategy<Value = Fixed> {
    any::<i64>().prop_map(Fixed::from_raw)
}
pub fn small_fixed() -> impl Strategy<Value = Fixed> {
    (-10_000_000_000i64..10_000_000_000).prop_map(Fixed::from_raw)
}
pub fn fy() -> impl Strategy<Value = FinancialYear> {
    (1900i32..=9998).prop_map(FinancialYear)
}
pub fn period() -> impl Strategy<Value = Period> {
    prop_oneof![
        fy().prop_map(Period::Year),
        (fy(), 1u8..=2).prop_map(|(y, h)| Period::Half(y, h)),
        (fy(), 1u8..=4).prop_map(|(y, q)| Period::Quarter(y, q)),
        (1900i32..=9998, 1u8..=12).prop_map(|(y, m)| Period::Month(y, m)),
    ]
}
pub fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}
pub fn tenant() -> impl Strategy<Value = Tenant> {
    "[a-z0-9_-]{1,32}".prop_map(|s| Tenant::new(&s).unwrap())
}
pub fn date() -> impl Strategy<Value = Date> {
    (1900i32..=9999, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
}
pub fn money_unit() -> impl Strategy<Value = MoneyUnit> {
    prop_oneof![
        Just(MoneyUnit::Pounds),
        Just(MoneyUnit::Thousands),
        Just(MoneyUnit::Millions)
    ]
}
pub fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        fixed().prop_map(Value::Percent),
        (fixed(), money_unit()).prop_map(|(amount, unit)| Value::Money { amount, unit }),
        fixed().prop_map(Value::Count),
        fixed().prop_map(Value::Days),
        fixed().prop_map(Value::Ratio),
        (fixed(), fixed()).prop_map(|(numerator, denominator)| Value::Fraction {
            numerator,
            denominator
        }),
        fixed().prop_map(Value::PercentReduction),
    ]
}
pub fn rag() -> impl Strategy<Value = Rag> {
    prop_oneof![
        Just(Rag::Green),
        Just(Rag::GreenAmber),
        Just(Rag::Amber),
        Just(Rag::RedAmber),
        Just(Rag::Red)
    ]
}
pub fn comparator() -> impl Strategy<Value = Comparator> {
    prop_oneof![
        Just(Comparator::Plain),
        Just(Comparator::LessThan),
        Just(Comparator::GreaterThan),
        Just(Comparator::AtMost),
        Just(Comparator::AtLeast)
    ]
}
pub fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        (comparator(), value(), otext()).prop_map(|(comparator, value, note)| Target::Numeric {
            comparator,
            value,
            note
        }),
        Just(Target::Monitor),
        Just(Target::Tbc),
        Just(Target::Increase),
        Just(Target::Decrease),
        value().prop_map(Target::RemainAtOrAbove),
        value().prop_map(Target::RemainAtOrBelow),
        fixed().prop_map(Target::Reduction),
        fy().prop_map(Target::NewFor),
        Just(Target::NotApplicable),
    ]
}
pub fn result_value() -> impl Strategy<Value = ResultValue> {
    prop_oneof![
        (value(), of(rag()), otext()).prop_map(|(value, source_rag, label)| {
            ResultValue::Measured {
                value,
                source_rag,
                label,
            }
        }),
        of(period()).prop_map(|due| ResultValue::NotYetDue { due }),
        text().prop_map(|note| ResultValue::NotAvailable { note }),
        of(fy()).prop_map(|year| ResultValue::New { year }),
    ]
}
pub fn benchmark() -> impl Strategy<Value = Benchmark> {
    (text(), value(), otext(), otext()).prop_map(|(group, value, source, as_of)| Benchmark {
        group,
        value,
        source,
        as_of,
    })
}
pub fn entry() -> impl Strategy<Value = ResultEntry> {
    (
        result_value(),
        otext(),
        of((1u8..=5).prop_map(InterventionLevel)),
        vec(benchmark(), 0..3),
    )
        .prop_map(
            |(result, commentary, intervention, benchmarks)| ResultEntry {
                result,
                commentary,
                intervention,
                benchmarks,
            },
        )
}
pub fn indicator_spec() -> impl Strategy<Value = IndicatorSpec> {
    let ty = prop_oneof![
        Just(IndicatorType::Cpi),
        Just(IndicatorType::Spi),
        Just(IndicatorType::Mpi),
        Just(IndicatorType::Kpi),
        Just(IndicatorType::Outcome)
    ];
    let pol = prop_oneof![
        Just(Polarity::BiggerIsBetter),
        Just(Polarity::SmallerIsBetter)
    ];
    let freq = prop_oneof![
        Just(Frequency::Quarterly),
        Just(Frequency::Rolling12Months),
        Just(Frequency::Annual),
        Just(Frequency::BiannualSurvey),
        Just(Frequency::Monthly)
    ];
    let dt = prop_oneof![
        Just(DataType::Percentage),
        money_unit().prop_map(DataType::Money),
        Just(DataType::Count),
        Just(DataType::Days),
        Just(DataType::Ratio),
        Just(DataType::NumeratorDenominator)
    ];
    let basis = prop_oneof![
        Just(ComparisonBasis::Sequential),
        Just(ComparisonBasis::SamePeriodLastYear)
    ];
    (
        (otext(), text(), text(), otext()),
        (ty, pol, freq, dt, basis),
        (otext(), otext(), otext()),
    )
        .prop_map(
            |(
                (reference, title, unit, lead_officer),
                (indicator_type, polarity, frequency, data_type, comparison),
                (theme, objective, committee),
            )| {
                IndicatorSpec {
                    reference,
                    title,
                    unit,
                    lead_officer,
                    indicator_type,
                    polarity,
                    frequency,
                    data_type,
                    comparison,
                    theme,
                    objective,
                    committee,
                }
            },
        )
}
pub fn action_status() -> impl Strategy<Value = ActionStatus> {
    prop::sample::select(ActionStatus::ALL.to_vec())
}
pub fn action_spec() -> impl Strategy<Value = ActionSpec> {
    (text(), text(), text(), otext(), otext()).prop_map(
        |(reference, unit, description, due, lead_officer)| ActionSpec {
            reference,
            unit,
            description,
            due,
            lead_officer,
        },
    )
}
pub fn assessment() -> impl Strategy<Value = Assessment> {
    (any::<u8>(), any::<u8>()).prop_map(|(impact, probability)| Assessment {
        impact,
        probability,
    })
}
pub fn risk_spec() -> impl Strategy<Value = RiskSpec> {
    let resp = of(prop_oneof![
        Just(Response::Treat),
        Just(Response::Tolerate),
        Just(Response::Transfer),
        Just(Response::Terminate)
    ]);
    (
        (text(), text(), text(), text()),
        (otext(), otext(), otext(), resp, otext()),
    )
        .prop_map(
            |(
                (risk_id, unit, title, description),
                (owner, category, controls, response, assurance),
            )| RiskSpec {
                risk_id,
                unit,
                title,
                description,
                owner,
                category,
                controls,
                response,
                assurance,
            },
        )
}
pub fn line_spec() -> impl Strategy<Value = LineSpec> {
    (text(), text(), otext()).prop_map(|(unit, name, description)| LineSpec {
        unit,
        name,
        description,
    })
}
pub fn saving_spec() -> impl Strategy<Value = SavingSpec> {
    (text(), text(), text(), vec((fy(), fixed()), 0..4)).prop_map(
        |(reference, unit, description, amounts)| SavingSpec {
            reference,
            unit,
            description,
            amounts,
        },
    )
}
pub fn scheme() -> impl Strategy<Value = ToleranceScheme> {
    prop_oneof![
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| ToleranceScheme::FourLevel {
            green_amber_max_bp: a,
            red_amber_max_bp: b
        }),
        any::<u32>().prop_map(|red_from_bp| ToleranceScheme::ThreeLevel { red_from_bp }),
        any::<u32>().prop_map(|green_max_bp| ToleranceScheme::DirectionDependent { green_max_bp }),
    ]
}
pub fn org_spec() -> impl Strategy<Value = OrgSpec> {
    let k = prop_oneof![
        Just(OrgKind::Unit),
        Just(OrgKind::Committee),
        Just(OrgKind::Theme),
        Just(OrgKind::Objective)
    ];
    (k, text(), otext(), otext()).prop_map(|(kind, name, parent, lead)| OrgSpec {
        kind,
        name,
        parent,
        lead,
    })
}
pub fn seal() -> impl Strategy<Value = Seal> {
    (
        otext(),
        period(),
        text(),
        date(),
        any::<u64>(),
        any::<[u8; 32]>(),
    )
        .prop_map(
            |(unit, period, committee, meeting_date, seq, digest)| Seal {
                unit,
                period,
                committee,
                meeting_date,
                seq,
                digest,
            },
        )
}

pub fn event_body() -> impl Strategy<Value = EventBody> {
    prop_oneof![
        indicator_spec().prop_map(|spec| EventBody::IndicatorDefined { spec }),
        (indicator_spec(), text())
            .prop_map(|(spec, reason)| EventBody::IndicatorAmended { spec, reason }),
        text().prop_map(|reason| EventBody::IndicatorRetired { reason }),
        (period(), target()).prop_map(|(period, target)| EventBody::TargetSet { period, target }),
        (period(), target(), text()).prop_map(|(period, target, reason)| {
            EventBody::TargetRevised {
                period,
                target,
                reason,
            }
        }),
        (period(), entry()).prop_map(|(period, entry)| EventBody::ResultRecorded { period, entry }),
        (period(), entry(), text()).prop_map(|(period, entry, reason)| EventBody::ResultRestated {
            period,
            entry,
            reason
        }),
        action_spec().prop_map(|spec| EventBody::ActionDefined { spec }),
        (period(), action_status(), otext()).prop_map(|(period, status, comment)| {
            EventBody::ActionStatusReported {
                period,
                status,
                comment,
            }
        }),
        risk_spec().prop_map(|spec| EventBody::RiskRegistered { spec }),
        (period(), assessment(), of(assessment()), otext()).prop_map(
            |(period, current, target, comment)| EventBody::RiskAssessed {
                period,
                current,
                target,
                comment
            }
        ),
        text().prop_map(|reason| EventBody::RiskClosed { reason }),
        line_spec().prop_map(|spec| EventBody::RevenueLineDefined { spec }),
        (fy(), fixed(), fixed()).prop_map(|(year, original, revised)| EventBody::BudgetSet {
            year,
            original,
            revised
        }),
        (fy(), fixed(), fixed(), text()).prop_map(|(year, original, revised, reason)| {
            EventBody::BudgetRevised {
                year,
                original,
                revised,
                reason,
            }
        }),
        (period(), fixed(), otext()).prop_map(|(period, forecast, comment)| {
            EventBody::RevenueForecastSubmitted {
                period,
                forecast,
                comment,
            }
        }),
        line_spec().prop_map(|spec| EventBody::CapitalLineDefined { spec }),
        (fy(), fixed()).prop_map(|(year, approved)| EventBody::CapitalBudgetSet { year, approved }),
        (period(), fixed(), fixed(), fixed(), otext()).prop_map(
            |(period, additions, slippage, forecast, comment)| {
                EventBody::CapitalForecastSubmitted {
                    period,
                    additions,
                    slippage,
                    forecast,
                    comment,
                }
            }
        ),
        saving_spec().prop_map(|spec| EventBody::SavingProposed { spec }),
        (period(), fixed(), otext()).prop_map(|(period, achieved, comment)| {
            EventBody::SavingDeliveryReported {
                period,
                achieved,
                comment,
            }
        }),
        (text(), fy(), scheme()).prop_map(|(name, effective_from, scheme)| {
            EventBody::ToleranceSchemeAdopted {
                name,
                effective_from,
                scheme,
            }
        }),
        period().prop_map(|period| EventBody::PeriodClosed { period }),
        org_spec().prop_map(|spec| EventBody::UnitDefined { spec }),
        org_spec().prop_map(|spec| EventBody::CommitteeDefined { spec }),
        seal().prop_map(|seal| EventBody::DashboardSealed { seal }),
        (period(), text())
            .prop_map(|(period, reason)| EventBody::PostCloseRestatement { period, reason }),
    ]
}

pub fn entity_kind() -> impl Strategy<Value = EntityKind> {
    prop::sample::select(EntityKind::ALL.to_vec())
}

/// A valid commit: 1..4 envelopes for one entity, one command, one instant.
pub fn commit() -> impl Strategy<Value = Vec<Envelope>> {
    (
        (
            entity_kind(),
            uuid(),
            tenant(),
            any::<i64>(),
            text(),
            text(),
        ),
        (uuid(), of(uuid()), uuid(), 1u16..=2),
        (of(any::<[u8; 32]>()), of(any::<i64>())),
        vec((uuid(), of(period()), otext(), event_body()), 1..4),
    )
        .prop_map(
            |(
                (kind, id, tenant, at, actor, source),
                (correlation_id, causation_id, command_id, schema_version),
                (command_digest, migrated_at),
                events,
            )| {
                events
                    .into_iter()
                    .map(|(event_id, effective, reason, body)| Envelope {
                        event_id,
                        entity: EntityRef { kind, id },
                        tenant: tenant.clone(),
                        recorded_at: Timestamp(at),
                        effective,
                        actor: actor.clone(),
                        source: source.clone(),
                        reason,
                        correlation_id,
                        causation_id,
                        command_id,
                        schema_version,
                        body,
                        command_digest,
                        migrated_at: migrated_at.map(Timestamp),
                    })
                    .collect()
            },
        )
}

pub fn command_leaf() -> impl Strategy<Value = Command> {
    prop_oneof![
        indicator_spec().prop_map(|spec| Command::DefineIndicator { spec }),
        (text(), indicator_spec(), text()).prop_map(|(indicator, spec, reason)| {
            Command::AmendIndicator {
                indicator,
                spec,
                reason,
            }
        }),
        (text(), text())
            .prop_map(|(indicator, reason)| Command::RetireIndicator { indicator, reason }),
        (text(), period(), target()).prop_map(|(indicator, period, target)| Command::SetTarget {
            indicator,
            period,
            target
        }),
        (text(), period(), target(), text()).prop_map(|(indicator, period, target, reason)| {
            Command::ReviseTarget {
                indicator,
                period,
                target,
                reason,
            }
        }),
        (text(), period(), entry()).prop_map(|(indicator, period, entry)| Command::RecordResult {
            indicator,
            period,
            entry
        }),
        (text(), period(), entry(), text()).prop_map(|(indicator, period, entry, reason)| {
            Command::RestateResult {
                indicator,
                period,
                entry,
                reason,
            }
        }),
        action_spec().prop_map(|spec| Command::DefineAction { spec }),
        (text(), text(), period(), action_status(), otext()).prop_map(
            |(unit, reference, period, status, comment)| Command::ReportActionStatus {
                unit,
                reference,
                period,
                status,
                comment
            }
        ),
        risk_spec().prop_map(|spec| Command::RegisterRisk { spec }),
        (text(), period(), assessment(), of(assessment()), otext()).prop_map(
            |(risk_id, period, current, target, comment)| Command::AssessRisk {
                risk_id,
                period,
                current,
                target,
                comment
            }
        ),
        (text(), text()).prop_map(|(risk_id, reason)| Command::CloseRisk { risk_id, reason }),
        line_spec().prop_map(|spec| Command::DefineRevenueLine { spec }),
        (text(), text(), fy(), fixed(), fixed()).prop_map(
            |(unit, line, year, original, revised)| Command::SetBudget {
                unit,
                line,
                year,
                original,
                revised
            }
        ),
        (text(), text(), fy(), fixed(), fixed(), text()).prop_map(
            |(unit, line, year, original, revised, reason)| Command::ReviseBudget {
                unit,
                line,
                year,
                original,
                revised,
                reason
            }
        ),
        (text(), text(), period(), fixed(), otext()).prop_map(
            |(unit, line, period, forecast, comment)| Command::SubmitRevenueForecast {
                unit,
                line,
                period,
                forecast,
                comment
            }
        ),
        line_spec().prop_map(|spec| Command::DefineCapitalLine { spec }),
        (text(), text(), fy(), fixed()).prop_map(|(unit, line, year, approved)| {
            Command::SetCapitalBudget {
                unit,
                line,
                year,
                approved,
            }
        }),
        (
            (text(), text(), period()),
            (fixed(), fixed(), fixed(), otext())
        )
            .prop_map(
                |((unit, line, period), (additions, slippage, forecast, comment))| {
                    Command::SubmitCapitalForecast {
                        unit,
                        line,
                        period,
                        additions,
                        slippage,
                        forecast,
                        comment,
                    }
                }
            ),
        saving_spec().prop_map(|spec| Command::ProposeSaving { spec }),
        (text(), period(), fixed(), otext()).prop_map(|(reference, period, achieved, comment)| {
            Command::ReportSavingDelivery {
                reference,
                period,
                achieved,
                comment,
            }
        }),
        (text(), fy(), scheme()).prop_map(|(name, effective_from, scheme)| {
            Command::AdoptToleranceScheme {
                name,
                effective_from,
                scheme,
            }
        }),
        period().prop_map(|period| Command::ClosePeriod { period }),
        org_spec().prop_map(|spec| Command::DefineUnit { spec }),
        org_spec().prop_map(|spec| Command::DefineCommittee { spec }),
        seal().prop_map(|seal| Command::SealDashboard { seal }),
    ]
}

pub fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        4 => command_leaf(),
        1 => (text(), command_leaf()).prop_map(|(reason, c)| Command::PostCloseRestatement { reason, command: Box::new(c) }),
    ]
}

pub fn command_envelope() -> impl Strategy<Value = CommandEnvelope> {
    (
        uuid(),
        tenant(),
        text(),
        text(),
        uuid(),
        of(uuid()),
        command(),
    )
        .prop_map(
            |(command_id, tenant, actor, source, correlation_id, causation_id, command)| {
                CommandEnvelope {
                    command_id,
                    tenant,
                    actor,
                    source,
                    correlation_id,
                    causation_id,
                    command,
                }
            },
        )
}
