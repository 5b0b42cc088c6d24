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
//! up to the head before every decision, so it does not depend on the log's
//! own dedupe (JetStream forgets ids after its duplicate window). A stored
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
//! is not re-read and re-folded for every command. A cached state is used
//! only while the log reports its version for the subject (one
//! `subject_version` call); otherwise the entity is loaded again. The
//! append's expected version covers the race after that check.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::lock::Mutex;

use futures::StreamExt;
use perfledger_domain::command::CALENDAR_KEY;
use perfledger_domain::event::build_envelopes;
use perfledger_domain::{
    apply, command_digest, decode_commit, encode_commit, entity_id, handle, new_state,
    AggregateState, CodecError, CommandEnvelope, Context, DomainError, EntityKind, EntityRef,
    Envelope, Tenant, Timestamp,
};
use perfledger_log::{Commit, EventLog, Expected, LogError, Seq, Subject, Until};
use uuid::Uuid;

/// How many times a submission is re-validated after losing a version race.
pub const DEFAULT_CONFLICT_RETRIES: u32 = 5;

/// A source of recorded times. Only the ledger reads the clock; the domain
/// and the projections never do.
pub trait Clock: Send + Sync {
    /// Now, in ms since the Unix epoch (UTC).
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(ms)
    }
}

/// A clock that always answers the same instant (tests, reproducible demos).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

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

/// Errors from executing commands. Indexes are positions in the submission.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("command #{index} ({command}) rejected: {source}")]
    Rejected {
        index: usize,
        command: &'static str,
        #[source]
        source: DomainError,
    },
    #[error("command #{index} ({command}): version conflict on {subject}: expected {expected}, current version is {current}")]
    Conflict {
        index: usize,
        command: &'static str,
        subject: String,
        expected: Seq,
        current: Seq,
    },
    #[error("command #{index}: recorded time {given} is earlier than the latest recorded time in the log ({latest}); history can only be appended at the head")]
    Backdated {
        index: usize,
        given: Timestamp,
        latest: Timestamp,
    },
    #[error("command #{index}: command id {command_id} appears twice in one submission")]
    DuplicateCommandId { index: usize, command_id: Uuid },
    /// The command id was already used by a *different* command (another
    /// body, entity or tenant) at `original_seq`: nothing was appended. A
    /// re-sent identical command is a duplicate instead, never this error.
    #[error("command #{index} ({command}): command id {command_id} was already used by a different command, stored at sequence {original_seq}; a new command needs a new command id")]
    CommandIdReused {
        index: usize,
        command: &'static str,
        command_id: Uuid,
        original_seq: Seq,
    },
    #[error("stored record {seq} cannot be decoded: {source}")]
    Undecodable {
        seq: Seq,
        #[source]
        source: CodecError,
    },
    #[error("command #{index} ({command}): cannot encode its events: {source}")]
    Encode {
        index: usize,
        command: &'static str,
        #[source]
        source: CodecError,
    },
    #[error("gave up after {attempts} attempts lost version races to other writers")]
    TooManyConflicts { attempts: u32 },
    #[error(transparent)]
    Log(#[from] LogError),
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

/// An entity as loaded from the log.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Its state after every stored event.
    pub state: AggregateState,
    /// Its version: the sequence of its last record (0 = none).
    pub version: Seq,
    /// Every command id already applied to it, with the commit's sequence.
    pub commands: BTreeMap<Uuid, Seq>,
}

/// Where a command id was used: sequence -> locator of records by a 64-bit
/// fold of their msg id (= command id for ledger commits). A locator, not a
/// judge: every hit is checked against the stored record.
#[derive(Debug, Default)]
struct CommandIndex {
    /// Records 1..=indexed_to are in the index.
    indexed_to: Seq,
    /// Sorted (fold, seq) pairs.
    base: Vec<(u64, Seq)>,
    /// Entries added since the last merge into `base`.
    recent: BTreeSet<(u64, Seq)>,
}

impl CommandIndex {
    fn fold(id: &Uuid) -> u64 {
        let (hi, lo) = id.as_u64_pair();
        hi ^ lo
    }

    fn insert(&mut self, id: &Uuid, seq: Seq) {
        self.recent.insert((Self::fold(id), seq));
        if self.recent.len() > 4096.max(self.base.len() / 8) {
            let recent = std::mem::take(&mut self.recent);
            self.base.extend(recent);
            self.base.sort_unstable();
        }
    }

    /// Sequences of records whose msg id folds like `id`, in order.
    fn candidates(&self, id: &Uuid) -> Vec<Seq> {
        let k = Self::fold(id);
        let from = self.base.partition_point(|&(f, _)| f < k);
        let mut out: Vec<Seq> = self.base[from..]
            .iter()
            .take_while(|&&(f, _)| f == k)
            .map(|&(_, s)| s)
            .chain(self.recent.range((k, 0)..=(k, Seq::MAX)).map(|&(_, s)| s))
            .collect();
        out.sort_unstable();
        out
    }
}

/// Default number of entity states the ledger keeps between commands.
pub const DEFAULT_STATE_CACHE: usize = 4096;

/// Entity states kept between commands (issue #14 item 9: a hot entity's
/// history was re-read for every command). Bounded, least recently used out.
/// An entry is used only when the log still reports its version for the
/// subject (one `subject_version` call instead of reading the history), and
/// the append's expected version guards the race after that check.
#[derive(Default)]
struct StateCache {
    capacity: usize,
    tick: u64,
    entries: BTreeMap<(EntityKind, Uuid), (Loaded, u64)>,
}

impl StateCache {
    fn get(&mut self, key: &(EntityKind, Uuid)) -> Option<Loaded> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(key).map(|(l, t)| {
            *t = tick;
            l.clone()
        })
    }

    fn put(&mut self, key: (EntityKind, Uuid), loaded: Loaded) {
        if self.capacity == 0 {
            return;
        }
        self.tick += 1;
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| *k)
            {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, (loaded, self.tick));
    }

    fn remove(&mut self, key: &(EntityKind, Uuid)) {
        self.entries.remove(key);
    }
}

/// Executes commands against an event log.
pub struct Ledger<L> {
    log: Arc<L>,
    prefix: String,
    clock: Arc<dyn Clock>,
    conflict_retries: u32,
    max_batch: usize,
    index: Arc<Mutex<CommandIndex>>,
    states: Arc<Mutex<StateCache>>,
}

impl<L> Clone for Ledger<L> {
    fn clone(&self) -> Self {
        Ledger {
            log: self.log.clone(),
            prefix: self.prefix.clone(),
            clock: self.clock.clone(),
            conflict_retries: self.conflict_retries,
            max_batch: self.max_batch,
            index: self.index.clone(),
            states: self.states.clone(),
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
            conflict_retries: DEFAULT_CONFLICT_RETRIES,
            max_batch: usize::MAX,
            index: Arc::new(Mutex::new(CommandIndex::default())),
            states: Arc::new(Mutex::new(StateCache {
                capacity: DEFAULT_STATE_CACHE,
                ..StateCache::default()
            })),
        }
    }

    /// Keep at most `entities` entity states between commands (0 = none;
    /// default [`DEFAULT_STATE_CACHE`]).
    pub fn with_state_cache(self, entities: usize) -> Self {
        Ledger {
            states: Arc::new(Mutex::new(StateCache {
                capacity: entities,
                ..StateCache::default()
            })),
            ..self
        }
    }

    /// An entity's state from the cache when the log still reports the
    /// cached version for its subject, else loaded from the log.
    async fn load_cached(
        &self,
        tenant: &Tenant,
        kind: EntityKind,
        id: Uuid,
    ) -> Result<Loaded, LedgerError> {
        let cached = self.states.lock().await.get(&(kind, id));
        if let Some(c) = cached {
            let subject = subject_for(&self.prefix, tenant, kind, id)?;
            if self.log.subject_version(&subject).await? == c.version {
                return Ok(c);
            }
        }
        let loaded = self.load(tenant, kind, id).await?;
        self.states.lock().await.put((kind, id), loaded.clone());
        Ok(loaded)
    }

    /// Use another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
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

    /// Load one entity by folding its records.
    pub async fn load(
        &self,
        tenant: &Tenant,
        kind: EntityKind,
        id: Uuid,
    ) -> Result<Loaded, LedgerError> {
        let subject = subject_for(&self.prefix, tenant, kind, id)?;
        let records = self.log.read_subject(&subject).await?;
        let mut loaded = Loaded {
            state: new_state(kind),
            version: 0,
            commands: BTreeMap::new(),
        };
        for r in records {
            // A subject's records come in rising sequence order. One
            // delivered twice or out of place would fold a wrong state and
            // version: refuse the load (the caller may retry).
            if r.seq <= loaded.version {
                return Err(LogError::Gap {
                    expected: loaded.version + 1,
                    got: r.seq,
                }
                .into());
            }
            let events = decode_commit(&r.payload)
                .map_err(|source| LedgerError::Undecodable { seq: r.seq, source })?;
            for e in &events {
                apply(&mut loaded.state, e);
                loaded.commands.insert(e.command_id, r.seq);
            }
            loaded.version = r.seq;
        }
        Ok(loaded)
    }

    /// Execute one command.
    pub async fn execute(&self, item: Submitted) -> Result<Executed, LedgerError> {
        let mut out = self.execute_batch(vec![item], |_, _| {}).await?;
        Ok(out.remove(0))
    }

    /// Execute a submission: validate every command first (nothing is
    /// appended if any is rejected), then append. `progress(done, total)` is
    /// called after each appended chunk.
    pub async fn execute_batch(
        &self,
        items: Vec<Submitted>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Vec<Executed>, LedgerError> {
        let total = items.len();
        let chunk = self.max_batch.min(self.log.capabilities().max_batch.max(1));
        let mut seen = BTreeSet::new();
        for (index, item) in items.iter().enumerate() {
            // The nil UUID names nothing: as a command id every writer that
            // forgot to set one would share it (the codec refuses it too).
            for (field, id) in [
                ("command_id", item.command.command_id),
                ("correlation_id", item.command.correlation_id),
            ] {
                if id.is_nil() {
                    return Err(LedgerError::Rejected {
                        index,
                        command: item.command.command.name(),
                        source: DomainError::Invalid {
                            field,
                            value: id.to_string(),
                            reason: "the nil UUID is not an id; give a real one (uuid v7 or v5)",
                        },
                    });
                }
            }
            if !seen.insert(item.command.command_id) {
                return Err(LedgerError::DuplicateCommandId {
                    index,
                    command_id: item.command.command_id,
                });
            }
        }
        if total > chunk {
            // Appended in several chunks: validate all of it before any chunk.
            self.plan(&items, 0, None).await?;
        }
        let mut out = Vec::with_capacity(total);
        let mut start = 0;
        while start < total {
            let end = (start + chunk).min(total);
            out.extend(self.execute_chunk(&items, start, end).await?);
            progress(end, total);
            start = end;
        }
        Ok(out)
    }

    async fn execute_chunk(
        &self,
        items: &[Submitted],
        start: usize,
        end: usize,
    ) -> Result<Vec<Executed>, LedgerError> {
        let pinned = items[start..end].iter().any(|i| i.expected.is_some());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let plan = self.plan(items, start, Some(end)).await?;
            match self.append_plan(plan).await {
                Ok(done) => return Ok(done),
                Err(AppendFailure::Conflict {
                    index,
                    subject,
                    expected,
                    current,
                }) => {
                    tracing::debug!(index, %subject, current, attempt, "version conflict");
                    if pinned {
                        return Err(LedgerError::Conflict {
                            index,
                            command: items[index].command.command.name(),
                            subject,
                            expected,
                            current,
                        });
                    }
                    if attempt > self.conflict_retries {
                        return Err(LedgerError::TooManyConflicts { attempts: attempt });
                    }
                }
                Err(AppendFailure::Other(e)) => return Err(e),
            }
        }
    }

    /// Decide every command of `items[start..end]` against freshly loaded
    /// state, predicting the sequence each commit will get.
    async fn plan(
        &self,
        items: &[Submitted],
        start: usize,
        end: Option<usize>,
    ) -> Result<Plan, LedgerError> {
        let end = end.unwrap_or(items.len());
        let head = self.log.head().await?;
        let mut latest = if items[start..end].iter().any(|i| i.recorded_at.is_some()) {
            self.recorded_at_of(head).await?
        } else {
            Timestamp(i64::MIN)
        };
        let mut cache: BTreeMap<(EntityKind, Uuid), Loaded> = BTreeMap::new();
        let mut plan = Plan {
            steps: Vec::with_capacity(end - start),
            states: BTreeMap::new(),
        };
        let mut next_seq = head + 1;
        for (index, item) in items.iter().enumerate().take(end).skip(start) {
            let cmd = &item.command;
            let tenant = &cmd.tenant;
            let name = cmd.command.name();
            let (kind, id) = cmd.command.entity(tenant);
            let calendar_id = entity_id(tenant, EntityKind::Calendar, CALENDAR_KEY);
            for key in [(EntityKind::Calendar, calendar_id), (kind, id)] {
                if let std::collections::btree_map::Entry::Vacant(slot) = cache.entry(key) {
                    slot.insert(self.load_cached(tenant, key.0, key.1).await?);
                }
            }
            let ctx = match cache.get(&(EntityKind::Calendar, calendar_id)) {
                Some(Loaded {
                    state: AggregateState::Calendar(c),
                    ..
                }) => Context::from_calendar(c),
                _ => Context::default(),
            };
            let Some(entity) = cache.get_mut(&(kind, id)) else {
                continue;
            };
            let digest = command_digest(cmd).map_err(|source| LedgerError::Encode {
                index,
                command: name,
                source,
            })?;
            if let Some(seq) = self.applied(index, cmd, &digest, head).await? {
                plan.steps.push(Step::Done(Executed {
                    seq,
                    duplicate: true,
                    events: Vec::new(),
                }));
                continue;
            }
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
            let decided_at = item.recorded_at.unwrap_or(clock_now.max(latest));
            let bodies = handle(&entity.state, cmd, &ctx.at(decided_at)).map_err(|source| {
                LedgerError::Rejected {
                    index,
                    command: name,
                    source,
                }
            })?;
            // A caller-given (historical) recorded time keeps the claimed
            // time in `recorded_at`; the ledger's own clock at the append is
            // kept beside it as `migrated_at`.
            let (recorded_at, migrated_at) = match item.recorded_at {
                Some(given) if given < latest => {
                    return Err(LedgerError::Backdated {
                        index,
                        given,
                        latest,
                    })
                }
                Some(given) => (given, Some(clock_now)),
                None => (clock_now.max(latest), None),
            };
            latest = recorded_at;
            if bodies.is_empty() {
                plan.steps.push(Step::Done(Executed {
                    seq: entity.version,
                    duplicate: false,
                    events: Vec::new(),
                }));
                continue;
            }
            let event_ids: Vec<Uuid> = bodies.iter().map(|_| Uuid::now_v7()).collect();
            let envelopes = build_envelopes(cmd, bodies, &event_ids, recorded_at, migrated_at)
                .map_err(|source| LedgerError::Rejected {
                    index,
                    command: name,
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
            entity.version = next_seq;
            entity.commands.insert(cmd.command_id, next_seq);
            next_seq += 1;
            plan.steps.push(Step::Append {
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
            });
        }
        plan.states = cache;
        Ok(plan)
    }

    async fn append_plan(&self, plan: Plan) -> Result<Vec<Executed>, AppendFailure> {
        let commits: Vec<Commit> = plan
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Append { commit, .. } => Some(commit.clone()),
                Step::Done(_) => None,
            })
            .collect();
        let appended = if commits.is_empty() {
            Vec::new()
        } else if self.log.capabilities().atomic_batch || commits.len() == 1 {
            self.log
                .append_batch(commits)
                .await
                .map_err(|e| AppendFailure::from_log(e, &plan))?
        } else {
            let progress = self.log.append_pipelined(commits).await;
            match progress.error {
                None => progress.appended,
                Some(e) => return Err(AppendFailure::from_log(e, &plan)),
            }
        };
        let mut appended = appended.into_iter();
        let mut out = Vec::with_capacity(plan.steps.len());
        let Plan { steps, mut states } = plan;
        // entity -> its last appended sequence, or None when the log
        // answered duplicate (the planned state was not stored)
        let mut settled: BTreeMap<(EntityKind, Uuid), Option<Seq>> = BTreeMap::new();
        for step in steps {
            match step {
                Step::Done(e) => out.push(e),
                Step::Append {
                    index,
                    key,
                    command,
                    commit,
                    events,
                } => {
                    let a = appended.next().ok_or_else(|| {
                        AppendFailure::Other(LedgerError::Log(LogError::Unavailable(
                            "log acknowledged fewer commits than were sent".into(),
                        )))
                    })?;
                    if a.duplicate {
                        // The log knew the msg id: its record must be this
                        // very command on this entity, or the id was reused.
                        self.check_log_duplicate(index, command, &events[0], a.seq)
                            .await
                            .map_err(AppendFailure::Other)?;
                        settled.insert(key, None);
                    } else {
                        if let Some(Some(_)) | None = settled.get(&key) {
                            settled.insert(key, Some(a.seq));
                        }
                        if let Some(l) = states.get_mut(&key) {
                            l.commands.insert(commit.msg_id, a.seq);
                        }
                    }
                    out.push(Executed {
                        seq: a.seq,
                        duplicate: a.duplicate,
                        events: if a.duplicate { Vec::new() } else { events },
                    });
                }
            }
        }
        // Keep the post-append states for the next command (the versions
        // are the log's sequences, not the plan's predictions).
        let mut cache = self.states.lock().await;
        for (key, seq) in settled {
            match (seq, states.remove(&key)) {
                (Some(seq), Some(mut loaded)) => {
                    loaded.version = seq;
                    cache.put(key, loaded);
                }
                _ => cache.remove(&key),
            }
        }
        Ok(out)
    }

    /// Bring the command-id index up to `head` (reading only records it has
    /// not seen) and return the sequences that may hold `id`.
    async fn index_candidates(&self, id: &Uuid, head: Seq) -> Result<Vec<Seq>, LedgerError> {
        let mut idx = self.index.lock().await;
        if idx.indexed_to < head {
            let mut records = self.log.read(idx.indexed_to + 1, Until::Seq(head));
            while let Some(r) = records.next().await {
                let r = r?;
                // Delivered again: already indexed. Out of place or after a
                // missing record: refuse, or that id would never be found.
                if r.seq <= idx.indexed_to {
                    continue;
                }
                if r.seq != idx.indexed_to + 1 {
                    return Err(gap(idx.indexed_to + 1, r.seq));
                }
                idx.insert(&r.msg_id, r.seq);
                idx.indexed_to = r.seq;
            }
            if idx.indexed_to < head {
                return Err(gap(idx.indexed_to + 1, 0));
            }
        }
        Ok(idx.candidates(id))
    }

    /// The stored commit at `seq`, if it exists and is a commit of `id`.
    async fn stored_commit(&self, seq: Seq, id: &Uuid) -> Result<Option<Envelope>, LedgerError> {
        let mut s = self.log.read(seq, Until::Seq(seq));
        // `seq` is in the log (indexed, or named by the log): a read that
        // does not deliver it must not pass for "another command".
        let r = match s.next().await {
            Some(r) => r?,
            None => return Err(gap(seq, 0)),
        };
        if r.seq != seq {
            return Err(gap(seq, r.seq));
        }
        if r.subject.is_checkpoint() || r.msg_id != *id {
            return Ok(None);
        }
        let mut events = decode_commit(&r.payload)
            .map_err(|source| LedgerError::Undecodable { seq: r.seq, source })?;
        Ok(if events[0].command_id == *id {
            Some(events.swap_remove(0))
        } else {
            None
        })
    }

    /// Has this command been applied already? `Some(seq)` for a duplicate
    /// (same id, same digest, same tenant and entity), `None` for a new id,
    /// [`LedgerError::CommandIdReused`] for another command under this id.
    async fn applied(
        &self,
        index: usize,
        cmd: &CommandEnvelope,
        digest: &[u8; 32],
        head: Seq,
    ) -> Result<Option<Seq>, LedgerError> {
        for seq in self.index_candidates(&cmd.command_id, head).await? {
            if let Some(stored) = self.stored_commit(seq, &cmd.command_id).await? {
                let (kind, id) = cmd.command.entity(&cmd.tenant);
                let same = stored.tenant == cmd.tenant
                    && stored.entity == (EntityRef { kind, id })
                    // records before schema version 2 carry no digest: the
                    // entity is all that can be compared
                    && stored.command_digest.is_none_or(|d| d == *digest);
                return if same {
                    Ok(Some(seq))
                } else {
                    Err(LedgerError::CommandIdReused {
                        index,
                        command: cmd.command.name(),
                        command_id: cmd.command_id,
                        original_seq: seq,
                    })
                };
            }
        }
        Ok(None)
    }

    /// The log answered `duplicate` with `seq` for the commit whose first
    /// envelope is `ours`: accept only if the record there is this command.
    async fn check_log_duplicate(
        &self,
        index: usize,
        command: &'static str,
        ours: &Envelope,
        seq: Seq,
    ) -> Result<(), LedgerError> {
        let same = match self.stored_commit(seq, &ours.command_id).await? {
            Some(stored) => {
                stored.tenant == ours.tenant
                    && stored.entity == ours.entity
                    && stored
                        .command_digest
                        .is_none_or(|d| Some(d) == ours.command_digest)
            }
            None => false,
        };
        if same {
            Ok(())
        } else {
            Err(LedgerError::CommandIdReused {
                index,
                command,
                command_id: ours.command_id,
                original_seq: seq,
            })
        }
    }

    /// The recorded time of the record at `seq` (the minimum for an empty log).
    async fn recorded_at_of(&self, seq: Seq) -> Result<Timestamp, LedgerError> {
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

/// A read that did not deliver the record expected at `expected`.
fn gap(expected: Seq, got: Seq) -> LedgerError {
    LedgerError::Log(LogError::Gap { expected, got })
}

struct Plan {
    steps: Vec<Step>,
    /// Every entity the plan loaded, with the planned commits applied.
    states: BTreeMap<(EntityKind, Uuid), Loaded>,
}

enum Step {
    Done(Executed),
    Append {
        index: usize,
        key: (EntityKind, Uuid),
        command: &'static str,
        commit: Commit,
        events: Vec<Envelope>,
    },
}

enum AppendFailure {
    Conflict {
        index: usize,
        subject: String,
        expected: Seq,
        current: Seq,
    },
    Other(LedgerError),
}

impl AppendFailure {
    fn from_log(e: LogError, plan: &Plan) -> Self {
        match e {
            LogError::Conflict {
                subject,
                expected,
                current,
            } => {
                let index = plan
                    .steps
                    .iter()
                    .find_map(|s| match s {
                        Step::Append { index, commit, .. } if commit.subject == subject => {
                            Some(*index)
                        }
                        _ => None,
                    })
                    .unwrap_or(0);
                AppendFailure::Conflict {
                    index,
                    subject: subject.to_string(),
                    expected: match expected {
                        Expected::At(s) => s,
                        Expected::Empty | Expected::Any => 0,
                    },
                    current,
                }
            }
            other => AppendFailure::Other(LedgerError::Log(other)),
        }
    }
}

/// A command id carried by more than one stored commit: `seq` repeats the
/// command id first stored at `first_seq`. The ledger never writes this (it
/// refuses reused ids and answers re-sent commands with the original); a
/// log holding it was written around the ledger, or by a ledger from
/// before command ids were indexed while JetStream's duplicate window had
/// passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReusedCommandId {
    /// The command id.
    pub command_id: Uuid,
    /// Sequence of the first commit with this command id.
    pub first_seq: Seq,
    /// Sequence of a later commit with the same command id.
    pub seq: Seq,
}

/// Every stored commit whose command id an earlier commit already carried,
/// in log order (`perfledger verify` reports them). Reads and decodes the
/// whole log once; memory as the ledger's command-id index (16 bytes per
/// record).
pub async fn reused_command_ids<L: EventLog>(log: &L) -> Result<Vec<ReusedCommandId>, LedgerError> {
    let head = log.head().await?;
    let mut index = CommandIndex::default();
    let mut found = Vec::new();
    let mut records = log.read(1, Until::Seq(head));
    while let Some(r) = records.next().await {
        let r = r?;
        if r.subject.is_checkpoint() {
            continue;
        }
        let events = decode_commit(&r.payload)
            .map_err(|source| LedgerError::Undecodable { seq: r.seq, source })?;
        let id = events[0].command_id;
        for seq in index.candidates(&id) {
            // a fold collision is possible: the earlier record is the judge
            if command_id_at(log, seq).await? == Some(id) {
                found.push(ReusedCommandId {
                    command_id: id,
                    first_seq: seq,
                    seq: r.seq,
                });
                break;
            }
        }
        index.insert(&id, r.seq);
    }
    Ok(found)
}

/// The command id of the commit at `seq` (`None` for a checkpoint).
async fn command_id_at<L: EventLog>(log: &L, seq: Seq) -> Result<Option<Uuid>, LedgerError> {
    let mut s = log.read(seq, Until::Seq(seq));
    let Some(r) = s.next().await else {
        return Ok(None);
    };
    let r = r?;
    if r.subject.is_checkpoint() {
        return Ok(None);
    }
    let events = decode_commit(&r.payload)
        .map_err(|source| LedgerError::Undecodable { seq: r.seq, source })?;
    Ok(Some(events[0].command_id))
}
