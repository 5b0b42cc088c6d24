//! Issue #13 item 7 on the web: `/changes?seal=ID` lists every row of the
//! sealed pack that differs now, with the events (actor, reason) that
//! changed it and the summary counts it moved; `/api/changes` is the same as
//! JSON; a missing seal is a 400 and an unknown one a 404.

mod support;

use axum::http::StatusCode;
use perfledger_web::{router, WebState};

#[tokio::test]
async fn changes_page_lists_cg_s26_with_actor_reason_and_the_counts_it_moved() {
    let (_dir, rm) = support::sample_council_dashboard_sealed("PCMC-2016-09-06-CG-Q1").await;
    let app = router(WebState {
        readmodel: rm,
        title: "Barnet".into(),
    });
    let get = |uri: &'static str| support::get_text(app.clone(), uri);
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
