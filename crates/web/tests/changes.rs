//! Issue #13 item 7 on the web: `/changes?seal=ID` lists every row of the
//! sealed pack that differs now, with the events (actor, reason) that
//! changed it and the summary counts it moved; `/api/changes` is the same as
//! JSON; a missing seal is a 400 and an unknown one a 404.

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
async fn changes_page_lists_cg_s26_with_actor_reason_and_the_counts_it_moved() {
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
    let (s, html) = get("/changes?seal=PCMC-2016-09-06-CG-Q1").await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(
        html.contains("<caption>indicator CG/S26</caption>"),
        "{html}"
    );
    assert!(
        html.contains("<tr><td>result.text</td><td>89%</td><td>90%</td></tr>"),
        "{html}"
    );
    assert!(
        html.contains("Performance Officer, Commissioning Group"),
        "{html}"
    );
    assert!(
        html.contains("Re highways cases closed late in June re-validated"),
        "{html}"
    );
    assert!(
        html.contains(
            "<tr><td>indicators.Green</td><td class=\"num\">8</td><td class=\"num\">9</td><td>CG/S26</td></tr>"
        ),
        "{html}"
    );
    let (s, api) = get("/api/changes?seal=PCMC-2016-09-06-CG-Q1").await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&api).unwrap();
    assert_eq!(v["rows"][0]["key"], "CG/S26");
    assert!(v["rows"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["seq"] == 542 && e["event"] == "ResultRestated"));
    let (s, missing) = get("/changes").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{missing}");
    assert!(missing.contains("seal"), "{missing}");
    let (s, unknown) = get("/changes?seal=NO-SUCH-SEAL").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{unknown}");
    assert!(unknown.contains("NO-SUCH-SEAL"), "{unknown}");
    let (s, _) = get("/api/changes?seal=PCMC-2016-09-06-CG-Q1&as_of=nonsense").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
