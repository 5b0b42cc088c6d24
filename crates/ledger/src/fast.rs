//! The one-round-trip path of a single command (issue #12, command path).
//!
//! Invariant: this path only ever *appends or steps aside*. A command is
//! decided here against the entity state this ledger keeps in memory and
//! appended with that state's version as the expected version, so the log
//! accepts it only if the state was the entity's current one: the decision
//! is the one the full path would have made. Every other outcome (no kept
//! state, a rejection, no events, a command id the index or the entity
//! already knows, a pinned version that differs, a conflict, a duplicate
//! answer) stores nothing and is handed back to the full path (`plan` and
//! `execute`), which reloads and answers exactly as before.
//!
//! Command ids: an id this ledger has not indexed can only belong to a
//! record stored after the index's last catch-up. The index is caught up at
//! least every [`INDEX_REFRESH`] and trusted only while that catch-up is
//! younger than half the log's dedupe window
//! ([`perfledger_log::Capabilities::dedupe_window`]); within that window a
//! re-sent or reused id is answered `duplicate` by the log itself and goes
//! to the full path, which judges it against the stored record. A log that
//! promises no window (the embedded and in-memory logs) has the index caught
//! up to the head before every command, as the full path does.
//!
//! Closed periods: the tenant calendar a command is decided against is
//! checked against the log's version of its subject unless it was known
//! current within [`crate::Ledger::with_calendar_staleness`] (default zero:
//! checked for every command by a request issued after it arrived, as the
//! full path does; concurrent commands share one such request, see
//! `calendar_check`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use perfledger_domain::command::CALENDAR_KEY;
use perfledger_domain::event::build_envelopes;
use perfledger_domain::{
    apply, encode_commit, entity_id, handle, AggregateState, Context, EntityKind, Tenant,
};
use perfledger_log::{Commit, EventLog, Expected, LogError};
use uuid::Uuid;

use crate::{subject_for, Executed, Ledger, LedgerError, Loaded, Submitted};

/// How often the command-id index is caught up to the head while commands
/// take the fast path (one command pays for the read).
pub const INDEX_REFRESH: Duration = Duration::from_secs(5);

impl<L: EventLog> Ledger<L> {
    /// Execute `item` in one append, or `None` when the full path must
    /// decide it (nothing was stored).
    pub(crate) async fn execute_fast(
        &self,
        item: &Submitted,
    ) -> Result<Option<Executed>, LedgerError> {
        // A backdated command needs the log's latest recorded time.
        if item.recorded_at.is_some() || self.states_capacity == 0 || !self.fast_path {
            return Ok(None);
        }
        let cmd = &item.command;
        let tenant = &cmd.tenant;
        let (kind, id) = cmd.command.entity(tenant);
        // A new or evicted entity: the full path loads it (and asks for the
        // calendar itself), so this path asks for nothing first.
        if !self.states.lock().await.contains(&(kind, id)) {
            return Ok(None);
        }
        if !self.index_trusted(&cmd.command_id).await? {
            return Ok(None);
        }
        let ctx = if kind == EntityKind::Calendar {
            None
        } else {
            match self.current_calendar(tenant).await? {
                Some(c) => Some(c),
                None => return Ok(None),
            }
        };
        let Some((mut entity, current_at)) = self.states.lock().await.take(&(kind, id)) else {
            return Ok(None);
        };
        // A known id or another pinned version: the full path answers.
        if entity.commands.contains_key(&cmd.command_id)
            || item.expected.is_some_and(|v| v != entity.version)
        {
            self.keep(kind, id, entity, current_at).await;
            return Ok(None);
        }
        let ctx = ctx.unwrap_or_else(|| calendar_context(&entity.state));
        let now = self.clock.now();
        // A rejection, no events, or an envelope or encoding error: the
        // full path decides again on the confirmed state and says why.
        let payload = match handle(&entity.state, cmd, &ctx.at(now)) {
            Ok(bodies) if !bodies.is_empty() => {
                let event_ids: Vec<Uuid> = bodies.iter().map(|_| self.ids.next_id()).collect();
                build_envelopes(cmd, bodies, &event_ids, now, None)
                    .ok()
                    .and_then(|envelopes| Some((encode_commit(&envelopes).ok()?, envelopes)))
            }
            _ => None,
        };
        let Some((payload, envelopes)) = payload else {
            self.keep(kind, id, entity, current_at).await;
            return Ok(None);
        };
        let commit = Commit {
            subject: subject_for(&self.prefix, tenant, kind, id)?,
            expected: if entity.version == 0 {
                Expected::Empty
            } else {
                Expected::At(entity.version)
            },
            msg_id: cmd.command_id,
            recorded_at: now.0,
            payload: payload.into(),
        };
        let sent = Instant::now();
        match self.log.append(commit).await {
            Ok(a) if !a.duplicate => {
                for e in &envelopes {
                    apply(&mut entity.state, e);
                }
                entity.version = a.seq;
                entity.commands.insert(cmd.command_id, a.seq);
                self.states.lock().await.put_at((kind, id), entity, sent);
                Ok(Some(Executed {
                    seq: a.seq,
                    duplicate: false,
                    events: envelopes,
                }))
            }
            // The kept state was stale, or the id was used: the full path
            // reloads the entity and judges.
            Ok(_) | Err(LogError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Put a state taken out of the cache back, as it was.
    async fn keep(&self, kind: EntityKind, id: Uuid, entity: Loaded, current_at: Instant) {
        self.states
            .lock()
            .await
            .put_at((kind, id), entity, current_at);
    }

    /// Can the index say "new id" without a read: caught up recently
    /// enough that any record it lacks is inside the log's dedupe window,
    /// and holding no candidate for `id`? Catches the index up when due.
    async fn index_trusted(&self, id: &Uuid) -> Result<bool, LedgerError> {
        let window = self.log.capabilities().dedupe_window;
        let (mut candidates, mut covers) = self.indexed_candidates(id).await;
        let age = |c: Option<Instant>| c.map(|t| t.elapsed());
        let trusted = |a: Option<Duration>| a.is_some_and(|a| a < window / 2);
        let due = !trusted(age(covers))
            || age(covers).is_some_and(|a| a >= INDEX_REFRESH.min(window / 4));
        // One command at a time pays for a due catch-up while the index is
        // still trusted; when it is not, every command waits for its own.
        if due && (!trusted(age(covers)) || !self.index_refreshing.swap(true, Ordering::AcqRel)) {
            let _flag = Refreshing(&self.index_refreshing);
            let asked = Instant::now();
            let head = self.log.head().await?;
            self.catch_up_index(head, asked).await?;
            (candidates, covers) = self.indexed_candidates(id).await;
            if window.is_zero() {
                // No dedupe window: the index is exact up to `asked`.
                return Ok(candidates.is_empty());
            }
        }
        Ok(candidates.is_empty() && trusted(age(covers)))
    }

    /// The decision context of the tenant's calendar as this ledger keeps
    /// it, checked against the log unless known current within the
    /// calendar staleness; `None` when not kept or no longer current. The
    /// check is a version request issued after this call began: this
    /// command's own where the log answers versions directly
    /// ([`perfledger_log::Capabilities::direct_versions`]), else one shared
    /// with the commands that arrived before it was sent (`calendar_check`).
    async fn current_calendar(&self, tenant: &Tenant) -> Result<Option<Context>, LedgerError> {
        let arrived = Instant::now();
        let key = (
            EntityKind::Calendar,
            entity_id(tenant, EntityKind::Calendar, CALENDAR_KEY),
        );
        let Some((calendar, current_at)) = self.states.lock().await.get(&key) else {
            return Ok(None);
        };
        if current_at.elapsed() >= self.calendar_staleness && current_at <= arrived {
            let subject = subject_for(&self.prefix, tenant, key.0, key.1)?;
            // Asked after `arrived` either way: by this command itself
            // where the log answers directly (measured faster than sharing:
            // a shared request makes later arrivals wait out the one in
            // flight), else through the shared checks.
            let version = if self.log.capabilities().direct_versions {
                self.log.subject_version(&subject).await?
            } else {
                self.calendar_checks
                    .version_since(tenant, arrived, || self.log.subject_version(&subject))
                    .await?
            };
            if version != calendar.version {
                return Ok(None);
            }
            self.states
                .lock()
                .await
                .confirm(&key, calendar.version, arrived);
        }
        Ok(Some(calendar_context(&calendar.state)))
    }
}

/// The decision context of a calendar state.
fn calendar_context(state: &AggregateState) -> Context {
    match state {
        AggregateState::Calendar(c) => Context::from_calendar(c),
        // A state keeps the kind it was created with (`new_state`); `apply`
        // never changes it, and calendars are kept under the calendar kind.
        other => panic!("a calendar entity holds a {:?} state", other.kind()),
    }
}

/// Clears the "catch-up under way" flag however the catch-up ends (a
/// gateway's timeout drops the command's future mid-read).
struct Refreshing<'a>(&'a AtomicBool);

impl Drop for Refreshing<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}
