//! The import workflow: CSV files into the ledger, all or nothing.
//!
//! 1. [`Service::plan_import`] validates the whole input into a plan; when
//!    the ledger has closed periods it validates again knowing them (rows
//!    for a closed period that carry a reason become post-close
//!    restatements). Nothing is appended yet.
//! 2. [`Service::apply_import`] appends every command of the plan in one
//!    all-or-nothing batch (a command already in the ledger is a duplicate,
//!    counted as "already present"); a command the ledger refuses is
//!    reported by its file and line and nothing is appended. Then each
//!    seal of seals.csv is completed as of its `sealed_at` and appended
//!    ([`Service::complete_import_seal`]), and a checkpoint is appended.
//!
//! Between the two steps the front end can show the plan (tenant,
//! warnings) and record the tenant; the read model is opened only when the
//! plan has seals, so an import without seals works while a server holds
//! the read model.

use std::collections::BTreeMap;
use std::path::PathBuf;

use perfledger_import::{ImportErrors, ImportOptions, ImportPlan};
use perfledger_log::{integrity, EventLog, Seq};
use perfledger_readmodel::ReadModel;

use crate::seal::CompletedSeal;
use crate::{BoxError, Result, Service, ServiceError};

/// Where the CSV files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sources {
    /// Every `<kind>.csv` of one directory.
    Dir(PathBuf),
    /// Files named `<kind>.csv`.
    Files(Vec<PathBuf>),
}

impl Sources {
    /// One directory is read as a directory; otherwise every path is a
    /// file, and a directory among several stands for its `*.csv` files
    /// (sorted by name; an unreadable directory stands for none).
    pub fn from_paths(paths: &[PathBuf]) -> Sources {
        if paths.len() == 1 && paths[0].is_dir() {
            return Sources::Dir(paths[0].clone());
        }
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                if let Ok(rd) = std::fs::read_dir(p) {
                    let mut v: Vec<PathBuf> = rd
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| {
                            p.extension()
                                .and_then(|x| x.to_str())
                                .is_some_and(|x| x.eq_ignore_ascii_case("csv"))
                        })
                        .collect();
                    v.sort();
                    files.extend(v);
                }
            } else {
                files.push(p.clone());
            }
        }
        Sources::Files(files)
    }

    /// Read and validate the files into a plan.
    pub fn load(&self, opts: &ImportOptions) -> std::result::Result<ImportPlan, ImportErrors> {
        match self {
            Sources::Dir(dir) => perfledger_import::load_dir(dir, opts),
            Sources::Files(files) => perfledger_import::load_files(files, opts),
        }
    }
}

/// How far the append has got, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportProgress {
    /// `done` of `total` commands appended so far.
    Appending {
        /// Commands appended.
        done: usize,
        /// Commands in the plan.
        total: usize,
    },
    /// The batch is over (appended, or refused and nothing appended);
    /// seals follow.
    Appended,
}

/// Commands of one kind in an import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Appended now.
    pub appended: usize,
    /// In the ledger already (a re-import): nothing appended.
    pub already_present: usize,
}

/// What an import appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// By command name (`SealCommitteePack` for the seals).
    pub commands: BTreeMap<&'static str, Counts>,
    /// The seals completed and appended.
    pub seals: Vec<CompletedSeal>,
    /// The log head before the import.
    pub head_before: Seq,
    /// The log head after it.
    pub head: Seq,
    /// The checkpoint appended, if there was anything new to cover.
    pub checkpoint: Option<Seq>,
}

impl<L: EventLog> Service<L> {
    /// Step 1: validate the input into a plan (again with the ledger's
    /// closed periods when it has any). `opts.tenant`, when given, must be
    /// the tenant of council.csv: one read model serves one council.
    pub async fn plan_import(
        &self,
        sources: &Sources,
        mut opts: ImportOptions,
    ) -> Result<ImportPlan> {
        let mut plan = sources.load(&opts)?;
        let closed = self.closed_periods(&plan.tenant).await?;
        if !closed.is_empty() {
            opts.tenant = Some(plan.tenant.clone());
            opts.closed_periods = closed;
            plan = sources.load(&opts)?;
        }
        tracing::info!(
            tenant = %plan.tenant,
            commands = plan.submissions.len(),
            seals = plan.seals.len(),
            warnings = plan.warnings.len(),
            "import validated"
        );
        Ok(plan)
    }

    /// Step 2: append the plan all or nothing, complete its seals, then
    /// checkpoint. `readmodel` opens the front end's read model (called
    /// only when the plan has seals; it is caught up here).
    pub async fn apply_import(
        &self,
        plan: &ImportPlan,
        readmodel: impl FnOnce() -> std::result::Result<ReadModel, BoxError>,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        let log = self.log();
        let head_before = log.head().await?;
        let batch = self
            .ledger()
            .execute_batch(plan.submissions.clone(), |done, total| {
                progress(ImportProgress::Appending { done, total })
            })
            .await;
        progress(ImportProgress::Appended);
        let executed = batch.map_err(|e| match plan.locate(&e) {
            Some(row) => ServiceError::Rows(format!(
                "{row}\nnothing was imported (head sequence still {head_before})"
            )),
            None => e.into(),
        })?;
        let mut commands: BTreeMap<&'static str, Counts> = BTreeMap::new();
        for (s, x) in plan.submissions.iter().zip(&executed) {
            let c = commands.entry(s.command.command.name()).or_default();
            if x.duplicate || x.events.is_empty() {
                c.already_present += 1;
            } else {
                c.appended += 1;
            }
        }
        let mut seals = Vec::new();
        if !plan.seals.is_empty() {
            let rm = readmodel().map_err(ServiceError::FrontEnd)?;
            let rm = self.caught_up(rm).await?;
            for req in &plan.seals {
                match self.complete_import_seal(&rm, &plan.tenant, req).await? {
                    Some(done) => seals.push(done),
                    None => {
                        let c = commands.entry("SealCommitteePack").or_default();
                        c.already_present += 1;
                    }
                }
            }
        }
        let checkpoint = integrity::checkpoint(log, self.ledger().prefix()).await?;
        Ok(ImportReport {
            commands,
            seals,
            head_before,
            head: log.head().await?,
            checkpoint: checkpoint.map(|c| c.seq),
        })
    }
}
