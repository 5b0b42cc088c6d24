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

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use perfledger_domain::action::{ActionSpec, ActionStatus};
use perfledger_domain::budget::LineSpec;
use perfledger_domain::event::ResultEntry;
use perfledger_domain::indicator::{
    Benchmark, ComparisonBasis, DataType, IndicatorSpec, InterventionLevel, MoneyUnit, ResultValue,
    Target,
};
use perfledger_domain::organisation::{OrgKind, OrgSpec};
use perfledger_domain::parse;
use perfledger_domain::rag::ToleranceScheme;
use perfledger_domain::risk::{band, Assessment, Impact, Probability, Response, RiskSpec};
use perfledger_domain::saving::SavingSpec;
use perfledger_domain::{
    Command, CommandEnvelope, Date, FinancialYear, Fixed, Period, Tenant, Text, Timestamp,
};
use perfledger_ledger::{LedgerError, Submitted};
use uuid::Uuid;

/// Namespace of import command ids (uuid v5).
pub const COMMAND_NAMESPACE: Uuid = Uuid::from_u128(0x5e1f_0c8a_7b2d_4e61_9a3f_d4c2_b1e0_a917);

/// Default cap on the number of errors collected.
pub const DEFAULT_MAX_ERRORS: usize = 100;

/// The file kinds, in the order of the doc's *Import order* (definitions,
/// then facts).
pub const FILES: [&str; 19] = [
    "council",
    "committees",
    "units",
    "themes",
    "tolerance_schemes",
    "indicators",
    "actions",
    "risks",
    "savings",
    "targets",
    "results",
    "benchmarks",
    "action_status",
    "risk_assessments",
    "revenue",
    "capital",
    "savings_progress",
    "periods_closed",
    "seals",
];

/// (column, required) per file.
fn columns(kind: &str) -> &'static [(&'static str, bool)] {
    const IND: [(&str, bool); 3] = [
        ("indicator_ref", false),
        ("indicator_title", false),
        ("unit", false),
    ];
    let _ = IND;
    match kind {
        "council" => &[
            ("tenant", true),
            ("name", true),
            ("short_name", false),
            ("source", false),
        ],
        "committees" => &[
            ("code", true),
            ("name", true),
            ("aliases", false),
            ("source", false),
        ],
        "units" => &[
            ("code", true),
            ("name", true),
            ("kind", false),
            ("parent", false),
            ("committee", false),
            ("aliases", false),
            ("source", false),
        ],
        "themes" => &[
            ("code", true),
            ("name", true),
            ("kind", true),
            ("parent", false),
            ("plan", false),
            ("valid_from", false),
            ("valid_to", false),
            ("source", false),
        ],
        "tolerance_schemes" => &[
            ("scheme", true),
            ("valid_from", true),
            ("model", true),
            ("green_amber_max_miss", false),
            ("red_amber_max_miss", false),
            ("red_from_miss", false),
            ("green_max_miss", false),
            ("key", false),
            ("source", false),
        ],
        "indicators" => &[
            ("ref", false),
            ("title", true),
            ("unit", true),
            ("lead_officer", false),
            ("type", true),
            ("category", false),
            ("polarity", true),
            ("frequency", true),
            ("comparison", false),
            ("data_type", true),
            ("theme", false),
            ("committee", false),
            ("notes", false),
            ("source", false),
        ],
        "targets" => &[
            ("indicator_ref", false),
            ("indicator_title", false),
            ("unit", false),
            ("period", true),
            ("target", true),
            ("target_label", false),
            ("kind", true),
            ("actor", true),
            ("recorded_at", false),
            ("reason", false),
            ("source", false),
        ],
        "results" => &[
            ("indicator_ref", false),
            ("indicator_title", false),
            ("unit", false),
            ("period", true),
            ("result", true),
            ("result_label", false),
            ("breakdown", false),
            ("sample_size", false),
            ("kind", true),
            ("actor", true),
            ("recorded_at", false),
            ("reason", false),
            ("commentary", false),
            ("intervention", false),
            ("source", false),
        ],
        "benchmarks" => &[
            ("indicator_ref", false),
            ("indicator_title", false),
            ("unit", false),
            ("period", true),
            ("benchmark", true),
            ("source", false),
        ],
        "actions" => &[
            ("ref", true),
            ("printed_ref", false),
            ("theme", false),
            ("description", true),
            ("aim", false),
            ("due", false),
            ("service_area", false),
            ("unit", true),
            ("lead_officer", false),
            ("source", false),
        ],
        "action_status" => &[
            ("action_ref", true),
            ("period", true),
            ("status", true),
            ("comment", false),
            ("actor", true),
            ("recorded_at", false),
            ("reason", false),
            ("source", false),
        ],
        "risks" => &[
            ("risk_id", true),
            ("unit", true),
            ("short_title", true),
            ("description", true),
            ("owner", false),
            ("category", false),
            ("board_assurance", false),
            ("source", false),
        ],
        "risk_assessments" => &[
            ("risk_id", true),
            ("period", true),
            ("current_impact", true),
            ("current_probability", true),
            ("current_rating", false),
            ("target_impact", false),
            ("target_probability", false),
            ("target_rating", false),
            ("response", false),
            ("controls", false),
            ("actor", true),
            ("recorded_at", false),
            ("reason", false),
            ("source", false),
        ],
        "revenue" => &[
            ("unit", true),
            ("period", true),
            ("row_type", true),
            ("line", true),
            ("original_budget", false),
            ("revised_budget", true),
            ("forecast", true),
            ("comment", false),
            ("actor", true),
            ("recorded_at", false),
            ("reason", false),
            ("source", false),
        ],
        "capital" => &[
            ("unit", true),
            ("period", true),
            ("row_type", true),
            ("line", true),
            ("approved_budget", true),
            ("additions_deletions", false),
            ("slippage_accelerated", false),
            ("forecast", true),
            ("comment", false),
            ("actor", true),
            ("recorded_at", false),
            ("reason", false),
            ("source", false),
        ],
        "savings" => &[
            ("ref", true),
            ("unit", true),
            ("committee", false),
            ("service_area", false),
            ("description", true),
            ("year", true),
            ("amount", true),
            ("source", false),
        ],
        "savings_progress" => &[
            ("ref", true),
            ("period", true),
            ("achieved", true),
            ("actor", true),
            ("recorded_at", false),
            ("comment", false),
            ("reason", false),
            ("source", false),
        ],
        "periods_closed" => &[
            ("unit", true),
            ("period", true),
            ("closed_at", false),
            ("actor", true),
            ("reason", false),
            ("source", false),
        ],
        "seals" => &[
            ("seal_id", true),
            ("committee", true),
            ("meeting_date", false),
            ("unit", true),
            ("period", true),
            ("report_title", false),
            ("sealed_at", true),
            ("actor", true),
            ("source", false),
        ],
        _ => &[],
    }
}

// ---------------------------------------------------------------- errors ---

/// One problem in the input, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// File name (as given, e.g. `results.csv`).
    pub file: String,
    /// Line (1-based, header = 1); 0 = the file as a whole.
    pub line: usize,
    /// Column, when one is at fault.
    pub column: Option<String>,
    /// The offending value, when there is one.
    pub value: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(c) = &self.column {
            write!(f, ": column {c}")?;
        }
        if let Some(v) = &self.value {
            let short: String = v.chars().take(80).collect();
            write!(f, ": value {short:?}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every error found (capped); nothing was imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ImportErrors {
    /// The errors, in file order then line order.
    pub errors: Vec<ImportError>,
    /// Errors found beyond the cap (not listed).
    pub more: usize,
}

impl fmt::Display for ImportErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len() + self.more;
        write!(
            f,
            "{n} error{} in the import files; nothing was imported",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        if self.more > 0 {
            write!(f, "\n  ... and {} more", self.more)?;
        }
        Ok(())
    }
}

struct Errs {
    list: Vec<ImportError>,
    more: usize,
    cap: usize,
}

impl Errs {
    fn push(&mut self, e: ImportError) {
        if self.list.len() < self.cap {
            self.list.push(e);
        } else {
            self.more += 1;
        }
    }
    fn at(
        &mut self,
        file: &str,
        line: usize,
        column: &str,
        value: &str,
        message: impl Into<String>,
    ) {
        self.push(ImportError {
            file: file.to_string(),
            line,
            column: (!column.is_empty()).then(|| column.to_string()),
            value: (!value.is_empty()).then(|| value.to_string()),
            message: message.into(),
        });
    }
    fn is_empty(&self) -> bool {
        self.list.is_empty() && self.more == 0
    }
}

/// A non-fatal finding (control totals that do not add up, duplicates skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// File.
    pub file: String,
    /// Line.
    pub line: usize,
    /// What.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Where a submission came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// File name.
    pub file: String,
    /// Line (1-based).
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A seal row, to be completed with the dashboard digest by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealRequest {
    /// `seal_id` as given.
    pub seal_id: String,
    /// `report_title`, if given.
    pub title: Option<Text>,
    /// Committee code.
    pub committee: Text,
    /// Meeting date (`sealed_at`'s date when the file gives none).
    pub meeting_date: Date,
    /// Unit code; `None` = council-wide (`COUNCIL`).
    pub unit: Option<Text>,
    /// Period reported.
    pub period: Period,
    /// The sealed view is the ledger up to this recorded time.
    pub sealed_at: Timestamp,
    /// Who sealed.
    pub actor: Text,
    /// Deterministic command id.
    pub command_id: Uuid,
    /// Provenance text for the envelope's `source`.
    pub source: Text,
    /// Where.
    pub origin: Origin,
}

/// A validated import, ready to submit.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    /// The tenant.
    pub tenant: Tenant,
    /// The commands, in the order to append.
    pub submissions: Vec<Submitted>,
    /// `origins[i]` = file and line of `submissions[i]`.
    pub origins: Vec<Origin>,
    /// Seals to complete and append after the submissions.
    pub seals: Vec<SealRequest>,
    /// Non-fatal findings.
    pub warnings: Vec<Warning>,
    /// Rows read per file.
    pub rows: BTreeMap<String, usize>,
    /// The latest recorded time among the submissions.
    pub latest: Option<Timestamp>,
}

impl ImportPlan {
    /// Commands per command name.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for s in &self.submissions {
            *m.entry(s.command.command.name()).or_insert(0) += 1;
        }
        m
    }

    /// Map a ledger rejection of this plan's submission back to its row.
    pub fn locate(&self, err: &LedgerError) -> Option<ImportError> {
        let index = match err {
            LedgerError::Rejected { index, .. }
            | LedgerError::Conflict { index, .. }
            | LedgerError::Backdated { index, .. }
            | LedgerError::DuplicateCommandId { index, .. }
            | LedgerError::Encode { index, .. } => *index,
            _ => return None,
        };
        let o = self.origins.get(index)?;
        let message = match err {
            LedgerError::Rejected { source, .. } => format!("rejected by the ledger: {source}"),
            LedgerError::Backdated { given, latest, .. } => format!(
                "column recorded_at: value {:?}: a backdated load must keep the log's time order, but the log already holds a record at {}; load history before live writes, or import rows without recorded_at to record them now",
                given.to_string(),
                latest
            ),
            other => other.to_string(),
        };
        Some(ImportError {
            file: o.file.clone(),
            line: o.line,
            column: None,
            value: None,
            message,
        })
    }
}

/// Options.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Tenant, when not given by `council.csv` (must agree when both are).
    pub tenant: Option<Tenant>,
    /// Actor of definition rows (files without an `actor` column).
    pub actor: Text,
    /// Now: rows recorded later than this are errors.
    pub now: Timestamp,
    /// A historical (backdated) load: every fact row claims its recorded
    /// time (`recorded_at`, `closed_at`), the rows are appended in that
    /// order and each is marked as migrated by the ledger. Without it (a
    /// live import) rows carry no recorded time and are recorded now by
    /// the ledger's clock; a row that claims one is an error.
    pub backdated: bool,
    /// Periods already closed in the ledger: rows for them that carry a
    /// reason are wrapped in post-close restatements (rows without one are
    /// left to the ledger: duplicates pass, new ones are refused).
    pub closed_periods: BTreeSet<Period>,
    /// Error cap.
    pub max_errors: usize,
}

impl ImportOptions {
    /// Options with the given definition actor and clock reading.
    pub fn new(actor: Text, now: Timestamp) -> Self {
        ImportOptions {
            tenant: None,
            actor,
            now,
            backdated: false,
            closed_periods: BTreeSet::new(),
            max_errors: DEFAULT_MAX_ERRORS,
        }
    }
}

// ------------------------------------------------------------ reading ---

#[derive(Debug, Clone)]
struct Row {
    line: usize,
    cells: BTreeMap<&'static str, String>,
    raw: Vec<String>,
}

impl Row {
    fn get(&self, col: &str) -> &str {
        self.cells.get(col).map(String::as_str).unwrap_or("")
    }
    fn opt(&self, col: &str) -> Option<&str> {
        let v = self.get(col);
        (!v.is_empty()).then_some(v)
    }
}

#[derive(Debug, Clone)]
struct Table {
    kind: &'static str,
    file: String,
    rows: Vec<Row>,
}

/// The file kind of a path (`results.csv` → `results`).
pub fn file_kind(path: &Path) -> Option<&'static str> {
    let stem = path.file_stem()?.to_str()?;
    let ext = path.extension()?.to_str()?;
    if !ext.eq_ignore_ascii_case("csv") {
        return None;
    }
    FILES.iter().copied().find(|k| *k == stem)
}

fn read_table(kind: &'static str, file: &str, bytes: &[u8], errs: &mut Errs) -> Option<Table> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // CRLF → LF, so the reader's line numbers count every line once.
    let mut lf = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        lf.push(bytes[i]);
        i += 1;
    }
    let bytes = &lf[..];
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let spec = columns(kind);
    let mut header: Vec<Option<&'static str>> = Vec::new();
    let mut rows = Vec::new();
    let mut ok = true;
    let mut first = true;
    let mut rec = csv::StringRecord::new();
    loop {
        let line_guess = rdr.position().line() as usize;
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e
                    .position()
                    .map(|p| p.line() as usize)
                    .unwrap_or(line_guess);
                errs.at(file, line, "", "", format!("unreadable CSV: {e}"));
                return None;
            }
        }
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        if first {
            first = false;
            let mut seen = BTreeSet::new();
            for name in rec.iter() {
                let n = name.trim();
                match spec.iter().find(|(c, _)| *c == n) {
                    Some((c, _)) => {
                        if !seen.insert(*c) {
                            errs.at(file, line, n, "", "column appears twice in the header");
                            ok = false;
                        }
                        header.push(Some(*c));
                    }
                    None => {
                        errs.at(
                            file,
                            line,
                            n,
                            "",
                            format!(
                                "unknown column (expected one of: {})",
                                spec.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
                            ),
                        );
                        header.push(None);
                        ok = false;
                    }
                }
            }
            for (c, req) in spec {
                if *req && !seen.contains(c) {
                    errs.at(file, line, c, "", "required column is missing");
                    ok = false;
                }
            }
            continue;
        }
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue; // blank line
        }
        if rec.len() != header.len() {
            errs.at(
                file,
                line,
                "",
                "",
                format!(
                    "row has {} fields but the header has {} (unbalanced quotes or a stray comma?)",
                    rec.len(),
                    header.len()
                ),
            );
            ok = false;
            continue;
        }
        let mut cells = BTreeMap::new();
        let mut raw = Vec::with_capacity(rec.len());
        for (i, v) in rec.iter().enumerate() {
            let v = v.trim();
            raw.push(v.to_string());
            if let Some(Some(c)) = header.get(i) {
                cells.insert(*c, v.to_string());
            }
        }
        let row = Row { line, cells, raw };
        for (c, req) in spec {
            if *req && header.contains(&Some(*c)) && row.get(c).is_empty() {
                errs.at(file, line, c, "", "required value is empty");
                ok = false;
            }
        }
        rows.push(row);
    }
    if first {
        errs.at(file, 1, "", "", "empty file: a header row is required");
        return None;
    }
    ok.then(|| Table {
        kind,
        file: file.to_string(),
        rows,
    })
}

/// Read every known `*.csv` file of a directory (an unknown CSV file name is
/// an error: a misnamed file must not be skipped silently).
pub fn load_dir(dir: &Path, opts: &ImportOptions) -> Result<ImportPlan, ImportErrors> {
    let mut errs = Errs {
        list: Vec::new(),
        more: 0,
        cap: opts.max_errors.max(1),
    };
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
            return Err(ImportErrors {
                errors: errs.list,
                more: 0,
            });
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
    let mut errs = Errs {
        list: Vec::new(),
        more: 0,
        cap: opts.max_errors.max(1),
    };
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
    if !errs.is_empty() {
        // Still check the rows of the files that parsed, to report everything.
        let _ = build(&tables, opts, &mut errs);
        return Err(ImportErrors {
            errors: errs.list,
            more: errs.more,
        });
    }
    match build(&tables, opts, &mut errs) {
        Some(plan) if errs.is_empty() => Ok(plan),
        _ => Err(ImportErrors {
            errors: errs.list,
            more: errs.more,
        }),
    }
}

/// Parse in-memory files (`(file name, contents)`), for tests and services.
pub fn load_bytes(
    files: &[(&str, &[u8])],
    opts: &ImportOptions,
) -> Result<ImportPlan, ImportErrors> {
    let mut errs = Errs {
        list: Vec::new(),
        more: 0,
        cap: opts.max_errors.max(1),
    };
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
    let plan = build(&tables, opts, &mut errs);
    match plan {
        Some(p) if errs.is_empty() => Ok(p),
        _ => Err(ImportErrors {
            errors: errs.list,
            more: errs.more,
        }),
    }
}

// ------------------------------------------------------------ values ---

/// `percentage`, `money (£)`, `money (£000)`, `money (£m)`, `count`, `days`,
/// `ratio`, `numerator/denominator`.
pub fn parse_data_type(v: &str) -> Option<DataType> {
    let l = v
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    Some(match l.as_str() {
        "percentage" | "percent" | "%" => DataType::Percentage,
        "money (£)" | "money" | "£" => DataType::Money(MoneyUnit::Pounds),
        "money (£000)" | "£000" => DataType::Money(MoneyUnit::Thousands),
        "money (£m)" | "£m" => DataType::Money(MoneyUnit::Millions),
        "count" | "number" => DataType::Count,
        "days" => DataType::Days,
        "ratio" => DataType::Ratio,
        "numerator/denominator" | "fraction" => DataType::NumeratorDenominator,
        _ => return None,
    })
}

/// `9.99%` → 999 basis points.
pub fn parse_bp(v: &str) -> Option<u32> {
    let n = v.trim().strip_suffix('%')?.trim();
    let (int, frac) = n.split_once('.').unwrap_or((n, ""));
    if int.is_empty()
        || frac.len() > 2
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let i: u32 = int.parse().ok()?;
    let mut f: u32 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    if frac.len() == 1 {
        f *= 10;
    }
    i.checked_mul(100)?.checked_add(f)
}

/// `Level 2`, `Level 1: No intervention requested.`,
/// `Intervention Level 1 (no intervention required)`.
pub fn parse_intervention(v: &str) -> Option<InterventionLevel> {
    let l = v.to_lowercase();
    let i = l.find("level")?;
    let rest = l[i + 5..].trim_start();
    let d: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    InterventionLevel::new(d.parse().ok()?).ok()
}

fn parse_response(v: &str) -> Option<Response> {
    Some(match v.trim().to_lowercase().as_str() {
        "treat" => Response::Treat,
        "tolerate" => Response::Tolerate,
        "transfer" => Response::Transfer,
        "terminate" => Response::Terminate,
        _ => return None,
    })
}

/// A printed amount cell; empty or `-` = 0 where allowed.
fn amount_cell(v: &str) -> Result<Fixed, String> {
    parse::parse_amount(v).map_err(|e| e.to_string())
}

fn is_code(v: &str) -> bool {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '&' | '/' | '.' | '_'))
}

// ------------------------------------------------------------- build ---

struct Ctx<'a> {
    errs: &'a mut Errs,
    tenant: Tenant,
    warnings: Vec<Warning>,
    /// [`ImportOptions::backdated`].
    backdated: bool,
    /// Files already told that a live import cannot claim recorded times.
    claimed: BTreeSet<String>,
}

impl Ctx<'_> {
    /// The recorded time of a fact row (`col` = `recorded_at` or
    /// `closed_at`). A backdated load claims one on every row; a live
    /// import claims none and its rows are recorded now by the ledger's
    /// clock (`now` stands in for it here: the same for every row, so rows
    /// keep the order of the files).
    fn recorded(&mut self, t: &Table, r: &Row, col: &str, now: Timestamp) -> Option<Timestamp> {
        match (self.backdated, r.get(col).is_empty()) {
            (true, false) => self.time(t, r, col, now),
            (true, true) => {
                self.err(
                    t,
                    r,
                    col,
                    "a backdated load needs the claimed recorded time of every row",
                );
                None
            }
            (false, true) => Some(now),
            (false, false) => {
                if self.claimed.insert(t.file.clone()) {
                    self.err(
                        t,
                        r,
                        col,
                        "claims a recorded time, but a live import records every row now; load history with `perfledger import --backdated` (each row is then recorded at its claimed time and marked as migrated)",
                    );
                }
                None
            }
        }
    }

    fn err(&mut self, t: &Table, r: &Row, col: &str, msg: impl Into<String>) {
        let v = r.get(col).to_string();
        self.errs.at(&t.file, r.line, col, &v, msg);
    }
    fn text(&mut self, t: &Table, r: &Row, col: &str) -> Option<Text> {
        match Text::new("text", r.get(col)) {
            Ok(x) => Some(x),
            Err(e) => {
                self.err(t, r, col, e.to_string());
                None
            }
        }
    }
    fn opt_text(&mut self, t: &Table, r: &Row, col: &str) -> Option<Option<Text>> {
        if r.get(col).is_empty() {
            Some(None)
        } else {
            self.text(t, r, col).map(Some)
        }
    }
    fn period(&mut self, t: &Table, r: &Row, col: &str) -> Option<Period> {
        match Period::parse(r.get(col)) {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(
                    t,
                    r,
                    col,
                    format!("{e} (expected e.g. 2016/17 Q1 or 2016/17)"),
                );
                None
            }
        }
    }
    fn quarter(&mut self, t: &Table, r: &Row, col: &str) -> Option<Period> {
        let p = self.period(t, r, col)?;
        if matches!(p, Period::Quarter { .. }) {
            Some(p)
        } else {
            self.err(t, r, col, "expected a quarter, e.g. 2016/17 Q1");
            None
        }
    }
    fn year(&mut self, t: &Table, r: &Row, col: &str) -> Option<FinancialYear> {
        match FinancialYear::parse(r.get(col)) {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(t, r, col, format!("{e} (expected e.g. 2016/17)"));
                None
            }
        }
    }
    fn time(&mut self, t: &Table, r: &Row, col: &str, now: Timestamp) -> Option<Timestamp> {
        match Timestamp::parse(r.get(col)) {
            Ok(ts) if ts > now => {
                self.err(
                    t,
                    r,
                    col,
                    "is later than now (recorded times cannot be in the future)",
                );
                None
            }
            Ok(ts) => Some(ts),
            Err(e) => {
                self.err(t, r, col, e.to_string());
                None
            }
        }
    }
    fn actor(&mut self, t: &Table, r: &Row) -> Option<Text> {
        self.text(t, r, "actor")
    }
    fn reason(&mut self, t: &Table, r: &Row, needed: bool, why: &str) -> Option<Option<Text>> {
        let v = r.get("reason");
        if v.is_empty() {
            if needed {
                self.err(t, r, "reason", format!("a reason is required: {why}"));
                return None;
            }
            return Some(None);
        }
        self.text(t, r, "reason").map(Some)
    }
    fn amount(&mut self, t: &Table, r: &Row, col: &str) -> Option<Fixed> {
        match amount_cell(r.get(col)) {
            Ok(a) => Some(a),
            Err(e) => {
                self.err(t, r, col, e);
                None
            }
        }
    }
}

/// One command waiting for its place in time.
struct Item {
    time: Option<Timestamp>,
    rank: usize,
    line: usize,
    sub: usize,
    file: String,
    row_id: String,
    actor: Text,
    source: String,
    command: Command,
    /// Reason to use if the period turns out to be closed.
    reason: Option<Text>,
}

fn rank(kind: &str) -> usize {
    FILES.iter().position(|k| *k == kind).unwrap_or(FILES.len())
}

fn row_id(t: &Table, r: &Row) -> String {
    format!("{}\u{1f}{}\u{1f}{}", t.file, r.line, r.raw.join("\u{1f}"))
}

fn source_of(t: &Table, r: &Row) -> String {
    let mut s = format!("import {}:{}", t.file, r.line);
    if let Some(src) = r.opt("source") {
        s.push_str("; ");
        s.push_str(src);
    }
    s
}

/// A benchmark row: its line and the parsed benchmark (or the text kept).
type ParsedBenchmark = (usize, Result<Benchmark, String>);

struct IndicatorInfo {
    spec: IndicatorSpec,
}

fn build(
    tables: &BTreeMap<&'static str, Table>,
    opts: &ImportOptions,
    errs: &mut Errs,
) -> Option<ImportPlan> {
    // Tenant.
    let mut tenant = opts.tenant.clone();
    if let Some(t) = tables.get("council") {
        if t.rows.len() != 1 {
            errs.at(
                &t.file,
                0,
                "",
                "",
                format!("exactly one row expected, found {}", t.rows.len()),
            );
        }
        if let Some(r) = t.rows.first() {
            match Tenant::new(r.get("tenant")) {
                Ok(tn) => {
                    if let Some(given) = &tenant {
                        if given != &tn {
                            errs.at(
                                &t.file,
                                r.line,
                                "tenant",
                                r.get("tenant"),
                                format!("the files are for tenant {tn}, but tenant {given} was selected"),
                            );
                        }
                    }
                    tenant = Some(tn);
                }
                Err(e) => errs.at(&t.file, r.line, "tenant", r.get("tenant"), e.to_string()),
            }
        }
    }
    let Some(tenant) = tenant else {
        errs.at(
            "council.csv",
            0,
            "",
            "",
            "no tenant: include council.csv or choose a tenant (--tenant)",
        );
        return None;
    };
    let mut cx = Ctx {
        errs,
        tenant: tenant.clone(),
        warnings: Vec::new(),
        backdated: opts.backdated,
        claimed: BTreeSet::new(),
    };
    let now = opts.now;
    let def_actor = opts.actor.clone();
    let empty = Table {
        kind: "none",
        file: String::new(),
        rows: Vec::new(),
    };
    let tab = |k: &str| tables.get(k).unwrap_or(&empty);
    let mut defs: Vec<Item> = Vec::new();
    let mut facts: Vec<Item> = Vec::new();
    let def = |t: &Table, r: &Row, sub: usize, command: Command, actor: &Text| Item {
        time: None,
        rank: rank(t.kind),
        line: r.line,
        sub,
        file: t.file.clone(),
        row_id: row_id(t, r),
        actor: actor.clone(),
        source: source_of(t, r),
        command,
        reason: None,
    };

    // Committees.
    let committees_tab = tab("committees");
    let mut committees = BTreeSet::new();
    for r in &committees_tab.rows {
        let code = r.get("code");
        if !is_code(code) {
            cx.err(
                committees_tab,
                r,
                "code",
                "not a code (letters, digits, - & / . only)",
            );
            continue;
        }
        if !committees.insert(code.to_string()) {
            cx.err(committees_tab, r, "code", "duplicate committee code");
            continue;
        }
        let (Some(name), Some(_)) = (
            cx.text(committees_tab, r, "code"),
            cx.text(committees_tab, r, "name"),
        ) else {
            continue;
        };
        defs.push(def(
            committees_tab,
            r,
            0,
            Command::DefineCommittee {
                spec: OrgSpec {
                    kind: OrgKind::Committee,
                    name,
                    parent: None,
                    lead: None,
                },
            },
            &def_actor,
        ));
    }
    let have_committees = tables.contains_key("committees");
    let check_committee = |cx: &mut Ctx, t: &Table, r: &Row, col: &str| {
        if let Some(c) = r.opt(col) {
            if have_committees && !committees.contains(c) {
                cx.err(t, r, col, "unknown committee code (not in committees.csv)");
            }
        }
    };

    // Units.
    let units_tab = tab("units");
    let mut units: BTreeSet<String> = BTreeSet::new();
    for r in &units_tab.rows {
        if !is_code(r.get("code")) {
            cx.err(
                units_tab,
                r,
                "code",
                "not a code (letters, digits, - & / . only)",
            );
        } else if !units.insert(r.get("code").to_string()) {
            cx.err(units_tab, r, "code", "duplicate unit code");
        }
    }
    {
        // parents exist, no cycles
        let parents: BTreeMap<&str, &str> = units_tab
            .rows
            .iter()
            .filter_map(|r| r.opt("parent").map(|p| (r.get("code"), p)))
            .collect();
        for r in &units_tab.rows {
            if let Some(p) = r.opt("parent") {
                if !units.contains(p) {
                    cx.err(
                        units_tab,
                        r,
                        "parent",
                        "unknown parent unit (not in units.csv)",
                    );
                    continue;
                }
                let mut cur = p;
                let mut steps = 0;
                while let Some(n) = parents.get(cur) {
                    steps += 1;
                    if *n == r.get("code") || steps > units.len() {
                        cx.err(units_tab, r, "parent", "parent chain forms a cycle");
                        break;
                    }
                    cur = n;
                }
            }
            check_committee(&mut cx, units_tab, r, "committee");
        }
    }
    // Define parents before children.
    {
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut pending: Vec<&Row> = units_tab.rows.iter().collect();
        let mut progress = true;
        while !pending.is_empty() && progress {
            progress = false;
            let mut rest = Vec::new();
            for r in pending {
                let ready = r
                    .opt("parent")
                    .is_none_or(|p| done.contains(p) || !units.contains(p));
                if ready {
                    progress = true;
                    done.insert(r.get("code").to_string());
                    if let (Some(name), Some(parent)) = (
                        cx.text(units_tab, r, "code"),
                        cx.opt_text(units_tab, r, "parent"),
                    ) {
                        defs.push(def(
                            units_tab,
                            r,
                            0,
                            Command::DefineUnit {
                                spec: OrgSpec {
                                    kind: OrgKind::Unit,
                                    name,
                                    parent,
                                    lead: None,
                                },
                            },
                            &def_actor,
                        ));
                    }
                } else {
                    rest.push(r);
                }
            }
            pending = rest;
        }
    }
    let have_units = tables.contains_key("units");
    let check_unit = |cx: &mut Ctx, t: &Table, r: &Row, col: &str| -> bool {
        let u = r.get(col);
        if have_units && !u.is_empty() && !units.contains(u) {
            cx.err(t, r, col, "unknown unit code (not in units.csv)");
            return false;
        }
        true
    };

    // Themes.
    let themes_tab = tab("themes");
    let mut themes = BTreeSet::new();
    for r in &themes_tab.rows {
        if !is_code(r.get("code")) {
            cx.err(themes_tab, r, "code", "not a code");
        } else if !themes.insert(r.get("code").to_string()) {
            cx.err(themes_tab, r, "code", "duplicate theme code");
        }
    }
    for r in &themes_tab.rows {
        let kind = match r.get("kind").to_lowercase().as_str() {
            "theme" | "priority" | "committee priority" => OrgKind::Theme,
            "objective" => OrgKind::Objective,
            _ => {
                cx.err(
                    themes_tab,
                    r,
                    "kind",
                    "expected theme, priority, committee priority or objective",
                );
                continue;
            }
        };
        if let Some(p) = r.opt("parent") {
            if !themes.contains(p) {
                cx.err(
                    themes_tab,
                    r,
                    "parent",
                    "unknown parent theme (not in themes.csv)",
                );
            }
        }
        let vf = r
            .opt("valid_from")
            .map(|_| cx.year(themes_tab, r, "valid_from"));
        let vt = r
            .opt("valid_to")
            .map(|_| cx.year(themes_tab, r, "valid_to"));
        if let (Some(Some(a)), Some(Some(b))) = (vf, vt) {
            if b < a {
                cx.err(themes_tab, r, "valid_to", "is before valid_from");
            }
        }
        if let (Some(name), Some(parent)) = (
            cx.text(themes_tab, r, "code"),
            cx.opt_text(themes_tab, r, "parent"),
        ) {
            defs.push(def(
                themes_tab,
                r,
                0,
                Command::DefineUnit {
                    spec: OrgSpec {
                        kind,
                        name,
                        parent,
                        lead: None,
                    },
                },
                &def_actor,
            ));
        }
    }
    let have_themes = tables.contains_key("themes");

    // Tolerance schemes.
    let ts_tab = tab("tolerance_schemes");
    for r in &ts_tab.rows {
        let Some(fy) = cx.year(ts_tab, r, "valid_from") else {
            continue;
        };
        let bp = |cx: &mut Ctx, col: &str, needed: bool| -> Option<Option<u32>> {
            let v = r.get(col);
            if v.is_empty() {
                if needed {
                    cx.err(ts_tab, r, col, "required for this model");
                    return None;
                }
                return Some(None);
            }
            if !needed {
                cx.err(ts_tab, r, col, "must be empty for this model");
                return None;
            }
            match parse_bp(v) {
                Some(b) => Some(Some(b)),
                None => {
                    cx.err(
                        ts_tab,
                        r,
                        col,
                        "expected a percentage with at most two decimals, e.g. 9.99%",
                    );
                    None
                }
            }
        };
        let model = r.get("model").to_lowercase();
        let (ga, ra, rf, gm) = match model.as_str() {
            "four-level" => ("y", "y", "", ""),
            "three-level" => ("", "", "y", ""),
            "direction-dependent" => ("", "", "", "y"),
            _ => {
                cx.err(
                    ts_tab,
                    r,
                    "model",
                    "expected four-level, three-level or direction-dependent",
                );
                continue;
            }
        };
        let a = bp(&mut cx, "green_amber_max_miss", !ga.is_empty());
        let b = bp(&mut cx, "red_amber_max_miss", !ra.is_empty());
        let c = bp(&mut cx, "red_from_miss", !rf.is_empty());
        let d = bp(&mut cx, "green_max_miss", !gm.is_empty());
        let (Some(a), Some(b), Some(c), Some(d)) = (a, b, c, d) else {
            continue;
        };
        let scheme = match model.as_str() {
            "four-level" => ToleranceScheme::four_level(a.unwrap_or(0), b.unwrap_or(0)),
            "three-level" => ToleranceScheme::ThreeLevel {
                red_from_bp: c.unwrap_or(0),
            },
            _ => ToleranceScheme::DirectionDependent {
                green_max_bp: d.unwrap_or(0),
            },
        };
        if let Err(e) = scheme.validate() {
            cx.err(ts_tab, r, "model", e.to_string());
            continue;
        }
        let Some(name) = cx.text(ts_tab, r, "scheme") else {
            continue;
        };
        defs.push(def(
            ts_tab,
            r,
            0,
            Command::AdoptToleranceScheme {
                name,
                effective_from: fy,
                scheme,
            },
            &def_actor,
        ));
    }

    // Indicators.
    let ind_tab = tab("indicators");
    let mut indicators: BTreeMap<String, IndicatorInfo> = BTreeMap::new();
    let mut by_title: BTreeMap<String, String> = BTreeMap::new();
    for r in &ind_tab.rows {
        check_unit(&mut cx, ind_tab, r, "unit");
        check_committee(&mut cx, ind_tab, r, "committee");
        if let Some(th) = r.opt("theme") {
            if have_themes && !themes.contains(th) {
                cx.err(
                    ind_tab,
                    r,
                    "theme",
                    "unknown theme code (not in themes.csv)",
                );
            }
        }
        let itype = parse::parse_indicator_type(r.get("type"))
            .map_err(|e| cx.err(ind_tab, r, "type", e.to_string()))
            .ok();
        let polarity = parse::parse_polarity(r.get("polarity"))
            .map_err(|e| cx.err(ind_tab, r, "polarity", e.to_string()))
            .ok();
        let frequency = parse::parse_frequency(r.get("frequency"))
            .map_err(|e| cx.err(ind_tab, r, "frequency", e.to_string()))
            .ok();
        let data_type = parse_data_type(r.get("data_type"));
        if data_type.is_none() {
            cx.err(ind_tab, r, "data_type", "expected percentage, money (£), money (£000), money (£m), count, days, ratio or numerator/denominator");
        }
        let comparison = match r.get("comparison").to_lowercase().as_str() {
            "" => frequency.map(|f| {
                if f == perfledger_domain::indicator::Frequency::Annual {
                    ComparisonBasis::SamePeriodLastYear
                } else {
                    ComparisonBasis::Sequential
                }
            }),
            "sequential" => Some(ComparisonBasis::Sequential),
            "same period last year" => Some(ComparisonBasis::SamePeriodLastYear),
            _ => {
                cx.err(
                    ind_tab,
                    r,
                    "comparison",
                    "expected sequential or same period last year",
                );
                None
            }
        };
        let reference = cx.opt_text(ind_tab, r, "ref");
        let title = cx.text(ind_tab, r, "title");
        let unit = cx.text(ind_tab, r, "unit");
        let lead = cx.opt_text(ind_tab, r, "lead_officer");
        let theme = cx.opt_text(ind_tab, r, "theme");
        let committee = cx.opt_text(ind_tab, r, "committee");
        let (
            Some(itype),
            Some(polarity),
            Some(frequency),
            Some(data_type),
            Some(comparison),
            Some(reference),
            Some(title),
            Some(unit),
            Some(lead),
            Some(theme),
            Some(committee),
        ) = (
            itype, polarity, frequency, data_type, comparison, reference, title, unit, lead, theme,
            committee,
        )
        else {
            continue;
        };
        let spec = IndicatorSpec {
            reference,
            title,
            unit,
            lead_officer: lead,
            indicator_type: itype,
            polarity,
            frequency,
            data_type,
            comparison,
            theme,
            objective: None,
            committee,
        };
        let key = spec.natural_key().to_string();
        if indicators.contains_key(&key) {
            cx.err(
                ind_tab,
                r,
                if r.get("ref").is_empty() {
                    "title"
                } else {
                    "ref"
                },
                "duplicate indicator key (ref, or title when no ref): keys are unique per tenant",
            );
            continue;
        }
        by_title.insert(spec.title.to_string(), key.clone());
        defs.push(def(
            ind_tab,
            r,
            0,
            Command::DefineIndicator { spec: spec.clone() },
            &def_actor,
        ));
        indicators.insert(key, IndicatorInfo { spec });
    }
    let have_indicators = tables.contains_key("indicators");
    // Resolve an indicator reference in targets/results/benchmarks.
    let resolve = |cx: &mut Ctx, t: &Table, r: &Row| -> Option<(String, Option<IndicatorSpec>)> {
        let rf = r.get("indicator_ref");
        let title = r.get("indicator_title");
        if rf.is_empty() && title.is_empty() {
            cx.err(
                t,
                r,
                "indicator_ref",
                "give indicator_ref, or indicator_title for an indicator without a reference",
            );
            return None;
        }
        if !have_indicators {
            if rf.is_empty() && r.get("unit").is_empty() {
                cx.err(t, r, "unit", "required when the indicator has no reference");
                return None;
            }
            return Some((if rf.is_empty() { title } else { rf }.to_string(), None));
        }
        let (key, col) = if !rf.is_empty() {
            (rf.to_string(), "indicator_ref")
        } else {
            match by_title.get(title) {
                Some(k) => (k.clone(), "indicator_title"),
                None => {
                    cx.err(
                        t,
                        r,
                        "indicator_title",
                        "unknown indicator (no indicator with this title in indicators.csv)",
                    );
                    return None;
                }
            }
        };
        let Some(info) = indicators.get(&key) else {
            cx.err(t, r, col, "unknown indicator (not in indicators.csv)");
            return None;
        };
        if !rf.is_empty() && !title.is_empty() && info.spec.title.as_str() != title {
            cx.err(
                t,
                r,
                "indicator_title",
                format!(
                    "does not match the title of {rf} ({:?})",
                    info.spec.title.as_str()
                ),
            );
            return None;
        }
        let u = r.get("unit");
        if !u.is_empty() && u != info.spec.unit.as_str() {
            cx.err(
                t,
                r,
                "unit",
                format!("the indicator belongs to unit {}", info.spec.unit),
            );
            return None;
        }
        if rf.is_empty() && u.is_empty() {
            cx.err(t, r, "unit", "required when the indicator has no reference");
            return None;
        }
        Some((key, Some(info.spec.clone())))
    };

    // Actions.
    let act_tab = tab("actions");
    let mut actions: BTreeMap<String, String> = BTreeMap::new(); // ref -> unit
    for r in &act_tab.rows {
        check_unit(&mut cx, act_tab, r, "unit");
        if let Some(th) = r.opt("theme") {
            if have_themes && !themes.contains(th) {
                cx.err(
                    act_tab,
                    r,
                    "theme",
                    "unknown theme code (not in themes.csv)",
                );
            }
        }
        if actions.contains_key(r.get("ref")) {
            cx.err(act_tab, r, "ref", "duplicate action reference");
            continue;
        }
        let (Some(reference), Some(unit), Some(description), Some(due), Some(lead)) = (
            cx.text(act_tab, r, "ref"),
            cx.text(act_tab, r, "unit"),
            cx.text(act_tab, r, "description"),
            cx.opt_text(act_tab, r, "due"),
            cx.opt_text(act_tab, r, "lead_officer"),
        ) else {
            continue;
        };
        actions.insert(r.get("ref").to_string(), r.get("unit").to_string());
        defs.push(def(
            act_tab,
            r,
            0,
            Command::DefineAction {
                spec: ActionSpec {
                    reference,
                    unit,
                    description,
                    due,
                    lead_officer: lead,
                },
            },
            &def_actor,
        ));
    }

    // Risks (response and controls from the latest assessment in the files).
    let risk_tab = tab("risks");
    let ra_tab = tab("risk_assessments");
    let mut latest_ra: BTreeMap<String, &Row> = BTreeMap::new();
    for r in &ra_tab.rows {
        let ts = Timestamp::parse(r.get("recorded_at")).ok();
        let keep = match latest_ra.get(r.get("risk_id")) {
            Some(prev) => Timestamp::parse(prev.get("recorded_at")).ok() <= ts,
            None => true,
        };
        if keep {
            latest_ra.insert(r.get("risk_id").to_string(), r);
        }
    }
    let mut risks = BTreeSet::new();
    for r in &risk_tab.rows {
        check_unit(&mut cx, risk_tab, r, "unit");
        if !risks.insert(r.get("risk_id").to_string()) {
            cx.err(risk_tab, r, "risk_id", "duplicate risk id");
            continue;
        }
        let latest = latest_ra.get(r.get("risk_id"));
        let response = latest
            .and_then(|a| a.opt("response"))
            .and_then(parse_response);
        let controls = latest
            .and_then(|a| a.opt("controls"))
            .and_then(|c| Text::new("controls", c).ok());
        let (
            Some(risk_id),
            Some(unit),
            Some(title),
            Some(description),
            Some(owner),
            Some(category),
            Some(assurance),
        ) = (
            cx.text(risk_tab, r, "risk_id"),
            cx.text(risk_tab, r, "unit"),
            cx.text(risk_tab, r, "short_title"),
            cx.text(risk_tab, r, "description"),
            cx.opt_text(risk_tab, r, "owner"),
            cx.opt_text(risk_tab, r, "category"),
            cx.opt_text(risk_tab, r, "board_assurance"),
        )
        else {
            continue;
        };
        defs.push(def(
            risk_tab,
            r,
            0,
            Command::RegisterRisk {
                spec: RiskSpec {
                    risk_id,
                    unit,
                    title,
                    description,
                    owner,
                    category,
                    controls,
                    response,
                    assurance,
                },
            },
            &def_actor,
        ));
    }
    let have_risks = tables.contains_key("risks");

    // Savings (one row per saving per year).
    let sav_tab = tab("savings");
    let mut savings: BTreeMap<String, (usize, SavingSpec)> = BTreeMap::new();
    let mut saving_order: Vec<String> = Vec::new();
    for r in &sav_tab.rows {
        check_unit(&mut cx, sav_tab, r, "unit");
        check_committee(&mut cx, sav_tab, r, "committee");
        let (Some(year), Some(amount)) =
            (cx.year(sav_tab, r, "year"), cx.amount(sav_tab, r, "amount"))
        else {
            continue;
        };
        let key = r.get("ref").to_string();
        if let Some((_, spec)) = savings.get_mut(&key) {
            if spec.unit.as_str() != r.get("unit") {
                cx.err(
                    sav_tab,
                    r,
                    "unit",
                    format!("saving {key} is under unit {} on an earlier row", spec.unit),
                );
                continue;
            }
            if spec.amounts.iter().any(|(y, _)| *y == year) {
                cx.err(
                    sav_tab,
                    r,
                    "year",
                    format!("saving {key} already has an amount for this year"),
                );
                continue;
            }
            spec.amounts.push((year, amount));
        } else {
            let (Some(reference), Some(unit), Some(description)) = (
                cx.text(sav_tab, r, "ref"),
                cx.text(sav_tab, r, "unit"),
                cx.text(sav_tab, r, "description"),
            ) else {
                continue;
            };
            saving_order.push(key.clone());
            savings.insert(
                key,
                (
                    r.line,
                    SavingSpec {
                        reference,
                        unit,
                        description,
                        amounts: vec![(year, amount)],
                    },
                ),
            );
        }
    }
    for key in &saving_order {
        let (line, spec) = &savings[key];
        let r = sav_tab
            .rows
            .iter()
            .find(|r| r.line == *line)
            .expect("row of saving");
        defs.push(def(
            sav_tab,
            r,
            0,
            Command::ProposeSaving { spec: spec.clone() },
            &def_actor,
        ));
    }
    let have_savings = tables.contains_key("savings");

    // ----- facts -----
    let fact = |t: &Table,
                r: &Row,
                sub: usize,
                time: Timestamp,
                actor: Text,
                command: Command,
                reason: Option<Text>| Item {
        time: Some(time),
        rank: rank(t.kind),
        line: r.line,
        sub,
        file: t.file.clone(),
        row_id: row_id(t, r),
        actor,
        source: source_of(t, r),
        command,
        reason,
    };

    // Targets.
    let tg_tab = tab("targets");
    let mut target_seen: BTreeMap<(String, Period), Timestamp> = BTreeMap::new();
    let mut tg_rows: Vec<&Row> = tg_tab.rows.iter().collect();
    tg_rows.sort_by_key(|r| (Timestamp::parse(r.get("recorded_at")).ok(), r.line));
    for r in tg_rows {
        let ind = resolve(&mut cx, tg_tab, r);
        let period = cx.period(tg_tab, r, "period");
        let time = cx.recorded(tg_tab, r, "recorded_at", now);
        let actor = cx.actor(tg_tab, r);
        let kind = r.get("kind").to_lowercase();
        let revise = match kind.as_str() {
            "set" => false,
            "revise" => true,
            _ => {
                cx.err(tg_tab, r, "kind", "expected set or revise");
                continue;
            }
        };
        let reason = cx.reason(tg_tab, r, revise, "a revise row changes an existing target");
        let mut target = match parse::parse_target(r.get("target")) {
            Ok(t) => Some(t),
            Err(e) => {
                cx.err(tg_tab, r, "target", e.to_string());
                None
            }
        };
        if let (Some(Target::Numeric { note, .. }), Some(label)) =
            (target.as_mut(), r.opt("target_label"))
        {
            if note.is_none() {
                *note = Text::new("target label", label).ok();
            }
        }
        if let (Some(t), Some((_, Some(spec)))) = (&target, &ind) {
            if let Err(e) = t.validate_for(spec.data_type) {
                cx.err(
                    tg_tab,
                    r,
                    "target",
                    format!("does not fit the indicator's data type: {e}"),
                );
                continue;
            }
        }
        let (Some((key, _)), Some(period), Some(time), Some(actor), Some(reason), Some(target)) =
            (ind, period, time, actor, reason, target)
        else {
            continue;
        };
        let k = (key.clone(), period);
        match (revise, target_seen.get(&k)) {
            (false, Some(_)) => {
                cx.err(tg_tab, r, "kind", "a target for this indicator and period is already set in this file; use kind=revise with a reason");
                continue;
            }
            (true, Some(prev)) if cx.backdated && *prev >= time => {
                cx.err(
                    tg_tab,
                    r,
                    "recorded_at",
                    "a revision must be later than the value it replaces",
                );
                continue;
            }
            _ => {}
        }
        target_seen.insert(k, time);
        let indicator = Text::new("indicator", &key).ok()?;
        let command = match reason.clone() {
            Some(reason) if revise => Command::ReviseTarget {
                indicator,
                period,
                target,
                reason,
            },
            _ => Command::SetTarget {
                indicator,
                period,
                target,
            },
        };
        facts.push(fact(tg_tab, r, 0, time, actor, command, reason));
    }

    // Results, with benchmarks attached to the earliest result of the same
    // indicator and period.
    let res_tab = tab("results");
    let bm_tab = tab("benchmarks");
    let mut benchmarks: BTreeMap<(String, Period), Vec<ParsedBenchmark>> = BTreeMap::new();
    for r in &bm_tab.rows {
        let ind = resolve(&mut cx, bm_tab, r);
        let period = cx.period(bm_tab, r, "period");
        let (Some((key, _)), Some(period)) = (ind, period) else {
            continue;
        };
        let b =
            parse::parse_benchmark(r.get("benchmark")).map_err(|_| r.get("benchmark").to_string());
        benchmarks
            .entry((key, period))
            .or_default()
            .push((r.line, b));
    }
    let mut result_seen: BTreeMap<(String, Period), Timestamp> = BTreeMap::new();
    let mut res_rows: Vec<&Row> = res_tab.rows.iter().collect();
    res_rows.sort_by_key(|r| (Timestamp::parse(r.get("recorded_at")).ok(), r.line));
    let mut breakdown_defs: BTreeMap<String, (IndicatorSpec, usize)> = BTreeMap::new();
    for r in res_rows {
        let ind = resolve(&mut cx, res_tab, r);
        let period = cx.period(res_tab, r, "period");
        let time = cx.recorded(res_tab, r, "recorded_at", now);
        let actor = cx.actor(res_tab, r);
        let restate = match r.get("kind").to_lowercase().as_str() {
            "record" => false,
            "restate" => true,
            _ => {
                cx.err(res_tab, r, "kind", "expected record or restate");
                continue;
            }
        };
        let reason = cx.reason(
            res_tab,
            r,
            restate,
            "a restate row replaces an existing result",
        );
        let mut result = match parse::parse_result(r.get("result")) {
            Ok(v) => Some(v),
            Err(e) => {
                cx.err(res_tab, r, "result", e.to_string());
                None
            }
        };
        if let (Some(ResultValue::Measured { label, .. }), Some(l)) =
            (result.as_mut(), r.opt("result_label"))
        {
            if label.is_none() {
                *label = Text::new("result label", l).ok();
            }
        }
        if let Some(s) = r.opt("sample_size") {
            if parse::parse_amount(s)
                .map(|n| n.is_negative())
                .unwrap_or(true)
                || s.contains('(')
            {
                cx.err(
                    res_tab,
                    r,
                    "sample_size",
                    "expected a whole number of respondents, e.g. 1,587",
                );
            }
        }
        let intervention = match r.opt("intervention") {
            None => Some(None),
            Some(v) => match parse_intervention(v) {
                Some(l) => Some(Some(l)),
                None => {
                    cx.err(
                        res_tab,
                        r,
                        "intervention",
                        "expected an intervention level, e.g. Level 2",
                    );
                    None
                }
            },
        };
        let commentary = cx.opt_text(res_tab, r, "commentary");
        if let (Some(res), Some((_, Some(spec)))) = (&result, &ind) {
            if let Err(e) = res.validate_for(spec.data_type) {
                cx.err(
                    res_tab,
                    r,
                    "result",
                    format!("does not fit the indicator's data type: {e}"),
                );
                continue;
            }
        }
        let (
            Some((mut key, spec)),
            Some(period),
            Some(time),
            Some(actor),
            Some(reason),
            Some(result),
            Some(intervention),
            Some(mut commentary),
        ) = (
            ind,
            period,
            time,
            actor,
            reason,
            result,
            intervention,
            commentary,
        )
        else {
            continue;
        };
        if let Some(spec) = &spec {
            if !period.fits(spec.frequency) {
                if result.value().is_none() {
                    cx.warnings.push(Warning {
                        file: res_tab.file.clone(),
                        line: r.line,
                        message: format!(
                            "not imported: {key} reports {} and {period} is not one of its periods; the row carries no value ({})",
                            spec.frequency.name(),
                            r.get("result")
                        ),
                    });
                    continue;
                }
                cx.err(
                    res_tab,
                    r,
                    "period",
                    format!(
                        "the indicator reports {}; {period} is not one of its periods",
                        spec.frequency.name()
                    ),
                );
                continue;
            }
        }
        let breakdown = r.get("breakdown");
        let mut bms = Vec::new();
        if breakdown.is_empty() {
            if !restate {
                if let Some(list) = benchmarks.remove(&(key.clone(), period)) {
                    for (_, b) in list {
                        match b {
                            Ok(b) => bms.push(b),
                            Err(text) => {
                                // kept as text
                                let c = commentary
                                    .as_ref()
                                    .map(|c| format!("{c}\nBenchmark: {text}"))
                                    .unwrap_or_else(|| format!("Benchmark: {text}"));
                                commentary = Text::new("commentary", &c).ok();
                            }
                        }
                    }
                }
            }
        } else {
            // A disaggregation is its own (derived) indicator.
            let Some(spec) = spec else {
                cx.err(res_tab, r, "breakdown", "a breakdown needs indicators.csv in the same import (the breakdown indicator is derived from it)");
                continue;
            };
            let mut d = spec.clone();
            d.reference = spec
                .reference
                .as_ref()
                .and_then(|rf| Text::new("ref", &format!("{rf} [{breakdown}]")).ok());
            d.title = Text::new("title", &format!("{} [{breakdown}]", spec.title)).ok()?;
            key = d.natural_key().to_string();
            breakdown_defs.entry(key.clone()).or_insert((d, r.line));
        }
        let k = (key.clone(), period);
        match (restate, result_seen.get(&k)) {
            (false, Some(_)) => {
                cx.err(res_tab, r, "kind", "a result for this indicator, period and breakdown is already recorded in this file; use kind=restate with a reason");
                continue;
            }
            (true, Some(prev)) if cx.backdated && *prev >= time => {
                cx.err(
                    res_tab,
                    r,
                    "recorded_at",
                    "a restatement must be later than the value it replaces",
                );
                continue;
            }
            _ => {}
        }
        result_seen.insert(k, time);
        let entry = ResultEntry {
            result,
            commentary,
            intervention,
            benchmarks: bms,
        };
        let indicator = Text::new("indicator", &key).ok()?;
        let command = match reason.clone() {
            Some(reason) if restate => Command::RestateResult {
                indicator,
                period,
                entry,
                reason,
            },
            _ => Command::RecordResult {
                indicator,
                period,
                entry,
            },
        };
        facts.push(fact(res_tab, r, 0, time, actor, command, reason));
    }
    for ((key, period), list) in benchmarks {
        for (line, _) in list {
            cx.warnings.push(Warning {
                file: bm_tab.file.clone(),
                line,
                message: format!("benchmark not imported: no result of {key} for {period} in this import to carry it"),
            });
        }
    }
    for (d, line) in breakdown_defs.into_values() {
        let r = res_tab.rows.iter().find(|r| r.line == line).expect("row");
        defs.push(def(
            res_tab,
            r,
            1,
            Command::DefineIndicator { spec: d },
            &def_actor,
        ));
    }

    // Action statuses.
    let as_tab = tab("action_status");
    let mut as_seen: BTreeMap<(String, Period), (Timestamp, ActionStatus)> = BTreeMap::new();
    let mut as_rows: Vec<&Row> = as_tab.rows.iter().collect();
    as_rows.sort_by_key(|r| (Timestamp::parse(r.get("recorded_at")).ok(), r.line));
    for r in as_rows {
        let unit = match actions.get(r.get("action_ref")) {
            Some(u) => Some(u.clone()),
            None => {
                cx.err(
                    as_tab,
                    r,
                    "action_ref",
                    if tables.contains_key("actions") {
                        "unknown action (not in actions.csv)"
                    } else {
                        "unknown action: import actions.csv with its statuses"
                    },
                );
                None
            }
        };
        let period = cx.quarter(as_tab, r, "period");
        let time = cx.recorded(as_tab, r, "recorded_at", now);
        let actor = cx.actor(as_tab, r);
        let status = ActionStatus::parse(r.get("status"))
            .map_err(|e| cx.err(as_tab, r, "status", e.to_string()))
            .ok();
        let comment = cx.opt_text(as_tab, r, "comment");
        let (Some(unit), Some(period), Some(time), Some(actor), Some(status), Some(mut comment)) =
            (unit, period, time, actor, status, comment)
        else {
            continue;
        };
        let k = (r.get("action_ref").to_string(), period);
        let changed = as_seen.get(&k).is_some_and(|(_, s)| *s != status);
        let Some(reason) = cx.reason(
            as_tab,
            r,
            changed,
            "a later row changes the status of this action for this period",
        ) else {
            continue;
        };
        if let Some(reason) = &reason {
            let c = match &comment {
                Some(c) => format!("{c} (reason: {reason})"),
                None => format!("Reason: {reason}"),
            };
            comment = Text::new("comment", &c).ok();
        }
        as_seen.insert(k, (time, status));
        let command = Command::ReportActionStatus {
            unit: Text::new("unit", &unit).ok()?,
            reference: Text::new("reference", r.get("action_ref")).ok()?,
            period,
            status,
            comment,
        };
        facts.push(fact(as_tab, r, 0, time, actor, command, reason));
    }

    // Risk assessments.
    for r in &ra_tab.rows {
        if have_risks && !risks.contains(r.get("risk_id")) {
            cx.err(ra_tab, r, "risk_id", "unknown risk (not in risks.csv)");
        }
        let period = cx.quarter(ra_tab, r, "period");
        let time = cx.recorded(ra_tab, r, "recorded_at", now);
        let actor = cx.actor(ra_tab, r);
        let level = |cx: &mut Ctx, col: &str, impact: bool| -> Option<u8> {
            let v = r.get(col);
            let n = match parse::parse_level(if impact { "impact" } else { "probability" }, v) {
                Ok(n) => n,
                Err(e) => {
                    cx.err(ra_tab, r, col, e.to_string());
                    return None;
                }
            };
            let label = v
                .rsplit_once(char::is_whitespace)
                .map(|(l, _)| l.trim())
                .unwrap_or("");
            if !label.is_empty() {
                let expected = if impact {
                    Impact::new(n).ok()?.name()
                } else {
                    Probability::new(n).ok()?.name()
                };
                if !label.eq_ignore_ascii_case(expected) {
                    cx.err(
                        ra_tab,
                        r,
                        col,
                        format!("label disagrees with the level: {n} is {expected}"),
                    );
                    return None;
                }
            }
            Some(n)
        };
        let rating_check = |cx: &mut Ctx, col: &str, a: &Assessment| {
            let v = r.get(col);
            if v.is_empty() {
                return;
            }
            let (label, score) = v.rsplit_once(char::is_whitespace).unwrap_or(("", v));
            let ok = score.trim().parse::<u8>().ok() == Some(a.score())
                && (label.trim().is_empty()
                    || label.trim().eq_ignore_ascii_case(band(a.score()).label()));
            if !ok {
                cx.err(
                    ra_tab,
                    r,
                    col,
                    format!(
                        "printed rating disagrees with impact × probability: {} × {} = {} {}",
                        a.impact,
                        a.probability,
                        band(a.score()).label(),
                        a.score()
                    ),
                );
            }
        };
        let ci = level(&mut cx, "current_impact", true);
        let cp = level(&mut cx, "current_probability", false);
        let current = match (ci, cp) {
            (Some(i), Some(p)) => Assessment::new(i, p).ok(),
            _ => None,
        };
        if let Some(c) = &current {
            rating_check(&mut cx, "current_rating", c);
        }
        let target = match (r.opt("target_impact"), r.opt("target_probability")) {
            (None, None) => {
                if r.opt("target_rating").is_some() {
                    cx.err(
                        ra_tab,
                        r,
                        "target_rating",
                        "given without target_impact and target_probability",
                    );
                    None
                } else {
                    Some(None)
                }
            }
            (Some(_), Some(_)) => {
                let ti = level(&mut cx, "target_impact", true);
                let tp = level(&mut cx, "target_probability", false);
                match (ti, tp) {
                    (Some(i), Some(p)) => Assessment::new(i, p).ok().map(|a| {
                        rating_check(&mut cx, "target_rating", &a);
                        Some(a)
                    }),
                    _ => None,
                }
            }
            (Some(_), None) => {
                cx.err(
                    ra_tab,
                    r,
                    "target_probability",
                    "give both target_impact and target_probability, or neither",
                );
                None
            }
            (None, Some(_)) => {
                cx.err(
                    ra_tab,
                    r,
                    "target_impact",
                    "give both target_impact and target_probability, or neither",
                );
                None
            }
        };
        if let Some(resp) = r.opt("response") {
            if parse_response(resp).is_none() {
                cx.err(
                    ra_tab,
                    r,
                    "response",
                    "expected Treat, Tolerate, Transfer or Terminate",
                );
            }
        }
        let reason = cx.opt_text(ra_tab, r, "reason");
        let controls = cx.opt_text(ra_tab, r, "controls");
        let (
            Some(period),
            Some(time),
            Some(actor),
            Some(current),
            Some(target),
            Some(reason),
            Some(controls),
        ) = (period, time, actor, current, target, reason, controls)
        else {
            continue;
        };
        let comment = match (&reason, &controls) {
            (Some(rs), Some(c)) => Text::new("comment", &format!("{rs}\nControls: {c}")).ok(),
            (Some(rs), None) => Some(rs.clone()),
            (None, c) => c.clone(),
        };
        let command = Command::AssessRisk {
            risk_id: Text::new("risk id", r.get("risk_id")).ok()?,
            period,
            current,
            target,
            comment,
        };
        facts.push(fact(ra_tab, r, 0, time, actor, command, reason));
    }

    // Revenue.
    let rev_tab = tab("revenue");
    let mut rev_lines: BTreeSet<(String, String)> = BTreeSet::new();
    let mut rev_budget: BTreeMap<(String, String, FinancialYear), (Fixed, Fixed)> = BTreeMap::new();
    let mut rev_forecast: BTreeSet<(String, String, Period)> = BTreeSet::new();
    let mut rev_sums: BTreeMap<(String, Period), [Fixed; 3]> = BTreeMap::new();
    let mut rev_totals: Vec<(&Row, String, Period, [Fixed; 3])> = Vec::new();
    let mut rev_rows: Vec<&Row> = rev_tab.rows.iter().collect();
    rev_rows.sort_by_key(|r| (Timestamp::parse(r.get("recorded_at")).ok(), r.line));
    for r in rev_rows {
        check_unit(&mut cx, rev_tab, r, "unit");
        let period = cx.quarter(rev_tab, r, "period");
        let time = cx.recorded(rev_tab, r, "recorded_at", now);
        let actor = cx.actor(rev_tab, r);
        let original = if r.get("original_budget").is_empty() {
            None
        } else {
            cx.amount(rev_tab, r, "original_budget").map(Some)
        }
        .unwrap_or(None);
        let revised = cx.amount(rev_tab, r, "revised_budget");
        let forecast = cx.amount(rev_tab, r, "forecast");
        let comment = cx.opt_text(rev_tab, r, "comment");
        let total = match r.get("row_type").to_lowercase().as_str() {
            "line" => false,
            "total" => true,
            _ => {
                cx.err(rev_tab, r, "row_type", "expected line or total");
                continue;
            }
        };
        let (
            Some(period),
            Some(time),
            Some(actor),
            Some(revised),
            Some(forecast),
            Some(mut comment),
        ) = (period, time, actor, revised, forecast, comment)
        else {
            continue;
        };
        let original_v = original.unwrap_or(revised);
        let unit = r.get("unit").to_string();
        if total {
            rev_totals.push((r, unit, period, [original_v, revised, forecast]));
            continue;
        }
        let s = rev_sums
            .entry((unit.clone(), period))
            .or_insert([Fixed::ZERO; 3]);
        for (i, v) in [original_v, revised, forecast].into_iter().enumerate() {
            s[i] = s[i].checked_add(v).unwrap_or(s[i]);
        }
        let line = r.get("line").to_string();
        let fy = period.financial_year();
        let fkey = (unit.clone(), line.clone(), period);
        let replaces = rev_forecast.contains(&fkey);
        let bkey = (unit.clone(), line.clone(), fy);
        let budget_changes = rev_budget
            .get(&bkey)
            .is_some_and(|b| *b != (original_v, revised));
        let Some(reason) = cx.reason(
            rev_tab,
            r,
            replaces || budget_changes,
            "a later row replaces this line's forecast or budget",
        ) else {
            continue;
        };
        let unit_t = Text::new("unit", &unit).ok()?;
        let line_t = Text::new("line", &line).ok()?;
        if rev_lines.insert((unit.clone(), line.clone())) {
            defs.push(def(
                rev_tab,
                r,
                0,
                Command::DefineRevenueLine {
                    spec: LineSpec {
                        unit: unit_t.clone(),
                        name: line_t.clone(),
                        description: None,
                    },
                },
                &def_actor,
            ));
        }
        match rev_budget.get(&bkey) {
            None => facts.push(fact(
                rev_tab,
                r,
                1,
                time,
                actor.clone(),
                Command::SetBudget {
                    unit: unit_t.clone(),
                    line: line_t.clone(),
                    year: fy,
                    original: original_v,
                    revised,
                },
                reason.clone(),
            )),
            Some(_) if budget_changes => facts.push(fact(
                rev_tab,
                r,
                1,
                time,
                actor.clone(),
                Command::ReviseBudget {
                    unit: unit_t.clone(),
                    line: line_t.clone(),
                    year: fy,
                    original: original_v,
                    revised,
                    reason: reason.clone().expect("checked"),
                },
                reason.clone(),
            )),
            Some(_) => {}
        }
        rev_budget.insert(bkey, (original_v, revised));
        if replaces {
            if let Some(reason) = &reason {
                let c = match &comment {
                    Some(c) => format!("{c} (reason: {reason})"),
                    None => format!("Reason: {reason}"),
                };
                comment = Text::new("comment", &c).ok();
            }
        }
        rev_forecast.insert(fkey);
        facts.push(fact(
            rev_tab,
            r,
            2,
            time,
            actor,
            Command::SubmitRevenueForecast {
                unit: unit_t,
                line: line_t,
                period,
                forecast,
                comment,
            },
            reason,
        ));
    }
    for (r, unit, period, printed) in rev_totals {
        let sum = rev_sums
            .get(&(unit.clone(), period))
            .copied()
            .unwrap_or([Fixed::ZERO; 3]);
        for (i, name) in ["original budget", "revised budget", "forecast"]
            .iter()
            .enumerate()
        {
            if r.get(["original_budget", "revised_budget", "forecast"][i])
                .is_empty()
            {
                continue;
            }
            if sum[i] != printed[i] {
                cx.warnings.push(Warning {
                    file: rev_tab.file.clone(),
                    line: r.line,
                    message: format!("printed total {name} of {unit} {period} is {}, the lines sum to {} (kept as printed; not imported)", printed_amount(printed[i]), printed_amount(sum[i])),
                });
            }
        }
    }

    // Capital.
    let cap_tab = tab("capital");
    let mut cap_lines: BTreeSet<(String, String)> = BTreeSet::new();
    let mut cap_budget: BTreeMap<(String, String, FinancialYear), Fixed> = BTreeMap::new();
    let mut cap_forecast: BTreeSet<(String, String, Period)> = BTreeSet::new();
    let mut cap_sums: BTreeMap<(String, Period), [Fixed; 4]> = BTreeMap::new();
    let mut cap_totals: Vec<(&Row, String, Period, [Fixed; 4])> = Vec::new();
    let mut cap_rows: Vec<&Row> = cap_tab.rows.iter().collect();
    cap_rows.sort_by_key(|r| (Timestamp::parse(r.get("recorded_at")).ok(), r.line));
    for r in cap_rows {
        check_unit(&mut cx, cap_tab, r, "unit");
        let period = cx.quarter(cap_tab, r, "period");
        let time = cx.recorded(cap_tab, r, "recorded_at", now);
        let actor = cx.actor(cap_tab, r);
        let approved = cx.amount(cap_tab, r, "approved_budget");
        let additions = if r.get("additions_deletions").is_empty() {
            Some(Fixed::ZERO)
        } else {
            cx.amount(cap_tab, r, "additions_deletions")
        };
        let slippage = if r.get("slippage_accelerated").is_empty() {
            Some(Fixed::ZERO)
        } else {
            cx.amount(cap_tab, r, "slippage_accelerated")
        };
        let forecast = cx.amount(cap_tab, r, "forecast");
        let comment = cx.opt_text(cap_tab, r, "comment");
        let total = match r.get("row_type").to_lowercase().as_str() {
            "line" => false,
            "total" => true,
            _ => {
                cx.err(cap_tab, r, "row_type", "expected line or total");
                continue;
            }
        };
        let (
            Some(period),
            Some(time),
            Some(actor),
            Some(approved),
            Some(additions),
            Some(slippage),
            Some(forecast),
            Some(comment),
        ) = (
            period, time, actor, approved, additions, slippage, forecast, comment,
        )
        else {
            continue;
        };
        let unit = r.get("unit").to_string();
        let figs = [approved, additions, slippage, forecast];
        if total {
            cap_totals.push((r, unit, period, figs));
            continue;
        }
        let s = cap_sums
            .entry((unit.clone(), period))
            .or_insert([Fixed::ZERO; 4]);
        for (i, v) in figs.into_iter().enumerate() {
            s[i] = s[i].checked_add(v).unwrap_or(s[i]);
        }
        let line = r.get("line").to_string();
        let fy = period.financial_year();
        let fkey = (unit.clone(), line.clone(), period);
        let replaces = cap_forecast.contains(&fkey);
        let Some(reason) = cx.reason(
            cap_tab,
            r,
            replaces,
            "a later row replaces this line's forecast",
        ) else {
            continue;
        };
        let unit_t = Text::new("unit", &unit).ok()?;
        let line_t = Text::new("line", &line).ok()?;
        if cap_lines.insert((unit.clone(), line.clone())) {
            defs.push(def(
                cap_tab,
                r,
                0,
                Command::DefineCapitalLine {
                    spec: LineSpec {
                        unit: unit_t.clone(),
                        name: line_t.clone(),
                        description: None,
                    },
                },
                &def_actor,
            ));
        }
        let bkey = (unit.clone(), line.clone(), fy);
        if cap_budget.get(&bkey) != Some(&approved) {
            cap_budget.insert(bkey, approved);
            facts.push(fact(
                cap_tab,
                r,
                1,
                time,
                actor.clone(),
                Command::SetCapitalBudget {
                    unit: unit_t.clone(),
                    line: line_t.clone(),
                    year: fy,
                    approved,
                },
                reason.clone(),
            ));
        }
        cap_forecast.insert(fkey);
        facts.push(fact(
            cap_tab,
            r,
            2,
            time,
            actor,
            Command::SubmitCapitalForecast {
                unit: unit_t,
                line: line_t,
                period,
                additions,
                slippage,
                forecast,
                comment,
            },
            reason,
        ));
    }
    for (r, unit, period, printed) in cap_totals {
        let sum = cap_sums
            .get(&(unit.clone(), period))
            .copied()
            .unwrap_or([Fixed::ZERO; 4]);
        let names = [
            "approved budget",
            "additions/deletions",
            "slippage/accelerated",
            "forecast",
        ];
        for i in 0..4 {
            if sum[i] != printed[i] {
                cx.warnings.push(Warning {
                    file: cap_tab.file.clone(),
                    line: r.line,
                    message: format!("printed total {} of {unit} {period} is {}, the lines sum to {} (kept as printed; not imported)", names[i], printed_amount(printed[i]), printed_amount(sum[i])),
                });
            }
        }
    }

    // Savings progress.
    let sp_tab = tab("savings_progress");
    for r in &sp_tab.rows {
        if have_savings && !savings.contains_key(r.get("ref")) {
            cx.err(sp_tab, r, "ref", "unknown saving (not in savings.csv)");
        }
        let period = cx.quarter(sp_tab, r, "period");
        let time = cx.recorded(sp_tab, r, "recorded_at", now);
        let actor = cx.actor(sp_tab, r);
        let achieved = cx.amount(sp_tab, r, "achieved");
        if achieved.is_some_and(|a| a.is_negative()) {
            cx.err(
                sp_tab,
                r,
                "achieved",
                "achieved is a positive amount (£000)",
            );
            continue;
        }
        let comment = cx.opt_text(sp_tab, r, "comment");
        let reason = cx.opt_text(sp_tab, r, "reason");
        let (Some(period), Some(time), Some(actor), Some(achieved), Some(comment), Some(reason)) =
            (period, time, actor, achieved, comment, reason)
        else {
            continue;
        };
        let command = Command::ReportSavingDelivery {
            reference: Text::new("reference", r.get("ref")).ok()?,
            period,
            achieved,
            comment,
        };
        facts.push(fact(sp_tab, r, 0, time, actor, command, reason));
    }

    // Periods closed (the calendar is tenant-wide: one close per period).
    let pc_tab = tab("periods_closed");
    let mut closed_seen: BTreeSet<Period> = BTreeSet::new();
    for r in &pc_tab.rows {
        check_unit(&mut cx, pc_tab, r, "unit");
        let period = cx.period(pc_tab, r, "period");
        let time = cx.recorded(pc_tab, r, "closed_at", now);
        let actor = cx.actor(pc_tab, r);
        let (Some(period), Some(time), Some(actor)) = (period, time, actor) else {
            continue;
        };
        if !closed_seen.insert(period) || opts.closed_periods.contains(&period) {
            cx.warnings.push(Warning {
                file: pc_tab.file.clone(),
                line: r.line,
                message: format!(
                    "{period} is already closed (the calendar is council-wide); row skipped"
                ),
            });
            continue;
        }
        facts.push(fact(
            pc_tab,
            r,
            0,
            time,
            actor,
            Command::ClosePeriod { period },
            None,
        ));
    }

    // Seals.
    let seal_tab = tab("seals");
    let mut seals = Vec::new();
    let mut seal_ids = BTreeSet::new();
    for r in &seal_tab.rows {
        if !seal_ids.insert(r.get("seal_id").to_string()) {
            cx.err(seal_tab, r, "seal_id", "duplicate seal id");
        }
        check_committee(&mut cx, seal_tab, r, "committee");
        let unit_code = r.get("unit");
        let unit = if unit_code.eq_ignore_ascii_case("COUNCIL") {
            None
        } else {
            check_unit(&mut cx, seal_tab, r, "unit");
            Text::new("unit", unit_code).ok()
        };
        let period = cx.period(seal_tab, r, "period");
        let sealed_at = cx.time(seal_tab, r, "sealed_at", now);
        let actor = cx.actor(seal_tab, r);
        let meeting = match r.opt("meeting_date") {
            None => Some(None),
            Some(d) => match Date::parse(d) {
                Ok(d) => Some(Some(d)),
                Err(e) => {
                    cx.err(seal_tab, r, "meeting_date", e.to_string());
                    None
                }
            },
        };
        let (Some(period), Some(sealed_at), Some(actor), Some(meeting), Some(committee)) = (
            period,
            sealed_at,
            actor,
            meeting,
            cx.text(seal_tab, r, "committee"),
        ) else {
            continue;
        };
        if let Some(m) = meeting {
            if sealed_at
                > m.start()
                    .0
                    .checked_add(86_400_000 - 1)
                    .map(Timestamp)
                    .unwrap_or(sealed_at)
            {
                cx.err(seal_tab, r, "sealed_at", "is later than the meeting date");
                continue;
            }
        }
        let title = match r.opt("report_title") {
            None => None,
            Some(t) => match Text::new("report title", t) {
                Ok(t) => Some(t),
                Err(e) => {
                    cx.err(seal_tab, r, "report_title", e.to_string());
                    continue;
                }
            },
        };
        let Some(date) = meeting.or_else(|| sealed_at.date()) else {
            continue;
        };
        let id = command_id(&tenant, &row_id(seal_tab, r), 0);
        seals.push(SealRequest {
            seal_id: r.get("seal_id").to_string(),
            title,
            committee,
            meeting_date: date,
            unit,
            period,
            sealed_at,
            actor,
            command_id: id,
            source: Text::new("source", &source_of(seal_tab, r)).ok()?,
            origin: Origin {
                file: seal_tab.file.clone(),
                line: r.line,
            },
        });
    }
    seals.sort_by_key(|s| (s.sealed_at, s.origin.line));

    if !cx.errs.is_empty() {
        return None;
    }

    // ----- order -----
    let earliest = facts
        .iter()
        .filter_map(|f| f.time)
        .chain(seals.iter().map(|s| s.sealed_at))
        .min();
    defs.sort_by_key(|d| (d.rank, d.line, d.sub));
    facts.sort_by_key(|f| (f.time, f.rank, f.line, f.sub));
    // Periods closed by this file set, in time order.
    let mut closed: BTreeSet<Period> = BTreeSet::new();
    let mut submissions = Vec::with_capacity(defs.len() + facts.len());
    let mut origins = Vec::with_capacity(defs.len() + facts.len());
    let correlation_id = {
        let mut h = String::new();
        for i in defs.iter().chain(facts.iter()) {
            h.push_str(&i.row_id);
            h.push('\u{1e}');
        }
        Uuid::new_v5(&COMMAND_NAMESPACE, h.as_bytes())
    };
    let mut latest = None;
    for item in defs.into_iter().chain(facts) {
        let mut command = item.command;
        if let Command::ClosePeriod { period } = &command {
            closed.insert(*period);
        } else if let Some(p) = command.period() {
            let in_ledger = opts.closed_periods.iter().any(|c| c.contains(p));
            if in_ledger && !closed.iter().any(|c| c.contains(p)) {
                // Closed before this import: a row with a reason is a
                // post-close change; one without is left for the ledger to
                // judge (a re-imported row is a duplicate, a new one is
                // refused and mapped back to its line).
                if let Some(reason) = &item.reason {
                    command = Command::PostCloseRestatement {
                        reason: reason.clone(),
                        command: Box::new(command),
                    };
                }
            } else if closed.iter().any(|c| c.contains(p)) {
                match &item.reason {
                    Some(reason) => {
                        command = Command::PostCloseRestatement {
                            reason: reason.clone(),
                            command: Box::new(command),
                        };
                    }
                    None => {
                        cx.errs.at(&item.file, item.line, "reason", "", format!("{p} is closed at this recorded time: a change to a closed period needs a reason"));
                        continue;
                    }
                }
            }
        }
        let env = CommandEnvelope {
            command_id: command_id(&tenant, &item.row_id, item.sub),
            tenant: tenant.clone(),
            actor: item.actor,
            source: Text::new("source", &item.source).unwrap_or_default(),
            correlation_id,
            causation_id: None,
            command,
        };
        // A live import leaves the recorded time to the ledger's clock.
        let time = if opts.backdated {
            item.time.or(earliest)
        } else {
            None
        };
        let sub = match time {
            Some(t) => {
                latest = Some(t);
                Submitted::at(env, t)
            }
            None => Submitted::new(env),
        };
        submissions.push(sub);
        origins.push(Origin {
            file: item.file,
            line: item.line,
        });
    }
    if !cx.errs.is_empty() {
        return None;
    }
    let rows = tables
        .values()
        .map(|t| (t.file.clone(), t.rows.len()))
        .collect();
    Some(ImportPlan {
        tenant: cx.tenant,
        submissions,
        origins,
        seals,
        warnings: cx.warnings,
        rows,
        latest,
    })
}

/// The deterministic id of the command made from one row.
pub fn command_id(tenant: &Tenant, row_id: &str, sub: usize) -> Uuid {
    Uuid::new_v5(
        &COMMAND_NAMESPACE,
        format!("{tenant}\u{1f}{row_id}\u{1f}{sub}").as_bytes(),
    )
}

/// An amount in the reports' printed form: `30,837`, `(4,331)`.
pub fn printed_amount(v: Fixed) -> String {
    let s = v.to_string();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, s),
    };
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (s, None),
    };
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(&f);
    }
    if neg {
        format!("({out})")
    } else {
        out
    }
}
