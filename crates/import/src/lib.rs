//! perfledger-import: the CSV files an officer exports (one file per kind of
//! record, `docs/import-formats.md`) turned into ledger submissions.
//!
//! * [`load_dir`] / [`load_files`] read and validate **every** file completely
//!   and collect all errors (up to [`ImportOptions::max_errors`]); any error
//!   means no [`ImportPlan`] at all, so nothing can be appended.
//! * Every error names file, line (1-based, header = line 1), column and value.
//! * The plan's [`ImportPlan::submissions`] are in one global time order:
//!   definitions first (recorded at the earliest fact's time), then every fact
//!   row of every file merged by recorded time; ties keep the file order of the
//!   doc's *Import order* list, then line order.
//! * Command ids are uuid v5 of tenant, file name, line and row content, so
//!   re-importing the same files is a no-op in the ledger.
//! * Seals need the dashboard digest, which only the read model can compute:
//!   they are returned as [`SealRequest`]s for the caller to complete and
//!   append after the batch.
//! * Printed totals (`row_type=total`) are checks only: differences from the
//!   sum of the lines become [`Warning`]s.
//!
//! Where things are: `table` reads one CSV file,
//! `cells` parses one cell, `kinds/*` holds each file kind's columns and
//! how its rows become commands, `build` reads the kinds in dependency
//! order, `order` puts the commands in time order with their ids;
//! `errors`, `plan` and `options` hold the public types.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use perfledger_domain::Fixed;

mod build;
mod cells;
mod errors;
mod kinds;
mod options;
mod order;
mod plan;
mod table;

pub use cells::{parse_bp, parse_data_type, parse_intervention};
pub use errors::{ImportError, ImportErrors, Warning};
pub use kinds::FILES;
pub use options::{ImportOptions, DEFAULT_MAX_ERRORS};
pub use order::{command_id, COMMAND_NAMESPACE};
pub use plan::{ImportPlan, Origin, SealRequest};
pub use table::file_kind;

use errors::Errs;
use table::read_table;

/// Read every known `*.csv` file of a directory (an unknown CSV file name is
/// an error: a misnamed file must not be skipped silently).
pub fn load_dir(dir: &Path, opts: &ImportOptions) -> Result<ImportPlan, ImportErrors> {
    let mut errs = Errs::new(opts.max_errors);
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errs.at(
                &dir.display().to_string(),
                0,
                "",
                "",
                format!("cannot read directory: {e}"),
            );
            return Err(errs.into_errors());
        }
    };
    let mut paths = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        let is_csv = p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| x.eq_ignore_ascii_case("csv"));
        if is_csv {
            paths.push(p);
        }
    }
    paths.sort();
    load_files(&paths, opts)
}

/// Read the given files (each named `<kind>.csv`).
pub fn load_files(paths: &[PathBuf], opts: &ImportOptions) -> Result<ImportPlan, ImportErrors> {
    let mut errs = Errs::new(opts.max_errors);
    let mut files = Vec::new();
    for p in paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| p.display().to_string());
        let Some(kind) = file_kind(p) else {
            errs.at(
                &name,
                0,
                "",
                "",
                format!(
                    "unknown file name; expected one of {}",
                    FILES.map(|f| format!("{f}.csv")).join(", ")
                ),
            );
            continue;
        };
        match std::fs::read(p) {
            Ok(b) => files.push((kind, name, b)),
            Err(e) => errs.at(&name, 0, "", "", format!("cannot read: {e}")),
        }
    }
    let mut tables = BTreeMap::new();
    for (kind, name, bytes) in &files {
        if tables.contains_key(kind) {
            errs.at(
                name,
                0,
                "",
                "",
                format!("a second {kind} file in one import"),
            );
            continue;
        }
        if let Some(t) = read_table(kind, name, bytes, &mut errs) {
            tables.insert(*kind, t);
        }
    }
    finish(&tables, opts, errs)
}

/// Parse in-memory files (`(file name, contents)`), for tests and services.
pub fn load_bytes(
    files: &[(&str, &[u8])],
    opts: &ImportOptions,
) -> Result<ImportPlan, ImportErrors> {
    let mut errs = Errs::new(opts.max_errors);
    let mut tables = BTreeMap::new();
    for (name, bytes) in files {
        let Some(kind) = file_kind(Path::new(name)) else {
            errs.at(name, 0, "", "", "unknown file name");
            continue;
        };
        if let Some(t) = read_table(kind, name, bytes, &mut errs) {
            tables.insert(kind, t);
        }
    }
    finish(&tables, opts, errs)
}

/// Check the rows of every file that was read (even when others failed, to
/// report everything) and make the plan when nothing was found.
fn finish(
    tables: &BTreeMap<&'static str, table::Table>,
    opts: &ImportOptions,
    mut errs: Errs,
) -> Result<ImportPlan, ImportErrors> {
    let plan = build::build(tables, opts, &mut errs);
    match plan {
        Some(p) if errs.is_empty() => Ok(p),
        Some(_) => Err(errs.into_errors()),
        None => {
            // A refused import always says why: a build that stops names the
            // row it stopped at.
            assert!(
                !errs.is_empty(),
                "the import made no plan but reported no error"
            );
            Err(errs.into_errors())
        }
    }
}

/// An amount in the reports' printed form: `30,837`, `(4,331)`. Kept for
/// the callers of this path; the rule is [`perfledger_domain::printed::amount`].
pub fn printed_amount(v: Fixed) -> String {
    perfledger_domain::printed::amount(v)
}
