//! Issue #12 (views): every `200 OK` answer carries an `ETag` (the SHA-256
//! of its bytes); a JSON view pinned to an explicit log sequence is
//! `Cache-Control: public, max-age=31536000, immutable`; `If-None-Match`
//! naming the tag answers 304 with no body. HTML pages, answers at the head
//! or at a date, and errors are not marked immutable.

mod support;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use perfledger_web::router;
use tower::ServiceExt;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const DASH: &str = "/api/dashboard?unit=Commissioning+Group&period=2016%2F17+Q1";

async fn get(
    app: &axum::Router,
    uri: &str,
    if_none_match: Option<&str>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::get(uri);
    if let Some(tag) = if_none_match {
        req = req.header("if-none-match", tag);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = axum::body::to_bytes(res.into_body(), 16 << 20)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

fn sha256_tag(body: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(body);
    format!(
        "\"{}\"",
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[tokio::test]
async fn pinned_json_views_are_immutable_and_revalidate_to_304() {
    let c = support::council().await;
    let app = router(c.state());
    let pinned = [
        format!("{DASH}&as_of={}", c.seal_seq),
        format!(
            "/api/finance?unit=Commissioning+Group&period=2016%2F17+Q1&as_of={}",
            c.seal_seq
        ),
        format!("/api/units?as_of={}", c.seal_seq),
        format!("/api/indicators?as_of={}", c.seal_seq),
        format!("/api/indicators/CG%2FS2?as_of={}", c.seal_seq),
        format!("/api/audit/indicator/CG%2FS2?as_of={}", c.seal_seq),
        format!("/api/risks?as_of={}", c.seal_seq),
        format!("/api/heatmap?unit=Commissioning+Group&as_of={}", c.seal_seq),
    ];
    for uri in &pinned {
        let (status, h, body) = get(&app, uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(header(&h, "cache-control"), IMMUTABLE, "{uri}");
        let tag = header(&h, "etag").to_string();
        assert_eq!(
            tag,
            sha256_tag(&body),
            "{uri}: the tag is the body's digest"
        );
        // The client holds it: 304, no body, the same validators.
        for held in [tag.clone(), format!("\"other\", W/{tag}"), "*".to_string()] {
            let (status, h304, body) = get(&app, uri, Some(&held)).await;
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{uri} with {held}");
            assert!(body.is_empty(), "{uri}");
            assert_eq!(header(&h304, "etag"), tag, "{uri}");
            assert_eq!(header(&h304, "cache-control"), IMMUTABLE, "{uri}");
        }
        // Another tag: the whole answer again.
        let (status, _, again) = get(&app, uri, Some("\"stale\"")).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(again, body, "{uri}");
    }
}

#[tokio::test]
async fn answers_that_can_move_are_tagged_but_not_immutable() {
    let c = support::council().await;
    let app = router(c.state());
    let seq = c.seal_seq;
    let time = c.before_restatement_time.to_string();
    let moving = [
        // At the head.
        DASH.to_string(),
        "/api/units".to_string(),
        // A date resolves to a sequence a backdated import can move.
        format!("{DASH}&as_of={time}"),
        // No period: the latest period known at the head is chosen.
        format!("/api/dashboard?unit=Commissioning+Group&as_of={seq}"),
        // Periods and seal verdicts are judged at the head.
        format!("/api/periods?as_of={seq}"),
        format!("/api/seals?as_of={seq}"),
        // HTML pages name the latest sequence in their as-of bar.
        format!("/dashboard?unit=Commissioning+Group&period=2016%2F17+Q1&as_of={seq}"),
        format!("/?as_of={seq}"),
        format!("/indicators/CG%2FS2?as_of={seq}"),
    ];
    for uri in &moving {
        let (status, h, body) = get(&app, uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(header(&h, "cache-control"), "no-store", "{uri}");
        let tag = header(&h, "etag").to_string();
        assert_eq!(tag, sha256_tag(&body), "{uri}");
        let (status, h304, body) = get(&app, uri, Some(&tag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{uri}");
        assert!(body.is_empty());
        assert_eq!(header(&h304, "cache-control"), "no-store", "{uri}");
    }
    // The same view reached by a date and by its sequence: the same bytes,
    // the same tag (content-addressed), but only the sequence is pinned.
    let (_, by_time, body_t) = get(&app, &format!("{DASH}&as_of={time}"), None).await;
    let at: serde_json::Value = serde_json::from_slice(&body_t).unwrap();
    let resolved = at["as_of"].as_u64().unwrap();
    let (_, by_seq, body_s) = get(&app, &format!("{DASH}&as_of={resolved}"), None).await;
    assert_eq!(body_t, body_s);
    assert_eq!(header(&by_time, "etag"), header(&by_seq, "etag"));
    assert_eq!(header(&by_seq, "cache-control"), IMMUTABLE);
}

#[tokio::test]
async fn errors_are_neither_tagged_nor_cached() {
    let c = support::council().await;
    let app = router(c.state());
    for (uri, want) in [
        (format!("{DASH}&as_of=999999"), StatusCode::BAD_REQUEST),
        (
            "/api/indicators/NOPE?as_of=1".to_string(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/units?as_of=bogus".to_string(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, h, _) = get(&app, &uri, Some("*")).await;
        assert_eq!(status, want, "{uri}");
        assert!(h.get("etag").is_none(), "{uri}");
        assert_ne!(header(&h, "cache-control"), IMMUTABLE, "{uri}");
    }
}
