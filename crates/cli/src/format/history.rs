//! `history`, `audit` and `indicators`: an indicator's figures by period
//! with its audit trail, an entity's audit trail (who, when, why, before and
//! after), and the list of indicators.

use perfledger_readmodel::{AuditEntry, AuditTrail, IndicatorSummary, IndicatorView};
use serde_json::{json, Value};

use super::{csv_out, dir_name, rag_name, table, time};
use crate::args::Format;
use crate::error::Res;

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
