//! `dashboard`: a unit's (or the council's) dashboard for a quarter, as
//! JSON (the figures printed and the raw dashboard), CSV (one line per
//! printed figure) or a table. Also the heat map printing `risks` shares.

use perfledger_domain::dashboard::{Dashboard, RagBreakdown, RAGS};
use perfledger_domain::risk::HeatMap;
use perfledger_readmodel::render;
use perfledger_readmodel::DashboardView;
use serde_json::{json, Value};

use super::{amount, csv_out, flat, pct1, pct_int, pct_whole, rag_name, table};
use crate::args::Format;
use crate::error::Res;

fn breakdown(b: &RagBreakdown) -> Value {
    let mut counts = serde_json::Map::new();
    for r in RAGS {
        let n = b.counts.get(&r).copied().unwrap_or(0);
        let p = b.percent_of_rated.get(&r).copied().flatten();
        counts.insert(
            rag_name(r).into(),
            json!({"count": n, "percent": p, "printed": format!("{} ({n})", pct_int(p))}),
        );
    }
    json!({
        "reported": b.reported,
        "rated": b.rated,
        "monitor": b.monitor,
        "monitor_percent": b.monitor_percent,
        "not_rated": b.reported.saturating_sub(b.rated),
        "counts": counts,
        "improved_or_same": {"count": b.improved_or_same, "percent": b.improved_or_same_percent,
            "printed": format!("{} ({})", pct_int(b.improved_or_same_percent), b.improved_or_same)},
        "worsened": {"count": b.worsened, "percent": b.worsened_percent,
            "printed": format!("{} ({})", pct_int(b.worsened_percent), b.worsened)},
        "with_direction": b.improved_or_same + b.worsened,
        "no_direction": b.no_direction,
    })
}

pub(super) fn heat_rows(h: &HeatMap) -> Value {
    let mut m = serde_json::Map::new();
    for impact in (1..=5).rev() {
        m.insert(impact.to_string(), json!(h.cells[impact - 1].to_vec()));
    }
    Value::Object(m)
}

/// The dashboard as JSON (docs/cli.md).
pub fn dashboard_json(v: &DashboardView) -> Value {
    let d = &v.dashboard;
    let mut actions = serde_json::Map::new();
    for s in perfledger_domain::action::ActionStatus::ALL {
        let n = d.actions.counts.get(&s).copied().unwrap_or(0);
        let p = d.actions.percent.get(&s).copied().flatten();
        actions.insert(
            render::status_label(s).into(),
            json!({"count": n, "percent": p, "printed": format!("{n} ({})", pct_int(p))}),
        );
    }
    let by_type: serde_json::Map<String, Value> = d
        .indicators_by_type
        .iter()
        .map(|(t, b)| (t.label().to_string(), breakdown(b)))
        .collect();
    let by_band: serde_json::Map<String, Value> = d
        .risks
        .by_band
        .iter()
        .map(|(b, n)| (b.label().to_string(), json!(n)))
        .collect();
    json!({
        "unit": d.unit.as_ref().map(|u| u.to_string()),
        "period": d.period.to_string(),
        "as_of": v.as_of,
        "digest": v.digest,
        "no_data": v.no_data,
        "revenue": {
            "budget": amount(d.revenue.budget),
            "forecast": amount(d.revenue.forecast),
            "variance": amount(d.revenue.variance),
            "variance_percent": pct1(d.revenue.variance_percent_1dp),
        },
        "capital": {
            "approved": amount(d.capital.approved),
            "proposed": amount(d.capital.proposed),
            "forecast": amount(d.capital.forecast),
            "variance": amount(d.capital.variance),
            "slippage": amount(d.capital.slippage),
            "slippage_percent": pct_whole(d.capital.slippage_percent),
        },
        "savings": {
            "target": amount(d.savings.target),
            "achieved": amount(d.savings.achieved),
            "achieved_percent": pct1(d.savings.achieved_percent_1dp),
        },
        "indicators": breakdown(&d.indicators),
        "indicators_by_type": by_type,
        "actions": {"total": d.actions.total, "by_status": actions},
        "risks": {"heat_map": heat_rows(&d.risks.heat_map), "by_band": by_band, "escalated": d.risks.escalated},
        "hr": d.hr,
        "customer": d.customer.iter().map(|c| json!({
            "name": c.name.to_string(), "on_time": c.on_time, "received": c.received,
            "percent": c.percent})).collect::<Vec<_>>(),
        "raw": d,
    })
}

/// `dashboard`.
pub fn dashboard(f: Format, v: &DashboardView) -> Res<()> {
    let j = dashboard_json(v);
    match f {
        Format::Json => out!("{j:#}"),
        Format::Csv => {
            let mut rows = Vec::new();
            let mut j2 = j.clone();
            if let Value::Object(m) = &mut j2 {
                m.remove("raw");
            }
            flat("", &j2, &mut rows);
            csv_out(
                &["figure", "value"],
                rows.into_iter().map(|(a, b)| vec![a, b]).collect(),
            )?;
        }
        Format::Table => dashboard_table(v),
    }
    Ok(())
}

/// The dashboard as tables: money, indicators, key actions, risks and
/// customer figures.
fn dashboard_table(v: &DashboardView) {
    let d = &v.dashboard;
    out!(
        "Dashboard {} {} (as of sequence {}, digest {})",
        d.unit.as_ref().map_or("council-wide", |u| u.as_str()),
        d.period,
        v.as_of,
        &v.digest[..16.min(v.digest.len())]
    );
    if v.no_data {
        out!(
            "no data: nothing reported for {} in {} as of sequence {} (the zeros below are not figures; risks are the latest assessments)",
            d.unit.as_ref().map_or("the council", |u| u.as_str()),
            d.period,
            v.as_of
        );
    }
    out!();
    money_lines(d);
    out!();
    indicator_table(d);
    out!();
    action_table(d);
    out!();
    print_heat(&d.risks.heat_map);
    out!("Risks escalated (score 15+): {}", d.risks.escalated);
    for c in &d.customer {
        out!(
            "{}: {}/{} ({})",
            c.name,
            c.on_time,
            c.received,
            pct_int(c.percent)
        );
    }
}

/// Revenue, capital and savings, one line each.
fn money_lines(d: &Dashboard) {
    out!(
        "Revenue   budget {}  forecast {}  variance {} ({})",
        amount(d.revenue.budget),
        amount(d.revenue.forecast),
        amount(d.revenue.variance),
        pct1(d.revenue.variance_percent_1dp)
    );
    out!(
        "Capital   approved {}  proposed {}  forecast {}  variance {}  slippage {}, {}",
        amount(d.capital.approved),
        amount(d.capital.proposed),
        amount(d.capital.forecast),
        amount(d.capital.variance),
        amount(d.capital.slippage),
        pct_whole(d.capital.slippage_percent)
    );
    out!(
        "Savings   target {}  achieved {} ({})",
        amount(d.savings.target),
        amount(d.savings.achieved),
        pct1(d.savings.achieved_percent_1dp)
    );
}

/// All indicators, then one row per indicator type.
fn indicator_table(d: &Dashboard) {
    let mut rows = Vec::new();
    let mut push = |name: String, b: &RagBreakdown| {
        let mut r = vec![name, b.reported.to_string(), b.rated.to_string()];
        for rag in RAGS {
            r.push(format!(
                "{} ({})",
                b.counts.get(&rag).copied().unwrap_or(0),
                pct_int(b.percent_of_rated.get(&rag).copied().flatten())
            ));
        }
        r.push(b.monitor.to_string());
        r.push(format!(
            "{} ({})",
            b.improved_or_same,
            pct_int(b.improved_or_same_percent)
        ));
        r.push(format!("{} ({})", b.worsened, pct_int(b.worsened_percent)));
        rows.push(r);
    };
    push("All indicators".into(), &d.indicators);
    for (t, b) in &d.indicators_by_type {
        push(t.label().into(), b);
    }
    table(
        &[
            "Indicators",
            "reported",
            "rated",
            "G",
            "GA",
            "A",
            "RA",
            "R",
            "monitor",
            "improved/same",
            "worsened",
        ],
        &rows,
    );
}

/// Key actions by status, with the total.
fn action_table(d: &Dashboard) {
    let mut rows = Vec::new();
    for s in perfledger_domain::action::ActionStatus::ALL {
        rows.push(vec![
            render::status_label(s).to_string(),
            d.actions.counts.get(&s).copied().unwrap_or(0).to_string(),
            pct_int(d.actions.percent.get(&s).copied().flatten()),
        ]);
    }
    rows.push(vec![
        "Total".into(),
        d.actions.total.to_string(),
        String::new(),
    ]);
    table(&["Key actions", "count", "% of all"], &rows);
}

pub(super) fn print_heat(h: &HeatMap) {
    out!("Heat map (impact rows 5..1 x probability 1..5)");
    for impact in (1..=5).rev() {
        let cells: Vec<String> = h.cells[impact - 1]
            .iter()
            .map(|n| format!("{n:>3}"))
            .collect();
        out!("  {impact} |{}", cells.join(""));
    }
}
