//! perfledger-readmodel: read models of the ledger in sled.
//!
//! * [`Projector`] consumes the log (either backend, through
//!   [`perfledger_log::EventLog`]) into ONE sled tree with key prefixes per
//!   model ([`keys`] documents the layout). Each batch of writes commits with
//!   the checkpoint (last applied sequence), atomically as seen through the
//!   checkpoint (the `project` module explains how); restart resumes from the
//!   checkpoint; re-delivered records are no-ops; undecodable records and
//!   gaps stop the projector with a typed error naming the sequence.
//! * Every query is **as of** a log position ([`AsOf`]): the current view is
//!   as-of-head through the same code. Fact versions live in slots
//!   `f/{entity}/{field}/{year}`, each version (period, seq) with its
//!   record; an as-of read takes the last version with seq ≤ S by a binary
//!   search. As-of a recorded time uses the time
//!   index of running-max recorded time per sequence (the log's prefix rule).
//! * The dashboard is built by one function ([`ReadModel::dashboard`]) that
//!   gathers [`perfledger_domain::dashboard::DashboardInputs`] as of S and
//!   calls [`perfledger_domain::dashboard::compute`].
//! * Dashboards and audit trails have canonical bytes and SHA-256 digests.
//! * The committee pack ([`pack::Pack`], [`ReadModel::pack`]) gathers
//!   everything a quarterly report prints, with canonical bytes, a digest,
//!   a rules version and the log sequences behind every row.
//!
//! Memory: sled's page cache is bounded ([`CACHE_BYTES`], 64 MB).
//!
//! Tenancy: a read model belongs to ONE tenant (council), recorded in it
//! when it is created; opening it for another tenant is refused
//! ([`ReadModelError::WrongTenant`]). The projector applies only records on
//! that tenant's subjects (`{prefix}.ev.{tenant}.…`) and skips the others
//! while still advancing its checkpoint and time index by log sequence, so
//! another tenant's writes never change this tenant's views or digests.
//! Several councils on one deployment means one read model per tenant.
//! Dashboards group by unit name only.
#![forbid(unsafe_code)]

mod action_roll;
mod fact_roll;
pub mod keys;
pub mod pack;
mod project;
mod query;
pub mod render;
mod replace;
mod store;
mod versions;
pub mod views;

use std::path::Path;

use perfledger_domain::period::Period;
use perfledger_domain::{CodecError, Tenant};
use perfledger_log::{LogError, Seq};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use project::{
    Progress, Projector, SledWrite, WriteTap, BATCH_RECORDS, FLUSH_EVERY, STAGE_BYTES, WRITE_CHUNK,
};
pub use query::seal_verdict;
pub use query::{
    ActionRow, AuditTrail, CapitalRow, DashboardView, FigureDiff, FinanceView, HeatMaps,
    IndicatorRow, IndicatorSummary, IndicatorView, RevenueRow, RiskRegister, RiskRow, SavingRow,
    SealRecord, SealVerdict, UnitRow,
};
pub use replace::rebuild_beside;
pub use store::FORMAT_VERSION;

/// Sled page-cache bound (bytes), for every process that opens a read
/// model unless told otherwise (`perfledger --cache-mb`). At 10M events
/// (30 November, jemalloc) a rebuild peaked at 466 MB with 96 MB against
/// 626 MB with 256 MB, taking 13% longer (39.0 s against 34.6 s), so the
/// default went to 96 MB. On 1 December, with the rebuild no longer
/// waiting on sled's reads, 64 MB cost it nothing: 10M 27.4-29.7 s
/// against 27.7-30.0 s, alternated, peak 422-427 MB against 444-448 MB;
/// 1M 2.7-3.1 s against 2.8-3.4 s. A query service answers 1,000
/// council-wide as-of dashboards at 10M in p50 3.6-3.8 ms, p99 7.9-8.6 ms
/// (3.4 and 7.8-8.0 ms with 96 MB) holding 235 MB instead of 256 MB
/// (README, "Peak memory: freed pages back in half a second"): a
/// council-wide dashboard reads a period's figures from its fact rolls (16
/// gets a rolled field), not one slot per indicator.
pub const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Name of the single read-model tree.
pub const TREE: &str = "readmodel";

/// Errors of read-model queries and storage.
#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    /// sled failed.
    #[error("read-model storage error: {0}")]
    Storage(#[from] sled::Error),
    /// A stored value could not be decoded.
    #[error("corrupt read-model value at key {key}: {detail}")]
    Corrupt {
        /// Hex of the key.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// The read model was written by a newer release (a newer format);
    /// this one cannot read it and does not clear it.
    #[error("read model format {found} is newer than this release's {expected}: open it with the release that wrote it, or delete the read-model directory to rebuild it with this one")]
    Format {
        /// Stored format.
        found: u32,
        /// This build's format.
        expected: u32,
    },
    /// An as-of position beyond what has been projected.
    #[error("as-of sequence {requested} is beyond the read model's checkpoint {checkpoint}")]
    BeyondCheckpoint {
        /// Requested.
        requested: Seq,
        /// Checkpoint.
        checkpoint: Seq,
    },
    /// No entity of that kind with that key (as of the position).
    #[error("no {kind} named {key:?}")]
    NotFound {
        /// Entity kind token.
        kind: &'static str,
        /// Key given.
        key: String,
    },
    /// A key that names several entities.
    #[error("{key:?} names {count} {kind} entities; use the full natural key")]
    Ambiguous {
        /// Entity kind token.
        kind: &'static str,
        /// Key given.
        key: String,
        /// How many.
        count: usize,
    },
    /// The domain refused a computation (fixed-point overflow).
    #[error("dashboard computation failed: {0}")]
    Domain(#[from] perfledger_domain::DomainError),
    /// The read model belongs to another tenant than the one asked for.
    #[error("read model belongs to tenant {recorded:?}, not {requested:?}: use that tenant or another directory")]
    WrongTenant {
        /// The tenant recorded in the read model.
        recorded: String,
        /// The tenant it was opened for.
        requested: String,
    },
    /// A read-model directory could not be renamed, removed or synced
    /// (a rebuild's swap, [`rebuild_beside`]).
    #[error("cannot {action} read-model directory {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// What was being done.
        action: &'static str,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

/// Errors that stop the projector.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The log failed.
    #[error("log error: {0}")]
    Log(#[from] LogError),
    /// The read model failed.
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    /// A record's payload is not a decodable commit.
    #[error("record at sequence {seq} cannot be decoded: {source}")]
    Decode {
        /// Sequence of the record.
        seq: Seq,
        /// Why.
        #[source]
        source: CodecError,
    },
    /// An event that cannot be applied.
    #[error("event {index} of record {seq} cannot be applied: {reason}")]
    Apply {
        /// Sequence.
        seq: Seq,
        /// Index in the commit.
        index: u16,
        /// Why.
        reason: String,
    },
    /// A record fails the log's hash chain (altered, removed, reordered or
    /// inserted, as `verify` reports it): it was not applied; the records
    /// before it were.
    #[error("log record {seq} fails the hash chain: {problem}; the read model stops before it (run `perfledger verify`)")]
    Chain {
        /// The first bad sequence.
        seq: Seq,
        /// What is wrong there.
        problem: perfledger_log::integrity::Problem,
    },
    /// A sequence gap (got 0: the log ended before the expected record).
    #[error("sequence gap: expected {expected}, got {got}")]
    Gap {
        /// Next sequence expected.
        expected: Seq,
        /// Sequence received.
        got: Seq,
    },
}

impl From<sled::Error> for ProjectError {
    fn from(e: sled::Error) -> Self {
        ProjectError::ReadModel(ReadModelError::Storage(e))
    }
}

/// A position to query at: the domain's one as-of type and grammar
/// ([`perfledger_domain::asof`]), shared by the CLI, the web and the NATS
/// query service.
pub use perfledger_domain::AsOf;

/// One event in an entity's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Log sequence of the commit.
    pub seq: Seq,
    /// Index of the event in its commit.
    pub index: u16,
    /// Recorded time (ms since the Unix epoch): for a migrated record, the
    /// time it claims (when the fact was recorded in the system it came from).
    pub recorded_at: i64,
    /// For a record migrated by a backdated load: when the ledger really
    /// appended it (ms since the Unix epoch). None for a live record.
    pub migrated_at: Option<i64>,
    /// Event id.
    pub event_id: Uuid,
    /// Command id.
    pub command_id: Uuid,
    /// Who.
    pub actor: String,
    /// Source service.
    pub source: String,
    /// Why (envelope reason, else the body's).
    pub reason: Option<String>,
    /// Event name (`ResultRestated`).
    pub event: String,
    /// Effective period.
    pub period: Option<Period>,
    /// Which figure (`result`, `target`, `definition`...).
    pub field: String,
    /// Value before (as printed), None when there was none.
    pub before: Option<String>,
    /// Value after (as printed).
    pub after: Option<String>,
}

/// SHA-256 hex of canonical bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The sled configuration of a read model at `path` ([`ReadModel::open_with`];
/// the benchmark writes bare sled databases with it to measure sled's own
/// ceiling).
pub fn sled_config(path: &Path, cache_bytes: u64, low_space: bool) -> sled::Config {
    sled::Config::new()
        .path(path)
        .cache_capacity(cache_bytes)
        .flush_every_ms(Some(1000))
        .mode(if low_space {
            sled::Mode::LowSpace
        } else {
            sled::Mode::HighThroughput
        })
}

/// How long opening a read model waits for sled's file lock.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Open sled, waiting up to [`LOCK_WAIT`] for its file lock: sled lets the
/// lock go when the last of its IO threads drops its handle, which can be
/// a moment after the process dropped its last `Db` (a test reopening a
/// read model at once met it, once). A read model another process holds
/// is still an error, after the wait.
pub(crate) fn open_locked(config: &sled::Config) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match config.open() {
            // sled 0.34's own message (an `io::Error` of kind Other).
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// The read-model database of one tenant.
#[derive(Clone)]
pub struct ReadModel {
    db: sled::Db,
    tree: sled::Tree,
    tenant: Tenant,
}

impl std::fmt::Debug for ReadModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadModel")
            .field("tenant", &self.tenant.as_str())
            .finish_non_exhaustive()
    }
}

impl ReadModel {
    /// Open (or create) `tenant`'s read model in a directory. A new read
    /// model records the tenant; an existing one must be that tenant's.
    pub fn open(path: impl AsRef<Path>, tenant: &Tenant) -> Result<Self, ReadModelError> {
        Self::open_with_cache(path, tenant, CACHE_BYTES)
    }

    /// [`ReadModel::open`] with another sled page-cache bound (bytes).
    pub fn open_with_cache(
        path: impl AsRef<Path>,
        tenant: &Tenant,
        cache_bytes: u64,
    ) -> Result<Self, ReadModelError> {
        Self::open_with(path, tenant, cache_bytes, false)
    }

    /// [`ReadModel::open`] with a page-cache bound and sled's space-saving
    /// mode (`low_space`) instead of its throughput mode.
    pub fn open_with(
        path: impl AsRef<Path>,
        tenant: &Tenant,
        cache_bytes: u64,
        low_space: bool,
    ) -> Result<Self, ReadModelError> {
        replace::recover(path.as_ref())?;
        let config = sled_config(path.as_ref(), cache_bytes, low_space);
        let (rm, stale) = Self::from_db(open_locked(&config)?, tenant)?;
        let Some(why) = stale else {
            return Ok(rm);
        };
        // A cache that cannot be read as it is: nothing in it is a fact
        // (the log is), so it is replaced by an empty one that the
        // projector replays into, rather than read with the wrong key
        // grammar or another tenant's records.
        tracing::warn!(path = %path.as_ref().display(), "{why}: replaced by an empty read model, the projector rebuilds it from the log");
        let fresh = replace::start_afresh(path.as_ref(), rm.db, &config)?;
        match Self::from_db(fresh, tenant)? {
            (rm, None) => Ok(rm),
            (_, Some(why)) => unreachable!("a new read model is stale: {why}"),
        }
    }

    /// A temporary read model of `tenant` (deleted on drop).
    pub fn open_temporary(tenant: &Tenant) -> Result<Self, ReadModelError> {
        let db = sled::Config::new()
            .temporary(true)
            .cache_capacity(CACHE_BYTES)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        match Self::from_db(db, tenant)? {
            (rm, None) => Ok(rm),
            (_, Some(why)) => unreachable!("a new temporary read model is stale: {why}"),
        }
    }

    /// The read model in `db`, checked: refused when newer or another
    /// tenant's; with a reason when it must start again empty (an older
    /// format, or no tenant recorded over applied records), which the
    /// caller does ([`replace::start_afresh`]); a new one records the
    /// format and the tenant.
    fn from_db(
        db: sled::Db,
        tenant: &Tenant,
    ) -> Result<(Self, Option<&'static str>), ReadModelError> {
        let tree = db.open_tree(TREE)?;
        let mut older_format = None;
        match tree.get(keys::META_FORMAT)? {
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .unwrap_or(u32::MAX);
                if found > FORMAT_VERSION {
                    return Err(ReadModelError::Format {
                        found,
                        expected: FORMAT_VERSION,
                    });
                }
                if found != FORMAT_VERSION {
                    older_format = Some(found);
                }
            }
            None => {
                tree.insert(keys::META_FORMAT, FORMAT_VERSION.to_be_bytes().to_vec())?;
            }
        }
        let rm = ReadModel {
            db,
            tree,
            tenant: tenant.clone(),
        };
        match rm.tree.get(keys::META_TENANT)? {
            Some(v) if v.as_ref() == tenant.as_str().as_bytes() => {}
            Some(v) => {
                return Err(ReadModelError::WrongTenant {
                    recorded: String::from_utf8_lossy(&v).into_owned(),
                    requested: tenant.as_str().to_string(),
                })
            }
            // Created before tenants were recorded: it may hold another
            // tenant's projected records.
            None if rm.checkpoint()? > 0 => {
                return Ok((rm, Some("read model without a recorded tenant")));
            }
            None => {
                rm.tree
                    .insert(keys::META_TENANT, tenant.as_str().as_bytes())?;
            }
        }
        // The tenant check above applies to an older format too.
        if let Some(found) = older_format {
            tracing::info!(found, expected = FORMAT_VERSION, "read model format");
            return Ok((rm, Some("read model in an older format")));
        }
        Ok((rm, None))
    }

    /// The tenant this read model belongs to.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// Last applied sequence (0 = nothing).
    pub fn checkpoint(&self) -> Result<Seq, ReadModelError> {
        self.meta_u64(keys::META_CHECKPOINT)
    }

    /// The log's hash-chain root after the checkpoint, as the projector
    /// stored it (None: not known, e.g. records applied unchecked).
    pub fn chain_root(&self) -> Result<Option<perfledger_log::integrity::Hash>, ReadModelError> {
        if self.checkpoint()? == 0 {
            return Ok(Some(perfledger_log::integrity::ZERO));
        }
        match self.tree.get(keys::META_CHAIN)? {
            None => Ok(None),
            Some(v) => {
                <[u8; 32]>::try_from(v.as_ref())
                    .map(Some)
                    .map_err(|_| ReadModelError::Corrupt {
                        key: hex::encode(keys::META_CHAIN),
                        detail: "expected 32 bytes".to_string(),
                    })
            }
        }
    }

    fn meta_u64(&self, key: &[u8]) -> Result<u64, ReadModelError> {
        match self.tree.get(key)? {
            None => Ok(0),
            Some(v) => <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| ReadModelError::Corrupt {
                    key: hex::encode(key),
                    detail: "expected 8 bytes".to_string(),
                }),
        }
    }

    pub(crate) fn max_recorded_at(&self) -> Result<i64, ReadModelError> {
        match self.tree.get(keys::META_MAXREC)? {
            None => Ok(i64::MIN),
            Some(v) => <[u8; 8]>::try_from(v.as_ref())
                .map(i64::from_be_bytes)
                .map_err(|_| ReadModelError::Corrupt {
                    key: hex::encode(keys::META_MAXREC),
                    detail: "expected 8 bytes".to_string(),
                }),
        }
    }

    /// Make everything applied so far durable.
    pub fn flush(&self) -> Result<(), ReadModelError> {
        self.db.flush()?;
        Ok(())
    }

    /// [`ReadModel::flush`] without blocking the executor.
    pub async fn flush_async(&self) -> Result<(), ReadModelError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// Clear the tree (everything, checkpoint included; the format and the
    /// tenant stay recorded).
    pub fn clear(&self) -> Result<(), ReadModelError> {
        self.tree.clear()?;
        self.tree
            .insert(keys::META_FORMAT, FORMAT_VERSION.to_be_bytes().to_vec())?;
        self.tree
            .insert(keys::META_TENANT, self.tenant.as_str().as_bytes())?;
        self.flush()
    }

    /// Rebuild from zero in place: clear, then catch up with the whole log.
    /// A read model in a directory of its own is better rebuilt beside it
    /// ([`rebuild_beside`]: faster, smaller, and intact until replaced).
    pub async fn rebuild<L: perfledger_log::EventLog>(
        &self,
        log: &L,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Seq, ProjectError> {
        self.clear()?;
        Projector::new(self).catch_up(log, progress).await
    }

    /// Resolve an as-of position to a sequence (≤ checkpoint).
    pub fn resolve(&self, at: AsOf) -> Result<Seq, ReadModelError> {
        let cp = self.checkpoint()?;
        match at {
            AsOf::Head => Ok(cp),
            AsOf::Seq(s) if s <= cp => Ok(s),
            AsOf::Seq(s) => Err(ReadModelError::BeyondCheckpoint {
                requested: s,
                checkpoint: cp,
            }),
            AsOf::Time(t) => self.resolve_time(t, cp),
        }
    }

    fn time_entries(&self, block: u64) -> Result<Vec<i64>, ReadModelError> {
        let k = keys::time_block_key(block);
        let v = self.tree.get(&k)?.map(|v| v.to_vec()).unwrap_or_default();
        if v.len() % 8 != 0 {
            return Err(ReadModelError::Corrupt {
                key: hex::encode(&k),
                detail: "time block is not a whole number of entries".to_string(),
            });
        }
        Ok(v.chunks_exact(8)
            .map(|c| i64::from_be_bytes(c.try_into().expect("chunks_exact(8) yields 8 bytes")))
            .collect())
    }

    /// The longest prefix whose records all have recorded_at ≤ t: binary
    /// search over the time-index blocks (running max is non-decreasing).
    fn resolve_time(&self, t: i64, cp: Seq) -> Result<Seq, ReadModelError> {
        if cp == 0 {
            return Ok(0);
        }
        let last = (cp - 1) / keys::TIME_BLOCK;
        // The last block whose first entry is ≤ t.
        let (mut lo, mut hi) = (0u64, last + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.time_entries(mid)?.first() {
                Some(first) if *first <= t => lo = mid + 1,
                _ => hi = mid,
            }
        }
        if lo == 0 {
            return Ok(0);
        }
        let block = lo - 1;
        let n = self
            .time_entries(block)?
            .iter()
            .take_while(|m| **m <= t)
            .count() as u64;
        Ok((block * keys::TIME_BLOCK + n).min(cp))
    }

    /// The partial time block the projector continues after `checkpoint`.
    pub(crate) fn time_block_at(&self, checkpoint: Seq) -> Result<(u64, Vec<u8>), ReadModelError> {
        if checkpoint == 0 {
            return Ok((0, Vec::new()));
        }
        let block = (checkpoint - 1) / keys::TIME_BLOCK;
        let keep = usize::try_from((checkpoint - 1) % keys::TIME_BLOCK + 1).unwrap_or(0) * 8;
        let mut bytes = self
            .tree
            .get(keys::time_block_key(block))?
            .map(|v| v.to_vec())
            .unwrap_or_default();
        bytes.truncate(keep);
        Ok((block, bytes))
    }

    /// SHA-256 over every key and value of the tree, in key order (but the
    /// chain check's stored root): equal digests mean identical read models.
    pub fn content_digest(&self) -> Result<String, ReadModelError> {
        let mut h = Sha256::new();
        for r in self.tree.iter() {
            let (k, v) = r?;
            // Bookkeeping of the chain check, not content.
            if k.as_ref() == keys::META_CHAIN {
                continue;
            }
            h.update((k.len() as u64).to_be_bytes());
            h.update(&k);
            h.update((v.len() as u64).to_be_bytes());
            h.update(&v);
        }
        Ok(hex::encode(h.finalize()))
    }

    /// Number of keys in the tree.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// True when nothing is stored but the format and tenant markers.
    pub fn is_empty(&self) -> bool {
        self.tree.len() <= 2
    }

    /// Bytes sled uses on disk.
    pub fn size_on_disk(&self) -> Result<u64, ReadModelError> {
        Ok(self.db.size_on_disk()?)
    }
}
