//! Errors and warnings of an import, each located in the input.
//!
//! Invariant: every problem names its file and line (1-based, header = 1;
//! 0 = the file as a whole), and the column and value when one is at fault.
//! [`Errs`] collects them up to a cap and counts the rest, so a plan is
//! produced only when nothing at all was found ([`Errs::is_empty`]).

use std::fmt;

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

impl ImportError {
    /// An error at `file:line`; an empty `column` or `value` is left out.
    /// Every located error is made here, whether the import found it
    /// ([`Errs::at`]) or the ledger did ([`crate::ImportPlan::locate`]).
    pub(crate) fn at(
        file: &str,
        line: usize,
        column: &str,
        value: &str,
        message: impl Into<String>,
    ) -> Self {
        ImportError {
            file: file.to_string(),
            line,
            column: (!column.is_empty()).then(|| column.to_string()),
            value: (!value.is_empty()).then(|| value.to_string()),
            message: message.into(),
        }
    }
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

/// The errors collected so far: the first `cap` listed, the rest counted.
pub(crate) struct Errs {
    list: Vec<ImportError>,
    more: usize,
    cap: usize,
}

impl Errs {
    /// An empty collection listing at most `cap` errors (at least one).
    pub(crate) fn new(cap: usize) -> Self {
        Errs {
            list: Vec::new(),
            more: 0,
            cap: cap.max(1),
        }
    }

    /// Record one error (listed while under the cap, else counted).
    pub(crate) fn push(&mut self, e: ImportError) {
        if self.list.len() < self.cap {
            self.list.push(e);
        } else {
            self.more += 1;
        }
    }

    /// Record an error at `file:line`; an empty `column` or `value` is
    /// left out of the message.
    pub(crate) fn at(
        &mut self,
        file: &str,
        line: usize,
        column: &str,
        value: &str,
        message: impl Into<String>,
    ) {
        self.push(ImportError::at(file, line, column, value, message));
    }

    /// True when nothing has been found.
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty() && self.more == 0
    }

    /// The collected errors, as returned to the caller.
    pub(crate) fn into_errors(self) -> ImportErrors {
        ImportErrors {
            errors: self.list,
            more: self.more,
        }
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
