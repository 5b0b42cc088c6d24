//! Planning: deciding the commands of one chunk into commits.
//!
//! Invariant: a plan decides every command of the chunk, in submission
//! order, against the entity states as of one head (loaded, or cached and
//! verified), each command seeing what the earlier commands of the chunk
//! did; it yields exactly one step per command. It predicts the sequence
//! each commit will get (head + 1, head + 2, ...) and makes it the expected
//! version of the entity's next write, so a plan the log accepts is the
//! plan that was decided. A caller-given recorded time never precedes the
//! latest one in the log or earlier in the chunk. Nothing is appended here.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::time::Instant;

use futures::StreamExt;

use perfledger_domain::command::CALENDAR_KEY;
use perfledger_domain::event::build_envelopes;
use perfledger_domain::{
    apply, command_digest, encode_commit, entity_id, handle, AggregateState, CommandEnvelope,
    Context, EntityKind, Envelope, EventBody, Tenant, Timestamp,
};
use perfledger_log::{Commit, EventLog, Expected, LogError, Seq, Until};
use uuid::Uuid;

use crate::error::about;
use crate::{subject_for, Executed, Ledger, LedgerError, Loaded, Submitted};

/// The decided chunk.
pub(crate) struct Plan {
    /// One step per command, in submission order.
    pub(crate) steps: Vec<Step>,
    /// Every entity the plan loaded, with the planned commits applied.
    pub(crate) states: BTreeMap<(EntityKind, Uuid), Loaded>,
}

/// What one command comes to.
pub(crate) enum Step {
    /// Nothing to append: a duplicate, or a command producing no events.
    Done(Executed),
    /// One commit to append.
    Append {
        index: usize,
        key: (EntityKind, Uuid),
        command: &'static str,
        commit: Commit,
        events: Vec<Envelope>,
    },
}

/// What planning carries from one command of the chunk to the next.
struct Planning {
    /// The log's head when planning began.
    head: Seq,
    /// When it was asked for.
    head_asked: Instant,
    /// The latest recorded time: the log's, then the chunk's so far.
    latest: Timestamp,
    /// The sequence the next planned commit will get.
    next_seq: Seq,
    /// Every entity loaded so far, with the planned commits applied.
    states: BTreeMap<(EntityKind, Uuid), Loaded>,
}

impl<L: EventLog> Ledger<L> {
    /// Decide every command of `items[start..end]` against freshly loaded
    /// state, predicting the sequence each commit will get.
    pub(crate) async fn plan(
        &self,
        items: &[Submitted],
        start: usize,
        end: Option<usize>,
    ) -> Result<Plan, LedgerError> {
        let end = end.unwrap_or(items.len());
        let head_asked = Instant::now();
        let head = self.log.head().await?;
        let latest = if items[start..end].iter().any(|i| i.recorded_at.is_some()) {
            self.recorded_at_of(head).await?
        } else {
            Timestamp(i64::MIN)
        };
        let mut p = Planning {
            head,
            head_asked,
            latest,
            next_seq: head + 1,
            states: BTreeMap::new(),
        };
        let mut steps = Vec::with_capacity(end - start);
        for (index, item) in items.iter().enumerate().take(end).skip(start) {
            steps.push(self.plan_command(&mut p, index, item).await?);
        }
        Ok(Plan {
            steps,
            states: p.states,
        })
    }

    /// Decide one command against the states planned so far.
    async fn plan_command(
        &self,
        p: &mut Planning,
        index: usize,
        item: &Submitted,
    ) -> Result<Step, LedgerError> {
        let cmd = &item.command;
        let tenant = &cmd.tenant;
        let name = cmd.command.name();
        let (kind, id) = cmd.command.entity(tenant);
        let ctx = self.load_for(p, tenant, kind, id).await?;
        let digest = command_digest(cmd).map_err(|source| LedgerError::Encode {
            index,
            command: name,
            source,
        })?;
        // The entity may have been loaded past the head the index is caught
        // up to (a re-sent command racing its original): its own record of
        // the id is a candidate too. Only stored commits are there: a
        // submission's planned commits carry its other, distinct ids.
        let on_entity = p
            .states
            .get(&(kind, id))
            .and_then(|e| e.commands.get(&cmd.command_id).copied());
        if let Some(seq) = self
            .applied(index, cmd, &digest, (p.head, p.head_asked), on_entity)
            .await?
        {
            return Ok(Step::Done(Executed {
                seq,
                duplicate: true,
                events: Vec::new(),
            }));
        }
        let entity = p
            .states
            .get_mut(&(kind, id))
            .expect("load_for loads the command's entity into the plan");
        if let Some(expected) = item.expected {
            if expected != entity.version {
                return Err(LedgerError::Conflict {
                    index,
                    command: name,
                    subject: subject_for(&self.prefix, tenant, kind, id)?.to_string(),
                    expected,
                    current: entity.version,
                });
            }
        }
        // The command is decided as of its recorded time: the claimed
        // one for a migrated record, else the ledger's clock.
        let clock_now = self.clock.now();
        let decided_at = item.recorded_at.unwrap_or(clock_now.max(p.latest));
        let bodies = handle(&entity.state, cmd, &ctx.at(decided_at)).map_err(|source| {
            LedgerError::Rejected {
                index,
                command: name,
                about: about(&cmd.command),
                source,
            }
        })?;
        let (recorded_at, migrated_at) = stamp(index, item.recorded_at, clock_now, p.latest)?;
        p.latest = recorded_at;
        if bodies.is_empty() {
            return Ok(Step::Done(Executed {
                seq: entity.version,
                duplicate: false,
                events: Vec::new(),
            }));
        }
        self.append_step(p, index, cmd, bodies, recorded_at, migrated_at)
    }

    /// The commit of a command that produced events: its envelopes (ids
    /// from the id source) applied to the planned state, expecting the
    /// entity's planned version, at the next predicted sequence.
    fn append_step(
        &self,
        p: &mut Planning,
        index: usize,
        cmd: &CommandEnvelope,
        bodies: Vec<EventBody>,
        recorded_at: Timestamp,
        migrated_at: Option<Timestamp>,
    ) -> Result<Step, LedgerError> {
        let tenant = &cmd.tenant;
        let name = cmd.command.name();
        let (kind, id) = cmd.command.entity(tenant);
        let entity = p
            .states
            .get_mut(&(kind, id))
            .expect("load_for loads the command's entity into the plan");
        let event_ids: Vec<Uuid> = bodies.iter().map(|_| self.ids.next_id()).collect();
        let envelopes = build_envelopes(cmd, bodies, &event_ids, recorded_at, migrated_at)
            .map_err(|source| LedgerError::Rejected {
                index,
                command: name,
                about: about(&cmd.command),
                source,
            })?;
        let payload = encode_commit(&envelopes).map_err(|source| LedgerError::Encode {
            index,
            command: name,
            source,
        })?;
        for e in &envelopes {
            apply(&mut entity.state, e);
        }
        let expected = if entity.version == 0 {
            Expected::Empty
        } else {
            Expected::At(entity.version)
        };
        entity.version = p.next_seq;
        entity.commands.insert(cmd.command_id, p.next_seq);
        p.next_seq += 1;
        Ok(Step::Append {
            index,
            key: (kind, id),
            command: name,
            commit: Commit {
                subject: subject_for(&self.prefix, tenant, kind, id)?,
                expected,
                msg_id: cmd.command_id,
                recorded_at: recorded_at.0,
                payload: payload.into(),
            },
            events: envelopes,
        })
    }

    /// Load (once per plan) the tenant's calendar and the command's entity,
    /// and give the decision context of the calendar as planned so far.
    async fn load_for(
        &self,
        p: &mut Planning,
        tenant: &Tenant,
        kind: EntityKind,
        id: Uuid,
    ) -> Result<Context, LedgerError> {
        let calendar_id = entity_id(tenant, EntityKind::Calendar, CALENDAR_KEY);
        for key in [(EntityKind::Calendar, calendar_id), (kind, id)] {
            if let Entry::Vacant(slot) = p.states.entry(key) {
                slot.insert(self.load_cached(tenant, key.0, key.1).await?);
            }
        }
        match &p.states[&(EntityKind::Calendar, calendar_id)].state {
            AggregateState::Calendar(c) => Ok(Context::from_calendar(c)),
            // A state keeps the kind it was created with (`new_state`);
            // `apply` never changes it.
            other => panic!(
                "the calendar entity {calendar_id} holds a {:?} state",
                other.kind()
            ),
        }
    }

    /// The recorded time of the record at `seq` (the minimum for an empty log).
    pub(crate) async fn recorded_at_of(&self, seq: Seq) -> Result<Timestamp, LedgerError> {
        if seq == 0 {
            return Ok(Timestamp(i64::MIN));
        }
        let mut s = self.log.read(seq, Until::Seq(seq));
        // The record exists (the log only grows): a read that does not
        // deliver exactly it must not let a backdated command through.
        match s.next().await {
            Some(r) => {
                let r = r?;
                if r.seq != seq {
                    return Err(LogError::Gap {
                        expected: seq,
                        got: r.seq,
                    }
                    .into());
                }
                Ok(Timestamp(r.recorded_at))
            }
            None => Err(LogError::Gap {
                expected: seq,
                got: 0,
            }
            .into()),
        }
    }
}

/// The recorded time of a command, and its `migrated_at`: a caller-given
/// (historical) time keeps the claimed time in `recorded_at` and the
/// ledger's clock beside it as `migrated_at`; it must not precede `latest`.
/// Without one, the clock, never earlier than `latest`.
fn stamp(
    index: usize,
    given: Option<Timestamp>,
    clock_now: Timestamp,
    latest: Timestamp,
) -> Result<(Timestamp, Option<Timestamp>), LedgerError> {
    match given {
        Some(given) if given < latest => Err(LedgerError::Backdated {
            index,
            given,
            latest,
        }),
        Some(given) => Ok((given, Some(clock_now))),
        None => Ok((clock_now.max(latest), None)),
    }
}
