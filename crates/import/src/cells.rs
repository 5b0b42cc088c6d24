//! Cell parsers: one printed value of a cell into a domain value.
//!
//! Invariant: a cell reader either returns the value or reports an
//! [`crate::ImportError`] naming the file, line, column and value, and
//! returns `None`; it never substitutes a default for a bad cell. The free
//! functions are the grammars (`None` = not in the grammar), the
//! [`Ctx`] methods read a cell of a row and report.

use perfledger_domain::indicator::{DataType, InterventionLevel, MoneyUnit};
use perfledger_domain::parse;
use perfledger_domain::risk::Response;
use perfledger_domain::{FinancialYear, Fixed, Period, Text, Timestamp};

use crate::build::Ctx;
use crate::table::{Row, Table};

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

pub(crate) fn parse_response(v: &str) -> Option<Response> {
    Some(match v.trim().to_lowercase().as_str() {
        "treat" => Response::Treat,
        "tolerate" => Response::Tolerate,
        "transfer" => Response::Transfer,
        "terminate" => Response::Terminate,
        _ => return None,
    })
}

/// A printed amount cell; empty or `-` = 0 where allowed.
pub(crate) fn amount_cell(v: &str) -> Result<Fixed, String> {
    parse::parse_amount(v).map_err(|e| e.to_string())
}

pub(crate) fn is_code(v: &str) -> bool {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '&' | '/' | '.' | '_'))
}

impl Ctx<'_> {
    /// The recorded time of a fact row (`col` = `recorded_at` or
    /// `closed_at`). A backdated load claims one on every row; a live
    /// import claims none and its rows are recorded now by the ledger's
    /// clock (`now` stands in for it here: the same for every row, so rows
    /// keep the order of the files).
    pub(crate) fn recorded(&mut self, t: &Table, r: &Row, col: &str) -> Option<Timestamp> {
        match (self.backdated, r.get(col).is_empty()) {
            (true, false) => self.time(t, r, col),
            (true, true) => {
                self.err(
                    t,
                    r,
                    col,
                    "a backdated load needs the claimed recorded time of every row",
                );
                None
            }
            (false, true) => Some(self.now),
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

    /// Report an error at this row and column, quoting the cell.
    pub(crate) fn err(&mut self, t: &Table, r: &Row, col: &str, msg: impl Into<String>) {
        let v = r.get(col).to_string();
        self.errs.at(&t.file, r.line, col, &v, msg);
    }
    /// The cell as text.
    pub(crate) fn text(&mut self, t: &Table, r: &Row, col: &str) -> Option<Text> {
        match Text::new("text", r.get(col)) {
            Ok(x) => Some(x),
            Err(e) => {
                self.err(t, r, col, e.to_string());
                None
            }
        }
    }
    /// The cell as text; `Some(None)` when empty.
    pub(crate) fn opt_text(&mut self, t: &Table, r: &Row, col: &str) -> Option<Option<Text>> {
        if r.get(col).is_empty() {
            Some(None)
        } else {
            self.text(t, r, col).map(Some)
        }
    }
    /// The cell as a period (a quarter or a year).
    pub(crate) fn period(&mut self, t: &Table, r: &Row, col: &str) -> Option<Period> {
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
    /// The cell as a quarter.
    pub(crate) fn quarter(&mut self, t: &Table, r: &Row, col: &str) -> Option<Period> {
        let p = self.period(t, r, col)?;
        if matches!(p, Period::Quarter { .. }) {
            Some(p)
        } else {
            self.err(t, r, col, "expected a quarter, e.g. 2016/17 Q1");
            None
        }
    }
    /// The cell as a financial year.
    pub(crate) fn year(&mut self, t: &Table, r: &Row, col: &str) -> Option<FinancialYear> {
        match FinancialYear::parse(r.get(col)) {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(t, r, col, format!("{e} (expected e.g. 2016/17)"));
                None
            }
        }
    }
    /// The cell as a time no later than now.
    pub(crate) fn time(&mut self, t: &Table, r: &Row, col: &str) -> Option<Timestamp> {
        match Timestamp::parse(r.get(col)) {
            Ok(ts) if ts > self.now => {
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
    /// The `actor` cell.
    pub(crate) fn actor(&mut self, t: &Table, r: &Row) -> Option<Text> {
        self.text(t, r, "actor")
    }
    /// The `reason` cell: required when `needed` (`why` says why),
    /// `Some(None)` when empty and not needed.
    pub(crate) fn reason(
        &mut self,
        t: &Table,
        r: &Row,
        needed: bool,
        why: &str,
    ) -> Option<Option<Text>> {
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
    /// The cell as a printed amount.
    pub(crate) fn amount(&mut self, t: &Table, r: &Row, col: &str) -> Option<Fixed> {
        match amount_cell(r.get(col)) {
            Ok(a) => Some(a),
            Err(e) => {
                self.err(t, r, col, e);
                None
            }
        }
    }

    /// A text the import composes from this row's cells (a breakdown's
    /// title, a comment with its reason appended): a value over the text
    /// limit is reported at `col`, never dropped.
    pub(crate) fn composed(
        &mut self,
        t: &Table,
        r: &Row,
        col: &str,
        what: &str,
        value: &str,
    ) -> Option<Text> {
        match Text::new("text", value) {
            Ok(x) => Some(x),
            Err(e) => {
                self.err(t, r, col, format!("{what} made from this value: {e}"));
                None
            }
        }
    }

    /// The row's `comment` with its reason appended (`… (reason: …)`, or
    /// `Reason: …` alone), for commands that carry no reason of their own;
    /// `None` when that outgrows the text limit (reported at `comment`).
    pub(crate) fn with_reason(
        &mut self,
        t: &Table,
        r: &Row,
        comment: Option<&Text>,
        reason: &Text,
    ) -> Option<Text> {
        let c = match comment {
            Some(c) => format!("{c} (reason: {reason})"),
            None => format!("Reason: {reason}"),
        };
        self.composed(t, r, "comment", "the comment with the reason appended", &c)
    }
}
