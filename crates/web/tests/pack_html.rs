//! The committee pack's HTML on the imported sample council: the CG
//! 2016/17 Q1 pack as of the PCMC seal (2016-08-26T12:00:00Z) renders every
//! section of seed 004 with print CSS (A4 `@page`, running header and
//! footer with the scope, period, as-of sequence and digest, a page break
//! before each section), no JavaScript, every seed row, escaped text, and
//! the same bytes for the same pack.

mod support;

use perfledger_domain::{Period, Timestamp};
use perfledger_readmodel::pack::{self, RulesVersion};
use perfledger_readmodel::AsOf;
use perfledger_web::pack_html::render;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cg_q1_pack_html_prints_every_section_with_running_header_and_footer() {
    let (_dir, rm) = support::sample_council().await;
    let at = AsOf::Time(Timestamp::parse("2016-08-26T12:00:00Z").unwrap().0);
    let q1 = Period::parse("2016/17 Q1").unwrap();
    let p = rm.pack(Some("CG"), q1, at, RulesVersion::V1).unwrap();
    let digest = pack::digest_hex(&p);
    let html = render(&p, &digest, None, "London Borough of Barnet");

    // Print CSS: page size, margin boxes carrying the running header and
    // footer, page breaks between sections, no script anywhere.
    assert!(html.contains("@page{size:A4 landscape"), "{html:.400}");
    let top = format!(
        "@top-left{{content:\"London Borough of Barnet · CG · 2016/17 Q1 · as of log sequence {} · rules v1\"",
        p.as_of
    );
    assert!(html.contains(&top), "{html:.600}");
    assert!(html.contains(&format!("@bottom-left{{content:\"pack digest {digest}\"")));
    assert!(html.contains("counter(pages)"));
    assert!(html.contains("section{break-before:page}"));
    assert!(!html.to_lowercase().contains("<script"));

    // The report's sections, in order.
    let ids = [
        "id=\"dashboard\"",
        "id=\"finance\"",
        "id=\"performance\"",
        "id=\"actions\"",
        "id=\"measures\"",
        "id=\"risks\"",
    ];
    let pos: Vec<usize> = ids.iter().map(|i| html.find(i).expect(i)).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{pos:?}");

    // Seed 004 figures: §1.1 capital (4,331); §2.1 Finance (491) -50.7%;
    // §3.2a rows (all 28 the sample holds); §4 33 key actions; §5 FOIs 96%.
    assert!(html.contains("(4,331)"));
    assert!(html.contains("<td class=\"num\">(491)</td><td class=\"num\">-50.7%</td>"));
    let rows = html.matches("<tr><th scope=\"row\">CG/").count();
    assert_eq!(rows, 28 + p.off_target.len(), "indicator rows + §3.2b rows");
    let actions = &html[html.find("id=\"action-table\"").unwrap()..];
    let actions = &actions[..actions.find("</table>").unwrap()];
    assert_eq!(actions.matches("<tr><th scope=\"row\">CG").count(), 33);
    assert!(html.contains("<td class=\"num\">96%</td>"));
    // Every row names its log sequences.
    assert!(html.contains("<td class=\"src\">#"));

    // Same pack, same bytes.
    assert_eq!(html, render(&p, &digest, None, "London Borough of Barnet"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_html_escapes_text_and_css_strings() {
    let (_dir, rm) = support::sample_council().await;
    let q1 = Period::parse("2016/17 Q1").unwrap();
    let p = rm
        .pack(Some("CG"), q1, AsOf::Head, RulesVersion::V1)
        .unwrap();
    let html = render(&p, "d", None, "Evil\" </style><script>x()</script>");
    assert!(!html.contains("<script"), "{html:.800}");
    assert!(!html.contains("</style><script"));
    assert!(html.contains("Evil\\\" \\3C /style>"));
}

/// Issue #13: a pack printed with the log's anchor carries it in the
/// running header and in every page's footer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_html_prints_the_anchor_in_header_and_footer() {
    let (_dir, rm) = support::sample_council().await;
    let q1 = Period::parse("2016/17 Q1").unwrap();
    let p = rm
        .pack(Some("CG"), q1, AsOf::Head, RulesVersion::V1)
        .unwrap();
    let anchor = format!("{}:{}", p.as_of, "ab".repeat(32));
    let html = render(&p, "d", Some(&anchor), "Barnet");
    assert!(
        html.contains(&format!(
            "@bottom-left{{content:\"pack digest d · anchor {anchor}\""
        )),
        "{html:.1200}"
    );
    assert!(html.contains(&format!("anchor <span class=\"digest\">{anchor}</span>")));
    assert!(!render(&p, "d", None, "Barnet").contains("anchor"));
}

async fn get(app: &axum::Router, uri: &str) -> (axum::http::StatusCode, String) {
    use tower::ServiceExt;
    let res = app
        .clone()
        .oneshot(
            axum::http::Request::get(uri)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 64 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_page_and_api() {
    use perfledger_web::html::query;
    let (_dir, rm) = support::sample_council().await;
    let app = perfledger_web::router(perfledger_web::WebState {
        readmodel: rm,
        title: "London Borough of Barnet".into(),
    });
    let q = query(&[
        ("unit", "CG"),
        ("period", "2016/17 Q1"),
        ("as_of", "2016-08-26T12:00:00Z"),
    ]);
    let (s, body) = get(&app, &format!("/api/pack{q}")).await;
    assert_eq!(s, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let digest = v["digest"].as_str().unwrap().to_string();
    assert_eq!(v["pack"]["capital_total"]["variance"], -4331);
    let (s, page) = get(&app, &format!("/pack{q}")).await;
    assert_eq!(s, 200);
    assert!(page.contains(&format!("pack digest {digest}")));
    assert!(page.contains("id=\"performance\""));
    let (s, _) = get(&app, "/pack?unit=CG&period=2016/17%20Q9").await;
    assert_eq!(s, 400);
    let (s, _) = get(&app, "/api/pack?unit=NOPE&period=2016/17%20Q1").await;
    assert_eq!(s, 404);
}

/// Issue #13: the `/pack` page's running header and footer carry the
/// anchor where the read model holds the chain root (its checkpoint, a
/// pack seal's position) and say so elsewhere; `?seal=ID` renders the
/// pack that seal pinned, from its bytes, with the seal id, the sealed
/// digest and the anchor it pinned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_page_carries_anchor_and_seal_id() {
    use perfledger_web::html::query;
    let (_dir, rm) = support::sample_council_pack_sealed("PCMC-2016-09-06-CG-Q1").await;
    let head = rm.checkpoint().unwrap();
    let head_anchor =
        perfledger_readmodel::pack::anchor_text(head, &rm.chain_root().unwrap().unwrap());
    let sealed = rm.sealed_pack("PCMC-2016-09-06-CG-Q1").unwrap();
    let app = perfledger_web::router(perfledger_web::WebState {
        readmodel: rm.clone(),
        title: "Barnet".into(),
    });
    let page_at = |as_of: &str| {
        format!(
            "/pack{}",
            query(&[("unit", "CG"), ("period", "2016/17 Q1"), ("as_of", as_of)])
        )
    };

    // At head: the checkpoint's root.
    let (s, html) = get(&app, &page_at(&head.to_string())).await;
    assert_eq!(s, 200);
    assert!(
        html.contains(&format!("anchor {head_anchor}")),
        "{html:.1500}"
    );
    // At the PCMC seal's position: the root that seal pinned.
    let (_, html) = get(&app, &page_at("541")).await;
    assert!(html.contains(&format!("anchor {}", sealed.anchor)));
    assert!(!html.contains("seal PCMC"), "a derived pack names no seal");
    // Elsewhere: said, not invented.
    let (_, html) = get(&app, &page_at("540")).await;
    assert!(html.contains("anchor at sequence 540: not held by this server"));

    // The sealed pack, from its pinned bytes.
    let (s, html) = get(&app, "/pack?seal=PCMC-2016-09-06-CG-Q1").await;
    assert_eq!(s, 200, "{html}");
    let footer = format!(
        "@bottom-left{{content:\"seal PCMC-2016-09-06-CG-Q1 · pack digest {} · anchor {}\"",
        sealed.digest, sealed.anchor
    );
    assert!(html.contains(&footer), "{html:.1500}");
    assert!(html.contains("· seal PCMC-2016-09-06-CG-Q1\";"), "header");
    assert_eq!(
        html,
        perfledger_web::pack_html::render_sealed(&sealed, "Barnet")
    );
    let (s, body) = get(&app, "/api/pack?seal=PCMC-2016-09-06-CG-Q1").await;
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["seal"], "PCMC-2016-09-06-CG-Q1");
    assert_eq!(v["anchor"], sealed.anchor.as_str());
    assert_eq!(v["digest"], sealed.digest.as_str());
    let (s, _) = get(&app, "/pack?seal=NO-SUCH-SEAL").await;
    assert_eq!(s, 404);
}
