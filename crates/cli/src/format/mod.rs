//! Printing: human tables, JSON (the views of docs/json.md)
//! and CSV, one module per view. This file holds what every view shares:
//! the printed forms of figures and the table and CSV writers.
//!
//! Amounts are printed as the reports print them (`30,837`, `(4,331)`),
//! percentages with the reports' precision (`-50.7%`, `58%`); "no value" is
//! `-` (all from [`perfledger_domain::printed`]; the CLI's ASCII glyph). A table cell is never cut (titles that share their first 60 characters must stay apart); a wide column makes a wide table.

use perfledger_domain::direction::Direction;
use perfledger_domain::printed::{self, NO_VALUE_ASCII};
use perfledger_domain::{Fixed, Timestamp};
use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::error::{CliError, Res};

mod dashboard;
mod finance;
mod history;
mod import;
mod risks;
mod seals;

pub use dashboard::dashboard;
pub use finance::finance;
pub use history::{audit, history, indicators};
pub use import::import_summary;
pub use risks::risks;
pub use seals::{seal, seals};

/// `30837` → `30,837`; `-4331` → `(4,331)` ([`printed::amount`]).
pub fn amount(v: Fixed) -> String {
    printed::amount(v)
}

/// One-decimal percentage: `-50.7%`, `0.0%` (never `-0.0%`).
pub fn pct1(v: Option<Fixed>) -> String {
    printed::percent_1dp_or(v, NO_VALUE_ASCII)
}

/// Capital slippage, negative in brackets: `(12%)`.
pub fn pct_whole(v: Option<Fixed>) -> String {
    printed::slippage_percent_or(v, NO_VALUE_ASCII)
}

pub(super) fn pct_int(v: Option<i64>) -> String {
    printed::percent_or(v, NO_VALUE_ASCII)
}

pub(super) fn rag_name(r: perfledger_domain::rag::Rag) -> &'static str {
    printed::rag_name(r)
}

pub(super) fn dir_name(d: Option<Direction>) -> Option<&'static str> {
    d.map(printed::direction)
}

/// RFC 3339 of ms since the epoch.
pub fn time(ms: i64) -> String {
    Timestamp(ms).to_string()
}

/// Flattens a view's JSON into `(path, cell)` pairs for CSV: object keys
/// in sorted order, array items by index (`risks[0].score`). The JSON is
/// walked as raw text, so a number's cell is its exact decimal as the view
/// wrote it (never through an `f64`, which would round a figure of more
/// than 15 significant digits).
pub(super) fn flat(prefix: &str, raw: &RawValue, out: &mut Vec<(String, String)>) {
    let text = raw.get();
    let path = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match text.as_bytes().first() {
        Some(b'{') => {
            let members: BTreeMap<String, Box<RawValue>> =
                serde_json::from_str(text).expect("a view's object parses back");
            for (key, member) in &members {
                flat(&path(key), member, out);
            }
        }
        Some(b'[') => {
            let items: Vec<Box<RawValue>> =
                serde_json::from_str(text).expect("a view's array parses back");
            for (i, item) in items.iter().enumerate() {
                flat(&format!("{prefix}[{i}]"), item, out);
            }
        }
        Some(b'"') => out.push((
            prefix.into(),
            serde_json::from_str(text).expect("a view's string parses back"),
        )),
        Some(b'n') => out.push((prefix.into(), String::new())), // null
        _ => out.push((prefix.into(), text.to_string())),       // number, bool
    }
}

/// A view's compact JSON text, for [`flat`].
pub(super) fn view_json<T: serde::Serialize>(v: &T) -> Box<RawValue> {
    RawValue::from_string(perfledger_readmodel::views::to_json(v, false))
        .expect("a view's JSON text is valid JSON")
}

pub(super) fn csv_out(header: &[&str], rows: Vec<Vec<String>>) -> Res<()> {
    let mut w = csv::Writer::from_writer(std::io::stdout());
    w.write_record(header)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    for r in rows {
        w.write_record(&r)
            .map_err(|e| CliError::Usage(e.to_string()))?;
    }
    w.flush()?;
    Ok(())
}

pub(super) fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            s.push_str(&format!("{c:<w$}  "));
        }
        out!("{}", s.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for r in rows {
        line(r.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_numbers_keep_their_exact_decimal() {
        use perfledger_readmodel::views::Num;
        #[derive(serde::Serialize)]
        struct View {
            b: Vec<Num>,
            a: Option<Num>,
        }
        // 18 significant digits: an f64 would print 98765432109876.55.
        let v = View {
            b: vec![Num(fx("98765432109876.5432"))],
            a: None,
        };
        let mut cells = Vec::new();
        flat("", &view_json(&v), &mut cells);
        let cell = |p: &str, v: &str| (p.to_string(), v.to_string());
        assert_eq!(
            cells,
            vec![cell("a", ""), cell("b[0]", "98765432109876.5432")]
        );
    }

    fn fx(s: &str) -> Fixed {
        Fixed::parse_decimal(s).unwrap()
    }

    #[test]
    fn printed_forms() {
        assert_eq!(amount(fx("30837")), "30,837");
        assert_eq!(amount(fx("-4331")), "(4,331)");
        assert_eq!(amount(fx("-491")), "(491)");
        assert_eq!(amount(fx("0")), "0");
        assert_eq!(amount(fx("1000000")), "1,000,000");
        assert_eq!(pct1(Some(fx("-50.7"))), "-50.7%");
        assert_eq!(pct1(Some(fx("0"))), "0.0%");
        assert_eq!(pct1(Some(fx("7"))), "7.0%");
        assert_eq!(pct_whole(Some(fx("-12"))), "(12%)");
        assert_eq!(pct_whole(Some(fx("3"))), "3%");
    }
}
