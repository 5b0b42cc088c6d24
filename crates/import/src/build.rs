//! Build: the tables read from the files → an [`ImportPlan`].
//!
//! Invariant: every table is checked completely, row by row, and every
//! problem is reported; a plan exists only when none was found. Kinds are
//! read in dependency order (organisation, schemes, indicators, actions,
//! risks, savings, then the facts that refer to them), and what a kind
//! defines is collected in [`Known`] for the later kinds to check their
//! references against. A kind whose file is absent is `None` in [`Known`]:
//! references to it are then left for the ledger to check (except action
//! statuses, which need their actions.csv in the same import to know the
//! action's unit).

use std::collections::{BTreeMap, BTreeSet};

use perfledger_domain::{Text, Timestamp};

use crate::errors::{Errs, Warning};
use crate::kinds::{
    actions, finance, indicators, org, periods, results, risks, savings, schemes, seals, targets,
};
use crate::options::ImportOptions;
use crate::order::{sequence, Items};
use crate::plan::ImportPlan;
use crate::table::{Row, Table};

/// What every row reader needs: where errors and warnings go, and how
/// recorded times are claimed.
pub(crate) struct Ctx<'a> {
    pub(crate) errs: &'a mut Errs,
    pub(crate) warnings: Vec<Warning>,
    /// [`ImportOptions::backdated`].
    pub(crate) backdated: bool,
    /// [`ImportOptions::now`].
    pub(crate) now: Timestamp,
    /// Files already told that a live import cannot claim recorded times.
    pub(crate) claimed: BTreeSet<String>,
}

impl Ctx<'_> {
    /// A non-fatal finding at row `r`.
    pub(crate) fn warn(&mut self, t: &Table, r: &Row, message: String) {
        self.warnings.push(Warning {
            file: t.file.clone(),
            line: r.line,
            message,
        });
    }
}

/// The codes defined by the files of this import, for the references of
/// later files; `None` = that file is not part of the import.
#[derive(Default)]
pub(crate) struct Known {
    pub(crate) committees: Option<BTreeSet<String>>,
    pub(crate) units: Option<BTreeSet<String>>,
    pub(crate) themes: Option<BTreeSet<String>>,
    pub(crate) indicators: Option<indicators::Indicators>,
    /// Action reference → (reference, unit).
    pub(crate) actions: Option<BTreeMap<String, (Text, Text)>>,
    pub(crate) risks: Option<BTreeSet<String>>,
    pub(crate) savings: Option<BTreeSet<String>>,
}

impl Known {
    /// Report a committee code not in committees.csv.
    pub(crate) fn check_committee(&self, cx: &mut Ctx, t: &Table, r: &Row, col: &str) {
        if let (Some(c), Some(known)) = (r.opt(col), &self.committees) {
            if !known.contains(c) {
                cx.err(t, r, col, "unknown committee code (not in committees.csv)");
            }
        }
    }

    /// Report a unit code not in units.csv; false when reported.
    pub(crate) fn check_unit(&self, cx: &mut Ctx, t: &Table, r: &Row, col: &str) -> bool {
        let u = r.get(col);
        match &self.units {
            Some(known) if !u.is_empty() && !known.contains(u) => {
                cx.err(t, r, col, "unknown unit code (not in units.csv)");
                false
            }
            _ => true,
        }
    }

    /// Report a theme code not in themes.csv.
    pub(crate) fn check_theme(&self, cx: &mut Ctx, t: &Table, r: &Row, col: &str) {
        if let (Some(th), Some(known)) = (r.opt(col), &self.themes) {
            if !known.contains(th) {
                cx.err(t, r, col, "unknown theme code (not in themes.csv)");
            }
        }
    }
}

/// Check every table and make the plan; `None` when anything was reported.
pub(crate) fn build(
    tables: &BTreeMap<&'static str, Table>,
    opts: &ImportOptions,
    errs: &mut Errs,
) -> Option<ImportPlan> {
    let tenant = org::tenant(tables.get("council"), opts, errs)?;
    let mut cx = Ctx {
        errs,
        warnings: Vec::new(),
        backdated: opts.backdated,
        now: opts.now,
        claimed: BTreeSet::new(),
    };
    let empty = Table::empty();
    let tab = |k: &str| tables.get(k).unwrap_or(&empty);
    let given = |k: &str| tables.contains_key(k);
    let mut items = Items::new(opts.actor.clone());
    let mut known = Known::default();
    let cx = &mut cx;
    let out = &mut items;

    // Definitions.
    let committees = org::committees(cx, out, tab("committees"));
    known.committees = given("committees").then_some(committees);
    let units = org::units(cx, out, &known, tab("units"));
    known.units = given("units").then_some(units);
    let themes = org::themes(cx, out, tab("themes"));
    known.themes = given("themes").then_some(themes);
    schemes::tolerance_schemes(cx, out, tab("tolerance_schemes"));
    let inds = indicators::indicators(cx, out, &known, tab("indicators"));
    known.indicators = given("indicators").then_some(inds);
    let acts = actions::actions(cx, out, &known, tab("actions"));
    known.actions = given("actions").then_some(acts);
    let rks = risks::risks(cx, out, &known, tab("risks"), tab("risk_assessments"));
    known.risks = given("risks").then_some(rks);
    let savs = savings::savings(cx, out, &known, tab("savings"));
    known.savings = given("savings").then_some(savs);

    // Facts.
    targets::targets(cx, out, &known, tab("targets"));
    results::results(cx, out, &known, tab("results"), tab("benchmarks"));
    actions::statuses(cx, out, &known, tab("action_status"));
    risks::assessments(cx, out, &known, tab("risk_assessments"));
    finance::revenue(cx, out, &known, tab("revenue"));
    finance::capital(cx, out, &known, tab("capital"));
    savings::progress(cx, out, &known, tab("savings_progress"));
    periods::closed(cx, out, &known, tab("periods_closed"), opts);
    let seals = seals::seals(cx, &known, tab("seals"), &tenant);

    if !cx.errs.is_empty() {
        return None;
    }
    let sequenced = sequence(items, &seals, &tenant, opts, cx.errs)?;
    let rows = tables
        .values()
        .map(|t| (t.file.clone(), t.rows.len()))
        .collect();
    Some(ImportPlan {
        tenant,
        submissions: sequenced.submissions,
        origins: sequenced.origins,
        seals,
        warnings: std::mem::take(&mut cx.warnings),
        rows,
        latest: sequenced.latest,
    })
}
