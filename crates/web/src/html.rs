//! HTML building blocks: escaping, URL encoding, the page layout with its
//! inline print-friendly CSS, and the printed forms of amounts and
//! percentages (amounts in £000 with brackets for negatives, as councils
//! print them). No floats: everything works on `Fixed` raw integers.

use std::fmt::Write;

use perfledger_domain::printed::{self, NO_VALUE};
use perfledger_domain::rag::Rag;
use perfledger_domain::Fixed;
use perfledger_readmodel::render;

/// Escape text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode a query value or path segment (everything except the
/// RFC 3986 unreserved characters; `/` kept when `keep_slash`).
pub fn url_enc(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b'/' if keep_slash => out.push('/'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// A query string from pairs, skipping empty values (`?a=1&b=2`, or "").
pub fn query(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", url_enc(v, false)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// An amount as councils print it: thousands separators, negatives in
/// brackets (`(4,331)`, `1,909`, `12.5`) ([`printed::amount`]).
pub fn money(f: Fixed) -> String {
    printed::amount(f)
}

/// A percentage to one decimal place (`4.0%`, `-12.5%`), from a value
/// already rounded to 1dp; "–" when absent.
pub fn pct_1dp(p: Option<Fixed>) -> String {
    printed::percent_1dp_or(p, NO_VALUE)
}

/// A whole percentage (`96%`), "–" when absent.
pub fn pct(p: Option<i64>) -> String {
    printed::percent_or(p, NO_VALUE)
}

/// A whole percentage held in a `Fixed`, minus for negatives (`-12%`), "–"
/// when absent: the committee pack's slippage, whose printed form sealed
/// packs pin ([`printed::percent_signed`]).
pub fn pct_fixed(p: Option<Fixed>) -> String {
    printed::percent_signed_or(p, NO_VALUE)
}

/// Capital slippage as a whole percentage, negatives in brackets like
/// every negative figure (`(12%)`, `3%`), "–" when absent.
pub fn slippage_pct(p: Option<Fixed>) -> String {
    printed::slippage_percent_or(p, NO_VALUE)
}

/// Full name of a RAG colour.
pub fn rag_name(r: Rag) -> &'static str {
    r.name()
}

/// CSS class of a RAG colour.
pub fn rag_class(r: Rag) -> &'static str {
    match r {
        Rag::Green => "rag-g",
        Rag::GreenAmber => "rag-ga",
        Rag::Amber => "rag-a",
        Rag::RedAmber => "rag-ra",
        Rag::Red => "rag-r",
    }
}

/// A RAG badge: colour plus its printed name and short label.
pub fn rag_badge(r: Option<Rag>) -> String {
    match r {
        Some(r) => format!(
            "<span class=\"badge {}\">{} ({})</span>",
            rag_class(r),
            rag_name(r),
            render::rag_label(r)
        ),
        None => "<span class=\"badge rag-none\">Not rated</span>".to_string(),
    }
}

const CSS: &str = r#"
:root{--ink:#0b0c0c;--muted:#505a5f;--line:#b1b4b6;--bg:#fff;--link:#1d70b8;--panel:#f3f2f1}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Arial,sans-serif;color:var(--ink);background:var(--bg)}
header.site{background:#0b0c0c;color:#fff;padding:.6rem 1.2rem;display:flex;flex-wrap:wrap;align-items:baseline;gap:.4rem 1.6rem}
header.site .brand{font-weight:700;font-size:1.15rem;color:#fff;text-decoration:none}
header.site nav a{color:#fff;margin-right:1rem;text-decoration:none;border-bottom:3px solid transparent}
header.site nav a[aria-current=page]{border-bottom-color:#ffdd00}
main{padding:1rem 1.2rem 2rem;max-width:1200px}
h1{font-size:1.6rem;margin:.3rem 0 .6rem}
h2{font-size:1.25rem;margin:1.6rem 0 .5rem;border-bottom:2px solid var(--ink);padding-bottom:.15rem}
a{color:var(--link)}
.asof{background:var(--panel);border-left:5px solid var(--link);padding:.5rem .8rem;margin:.4rem 0 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1.2rem;align-items:end}
.asof p{margin:0;font-weight:600;flex-basis:100%}
.asof form{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin:0}
.asof label{display:flex;flex-direction:column;font-size:.85rem;color:var(--muted)}
.asof input,.asof select{font:inherit;padding:.2rem .35rem;border:2px solid var(--ink);min-width:10rem}
.asof button{font:inherit;padding:.25rem .9rem;background:#00703c;color:#fff;border:0;box-shadow:0 2px 0 #002d18;cursor:pointer}
table{border-collapse:collapse;margin:.3rem 0 1rem;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:700;padding:.2rem 0 .35rem}
th,td{border:1px solid var(--line);padding:.3rem .55rem;vertical-align:top}
thead th{background:var(--panel);text-align:left}
td.num{text-align:right;white-space:nowrap}
th.num{text-align:right}
tbody th{text-align:left}
tr.total th,tr.total td{font-weight:700;border-top:2px solid var(--ink)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:0 2rem}
.badge{display:inline-block;padding:0 .4rem;border-radius:3px;font-weight:600;white-space:nowrap}
.rag-g{background:#00703c;color:#fff}.rag-ga{background:#85994b;color:#fff}
.rag-a{background:#ffdd00;color:#0b0c0c}.rag-ra{background:#f47738;color:#0b0c0c}
.rag-r{background:#d4351c;color:#fff}.rag-none{background:#f3f2f1;color:#0b0c0c;border:1px solid var(--line)}
th.rag-g,th.rag-ga,th.rag-a,th.rag-ra,th.rag-r{text-align:center}
.st-green{background:#00703c;color:#fff}.st-green-amber{background:#85994b;color:#fff}.st-red-amber{background:#f47738}.st-red{background:#d4351c;color:#fff}.st-not-rated{background:#f3f2f1}
table.heat td{width:5.6rem;height:3.4rem;text-align:center;vertical-align:middle;font-weight:700;font-size:1.3rem}
table.heat td[data-count="0"]{font-weight:400;font-size:1rem;color:#505a5f}
table.heat td small{display:block;font-weight:400;font-size:.75rem;color:#0b0c0c}
table.heat thead th{font-size:.85rem;text-align:center}
table.heat tbody th{vertical-align:middle}
table.overview{font-size:.92rem}
.band-low{background:#cce2d8}.band-ml{background:#fff7bf}.band-mh{background:#fcd6c3}.band-high{background:#f6b3aa}
.legend span{display:inline-block;padding:.05rem .45rem;margin:0 .4rem .3rem 0;border:1px solid var(--line);font-size:.85rem}
.figure{font-size:1.35rem;font-weight:700}
.muted{color:var(--muted)}
dl.grid{grid-template-columns:repeat(auto-fit,minmax(220px,1fr));margin:.2rem 0 1rem}
dl.grid dt{font-weight:700;font-size:.85rem;color:var(--muted)}
dl.grid dd{margin:0 0 .6rem}
td.when{white-space:nowrap}
.seal{border:2px solid var(--ink);padding:.45rem .75rem;margin:.4rem 0}
.seal.ok{border-color:#00703c}.seal.differs{border-color:#d4351c}
.error{border-left:5px solid #d4351c;padding:.4rem .7rem;background:#fdf1ef}
footer{border-top:1px solid var(--line);margin-top:2rem;padding-top:.6rem;font-size:.85rem;color:var(--muted)}
code,.digest{font-family:ui-monospace,Consolas,monospace;font-size:.85em;word-break:break-all}
svg.chart{max-width:100%;height:auto;border:1px solid var(--line)}
.skip{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:#ffdd00;color:#0b0c0c;padding:.3rem .6rem;z-index:1}
.vh{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media print{
 header.site{background:none;color:#000;border-bottom:2px solid #000}
 header.site .brand{color:#000}
 header.site nav,.asof form,.noprint{display:none}
 .asof{border:1px solid #000;background:none}
 body{font-size:11pt}
 main{max-width:none;padding:0}
 a{color:#000;text-decoration:none}
 h2{break-after:avoid}
 table,svg{break-inside:avoid}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"#;

/// The as-of banner and selector: what position the page shows and a GET
/// form to choose another (hidden inputs keep the page's other parameters;
/// `extra` adds visible fields such as unit and period selectors).
pub struct AsOfBar<'a> {
    /// Form action (the page's path).
    pub action: &'a str,
    /// The `as_of` as given.
    pub as_of_raw: &'a str,
    /// Sequence shown.
    pub seq: u64,
    /// Recorded time of that prefix (ms).
    pub recorded_at: Option<i64>,
    /// Checkpoint (head).
    pub head: u64,
    /// Hidden parameters to keep.
    pub keep: Vec<(&'a str, String)>,
    /// Extra visible form fields (already HTML).
    pub extra: String,
}

impl AsOfBar<'_> {
    /// Render the bar.
    pub fn render(&self) -> String {
        let when = match self.recorded_at {
            Some(t) => format!(
                " (recorded ≤ {})",
                esc(&perfledger_domain::Timestamp(t).to_string())
            ),
            None => String::new(),
        };
        let head = if self.seq == self.head {
            " — the latest position".to_string()
        } else {
            format!(" — the latest is sequence {}", self.head)
        };
        let mut hidden = String::new();
        for (k, v) in &self.keep {
            if !v.is_empty() {
                let _ = write!(
                    hidden,
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                    esc(k),
                    esc(v)
                );
            }
        }
        format!(
            "<section class=\"asof\" aria-label=\"Position in the ledger\">\
             <p id=\"asof-status\">As of sequence {seq}{when}{head}</p>\
             <form method=\"get\" action=\"{action}\">{hidden}{extra}\
             <label for=\"as_of\">As of: log sequence or date/time (UTC)\
             <input id=\"as_of\" name=\"as_of\" value=\"{raw}\" placeholder=\"e.g. 42 or 2016-09-06T10:00\"></label>\
             <button type=\"submit\">Show</button></form></section>",
            seq = self.seq,
            action = esc(self.action),
            extra = self.extra,
            raw = esc(self.as_of_raw),
        )
    }
}

/// A whole page. `active` names the nav entry to mark.
pub fn layout(
    site_title: &str,
    page_title: &str,
    active: &str,
    as_of: Option<&AsOfBar<'_>>,
    body: &str,
) -> String {
    let nav: String = [
        ("home", "/", "Home"),
        ("dashboard", "/dashboard", "Dashboard"),
        ("indicators", "/indicators", "Indicators"),
        ("risks", "/risks", "Risks"),
        ("finance", "/finance", "Finance"),
    ]
    .iter()
    .map(|(id, href, label)| {
        let cur = if *id == active {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{cur}>{label}</a>")
    })
    .collect();
    let bar = as_of.map(AsOfBar::render).unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{pt} — {st}</title><style>{CSS}</style></head><body>\
         <a class=\"skip\" href=\"#main\">Skip to main content</a>\
         <header class=\"site\"><a class=\"brand\" href=\"/\">{st}</a>\
         <nav aria-label=\"Main\">{nav}</nav></header>\
         <main id=\"main\"><h1>{pt}</h1>{bar}{body}</main></body></html>\n",
        pt = esc(page_title),
        st = esc(site_title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<script>alert('x&y')</script>\""),
            "&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;&quot;"
        );
    }

    #[test]
    fn url_encoding() {
        assert_eq!(
            url_enc("Policy & Resources", false),
            "Policy%20%26%20Resources"
        );
        assert_eq!(url_enc("CG/S24", true), "CG/S24");
        assert_eq!(url_enc("CG/S24", false), "CG%2FS24");
        assert_eq!(url_enc("£", false), "%C2%A3");
        assert_eq!(query(&[("a", "1 2"), ("b", "")]), "?a=1%202");
    }

    #[test]
    fn amounts() {
        assert_eq!(money(Fixed::parse_full("-4331").unwrap()), "(4,331)");
        assert_eq!(money(Fixed::parse_full("1909").unwrap()), "1,909");
        assert_eq!(
            money(Fixed::parse_full("1234567.5").unwrap()),
            "1,234,567.5"
        );
        assert_eq!(money(Fixed::ZERO), "0");
        assert_eq!(money(Fixed::parse_full("999").unwrap()), "999");
        assert_eq!(money(Fixed::parse_full("-100000").unwrap()), "(100,000)");
        assert_eq!(pct_1dp(Some(Fixed::parse_full("4").unwrap())), "4.0%");
        assert_eq!(pct_1dp(Some(Fixed::parse_full("-12.5").unwrap())), "-12.5%");
        assert_eq!(pct_1dp(None), "–");
        assert_eq!(pct(Some(96)), "96%");
    }
}
