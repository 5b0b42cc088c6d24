//! The order of the plan and the ids of its commands.
//!
//! Invariant: definitions come first, sorted by the file's rank in
//! [`FILES`] (the doc's *Import order*), then line, then the row's
//! sub-command; then every fact, sorted by recorded time, rank, line and
//! sub-command. A command's id is uuid v5 of tenant, row identity (file,
//! line, raw fields) and sub-command, so re-importing the same files gives
//! the same ids and the ledger treats them as duplicates.
//!
//! Closed periods: a fact for a period closed earlier in the same files
//! needs a reason and becomes a post-close restatement; one for a period
//! the ledger has already closed becomes a restatement when it has a reason
//! and is otherwise left for the ledger to judge.

use std::collections::BTreeSet;

use perfledger_domain::{Command, CommandEnvelope, Period, Tenant, Text, Timestamp};
use perfledger_ledger::Submitted;
use uuid::Uuid;

use crate::errors::Errs;
use crate::kinds::FILES;
use crate::options::ImportOptions;
use crate::plan::{Origin, SealRequest};
use crate::table::{Row, Table};

/// Namespace of import command ids (uuid v5).
pub const COMMAND_NAMESPACE: Uuid = Uuid::from_u128(0x5e1f_0c8a_7b2d_4e61_9a3f_d4c2_b1e0_a917);

/// The deterministic id of the command made from one row.
pub fn command_id(tenant: &Tenant, row_id: &str, sub: usize) -> Uuid {
    Uuid::new_v5(
        &COMMAND_NAMESPACE,
        format!("{tenant}\u{1f}{row_id}\u{1f}{sub}").as_bytes(),
    )
}

/// One command waiting for its place in time.
pub(crate) struct Item {
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

/// Who recorded a fact row, when, and why (when a reason was given).
#[derive(Clone)]
pub(crate) struct Recorded {
    pub(crate) time: Timestamp,
    pub(crate) actor: Text,
    pub(crate) reason: Option<Text>,
}

/// The commands made so far: definitions (no time of their own) and facts.
pub(crate) struct Items {
    /// Actor of definition rows ([`ImportOptions::actor`]).
    def_actor: Text,
    defs: Vec<Item>,
    facts: Vec<Item>,
}

impl Items {
    pub(crate) fn new(def_actor: Text) -> Self {
        Items {
            def_actor,
            defs: Vec::new(),
            facts: Vec::new(),
        }
    }

    fn item(t: &Table, r: &Row, sub: usize, actor: Text, command: Command) -> Item {
        Item {
            time: None,
            rank: rank(t.kind),
            line: r.line,
            sub,
            file: t.file.clone(),
            row_id: row_id(t, r),
            actor,
            source: source_of(t, r),
            command,
            reason: None,
        }
    }

    /// A definition made from row `r` (`sub` tells apart several commands
    /// of one row).
    pub(crate) fn define(&mut self, t: &Table, r: &Row, sub: usize, command: Command) {
        let item = Self::item(t, r, sub, self.def_actor.clone(), command);
        self.defs.push(item);
    }

    /// A fact made from row `r`.
    pub(crate) fn fact(&mut self, t: &Table, r: &Row, sub: usize, by: &Recorded, command: Command) {
        let mut item = Self::item(t, r, sub, by.actor.clone(), command);
        item.time = Some(by.time);
        item.reason = by.reason.clone();
        self.facts.push(item);
    }

    /// The earliest recorded time of any fact.
    fn earliest_fact(&self) -> Option<Timestamp> {
        self.facts.iter().filter_map(|f| f.time).min()
    }
}

/// The position of a file kind in the import order.
fn rank(kind: &str) -> usize {
    FILES
        .iter()
        .position(|k| *k == kind)
        .expect("rows come only from tables of the kinds in FILES")
}

/// The identity of a row: file, line and raw fields.
pub(crate) fn row_id(t: &Table, r: &Row) -> String {
    format!("{}\u{1f}{}\u{1f}{}", t.file, r.line, r.raw.join("\u{1f}"))
}

/// Provenance of a row for the envelope's `source`.
pub(crate) fn source_of(t: &Table, r: &Row) -> String {
    let mut s = format!("import {}:{}", t.file, r.line);
    if let Some(src) = r.opt("source") {
        s.push_str("; ");
        s.push_str(src);
    }
    s
}

/// The submissions in order, with their origins and the latest recorded
/// time among them.
pub(crate) struct Sequenced {
    pub(crate) submissions: Vec<Submitted>,
    pub(crate) origins: Vec<Origin>,
    pub(crate) latest: Option<Timestamp>,
}

/// Put every item in its place and wrap it in its envelope; `None` when a
/// row changes a closed period without a reason (reported in `errs`).
pub(crate) fn sequence(
    items: Items,
    seals: &[SealRequest],
    tenant: &Tenant,
    opts: &ImportOptions,
    errs: &mut Errs,
) -> Option<Sequenced> {
    let earliest = items
        .earliest_fact()
        .into_iter()
        .chain(seals.iter().map(|s| s.sealed_at))
        .min();
    let Items {
        mut defs,
        mut facts,
        ..
    } = items;
    defs.sort_by_key(|d| (d.rank, d.line, d.sub));
    facts.sort_by_key(|f| (f.time, f.rank, f.line, f.sub));
    let correlation_id = {
        let mut h = String::new();
        for i in defs.iter().chain(facts.iter()) {
            h.push_str(&i.row_id);
            h.push('\u{1e}');
        }
        Uuid::new_v5(&COMMAND_NAMESPACE, h.as_bytes())
    };
    // Periods closed by this file set, in time order.
    let mut closed: BTreeSet<Period> = BTreeSet::new();
    let mut out = Sequenced {
        submissions: Vec::with_capacity(defs.len() + facts.len()),
        origins: Vec::with_capacity(defs.len() + facts.len()),
        latest: None,
    };
    for item in defs.into_iter().chain(facts) {
        let command = match after_close(&item, &mut closed, opts) {
            AfterClose::Keep => item.command,
            AfterClose::Restate(reason) => item.command.after_close(reason),
            AfterClose::Refuse(p) => {
                errs.at(
                    &item.file,
                    item.line,
                    "reason",
                    "",
                    format!("{p} is closed at this recorded time: a change to a closed period needs a reason"),
                );
                continue;
            }
        };
        let source = match Text::new("source", &item.source) {
            Ok(s) => s,
            Err(e) => {
                errs.at(&item.file, item.line, "source", &item.source, e.to_string());
                continue;
            }
        };
        let env = CommandEnvelope {
            command_id: command_id(tenant, &item.row_id, item.sub),
            tenant: tenant.clone(),
            actor: item.actor,
            source,
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
                out.latest = Some(t);
                Submitted::at(env, t)
            }
            None => Submitted::new(env),
        };
        out.submissions.push(sub);
        out.origins.push(Origin {
            file: item.file,
            line: item.line,
        });
    }
    errs.is_empty().then_some(out)
}

/// What a closed period does to an item's command.
enum AfterClose {
    /// Appended as it is.
    Keep,
    /// Wrapped in a post-close restatement with this reason.
    Restate(Text),
    /// Refused: it changes this period, closed by the same files, without
    /// a reason.
    Refuse(Period),
}

/// How the periods closed so far (by these files, in time order, or in
/// the ledger) treat the item (see the module header).
fn after_close(item: &Item, closed: &mut BTreeSet<Period>, opts: &ImportOptions) -> AfterClose {
    if let Command::ClosePeriod { period } = &item.command {
        closed.insert(*period);
        return AfterClose::Keep;
    }
    // The domain's closed-period rule, against the periods these files
    // have closed so far and those the ledger had closed before.
    let in_files = item.command.closed_period(closed);
    let in_ledger = item.command.closed_period(&opts.closed_periods);
    match (&item.reason, in_files, in_ledger) {
        (Some(reason), Some(_), _) => AfterClose::Restate(reason.clone()),
        (None, Some(p), _) => AfterClose::Refuse(p),
        // Closed before this import: a row with a reason is a post-close
        // change; one without is left for the ledger to judge (a
        // re-imported row is a duplicate, a new one is refused and mapped
        // back to its line).
        (Some(reason), None, Some(_)) => AfterClose::Restate(reason.clone()),
        _ => AfterClose::Keep,
    }
}
