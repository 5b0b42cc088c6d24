//! The committee pack as one printable HTML document (no JavaScript).
//!
//! Invariant: the HTML is a pure function of the pack and its [`Running`] line
//! (council, digest, anchor, seal id): same inputs → same bytes. It shows every section of
//! the pack in the order of a quarterly report (seed 004: §1 dashboard, §2
//! finance, §3 performance, §4 key actions, §5 measures, §6 risks), each
//! row with the log sequences it was derived from.
//!
//! Print: `@page` sets A4 landscape and puts a running header and footer
//! in the page margin boxes, printed on every page: the council, unit,
//! period, as-of sequence, rules version and seal id at the top, the seal
//! id, the pack's digest, the anchor and "page N of M" at the bottom (on
//! screen the same line is a banner).
//! Every section after the first starts on a new page; table headers
//! repeat and rows are not split across pages.
//!
//! A sealed pack (`?seal=ID`, `perfledger pack --seal ID`) is rendered from
//! the bytes its seal pinned, never re-derived: its header and footer carry
//! the seal id, the sealed digest and the anchor the seal pinned
//! ([`render_sealed`]). A derived pack carries its digest and, when the
//! caller holds it, the anchor; the web server holds it only at a pack
//! seal's position and at its checkpoint (the default as-of) and says so
//! elsewhere ([`Anchor::NotHeld`]).
//!
//! It lives in the web crate (not the read model) because it is a view:
//! it reuses the site's escaping, money and percentage forms and heat-map
//! table; the CLI (`perfledger pack`) and the `/pack` page both call
//! [`render_running`].

use std::fmt::Write;

use perfledger_domain::dashboard::{RagBreakdown, RAGS};
use perfledger_domain::direction::Direction;
use perfledger_domain::printed;
use perfledger_readmodel::pack::{
    IndicatorLine, Num, Pack, ResultCell, RiskSection, SealedPack, TargetCell,
};
use perfledger_readmodel::render;

use crate::html::{esc, money, pct, pct_1dp, pct_fixed, rag_badge, rag_class, rag_name};
use crate::pages::heat_map_table;

/// The JSON form of a pack (`perfledger pack --out x.json`, `/api/pack`):
/// `{"anchor", "digest", "pack", "seal"}`, `anchor` and `seal` present only
/// when known (keys in sorted order).
pub fn json_value(pack: &Pack, run: &Running) -> serde_json::Value {
    let mut v = serde_json::json!({ "digest": run.digest, "pack": pack });
    if let Anchor::Root(a) = run.anchor {
        v["anchor"] = a.into();
    }
    if let Some(id) = run.seal {
        v["seal"] = id.into();
    }
    v
}

const PRINT_CSS: &str = r#"
*{box-sizing:border-box;-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;font:10.5pt/1.35 system-ui,Arial,sans-serif;color:#0b0c0c}
.run{font-size:8pt;color:#505a5f;display:flex;flex-wrap:wrap;justify-content:space-between;gap:0 1rem;border-bottom:1px solid #b1b4b6;margin-bottom:.5rem}
@media print{.run{display:none}}
.digest{font-family:ui-monospace,Consolas,monospace;word-break:break-all}
section{break-before:page}
section:first-of-type{break-before:auto}
h1{font-size:17pt;margin:0 0 .3rem}
h2{font-size:13pt;margin:.2rem 0 .4rem;border-bottom:2px solid #0b0c0c;break-after:avoid}
h3{font-size:11pt;margin:.8rem 0 .3rem;break-after:avoid}
table{border-collapse:collapse;margin:.2rem 0 .8rem;font-variant-numeric:tabular-nums;width:100%}
thead{display:table-header-group}
tr{break-inside:avoid}
caption{text-align:left;font-weight:700;padding:.1rem 0 .3rem}
th,td{border:1px solid #b1b4b6;padding:.15rem .35rem;vertical-align:top}
thead th{background:#f3f2f1;text-align:left}
td.num,th.num{text-align:right;white-space:nowrap}
thead th.num{white-space:normal}
td.wide{width:38%}
td.title{min-width:13rem}
tr.total td,tr.total th{font-weight:700;border-top:2px solid #0b0c0c}
td.src{min-width:8rem;font-size:7.5pt;color:#505a5f;font-family:ui-monospace,Consolas,monospace}
.badge{display:inline-block;padding:0 .3rem;border-radius:2px;font-weight:600;white-space:nowrap}
.rag-g{background:#00703c;color:#fff}.rag-ga{background:#85994b;color:#fff}
.rag-a{background:#ffdd00}.rag-ra{background:#f47738}.rag-r{background:#d4351c;color:#fff}
.rag-none{background:#f3f2f1;border:1px solid #b1b4b6}
table.heat{width:auto}table.heat td{width:3.4rem;height:2rem;text-align:center;vertical-align:middle;font-weight:700}
.band-low{background:#cce2d8}.band-ml{background:#fff7bf}.band-mh{background:#fcd6c3}.band-high{background:#f6b3aa}
.muted{color:#505a5f}
"#;

/// A CSS string literal: quotes and backslashes escaped, `<` written as
/// an escape so no text can close the `<style>` element, controls dropped.
fn css_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("\\3C "),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What the running header and footer print besides the pack itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Running<'a> {
    /// The council's name.
    pub council: &'a str,
    /// The pack's digest ([`perfledger_readmodel::pack::digest_hex`], or
    /// the sealed digest of a sealed pack).
    pub digest: &'a str,
    /// The anchor at the pack's position.
    pub anchor: Anchor<'a>,
    /// The seal id, when rendering the pack a seal pinned.
    pub seal: Option<&'a str>,
}

/// The anchor a printed pack carries: `SEQ:ROOT`, the log's chain root at
/// the pack's position (for `perfledger verify --anchor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor<'a> {
    /// `SEQ:ROOT`.
    Root(&'a str),
    /// The caller does not hold the chain root at that sequence (the web
    /// server away from a seal and its checkpoint): printed as such, with
    /// where to get it.
    NotHeld(u64),
    /// Not printed at all.
    Omitted,
}

impl Anchor<'_> {
    /// The printed text (`anchor SEQ:ROOT`), None when omitted.
    fn text(self) -> Option<String> {
        match self {
            Anchor::Root(a) => Some(format!("anchor {a}")),
            Anchor::NotHeld(s) => Some(format!(
                "anchor at sequence {s}: not held by this server (perfledger pack prints it)"
            )),
            Anchor::Omitted => None,
        }
    }
}

/// The `@page` rule: A4 landscape, running header and footer in the page
/// margin boxes (printed on every page by Chromium): scope, period, as-of
/// sequence, rules version and seal id (when sealed) at the top; the seal
/// id, digest and anchor (when known) and the page number at the bottom.
fn page_rule(pack: &Pack, run: &Running) -> String {
    let mut top = format!(
        "{} · {} · {} · as of log sequence {} · rules {}",
        run.council,
        scope(pack),
        pack.period,
        pack.as_of,
        pack.rules_version.name()
    );
    let mut bottom = format!("pack digest {}", run.digest);
    if let Some(id) = run.seal {
        top.push_str(&format!(" · seal {id}"));
        bottom.insert_str(0, &format!("seal {id} · "));
    }
    if let Some(a) = run.anchor.text() {
        bottom.push_str(&format!(" · {a}"));
    }
    let m = "font-size:7.5pt;color:#505a5f;font-family:system-ui,Arial,sans-serif";
    format!(
        "@page{{size:A4 landscape;margin:14mm 10mm 14mm;\
         @top-left{{content:{};{m}}}\
         @bottom-left{{content:{};{m};font-family:monospace;width:85%}}\
         @bottom-right{{content:\"page \" counter(page) \" of \" counter(pages);{m};white-space:nowrap}}}}",
        css_str(&top),
        css_str(&bottom),
    )
}

/// Printed unit name of a pack (`Council-wide` for the whole council).
fn scope(pack: &Pack) -> String {
    pack.unit
        .clone()
        .unwrap_or_else(|| "Council-wide".to_string())
}

/// The whole document. `council` is the council's name; `digest` is the
/// pack's [`perfledger_readmodel::pack::digest_hex`]; `anchor` is
/// `SEQ:ROOT`, the log's chain root at the pack's position (for
/// `perfledger verify --anchor`), printed in the running header and footer
/// when given. [`render_running`] says more (a seal id, an anchor not held).
pub fn render(pack: &Pack, digest: &str, anchor: Option<&str>, council: &str) -> String {
    render_running(
        pack,
        &Running {
            council,
            digest,
            anchor: anchor.map_or(Anchor::Omitted, Anchor::Root),
            seal: None,
        },
    )
}

/// The pack a seal pinned, rendered from its pinned bytes: the running
/// header and footer carry the seal id, the sealed digest and the anchor
/// the seal pinned.
pub fn render_sealed(sealed: &SealedPack, council: &str) -> String {
    render_running(
        &sealed.pack,
        &Running {
            council,
            digest: &sealed.digest,
            anchor: Anchor::Root(&sealed.anchor),
            seal: Some(&sealed.seal_id),
        },
    )
}

/// The whole document with its running header and footer.
pub fn render_running(pack: &Pack, run: &Running) -> String {
    let title = format!("{} – {} committee pack", scope(pack), pack.period);
    let span = |label: &str, text: &str| {
        format!(
            "<span>{label} <span class=\"digest\">{}</span></span>",
            esc(text)
        )
    };
    let seal_span = run.seal.map(|id| span("seal", id)).unwrap_or_default();
    let anchor_span = match run.anchor {
        Anchor::Root(a) => span("anchor", a),
        Anchor::NotHeld(_) => format!(
            "<span>{}</span>",
            esc(&run.anchor.text().expect("a held-back anchor has a text"))
        ),
        Anchor::Omitted => String::new(),
    };
    let banner = format!(
        "<span>{} · {} · {} · as of log sequence {} · rules {}</span>\
         {seal_span}{}{anchor_span}",
        esc(run.council),
        esc(&scope(pack)),
        esc(&pack.period.to_string()),
        pack.as_of,
        pack.rules_version.name(),
        span("digest", run.digest)
    );
    let mut b = String::new();
    let _ = write!(
        b,
        "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">\
         <title>{t}</title><style>{page}{PRINT_CSS}</style></head><body>\
         <div class=\"run\" role=\"banner\">{banner}</div><main>",
        t = esc(&title),
        page = page_rule(pack, run),
    );
    b.push_str(&dashboard(pack, &title));
    b.push_str(&finance(pack));
    b.push_str(&performance(pack));
    b.push_str(&actions(pack));
    b.push_str(&measures(pack));
    b.push_str(&risks(&pack.risks));
    if !pack.units.is_empty() {
        b.push_str(&units(pack));
    }
    b.push_str("</main></body></html>\n");
    b
}

fn num(n: Num) -> String {
    money(n.0)
}

fn sources(s: &[u64]) -> String {
    let list: Vec<String> = s.iter().map(|x| format!("#{x}")).collect();
    format!("<td class=\"src\">{}</td>", list.join(" "))
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map(esc).unwrap_or_default()
}

fn head(cols: &[&str]) -> String {
    let th: String = cols
        .iter()
        .map(|c| match c.strip_prefix('#') {
            Some(n) => format!("<th scope=\"col\" class=\"num\">{}</th>", esc(n)),
            None => format!("<th scope=\"col\">{}</th>", esc(c)),
        })
        .collect();
    format!("<thead><tr>{th}</tr></thead>")
}

fn rag_counts(b: &RagBreakdown) -> String {
    let mut s = String::new();
    for r in RAGS {
        let n = b.counts.get(&r).copied().unwrap_or(0);
        let p = b.percent_of_rated.get(&r).copied().flatten();
        let _ = write!(s, "<td class=\"num\">{} ({n})</td>", pct(p));
    }
    s
}

fn dashboard(pack: &Pack, title: &str) -> String {
    let d = &pack.dashboard;
    let mut b = format!(
        "<section id=\"dashboard\"><h1>{}</h1><p class=\"muted\">As of log sequence {} · \
         dashboard digest <span class=\"digest\">{}</span></p><h2>1.1 Service dashboard</h2>",
        esc(title),
        pack.as_of,
        esc(&d.digest)
    );
    let _ = write!(
        b,
        "<table id=\"dash-finance\"><caption>Finance (£000)</caption>{}<tbody><tr>\
         <td class=\"num\">{} ({})</td><td class=\"num\">{} ({})</td><td class=\"num\">{} ({})</td>\
         </tr></tbody></table>",
        head(&[
            "#Revenue budget variance",
            "#Capital variance",
            "#Savings achieved"
        ]),
        num(d.revenue_variance),
        pct_1dp(d.revenue_variance_percent_1dp.map(|n| n.0)),
        num(d.capital_variance),
        pct_fixed(d.capital_slippage_percent.map(|n| n.0)),
        num(d.savings_achieved),
        pct_1dp(d.savings_achieved_percent_1dp.map(|n| n.0)),
    );
    let i = &d.indicators;
    let cols: Vec<&str> = RAGS
        .map(rag_name)
        .into_iter()
        .chain(["Improved/Same", "Worsened"])
        .collect();
    let _ = write!(
        b,
        "<table id=\"dash-indicators\"><caption>Indicators: {} reported, {} rated, {} monitor</caption>{}\
         <tbody><tr>{}<td class=\"num\">{} ({})</td><td class=\"num\">{} ({})</td></tr></tbody></table>",
        i.reported,
        i.rated,
        i.monitor,
        head(&cols),
        rag_counts(i),
        pct(i.improved_or_same_percent),
        i.improved_or_same,
        pct(i.worsened_percent),
        i.worsened,
    );
    let names: Vec<&str> = d
        .actions
        .iter()
        .map(|a| render::status_label(a.status))
        .collect();
    let cells: String = d
        .actions
        .iter()
        .map(|a| format!("<td class=\"num\">{} ({})</td>", a.count, pct(a.percent)))
        .collect();
    let _ = write!(
        b,
        "<table id=\"dash-actions\"><caption>Key actions: {}</caption>{}<tbody><tr>{cells}</tr></tbody></table>\
         <p class=\"muted\">Risks escalated (score 15+): {}. Derived from log sequences: {} records.</p></section>",
        d.actions_total,
        head(&names),
        d.risks_escalated,
        d.sources.len()
    );
    b
}

fn finance(pack: &Pack) -> String {
    format!(
        "<section id=\"finance\">{}{}{}</section>",
        revenue(pack),
        capital(pack),
        savings(pack)
    )
}

fn revenue(pack: &Pack) -> String {
    let mut b = String::from("<h2>2.1 Revenue (£000)</h2><table id=\"revenue\">");
    b.push_str(&head(&[
        "Description",
        "#Original budget",
        "#Revised budget",
        "#Forecast",
        "#Variation",
        "#% of revised",
        "Comments",
        "Log",
    ]));
    b.push_str("<tbody>");
    for l in &pack.revenue {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"wide\">{}</td>{}</tr>",
            esc(&l.line),
            num(l.original),
            num(l.revised),
            num(l.forecast),
            num(l.variation),
            pct_1dp(l.variation_percent_1dp.map(|n| n.0)),
            opt(&l.comment),
            sources(&l.sources)
        );
    }
    let t = &pack.revenue_total;
    let _ = write!(
        b,
        "<tr class=\"total\"><th scope=\"row\">Total</th><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td></td><td></td></tr></tbody></table>",
        num(t.original),
        num(t.revised),
        num(t.forecast),
        num(t.variation),
        pct_1dp(t.variation_percent_1dp.map(|n| n.0)),
    );
    b
}

fn capital(pack: &Pack) -> String {
    let mut b = String::new();
    b.push_str("<h2>2.2 Capital (£000)</h2><table id=\"capital\">");
    b.push_str(&head(&[
        "Line",
        "#Approved",
        "#Additions/(deletions)",
        "#(Slippage)/accelerated",
        "#Proposed",
        "#Forecast",
        "#Variance",
        "#% slippage",
        "Comments",
        "Log",
    ]));
    b.push_str("<tbody>");
    for l in &pack.capital {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"wide\">{}</td>{}</tr>",
            esc(&l.line),
            num(l.approved),
            num(l.additions),
            num(l.slippage),
            num(l.proposed),
            num(l.forecast),
            num(l.variance),
            pct_fixed(l.slippage_percent.map(|n| n.0)),
            opt(&l.comment),
            sources(&l.sources)
        );
    }
    let c = &pack.capital_total;
    let _ = write!(
        b,
        "<tr class=\"total\"><th scope=\"row\">Total</th><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td></td><td></td></tr></tbody></table>",
        num(c.approved),
        num(c.additions),
        num(c.slippage),
        num(c.proposed),
        num(c.forecast),
        num(c.variance),
        pct_fixed(c.slippage_percent.map(|n| n.0)),
    );
    b
}

fn savings(pack: &Pack) -> String {
    let mut b = String::new();
    b.push_str("<h2>Savings (£000)</h2><table id=\"savings\">");
    b.push_str(&head(&[
        "Ref",
        "Description",
        "#Target",
        "#Achieved",
        "#%",
        "Log",
    ]));
    b.push_str("<tbody>");
    for l in &pack.savings {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}</tr>",
            esc(&l.reference),
            esc(&l.description),
            num(l.target),
            num(l.achieved),
            pct_1dp(l.achieved_percent_1dp.map(|n| n.0)),
            sources(&l.sources)
        );
    }
    b.push_str("</tbody></table>");
    b
}

fn breakdown_row(label: &str, b: &RagBreakdown) -> String {
    format!(
        "<tr><th scope=\"row\">{}</th>{}<td class=\"num\">{}</td><td class=\"num\">{} ({})</td>\
         <td class=\"num\">{} ({})</td><td class=\"num\">{} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
        esc(label),
        rag_counts(b),
        b.rated,
        pct(b.monitor_percent),
        b.monitor,
        pct(b.improved_or_same_percent),
        b.improved_or_same,
        pct(b.worsened_percent),
        b.worsened,
        b.no_direction,
        b.reported
    )
}

fn overview_head() -> String {
    let mut cols: Vec<String> = vec![String::new()];
    cols.extend(RAGS.iter().map(|r| format!("#{}", rag_name(*r))));
    cols.extend(
        [
            "#Rated",
            "#Monitor",
            "#Improving or same",
            "#Worsening",
            "#No DoT",
            "#Reported",
            "Log",
        ]
        .map(String::from),
    );
    head(&cols.iter().map(String::as_str).collect::<Vec<_>>())
}

fn target(c: &Option<TargetCell>) -> String {
    c.as_ref().map(|c| esc(&c.text)).unwrap_or_default()
}

fn result(c: &Option<ResultCell>) -> String {
    c.as_ref().map(|c| esc(&c.text)).unwrap_or_default()
}

fn dot(d: Option<Direction>) -> &'static str {
    d.map_or(printed::NO_VALUE, printed::direction)
}

fn indicator_row(r: &IndicatorLine) -> String {
    // A rating printed by the source is shown beside the computed one when
    // they differ (the ledger carries both).
    let printed = match r.rag_printed {
        Some(p) if Some(p) != r.rag => {
            format!(
                " <span class=\"muted\">printed {}</span>",
                render::rag_label(p)
            )
        }
        _ => String::new(),
    };
    let rag = if r.monitor {
        "Monitor".to_string()
    } else {
        rag_badge(r.rag)
    };
    format!(
        "<tr><th scope=\"row\">{}</th><td class=\"title\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{rag}{printed}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
        opt(&r.reference),
        esc(&r.title),
        target(&r.annual_target),
        target(&r.period_target),
        result(&r.result),
        result(&r.previous),
        dot(r.direction_short),
        result(&r.last_year),
        dot(r.direction_long),
        esc(&r.benchmarks.join("; ")),
        sources(&r.sources)
    )
}

fn performance(pack: &Pack) -> String {
    let mut b = String::from("<section id=\"performance\"><h2>3.1 Overview by indicator type</h2><table id=\"overview\">");
    b.push_str(&overview_head());
    b.push_str("<tbody>");
    for t in &pack.overview {
        b.push_str(&breakdown_row(t.indicator_type.label(), &t.breakdown));
        b.push_str(&sources(&t.sources));
        b.push_str("</tr>");
    }
    b.push_str(
        &breakdown_row("Overall", &pack.dashboard.indicators)
            .replace("<tr>", "<tr class=\"total\">"),
    );
    b.push_str("<td></td></tr></tbody></table><h2>3.2a Indicators</h2>");
    for g in &pack.indicators {
        let _ = write!(
            b,
            "<h3>{}</h3><table class=\"indicators\">{}<tbody>",
            esc(g.theme.as_deref().unwrap_or("No theme")),
            head(&[
                "Ref",
                "Indicator",
                "Annual target",
                "Period target",
                "Result",
                "RAG",
                "Previous result",
                "DoT short term",
                "Same period last year",
                "DoT long term",
                "Benchmark",
                "Log",
            ])
        );
        for r in &g.rows {
            b.push_str(&indicator_row(r));
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("<h2>3.2b Comments and proposed interventions for indicators off target</h2><table id=\"off-target\">");
    b.push_str(&head(&[
        "Ref and title",
        "RAG",
        "Comments and proposed intervention",
        "Log",
    ]));
    b.push_str("<tbody>");
    for o in &pack.off_target {
        let level = o
            .intervention
            .map(|l| format!(" (intervention level {l})"))
            .unwrap_or_default();
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{} {}</th><td><span class=\"badge {}\">{}</span></td><td class=\"wide\">{}{}</td>{}</tr>",
            opt(&o.reference),
            esc(&o.title),
            rag_class(o.rag),
            rag_name(o.rag),
            opt(&o.commentary),
            level,
            sources(&o.sources)
        );
    }
    b.push_str("</tbody></table></section>");
    b
}

fn actions(pack: &Pack) -> String {
    let mut b =
        String::from("<section id=\"actions\"><h2>4 Key actions</h2><table id=\"action-table\">");
    b.push_str(&head(&[
        "Ref", "Action", "Due", "Status", "Comments", "Log",
    ]));
    b.push_str("<tbody>");
    for a in &pack.actions {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td class=\"wide\">{}</td>{}</tr>",
            esc(&a.reference),
            esc(&a.description),
            opt(&a.due),
            a.status.map(render::status_label).unwrap_or("–"),
            opt(&a.comment),
            sources(&a.sources)
        );
    }
    b.push_str("</tbody></table></section>");
    b
}

fn measures(pack: &Pack) -> String {
    let mut b =
        String::from("<section id=\"measures\"><h2>5 Human resources and customer experience</h2>");
    if pack.measures.is_empty() {
        b.push_str("<p class=\"muted\">No measures reported by the unit's sections.</p>");
    }
    for m in &pack.measures {
        let _ = write!(
            b,
            "<h3>{}</h3><table>{}<tbody>",
            esc(&m.unit),
            head(&["Measure", "#Result", "#%", "Log"])
        );
        for r in &m.rows {
            let _ = write!(
                b,
                "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td>{}</tr>",
                esc(&r.title),
                esc(&r.result.text),
                r.percent.map(|p| format!("{}%", p.0)).unwrap_or_default(),
                sources(&r.sources)
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("</section>");
    b
}

fn risks(r: &RiskSection) -> String {
    let mut b = String::from("<section id=\"risks\"><h2>6 Risk register</h2>");
    if r.rows.is_empty() {
        b.push_str("<p class=\"muted\">No open risks assessed up to this period.</p>");
    } else {
        b.push_str("<table id=\"risk-table\">");
        b.push_str(&head(&[
            "Risk",
            "Title",
            "Owner",
            "Assessed",
            "#Current",
            "#Target",
            "Escalated",
            "Log",
        ]));
        b.push_str("<tbody>");
        for x in &r.rows {
            let score = |s: Option<u8>| s.map(|v| v.to_string()).unwrap_or_else(|| "–".into());
            let _ = write!(
                b,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td>{}</td>{}</tr>",
                esc(&x.risk_id),
                esc(&x.title),
                opt(&x.owner),
                x.period.map(|p| p.to_string()).unwrap_or_default(),
                score(x.current_score),
                score(x.target_score),
                if x.escalated { "Yes (15+)" } else { "" },
                sources(&x.sources)
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str(&heat_map_table(
        "heat-current",
        "Current risk scores",
        &r.heat_map_current,
    ));
    b.push_str(&heat_map_table(
        "heat-target",
        "Target risk scores",
        &r.heat_map_target,
    ));
    b.push_str("</section>");
    b
}

fn units(pack: &Pack) -> String {
    let mut b = String::from(
        "<section id=\"units\"><h2>Service performance by unit</h2><table id=\"unit-overview\">",
    );
    b.push_str(&overview_head());
    b.push_str("<tbody>");
    for u in &pack.units {
        b.push_str(&breakdown_row(&u.unit, &u.breakdown));
        b.push_str(&sources(&u.sources));
        b.push_str("</tr>");
    }
    b.push_str("</tbody></table></section>");
    b
}
