//! Command execution for perfledger.
//!
//! The ledger turns commands into appended commits:
//!
//! 1. load the target entity (and the tenant calendar, for closed periods) by
//!    reading its subject from the log and folding it with the domain's `apply`;
//! 2. decide with the domain's pure `handle`;
//! 3. wrap the event bodies in envelopes (event id, recorded time, actor, ...),
//!    encode them as one commit and append it with the entity's expected
//!    version, using the command id as the dedupe id.
//!
//! A submission of many commands ([`Ledger::execute_batch`]) is validated in
//! full, in memory, before anything is appended: one bad command rejects the
//! whole submission and appends nothing. It is then appended all-or-nothing
//! where the log can ([`perfledger_log::Capabilities::atomic_batch`]), and
//! otherwise in order and resumably: re-running the same submission (same
//! command ids) skips what is already in the log, because every envelope
//! carries its command id.
//!
//! A version conflict (another writer got there first) is retried from a fresh
//! load, a bounded number of times, unless the caller pinned the version it
//! expects ([`Submitted::expected`]); then the conflict is returned.
//!
//! # Command ids
//!
//! A command id is used once, forever. Before deciding, the ledger looks the
//! id up in its **command-id index**, built by reading the log once and caught
//! up to the head before every full-path decision (on the one-round-trip
//! path, at least every [`INDEX_REFRESH`] and always within half the log's
//! dedupe window), so it does not depend on the log's own dedupe beyond
//! that window (JetStream forgets ids after its duplicate window). A stored
//! command with that id and the same digest
//! ([`perfledger_domain::codec::command_digest`]) on the same entity is a
//! duplicate: answered with the original sequence, nothing appended. Any
//! other command under that id is refused ([`LedgerError::CommandIdReused`]).
//! When the log itself answers `duplicate` for an append, the stored record
//! at that sequence is checked the same way.
//!
//! The index holds 16 bytes per record (a 64-bit fold of the command id and
//! the sequence) in a sorted vector plus a small B-tree of recent entries:
//! about 160 MB for 10 million records. A fold collision costs one extra
//! record read; the stored record is always the judge. A one-shot process
//! (the CLI) pays one read of the whole log on its first command.
//!
//! # Entity states between commands
//!
//! Up to [`DEFAULT_STATE_CACHE`] entity states (least recently used out;
//! [`Ledger::with_state_cache`]) are kept after each append, so a hot entity
//! is not re-read and re-folded for every command. A single command on a
//! kept entity takes the one-round-trip path (`fast`): decided against the
//! kept state and appended with its version as the expected version, the
//! log's answer being the proof that the state was current; a conflict, a
//! rejection, a command with no events or a known command id goes to the
//! full path, which uses a kept state only while the log reports its version
//! for the subject (one `subject_version` call), else loads the entity
//! again. The command-id index is then caught up every [`INDEX_REFRESH`]
//! instead of before every command, relying on the log's dedupe window for
//! the records since (see `fast`'s header).
//!
//! # Where things are
//!
//! * `state`: loading an entity, and the cache of entity states;
//! * `plan`: deciding the commands of a chunk into planned commits;
//! * `execute`: validating a submission, appending its chunks, retrying
//!   version races;
//! * `fast`: one command in one append on a kept state, or handed back;
//! * `calendar_check`: calendar version requests shared by concurrent
//!   commands, each issued after the commands it serves arrived;
//! * `command_ids`: the command-id index and the duplicate/reuse judgement;
//! * `sources`: the injected clock and id source;
//! * `error`: [`LedgerError`].

#![forbid(unsafe_code)]

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use futures::lock::Mutex;
use perfledger_domain::{CommandEnvelope, EntityKind, Envelope, Tenant, Timestamp};
use perfledger_log::{EventLog, LogError, Seq, Subject};
use uuid::Uuid;

mod calendar_check;
mod command_ids;
mod error;
mod execute;
mod fast;
mod plan;
mod sources;
mod state;

use calendar_check::CalendarChecks;
use command_ids::CommandIndex;
use state::StateCache;

pub use command_ids::{reused_command_ids, CommandIdCheck, CommandIdThread, ReusedCommandId};
pub use error::LedgerError;
pub use fast::INDEX_REFRESH;
pub use sources::{Clock, FixedClock, IdSource, SystemClock, V7Ids};
pub use state::{Loaded, DEFAULT_STATE_CACHE};

/// How many times a submission is re-validated after losing a version race.
pub const DEFAULT_CONFLICT_RETRIES: u32 = 5;

/// One command as submitted, with what the caller pins about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The command.
    pub command: CommandEnvelope,
    /// The recorded time to stamp (historical imports); `None` = the clock.
    /// A given time must not be earlier than the log's latest record, so the
    /// log's recorded times stay a prefix order and as-of queries stay exact.
    pub recorded_at: Option<Timestamp>,
    /// The entity version the caller expects (optimistic concurrency from a
    /// client that read the state); `None` = retry conflicts automatically.
    pub expected: Option<Seq>,
}

impl Submitted {
    /// A command stamped by the clock, with automatic conflict retry.
    pub fn new(command: CommandEnvelope) -> Self {
        Submitted {
            command,
            recorded_at: None,
            expected: None,
        }
    }

    /// The same, stamped with a given recorded time.
    pub fn at(command: CommandEnvelope, recorded_at: Timestamp) -> Self {
        Submitted {
            command,
            recorded_at: Some(recorded_at),
            expected: None,
        }
    }
}

/// What one command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// The sequence of the commit holding the command's events (for a
    /// duplicate, the original's).
    pub seq: Seq,
    /// The command id had been applied already: nothing new was appended.
    pub duplicate: bool,
    /// The events appended (empty for a duplicate).
    pub events: Vec<Envelope>,
}

/// The subject of an entity's records.
pub fn subject_for(
    prefix: &str,
    tenant: &Tenant,
    kind: EntityKind,
    id: Uuid,
) -> Result<Subject, LogError> {
    Subject::entity(prefix, tenant.as_str(), kind.token(), id)
}

/// Executes commands against an event log.
pub struct Ledger<L> {
    log: Arc<L>,
    prefix: String,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    conflict_retries: u32,
    max_batch: usize,
    index: Arc<Mutex<CommandIndex>>,
    /// A catch-up of the index to the head is under way (fast path).
    index_refreshing: Arc<AtomicBool>,
    states: Arc<Mutex<StateCache>>,
    states_capacity: usize,
    calendar_staleness: Duration,
    /// Calendar version requests shared by concurrent commands (fast path).
    calendar_checks: Arc<CalendarChecks>,
    fast_path: bool,
}

impl<L> Clone for Ledger<L> {
    fn clone(&self) -> Self {
        Ledger {
            log: self.log.clone(),
            prefix: self.prefix.clone(),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            conflict_retries: self.conflict_retries,
            max_batch: self.max_batch,
            index: self.index.clone(),
            index_refreshing: self.index_refreshing.clone(),
            states: self.states.clone(),
            states_capacity: self.states_capacity,
            calendar_staleness: self.calendar_staleness,
            calendar_checks: self.calendar_checks.clone(),
            fast_path: self.fast_path,
        }
    }
}

impl<L: EventLog> Ledger<L> {
    /// A ledger over `log`, with subjects under `prefix` (default `pl`).
    pub fn new(log: Arc<L>, prefix: impl Into<String>) -> Self {
        Ledger {
            log,
            prefix: prefix.into(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(V7Ids),
            conflict_retries: DEFAULT_CONFLICT_RETRIES,
            max_batch: usize::MAX,
            index: Arc::new(Mutex::new(CommandIndex::default())),
            index_refreshing: Arc::new(AtomicBool::new(false)),
            states: Arc::new(Mutex::new(StateCache::with_capacity(DEFAULT_STATE_CACHE))),
            states_capacity: DEFAULT_STATE_CACHE,
            calendar_staleness: Duration::ZERO,
            calendar_checks: Arc::new(CalendarChecks::default()),
            fast_path: true,
        }
    }

    /// Keep at most `entities` entity states between commands (0 = none;
    /// default [`DEFAULT_STATE_CACHE`]).
    pub fn with_state_cache(self, entities: usize) -> Self {
        Ledger {
            states: Arc::new(Mutex::new(StateCache::with_capacity(entities))),
            states_capacity: entities,
            ..self
        }
    }

    /// Decide commands against a tenant calendar known current within
    /// `staleness` without asking the log for its version again (default
    /// zero: asked after every command arrives, one request shared by the
    /// commands that arrived before it was sent). A period another process
    /// closed less than `staleness` ago may then still take results here;
    /// the entity's own version is checked by every append regardless.
    pub fn with_calendar_staleness(mut self, staleness: Duration) -> Self {
        self.calendar_staleness = staleness;
        self
    }

    /// Whether a single command on a kept entity may take the
    /// one-round-trip path (default true). Off, every command takes the
    /// full path: the entity's version asked for, the command-id index caught
    /// up to the head, then the append (as before issue #12; the load
    /// example compares the two).
    pub fn with_fast_path(mut self, on: bool) -> Self {
        self.fast_path = on;
        self
    }

    /// Use another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Use another source of event ids (default [`V7Ids`]).
    pub fn with_ids(mut self, ids: Arc<dyn IdSource>) -> Self {
        self.ids = ids;
        self
    }

    /// Largest number of commits appended in one log batch (the log's own
    /// limit, [`perfledger_log::Capabilities::max_batch`], applies too).
    /// Submissions larger than this are validated in full, then appended in
    /// chunks, each all-or-nothing where the log is atomic.
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    /// The log.
    pub fn log(&self) -> &Arc<L> {
        &self.log
    }

    /// The subject prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The id source: front ends minting command or correlation ids for
    /// this ledger take them here, so a test that injects one pins those too.
    pub fn ids(&self) -> &Arc<dyn IdSource> {
        &self.ids
    }
}
