//! Tolerance schemes: `tolerance_schemes.csv`, the RAG thresholds adopted
//! from a financial year on.
//!
//! Invariant: each model has exactly its own thresholds (four-level: green
//! → amber and red → amber; three-level: red from; direction-dependent:
//! green max), each a percentage with at most two decimals, and the other
//! threshold columns empty; the scheme passes the domain's validation.

use perfledger_domain::rag::ToleranceScheme;
use perfledger_domain::Command;

use crate::build::Ctx;
use crate::cells::parse_bp;
use crate::order::Items;
use crate::table::{Row, Table};

pub(crate) const TOLERANCE_SCHEMES: &[(&str, bool)] = &[
    ("scheme", true),
    ("valid_from", true),
    ("model", true),
    ("green_amber_max_miss", false),
    ("red_amber_max_miss", false),
    ("red_from_miss", false),
    ("green_max_miss", false),
    ("key", false),
    ("source", false),
];

/// The threshold columns, in the order of a model's `uses` flags.
const THRESHOLDS: [&str; 4] = [
    "green_amber_max_miss",
    "red_amber_max_miss",
    "red_from_miss",
    "green_max_miss",
];

/// Tolerance schemes.
pub(crate) fn tolerance_schemes(cx: &mut Ctx, out: &mut Items, t: &Table) {
    for r in &t.rows {
        let Some(fy) = cx.year(t, r, "valid_from") else {
            continue;
        };
        let model = r.get("model").to_lowercase();
        let uses = match model.as_str() {
            "four-level" => [true, true, false, false],
            "three-level" => [false, false, true, false],
            "direction-dependent" => [false, false, false, true],
            _ => {
                cx.err(
                    t,
                    r,
                    "model",
                    "expected four-level, three-level or direction-dependent",
                );
                continue;
            }
        };
        let a = threshold(cx, t, r, THRESHOLDS[0], uses[0]);
        let b = threshold(cx, t, r, THRESHOLDS[1], uses[1]);
        let c = threshold(cx, t, r, THRESHOLDS[2], uses[2]);
        let d = threshold(cx, t, r, THRESHOLDS[3], uses[3]);
        let (Some(a), Some(b), Some(c), Some(d)) = (a, b, c, d) else {
            continue;
        };
        const USED: &str = "a model's own thresholds are required (checked above)";
        let scheme = match model.as_str() {
            "four-level" => ToleranceScheme::four_level(a.expect(USED), b.expect(USED)),
            "three-level" => ToleranceScheme::ThreeLevel {
                red_from_bp: c.expect(USED),
            },
            _ => ToleranceScheme::DirectionDependent {
                green_max_bp: d.expect(USED),
            },
        };
        if let Err(e) = scheme.validate() {
            cx.err(t, r, "model", e.to_string());
            continue;
        }
        let Some(name) = cx.text(t, r, "scheme") else {
            continue;
        };
        out.define(
            t,
            r,
            0,
            Command::AdoptToleranceScheme {
                name,
                effective_from: fy,
                scheme,
            },
        );
    }
}

/// One threshold column in basis points: required when the model `needed`
/// it, empty otherwise (`Some(None)`); `None` when reported.
fn threshold(cx: &mut Ctx, t: &Table, r: &Row, col: &str, needed: bool) -> Option<Option<u32>> {
    let v = r.get(col);
    if v.is_empty() {
        if needed {
            cx.err(t, r, col, "required for this model");
            return None;
        }
        return Some(None);
    }
    if !needed {
        cx.err(t, r, col, "must be empty for this model");
        return None;
    }
    match parse_bp(v) {
        Some(b) => Some(Some(b)),
        None => {
            cx.err(
                t,
                r,
                col,
                "expected a percentage with at most two decimals, e.g. 9.99%",
            );
            None
        }
    }
}
