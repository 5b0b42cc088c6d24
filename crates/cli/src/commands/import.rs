//! `import`: CSV files (a directory, or files named `<kind>.csv`) into the
//! ledger, all or nothing, by the application layer's import workflow
//! (`perfledger_service::import`: validate, append in one batch, complete
//! the seals, checkpoint). This module supplies what the command line
//! decides: the paths, the actor (`--actor`, else the import's default),
//! the tenant (`--tenant`, else the data directory's), the progress bar,
//! the warnings on stderr and the summary.

use std::path::PathBuf;

use perfledger_domain::{Tenant, Text};
use perfledger_import::ImportOptions;
use perfledger_service::import::{ImportProgress, Sources};

use crate::env::{bar, Env};
use crate::error::{CliError, Res};
use crate::format;

/// Import `paths`; `backdated`: a historical load (rows claim their
/// recorded times).
pub async fn import(env: &Env, paths: &[PathBuf], backdated: bool) -> Res<()> {
    if let Some(p) = paths.iter().find(|p| !p.exists()) {
        return Err(CliError::Usage(format!(
            "{}: no such file or directory",
            p.display()
        )));
    }
    let opts = options(env, backdated)?;
    let service = env.service();
    let plan = service
        .plan_import(&Sources::from_paths(paths), opts)
        .await?;
    // The data directory serves this tenant from now on.
    std::fs::write(env.dir.join("tenant"), plan.tenant.as_str())?;
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    let pb = bar(plan.submissions.len() as u64, "importing");
    let report = service
        .apply_import(
            &plan,
            || env.readmodel().map_err(Into::into),
            &mut |p| match p {
                ImportProgress::Appending { done, .. } => pb.set_position(done as u64),
                ImportProgress::Appended => pb.finish_and_clear(),
            },
        )
        .await;
    pb.finish_and_clear();
    format::import_summary(env.g.format, &plan, &report?)
}

/// The import's options: the actor of definition rows, now, and the
/// tenant the files must be for (`--tenant`, else the one the data
/// directory records, if any).
fn options(env: &Env, backdated: bool) -> Res<ImportOptions> {
    let actor = match &env.g.actor {
        Some(a) if !a.trim().is_empty() => Text::new("actor", a.trim())?,
        _ => Text::new("actor", "Performance Officer (import)")?,
    };
    let now = perfledger_ledger::Clock::now(&perfledger_ledger::SystemClock);
    let mut opts = ImportOptions::new(actor, now);
    opts.backdated = backdated;
    if let Some(t) = &env.g.tenant {
        opts.tenant = Some(Tenant::new(t)?);
    } else if let Ok(t) = env.tenant() {
        opts.tenant = Some(t);
    }
    Ok(opts)
}
