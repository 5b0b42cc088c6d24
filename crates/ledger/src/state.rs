//! Entity state: loading an entity from the log, and the cache of states
//! kept between commands.
//!
//! Invariant: a state is the fold of every record of the entity's subject,
//! in sequence order, and its version is the sequence of the last one. A
//! record delivered twice or out of place refuses the load (a wrong state
//! would be decided on). A cached state is used only while the log still
//! reports its version for the subject; the append's expected version
//! guards the race after that check.

use std::collections::BTreeMap;
use std::time::Instant;

use perfledger_domain::{apply, decode_commit, new_state, AggregateState, EntityKind, Tenant};
use perfledger_log::{EventLog, LogError, Seq};
use uuid::Uuid;

use crate::{subject_for, Ledger, LedgerError};

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

/// Default number of entity states the ledger keeps between commands.
pub const DEFAULT_STATE_CACHE: usize = 4096;

/// Entity states kept between commands (issue #14 item 9: a hot entity's
/// history was re-read for every command). Bounded, least recently used out.
/// Each entry remembers when it was last known current (loaded, checked
/// against the log's version of its subject, or written by this ledger).
/// The full path uses an entry only when the log still reports its version
/// for the subject; the one-round-trip path (`fast`) decides on it directly
/// and lets the append's expected version judge. A state never replaces a
/// newer one (a slow writer finishing late must not bring back an old
/// version).
#[derive(Default)]
pub(crate) struct StateCache {
    capacity: usize,
    tick: u64,
    entries: BTreeMap<(EntityKind, Uuid), Cached>,
}

struct Cached {
    loaded: Loaded,
    used: u64,
    /// When the state was last known to be the entity's current one.
    current_at: Instant,
}

impl StateCache {
    /// An empty cache keeping at most `capacity` states (0 = none).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        StateCache {
            capacity,
            ..StateCache::default()
        }
    }

    /// A copy of the state, and when it was last known current.
    pub(crate) fn get(&mut self, key: &(EntityKind, Uuid)) -> Option<(Loaded, Instant)> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(key).map(|c| {
            c.used = tick;
            (c.loaded.clone(), c.current_at)
        })
    }

    /// Whether a state is kept for `key` (no copy, no change of its use).
    pub(crate) fn contains(&self, key: &(EntityKind, Uuid)) -> bool {
        self.entries.contains_key(key)
    }

    /// The state itself, out of the cache (no copy of its command ids); the
    /// caller puts it back, or a newer one, or leaves it out.
    pub(crate) fn take(&mut self, key: &(EntityKind, Uuid)) -> Option<(Loaded, Instant)> {
        self.entries.remove(key).map(|c| (c.loaded, c.current_at))
    }

    /// Keep `loaded`, known current at `current_at`, unless a newer version
    /// is kept already.
    pub(crate) fn put_at(&mut self, key: (EntityKind, Uuid), loaded: Loaded, current_at: Instant) {
        if self.capacity == 0 {
            return;
        }
        if let Some(c) = self.entries.get(&key) {
            if c.loaded.version > loaded.version {
                return;
            }
        }
        self.tick += 1;
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, c)| c.used)
                .map(|(k, _)| *k)
            {
                self.entries.remove(&oldest);
            }
        }
        let used = self.tick;
        self.entries.insert(
            key,
            Cached {
                loaded,
                used,
                current_at,
            },
        );
    }

    /// The log confirmed `version` as the entity's current one at `at`.
    pub(crate) fn confirm(&mut self, key: &(EntityKind, Uuid), version: Seq, at: Instant) {
        if let Some(c) = self.entries.get_mut(key) {
            if c.loaded.version == version && c.current_at < at {
                c.current_at = at;
            }
        }
    }

    pub(crate) fn remove(&mut self, key: &(EntityKind, Uuid)) {
        self.entries.remove(key);
    }
}

impl<L: EventLog> Ledger<L> {
    /// An entity's state from the cache when the log still reports the
    /// cached version for its subject, else loaded from the log.
    pub(crate) async fn load_cached(
        &self,
        tenant: &Tenant,
        kind: EntityKind,
        id: Uuid,
    ) -> Result<Loaded, LedgerError> {
        let cached = self.states.lock().await.get(&(kind, id));
        if let Some((c, _)) = cached {
            let subject = subject_for(&self.prefix, tenant, kind, id)?;
            let asked = Instant::now();
            if self.log.subject_version(&subject).await? == c.version {
                self.states
                    .lock()
                    .await
                    .confirm(&(kind, id), c.version, asked);
                return Ok(c);
            }
        }
        let asked = Instant::now();
        let loaded = self.load(tenant, kind, id).await?;
        self.states
            .lock()
            .await
            .put_at((kind, id), loaded.clone(), asked);
        Ok(loaded)
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
}
