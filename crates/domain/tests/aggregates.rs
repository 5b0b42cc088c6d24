//! Command handling rules, errors and replay determinism.

mod common;

use common::*;
use perfledger_domain::aggregate::{apply, handle, new_state, AggregateState, Context};
use perfledger_domain::command::Command;
use perfledger_domain::event::{EventBody, ResultEntry};
use perfledger_domain::ids::EntityKind;
use perfledger_domain::indicator::{DataType, Frequency, ResultValue, Value};
use perfledger_domain::parse::{parse_result, parse_target};
use perfledger_domain::period::Period;
use perfledger_domain::risk::{Assessment, RiskSpec};
use perfledger_domain::{CommandEnvelope, DomainError, Fixed};

fn q(s: &str) -> Period {
    Period::parse(s).unwrap()
}

fn entry(s: &str) -> ResultEntry {
    ResultEntry {
        result: parse_result(s).unwrap(),
        commentary: None,
        intervention: None,
        benchmarks: vec![],
    }
}

/// Handle and apply, as the ledger does.
fn run(
    state: &mut AggregateState,
    ctx: &Context,
    c: Command,
) -> Result<Vec<EventBody>, DomainError> {
    let ce = cmd(c);
    let bodies = handle(state, &ce, ctx)?;
    for e in envelopes(&ce, bodies.clone(), 1_473_120_000_000) {
        apply(state, &e);
    }
    Ok(bodies)
}

fn defined_indicator() -> AggregateState {
    let mut s = new_state(EntityKind::Indicator);
    run(
        &mut s,
        &Context::default(),
        Command::DefineIndicator {
            spec: spec("CG/S24", Frequency::Quarterly, DataType::Percentage),
        },
    )
    .unwrap();
    s
}

#[test]
fn indicator_lifecycle_and_errors() {
    let ctx = Context::default();
    let mut s = defined_indicator();
    // duplicate definition
    let e = run(
        &mut s,
        &ctx,
        Command::DefineIndicator {
            spec: spec("CG/S24", Frequency::Quarterly, DataType::Percentage),
        },
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::DuplicateDefinition { .. }));
    // target + result
    run(
        &mut s,
        &ctx,
        Command::SetTarget {
            indicator: t("cg/s24"),
            period: q("2016/17 Q1"),
            target: parse_target("80%").unwrap(),
        },
    )
    .unwrap();
    run(
        &mut s,
        &ctx,
        Command::SetTarget {
            indicator: t("CG/S24"),
            period: q("2016/17"),
            target: parse_target("80%").unwrap(),
        },
    )
    .unwrap();
    run(
        &mut s,
        &ctx,
        Command::RecordResult {
            indicator: t("CG/S24"),
            period: q("2016/17 Q1"),
            entry: entry("77%"),
        },
    )
    .unwrap();
    // second result for the period
    let e = run(
        &mut s,
        &ctx,
        Command::RecordResult {
            indicator: t("CG/S24"),
            period: q("2016/17 Q1"),
            entry: entry("78%"),
        },
    )
    .unwrap_err();
    assert_eq!(
        e,
        DomainError::AlreadyRecorded {
            field: "result",
            period: "2016/17 Q1".into()
        }
    );
    // restatement needs a reason
    let e = run(
        &mut s,
        &ctx,
        Command::RestateResult {
            indicator: t("CG/S24"),
            period: q("2016/17 Q1"),
            entry: entry("78%"),
            reason: t("  "),
        },
    )
    .unwrap_err();
    assert_eq!(
        e,
        DomainError::MissingReason {
            command: "RestateResult"
        }
    );
    run(
        &mut s,
        &ctx,
        Command::RestateResult {
            indicator: t("CG/S24"),
            period: q("2016/17 Q1"),
            entry: entry("78%"),
            reason: t("late survey data"),
        },
    )
    .unwrap();
    // period that does not fit
    let e = run(
        &mut s,
        &ctx,
        Command::RecordResult {
            indicator: t("CG/S24"),
            period: q("Dec 2015"),
            entry: entry("78%"),
        },
    )
    .unwrap_err();
    assert!(
        matches!(e, DomainError::PeriodDoesNotFitFrequency { ref period, frequency: "quarterly" } if period == "Dec 2015")
    );
    // wrong value type
    let e = run(
        &mut s,
        &ctx,
        Command::RecordResult {
            indicator: t("CG/S24"),
            period: q("2016/17 Q2"),
            entry: entry("£7.3m"),
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            DomainError::WrongValueType {
                field: "result",
                ..
            }
        ),
        "{e:?}"
    );
    // In the user's words: the printed value and both kinds, never the
    // internal types (issue #14 item 12: was `result Money { amount:
    // Fixed(7300), unit: Millions } is not of type Percentage`).
    assert_eq!(
        e.to_string(),
        "result £7.3m is an amount of money, but the indicator is reported as a percentage"
    );
    // restating a period with no result
    let e = run(
        &mut s,
        &ctx,
        Command::RestateResult {
            indicator: t("CG/S24"),
            period: q("2016/17 Q3"),
            entry: entry("1%"),
            reason: t("x"),
        },
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::NothingToRestate { .. }));
    let AggregateState::Indicator(ind) = &s else {
        panic!()
    };
    assert_eq!(
        ind.results[&q("2016/17 Q1")].result.value(),
        Some(&Value::Percent(Fixed::parse_decimal("78").unwrap()))
    );
    assert_eq!(ind.restatements[&q("2016/17 Q1")], 1);
    // not-yet-due results are fine for any data type
    run(
        &mut s,
        &ctx,
        Command::RecordResult {
            indicator: t("CG/S24"),
            period: q("2016/17 Q2"),
            entry: entry("Due Q3 16/17"),
        },
    )
    .unwrap();
    // retire, then nothing more
    run(
        &mut s,
        &ctx,
        Command::RetireIndicator {
            indicator: t("CG/S24"),
            reason: t("replaced"),
        },
    )
    .unwrap();
    let e = run(
        &mut s,
        &ctx,
        Command::RecordResult {
            indicator: t("CG/S24"),
            period: q("2016/17 Q3"),
            entry: entry("1%"),
        },
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::Retired { .. }));
}

#[test]
fn unknown_entity_and_wrong_kind() {
    let ctx = Context::default();
    let s = new_state(EntityKind::Indicator);
    let e = handle(
        &s,
        &cmd(Command::RecordResult {
            indicator: t("CG/X1"),
            period: q("2016/17 Q1"),
            entry: entry("1%"),
        }),
        &ctx,
    )
    .unwrap_err();
    assert_eq!(
        e,
        DomainError::UnknownEntity {
            kind: "indicator",
            key: "CG/X1".into()
        }
    );
    let e = handle(
        &s,
        &cmd(Command::ClosePeriod {
            period: q("2016/17 Q1"),
        }),
        &ctx,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        DomainError::WrongEntityKind {
            command: "ClosePeriod",
            kind: "indicator"
        }
    ));
}

/// Issue #14 item 7: a result for a period that has not ended at the
/// recorded time (the ledger's `now`) is refused; one rule, in `Context`.
#[test]
fn results_for_periods_not_yet_ended_are_refused() {
    use perfledger_domain::Timestamp;
    let at = |t: &str| Context::default().at(Timestamp::parse(t).unwrap());
    let mut s = defined_indicator();
    let record = |p: &str| Command::RecordResult {
        indicator: t("CG/S24"),
        period: q(p),
        entry: entry("80%"),
    };
    let e = run(&mut s, &at("2026-11-30T03:00:00Z"), record("2030/31 Q1")).unwrap_err();
    assert!(
        matches!(e, DomainError::Invalid { field: "period", ref value, .. } if value == "2030/31 Q1"),
        "{e:?}"
    );
    // The quarter running now, and the last instant of a quarter: refused.
    assert!(run(&mut s, &at("2026-11-30T03:00:00Z"), record("2026/27 Q3")).is_err());
    assert!(run(
        &mut s,
        &at("2026-09-30T23:59:59.999Z"),
        record("2026/27 Q2")
    )
    .is_err());
    // Once it is over: recorded.
    run(&mut s, &at("2026-10-01T00:00:00Z"), record("2026/27 Q2")).unwrap();
    // A restatement is judged the same way (its claimed time, when migrated).
    let restate = Command::RestateResult {
        indicator: t("CG/S24"),
        period: q("2026/27 Q2"),
        entry: entry("81%"),
        reason: t("late returns"),
    };
    assert!(run(&mut s, &at("2026-09-01T00:00:00Z"), restate.clone()).is_err());
    run(&mut s, &at("2026-10-02T00:00:00Z"), restate).unwrap();
}

/// Issue #14 item 5: a restatement keeps what it does not change.
#[test]
fn a_restatement_keeps_the_commentary_it_does_not_change() {
    use perfledger_domain::indicator::InterventionLevel;
    let ctx = Context::default();
    let mut s = defined_indicator();
    let mut first = entry("79%");
    first.commentary = Some(t("Improved call handling"));
    first.intervention = Some(InterventionLevel::new(2).unwrap());
    run(
        &mut s,
        &ctx,
        Command::RecordResult {
            indicator: t("CG/S24"),
            period: q("2016/17 Q1"),
            entry: first,
        },
    )
    .unwrap();
    let events = run(
        &mut s,
        &ctx,
        Command::RestateResult {
            indicator: t("CG/S24"),
            period: q("2016/17 Q1"),
            entry: entry("81%"),
            reason: t("late returns"),
        },
    )
    .unwrap();
    let EventBody::ResultRestated {
        entry: restated, ..
    } = &events[0]
    else {
        panic!("{events:?}")
    };
    assert_eq!(restated.result, parse_result("81%").unwrap());
    assert_eq!(
        restated.commentary.as_ref().map(|c| c.as_str()),
        Some("Improved call handling")
    );
    assert_eq!(
        restated.intervention,
        Some(InterventionLevel::new(2).unwrap())
    );
    // A restatement that gives a commentary replaces it.
    let mut second = entry("82%");
    second.commentary = Some(t("Survey re-weighted"));
    run(
        &mut s,
        &ctx,
        Command::RestateResult {
            indicator: t("CG/S24"),
            period: q("2016/17 Q1"),
            entry: second,
            reason: t("re-weighting"),
        },
    )
    .unwrap();
    let AggregateState::Indicator(ind) = &s else {
        panic!()
    };
    let now = &ind.results[&q("2016/17 Q1")];
    assert_eq!(now.result, parse_result("82%").unwrap());
    assert_eq!(
        now.commentary.as_ref().map(|c| c.as_str()),
        Some("Survey re-weighted")
    );
    assert_eq!(now.intervention, Some(InterventionLevel::new(2).unwrap()));
}

#[test]
fn closed_periods_need_post_close_restatement() {
    let mut cal = new_state(EntityKind::Calendar);
    run(
        &mut cal,
        &Context::default(),
        Command::ClosePeriod {
            period: q("2016/17 Q1"),
        },
    )
    .unwrap();
    let e = run(
        &mut cal,
        &Context::default(),
        Command::ClosePeriod {
            period: q("2016/17 Q1"),
        },
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::AlreadyRecorded { .. }));
    let AggregateState::Calendar(c) = &cal else {
        panic!()
    };
    let ctx = Context::from_calendar(c);
    assert!(ctx.is_closed(q("2016/17 Q1")));
    assert!(ctx.is_closed(q("May 2016")));
    assert!(!ctx.is_closed(q("2016/17")));

    let mut s = defined_indicator();
    let rec = Command::RecordResult {
        indicator: t("CG/S24"),
        period: q("2016/17 Q1"),
        entry: entry("77%"),
    };
    let e = run(&mut s, &ctx, rec.clone()).unwrap_err();
    assert_eq!(
        e,
        DomainError::PeriodClosed {
            period: "2016/17 Q1".into()
        }
    );
    // wrapper without reason
    let e = run(
        &mut s,
        &ctx,
        Command::PostCloseRestatement {
            reason: t(""),
            command: Box::new(rec.clone()),
        },
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::MissingReason { .. }));
    let events = run(
        &mut s,
        &ctx,
        Command::PostCloseRestatement {
            reason: t("late data after close"),
            command: Box::new(rec),
        },
    )
    .unwrap();
    assert_eq!(events.len(), 2);
    assert!(matches!(events[0], EventBody::PostCloseRestatement { .. }));
    assert!(matches!(events[1], EventBody::ResultRecorded { .. }));
    // open periods do not take the wrapper
    let e = run(
        &mut s,
        &ctx,
        Command::PostCloseRestatement {
            reason: t("x"),
            command: Box::new(Command::RecordResult {
                indicator: t("CG/S24"),
                period: q("2016/17 Q2"),
                entry: entry("1%"),
            }),
        },
    )
    .unwrap_err();
    assert!(matches!(
        e,
        DomainError::Invalid {
            field: "period",
            ..
        }
    ));
}

fn risk_spec() -> RiskSpec {
    RiskSpec {
        risk_id: t("ST0072"),
        unit: t("Commissioning Group"),
        title: t("Loss of PSN compliance"),
        description: t("Loss of Information management compliance with PSN"),
        owner: Some(t("Head of Information Management")),
        category: Some(t("Business Continuity")),
        controls: None,
        response: None,
        assurance: Some(t("Quarterly")),
    }
}

#[test]
fn risk_scores_outside_range_are_refused() {
    let ctx = Context::default();
    let mut s = new_state(EntityKind::Risk);
    run(&mut s, &ctx, Command::RegisterRisk { spec: risk_spec() }).unwrap();
    let bad = Assessment {
        impact: 6,
        probability: 2,
    };
    let e = run(
        &mut s,
        &ctx,
        Command::AssessRisk {
            risk_id: t("ST0072"),
            period: q("2013/14 Q2"),
            current: bad,
            target: None,
            comment: None,
        },
    )
    .unwrap_err();
    assert_eq!(
        e,
        DomainError::OutOfRange {
            field: "impact",
            value: 6,
            min: 1,
            max: 5
        }
    );
    let bad = Assessment {
        impact: 4,
        probability: 0,
    };
    let e = run(
        &mut s,
        &ctx,
        Command::AssessRisk {
            risk_id: t("ST0072"),
            period: q("2013/14 Q2"),
            current: bad,
            target: None,
            comment: None,
        },
    )
    .unwrap_err();
    assert_eq!(
        e,
        DomainError::OutOfRange {
            field: "probability",
            value: 0,
            min: 1,
            max: 5
        }
    );
    assert!(Assessment::new(4, 6).is_err());
    run(
        &mut s,
        &ctx,
        Command::AssessRisk {
            risk_id: t("ST0072"),
            period: q("2013/14 Q2"),
            current: Assessment::new(4, 5).unwrap(),
            target: Some(Assessment::new(4, 2).unwrap()),
            comment: None,
        },
    )
    .unwrap();
    let e = run(
        &mut s,
        &ctx,
        Command::CloseRisk {
            risk_id: t("ST0072"),
            reason: t(""),
        },
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::MissingReason { .. }));
}

fn history() -> Vec<CommandEnvelope> {
    vec![
        cmd(Command::DefineIndicator {
            spec: spec("CG/S24", Frequency::Quarterly, DataType::Percentage),
        }),
        cmd(Command::SetTarget {
            indicator: t("CG/S24"),
            period: q("2016/17 Q1"),
            target: parse_target("80%").unwrap(),
        }),
        cmd(Command::RecordResult {
            indicator: t("CG/S24"),
            period: q("2016/17 Q1"),
            entry: entry("77%"),
        }),
        cmd(Command::ReviseTarget {
            indicator: t("CG/S24"),
            period: q("2016/17 Q1"),
            target: parse_target("75%").unwrap(),
            reason: t("revised by committee"),
        }),
        cmd(Command::RestateResult {
            indicator: t("CG/S24"),
            period: q("2016/17 Q1"),
            entry: entry("79% (G)"),
            reason: t("correction"),
        }),
    ]
}

#[test]
fn replaying_the_same_events_twice_gives_identical_state() {
    let ctx = Context::default();
    let mut live = new_state(EntityKind::Indicator);
    let mut log = Vec::new();
    for ce in history() {
        let bodies = handle(&live, &ce, &ctx).unwrap();
        for e in envelopes(&ce, bodies, 10) {
            apply(&mut live, &e);
            log.push(e);
        }
    }
    let replay = || {
        let mut s = new_state(EntityKind::Indicator);
        for e in &log {
            apply(&mut s, e);
        }
        s
    };
    assert_eq!(replay(), replay());
    assert_eq!(replay(), live);
    let AggregateState::Indicator(ind) = replay() else {
        panic!()
    };
    assert!(matches!(
        ind.results[&q("2016/17 Q1")].result,
        ResultValue::Measured {
            source_rag: Some(_),
            ..
        }
    ));
}

#[test]
fn dashboard_line_from_state_uses_the_scheme_in_force() {
    use perfledger_domain::dashboard::indicator_line;
    use perfledger_domain::direction::Direction;
    use perfledger_domain::event::build_envelopes;
    use perfledger_domain::period::FinancialYear;
    use perfledger_domain::rag::{Rag, ToleranceScheme};
    use std::collections::BTreeMap;

    let ctx = Context::default();
    let mut s = defined_indicator();
    for (period, target, result) in [("2015/16 Q1", "80%", "74%"), ("2016/17 Q1", "80%", "77%")] {
        let c = cmd(Command::SetTarget {
            indicator: t("CG/S24"),
            period: q(period),
            target: parse_target(target).unwrap(),
        });
        let bodies = handle(&s, &c, &ctx).unwrap();
        let ids: Vec<uuid::Uuid> = (0..bodies.len() as u128)
            .map(uuid::Uuid::from_u128)
            .collect();
        assert!(build_envelopes(
            &c,
            bodies.clone(),
            &[],
            perfledger_domain::Timestamp(5),
            None
        )
        .is_err());
        for e in build_envelopes(&c, bodies, &ids, perfledger_domain::Timestamp(5), None).unwrap() {
            assert_eq!(e.effective, Some(q(period)));
            apply(&mut s, &e);
        }
        run(
            &mut s,
            &ctx,
            Command::RecordResult {
                indicator: t("CG/S24"),
                period: q(period),
                entry: entry(result),
            },
        )
        .unwrap();
    }
    let mut schemes = BTreeMap::new();
    schemes.insert(FinancialYear(2013), ToleranceScheme::four_level(500, 1000));
    schemes.insert(FinancialYear(2016), ToleranceScheme::three_level_10pc());
    let AggregateState::Indicator(ind) = &s else {
        panic!()
    };
    let now = indicator_line(ind, &schemes, q("2016/17 Q1")).unwrap();
    assert_eq!(now.rag, Some(Rag::Amber));
    assert_eq!(now.direction, Some(Direction::Improving));
    let then = indicator_line(ind, &schemes, q("2015/16 Q1")).unwrap();
    assert_eq!(then.rag, Some(Rag::RedAmber)); // 7.5% off under the 2013 scheme: never recoloured
    assert_eq!(then.direction, None);
    assert!(indicator_line(ind, &schemes, q("2016/17 Q2")).is_none());
    assert_eq!(
        cmd(Command::ClosePeriod {
            period: q("2016/17 Q1")
        })
        .subject("pl"),
        "pl.cmd.barnet.admin"
    );
}

#[test]
fn a_scheme_cannot_take_effect_in_a_year_with_closed_periods() {
    use perfledger_domain::period::FinancialYear;
    use perfledger_domain::rag::ToleranceScheme;
    let mut ctx = Context::default();
    ctx.closed_periods.insert(q("2016/17 Q1"));
    let s = new_state(EntityKind::Scheme);
    let adopt = |fy: i32| {
        cmd(Command::AdoptToleranceScheme {
            name: t("three level"),
            effective_from: FinancialYear(fy),
            scheme: ToleranceScheme::three_level_10pc(),
        })
    };
    assert_eq!(
        handle(&s, &adopt(2016), &ctx).unwrap_err(),
        DomainError::PeriodClosed {
            period: "2016/17 Q1".into()
        }
    );
    assert_eq!(handle(&s, &adopt(2017), &ctx).unwrap().len(), 1);
}
