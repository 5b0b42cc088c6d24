//! `history`, `audit` and `indicators`: an indicator's figures by period
//! with its audit trail, an entity's audit trail (who, when, why, before and
//! after), and the list of indicators.

use perfledger_readmodel::views::{self, AuditJson, HistoryJson, IndicatorsJson};
use perfledger_readmodel::{AuditEntry, AuditTrail, IndicatorSummary, IndicatorView};

use super::{csv_out, dir_name, rag_name, table, time};
use crate::args::Format;
use crate::error::Res;

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
                e.source.clone(),
                e.migrated_at.map(time).unwrap_or_default(),
            ]
        })
        .collect()
}

/// `recorded_at` is the claimed time of a migrated record; `migrated_at`
/// when the ledger really appended it (empty for a live record).
const AUDIT_HEADER: [&str; 10] = [
    "seq",
    "recorded_at",
    "event",
    "period",
    "before",
    "after",
    "actor",
    "reason",
    "source",
    "migrated_at",
];

/// `history`.
pub fn history(f: Format, v: &IndicatorView) -> Res<()> {
    match f {
        Format::Json => out!("{}", views::to_json(&HistoryJson::from(v), true)),
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
                // The CSV also carries each period's commentary (too long
                // for the table).
                let mut header = header.to_vec();
                header.push("commentary");
                let rs = rs
                    .into_iter()
                    .zip(&v.rows)
                    .map(|(mut r, row)| {
                        r.push(row.commentary.clone().unwrap_or_default());
                        r
                    })
                    .collect();
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
        Format::Json => out!("{}", views::to_json(&AuditJson::from(t), true)),
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
pub fn indicators(f: Format, as_of: u64, unit: Option<&str>, list: &[IndicatorSummary]) -> Res<()> {
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
        Format::Json => out!(
            "{}",
            views::to_json(&IndicatorsJson::new(as_of, unit, list), true)
        ),
        Format::Csv => csv_out(&header, rows)?,
        Format::Table => table(&header, &rows),
    }
    Ok(())
}
