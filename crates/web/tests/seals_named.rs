//! Issue #14 item 4 on the web: a seal recorded with an id (as the import
//! records seals.csv) shows its id, report title and own sealed time on
//! the home page and in /api/seals.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::event::{CommitteeSeal, Seal};
use perfledger_domain::{Text, Timestamp};
use perfledger_ledger::{Ledger, Submitted};
use perfledger_log::embedded::EmbeddedLog;
use perfledger_readmodel::{AsOf, Projector, ReadModel};
use perfledger_web::{router, WebState};
use tower::ServiceExt;

fn t(s: &str) -> Text {
    Text::new("test", s).unwrap()
}

#[tokio::test]
async fn a_seal_with_an_id_shows_it_with_its_title_and_time() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council");
    let mut opts = perfledger_import::ImportOptions::new(
        t("Performance Officer"),
        Timestamp::parse("2026-01-01").unwrap(),
    );
    // The sample is history: load it at its claimed recorded times.
    opts.backdated = true;
    let plan = perfledger_import::load_dir(&data, &opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).await.unwrap());
    let ledger = Ledger::new(log.clone(), "pl");
    ledger
        .execute_batch(plan.submissions.clone(), |_, _| {})
        .await
        .unwrap();
    let rm = ReadModel::open(dir.path().join("rm"), &plan.tenant).unwrap();
    Projector::new(&rm)
        .catch_up(&*log, &mut |_| {})
        .await
        .unwrap();
    // Seal the PCMC row of seals.csv as the CLI's import does.
    let req = plan
        .seals
        .iter()
        .find(|s| s.seal_id == "PCMC-2016-09-06-CG-Q1")
        .unwrap();
    let view = rm
        .dashboard(
            req.unit.as_ref().map(|u| u.as_str()),
            req.period,
            AsOf::Time(req.sealed_at.0),
        )
        .unwrap();
    let seal = CommitteeSeal {
        seal_id: t(&req.seal_id),
        title: req.title.clone(),
        sealed_at: req.sealed_at,
        seal: Seal {
            unit: req.unit.clone(),
            period: req.period,
            committee: req.committee.clone(),
            meeting_date: req.meeting_date,
            seq: view.as_of,
            digest: perfledger_domain::dashboard::digest(&view.dashboard),
        },
    };
    let env = CommandEnvelope {
        command_id: req.command_id,
        tenant: plan.tenant.clone(),
        actor: req.actor.clone(),
        source: req.source.clone(),
        correlation_id: req.command_id,
        causation_id: None,
        command: Command::SealCommitteeDashboard { seal },
    };
    ledger
        .execute(Submitted::at(env, Timestamp::parse("2026-01-01").unwrap()))
        .await
        .unwrap();
    Projector::new(&rm)
        .catch_up(&*log, &mut |_| {})
        .await
        .unwrap();
    let app = router(WebState {
        readmodel: Arc::new(rm),
        title: "Barnet".into(),
    });
    let get = |uri: &'static str| {
        let app = app.clone();
        async move {
            let res = app
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = res.status();
            let b = axum::body::to_bytes(res.into_body(), 16 << 20)
                .await
                .unwrap();
            (status, String::from_utf8(b.to_vec()).unwrap())
        }
    };
    let (s, home) = get("/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        home.contains("<span class=\"seal-id\">PCMC-2016-09-06-CG-Q1</span>"),
        "{home}"
    );
    assert!(home.contains("Commissioning Group – Q1 2016/17"), "{home}");
    assert!(home.contains("sealed 2016-08-26T12:00:00Z"), "{home}");
    let (s, api) = get("/api/seals").await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&api).unwrap();
    let seal = &v["seals"][0];
    assert_eq!(seal["seal_id"], "PCMC-2016-09-06-CG-Q1");
    assert_eq!(seal["sealed_at"], "2016-08-26T12:00:00Z");
    assert_eq!(seal["verdict"]["matches"], true);
}
