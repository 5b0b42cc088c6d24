//! A small seed-like council recorded through the real ledger into an
//! embedded log in a tempdir, projected into a read model.
#![allow(dead_code)]

use std::sync::Arc;

use perfledger_domain::action::{ActionSpec, ActionStatus};
use perfledger_domain::budget::LineSpec;
use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::event::ResultEntry;
use perfledger_domain::indicator::{
    ComparisonBasis, DataType, Frequency, IndicatorSpec, IndicatorType, Polarity,
};
use perfledger_domain::organisation::{OrgKind, OrgSpec};
use perfledger_domain::parse::{parse_result, parse_target};
use perfledger_domain::rag::ToleranceScheme;
use perfledger_domain::risk::{Assessment, RiskSpec};
use perfledger_domain::saving::SavingSpec;
use perfledger_domain::{Date, FinancialYear, Fixed, Period, Tenant, Text, Timestamp};
use perfledger_ledger::{Ledger, Submitted};
use perfledger_log::embedded::EmbeddedLog;
use perfledger_readmodel::{Projector, ReadModel};
use perfledger_web::WebState;
use uuid::Uuid;

pub const UNIT: &str = "Commissioning Group";
pub const TITLE: &str = "Barnet <script>alert('x')</script> & Co";

pub struct Council {
    pub dir: tempfile::TempDir,
    pub rm: Arc<ReadModel>,
    /// Sequence of the restatement of CG/S2's Q1 result (78% → 70%).
    pub restated_at: u64,
    /// Recorded time of the record before the restatement.
    pub before_restatement_time: Timestamp,
    /// Sequence of the seal (sealed before the restatement).
    pub seal_seq: u64,
}

impl Council {
    pub fn state(&self) -> WebState {
        WebState {
            readmodel: self.rm.clone(),
            title: TITLE.to_string(),
        }
    }
}

fn t(s: &str) -> Text {
    Text::new("test", s).unwrap()
}

fn q(s: &str) -> Period {
    Period::parse(s).unwrap()
}

fn k(v: &str) -> Fixed {
    Fixed::parse_full(v).unwrap()
}

struct Rec {
    ledger: Ledger<EmbeddedLog>,
    n: u128,
    clock: i64,
}

impl Rec {
    async fn run(&mut self, command: Command) -> u64 {
        self.n += 1;
        // One hour between records, from 2016-07-01.
        self.clock += 3_600_000;
        let env = CommandEnvelope {
            command_id: Uuid::from_u128(0xC0DE_0000 + self.n),
            tenant: Tenant::new("barnet").unwrap(),
            actor: t("Head of Performance"),
            source: t("web-test"),
            correlation_id: Uuid::from_u128(7),
            causation_id: None,
            command,
        };
        self.ledger
            .execute(Submitted::at(env, Timestamp(self.clock)))
            .await
            .expect("command accepted")
            .seq
    }
}

fn indicator(reference: &str, title: &str, ty: IndicatorType) -> Command {
    Command::DefineIndicator {
        spec: IndicatorSpec {
            reference: Some(t(reference)),
            title: t(title),
            unit: t(UNIT),
            lead_officer: Some(t("Commissioning Director")),
            indicator_type: ty,
            polarity: Polarity::BiggerIsBetter,
            frequency: Frequency::Quarterly,
            data_type: DataType::Percentage,
            comparison: ComparisonBasis::Sequential,
            theme: None,
            objective: None,
            committee: None,
        },
    }
}

fn target(reference: &str, period: &str, v: &str) -> Command {
    Command::SetTarget {
        indicator: t(reference),
        period: q(period),
        target: parse_target(v).unwrap(),
    }
}

fn entry(v: &str) -> ResultEntry {
    ResultEntry {
        result: parse_result(v).unwrap(),
        commentary: None,
        intervention: None,
        benchmarks: Vec::new(),
    }
}

fn result(reference: &str, period: &str, v: &str) -> Command {
    Command::RecordResult {
        indicator: t(reference),
        period: q(period),
        entry: entry(v),
    }
}

/// Record the council. At head, 2016/17 Q1 for the unit: CG/S1 Green
/// (92% vs 90%, improving on 85%), CG/S2 Red after restatement (70% vs 80%;
/// 78% = Green Amber before), CG/C4 Red (60% vs 90%, worsening on 65%),
/// CG/C3 Monitor; risks CG001 4×4 and CG002 3×2; revenue, capital, saving,
/// one key action (Green).
pub async fn council() -> Council {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).await.unwrap());
    let mut r = Rec {
        ledger: Ledger::new(log.clone(), "pl"),
        n: 0,
        clock: Timestamp::parse("2016-07-01").unwrap().0,
    };
    let fy = FinancialYear(2016);
    r.run(Command::DefineUnit {
        spec: OrgSpec {
            kind: OrgKind::Unit,
            name: t(UNIT),
            parent: None,
            lead: None,
        },
    })
    .await;
    r.run(Command::AdoptToleranceScheme {
        name: t("Four level 2013-2017"),
        effective_from: FinancialYear(2013),
        scheme: ToleranceScheme::four_level(500, 1000),
    })
    .await;
    for (reference, title, ty) in [
        (
            "CG/S1",
            "Satisfaction with <b>customer</b> services",
            IndicatorType::Spi,
        ),
        ("CG/S2", "Contracts let on time", IndicatorType::Spi),
        (
            "CG/C3",
            "Residents' perception of value",
            IndicatorType::Cpi,
        ),
        ("CG/C4", "Invoices paid within 30 days", IndicatorType::Cpi),
    ] {
        r.run(indicator(reference, title, ty)).await;
    }
    for c in [
        target("CG/S1", "2016/17 Q1", "90%"),
        target("CG/S1", "2015/16 Q1", "80%"),
        result("CG/S1", "2015/16 Q1", "85%"),
        result("CG/S1", "2016/17 Q1", "92%"),
        target("CG/S2", "2016/17 Q1", "80%"),
        result("CG/S2", "2016/17 Q1", "78%"),
        target("CG/C3", "2016/17 Q1", "Monitor"),
        result("CG/C3", "2016/17 Q1", "50%"),
        target("CG/C4", "2016/17 Q1", "90%"),
        result("CG/C4", "2015/16 Q1", "65%"),
        result("CG/C4", "2016/17 Q1", "60%"),
    ] {
        r.run(c).await;
    }
    for (id, title, cur, tgt) in [
        ("CG001", "Contract <failure>", (4, 4), (2, 3)),
        ("CG002", "Data quality", (3, 2), (2, 2)),
    ] {
        r.run(Command::RegisterRisk {
            spec: RiskSpec {
                risk_id: t(id),
                unit: t(UNIT),
                title: t(title),
                description: t("Risk description"),
                owner: Some(t("Commissioning Director")),
                category: Some(t("Finance")),
                controls: None,
                response: None,
                assurance: None,
            },
        })
        .await;
        r.run(Command::AssessRisk {
            risk_id: t(id),
            period: q("2016/17 Q1"),
            current: Assessment::new(cur.0, cur.1).unwrap(),
            target: Some(Assessment::new(tgt.0, tgt.1).unwrap()),
            comment: None,
        })
        .await;
    }
    r.run(Command::DefineRevenueLine {
        spec: LineSpec {
            unit: t(UNIT),
            name: t("Strategic Commissioning"),
            description: None,
        },
    })
    .await;
    r.run(Command::SetBudget {
        unit: t(UNIT),
        line: t("Strategic Commissioning"),
        year: fy,
        original: k("20000"),
        revised: k("20475"),
    })
    .await;
    r.run(Command::SubmitRevenueForecast {
        unit: t(UNIT),
        line: t("Strategic Commissioning"),
        period: q("2016/17 Q1"),
        forecast: k("21294"),
        comment: None,
    })
    .await;
    r.run(Command::DefineCapitalLine {
        spec: LineSpec {
            unit: t(UNIT),
            name: t("Depot relocation"),
            description: None,
        },
    })
    .await;
    r.run(Command::SetCapitalBudget {
        unit: t(UNIT),
        line: t("Depot relocation"),
        year: fy,
        approved: k("36092"),
    })
    .await;
    r.run(Command::SubmitCapitalForecast {
        unit: t(UNIT),
        line: t("Depot relocation"),
        period: q("2016/17 Q1"),
        additions: k("0"),
        slippage: k("-4331"),
        forecast: k("31761"),
        comment: None,
    })
    .await;
    r.run(Command::ProposeSaving {
        spec: SavingSpec {
            reference: t("P&R1"),
            unit: t(UNIT),
            description: t("Procurement savings"),
            amounts: vec![(fy, k("-2407"))],
        },
    })
    .await;
    r.run(Command::ReportSavingDelivery {
        reference: t("P&R1"),
        period: q("2016/17 Q1"),
        achieved: k("1909"),
        comment: None,
    })
    .await;
    r.run(Command::DefineAction {
        spec: ActionSpec {
            reference: t("CG01"),
            unit: t(UNIT),
            description: t("Deliver the locality strategy"),
            due: Some(t("March 2017")),
            lead_officer: None,
        },
    })
    .await;
    r.run(Command::ReportActionStatus {
        unit: t(UNIT),
        reference: t("CG01"),
        period: q("2016/17 Q1"),
        status: ActionStatus::Green,
        comment: None,
    })
    .await;

    // Project, seal the unit's Q1 dashboard for committee.
    let rm = ReadModel::open(dir.path().join("rm"), &Tenant::new("barnet").unwrap()).unwrap();
    Projector::new(&rm)
        .catch_up(&*log, &mut |_| {})
        .await
        .unwrap();
    let seal = rm
        .seal_for(
            Some(UNIT),
            q("2016/17 Q1"),
            "Policy & Resources",
            Date::new(2016, 9, 6).unwrap(),
        )
        .unwrap();
    let seal_seq = r.run(Command::SealDashboard { seal }).await;
    let before_restatement_time = Timestamp(r.clock);

    // Late data: CG/S2's Q1 result restated.
    let restated_at = r
        .run(Command::RestateResult {
            indicator: t("CG/S2"),
            period: q("2016/17 Q1"),
            entry: entry("70%"),
            reason: t("Late contract data from the provider"),
        })
        .await;
    Projector::new(&rm)
        .catch_up(&*log, &mut |_| {})
        .await
        .unwrap();
    Council {
        dir,
        rm: Arc::new(rm),
        restated_at,
        before_restatement_time,
        seal_seq,
    }
}

/// The imported sample council (data/sample-council), projected.
pub async fn sample_council() -> (tempfile::TempDir, Arc<ReadModel>) {
    let (dir, _, rm, _) = sample_council_log().await;
    (dir, rm)
}

/// [`sample_council`] with its log and import plan (seals not yet made).
async fn sample_council_log() -> (
    tempfile::TempDir,
    Arc<EmbeddedLog>,
    Arc<ReadModel>,
    perfledger_import::ImportPlan,
) {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council");
    let mut opts = perfledger_import::ImportOptions::new(
        t("Performance Officer"),
        Timestamp::parse("2026-01-01").unwrap(),
    );
    opts.backdated = true;
    let plan = perfledger_import::load_dir(&data, &opts).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).await.unwrap());
    Ledger::new(log.clone(), "pl")
        .execute_batch(plan.submissions.clone(), |_, _| {})
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rm = ReadModel::open(dir.path().join("rm"), &plan.tenant).unwrap();
    Projector::new(&rm)
        .catch_up(&*log, &mut |_| {})
        .await
        .unwrap();
    (dir, log, Arc::new(rm), plan)
}

/// The sample council with the seals.csv row `seal_id` recorded as the
/// CLI's import records it: a pack seal (the pack at the seal's position,
/// its canonical bytes and the chain root there).
pub async fn sample_council_pack_sealed(seal_id: &str) -> (tempfile::TempDir, Arc<ReadModel>) {
    use perfledger_domain::event::PackPin;
    use perfledger_readmodel::pack::{Rules, RulesVersion};
    use perfledger_readmodel::AsOf;
    let (dir, log, rm, plan) = sample_council_log().await;
    let req = plan
        .seals
        .iter()
        .find(|s| s.seal_id == seal_id)
        .unwrap_or_else(|| panic!("seals.csv has no {seal_id}"));
    let unit = req.unit.as_ref().map(|u| u.as_str());
    let view = rm
        .dashboard(unit, req.period, AsOf::Time(req.sealed_at.0))
        .unwrap();
    let id = RulesVersion::CURRENT.id();
    let record = rm
        .pack_seal_record(
            &Rules::builtin(),
            id,
            unit,
            req.period,
            AsOf::Seq(view.as_of),
        )
        .unwrap()
        .expect("the current rules derive");
    let pack = PackPin {
        chain_root: perfledger_log::integrity::chain_root_at(&*log, view.as_of)
            .await
            .unwrap(),
        format: record.format,
        rules: record.rules,
        digest: record.digest,
        bytes: record.bytes,
    };
    let seal = committee_seal(req, view.as_of, &view.dashboard);
    record_seal(
        &log,
        &rm,
        &plan,
        req,
        Command::SealCommitteePack { seal, pack },
    )
    .await;
    (dir, rm)
}

/// The sample council with the seals.csv row `seal_id` recorded as a
/// dashboard seal (the dashboard at the seal's own time and its digest).
pub async fn sample_council_dashboard_sealed(seal_id: &str) -> (tempfile::TempDir, Arc<ReadModel>) {
    use perfledger_readmodel::AsOf;
    let (dir, log, rm, plan) = sample_council_log().await;
    let req = seal_request(&plan, seal_id);
    let view = rm
        .dashboard(
            req.unit.as_ref().map(|u| u.as_str()),
            req.period,
            AsOf::Time(req.sealed_at.0),
        )
        .unwrap();
    let seal = committee_seal(req, view.as_of, &view.dashboard);
    record_seal(
        &log,
        &rm,
        &plan,
        req,
        Command::SealCommitteeDashboard { seal },
    )
    .await;
    (dir, rm)
}

/// The seals.csv row `seal_id` of the import plan.
fn seal_request<'a>(
    plan: &'a perfledger_import::ImportPlan,
    seal_id: &str,
) -> &'a perfledger_import::SealRequest {
    plan.seals
        .iter()
        .find(|s| s.seal_id == seal_id)
        .unwrap_or_else(|| panic!("seals.csv has no {seal_id}"))
}

/// The committee seal a seals.csv row asks for, over the dashboard at `seq`.
fn committee_seal(
    req: &perfledger_import::SealRequest,
    seq: u64,
    dashboard: &perfledger_domain::dashboard::Dashboard,
) -> perfledger_domain::event::CommitteeSeal {
    use perfledger_domain::event::{CommitteeSeal, Seal};
    CommitteeSeal {
        seal_id: t(&req.seal_id),
        title: req.title.clone(),
        sealed_at: req.sealed_at,
        seal: Seal {
            unit: req.unit.clone(),
            period: req.period,
            committee: req.committee.clone(),
            meeting_date: req.meeting_date,
            seq,
            digest: perfledger_domain::dashboard::digest(dashboard),
        },
    }
}

/// Records `command` (a seal) under the row's command id, as the CLI's
/// import does, and projects it.
async fn record_seal(
    log: &Arc<EmbeddedLog>,
    rm: &ReadModel,
    plan: &perfledger_import::ImportPlan,
    req: &perfledger_import::SealRequest,
    command: Command,
) {
    let env = CommandEnvelope {
        command_id: req.command_id,
        tenant: plan.tenant.clone(),
        actor: req.actor.clone(),
        source: req.source.clone(),
        correlation_id: req.command_id,
        causation_id: None,
        command,
    };
    Ledger::new(log.clone(), "pl")
        .execute(Submitted::at(env, Timestamp::parse("2026-01-01").unwrap()))
        .await
        .unwrap();
    Projector::new(rm)
        .catch_up(&**log, &mut |_| {})
        .await
        .unwrap();
}

/// GET `uri` from `app`: the status and the body as text.
pub async fn get_text(app: axum::Router, uri: &str) -> (axum::http::StatusCode, String) {
    use tower::ServiceExt;
    let res = app
        .oneshot(
            axum::http::Request::get(uri)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let b = axum::body::to_bytes(res.into_body(), 16 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(b.to_vec()).unwrap())
}
