//! Restatement scenario on seed 004 (Commissioning Group, Q1 2016/17):
//! CG/S24 "Overall satisfaction with customer services" reports 77% against
//! a target of 80% (Green Amber under the reconstructed four-level scheme
//! BARNET-4L); the unit dashboard is sealed for PCMC on 6 September 2016;
//! the result is later restated to 80% with a reason. The as-of-seal
//! dashboard still shows the original and matches its seal; the current one
//! shows the restated value; the audit trail shows both, with actor and
//! reason. Commands go through the real ledger onto the embedded log.

use std::sync::Arc;

use perfledger_domain::event::ResultEntry;
use perfledger_domain::indicator::{
    ComparisonBasis, DataType, Frequency, IndicatorSpec, IndicatorType, Polarity,
};
use perfledger_domain::organisation::{OrgKind, OrgSpec};
use perfledger_domain::parse::{parse_result, parse_target};
use perfledger_domain::period::{FinancialYear, Period};
use perfledger_domain::rag::{Rag, ToleranceScheme};
use perfledger_domain::{Command, CommandEnvelope, Date, EntityKind, Tenant, Text, Timestamp};
use perfledger_ledger::{Ledger, Submitted};
use perfledger_log::EmbeddedLog;
use perfledger_readmodel::{AsOf, Projector, ReadModel};
use uuid::Uuid;

const UNIT: &str = "Commissioning Group";
const OFFICER: &str = "Performance Officer, Commissioning Group";

fn t(s: &str) -> Text {
    Text::new("text", s).unwrap()
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn cmd(n: u64, actor: &str, command: Command) -> CommandEnvelope {
    CommandEnvelope {
        command_id: Uuid::from_u64_pair(0x5eed_0004, n),
        tenant: Tenant::new("barnet").unwrap(),
        actor: t(actor),
        source: t("import"),
        correlation_id: Uuid::from_u64_pair(0x5eed_0004, 0),
        causation_id: None,
        command,
    }
}

fn entry(v: &str, commentary: Option<&str>) -> ResultEntry {
    ResultEntry {
        result: parse_result(v).unwrap(),
        commentary: commentary.map(t),
        intervention: None,
        benchmarks: vec![],
    }
}

#[tokio::test]
async fn restated_result_after_seal_keeps_what_committee_saw() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).await.unwrap());
    let ledger = Ledger::new(log.clone(), "pl");
    let q1 = Period::Quarter(FinancialYear(2016), 1);
    let s24 = || t("CG/S24");
    let setup = vec![
        (
            "2015-04-01T09:00:00Z",
            Command::AdoptToleranceScheme {
                name: t("BARNET-4L"),
                effective_from: FinancialYear(2013),
                scheme: ToleranceScheme::four_level(999, 1999),
            },
        ),
        (
            "2015-04-01T09:00:00Z",
            Command::DefineUnit {
                spec: OrgSpec {
                    kind: OrgKind::Unit,
                    name: t(UNIT),
                    parent: None,
                    lead: None,
                },
            },
        ),
        (
            "2015-04-01T09:00:00Z",
            Command::DefineIndicator {
                spec: IndicatorSpec {
                    reference: Some(s24()),
                    title: t("Overall satisfaction with customer services"),
                    unit: t(UNIT),
                    lead_officer: None,
                    indicator_type: IndicatorType::Spi,
                    polarity: Polarity::BiggerIsBetter,
                    frequency: Frequency::Quarterly,
                    data_type: DataType::Percentage,
                    comparison: ComparisonBasis::Sequential,
                    theme: None,
                    objective: None,
                    committee: Some(t("PCMC")),
                },
            },
        ),
        (
            "2015-07-24T10:00:00Z",
            Command::RecordResult {
                indicator: s24(),
                period: Period::Quarter(FinancialYear(2015), 1),
                entry: entry("74%", None),
            },
        ),
        (
            "2016-04-11T09:00:00Z",
            Command::SetTarget {
                indicator: s24(),
                period: q1,
                target: parse_target("80%").unwrap(),
            },
        ),
        (
            "2016-04-22T10:00:00Z",
            Command::RecordResult {
                indicator: s24(),
                period: Period::Quarter(FinancialYear(2015), 4),
                entry: entry("77%", None),
            },
        ),
        (
            "2016-07-21T10:00:00Z",
            Command::RecordResult {
                indicator: s24(),
                period: q1,
                entry: entry("77%", Some("Despite low web ratings ...")),
            },
        ),
    ];
    for (i, (when, c)) in setup.into_iter().enumerate() {
        ledger
            .execute(Submitted::at(cmd(i as u64 + 1, OFFICER, c), at(when)))
            .await
            .unwrap();
    }
    let rm = ReadModel::open(dir.path().join("rm"), &Tenant::new("barnet").unwrap()).unwrap();
    let projector = Projector::new(&rm);
    projector.catch_up(log.as_ref(), &mut |_| {}).await.unwrap();

    // What committee will see: GA (3.75% short of 80%), short-term DoT Same
    // (77% vs Q4 77%), long-term Improving (vs 74% a year before).
    let before = rm.indicator("CG/S24", AsOf::Head).unwrap();
    let row = before.rows.iter().find(|r| r.period == q1).unwrap();
    assert_eq!(row.result_text.as_deref(), Some("77%"));
    assert_eq!(row.target_text.as_deref(), Some("80%"));
    assert_eq!(row.rag, Some(Rag::GreenAmber));
    assert_eq!(
        row.direction_short,
        Some(perfledger_domain::direction::Direction::Same)
    );
    assert_eq!(
        row.direction_long,
        Some(perfledger_domain::direction::Direction::Improving)
    );

    // Seal the unit dashboard for PCMC, 6 September 2016.
    let seal = rm
        .seal_for(Some(UNIT), q1, "PCMC", Date::parse("2016-09-06").unwrap())
        .unwrap();
    let sealed_view = rm.dashboard(Some(UNIT), q1, AsOf::Head).unwrap();
    assert_eq!(sealed_view.dashboard.indicators.counts[&Rag::GreenAmber], 1);
    ledger
        .execute(Submitted::at(
            cmd(
                100,
                "Governance Officer",
                Command::SealDashboard { seal: seal.clone() },
            ),
            at("2016-08-26T12:00:00Z"),
        ))
        .await
        .unwrap();

    // Later: restated with a reason.
    ledger
        .execute(Submitted::at(
            cmd(
                101,
                OFFICER,
                Command::RestateResult {
                    indicator: s24(),
                    period: q1,
                    entry: entry("80%", None),
                    reason: t("late survey returns included"),
                },
            ),
            at("2016-10-15T10:00:00Z"),
        ))
        .await
        .unwrap();
    projector.catch_up(log.as_ref(), &mut |_| {}).await.unwrap();

    // As of the seal (by position and by the meeting date): the original.
    let then = rm.dashboard(Some(UNIT), q1, AsOf::Seq(seal.seq)).unwrap();
    assert_eq!(
        perfledger_domain::dashboard::digest(&then.dashboard),
        seal.digest
    );
    assert_eq!(then.canonical_bytes(), sealed_view.canonical_bytes());
    let meeting = at("2016-09-06T00:00:00Z").0;
    let on_the_day = rm.dashboard(Some(UNIT), q1, AsOf::Time(meeting)).unwrap();
    assert_eq!(on_the_day.digest, then.digest);
    let old = rm.indicator("CG/S24", AsOf::Time(meeting)).unwrap();
    let old_row = old.rows.iter().find(|r| r.period == q1).unwrap();
    assert_eq!(old_row.result_text.as_deref(), Some("77%"));
    assert_eq!(old_row.restatements, 0);

    // Now: the restated value, Green, and a different digest.
    let now = rm.dashboard(Some(UNIT), q1, AsOf::Head).unwrap();
    assert_ne!(now.digest, then.digest);
    assert_eq!(now.dashboard.indicators.counts[&Rag::Green], 1);
    assert_eq!(now.dashboard.indicators.counts[&Rag::GreenAmber], 0);
    let cur = rm
        .indicator("Overall satisfaction with customer services", AsOf::Head)
        .unwrap();
    let cur_row = cur.rows.iter().find(|r| r.period == q1).unwrap();
    assert_eq!(cur_row.result_text.as_deref(), Some("80%"));
    assert_eq!(cur_row.restatements, 1);
    assert_eq!(cur_row.rag, Some(Rag::Green));

    // The seal verifies; what changed since is named figure by figure.
    let verdict = rm.verify_seal(&seal).unwrap();
    assert!(verdict.matches, "{verdict:?}");
    assert!(verdict
        .changed_since
        .iter()
        .any(|d| d.figure == "indicators.counts.Green"
            && d.expected.as_deref() == Some("0")
            && d.actual.as_deref() == Some("1")));
    let sealed = rm.seals(AsOf::Head).unwrap();
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].seal, seal);
    // A tampered seal does not verify; against the current figures the
    // differences are named.
    let mut forged = seal.clone();
    forged.digest[0] ^= 1;
    assert!(!rm.verify_seal(&forged).unwrap().matches);
    let against = rm.verify_seal_against(&seal, &now.dashboard).unwrap();
    assert!(against
        .differences
        .iter()
        .any(|d| d.figure == "indicators.counts.GreenAmber"));

    // The audit trail shows both, with actor, time and reason.
    let trail = rm
        .audit(EntityKind::Indicator, "cg/s24", AsOf::Head)
        .unwrap();
    let results: Vec<_> = trail
        .entries
        .iter()
        .filter(|e| e.field == "result" && e.period == Some(q1))
        .collect();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].event, "ResultRecorded");
    assert_eq!(results[0].before, None);
    assert_eq!(results[0].after.as_deref(), Some("77%"));
    assert_eq!(results[1].event, "ResultRestated");
    assert_eq!(results[1].before.as_deref(), Some("77%"));
    assert_eq!(results[1].after.as_deref(), Some("80%"));
    assert_eq!(results[1].actor, OFFICER);
    assert_eq!(
        results[1].reason.as_deref(),
        Some("late survey returns included")
    );
    assert_eq!(results[1].recorded_at, at("2016-10-15T10:00:00Z").0);
    assert!(results[1].seq > seal.seq);
    // As of the seal the trail has only the original.
    let trail_then = rm.history("CG/S24", AsOf::Seq(seal.seq)).unwrap();
    assert!(trail_then
        .entries
        .iter()
        .all(|e| e.event != "ResultRestated"));
    assert_ne!(trail_then.digest_hex(), trail.digest_hex());

    // JSON for the CLI/web: stable field names.
    let json = serde_json::to_value(&now).unwrap();
    assert!(json["digest"].is_string() && json["as_of"].is_u64());
    assert_eq!(json["dashboard"]["period"], "2016/17 Q1");
    let j = serde_json::to_value(results[1]).unwrap();
    for f in [
        "seq",
        "index",
        "recorded_at",
        "actor",
        "source",
        "reason",
        "event",
        "before",
        "after",
    ] {
        assert!(j.get(f).is_some(), "field {f}");
    }

    // A fresh rebuild gives the same digests.
    let fresh = ReadModel::open_temporary(&Tenant::new("barnet").unwrap()).unwrap();
    fresh.rebuild(log.as_ref(), &mut |_| {}).await.unwrap();
    assert_eq!(
        fresh.content_digest().unwrap(),
        rm.content_digest().unwrap()
    );
    assert_eq!(
        fresh
            .dashboard(Some(UNIT), q1, AsOf::Seq(seal.seq))
            .unwrap()
            .digest,
        then.digest
    );
}

/// Issue #14 item 5: restating a result keeps the commentary it does not
/// change, and the audit trail records every field a restatement changes.
#[tokio::test]
async fn a_restatement_keeps_its_commentary_and_the_audit_names_each_change() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).await.unwrap());
    let ledger = Ledger::new(log.clone(), "pl");
    let q1 = Period::Quarter(FinancialYear(2016), 1);
    let s24 = || t("CG/S24");
    let steps = vec![
        (
            "2016-04-01T09:00:00Z",
            Command::DefineIndicator {
                spec: IndicatorSpec {
                    reference: Some(s24()),
                    title: t("Overall satisfaction with customer services"),
                    unit: t(UNIT),
                    lead_officer: None,
                    indicator_type: IndicatorType::Spi,
                    polarity: Polarity::BiggerIsBetter,
                    frequency: Frequency::Quarterly,
                    data_type: DataType::Percentage,
                    comparison: ComparisonBasis::Sequential,
                    theme: None,
                    objective: None,
                    committee: None,
                },
            },
        ),
        (
            "2016-07-21T10:00:00Z",
            Command::RecordResult {
                indicator: s24(),
                period: q1,
                entry: entry("79%", Some("Improved call handling")),
            },
        ),
        (
            "2016-08-01T10:00:00Z",
            Command::RestateResult {
                indicator: s24(),
                period: q1,
                entry: entry("81%", None),
                reason: t("late survey returns"),
            },
        ),
        (
            "2016-08-02T10:00:00Z",
            Command::RestateResult {
                indicator: s24(),
                period: q1,
                entry: entry("81%", Some("Call handling and web both improved")),
                reason: t("commentary revised"),
            },
        ),
    ];
    let mut seqs = Vec::new();
    for (i, (when, c)) in steps.into_iter().enumerate() {
        let done = ledger
            .execute(Submitted::at(cmd(i as u64 + 1, OFFICER, c), at(when)))
            .await
            .unwrap();
        seqs.push(done.seq);
    }
    let rm = ReadModel::open(dir.path().join("rm"), &Tenant::new("barnet").unwrap()).unwrap();
    Projector::new(&rm)
        .catch_up(log.as_ref(), &mut |_| {})
        .await
        .unwrap();

    // After the first restatement: 81%, the commentary kept.
    let then = rm.indicator("CG/S24", AsOf::Seq(seqs[2])).unwrap();
    let row = then.rows.iter().find(|r| r.period == q1).unwrap();
    assert_eq!(row.result_text.as_deref(), Some("81%"));
    assert_eq!(row.commentary.as_deref(), Some("Improved call handling"));
    // Its audit entry records the result changing, and only that.
    let at_restate: Vec<_> = then
        .audit
        .iter()
        .filter(|e| e.seq == seqs[2])
        .map(|e| (e.field.as_str(), e.before.as_deref(), e.after.as_deref()))
        .collect();
    assert_eq!(at_restate, [("result", Some("79%"), Some("81%"))]);

    // The second restatement changes only the commentary: the trail says so.
    let now = rm.indicator("CG/S24", AsOf::Head).unwrap();
    let row = now.rows.iter().find(|r| r.period == q1).unwrap();
    assert_eq!(
        row.commentary.as_deref(),
        Some("Call handling and web both improved")
    );
    let at_second: Vec<_> = now
        .audit
        .iter()
        .filter(|e| e.seq == seqs[3])
        .map(|e| (e.field.as_str(), e.before.as_deref(), e.after.as_deref()))
        .collect();
    assert_eq!(
        at_second,
        [
            ("result", Some("81%"), Some("81%")),
            (
                "commentary",
                Some("Improved call handling"),
                Some("Call handling and web both improved")
            ),
        ]
    );
}
