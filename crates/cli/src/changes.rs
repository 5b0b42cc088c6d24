//! `perfledger changes --seal ID`: every figure of the sealed pack that
//! differs now, before → after, with the events that changed it (sequence,
//! recorded time, actor, reason, source), and every summary count
//! attributed to the rows that moved it (issue #13 item 7).
//!
//! The sealed pack is re-derived at the seal's dashboard position and the
//! current one at head (or `--as-of`), by
//! [`perfledger_readmodel::ReadModel::pack_changes`]; the output order is
//! that function's (deterministic). `--format table|json|csv` applies; CSV
//! has one line per changed figure. An unknown seal id is exit 1 naming it.

use clap::Args;
use perfledger_domain::Timestamp;
use perfledger_readmodel::pack::changes::PackChanges;
use perfledger_readmodel::AuditEntry;

use super::{as_of, CliError, Env, Format, Res};

#[derive(Debug, Args)]
pub struct ChangesArgs {
    /// Seal id (as listed by `perfledger seals`)
    #[arg(long)]
    seal: String,
    /// Compare with the pack as of this log sequence or RFC 3339 time
    /// (default: the latest)
    #[arg(long)]
    as_of: Option<String>,
}

/// Run `perfledger changes`.
pub async fn run(env: &Env, a: ChangesArgs) -> Res<()> {
    let rm = env.caught_up().await?;
    let c = rm.pack_changes(&a.seal, as_of(a.as_of.as_deref())?)?;
    match env.g.format {
        Format::Json => {
            let v = serde_json::to_value(&c).map_err(|e| CliError::Usage(e.to_string()))?;
            out!("{v:#}");
        }
        Format::Csv => csv(&c),
        Format::Table => table(&c),
    }
    Ok(())
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("—")
}

/// `#SEQ TIME by ACTOR (SOURCE): EVENT FIELD BEFORE → AFTER, because REASON`.
fn event_line(e: &AuditEntry) -> String {
    let mut s = format!(
        "#{} {} by {} ({}): {} {} {} → {}",
        e.seq,
        Timestamp(e.recorded_at),
        e.actor,
        e.source,
        e.event,
        e.field,
        opt(&e.before),
        opt(&e.after)
    );
    if let Some(m) = e.migrated_at {
        s.push_str(&format!(", migrated {}", Timestamp(m)));
    }
    if let Some(r) = &e.reason {
        s.push_str(&format!(", because {r}"));
    }
    s
}

fn table(c: &PackChanges) {
    out!(
        "Changes since seal {} ({} {}): sealed pack as of sequence {} → now as of sequence {}",
        c.seal_id,
        c.unit.as_deref().unwrap_or("council-wide"),
        c.period,
        c.sealed_as_of,
        c.now_as_of
    );
    if c.rows.is_empty() && c.counts.is_empty() {
        out!("no figure of the sealed pack has changed");
        return;
    }
    out!("");
    out!("Rows ({}):", c.rows.len());
    for r in &c.rows {
        out!("{} {}", r.section, r.key);
        for f in &r.fields {
            out!("  {}: {} → {}", f.field, opt(&f.before), opt(&f.after));
        }
        for e in &r.events {
            out!("  {}", event_line(e));
        }
    }
    out!("");
    out!("Counts ({}):", c.counts.len());
    for k in &c.counts {
        out!(
            "{} {} → {}: moved by {}",
            k.count,
            k.before,
            k.after,
            if k.moved_by.is_empty() {
                "—".to_string()
            } else {
                k.moved_by.join(", ")
            }
        );
    }
}

fn cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One line per changed figure (its events joined with `; `), then one per
/// moved count (section `count`).
fn csv(c: &PackChanges) {
    out!("section,key,field,before,after,events");
    for r in &c.rows {
        let events: Vec<String> = r.events.iter().map(event_line).collect();
        let events = events.join("; ");
        for f in &r.fields {
            let line = [
                r.section.as_str(),
                &r.key,
                &f.field,
                opt(&f.before),
                opt(&f.after),
                &events,
            ]
            .map(cell)
            .join(",");
            out!("{line}");
        }
    }
    for k in &c.counts {
        let line = [
            "count".to_string(),
            k.count.clone(),
            String::new(),
            k.before.to_string(),
            k.after.to_string(),
            format!("moved by {}", k.moved_by.join(" ")),
        ]
        .map(|s| cell(&s))
        .join(",");
        out!("{line}");
    }
}
