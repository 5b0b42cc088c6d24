//! `dashboard`: a unit's (or the council's) dashboard for a quarter, as
//! JSON (the view of `perfledger_readmodel::views`, docs/json.md), CSV (one
//! line per figure of that view) or a table. Also the heat map printing
//! `risks` shares.

use perfledger_domain::dashboard::{Dashboard, RagBreakdown, RAGS};
use perfledger_domain::risk::HeatMap;
use perfledger_readmodel::render;
use perfledger_readmodel::views::{self, DashboardJson};
use perfledger_readmodel::DashboardView;

use super::{amount, csv_out, flat, pct1, pct_int, pct_whole, table, view_json};
use crate::args::Format;
use crate::error::Res;

/// `dashboard`.
pub fn dashboard(f: Format, v: &DashboardView) -> Res<()> {
    match f {
        Format::Json => out!("{}", views::to_json(&DashboardJson::from(v), true)),
        Format::Csv => {
            let mut rows = Vec::new();
            flat("", &view_json(&DashboardJson::from(v)), &mut rows);
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
            "improved/same (long term)",
            "worsened (long term)",
        ],
        &rows,
    );
    out!("improved/same and worsened: long-term direction of travel (against the same period a year earlier)");
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
