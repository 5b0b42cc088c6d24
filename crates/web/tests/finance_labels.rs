//! Issue #14 item 6 on the web: the finance page says "no data" for a
//! period without figures, labels forecasts carried forward from an
//! earlier quarter, and an unknown unit is a 404.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use perfledger_web::{router, WebState};
use tower::ServiceExt;

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let res = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 16 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn finance_page_says_no_data_and_labels_carried_forward_figures() {
    let (_dir, rm) = support::sample_council().await;
    let app = router(WebState {
        readmodel: rm,
        title: "Barnet".into(),
    });
    let (s, b) = get(&app, "/finance?period=2017%2F18+Q1").await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains("id=\"no-data\""), "{b}");
    assert!(!b.contains("id=\"revenue\""), "{b}");
    let (s, b) = get(&app, "/finance?unit=CG&period=2016%2F17+Q2").await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains("id=\"carried-forward\""), "{b}");
    assert!(b.contains("(forecast as at 2016/17 Q1)"), "{b}");
    let (s, b) = get(&app, "/finance?unit=CG&period=2016%2F17+Q1").await;
    assert_eq!(s, StatusCode::OK);
    assert!(!b.contains("as at 2016/17"), "{b}");
    let (s, _) = get(&app, "/api/dashboard?unit=XX&period=2016%2F17+Q1").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
