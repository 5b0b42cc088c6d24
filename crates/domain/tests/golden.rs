//! Golden vectors (proto/golden/*.hex), checked both ways: decoding the
//! golden bytes gives the expected value, and encoding the expected value
//! gives the golden bytes. `events_all.hex` and `commands_all.hex` hold
//! every variant with distinct field values, so reordering any variant or
//! field fails here. Regenerate (only for a deliberate, versioned change)
//! with `PERFLEDGER_BLESS=1 cargo test -p perfledger-domain --test golden`.

mod common;

use std::path::PathBuf;

use common::{cmd, envelopes, spec, t};
use perfledger_domain::action::{ActionSpec, ActionStatus};
use perfledger_domain::budget::LineSpec;
use perfledger_domain::codec::{decode_command_json, encode_command_json};
use perfledger_domain::command::Command;
use perfledger_domain::event::{EventBody, ResultEntry, Seal};
use perfledger_domain::indicator::{DataType, Frequency, InterventionLevel};
use perfledger_domain::organisation::{OrgKind, OrgSpec};
use perfledger_domain::parse::{parse_amount, parse_benchmark, parse_result, parse_target};
use perfledger_domain::period::{FinancialYear, Period};
use perfledger_domain::rag::ToleranceScheme;
use perfledger_domain::risk::{Assessment, Response, RiskSpec};
use perfledger_domain::saving::SavingSpec;
use perfledger_domain::time::{Date, Timestamp};
use perfledger_domain::{
    decode_command, decode_commit, encode_command, encode_commit, CommandEnvelope, Envelope,
};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto/golden")
}

fn p(s: &str) -> Period {
    Period::parse(s).unwrap()
}

fn entry(s: &str) -> ResultEntry {
    ResultEntry {
        result: parse_result(s).unwrap(),
        commentary: Some(t("Awaiting survey")),
        intervention: Some(InterventionLevel(2)),
        benchmarks: vec![parse_benchmark("London 41% (Autumn 2014, RPS)").unwrap()],
    }
}

fn org(kind: OrgKind, name: &str) -> OrgSpec {
    OrgSpec {
        kind,
        name: t(name),
        parent: Some(t("Policy & Resources")),
        lead: Some(t("Chairman")),
    }
}

fn seal() -> Seal {
    Seal {
        unit: Some(t("Commissioning Group")),
        period: p("2016/17 Q1"),
        committee: t("Performance & Contract Monitoring"),
        meeting_date: Date::new(2016, 9, 6).unwrap(),
        seq: 4242,
        digest: core::array::from_fn(|i| i as u8),
    }
}

fn risk() -> RiskSpec {
    RiskSpec {
        risk_id: t("ST0081"),
        unit: t("Commissioning Group"),
        title: t("Depot site"),
        description: t("Council will not secure an alternative depot site by 2016"),
        owner: Some(t("Commissioning Director")),
        category: Some(t("Business Continuity")),
        controls: Some(t("Planning application for Pinkham Way")),
        response: Some(Response::Treat),
        assurance: Some(t("Quarterly")),
    }
}

fn line(name: &str) -> LineSpec {
    LineSpec {
        unit: t("Commissioning Group"),
        name: t(name),
        description: Some(t("Budget V1")),
    }
}

fn saving() -> SavingSpec {
    SavingSpec {
        reference: t("P&R2"),
        unit: t("Finance, Revenues and Benefits"),
        description: t("Increased recovery of housing benefit overpayments"),
        amounts: vec![
            (FinancialYear(2020), parse_amount("(500)").unwrap()),
            (FinancialYear(2021), parse_amount("(250)").unwrap()),
        ],
    }
}

fn a(i: u8, pr: u8) -> Assessment {
    Assessment::new(i, pr).unwrap()
}

fn amt(s: &str) -> perfledger_domain::Fixed {
    parse_amount(s).unwrap()
}

/// One of every event, in wire order, with distinct field values.
fn all_event_bodies() -> Vec<EventBody> {
    let s = spec("CG/S24", Frequency::Quarterly, DataType::Percentage);
    vec![
        EventBody::IndicatorDefined { spec: s.clone() },
        EventBody::IndicatorAmended {
            spec: s,
            reason: t("lead officer changed"),
        },
        EventBody::IndicatorRetired {
            reason: t("replaced by CG/S26"),
        },
        EventBody::TargetSet {
            period: p("2016/17 Q1"),
            target: parse_target("80%").unwrap(),
        },
        EventBody::TargetRevised {
            period: p("2016/17"),
            target: parse_target("Remain at or above 85%").unwrap(),
            reason: t("committee decision"),
        },
        EventBody::ResultRecorded {
            period: p("2016/17 Q1"),
            entry: entry("82% (A)"),
        },
        EventBody::ResultRestated {
            period: p("2016/17 Q2"),
            entry: entry("37% (Spring 2016)"),
            reason: t("late survey data"),
        },
        EventBody::ActionDefined {
            spec: ActionSpec {
                reference: t("CG01"),
                unit: t("Commissioning Group"),
                description: t("Small business hubs"),
                due: Some(t("March 2021")),
                lead_officer: Some(t("Director of Growth")),
            },
        },
        EventBody::ActionStatusReported {
            period: p("2016/17 Q3"),
            status: ActionStatus::GreenAmber,
            comment: Some(t("delayed, low impact")),
        },
        EventBody::RiskRegistered { spec: risk() },
        EventBody::RiskAssessed {
            period: p("2013/14 Q2"),
            current: a(5, 3),
            target: Some(a(5, 2)),
            comment: Some(t("rescored")),
        },
        EventBody::RiskClosed {
            reason: t("depot relocated"),
        },
        EventBody::RevenueLineDefined {
            spec: line("Finance"),
        },
        EventBody::BudgetSet {
            year: FinancialYear(2016),
            original: amt("740"),
            revised: amt("969"),
        },
        EventBody::BudgetRevised {
            year: FinancialYear(2017),
            original: amt("1,049"),
            revised: amt("1,069"),
            reason: t("virement"),
        },
        EventBody::RevenueForecastSubmitted {
            period: p("2016/17 Q4"),
            forecast: amt("478"),
            comment: Some(t("Reduced income")),
        },
        EventBody::CapitalLineDefined {
            spec: line("Depot relocation"),
        },
        EventBody::CapitalBudgetSet {
            year: FinancialYear(2018),
            approved: amt("35,168"),
        },
        EventBody::CapitalForecastSubmitted {
            period: p("2015/16 Q1"),
            additions: amt("12"),
            slippage: amt("(4,331)"),
            forecast: amt("30,837"),
            comment: Some(t("delay in construction")),
        },
        EventBody::SavingProposed { spec: saving() },
        EventBody::SavingDeliveryReported {
            period: p("Dec 2020"),
            achieved: amt("1,909"),
            comment: Some(t("on track")),
        },
        EventBody::ToleranceSchemeAdopted {
            name: t("Barnet 2013-17"),
            effective_from: FinancialYear(2013),
            scheme: ToleranceScheme::four_level(500, 1000),
        },
        EventBody::PeriodClosed {
            period: p("2016/17 H1"),
        },
        EventBody::UnitDefined {
            spec: org(OrgKind::Unit, "Commissioning Group"),
        },
        EventBody::CommitteeDefined {
            spec: org(OrgKind::Committee, "Policy & Resources"),
        },
        EventBody::DashboardSealed { seal: seal() },
        EventBody::PostCloseRestatement {
            period: p("2015/16 Q4"),
            reason: t("audit correction"),
        },
    ]
}

/// One of every command, in wire order, with distinct field values.
fn all_commands() -> Vec<Command> {
    let s = spec("CG/S24", Frequency::Quarterly, DataType::Percentage);
    let rec = Command::RecordResult {
        indicator: t("CG/S24"),
        period: p("2016/17 Q1"),
        entry: entry("1,385/1,599"),
    };
    vec![
        Command::DefineIndicator { spec: s.clone() },
        Command::AmendIndicator {
            indicator: t("CG/S24"),
            spec: s,
            reason: t("lead officer changed"),
        },
        Command::RetireIndicator {
            indicator: t("CG/S23"),
            reason: t("replaced"),
        },
        Command::SetTarget {
            indicator: t("CG/C23"),
            period: p("2016/17"),
            target: parse_target("6 days").unwrap(),
        },
        Command::ReviseTarget {
            indicator: t("CG/C24"),
            period: p("2016/17 Q1"),
            target: parse_target("<£1m").unwrap(),
            reason: t("revised"),
        },
        rec.clone(),
        Command::RestateResult {
            indicator: t("CG/S24"),
            period: p("2016/17 Q2"),
            entry: entry("Due Q3 19/20"),
            reason: t("late data"),
        },
        Command::DefineAction {
            spec: ActionSpec {
                reference: t("3"),
                unit: t("Customer Service and Digital"),
                description: t("Review correspondence"),
                due: Some(t("September 2020")),
                lead_officer: Some(t("Web Manager")),
            },
        },
        Command::ReportActionStatus {
            unit: t("Commissioning Group"),
            reference: t("CG15"),
            period: p("2016/17 Q1"),
            status: ActionStatus::RedAmber,
            comment: Some(t("delayed")),
        },
        Command::RegisterRisk { spec: risk() },
        Command::AssessRisk {
            risk_id: t("ST0072"),
            period: p("2013/14 Q2"),
            current: a(4, 5),
            target: Some(a(4, 2)),
            comment: None,
        },
        Command::CloseRisk {
            risk_id: t("ST0070"),
            reason: t("mitigated"),
        },
        Command::DefineRevenueLine {
            spec: line("Commercial"),
        },
        Command::SetBudget {
            unit: t("Commissioning Group"),
            line: t("Finance"),
            year: FinancialYear(2016),
            original: amt("740"),
            revised: amt("969"),
        },
        Command::ReviseBudget {
            unit: t("Commissioning Group"),
            line: t("Commercial"),
            year: FinancialYear(2016),
            original: amt("1,049"),
            revised: amt("1,069"),
            reason: t("virement"),
        },
        Command::SubmitRevenueForecast {
            unit: t("Commissioning Group"),
            line: t("Finance"),
            period: p("2016/17 Q1"),
            forecast: amt("478"),
            comment: Some(t("Reduced income")),
        },
        Command::DefineCapitalLine {
            spec: line("Daws Lane Community Centre"),
        },
        Command::SetCapitalBudget {
            unit: t("Commissioning Group"),
            line: t("Depot relocation"),
            year: FinancialYear(2016),
            approved: amt("35,168"),
        },
        Command::SubmitCapitalForecast {
            unit: t("Commissioning Group"),
            line: t("Depot relocation"),
            period: p("2016/17 Q1"),
            additions: amt("-"),
            slippage: amt("(4,331)"),
            forecast: amt("30,837"),
            comment: None,
        },
        Command::ProposeSaving { spec: saving() },
        Command::ReportSavingDelivery {
            reference: t("P&R1"),
            period: p("2020/21 Q2"),
            achieved: amt("871"),
            comment: None,
        },
        Command::AdoptToleranceScheme {
            name: t("three level"),
            effective_from: FinancialYear(2017),
            scheme: ToleranceScheme::three_level_10pc(),
        },
        Command::ClosePeriod {
            period: p("2016/17 Q1"),
        },
        Command::DefineUnit {
            spec: org(OrgKind::Theme, "Clean, Safe & Well Run"),
        },
        Command::DefineCommittee {
            spec: org(OrgKind::Committee, "Adults & Safeguarding"),
        },
        Command::SealDashboard { seal: seal() },
        Command::PostCloseRestatement {
            reason: t("late data after close"),
            command: Box::new(rec),
        },
    ]
}

const EVENT_ORDER: [&str; 27] = [
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
];

const COMMAND_ORDER: [&str; 27] = [
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
];

fn all_events_commit() -> Vec<Envelope> {
    let ce = cmd(Command::DefineIndicator {
        spec: spec("CG/S24", Frequency::Quarterly, DataType::Percentage),
    });
    let mut commit = envelopes(&ce, all_event_bodies(), 1_473_120_000_000);
    for e in &mut commit {
        // a migrated (backdated) commit: both v2 fields present
        e.migrated_at = Some(Timestamp(1_767_225_600_000));
    }
    commit
}

/// What a version-1 commit of `commit` decodes to: the same envelopes with
/// schema version 1 and the version-2 fields absent.
fn as_v1(mut commit: Vec<Envelope>) -> Vec<Envelope> {
    for e in &mut commit {
        e.schema_version = 1;
        e.command_digest = None;
        e.migrated_at = None;
    }
    commit
}

fn single(c: Command) -> CommandEnvelope {
    cmd(c)
}

/// Check `bytes_hex` lines against a golden file, or write it when blessing.
fn check_golden(name: &str, lines: &[String]) {
    let path = golden_dir().join(name);
    let text = lines.join("\n") + "\n";
    if std::env::var_os("PERFLEDGER_BLESS").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; bless with PERFLEDGER_BLESS=1", path.display()));
    let stored: Vec<&str> = stored
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    let fresh: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert_eq!(stored.len(), fresh.len(), "{name}: line count");
    for (i, (s, f)) in stored.iter().zip(&fresh).enumerate() {
        assert_eq!(s, f, "{name}: line {i} differs: the wire format changed (reordered or changed field/variant?)");
    }
}

fn read_golden(name: &str) -> Vec<Vec<u8>> {
    read_golden_at(golden_dir().join(name))
}

fn read_golden_at(path: PathBuf) -> Vec<Vec<u8>> {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| hex::decode(l.trim()).unwrap())
        .collect()
}

#[test]
fn variant_order_is_fixed() {
    for (i, (body, name)) in all_event_bodies().iter().zip(EVENT_ORDER).enumerate() {
        assert_eq!(body.name(), name);
        assert_eq!(
            postcard::to_allocvec(body).unwrap()[0] as usize,
            i,
            "event {name} moved"
        );
    }
    for (i, (c, name)) in all_commands().iter().zip(COMMAND_ORDER).enumerate() {
        assert_eq!(c.name(), name);
        assert_eq!(
            postcard::to_allocvec(c).unwrap()[0] as usize,
            i,
            "command {name} moved"
        );
    }
    assert_eq!(all_event_bodies().len(), EVENT_ORDER.len());
    assert_eq!(all_commands().len(), COMMAND_ORDER.len());
}

#[test]
fn golden_commit_with_every_event() {
    let commit = all_events_commit();
    let bytes = encode_commit(&commit).unwrap();
    check_golden("events_all.hex", &[
        "# one commit (version byte 0x02 + postcard Vec<Envelope>) holding every event variant in wire order".into(),
        hex::encode(&bytes),
    ]);
    let golden = read_golden("events_all.hex");
    assert_eq!(golden.len(), 1);
    assert_eq!(decode_commit(&golden[0]).unwrap(), commit);
    assert_eq!(encode_commit(&commit).unwrap(), golden[0]);
}

fn representative_commits() -> Vec<(&'static str, Vec<Envelope>)> {
    let rec = cmd(Command::RecordResult {
        indicator: t("Implemented high and medium audit recommendations"),
        period: p("2019/20 Q2"),
        entry: ResultEntry {
            result: parse_result("82% (A)").unwrap(),
            commentary: None,
            intervention: None,
            benchmarks: vec![],
        },
    });
    let fin = cmd(Command::SubmitRevenueForecast {
        unit: t("Commissioning Group"),
        line: t("Finance"),
        period: p("2016/17 Q1"),
        forecast: amt("478"),
        comment: Some(t("Reduced income")),
    });
    vec![
        (
            "commit_result_recorded",
            envelopes(
                &rec,
                vec![EventBody::ResultRecorded {
                    period: p("2019/20 Q2"),
                    entry: ResultEntry {
                        result: parse_result("82% (A)").unwrap(),
                        commentary: None,
                        intervention: None,
                        benchmarks: vec![],
                    },
                }],
                1_570_000_000_000,
            ),
        ),
        (
            "commit_revenue_forecast",
            envelopes(
                &fin,
                vec![
                    EventBody::BudgetSet {
                        year: FinancialYear(2016),
                        original: amt("740"),
                        revised: amt("969"),
                    },
                    EventBody::RevenueForecastSubmitted {
                        period: p("2016/17 Q1"),
                        forecast: amt("478"),
                        comment: Some(t("Reduced income")),
                    },
                ],
                1_473_120_000_000,
            ),
        ),
    ]
}

#[test]
fn golden_representative_commits() {
    for (name, commit) in representative_commits() {
        let file = format!("{name}.hex");
        check_golden(&file, &[hex::encode(encode_commit(&commit).unwrap())]);
        let golden = read_golden(&file);
        assert_eq!(decode_commit(&golden[0]).unwrap(), commit, "{name}");
        assert_eq!(encode_commit(&commit).unwrap(), golden[0], "{name}");
    }
}

#[test]
fn golden_every_command() {
    let cmds: Vec<CommandEnvelope> = all_commands().into_iter().map(single).collect();
    let mut lines = vec!["# one line per command variant in wire order: version byte 0x01 + postcard CommandEnvelope".to_string()];
    lines.extend(cmds.iter().map(|c| hex::encode(encode_command(c).unwrap())));
    check_golden("commands_all.hex", &lines);
    let golden = read_golden("commands_all.hex");
    assert_eq!(golden.len(), cmds.len());
    for (g, c) in golden.iter().zip(&cmds) {
        assert_eq!(&decode_command(g).unwrap(), c, "{}", c.command.name());
        assert_eq!(&encode_command(c).unwrap(), g, "{}", c.command.name());
    }
    // JSON golden: the externally tagged names other languages use
    let json_lines: Vec<String> = cmds
        .iter()
        .map(|c| encode_command_json(c).unwrap())
        .collect();
    let path = golden_dir().join("commands_all.jsonl");
    if std::env::var_os("PERFLEDGER_BLESS").is_some() {
        std::fs::write(&path, json_lines.join("\n") + "\n").unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap();
    for (line, c) in stored.lines().zip(&cmds) {
        assert_eq!(&decode_command_json(line).unwrap(), c);
        assert_eq!(line, encode_command_json(c).unwrap());
    }
}

/// The version-1 golden commits (`proto/golden/v1/`, frozen) still decode,
/// upcast to the current envelope: schema version 1 as stored, no command
/// digest, no migration time.
#[test]
fn golden_v1_commits_decode_and_upcast() {
    let v1 = golden_dir().join("v1");
    let golden = read_golden_at(v1.join("events_all.hex"));
    assert_eq!(golden[0][0], 1, "v1 commits start with version byte 1");
    let decoded = decode_commit(&golden[0]).unwrap();
    assert_eq!(decoded, as_v1(all_events_commit()));
    assert!(decoded
        .iter()
        .all(|e| e.command_digest.is_none() && e.migrated_at.is_none()));
    for (name, commit) in representative_commits() {
        let golden = read_golden_at(v1.join(format!("{name}.hex")));
        assert_eq!(decode_commit(&golden[0]).unwrap(), as_v1(commit), "{name}");
    }
    // Written again, an upcast commit is a current-version commit that
    // decodes to the same envelopes (stored v1 records are never rewritten;
    // this is what a copy of them would look like).
    let again = encode_commit(&decoded).unwrap();
    assert_eq!(again[0], perfledger_domain::codec::COMMIT_VERSION);
    assert_eq!(decode_commit(&again).unwrap(), decoded);
    // Commands are unchanged by commit version 2: the v1 command vectors
    // are the current ones.
    let cmds: Vec<CommandEnvelope> = all_commands().into_iter().map(single).collect();
    for (g, c) in read_golden_at(v1.join("commands_all.hex"))
        .iter()
        .zip(&cmds)
    {
        assert_eq!(&decode_command(g).unwrap(), c, "{}", c.command.name());
    }
}

/// The variant names the codec knows, in order: serde's own list, from the
/// error it gives for an unknown variant.
fn codec_variants<T: for<'de> serde::Deserialize<'de> + std::fmt::Debug>() -> Vec<String> {
    let err = serde_json::from_str::<T>(r#"{"NoSuchVariant": null}"#)
        .expect_err("an unknown variant is refused")
        .to_string();
    let list = err
        .split_once("expected one of ")
        .expect("serde lists the variants")
        .1;
    list.split(", ")
        .map(|v| v.split('`').nth(1).expect("a quoted variant").to_string())
        .collect()
}

/// Whether each event has a period. A new variant must be added here (and
/// to `EventBody::NAMES`, `all_event_bodies`): this test fails until its
/// period is decided.
const EVENT_HAS_PERIOD: [(&str, bool); 29] = [
    ("IndicatorDefined", false),
    ("IndicatorAmended", false),
    ("IndicatorRetired", false),
    ("TargetSet", true),
    ("TargetRevised", true),
    ("ResultRecorded", true),
    ("ResultRestated", true),
    ("ActionDefined", false),
    ("ActionStatusReported", true),
    ("RiskRegistered", false),
    ("RiskAssessed", true),
    ("RiskClosed", false),
    ("RevenueLineDefined", false),
    ("BudgetSet", true),
    ("BudgetRevised", true),
    ("RevenueForecastSubmitted", true),
    ("CapitalLineDefined", false),
    ("CapitalBudgetSet", true),
    ("CapitalForecastSubmitted", true),
    ("SavingProposed", false),
    ("SavingDeliveryReported", true),
    ("ToleranceSchemeAdopted", true),
    ("PeriodClosed", true),
    ("UnitDefined", false),
    ("CommitteeDefined", false),
    ("DashboardSealed", true),
    ("PostCloseRestatement", true),
    ("CommitteeDashboardSealed", true),
    ("CommitteePackSealed", true),
];

/// Whether each command changes a period (and so passes the closed-period
/// check). `PostCloseRestatement` has its inner command's period.
const COMMAND_HAS_PERIOD: [(&str, bool); 29] = [
    ("DefineIndicator", false),
    ("AmendIndicator", false),
    ("RetireIndicator", false),
    ("SetTarget", true),
    ("ReviseTarget", true),
    ("RecordResult", true),
    ("RestateResult", true),
    ("DefineAction", false),
    ("ReportActionStatus", true),
    ("RegisterRisk", false),
    ("AssessRisk", true),
    ("CloseRisk", false),
    ("DefineRevenueLine", false),
    ("SetBudget", true),
    ("ReviseBudget", true),
    ("SubmitRevenueForecast", true),
    ("DefineCapitalLine", false),
    ("SetCapitalBudget", true),
    ("SubmitCapitalForecast", true),
    ("ProposeSaving", false),
    ("ReportSavingDelivery", true),
    ("AdoptToleranceScheme", false),
    ("ClosePeriod", false),
    ("DefineUnit", false),
    ("DefineCommittee", false),
    ("SealDashboard", false),
    ("PostCloseRestatement", true),
    ("SealCommitteeDashboard", false),
    ("SealCommitteePack", false),
];

#[test]
fn every_variant_has_a_decided_period() {
    assert_eq!(codec_variants::<EventBody>(), EventBody::NAMES);
    assert_eq!(codec_variants::<Command>(), Command::NAMES);
    assert_eq!(
        EVENT_HAS_PERIOD.map(|(n, _)| n),
        EventBody::NAMES,
        "decide the period of every event"
    );
    assert_eq!(
        COMMAND_HAS_PERIOD.map(|(n, _)| n),
        Command::NAMES,
        "decide the period of every command"
    );
    // The golden sample holds the variants up to schema version 2 (the
    // committee seals have their own vectors); each is checked here.
    let bodies = all_event_bodies();
    assert!(bodies.len() <= EventBody::NAMES.len());
    for (i, body) in bodies.iter().enumerate() {
        assert_eq!(postcard::to_allocvec(body).unwrap()[0] as usize, i);
        assert_eq!(body.name(), EventBody::NAMES[i]);
        assert_eq!(
            body.period().is_some(),
            EVENT_HAS_PERIOD[i].1,
            "{}",
            body.name()
        );
        // every event but the post-close marker belongs to one entity kind
        assert_eq!(
            body.entity_kind().is_none(),
            matches!(body, EventBody::PostCloseRestatement { .. }),
            "{}",
            body.name()
        );
    }
    let commands = all_commands();
    assert!(commands.len() <= Command::NAMES.len());
    for (i, c) in commands.iter().enumerate() {
        assert_eq!(postcard::to_allocvec(c).unwrap()[0] as usize, i);
        assert_eq!(c.name(), Command::NAMES[i]);
        assert_eq!(
            c.period().is_some(),
            COMMAND_HAS_PERIOD[i].1,
            "{}",
            c.name()
        );
    }
}

#[test]
fn events_and_commands_name_entities_alike() {
    // A defining event's natural key is the one its command targets.
    let tenant = common::tenant();
    for c in all_commands() {
        let (kind, key) = c.natural_key();
        let Ok(bodies) = perfledger_domain::handle(
            &perfledger_domain::new_state(kind),
            &cmd(c.clone()),
            &perfledger_domain::Context::default(),
        ) else {
            continue;
        };
        for body in bodies {
            if let Some(body_key) = body.natural_key() {
                assert_eq!(body_key, key, "{}", body.name());
                assert_eq!(body.entity_kind(), Some(kind), "{}", body.name());
                assert_eq!(
                    perfledger_domain::entity_id(&tenant, kind, &body_key),
                    c.entity(&tenant).1
                );
            }
        }
    }
}
