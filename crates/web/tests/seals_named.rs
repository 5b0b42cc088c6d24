//! Issue #14 item 4 on the web: a seal recorded with an id (as the import
//! records seals.csv) shows its id, report title and own sealed time on
//! the home page and in /api/seals.

mod support;

use axum::http::StatusCode;
use perfledger_web::{router, WebState};

#[tokio::test]
async fn a_seal_with_an_id_shows_it_with_its_title_and_time() {
    let (_dir, rm) = support::sample_council_dashboard_sealed("PCMC-2016-09-06-CG-Q1").await;
    let app = router(WebState {
        readmodel: rm,
        title: "Barnet".into(),
    });
    let get = |uri: &'static str| support::get_text(app.clone(), uri);
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
