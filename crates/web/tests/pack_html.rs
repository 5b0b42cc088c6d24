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
    let html = render(&p, &digest, "London Borough of Barnet");

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
    assert_eq!(html, render(&p, &digest, "London Borough of Barnet"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_html_escapes_text_and_css_strings() {
    let (_dir, rm) = support::sample_council().await;
    let q1 = Period::parse("2016/17 Q1").unwrap();
    let p = rm
        .pack(Some("CG"), q1, AsOf::Head, RulesVersion::V1)
        .unwrap();
    let html = render(&p, "d", "Evil\" </style><script>x()</script>");
    assert!(!html.contains("<script"), "{html:.800}");
    assert!(!html.contains("</style><script"));
    assert!(html.contains("Evil\\\" \\3C /style>"));
}
