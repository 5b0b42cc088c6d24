//! `seal` (the seal just recorded, with its anchor) and `seals` (every
//! seal in the log, each re-derived: matches or DIFFERS).

use perfledger_domain::event::CommitteeSeal;
use perfledger_log::Seq;
use perfledger_readmodel::views::{self, SealsJson};
use perfledger_readmodel::{SealRecord, SealVerdict};
use serde_json::json;

use super::{csv_out, table};
use crate::args::Format;
use crate::error::Res;

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
    if f == Format::Json {
        out!("{}", views::to_json(&SealsJson::new(at, rows), true));
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
