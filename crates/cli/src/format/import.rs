//! The `import` summary: rows read, commands appended or already present
//! by command, the seals completed, the log head before and after.

use perfledger_import::ImportPlan;
use perfledger_service::import::ImportReport;
use serde_json::json;

use super::table;
use crate::args::Format;
use crate::error::Res;

/// `import` summary.
pub fn import_summary(f: Format, plan: &ImportPlan, report: &ImportReport) -> Res<()> {
    let appended = &report.commands;
    let (before, head, checkpoint) = (report.head_before, report.head, report.checkpoint);
    let new: usize = appended.values().map(|v| v.appended).sum();
    let dup: usize = appended.values().map(|v| v.already_present).sum();
    match f {
        Format::Json => out!(
            "{:#}",
            json!({
                "tenant": plan.tenant.as_str(),
                "rows": plan.rows,
                "commands": appended.iter().map(|(k, v)| (k.to_string(), json!({"appended": v.appended, "already_present": v.already_present}))).collect::<serde_json::Map<_, _>>(),
                "appended": new,
                "already_present": dup,
                "seals": report.seals.iter().map(|s| json!({"seal_id": s.seal_id, "seq": s.seq, "digest": s.digest, "dashboard_as_of": s.dashboard_as_of})).collect::<Vec<_>>(),
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
                .map(|(k, v)| {
                    vec![
                        k.to_string(),
                        v.appended.to_string(),
                        v.already_present.to_string(),
                    ]
                })
                .collect();
            table(&["command", "appended", "already present"], &rows);
            for s in &report.seals {
                out!(
                    "seal {}: dashboard as of sequence {}, digest {}, recorded at sequence {}",
                    s.seal_id,
                    s.dashboard_as_of,
                    s.digest,
                    s.seq
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
