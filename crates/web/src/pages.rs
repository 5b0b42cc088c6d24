//! Pages and API answers. Every function resolves the request's context
//! (as-of sequence, unit) once and reads the read model at that sequence.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::response::Response;
use perfledger_domain::action::ActionStatus;
use perfledger_domain::dashboard::{RagBreakdown, RAGS};
use perfledger_domain::direction::Direction;
use perfledger_domain::ids::normalise_key;
use perfledger_domain::indicator::{IndicatorType, Polarity, Value};
use perfledger_domain::period::Period;
use perfledger_domain::rag::Rag;
use perfledger_domain::risk::{band, Assessment, Band, HeatMap, Impact, Probability};
use perfledger_domain::{EntityKind, Timestamp};
use perfledger_readmodel::{render, AsOf, AuditEntry, ReadModel, SealRecord, SealVerdict};
use serde::Serialize;

use crate::html::{self, esc, money, pct, pct_1dp, pct_fixed, query, url_enc, AsOfBar};
use crate::params::{self, ctx, recorded_at, Ctx};
use crate::svg;
use crate::{json, page, App, AppError};

type M = BTreeMap<String, String>;
type Res = Result<Response, AppError>;

// ---------------------------------------------------------------- helpers

/// Periods with indicator targets/results or seals as of `seq`,
/// chronologically.
pub(crate) fn known_periods(rm: &ReadModel, seq: u64) -> Result<Vec<Period>, AppError> {
    let at = AsOf::Seq(seq);
    let mut out: BTreeMap<((i64, i64), String), Period> = BTreeMap::new();
    let mut add = |p: Period| {
        out.insert((p.sort_key(), p.to_string()), p);
    };
    for s in rm.indicators(None, at)? {
        match rm.audit(EntityKind::Indicator, &s.natural_key, at) {
            Ok(t) => t
                .entries
                .iter()
                .filter(|e| e.field == "result" || e.field == "target")
                .filter_map(|e| e.period)
                .for_each(&mut add),
            Err(perfledger_readmodel::ReadModelError::NotFound { .. })
            | Err(perfledger_readmodel::ReadModelError::Ambiguous { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for s in rm.seals(at)? {
        add(s.seal.period);
    }
    Ok(out.into_values().collect())
}

fn ts(ms: i64) -> String {
    Timestamp(ms).to_string()
}

/// Recorded time for tables: `2016-07-01 03:00:00 UTC`.
fn when(ms: i64) -> String {
    let t = ts(ms);
    match t.strip_suffix('Z') {
        Some(x) => format!("{} UTC", x.replacen('T', " ", 1)),
        None => t,
    }
}

fn bar<'a>(
    app: &App,
    c: &'a Ctx,
    action: &'a str,
    keep: Vec<(&'a str, String)>,
    extra: String,
) -> Result<AsOfBar<'a>, AppError> {
    Ok(AsOfBar {
        action,
        as_of_raw: &c.as_of_raw,
        seq: c.seq,
        recorded_at: recorded_at(app.rm(), c.seq)?,
        head: app.rm().checkpoint()?,
        keep,
        extra,
    })
}

fn unit_select(app: &App, c: &Ctx) -> Result<String, AppError> {
    let mut s = String::from(
        "<label for=\"unit\">Unit<select id=\"unit\" name=\"unit\"><option value=\"\">Council-wide</option>",
    );
    for u in app.rm().units(c.at())? {
        let sel = if c.unit.as_deref() == Some(u.name.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(s, "<option{sel}>{}</option>", esc(&u.name));
    }
    s.push_str("</select></label>");
    Ok(s)
}

fn period_select(known: &[Period], chosen: Option<Period>) -> String {
    let mut s = String::from("<label for=\"period\">Period<select id=\"period\" name=\"period\">");
    let mut listed = known.to_vec();
    if let Some(p) = chosen {
        if !listed.contains(&p) {
            listed.push(p);
            listed.sort_by_key(|p| p.sort_key());
        }
    }
    for p in listed.iter().rev() {
        let sel = if Some(*p) == chosen { " selected" } else { "" };
        let _ = write!(s, "<option{sel}>{}</option>", esc(&p.to_string()));
    }
    s.push_str("</select></label>");
    s
}

fn scope_name(unit: Option<&str>) -> String {
    unit.map(str::to_string)
        .unwrap_or_else(|| "Council-wide".to_string())
}

fn footer(seq: u64, digest: Option<&str>, recorded: Option<i64>) -> String {
    let mut s = format!("<footer><p>Log position: sequence {seq}");
    if let Some(t) = recorded {
        let _ = write!(s, ", recorded ≤ {}", esc(&ts(t)));
    }
    s.push_str(".</p>");
    if let Some(d) = digest {
        let _ = write!(
            s,
            "<p>Dashboard digest (SHA-256 of its canonical bytes): <span class=\"digest\" id=\"digest\">{}</span></p>",
            esc(d)
        );
    }
    s.push_str("<p>perfledger — every figure is an immutable, attributable event; this page is rebuilt from the ledger.</p></footer>");
    s
}

fn dir_name(d: Option<Direction>) -> &'static str {
    match d {
        Some(Direction::Improving) => "Improving",
        Some(Direction::Same) => "Same",
        Some(Direction::Worsening) => "Worsening",
        None => "–",
    }
}

fn polarity_name(p: Polarity) -> String {
    let s = format!("{p:?}");
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn type_name(t: IndicatorType) -> &'static str {
    match t {
        IndicatorType::Cpi => "Corporate Plan Indicator",
        IndicatorType::Spi => "Commissioning Plan Indicator",
        IndicatorType::Mpi => "Management Agreement Indicator",
        IndicatorType::Kpi => "Contract Performance Indicator",
        IndicatorType::Outcome => "Outcome indicator",
    }
}

fn status_class(s: ActionStatus) -> &'static str {
    match s {
        ActionStatus::Green => "st-green",
        ActionStatus::GreenAmber => "st-green-amber",
        ActionStatus::RedAmber => "st-red-amber",
        ActionStatus::Red => "st-red",
        ActionStatus::NotRated => "st-not-rated",
    }
}

fn band_class(b: Band) -> &'static str {
    match b {
        Band::Low => "band-low",
        Band::MediumLow => "band-ml",
        Band::MediumHigh => "band-mh",
        Band::High => "band-high",
    }
}

fn band_abbr(b: Band) -> &'static str {
    match b {
        Band::Low => "L",
        Band::MediumLow => "ML",
        Band::MediumHigh => "MH",
        Band::High => "H",
    }
}

fn assessment_text(a: Option<&Assessment>) -> String {
    match a {
        Some(a) => format!(
            "{}×{} = {} ({})",
            a.impact,
            a.probability,
            a.score(),
            a.band().label()
        ),
        None => "–".to_string(),
    }
}

/// The 5×5 heat map: impact rows 5→1, probability columns 1→5, cells
/// coloured by score band with the count and score printed.
pub(crate) fn heat_map_table(id: &str, caption: &str, map: &HeatMap) -> String {
    let mut s = format!(
        "<table class=\"heat\" id=\"{}\"><caption>{}</caption><thead><tr><th scope=\"col\">Impact ↓ / Probability →</th>",
        esc(id),
        esc(caption)
    );
    for p in 1..=5u8 {
        let name = Probability::new(p).map(|x| x.name()).unwrap_or("?");
        let _ = write!(s, "<th scope=\"col\">{p} {name}</th>");
    }
    s.push_str("</tr></thead><tbody>");
    for i in (1..=5u8).rev() {
        let name = Impact::new(i).map(|x| x.name()).unwrap_or("?");
        let _ = write!(s, "<tr><th scope=\"row\">{i} {name}</th>");
        for p in 1..=5u8 {
            let n = map.cells[usize::from(i - 1)][usize::from(p - 1)];
            let score = i * p;
            let b = band(score);
            let _ = write!(
                s,
                "<td class=\"{}\" data-impact=\"{i}\" data-probability=\"{p}\" data-count=\"{n}\">{n}\
                 <span class=\"vh\"> risks, </span><small>{score} · <abbr title=\"{}\">{}</abbr></small></td>",
                band_class(b),
                b.label(),
                band_abbr(b)
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table><p class=\"legend\">Bands: ");
    for (b, range) in [
        (Band::Low, "1–3"),
        (Band::MediumLow, "4–7"),
        (Band::MediumHigh, "8–14"),
        (Band::High, "15–25, escalated"),
    ] {
        let _ = write!(
            s,
            "<span class=\"{}\">{} {} (score {range})</span>",
            band_class(b),
            band_abbr(b),
            b.label()
        );
    }
    s.push_str("</p>");
    s
}

/// Which RAG columns to show: four-level by default; Amber when used; GA/RA
/// when used or when Amber is not.
fn rag_columns(b: &RagBreakdown) -> Vec<Rag> {
    let n = |r: Rag| b.counts.get(&r).copied().unwrap_or(0);
    let amber = n(Rag::Amber) > 0;
    let four = n(Rag::GreenAmber) + n(Rag::RedAmber) > 0 || !amber;
    RAGS.into_iter()
        .filter(|r| match r {
            Rag::Amber => amber,
            Rag::GreenAmber | Rag::RedAmber => four,
            _ => true,
        })
        .collect()
}

fn overview_table(d: &perfledger_domain::dashboard::Dashboard) -> String {
    let cols = rag_columns(&d.indicators);
    let mut s = String::from(
        "<table id=\"rag-table\" class=\"overview\"><caption>Overview of performance: RAG ratings and long-term direction of travel by indicator type</caption>\
         <thead><tr><th scope=\"col\">Type</th>",
    );
    for r in &cols {
        let _ = write!(
            s,
            "<th scope=\"col\" class=\"{}\">{}</th>",
            html::rag_class(*r),
            html::rag_name(*r)
        );
    }
    s.push_str(
        "<th scope=\"col\">Total RAG ratings</th><th scope=\"col\">Monitor</th>\
         <th scope=\"col\">DoT improving or same</th><th scope=\"col\">DoT worsening</th>\
         <th scope=\"col\">No DoT</th><th scope=\"col\">Reported this quarter</th></tr></thead><tbody>",
    );
    let count = |b: &RagBreakdown, r: Rag| b.counts.get(&r).copied().unwrap_or(0);
    for (t, b) in &d.indicators_by_type {
        let _ = write!(
            s,
            "<tr><th scope=\"row\"><abbr title=\"{}\">{}</abbr></th>",
            type_name(*t),
            t.label()
        );
        for r in &cols {
            let _ = write!(s, "<td class=\"num\">{}</td>", count(b, *r));
        }
        let _ = write!(
            s,
            "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            b.rated, b.monitor, b.improved_or_same, b.worsened, b.no_direction, b.reported
        );
    }
    let b = &d.indicators;
    s.push_str("<tr class=\"total\"><th scope=\"row\">Overall</th>");
    for r in &cols {
        let p = b.percent_of_rated.get(r).copied().flatten();
        let _ = write!(
            s,
            "<td class=\"num\" data-rag=\"{}\">{} ({})</td>",
            render::rag_label(*r),
            pct(p),
            count(b, *r)
        );
    }
    let rated_pct = if b.rated > 0 { Some(100) } else { None };
    let _ = write!(
        s,
        "<td class=\"num\">{} ({})</td><td class=\"num\">{} ({})</td><td class=\"num\">{} ({})</td><td class=\"num\">{} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        pct(rated_pct),
        b.rated,
        pct(b.monitor_percent),
        b.monitor,
        pct(b.improved_or_same_percent),
        b.improved_or_same,
        pct(b.worsened_percent),
        b.worsened,
        b.no_direction,
        b.reported
    );
    s.push_str("</tbody></table><p class=\"muted\">Percentages of RAG colours are of rated indicators; Monitor is of all reported; direction of travel percentages are of those with a direction. CPI Corporate Plan, SPI Commissioning Plan, MPI Management Agreement, KPI Contract indicators.</p>");
    s
}

fn seal_verdict(rm: &ReadModel, rec: &SealRecord) -> Result<SealVerdict, AppError> {
    Ok(rm.verify_seal(&rec.seal)?)
}

fn hex32(d: &[u8; 32]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn seal_box(
    rm: &ReadModel,
    rec: &SealRecord,
    shown_digest: Option<&str>,
) -> Result<String, AppError> {
    let seal = &rec.seal;
    let v = seal_verdict(rm, rec)?;
    let digest = hex32(&seal.digest);
    let (class, verdict) = match shown_digest {
        Some(d) if d == digest => ("ok", "matches this view".to_string()),
        Some(_) => (
            "differs",
            format!(
                "differs from this view ({} figure{} changed between the seal and the latest position)",
                v.changed_since.len(),
                if v.changed_since.len() == 1 { "" } else { "s" }
            ),
        ),
        None => {
            if v.changed_since.is_empty() {
                ("ok", "matches the latest position".to_string())
            } else {
                (
                    "differs",
                    format!(
                        "differs from the latest position: {} figure{} changed since",
                        v.changed_since.len(),
                        if v.changed_since.len() == 1 { "" } else { "s" }
                    ),
                )
            }
        }
    };
    let integrity = if v.matches {
        String::new()
    } else {
        " <strong>Warning: re-deriving the dashboard at the seal's position does not reproduce the sealed digest.</strong>".to_string()
    };
    let link = format!(
        "/dashboard{}",
        query(&[
            ("unit", seal.unit.as_ref().map(|u| u.as_str()).unwrap_or("")),
            ("period", &seal.period.to_string()),
            ("as_of", &seal.seq.to_string()),
        ])
    );
    // A seal with an id names it (and the report and when it was sealed).
    let mut named = String::new();
    if let Some(id) = &rec.seal_id {
        let _ = write!(named, "<span class=\"seal-id\">{}</span>", esc(id));
        if let Some(t) = &rec.title {
            let _ = write!(named, " “{}”", esc(t));
        }
        if let Some(at) = rec.sealed_at {
            let _ = write!(named, ", sealed {}", esc(&at.to_string()));
        }
        named.push_str(": ");
    }
    let mut s = format!(
        "<div class=\"seal {class}\"><p>{named}Sealed for <strong>{}</strong> on {} — {} dashboard {} at log sequence {} — <strong>{}</strong>.{} <a href=\"{}\">Show the sealed view</a></p>",
        esc(seal.committee.as_str()),
        esc(&seal.meeting_date.to_string()),
        esc(&scope_name(seal.unit.as_ref().map(|u| u.as_str()))),
        esc(&seal.period.to_string()),
        seal.seq,
        esc(&verdict),
        integrity,
        esc(&link)
    );
    if class == "differs" && !v.changed_since.is_empty() {
        s.push_str("<details><summary>Figures changed since the seal</summary><table><thead><tr><th scope=\"col\">Figure</th><th scope=\"col\">Sealed</th><th scope=\"col\">Latest</th></tr></thead><tbody>");
        for d in &v.changed_since {
            let _ = write!(
                s,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&d.figure),
                esc(d.expected.as_deref().unwrap_or("–")),
                esc(d.actual.as_deref().unwrap_or("–"))
            );
        }
        s.push_str("</tbody></table></details>");
    }
    s.push_str("</div>");
    Ok(s)
}

// ---------------------------------------------------------------- pages

pub(crate) fn home(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let rm = app.rm();
    let known = app.periods()?;
    let latest = params::period(m, &known)?;
    let mut b = String::new();
    b.push_str("<p>Performance, risk and finance reports for committee, rebuilt from an immutable ledger. Choose a unit and a quarter, or view the council-wide dashboard.</p>");
    b.push_str("<h2>Units</h2>");
    let units = rm.units(c.at())?;
    if units.is_empty() {
        b.push_str("<p>No units recorded yet.</p>");
    } else {
        b.push_str("<table id=\"units\"><caption>Units and their latest dashboards</caption><thead><tr><th scope=\"col\">Unit</th><th scope=\"col\">Dashboard</th><th scope=\"col\">Indicators</th><th scope=\"col\">Risks</th><th scope=\"col\">Finance</th></tr></thead><tbody>");
        let p = latest.map(|p| p.to_string()).unwrap_or_default();
        let mut rows: Vec<(String, Option<String>)> = vec![("Council-wide".into(), None)];
        rows.extend(units.iter().map(|u| (u.name.clone(), Some(u.name.clone()))));
        for (label, unit) in rows {
            let u = unit.as_deref().unwrap_or("");
            let _ = write!(
                b,
                "<tr><th scope=\"row\">{}</th><td><a href=\"/dashboard{}\">{} dashboard</a></td><td><a href=\"/indicators{}\">Indicators</a></td><td><a href=\"/risks{}\">Risk register</a></td><td><a href=\"/finance{}\">Finance</a></td></tr>",
                esc(&label),
                esc(&query(&[("unit", u), ("period", &p), ("as_of", &c.as_of_raw)])),
                esc(&p),
                esc(&query(&[("unit", u), ("as_of", &c.as_of_raw)])),
                esc(&query(&[("unit", u), ("as_of", &c.as_of_raw)])),
                esc(&query(&[("unit", u), ("period", &p), ("as_of", &c.as_of_raw)])),
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("<h2>Periods available</h2>");
    if known.is_empty() {
        b.push_str("<p>No periods recorded yet.</p>");
    } else {
        b.push_str("<ul id=\"periods\">");
        for p in known.iter().rev() {
            let ps = p.to_string();
            let _ = write!(
                b,
                "<li><a href=\"/dashboard{}\">{}</a></li>",
                esc(&query(&[("period", &ps), ("as_of", &c.as_of_raw)])),
                esc(&ps)
            );
        }
        b.push_str("</ul>");
    }
    b.push_str("<h2>Latest seals</h2>");
    let seals = rm.seals(c.at())?;
    if seals.is_empty() {
        b.push_str("<p>No dashboards sealed yet.</p>");
    } else {
        for rec in seals.iter().rev().take(10) {
            b.push_str(&seal_box(rm, rec, None)?);
        }
    }
    let recorded = recorded_at(rm, c.seq)?;
    b.push_str(&footer(c.seq, None, recorded));
    let bar = bar(app, &c, "/", vec![], String::new())?;
    page(html::layout(
        &app.web.title,
        "Performance ledger",
        "home",
        Some(&bar),
        &b,
    ))
}

pub(crate) fn dashboard(app: &App, m: &M) -> Res {
    let rm = app.rm();
    let c = ctx(rm, m)?;
    let known = app.periods()?;
    let period = params::period(m, &known)?;
    let extra = format!("{}{}", unit_select(app, &c)?, period_select(&known, period));
    let bar = bar(app, &c, "/dashboard", vec![], extra)?;
    let scope = scope_name(c.unit());
    let Some(period) = period else {
        let body = "<p>No periods have been recorded yet, so there is no dashboard to show.</p>";
        return page(html::layout(
            &app.web.title,
            &format!("{scope} dashboard"),
            "dashboard",
            Some(&bar),
            body,
        ));
    };
    let view = rm.dashboard(c.unit(), period, c.at())?;
    let d = &view.dashboard;
    let ps = period.to_string();
    let unit_q = c.unit().unwrap_or("");
    let mut b = String::new();

    // Seals of this unit/period.
    let want_unit = c.unit().map(normalise_key);
    for rec in rm.seals(c.at())? {
        let su = rec.seal.unit.as_ref().map(|u| normalise_key(u.as_str()));
        if su == want_unit && rec.seal.period == period {
            b.push_str(&seal_box(rm, &rec, Some(&view.digest))?);
        }
    }

    if view.no_data {
        let _ = write!(
            b,
            "<p class=\"notice\" id=\"no-data\">No data: nothing was reported for {} in {} as of sequence {}. \
             The zeros below are not figures; risks are the latest assessments.</p>",
            html::esc(&scope),
            html::esc(&ps),
            view.as_of
        );
    }

    // 1.1-style summary.
    b.push_str("<h2 id=\"finance\">Finance</h2>");
    let _ = write!(
        b,
        "<table id=\"finance-summary\"><caption>Finance summary, £000 (negative figures in brackets)</caption>\
         <thead><tr><th scope=\"col\">Revenue budget variance</th><th scope=\"col\">Capital variance (slippage %)</th><th scope=\"col\">Savings achieved</th></tr></thead>\
         <tbody><tr><td class=\"num figure\">{} ({})</td><td class=\"num figure\">{} ({})</td><td class=\"num figure\">{} ({})</td></tr>\
         <tr class=\"muted\"><td class=\"num\">forecast {} against budget {}</td><td class=\"num\">forecast {} against approved {}</td><td class=\"num\">of {} target</td></tr></tbody></table>\
         <p class=\"noprint\"><a href=\"/finance{}\">Revenue, capital and savings lines</a></p>",
        money(d.revenue.variance),
        pct_1dp(d.revenue.variance_percent_1dp),
        money(d.capital.variance),
        pct_fixed(d.capital.slippage_percent.map(|p| p.abs())),
        money(d.savings.achieved),
        pct_1dp(d.savings.achieved_percent_1dp),
        money(d.revenue.forecast),
        money(d.revenue.budget),
        money(d.capital.forecast),
        money(d.capital.approved),
        money(d.savings.target),
        esc(&query(&[("unit", unit_q), ("period", &ps), ("as_of", &c.as_of_raw)])),
    );

    b.push_str("<h2 id=\"performance\">Performance</h2>");
    // Headline: indicators and key actions by colour.
    let cols = rag_columns(&d.indicators);
    b.push_str("<table id=\"headline\"><caption>Indicators by RAG rating (percentage of rated, count) and direction of travel</caption><thead><tr><th scope=\"col\"></th>");
    for r in &cols {
        let _ = write!(
            b,
            "<th scope=\"col\" class=\"{}\">{}</th>",
            html::rag_class(*r),
            html::rag_name(*r)
        );
    }
    b.push_str("<th scope=\"col\">Improved / same</th><th scope=\"col\">Worsened</th></tr></thead><tbody><tr><th scope=\"row\">Indicators</th>");
    for r in &cols {
        let n = d.indicators.counts.get(r).copied().unwrap_or(0);
        let p = d.indicators.percent_of_rated.get(r).copied().flatten();
        let _ = write!(b, "<td class=\"num\">{} ({n})</td>", pct(p));
    }
    let _ = write!(
        b,
        "<td class=\"num\" id=\"dot-improved\">{} ({})</td><td class=\"num\" id=\"dot-worsened\">{} ({})</td></tr>",
        pct(d.indicators.improved_or_same_percent),
        d.indicators.improved_or_same,
        pct(d.indicators.worsened_percent),
        d.indicators.worsened
    );
    b.push_str("</tbody></table>");

    b.push_str(&overview_table(d));

    b.push_str("<h2 id=\"actions\">Key actions</h2>");
    if d.actions.total == 0 {
        b.push_str("<p>No key-action statuses reported for this period.</p>");
    } else {
        b.push_str("<table id=\"action-status\"><caption>Key actions by status (percentage of all actions)</caption><thead><tr>");
        for st in ActionStatus::ALL {
            let _ = write!(
                b,
                "<th scope=\"col\" class=\"{}\">{}</th>",
                status_class(st),
                render::status_label(st)
            );
        }
        b.push_str("<th scope=\"col\">Total</th></tr></thead><tbody><tr>");
        for st in ActionStatus::ALL {
            let n = d.actions.counts.get(&st).copied().unwrap_or(0);
            let p = d.actions.percent.get(&st).copied().flatten();
            let _ = write!(b, "<td class=\"num\">{n} ({})</td>", pct(p));
        }
        let _ = write!(
            b,
            "<td class=\"num\">{}</td></tr></tbody></table>",
            d.actions.total
        );
    }

    b.push_str("<h2 id=\"risks\">Risks</h2>");
    b.push_str("<div class=\"grid\"><div>");
    b.push_str(&heat_map_table(
        "heat-map",
        "Risk heat map: open risks by impact and probability (current scores)",
        &d.risks.heat_map,
    ));
    b.push_str("</div><div><table id=\"risk-bands\"><caption>Open risks by band</caption><thead><tr><th scope=\"col\">Band</th><th scope=\"col\" class=\"num\">Risks</th></tr></thead><tbody>");
    for bnd in [Band::High, Band::MediumHigh, Band::MediumLow, Band::Low] {
        let n = d.risks.by_band.get(&bnd).copied().unwrap_or(0);
        let _ = write!(
            b,
            "<tr><th scope=\"row\" class=\"{}\">{}</th><td class=\"num\">{n}</td></tr>",
            band_class(bnd),
            bnd.label()
        );
    }
    let _ = write!(
        b,
        "<tr class=\"total\"><th scope=\"row\">Escalated (score 15+)</th><td class=\"num\">{}</td></tr></tbody></table>\
         <p class=\"noprint\"><a href=\"/risks{}\">Risk register</a></p></div></div>",
        d.risks.escalated,
        esc(&query(&[("unit", unit_q), ("as_of", &c.as_of_raw)]))
    );

    b.push_str(&hr_and_customer(d));
    let recorded = recorded_at(rm, c.seq)?;
    b.push_str(&footer(view.as_of, Some(&view.digest), recorded));
    page(html::layout(
        &app.web.title,
        &format!("{scope} dashboard — {ps}"),
        "dashboard",
        Some(&bar),
        &b,
    ))
}

/// HR and customer-experience sections (when the dashboard carries them).
fn hr_and_customer(d: &perfledger_domain::dashboard::Dashboard) -> String {
    let mut b = String::new();
    if let Some(hr) = &d.hr {
        let _ = write!(
            b,
            "<h2 id=\"hr\">Human resources</h2><table id=\"hr-table\"><caption>Human resources</caption><thead><tr>\
             <th scope=\"col\">Establishment headcount</th><th scope=\"col\">No. of agency staff</th><th scope=\"col\">% of spend on agency staff</th><th scope=\"col\">Average days lost per FTE (rolling 12 months)</th></tr></thead>\
             <tbody><tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></tbody></table>",
            hr.headcount,
            hr.agency_staff,
            hr.agency_spend_percent.map(|p| format!("{p}%")).unwrap_or_else(|| "–".into()),
            hr.sickness_days_per_fte.map(|p| p.to_string()).unwrap_or_else(|| "–".into()),
        );
    }
    if !d.customer.is_empty() {
        b.push_str("<h2 id=\"customer\">Customer experience</h2><table id=\"customer-table\"><caption>Answered on time</caption><thead><tr><th scope=\"col\">Measure</th><th scope=\"col\" class=\"num\">On time / received</th></tr></thead><tbody>");
        for l in &d.customer {
            let _ = write!(
                b,
                "<tr><th scope=\"row\">{}</th><td class=\"num\">{}/{} = {}</td></tr>",
                esc(l.name.as_str()),
                l.on_time,
                l.received,
                pct(l.percent)
            );
        }
        b.push_str("</tbody></table>");
    }
    b
}

pub(crate) fn indicators(app: &App, m: &M) -> Res {
    let rm = app.rm();
    let c = ctx(rm, m)?;
    let list = rm.indicators(c.unit(), c.at())?;
    let extra = unit_select(app, &c)?;
    let bar = bar(app, &c, "/indicators", vec![], extra)?;
    let mut b = String::new();
    if list.is_empty() {
        b.push_str("<p>No indicators recorded as of this position.</p>");
    } else {
        let _ = write!(
            b,
            "<table id=\"indicator-list\"><caption>{} indicators ({})</caption><thead><tr><th scope=\"col\">Reference</th><th scope=\"col\">Indicator</th><th scope=\"col\">Unit</th><th scope=\"col\">Type</th><th scope=\"col\">Status</th></tr></thead><tbody>",
            esc(&scope_name(c.unit())),
            list.len()
        );
        for i in &list {
            let href = format!(
                "/indicators/{}{}",
                url_enc(&i.natural_key, true),
                query(&[("as_of", &c.as_of_raw)])
            );
            let _ = write!(
                b,
                "<tr><td>{}</td><td><a href=\"{}\">{}</a></td><td>{}</td><td><abbr title=\"{}\">{}</abbr></td><td>{}</td></tr>",
                esc(i.reference.as_deref().unwrap_or("–")),
                esc(&href),
                esc(&i.title),
                esc(&i.unit),
                type_name(i.indicator_type),
                i.indicator_type.label(),
                if i.retired { "Retired" } else { "Active" }
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str(&footer(c.seq, None, recorded_at(rm, c.seq)?));
    page(html::layout(
        &app.web.title,
        &format!("Indicators — {}", scope_name(c.unit())),
        "indicators",
        Some(&bar),
        &b,
    ))
}

fn audit_table(id: &str, caption: &str, entries: &[AuditEntry]) -> String {
    let mut s = format!(
        "<table id=\"{}\"><caption>{}</caption><thead><tr><th scope=\"col\" class=\"num\">Sequence</th><th scope=\"col\">Recorded</th><th scope=\"col\">Actor</th><th scope=\"col\">Source</th><th scope=\"col\">Event</th><th scope=\"col\">Period</th><th scope=\"col\">Reason</th><th scope=\"col\">Before → after</th></tr></thead><tbody>",
        esc(id),
        esc(caption)
    );
    for e in entries {
        let _ = write!(
            s,
            "<tr><td class=\"num\">{}{}</td><td class=\"when\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} → <strong>{}</strong> <span class=\"muted\">({})</span></td></tr>",
            e.seq,
            if e.index == 0 {
                String::new()
            } else {
                format!(" <span class=\"muted\">#{}</span>", e.index)
            },
            esc(&when(e.recorded_at))
                + &e.migrated_at
                    .map(|m| format!(
                        "<br><span class=\"muted\">claimed; migrated {}</span>",
                        esc(&when(m))
                    ))
                    .unwrap_or_default(),
            esc(&e.actor),
            esc(&e.source),
            esc(&e.event),
            esc(&e.period.map(|p| p.to_string()).unwrap_or_else(|| "–".into())),
            esc(e.reason.as_deref().unwrap_or("–")),
            esc(e.before.as_deref().unwrap_or("–")),
            esc(e.after.as_deref().unwrap_or("–")),
            esc(&e.field)
        );
    }
    s.push_str("</tbody></table>");
    s
}

pub(crate) fn indicator(app: &App, key: &str, m: &M) -> Res {
    let rm = app.rm();
    let c = ctx(rm, m)?;
    let v = rm.indicator(key, c.at())?;
    let action = format!("/indicators/{}", url_enc(&v.natural_key, true));
    let bar = bar(app, &c, &action, vec![], String::new())?;
    let mut b = String::new();
    let title = v
        .spec
        .as_ref()
        .map(|s| s.title.to_string())
        .unwrap_or_else(|| v.natural_key.clone());
    if let Some(s) = &v.spec {
        let _ = write!(
            b,
            "<dl class=\"grid\"><div><dt>Reference</dt><dd>{}</dd></div><div><dt>Unit</dt><dd><a href=\"/indicators{}\">{}</a></dd></div>\
             <div><dt>Type</dt><dd>{} ({})</dd></div><div><dt>Polarity</dt><dd>{}</dd></div><div><dt>Frequency</dt><dd>{}</dd></div>\
             <div><dt>Lead officer</dt><dd>{}</dd></div><div><dt>Status</dt><dd>{}</dd></div></dl>",
            esc(s.reference.as_ref().map(|r| r.as_str()).unwrap_or("–")),
            esc(&query(&[("unit", s.unit.as_str()), ("as_of", &c.as_of_raw)])),
            esc(s.unit.as_str()),
            type_name(s.indicator_type),
            s.indicator_type.label(),
            esc(&polarity_name(s.polarity)),
            s.frequency.name(),
            esc(s.lead_officer.as_ref().map(|r| r.as_str()).unwrap_or("–")),
            if v.retired { "Retired" } else { "Active" }
        );
    }
    let points: Vec<svg::Point> = v
        .rows
        .iter()
        .map(|r| svg::Point {
            label: r.period.to_string(),
            result: r
                .result
                .as_ref()
                .and_then(|e| e.result.value())
                .and_then(Value::display_value),
            target: r
                .target
                .as_ref()
                .and_then(|t| t.value())
                .and_then(Value::display_value),
        })
        .collect();
    b.push_str("<h2>Trend</h2>");
    match svg::chart(&format!("{title}: results and targets by period"), &points) {
        Some(svg) => {
            b.push_str("<figure id=\"trend\">");
            b.push_str(&svg);
            b.push_str("<figcaption class=\"muted\">Results (solid) against targets (dashed) by period.</figcaption></figure>");
        }
        None => b.push_str("<p>No numeric results or targets to chart.</p>"),
    }
    b.push_str("<h2>Results by period</h2>");
    b.push_str("<table id=\"periods\"><caption>Targets, results, RAG and direction of travel by period</caption><thead><tr><th scope=\"col\">Period</th><th scope=\"col\">Target</th><th scope=\"col\">Result</th><th scope=\"col\">RAG</th><th scope=\"col\">DoT short term</th><th scope=\"col\">DoT long term</th><th scope=\"col\" class=\"num\">Restated</th><th scope=\"col\">Commentary</th></tr></thead><tbody>");
    for r in &v.rows {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"result\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&r.period.to_string()),
            esc(r.target_text.as_deref().unwrap_or("–")),
            esc(r.result_text.as_deref().unwrap_or("–")),
            if r.result.is_some() { html::rag_badge(r.rag) } else { "–".into() },
            dir_name(r.direction_short),
            dir_name(r.direction_long),
            if r.restatements == 0 { "–".to_string() } else { format!("{}×", r.restatements) },
            esc(r.commentary.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</tbody></table>");
    b.push_str("<h2>Audit trail</h2>");
    b.push_str(&audit_table(
        "audit",
        "Every event recorded for this indicator, in log order",
        &v.audit,
    ));
    b.push_str(&footer(c.seq, None, recorded_at(rm, c.seq)?));
    page(html::layout(
        &app.web.title,
        &title,
        "indicators",
        Some(&bar),
        &b,
    ))
}

pub(crate) fn risks(app: &App, m: &M) -> Res {
    let rm = app.rm();
    let c = ctx(rm, m)?;
    let reg = rm.risks(c.unit(), c.at())?;
    let extra = unit_select(app, &c)?;
    let bar = bar(app, &c, "/risks", vec![], extra)?;
    let mut b = String::new();
    b.push_str("<div class=\"grid\"><div>");
    b.push_str(&heat_map_table(
        "heat-map",
        "Current risk scores: open risks by impact and probability",
        &reg.heat_maps.current,
    ));
    b.push_str("</div><div>");
    b.push_str(&heat_map_table(
        "heat-map-target",
        "Target risk scores: open risks by impact and probability",
        &reg.heat_maps.target,
    ));
    b.push_str("</div></div>");
    let _ = write!(
        b,
        "<h2>Risk register</h2><table id=\"risk-register\"><caption>{} risk register ({} risks, {} escalated)</caption><thead><tr><th scope=\"col\">ID</th><th scope=\"col\">Risk</th><th scope=\"col\">Unit</th><th scope=\"col\">Owner</th><th scope=\"col\">Category</th><th scope=\"col\">Assessed</th><th scope=\"col\">Current</th><th scope=\"col\">Target</th><th scope=\"col\">Status</th></tr></thead><tbody>",
        esc(&scope_name(c.unit())),
        reg.risks.len(),
        reg.escalated.len()
    );
    for r in &reg.risks {
        let href = format!(
            "/audit/risk/{}{}",
            url_enc(&r.risk_id, true),
            query(&[("as_of", &c.as_of_raw)])
        );
        let cls = r.current.map(|a| band_class(a.band())).unwrap_or("");
        let status = if r.closed {
            "Closed"
        } else if r.escalated {
            "Escalated (15+)"
        } else {
            "Open"
        };
        let _ = write!(
            b,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&href),
            esc(&r.risk_id),
            esc(&r.title),
            esc(&r.unit),
            esc(r.owner.as_deref().unwrap_or("–")),
            esc(r.category.as_deref().unwrap_or("–")),
            esc(&r.period.map(|p| p.to_string()).unwrap_or_else(|| "–".into())),
            cls,
            esc(&assessment_text(r.current.as_ref())),
            esc(&assessment_text(r.target.as_ref())),
            status
        );
    }
    b.push_str("</tbody></table>");
    b.push_str(&footer(c.seq, None, recorded_at(rm, c.seq)?));
    page(html::layout(
        &app.web.title,
        &format!("Risks — {}", scope_name(c.unit())),
        "risks",
        Some(&bar),
        &b,
    ))
}

pub(crate) fn finance(app: &App, m: &M) -> Res {
    let rm = app.rm();
    let c = ctx(rm, m)?;
    let known = app.periods()?;
    let period = params::period(m, &known)?;
    let extra = format!("{}{}", unit_select(app, &c)?, period_select(&known, period));
    let bar = bar(app, &c, "/finance", vec![], extra)?;
    let scope = scope_name(c.unit());
    let Some(period) = period else {
        return page(html::layout(
            &app.web.title,
            &format!("Finance — {scope}"),
            "finance",
            Some(&bar),
            "<p>No periods recorded yet.</p>",
        ));
    };
    let f = rm.finance(c.unit(), period, c.at())?;
    if f.is_empty() {
        let body = format!(
            "<p id=\"no-data\">No data: no revenue, capital or savings figures are recorded for {} in {} (financial year {}).</p>{}",
            esc(&scope),
            esc(&period.to_string()),
            esc(&period.financial_year().to_string()),
            footer(c.seq, None, recorded_at(rm, c.seq)?)
        );
        return page(html::layout(
            &app.web.title,
            &format!("Finance — {scope}, {period}"),
            "finance",
            Some(&bar),
            &body,
        ));
    }
    // A figure carried forward from an earlier period of the year says so.
    let as_at = |p: Option<Period>, what: &str| match p {
        Some(p) if p != period => format!(
            " <small class=\"as-at\">({what} as at {})</small>",
            esc(&p.to_string())
        ),
        _ => String::new(),
    };
    let mut b = String::new();
    let carried = f.carried_forward();
    if !carried.is_empty() {
        let list: Vec<String> = carried.iter().map(|p| p.to_string()).collect();
        let _ = write!(
            b,
            "<p class=\"note\" id=\"carried-forward\">Figures marked “as at” are carried forward from {} (none was submitted for {}).</p>",
            esc(&list.join(", ")),
            esc(&period.to_string())
        );
    }
    b.push_str("<h2>Revenue</h2>");
    let _ = write!(b, "<table id=\"revenue\"><caption>Revenue budget monitoring, {} (£000)</caption><thead><tr><th scope=\"col\">Unit</th><th scope=\"col\">Service line</th><th scope=\"col\" class=\"num\">Original budget</th><th scope=\"col\" class=\"num\">Revised budget</th><th scope=\"col\" class=\"num\">Forecast</th><th scope=\"col\" class=\"num\">Variation</th><th scope=\"col\" class=\"num\">% variation of revised budget</th></tr></thead><tbody>", esc(&period.to_string()));
    for r in &f.revenue {
        let _ = write!(
            b,
            "<tr><td>{}</td><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&r.unit),
            esc(&r.line),
            money(r.figures.original),
            money(r.figures.revised),
            money(r.figures.forecast) + &as_at(r.forecast_period, "forecast"),
            money(r.variation),
            pct_1dp(r.variation_percent_1dp)
        );
    }
    let t = &f.revenue_total;
    let _ = write!(
        b,
        "<tr class=\"total\"><td></td><th scope=\"row\">Total</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></tbody></table>",
        money(t.original),
        money(t.revised),
        money(t.forecast),
        t.variation().map(money).unwrap_or_else(|_| "–".into()),
        pct_1dp(t.variation_percent_1dp().ok().flatten())
    );
    b.push_str("<h2>Capital</h2>");
    let _ = write!(b, "<table id=\"capital\"><caption>Capital programme, {} (£000)</caption><thead><tr><th scope=\"col\">Unit</th><th scope=\"col\">Scheme</th><th scope=\"col\" class=\"num\">Latest approved budget</th><th scope=\"col\" class=\"num\">Additions / (deletions)</th><th scope=\"col\" class=\"num\">(Slippage) / accelerated spend</th><th scope=\"col\" class=\"num\">Proposed budget</th><th scope=\"col\" class=\"num\">Forecast to year end</th><th scope=\"col\" class=\"num\">Variance from approved budget</th><th scope=\"col\" class=\"num\">% slippage</th></tr></thead><tbody>", esc(&period.to_string()));
    for r in &f.capital {
        let _ = write!(
            b,
            "<tr><td>{}</td><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&r.unit),
            esc(&r.line),
            money(r.figures.approved),
            money(r.figures.additions),
            money(r.figures.slippage),
            money(r.proposed),
            money(r.figures.forecast) + &as_at(r.forecast_period, "forecast"),
            money(r.variance),
            pct_fixed(r.slippage_percent)
        );
    }
    let t = &f.capital_total;
    let _ = write!(
        b,
        "<tr class=\"total\"><td></td><th scope=\"row\">Total</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></tbody></table>",
        money(t.approved),
        money(t.additions),
        money(t.slippage),
        t.proposed().map(money).unwrap_or_else(|_| "–".into()),
        money(t.forecast),
        t.variance().map(money).unwrap_or_else(|_| "–".into()),
        pct_fixed(t.slippage_percent_whole())
    );
    b.push_str("<h2>Savings</h2>");
    let _ = write!(b, "<table id=\"savings\"><caption>Savings delivery, {} (£000)</caption><thead><tr><th scope=\"col\">Reference</th><th scope=\"col\">Unit</th><th scope=\"col\">Description</th><th scope=\"col\" class=\"num\">Target</th><th scope=\"col\" class=\"num\">Achieved</th><th scope=\"col\" class=\"num\">% achieved</th></tr></thead><tbody>", esc(&period.to_string()));
    for s in &f.savings {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&s.reference),
            esc(&s.unit),
            esc(&s.description),
            money(s.line.target.abs()),
            money(s.line.achieved) + &as_at(s.reported_period, "reported"),
            pct_1dp(s.achieved_percent_1dp)
        );
    }
    let _ = write!(
        b,
        "<tr class=\"total\"><th scope=\"row\">Total</th><td></td><td></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></tbody></table>",
        money(f.savings_target.abs()),
        money(f.savings_achieved),
        pct_1dp(perfledger_domain::saving::achieved_percent_1dp(f.savings_achieved, f.savings_target))
    );
    b.push_str(&footer(c.seq, None, recorded_at(rm, c.seq)?));
    page(html::layout(
        &app.web.title,
        &format!("Finance — {scope} — {period}"),
        "finance",
        Some(&bar),
        &b,
    ))
}

fn kind_param(kind: &str) -> Result<EntityKind, AppError> {
    EntityKind::from_token(kind).map_err(|e| AppError::bad("kind", kind, e.to_string()))
}

pub(crate) fn audit(app: &App, kind: &str, key: &str, m: &M) -> Res {
    let rm = app.rm();
    let c = ctx(rm, m)?;
    let k = kind_param(kind)?;
    let t = rm.audit(k, key, c.at())?;
    let action = format!(
        "/audit/{}/{}",
        url_enc(kind, false),
        url_enc(&t.natural_key, true)
    );
    let bar = bar(app, &c, &action, vec![], String::new())?;
    let mut b = audit_table(
        "audit",
        &format!(
            "Every event recorded for {} {}, in log order",
            k.token(),
            t.natural_key
        ),
        &t.entries,
    );
    let _ = write!(
        b,
        "<p>Audit trail digest: <span class=\"digest\">{}</span></p>",
        esc(&t.digest_hex())
    );
    b.push_str(&footer(c.seq, None, recorded_at(rm, c.seq)?));
    page(html::layout(
        &app.web.title,
        &format!("Audit trail — {} {}", k.token(), t.natural_key),
        "",
        Some(&bar),
        &b,
    ))
}

// ---------------------------------------------------------------- JSON API

#[derive(Serialize)]
struct Listed<'a, T: Serialize> {
    as_of: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
    #[serde(flatten)]
    items: T,
}

pub(crate) fn api_units(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let units = app.rm().units(c.at())?;
    json(&Listed {
        as_of: c.seq,
        unit: None,
        items: serde_json::json!({ "units": units }),
    })
}

/// Periods with indicator targets/results or seals (at the checkpoint; the
/// selectors' list).
pub(crate) fn api_periods(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let periods: Vec<String> = app.periods()?.iter().map(|p| p.to_string()).collect();
    json(&Listed {
        as_of: c.seq,
        unit: None,
        items: serde_json::json!({ "periods": periods }),
    })
}

pub(crate) fn api_dashboard(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let known = app.periods()?;
    let period = params::period(m, &known)?
        .ok_or_else(|| AppError::bad("period", "", "no period given and none recorded yet"))?;
    json(&app.rm().dashboard(c.unit(), period, c.at())?)
}

pub(crate) fn api_indicators(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let list = app.rm().indicators(c.unit(), c.at())?;
    json(&Listed {
        as_of: c.seq,
        unit: c.unit(),
        items: serde_json::json!({ "indicators": list }),
    })
}

pub(crate) fn api_indicator(app: &App, key: &str, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    json(&app.rm().indicator(key, c.at())?)
}

pub(crate) fn api_audit(app: &App, kind: &str, key: &str, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let k = kind_param(kind)?;
    let t = app.rm().audit(k, key, c.at())?;
    let digest = t.digest_hex();
    let mut v = serde_json::to_value(&t).map_err(|e| AppError::Internal(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("digest".into(), digest.into());
    }
    json(&v)
}

pub(crate) fn api_risks(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    json(&app.rm().risks(c.unit(), c.at())?)
}

pub(crate) fn api_heatmap(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let maps = app.rm().heat_map(c.unit(), c.at())?;
    json(&Listed {
        as_of: c.seq,
        unit: c.unit(),
        items: maps,
    })
}

pub(crate) fn api_finance(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let known = app.periods()?;
    let period = params::period(m, &known)?
        .ok_or_else(|| AppError::bad("period", "", "no period given and none recorded yet"))?;
    json(&app.rm().finance(c.unit(), period, c.at())?)
}

#[derive(Serialize)]
struct SealOut {
    seq: u64,
    index: u16,
    seal: perfledger_domain::event::Seal,
    seal_id: Option<String>,
    title: Option<String>,
    sealed_at: Option<String>,
    digest: String,
    verdict: SealVerdictOut,
}

#[derive(Serialize)]
struct SealVerdictOut {
    matches: bool,
    expected_digest: String,
    actual_digest: String,
    changed_since: Vec<perfledger_readmodel::FigureDiff>,
}

pub(crate) fn api_seals(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let mut out = Vec::new();
    for rec in app.rm().seals(c.at())? {
        let v = seal_verdict(app.rm(), &rec)?;
        out.push(SealOut {
            seq: rec.seq,
            index: rec.index,
            digest: hex32(&rec.seal.digest),
            seal: rec.seal,
            seal_id: rec.seal_id,
            title: rec.title,
            sealed_at: rec.sealed_at.map(|t| t.to_string()),
            verdict: SealVerdictOut {
                matches: v.matches,
                expected_digest: v.expected_digest,
                actual_digest: v.actual_digest,
                changed_since: v.changed_since,
            },
        });
    }
    json(&Listed {
        as_of: c.seq,
        unit: None,
        items: serde_json::json!({ "seals": out }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfledger_domain::dashboard::{compute, CustomerMeasure, DashboardInputs, HrFigures};
    use perfledger_domain::{Fixed, Text};

    #[test]
    fn hr_and_customer_sections() {
        let d = compute(&DashboardInputs {
            hr: Some(HrFigures {
                headcount: 170,
                agency_staff: 47,
                agency_spend_percent: Some(Fixed::parse_full("22").unwrap()),
                sickness_days_per_fte: Some(Fixed::parse_full("3.75").unwrap()),
            }),
            customer: vec![CustomerMeasure {
                name: Text::new("name", "FOIs <all>").unwrap(),
                on_time: 153,
                received: 159,
            }],
            ..empty()
        })
        .unwrap();
        let s = hr_and_customer(&d);
        assert!(s.contains("<td class=\"num\">170</td><td class=\"num\">47</td><td class=\"num\">22%</td><td class=\"num\">3.75</td>"), "{s}");
        assert!(s.contains("FOIs &lt;all&gt;"));
        assert!(s.contains("153/159 = 96%"), "{s}");
        assert!(hr_and_customer(
            &compute(&DashboardInputs {
                hr: None,
                customer: vec![],
                ..empty()
            })
            .unwrap()
        )
        .is_empty());
    }

    fn empty() -> DashboardInputs {
        DashboardInputs {
            unit: None,
            period: Period::parse("2016/17 Q1").unwrap(),
            revenue: vec![],
            capital: vec![],
            savings: vec![],
            indicators: vec![],
            actions: vec![],
            risks: vec![],
            hr: None,
            customer: vec![],
        }
    }

    #[test]
    fn heat_map_rows_and_columns() {
        let a = [
            Assessment {
                impact: 5,
                probability: 1,
            },
            Assessment {
                impact: 5,
                probability: 1,
            },
        ];
        let s = heat_map_table("h", "cap <x>", &HeatMap::from_assessments(&a));
        assert!(s.contains("cap &lt;x&gt;"));
        assert!(s.contains("data-impact=\"5\" data-probability=\"1\" data-count=\"2\""));
        // impact 5 row first, probability 1 column first
        let first_cell = s.find("data-impact=").unwrap();
        assert_eq!(
            &s[first_cell..first_cell + 35],
            "data-impact=\"5\" data-probability=\"1"
        );
        assert_eq!(s.matches("<td ").count(), 25);
    }
}
