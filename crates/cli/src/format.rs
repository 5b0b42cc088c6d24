//! Output: human tables, JSON (field names documented in docs/cli.md) and CSV.
//! Amounts are printed as the reports print them (`30,837`, `(4,331)`),
//! percentages with the reports' precision (`-50.7%`, `58%`).

use std::collections::BTreeMap;

use perfledger_domain::dashboard::{RagBreakdown, RAGS};
use perfledger_domain::direction::Direction;
use perfledger_domain::event::CommitteeSeal;
use perfledger_domain::risk::{Assessment, HeatMap};
use perfledger_domain::{Fixed, Period, Timestamp};
use perfledger_import::ImportPlan;
use perfledger_log::Seq;
use perfledger_readmodel::render;
use perfledger_readmodel::{
    AuditEntry, AuditTrail, DashboardView, FinanceView, IndicatorSummary, IndicatorView,
    RiskRegister, SealRecord, SealVerdict,
};
use serde_json::{json, Value};

use crate::{CliError, Format};

type Res<T> = Result<T, CliError>;

/// `30837` → `30,837`; `-4331` → `(4,331)` (the importer's printed form).
pub fn amount(v: Fixed) -> String {
    perfledger_import::printed_amount(v)
}

/// One-decimal percentage: `-50.7%`, `0.0%` (never `-0.0%`).
pub fn pct1(v: Option<Fixed>) -> String {
    let Some(v) = v else { return "-".into() };
    let s = v.to_string();
    let (int, frac) = s.split_once('.').unwrap_or((&s, "0"));
    let d = frac.chars().next().unwrap_or('0');
    let out = format!("{int}.{d}%");
    if out == "-0.0%" {
        "0.0%".into()
    } else {
        out
    }
}

/// Whole percentage, negative in brackets: `(12%)`.
pub fn pct_whole(v: Option<Fixed>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.is_negative() => format!("({}%)", v.abs()),
        Some(v) => format!("{v}%"),
    }
}

fn pct_int(v: Option<i64>) -> String {
    v.map_or("-".into(), |p| format!("{p}%"))
}

fn rag_name(r: perfledger_domain::rag::Rag) -> &'static str {
    r.name()
}

fn dir_name(d: Option<Direction>) -> Option<&'static str> {
    d.map(|d| match d {
        Direction::Improving => "Improving",
        Direction::Same => "Same",
        Direction::Worsening => "Worsening",
    })
}

/// RFC 3339 of ms since the epoch.
pub fn time(ms: i64) -> String {
    Timestamp(ms).to_string()
}

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

fn heat_rows(h: &HeatMap) -> Value {
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

fn flat(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flat(&p, x, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flat(&format!("{prefix}[{i}]"), x, out);
            }
        }
        Value::String(s) => out.push((prefix.into(), s.clone())),
        Value::Null => out.push((prefix.into(), String::new())),
        other => out.push((prefix.into(), other.to_string())),
    }
}

fn csv_out(header: &[&str], rows: Vec<Vec<String>>) -> Res<()> {
    let mut w = csv::Writer::from_writer(std::io::stdout());
    w.write_record(header)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    for r in rows {
        w.write_record(&r)
            .map_err(|e| CliError::Usage(e.to_string()))?;
    }
    w.flush()?;
    Ok(())
}

fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count().min(60));
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let c: String = c.chars().take(60).collect();
            let w = widths.get(i).copied().unwrap_or(0);
            s.push_str(&format!("{c:<w$}  "));
        }
        out!("{}", s.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for r in rows {
        line(r.clone());
    }
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
        Format::Table => {
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
            out!();
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
            out!();
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
    }
    Ok(())
}

fn print_heat(h: &HeatMap) {
    out!("Heat map (impact rows 5..1 x probability 1..5)");
    for impact in (1..=5).rev() {
        let cells: Vec<String> = h.cells[impact - 1]
            .iter()
            .map(|n| format!("{n:>3}"))
            .collect();
        out!("  {impact} |{}", cells.join(""));
    }
}

fn audit_json(e: &AuditEntry) -> Value {
    json!({
        "seq": e.seq,
        "index": e.index,
        "recorded_at": time(e.recorded_at),
        "migrated_at": e.migrated_at.map(time),
        "event": e.event,
        "period": e.period.map(|p| p.to_string()),
        "field": e.field,
        "before": e.before,
        "after": e.after,
        "actor": e.actor,
        "reason": e.reason,
        "source": e.source,
        "command_id": e.command_id,
        "event_id": e.event_id,
    })
}

fn audit_rows(entries: &[AuditEntry]) -> Vec<Vec<String>> {
    entries
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                time(e.recorded_at),
                e.event.clone(),
                e.period.map(|p| p.to_string()).unwrap_or_default(),
                e.before.clone().unwrap_or_default(),
                e.after.clone().unwrap_or_default(),
                e.actor.clone(),
                e.reason.clone().unwrap_or_default(),
                e.migrated_at.map(time).unwrap_or_default(),
            ]
        })
        .collect()
}

/// `recorded_at` is the claimed time of a migrated record; `migrated_at`
/// when the ledger really appended it (empty for a live record).
const AUDIT_HEADER: [&str; 9] = [
    "seq",
    "recorded_at",
    "event",
    "period",
    "before",
    "after",
    "actor",
    "reason",
    "migrated_at",
];

/// `history`.
pub fn history(f: Format, v: &IndicatorView) -> Res<()> {
    let rows: Vec<Value> = v
        .rows
        .iter()
        .map(|r| {
            json!({
                "period": r.period.to_string(),
                "target": r.target_text,
                "result": r.result_text,
                "rag": r.rag.map(rag_name),
                "direction_short": dir_name(r.direction_short),
                "direction_long": dir_name(r.direction_long),
                "restatements": r.restatements,
                "commentary": r.commentary,
            })
        })
        .collect();
    match f {
        Format::Json => {
            let j = json!({
                "indicator": v.natural_key,
                "entity": v.entity,
                "as_of": v.as_of,
                "title": v.spec.as_ref().map(|s| s.title.to_string()),
                "unit": v.spec.as_ref().map(|s| s.unit.to_string()),
                "type": v.spec.as_ref().map(|s| s.indicator_type.label()),
                "retired": v.retired,
                "rows": rows,
                "audit": v.audit.iter().map(audit_json).collect::<Vec<_>>(),
            });
            out!("{j:#}");
        }
        Format::Csv | Format::Table => {
            let header = [
                "period",
                "target",
                "result",
                "rag",
                "dot_short",
                "dot_long",
                "restatements",
            ];
            let rs: Vec<Vec<String>> = v
                .rows
                .iter()
                .map(|r| {
                    vec![
                        r.period.to_string(),
                        r.target_text.clone().unwrap_or_default(),
                        r.result_text.clone().unwrap_or_default(),
                        r.rag.map(rag_name).unwrap_or("").to_string(),
                        dir_name(r.direction_short).unwrap_or("").to_string(),
                        dir_name(r.direction_long).unwrap_or("").to_string(),
                        r.restatements.to_string(),
                    ]
                })
                .collect();
            if f == Format::Csv {
                return csv_out(&header, rs);
            }
            out!(
                "{} — {} (as of sequence {})",
                v.natural_key,
                v.spec.as_ref().map_or("", |s| s.title.as_str()),
                v.as_of
            );
            table(&header, &rs);
            out!();
            table(&AUDIT_HEADER, &audit_rows(&v.audit));
        }
    }
    Ok(())
}

/// `audit`.
pub fn audit(f: Format, t: &AuditTrail) -> Res<()> {
    match f {
        Format::Json => {
            let j = json!({
                "kind": t.kind,
                "key": t.natural_key,
                "entity": t.entity,
                "as_of": t.as_of,
                "digest": t.digest_hex(),
                "entries": t.entries.iter().map(audit_json).collect::<Vec<_>>(),
            });
            out!("{j:#}");
        }
        Format::Csv => csv_out(&AUDIT_HEADER, audit_rows(&t.entries))?,
        Format::Table => {
            out!(
                "Audit trail of {} {} (as of sequence {})",
                t.kind,
                t.natural_key,
                t.as_of
            );
            table(&AUDIT_HEADER, &audit_rows(&t.entries));
        }
    }
    Ok(())
}

fn assessment(a: &Option<Assessment>) -> Value {
    match a {
        None => Value::Null,
        Some(a) => json!({
            "impact": a.impact, "probability": a.probability, "score": a.score(),
            "band": a.band().label(), "printed": format!("{} {}", a.band().label(), a.score()),
        }),
    }
}

/// `risks`.
pub fn risks(f: Format, r: &RiskRegister, heat: bool) -> Res<()> {
    let printed = |a: &Option<Assessment>| {
        a.map(|a| format!("{} {}", a.band().label(), a.score()))
            .unwrap_or_default()
    };
    match f {
        Format::Json => {
            let j = json!({
                "as_of": r.as_of,
                "unit": r.unit,
                "risks": r.risks.iter().map(|x| json!({
                    "risk_id": x.risk_id, "unit": x.unit, "title": x.title, "owner": x.owner,
                    "category": x.category, "period": x.period.map(|p| p.to_string()),
                    "current": assessment(&x.current), "target": assessment(&x.target),
                    "escalated": x.escalated, "closed": x.closed,
                })).collect::<Vec<_>>(),
                "heat_map": heat_rows(&r.heat_maps.current),
                "target_heat_map": heat_rows(&r.heat_maps.target),
                "escalated": r.escalated,
            });
            out!("{j:#}");
        }
        Format::Csv | Format::Table => {
            let header = [
                "risk_id",
                "unit",
                "title",
                "period",
                "current",
                "target",
                "escalated",
            ];
            let rows: Vec<Vec<String>> = r
                .risks
                .iter()
                .map(|x| {
                    vec![
                        x.risk_id.clone(),
                        x.unit.clone(),
                        x.title.clone(),
                        x.period.map(|p| p.to_string()).unwrap_or_default(),
                        printed(&x.current),
                        printed(&x.target),
                        if x.escalated {
                            "yes".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            if f == Format::Csv {
                return csv_out(&header, rows);
            }
            out!(
                "Risk register {} (as of sequence {})",
                r.unit.as_deref().unwrap_or("council-wide"),
                r.as_of
            );
            table(&header, &rows);
            if heat {
                out!();
                print_heat(&r.heat_maps.current);
            }
        }
    }
    Ok(())
}

/// `finance` JSON.
pub fn finance_json(v: &FinanceView) -> Value {
    let as_at = |p: Option<Period>| p.map(|p| p.to_string());
    let rev = |line: &str,
               unit: &str,
               f: &perfledger_domain::budget::RevenueFigures,
               at: Option<Period>| {
        let var = f.variation().unwrap_or(Fixed::ZERO);
        json!({
            "line": line, "unit": unit,
            "original": amount(f.original), "revised": amount(f.revised), "forecast": amount(f.forecast),
            "variation": amount(var),
            "variation_percent": pct1(f.variation_percent_1dp().ok().flatten()),
            "forecast_as_at": as_at(at),
        })
    };
    let cap = |line: &str,
               unit: &str,
               f: &perfledger_domain::budget::CapitalFigures,
               at: Option<Period>| {
        json!({
            "line": line, "unit": unit,
            "approved": amount(f.approved), "additions": amount(f.additions), "slippage": amount(f.slippage),
            "proposed": amount(f.proposed().unwrap_or(Fixed::ZERO)), "forecast": amount(f.forecast),
            "variance": amount(f.variance().unwrap_or(Fixed::ZERO)),
            "slippage_percent": pct_whole(f.slippage_percent_whole()),
            "forecast_as_at": as_at(at),
        })
    };
    let unit = v.unit.as_deref().unwrap_or("");
    json!({
        "as_of": v.as_of,
        "unit": v.unit,
        "period": v.period.to_string(),
        "no_data": v.is_empty(),
        "carried_forward": v.carried_forward().iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "revenue": v.revenue.iter().map(|r| rev(&r.line, &r.unit, &r.figures, r.forecast_period)).collect::<Vec<_>>(),
        "revenue_total": rev("Total", unit, &v.revenue_total, None),
        "capital": v.capital.iter().map(|r| cap(&r.line, &r.unit, &r.figures, r.forecast_period)).collect::<Vec<_>>(),
        "capital_total": cap("Total", unit, &v.capital_total, None),
        "savings": v.savings.iter().map(|s| json!({
            "reference": s.reference, "unit": s.unit, "description": s.description,
            "target": amount(s.line.target), "achieved": amount(s.line.achieved),
            "achieved_percent": pct1(s.achieved_percent_1dp),
            "reported_as_at": as_at(s.reported_period),
        })).collect::<Vec<_>>(),
        "savings_target": amount(v.savings_target),
        "savings_achieved": amount(v.savings_achieved),
    })
}

/// What a table or CSV row prints beside a figure carried forward from an
/// earlier period (empty when the figure is the period's own).
fn carried(v: &FinanceView, p: &Value) -> String {
    match p.as_str() {
        Some(at) if at != v.period.to_string() => format!("forecast as at {at}"),
        _ => String::new(),
    }
}

/// `finance`.
pub fn finance(f: Format, v: &FinanceView) -> Res<()> {
    let j = finance_json(v);
    match f {
        Format::Json => out!("{j:#}"),
        Format::Csv | Format::Table => {
            if v.is_empty() {
                let scope = v.unit.as_deref().unwrap_or("council-wide");
                let message = format!(
                    "no data: no revenue, capital or savings figures for {scope} in {} (financial year {}) as of sequence {}",
                    v.period,
                    v.period.financial_year(),
                    v.as_of
                );
                if f == Format::Csv {
                    // Stdout stays a (header-only) CSV; the note goes to stderr.
                    eprintln!("{message}");
                } else {
                    out!("Finance {scope} {}: {message}", v.period);
                    return Ok(());
                }
            }
            let header = [
                "table",
                "line",
                "unit",
                "budget",
                "forecast",
                "variation",
                "percent",
                "note",
            ];
            let mut rows = Vec::new();
            let s = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
            for r in j["revenue"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(std::iter::once(&j["revenue_total"]))
            {
                rows.push(vec![
                    "revenue".into(),
                    s(r, "line"),
                    s(r, "unit"),
                    s(r, "revised"),
                    s(r, "forecast"),
                    s(r, "variation"),
                    s(r, "variation_percent"),
                    carried(v, &r["forecast_as_at"]),
                ]);
            }
            for r in j["capital"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(std::iter::once(&j["capital_total"]))
            {
                rows.push(vec![
                    "capital".into(),
                    s(r, "line"),
                    s(r, "unit"),
                    s(r, "approved"),
                    s(r, "forecast"),
                    s(r, "variance"),
                    s(r, "slippage_percent"),
                    carried(v, &r["forecast_as_at"]),
                ]);
            }
            for r in j["savings"].as_array().into_iter().flatten() {
                rows.push(vec![
                    "savings".into(),
                    s(r, "reference"),
                    s(r, "unit"),
                    s(r, "target"),
                    s(r, "achieved"),
                    String::new(),
                    s(r, "achieved_percent"),
                    carried(v, &r["reported_as_at"]).replace("forecast as at", "reported as at"),
                ]);
            }
            if f == Format::Csv {
                return csv_out(&header, rows);
            }
            out!(
                "Finance {} {} (as of sequence {}), £000",
                v.unit.as_deref().unwrap_or("council-wide"),
                v.period,
                v.as_of
            );
            table(&header, &rows);
            let carried = v.carried_forward();
            if !carried.is_empty() {
                let list: Vec<String> = carried.iter().map(|p| p.to_string()).collect();
                out!(
                    "Figures marked \"as at\" are carried forward from {} (none was submitted for {}).",
                    list.join(", "),
                    v.period
                );
            }
        }
    }
    Ok(())
}

/// `seal`.
pub fn seal(f: Format, c: &CommitteeSeal, seq: Seq, root: &[u8; 32]) -> Res<()> {
    let s = &c.seal;
    let digest = hex::encode(s.digest);
    let anchor = format!("{}:{}", s.seq, hex::encode(root));
    match f {
        Format::Json => out!(
            "{:#}",
            json!({"seal_seq": seq, "seal_id": c.seal_id.to_string(),
                "title": c.title.as_ref().map(|t| t.to_string()),
                "sealed_at": c.sealed_at.to_string(),
                "dashboard_as_of": s.seq, "digest": digest, "anchor": anchor,
                "unit": s.unit.as_ref().map(|u| u.to_string()), "period": s.period.to_string(),
                "committee": s.committee.to_string(), "meeting_date": s.meeting_date.to_string()})
        ),
        _ => out!(
            "sealed {} ({} {} for {} on {}): dashboard as of sequence {}, digest {digest}; seal recorded at sequence {seq}\nanchor (the log up to the sealed position; check with verify --anchor): {anchor}",
            c.seal_id,
            s.unit.as_ref().map_or("council-wide", |u| u.as_str()),
            s.period,
            s.committee,
            s.meeting_date,
            s.seq
        ),
    }
    Ok(())
}

/// `seals`: every seal in the log up to `at`, each re-derived.
pub fn seals(f: Format, at: Seq, rows: &[(SealRecord, SealVerdict)]) -> Res<()> {
    let item = |r: &SealRecord, v: &SealVerdict| {
        json!({
            "seq": r.seq,
            "seal_id": r.seal_id,
            "title": r.title,
            "sealed_at": r.sealed_at.map(|t| t.to_string()),
            "committee": r.seal.committee.to_string(),
            "meeting_date": r.seal.meeting_date.to_string(),
            "unit": r.seal.unit.as_ref().map(|u| u.to_string()),
            "period": r.seal.period.to_string(),
            "dashboard_as_of": r.seal.seq,
            "digest": hex::encode(r.seal.digest),
            "matches": v.matches,
            "changed_since": v.changed_since.len(),
        })
    };
    let list: Vec<Value> = rows.iter().map(|(r, v)| item(r, v)).collect();
    if f == Format::Json {
        out!("{:#}", json!({"as_of": at, "seals": list}));
        return Ok(());
    }
    let header = [
        "seq",
        "seal_id",
        "committee",
        "meeting_date",
        "unit",
        "period",
        "dashboard_as_of",
        "digest",
        "verdict",
        "changed_since",
    ];
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(r, v)| {
            vec![
                r.seq.to_string(),
                r.seal_id.clone().unwrap_or_default(),
                r.seal.committee.to_string(),
                r.seal.meeting_date.to_string(),
                r.seal
                    .unit
                    .as_ref()
                    .map_or("council-wide".to_string(), |u| u.to_string()),
                r.seal.period.to_string(),
                r.seal.seq.to_string(),
                hex::encode(r.seal.digest),
                if v.matches { "matches" } else { "DIFFERS" }.to_string(),
                v.changed_since.len().to_string(),
            ]
        })
        .collect();
    if f == Format::Csv {
        return csv_out(&header, table_rows);
    }
    if rows.is_empty() {
        out!("no seals in the log (as of sequence {at})");
        return Ok(());
    }
    out!("Seals as of sequence {at} (changed_since: figures changed since the sealed position)");
    table(&header, &table_rows);
    Ok(())
}

/// `import` summary.
pub fn import_summary(
    f: Format,
    plan: &ImportPlan,
    appended: &BTreeMap<&str, (usize, usize)>,
    seals: &[(String, Seq, String, Seq)],
    before: Seq,
    head: Seq,
    checkpoint: Option<Seq>,
) -> Res<()> {
    let new: usize = appended.values().map(|v| v.0).sum();
    let dup: usize = appended.values().map(|v| v.1).sum();
    match f {
        Format::Json => out!(
            "{:#}",
            json!({
                "tenant": plan.tenant.as_str(),
                "rows": plan.rows,
                "commands": appended.iter().map(|(k, v)| (k.to_string(), json!({"appended": v.0, "already_present": v.1}))).collect::<serde_json::Map<_, _>>(),
                "appended": new,
                "already_present": dup,
                "seals": seals.iter().map(|s| json!({"seal_id": s.0, "seq": s.1, "digest": s.2, "dashboard_as_of": s.3})).collect::<Vec<_>>(),
                "warnings": plan.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
                "head_before": before,
                "head": head,
                "checkpoint_seq": checkpoint,
            })
        ),
        _ => {
            out!(
                "Imported tenant {}: {} rows in {} files",
                plan.tenant,
                plan.rows.values().sum::<usize>(),
                plan.rows.len()
            );
            let rows: Vec<Vec<String>> = appended
                .iter()
                .map(|(k, v)| vec![k.to_string(), v.0.to_string(), v.1.to_string()])
                .collect();
            table(&["command", "appended", "already present"], &rows);
            for s in seals {
                out!(
                    "seal {}: dashboard as of sequence {}, digest {}, recorded at sequence {}",
                    s.0,
                    s.3,
                    s.2,
                    s.1
                );
            }
            out!(
                "{new} commands appended, {dup} already present; log head {before} -> {head}{}",
                checkpoint.map_or(String::new(), |c| format!("; checkpoint at sequence {c}"))
            );
            if !plan.warnings.is_empty() {
                out!("{} warnings (see above)", plan.warnings.len());
            }
        }
    }
    Ok(())
}

/// `indicators`.
pub fn indicators(f: Format, list: &[IndicatorSummary]) -> Res<()> {
    let header = ["key", "reference", "title", "unit", "type", "retired"];
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            vec![
                i.natural_key.clone(),
                i.reference.clone().unwrap_or_default(),
                i.title.clone(),
                i.unit.clone(),
                i.indicator_type.label().to_string(),
                i.retired.to_string(),
            ]
        })
        .collect();
    match f {
        Format::Json => {
            let j: Vec<Value> = list
                .iter()
                .map(|i| {
                    json!({"key": i.natural_key, "reference": i.reference, "title": i.title,
                        "unit": i.unit, "type": i.indicator_type.label(), "retired": i.retired,
                        "entity": i.entity})
                })
                .collect();
            out!("{:#}", Value::Array(j));
        }
        Format::Csv => csv_out(&header, rows)?,
        Format::Table => table(&header, &rows),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(s: &str) -> Fixed {
        Fixed::parse_decimal(s).unwrap()
    }

    #[test]
    fn printed_forms() {
        assert_eq!(amount(fx("30837")), "30,837");
        assert_eq!(amount(fx("-4331")), "(4,331)");
        assert_eq!(amount(fx("-491")), "(491)");
        assert_eq!(amount(fx("0")), "0");
        assert_eq!(amount(fx("1000000")), "1,000,000");
        assert_eq!(pct1(Some(fx("-50.7"))), "-50.7%");
        assert_eq!(pct1(Some(fx("0"))), "0.0%");
        assert_eq!(pct1(Some(fx("7"))), "7.0%");
        assert_eq!(pct_whole(Some(fx("-12"))), "(12%)");
        assert_eq!(pct_whole(Some(fx("3"))), "3%");
    }
}
