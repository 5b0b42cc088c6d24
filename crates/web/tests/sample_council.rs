//! Smoke test over the imported sample council (data/sample-council): every
//! page and API answer for every unit, quarter, indicator and risk is a 200
//! (no internal errors), and seed 004's revenue figures appear.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use perfledger_web::html::{query, url_enc};
use perfledger_web::{router, WebState};
use tower::ServiceExt;

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let res = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 64 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn ok(app: &axum::Router, uri: &str) -> String {
    let (s, body) = get(app, uri).await;
    assert_eq!(s, StatusCode::OK, "{uri}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_the_sample_council_renders() {
    let (_dir, rm) = support::sample_council().await;
    let app = router(WebState {
        readmodel: rm,
        title: "London Borough of Barnet (sample)".into(),
    });

    ok(&app, "/").await;
    let units: serde_json::Value = serde_json::from_str(&ok(&app, "/api/units").await).unwrap();
    let mut scopes = vec![String::new()];
    scopes.extend(
        units["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_string()),
    );
    assert!(scopes.iter().any(|u| u == "CG"), "{scopes:?}");
    let periods: serde_json::Value = serde_json::from_str(&ok(&app, "/api/periods").await).unwrap();
    let quarters: Vec<String> = periods["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .filter(|p| p.contains('Q'))
        .collect();
    assert!(quarters.iter().any(|p| p == "2016/17 Q1"), "{quarters:?}");

    for unit in &scopes {
        ok(&app, &format!("/risks{}", query(&[("unit", unit)]))).await;
        ok(&app, &format!("/indicators{}", query(&[("unit", unit)]))).await;
        for p in &quarters {
            ok(
                &app,
                &format!("/dashboard{}", query(&[("unit", unit), ("period", p)])),
            )
            .await;
            ok(
                &app,
                &format!("/finance{}", query(&[("unit", unit), ("period", p)])),
            )
            .await;
        }
    }
    let list: serde_json::Value = serde_json::from_str(&ok(&app, "/api/indicators").await).unwrap();
    for i in list["indicators"].as_array().unwrap() {
        let key = i["key"].as_str().unwrap();
        ok(&app, &format!("/indicators/{}", url_enc(key, true))).await;
    }
    let risks: serde_json::Value = serde_json::from_str(&ok(&app, "/api/risks").await).unwrap();
    for r in risks["risks"].as_array().unwrap() {
        let id = r["risk_id"].as_str().unwrap();
        ok(&app, &format!("/audit/risk/{}", url_enc(id, true))).await;
    }
    ok(&app, "/api/seals").await;

    // Seed 004 §2.1: Finance line variation (491), -50.7%.
    let fin = ok(&app, "/finance?unit=CG&period=2016%2F17+Q1").await;
    assert!(fin.contains("(491)") && fin.contains("-50.7%"), "{fin}");
    let dash = ok(&app, "/dashboard?unit=CG&period=2016%2F17+Q1").await;
    assert!(dash.contains("id=\"rag-table\"") && dash.contains("id=\"heat-map\""));
}

/// Issue #14 item 6: a known unit in a period it reported nothing for says
/// "no data" on its dashboard instead of showing zeros as figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_without_data_says_so() {
    let (_dir, rm) = support::sample_council().await;
    let app = router(WebState {
        readmodel: rm,
        title: "sample".into(),
    });
    let empty = ok(&app, "/dashboard?unit=CG&period=2019%2F20+Q2").await;
    assert!(
        empty.contains("id=\"no-data\"")
            && empty.contains("nothing was reported for CG in 2019/20 Q2"),
        "{empty}"
    );
    let real = ok(&app, "/dashboard?unit=CG&period=2016%2F17+Q1").await;
    assert!(!real.contains("no-data"));
}
