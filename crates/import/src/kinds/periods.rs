//! Period closes: `periods_closed.csv`.
//!
//! Invariant: the calendar is council-wide, so a period is closed once; a
//! row for a period already closed (earlier in the file or in the ledger)
//! is skipped with a warning. The `unit` column names who reported the
//! close and is only checked.

use std::collections::BTreeSet;

use perfledger_domain::{Command, Period};

use crate::build::{Ctx, Known};
use crate::options::ImportOptions;
use crate::order::{Items, Recorded};
use crate::table::Table;

pub(crate) const PERIODS_CLOSED: &[(&str, bool)] = &[
    ("unit", true),
    ("period", true),
    ("closed_at", false),
    ("actor", true),
    ("reason", false),
    ("source", false),
];

/// Period closes.
pub(crate) fn closed(
    cx: &mut Ctx,
    out: &mut Items,
    known: &Known,
    t: &Table,
    opts: &ImportOptions,
) {
    let mut seen: BTreeSet<Period> = BTreeSet::new();
    for r in &t.rows {
        known.check_unit(cx, t, r, "unit");
        let period = cx.period(t, r, "period");
        let time = cx.recorded(t, r, "closed_at");
        let actor = cx.actor(t, r);
        let (Some(period), Some(time), Some(actor)) = (period, time, actor) else {
            continue;
        };
        if !seen.insert(period) || opts.closed_periods.contains(&period) {
            cx.warn(
                t,
                r,
                format!("{period} is already closed (the calendar is council-wide); row skipped"),
            );
            continue;
        }
        let by = Recorded {
            time,
            actor,
            reason: None,
        };
        out.fact(t, r, 0, &by, Command::ClosePeriod { period });
    }
}
