//! The router over a read model built from real events: pages, the JSON
//! API, as-of, errors and escaping.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use perfledger_web::router;
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
}

async fn get(app: &axum::Router, uri: &str) -> Answer {
    let res = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(res.into_body(), 16 << 20)
        .await
        .unwrap();
    Answer {
        status,
        content_type,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get_json(app: &axum::Router, uri: &str) -> (StatusCode, serde_json::Value) {
    let a = get(app, uri).await;
    assert!(
        a.content_type.starts_with("application/json"),
        "{uri}: {}",
        a.content_type
    );
    (a.status, serde_json::from_str(&a.body).expect("json body"))
}

const DASH: &str = "/dashboard?unit=Commissioning+Group&period=2016%2F17+Q1";

#[tokio::test]
async fn dashboard_page_has_rag_counts_heat_map_finance_and_seal() {
    let c = support::council().await;
    let app = router(c.state());
    let a = get(&app, DASH).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.content_type.starts_with("text/html"));
    let b = &a.body;
    // RAG at head: Green 1 (CG/S1), Red 2 (CG/S2 restated, CG/C4); C3 Monitor.
    assert!(b.contains("id=\"rag-table\""));
    assert!(
        b.contains("<td class=\"num\" data-rag=\"G\">33% (1)</td>"),
        "{b}"
    );
    assert!(
        b.contains("<td class=\"num\" data-rag=\"GA\">0% (0)</td>"),
        "{b}"
    );
    assert!(
        b.contains("<td class=\"num\" data-rag=\"R\">67% (2)</td>"),
        "{b}"
    );
    // Monitor 1 of 4 reported.
    assert!(b.contains("<td class=\"num\">25% (1)</td>"), "{b}");
    // Per type rows.
    assert!(b.contains(">CPI</abbr>") && b.contains(">SPI</abbr>"));
    // DoT: S1 improving (92 vs 85), C4 worsening (60 vs 65).
    assert!(b.contains("id=\"dot-improved\">50% (1)</td>"), "{b}");
    assert!(b.contains("id=\"dot-worsened\">50% (1)</td>"), "{b}");
    // Heat map: one risk at impact 4 × probability 4, one at 3 × 2.
    assert!(b.contains("id=\"heat-map\""));
    assert!(b.contains("data-impact=\"4\" data-probability=\"4\" data-count=\"1\""));
    assert!(b.contains("data-impact=\"3\" data-probability=\"2\" data-count=\"1\""));
    assert!(b.contains("data-impact=\"5\" data-probability=\"5\" data-count=\"0\""));
    // Impact rows 5 → 1.
    let i5 = b.find("<th scope=\"row\">5 Catastrophic</th>").unwrap();
    let i1 = b.find("<th scope=\"row\">1 Negligible</th>").unwrap();
    assert!(i5 < i1);
    // Finance summary: revenue 819 (4.0%), capital (4,331) (12%), savings 1,909 (79.3%).
    assert!(b.contains("819 (4.0%)"), "{b}");
    assert!(b.contains("(4,331) (12%)"), "{b}");
    assert!(b.contains("1,909 (79.3%)"), "{b}");
    // Key actions.
    assert!(b.contains("<td class=\"num\">1 (100%)</td>"), "{b}");
    // Seal made before the restatement: differs from the head view.
    assert!(b.contains("Sealed for <strong>Policy &amp; Resources</strong> on 2016-09-06"));
    assert!(b.contains("differs from this view"), "{b}");
    // Digest and log position at the bottom; as-of banner.
    let view =
        c.rm.dashboard(
            Some(support::UNIT),
            perfledger_domain::Period::parse("2016/17 Q1").unwrap(),
            perfledger_readmodel::AsOf::Head,
        )
        .unwrap();
    assert!(b.contains(&view.digest));
    assert!(b.contains(&format!("Log position: sequence {}", c.restated_at)));
    assert!(b.contains(&format!("As of sequence {}", c.restated_at)));
    assert!(b.contains("(recorded ≤ 2016-07-"), "{b}");
}

#[tokio::test]
async fn dashboard_as_of_the_seal_matches_it() {
    let c = support::council().await;
    let app = router(c.state());
    let a = get(&app, &format!("{DASH}&as_of={}", c.seal_seq)).await;
    assert_eq!(a.status, StatusCode::OK);
    // Before the restatement: Green 1, Green Amber 1 (78% vs 80%), Red 1.
    assert!(
        a.body.contains("data-rag=\"GA\">33% (1)</td>"),
        "{}",
        a.body
    );
    assert!(a.body.contains("matches this view"), "{}", a.body);
    assert!(a.body.contains("the latest is sequence"));
    // Council-wide (no unit) works too.
    let a = get(&app, "/dashboard?period=2016/17+Q1").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("Council-wide dashboard — 2016/17 Q1"));
    // No period: the latest quarter.
    let a = get(&app, "/dashboard").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("2016/17 Q1"));
}

#[tokio::test]
async fn indicator_page_restated_value_at_head_original_before() {
    let c = support::council().await;
    let app = router(c.state());
    for path in ["/indicators/CG/S2", "/indicators/CG%2FS2"] {
        let a = get(&app, path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        assert!(
            a.body.contains("<td class=\"result\">70%</td>"),
            "{}",
            a.body
        );
        assert!(!a.body.contains("<td class=\"result\">78%</td>"));
        // Audit trail: the restatement with reason, before → after.
        assert!(a.body.contains("Late contract data from the provider"));
        assert!(a.body.contains("78% → <strong>70%</strong>"), "{}", a.body);
        assert!(a.body.contains("<svg class=\"chart\""));
        assert!(a.body.contains("Red (R)"));
    }
    let before = c.restated_at - 1;
    let a = get(&app, &format!("/indicators/CG/S2?as_of={before}")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.body.contains("<td class=\"result\">78%</td>"),
        "{}",
        a.body
    );
    assert!(!a.body.contains("Late contract data"));
    assert!(a.body.contains("Green Amber (GA)"));
    // The same by recorded time (RFC 3339 and date-time-local forms).
    let t = c.before_restatement_time.to_string();
    let a = get(&app, &format!("/indicators/CG/S2?as_of={t}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("<td class=\"result\">78%</td>"));
    assert!(
        a.body
            .contains(&format!("As of sequence {before} (recorded ≤ {t})")),
        "{}",
        a.body
    );
    // JSON.
    let (s, v) = get_json(&app, "/api/indicators/CG%2FS2").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["key"], "CG/S2");
    let row = &v["rows"][0];
    assert_eq!(row["result"], "70%");
    assert_eq!(row["restatements"], 1);
    let (_, v) = get_json(&app, &format!("/api/indicators/CG%2FS2?as_of={before}")).await;
    assert_eq!(v["rows"][0]["result"], "78%");
    assert_eq!(v["as_of"], before);
}

#[tokio::test]
async fn other_pages_render() {
    let c = support::council().await;
    let app = router(c.state());
    let a = get(&app, "/").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("Commissioning Group"));
    assert!(a.body.contains("2015/16 Q1") && a.body.contains("2016/17 Q1"));
    assert!(a
        .body
        .contains("Sealed for <strong>Policy &amp; Resources</strong>"));
    let a = get(&app, "/indicators?unit=commissioning+group").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("href=\"/indicators/CG/S1\""), "{}", a.body);
    assert!(a
        .body
        .contains("Satisfaction with &lt;b&gt;customer&lt;/b&gt; services"));
    let a = get(&app, "/risks").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("Contract &lt;failure&gt;"));
    assert!(a.body.contains("4×4 = 16 (High)"));
    assert!(a.body.contains("id=\"heat-map-target\""));
    let a = get(&app, "/finance?unit=Commissioning+Group&period=2016/17+Q1").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("Strategic Commissioning"));
    assert!(a.body.contains("20,475") && a.body.contains("21,294") && a.body.contains("4.0%"));
    assert!(a.body.contains("(4,331)") && a.body.contains("31,761"));
    assert!(a.body.contains("P&amp;R1") && a.body.contains("2,407"));
    let a = get(&app, "/audit/risk/CG001").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("current 4×4 = 16"), "{}", a.body);
}

#[tokio::test]
async fn json_api() {
    let c = support::council().await;
    let app = router(c.state());
    let (s, v) = get_json(&app, "/api/units").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["units"][0]["name"], "Commissioning Group");
    assert_eq!(v["as_of"], c.restated_at);
    let (s, v) = get_json(
        &app,
        "/api/dashboard?unit=Commissioning%20Group&period=2016/17%20Q1",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["indicators"]["counts"]["Red"]["count"], 2);
    assert_eq!(v["risks"]["heat_map"]["4"][3], 1);
    assert!(v["digest"].as_str().unwrap().len() == 64);
    let (_, v) = get_json(&app, "/api/indicators?unit=Commissioning+Group").await;
    assert_eq!(v["indicators"].as_array().unwrap().len(), 4);
    let (s, v) = get_json(&app, "/api/audit/indicator/CG%2FS2").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["entries"].as_array().unwrap().len(), 4);
    assert_eq!(v["digest"].as_str().unwrap().len(), 64);
    let (_, v) = get_json(&app, "/api/risks").await;
    assert_eq!(v["escalated"][0], "CG001");
    let (_, v) = get_json(&app, "/api/heatmap").await;
    assert_eq!(v["current"]["cells"][2][1], 1);
    let (_, v) = get_json(&app, "/api/finance?period=2016/17+Q1").await;
    assert_eq!(v["revenue"][0]["variation"], 819);
    let (_, v) = get_json(&app, "/api/seals").await;
    assert_eq!(v["seals"][0]["committee"], "Policy & Resources");
    assert_eq!(v["seals"][0]["verdict"]["matches"], true);
    assert!(!v["seals"][0]["verdict"]["changed_since"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn bad_parameters_are_400_naming_them_unknown_entities_404() {
    let c = support::council().await;
    let app = router(c.state());
    let (s, v) = get_json(&app, "/api/dashboard?period=2016%2F17+Q9").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["parameter"], "period");
    assert_eq!(v["value"], "2016/17 Q9");
    let (s, v) = get_json(&app, "/api/dashboard?period=2016/17+Q1&as_of=last+tuesday").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["parameter"], "as_of");
    assert_eq!(v["value"], "last tuesday");
    let (s, v) = get_json(&app, "/api/units?as_of=999999").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["parameter"], "as_of");
    let (s, v) = get_json(&app, "/api/audit/gizmo/x").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["parameter"], "kind");
    let (s, _) = get_json(&app, "/api/indicators/NOPE%2F1").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get_json(&app, "/api/risks?unit=Nowhere").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get_json(&app, "/api/nothing").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // HTML pages answer HTML errors naming the parameter, escaped.
    let a = get(&app, "/dashboard?period=%3Cscript%3Ex").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.content_type.starts_with("text/html"));
    assert!(a.body.contains("<code>period</code>"));
    assert!(a.body.contains("&lt;script&gt;x"));
    assert!(!a.body.contains("<script>x"));
    let a = get(&app, "/indicators/CG/S2?as_of=2016-99-01").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("<code>as_of</code>"));
    let a = get(&app, "/indicators/ZZ/9").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = get(&app, "/no/such/page").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn title_and_text_are_escaped_everywhere() {
    let c = support::council().await;
    let app = router(c.state());
    for path in [
        "/",
        DASH,
        "/indicators",
        "/indicators/CG/S1",
        "/risks",
        "/finance",
        "/audit/indicator/CG%2FS1",
        "/dashboard?period=bad",
    ] {
        let a = get(&app, path).await;
        assert!(
            a.body
                .contains("Barnet &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"),
            "{path}"
        );
        assert!(!a.body.contains("<script>"), "{path}: unescaped script");
        assert!(!a.body.contains("<b>customer"), "{path}");
        assert!(!a.body.contains("<failure>"), "{path}");
    }
}

#[tokio::test]
async fn serve_on_a_real_listener() {
    let c = support::council().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(perfledger_web::serve_with_shutdown(
        c.state(),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let body = support_http::get(addr, "/api/units").await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("Commissioning Group"));
    let body = support_http::get(addr, "/dashboard?period=2016%2F17+Q1").await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("id=\"heat-map\""));
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

mod support_http {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A raw HTTP/1.1 GET (Connection: close); the whole response as text.
    pub async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[tokio::test]
async fn hostile_requests_never_answer_500() {
    let c = support::council().await;
    let app = router(c.state());
    let long = "x".repeat(10_000);
    let uris = [
        "/dashboard?period=%FF".to_string(),
        "/dashboard?unit=%00&period=2016/17+Q1".to_string(),
        "/dashboard?as_of=-1".to_string(),
        "/dashboard?as_of=18446744073709551615".to_string(),
        "/dashboard?as_of=0".to_string(),
        "/dashboard?as_of=1900-01-01".to_string(),
        "/dashboard?as_of=9999-12-31T23:59:59.999999Z".to_string(),
        "/dashboard?as_of=2016-07-01T05:00:00%2B14:00".to_string(),
        format!("/dashboard?period={long}"),
        format!("/indicators/{long}"),
        "/indicators/%FF%FE".to_string(),
        "/indicators/..%2F..%2Fetc".to_string(),
        "/audit/indicator/%FF".to_string(),
        "/audit/%E2%80%AE/x".to_string(),
        "/api/audit/risk/%FF".to_string(),
        "/api/indicators/%C0%AF".to_string(),
        "/api/finance?period=Dec+1899".to_string(),
        "/api/finance?period=2016/17&unit=Commissioning%20Group".to_string(),
        "/finance?period=H1+2016/17".to_string(),
        "/risks?unit=%F0%9F%92%A9".to_string(),
        "/?as_of=%20%20".to_string(),
        "/?a=1&a=2&as_of=1&as_of=2".to_string(),
    ];
    for uri in &uris {
        let a = get(&app, uri).await;
        assert!(
            matches!(a.status.as_u16(), 200 | 400 | 404),
            "{uri}: {} {}",
            a.status,
            a.body
        );
        if uri.starts_with("/api/") {
            assert!(a.content_type.starts_with("application/json"), "{uri}");
        } else {
            assert!(
                a.content_type.starts_with("text/html"),
                "{uri}: {}",
                a.content_type
            );
        }
    }
}
