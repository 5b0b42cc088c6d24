//! The organisation: `council.csv` (the tenant), `committees.csv`,
//! `units.csv` and `themes.csv`.
//!
//! Invariant: codes are unique within their file and made of letters,
//! digits and `- & / . _`; a unit's parent chain ends (no cycles) at units
//! of the same file, and parents are defined before their children; a
//! theme's `valid_to` is not before its `valid_from`.

use std::collections::{BTreeMap, BTreeSet};

use perfledger_domain::organisation::{OrgKind, OrgSpec};
use perfledger_domain::{Command, Tenant};

use crate::build::{Ctx, Known};
use crate::cells::is_code;
use crate::errors::Errs;
use crate::options::ImportOptions;
use crate::order::Items;
use crate::table::{Row, Table};

pub(crate) const COUNCIL: &[(&str, bool)] = &[
    ("tenant", true),
    ("name", true),
    ("short_name", false),
    ("source", false),
];

pub(crate) const COMMITTEES: &[(&str, bool)] = &[
    ("code", true),
    ("name", true),
    ("aliases", false),
    ("source", false),
];

pub(crate) const UNITS: &[(&str, bool)] = &[
    ("code", true),
    ("name", true),
    ("kind", false),
    ("parent", false),
    ("committee", false),
    ("aliases", false),
    ("source", false),
];

pub(crate) const THEMES: &[(&str, bool)] = &[
    ("code", true),
    ("name", true),
    ("kind", true),
    ("parent", false),
    ("plan", false),
    ("valid_from", false),
    ("valid_to", false),
    ("source", false),
];

/// The tenant: from council.csv (one row) or the options, which must agree
/// when both give one; `None` (reported) when neither does.
pub(crate) fn tenant(
    council: Option<&Table>,
    opts: &ImportOptions,
    errs: &mut Errs,
) -> Option<Tenant> {
    let mut tenant = opts.tenant.clone();
    if let Some(t) = council {
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
    if tenant.is_none() {
        errs.at(
            "council.csv",
            0,
            "",
            "",
            "no tenant: include council.csv or choose a tenant (--tenant)",
        );
    }
    tenant
}

/// Committees; returns the codes defined.
pub(crate) fn committees(cx: &mut Ctx, out: &mut Items, t: &Table) -> BTreeSet<String> {
    let mut committees = BTreeSet::new();
    for r in &t.rows {
        let code = r.get("code");
        if !is_code(code) {
            cx.err(t, r, "code", "not a code (letters, digits, - & / . only)");
            continue;
        }
        if !committees.insert(code.to_string()) {
            cx.err(t, r, "code", "duplicate committee code");
            continue;
        }
        let (Some(name), Some(_)) = (cx.text(t, r, "code"), cx.text(t, r, "name")) else {
            continue;
        };
        out.define(
            t,
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
        );
    }
    committees
}

/// Units, parents before children; returns the codes defined.
pub(crate) fn units(cx: &mut Ctx, out: &mut Items, known: &Known, t: &Table) -> BTreeSet<String> {
    let mut units: BTreeSet<String> = BTreeSet::new();
    for r in &t.rows {
        if !is_code(r.get("code")) {
            cx.err(t, r, "code", "not a code (letters, digits, - & / . only)");
        } else if !units.insert(r.get("code").to_string()) {
            cx.err(t, r, "code", "duplicate unit code");
        }
    }
    check_parents(cx, known, t, &units);
    // Define parents before children.
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut pending: Vec<&Row> = t.rows.iter().collect();
    let mut progress = true;
    while !pending.is_empty() && progress {
        progress = false;
        let mut rest = Vec::new();
        for r in pending {
            let ready = r
                .opt("parent")
                .is_none_or(|p| done.contains(p) || !units.contains(p));
            if !ready {
                rest.push(r);
                continue;
            }
            progress = true;
            done.insert(r.get("code").to_string());
            if let (Some(name), Some(parent)) = (cx.text(t, r, "code"), cx.opt_text(t, r, "parent"))
            {
                out.define(
                    t,
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
                );
            }
        }
        pending = rest;
    }
    units
}

/// Every unit's parent is a unit of the file and its chain has no cycle;
/// its committee is known.
fn check_parents(cx: &mut Ctx, known: &Known, t: &Table, units: &BTreeSet<String>) {
    let parents: BTreeMap<&str, &str> = t
        .rows
        .iter()
        .filter_map(|r| r.opt("parent").map(|p| (r.get("code"), p)))
        .collect();
    for r in &t.rows {
        if let Some(p) = r.opt("parent") {
            if !units.contains(p) {
                cx.err(t, r, "parent", "unknown parent unit (not in units.csv)");
            } else {
                let mut cur = p;
                let mut steps = 0;
                while let Some(n) = parents.get(cur) {
                    steps += 1;
                    if *n == r.get("code") || steps > units.len() {
                        cx.err(t, r, "parent", "parent chain forms a cycle");
                        break;
                    }
                    cur = n;
                }
            }
        }
        known.check_committee(cx, t, r, "committee");
    }
}

/// Themes and objectives; returns the codes defined.
pub(crate) fn themes(cx: &mut Ctx, out: &mut Items, t: &Table) -> BTreeSet<String> {
    let mut themes = BTreeSet::new();
    for r in &t.rows {
        if !is_code(r.get("code")) {
            cx.err(t, r, "code", "not a code");
        } else if !themes.insert(r.get("code").to_string()) {
            cx.err(t, r, "code", "duplicate theme code");
        }
    }
    for r in &t.rows {
        let kind = match r.get("kind").to_lowercase().as_str() {
            "theme" | "priority" | "committee priority" => OrgKind::Theme,
            "objective" => OrgKind::Objective,
            _ => {
                cx.err(
                    t,
                    r,
                    "kind",
                    "expected theme, priority, committee priority or objective",
                );
                continue;
            }
        };
        if let Some(p) = r.opt("parent") {
            if !themes.contains(p) {
                cx.err(t, r, "parent", "unknown parent theme (not in themes.csv)");
            }
        }
        let vf = r.opt("valid_from").map(|_| cx.year(t, r, "valid_from"));
        let vt = r.opt("valid_to").map(|_| cx.year(t, r, "valid_to"));
        if let (Some(Some(a)), Some(Some(b))) = (vf, vt) {
            if b < a {
                cx.err(t, r, "valid_to", "is before valid_from");
            }
        }
        if let (Some(name), Some(parent)) = (cx.text(t, r, "code"), cx.opt_text(t, r, "parent")) {
            out.define(
                t,
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
            );
        }
    }
    themes
}
