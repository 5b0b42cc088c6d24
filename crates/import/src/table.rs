//! Reading one CSV file into a [`Table`] of trimmed cells by column name.
//!
//! Grammar: an optional UTF-8 BOM; CRLF or LF line ends; the first record is
//! the header, whose names must be columns of the file's kind
//! ([`crate::kinds::columns`]), each at most once, with every required
//! column present; blank records are skipped; every other record has as
//! many fields as the header, and a required column's value is non-empty.
//!
//! Invariant: a [`Table`] exists only when all of that holds; otherwise
//! every finding is in [`Errs`] and there is no table. Line numbers are
//! 1-based with the header on line 1, as an officer sees them in an editor.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::errors::Errs;
use crate::kinds::{columns, FILES};

/// One data record: its line, its cells by column name, and the raw fields
/// (which make up the row's identity, [`crate::order::row_id`]).
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) line: usize,
    pub(crate) cells: BTreeMap<&'static str, String>,
    pub(crate) raw: Vec<String>,
}

impl Row {
    /// The trimmed cell; `""` when the column is absent or empty.
    pub(crate) fn get(&self, col: &str) -> &str {
        self.cells.get(col).map(String::as_str).unwrap_or("")
    }

    /// The cell when it is non-empty.
    pub(crate) fn opt(&self, col: &str) -> Option<&str> {
        let v = self.get(col);
        (!v.is_empty()).then_some(v)
    }
}

/// A file of one kind, read completely.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) kind: &'static str,
    pub(crate) file: String,
    pub(crate) rows: Vec<Row>,
}

impl Table {
    /// The table of a file not given: no rows.
    pub(crate) fn empty() -> Self {
        Table {
            kind: "none",
            file: String::new(),
            rows: Vec::new(),
        }
    }
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

/// The bytes without a BOM and with CRLF as LF, so the reader's line
/// numbers count every line once.
fn normalised(bytes: &[u8]) -> Vec<u8> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
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
    lf
}

/// Read one file of kind `kind`; `None` when it has any error (all of them
/// are in `errs`).
pub(crate) fn read_table(
    kind: &'static str,
    file: &str,
    bytes: &[u8],
    errs: &mut Errs,
) -> Option<Table> {
    let bytes = normalised(bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[..]);
    let spec = columns(kind);
    let mut header: Option<Vec<Option<&'static str>>> = None;
    let mut rows = Vec::new();
    let mut ok = true;
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
        let line = rec
            .position()
            .expect("the reader sets the position of every record it reads")
            .line() as usize;
        let Some(header) = &header else {
            let (names, good) = read_header(spec, &rec, file, line, errs);
            header = Some(names);
            ok &= good;
            continue;
        };
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue; // blank line
        }
        match read_row(spec, header, &rec, file, line, errs) {
            Some(row) => rows.push(row),
            None => ok = false,
        }
    }
    if header.is_none() {
        errs.at(file, 1, "", "", "empty file: a header row is required");
        return None;
    }
    ok.then(|| Table {
        kind,
        file: file.to_string(),
        rows,
    })
}

/// The header's columns (`None` = unknown name, reported) and whether the
/// rows can be read (no duplicate, no required column missing).
fn read_header(
    spec: &[(&'static str, bool)],
    rec: &csv::StringRecord,
    file: &str,
    line: usize,
    errs: &mut Errs,
) -> (Vec<Option<&'static str>>, bool) {
    let mut header = Vec::with_capacity(rec.len());
    let mut ok = true;
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
                // Reported, and the rest of the file is still checked: the
                // known columns read as they would without it, so one run
                // reports every error (the import still refuses the file).
                header.push(None);
            }
        }
    }
    for (c, req) in spec {
        if *req && !seen.contains(c) {
            errs.at(file, line, c, "", "required column is missing");
            ok = false;
        }
    }
    (header, ok)
}

/// One data record as a [`Row`]; `None` when it has an error (reported).
fn read_row(
    spec: &[(&'static str, bool)],
    header: &[Option<&'static str>],
    rec: &csv::StringRecord,
    file: &str,
    line: usize,
    errs: &mut Errs,
) -> Option<Row> {
    // Fewer fields than the header: the missing trailing cells are empty (a
    // spreadsheet saving CSV drops trailing empty fields); required ones are
    // then reported below as empty. More fields cannot be placed.
    if rec.len() > header.len() {
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
        return None;
    }
    let mut cells = BTreeMap::new();
    let mut raw = Vec::with_capacity(header.len());
    for (i, col) in header.iter().enumerate() {
        let v = rec.get(i).unwrap_or("").trim();
        raw.push(v.to_string());
        if let Some(c) = col {
            cells.insert(*c, v.to_string());
        }
    }
    let row = Row { line, cells, raw };
    let mut ok = true;
    for (c, req) in spec {
        if *req && header.contains(&Some(*c)) && row.get(c).is_empty() {
            errs.at(file, line, c, "", "required value is empty");
            ok = false;
        }
    }
    ok.then_some(row)
}
