//! A rebuild beside the live read model, swapped in when complete.
//!
//! Invariant: at every instant, for a read model in directory `D`, either
//! `D` is a complete read model, or `D` is missing and `D.replaced` is the
//! previous one with `D.rebuilding` (if present) complete. The swap is two
//! renames, each atomic on a POSIX filesystem:
//!
//! ```text
//! build into D.rebuilding; flush       D live       D.rebuilding partial
//! rename D -> D.replaced               D missing    D.rebuilding complete
//! rename D.rebuilding -> D             D live (new) D.replaced (old)
//! remove D.replaced
//! ```
//!
//! [`recover`] (run by every [`ReadModel::open`] and before a rebuild)
//! finishes an interrupted swap from any of those states: `D` missing with
//! `D.replaced` present means the live model was only renamed away after
//! its replacement was complete, so `D.rebuilding`, if present, goes in;
//! otherwise `D.replaced` goes back. A `D.rebuilding` beside a live `D` is
//! an interrupted build: a partial cache, deleted by the next rebuild (not
//! by an open: another process may be building it).
//!
//! A read model that must start again empty on open (an older format, or
//! no recorded tenant: [`start_afresh`]) takes the same path with an empty
//! read model as the replacement, made while the old one is still open and
//! locked: rename `D -> D.replaced`, create `D`, remove `D.replaced`. An
//! empty read model is complete (at checkpoint 0), and any `D.rebuilding`
//! is removed first (it is stale: no one builds while the opener holds the
//! lock), so the recovery rule above holds unchanged.
//!
//! Why not clear in place ([`ReadModel::rebuild`]): sled removes a cleared
//! tree's keys one by one and keeps its files at their old size, and a
//! rebuild stopped half way left an empty read model, where this leaves the
//! previous one serving until the new one is whole. Measured through
//! `perfledger rebuild` (1 December 2026): at one million events 2.80-3.10
//! s against 2.95-3.31 s in place, 461-470 MB on disk against 594-607 MB;
//! at ten million 31.6-35.4 s against 33.7-33.9 s, 3.9-4.0 GB against
//! 6.4-6.5 GB. The price: until the swap the disk holds both.

use std::path::{Path, PathBuf};

use perfledger_domain::Tenant;
use perfledger_log::{EventLog, Seq};

use crate::{Progress, ProjectError, Projector, ReadModel, ReadModelError};

/// The directories of a swap: the live one and its two siblings.
struct Paths {
    live: PathBuf,
    rebuilding: PathBuf,
    replaced: PathBuf,
}

impl Paths {
    fn of(dir: &Path) -> Result<Self, ReadModelError> {
        let name = dir
            .file_name()
            .ok_or_else(|| ReadModelError::Directory {
                path: dir.display().to_string(),
                action: "name a rebuild beside",
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the read model's path has no final component",
                ),
            })?
            .to_os_string();
        let sibling = |suffix: &str| {
            let mut n = name.clone();
            n.push(suffix);
            dir.with_file_name(n)
        };
        Ok(Paths {
            live: dir.to_path_buf(),
            rebuilding: sibling(".rebuilding"),
            replaced: sibling(".replaced"),
        })
    }
}

fn io_err(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> ReadModelError {
    let path = path.display().to_string();
    move |source| ReadModelError::Directory {
        path,
        action,
        source,
    }
}

/// A rename that another process may already have made (both finish the
/// same swap): a missing source is not an error.
fn rename_once(from: &Path, to: &Path) -> Result<(), ReadModelError> {
    match std::fs::rename(from, to) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other.map_err(io_err(from, "rename")),
    }
}

/// Remove a directory that may already be gone.
fn remove_once(dir: &Path) -> Result<(), ReadModelError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other.map_err(io_err(dir, "remove")),
    }
}

/// Make the renames in `dir`'s parent durable.
fn sync_parent(dir: &Path) -> Result<(), ReadModelError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|f| f.sync_all())
        .map_err(io_err(parent, "sync"))
}

/// Finish or undo an interrupted swap of the read model in `dir` (see the
/// module docs), and remove a replaced read model left behind.
pub(crate) fn recover(dir: &Path) -> Result<(), ReadModelError> {
    if dir.file_name().is_none() {
        // No siblings to name (a root or `..`): never swapped.
        return Ok(());
    }
    let p = Paths::of(dir)?;
    if !p.live.exists() && p.replaced.exists() {
        let back = if p.rebuilding.exists() {
            &p.rebuilding
        } else {
            &p.replaced
        };
        tracing::warn!(
            from = %back.display(),
            to = %p.live.display(),
            "finishing an interrupted read-model swap"
        );
        rename_once(back, &p.live)?;
        sync_parent(&p.live)?;
    }
    if p.live.exists() && p.replaced.exists() {
        remove_once(&p.replaced)?;
    }
    Ok(())
}

/// Rebuild `tenant`'s read model in `dir` from `log` in a directory beside
/// it and swap it in when complete (see the module docs). The live read
/// model is held open meanwhile, so a rebuild is refused while a service
/// holds it, and no service opens it half way; it serves nothing during the
/// rebuild (this process holds it) but is intact until the swap, and stays
/// as it was if the rebuild fails (a record failing the hash chain, say).
pub async fn rebuild_beside<L: EventLog>(
    dir: &Path,
    tenant: &Tenant,
    cache_bytes: u64,
    log: &L,
    progress: &mut dyn FnMut(Progress),
) -> Result<Seq, ProjectError> {
    let p = Paths::of(dir)?;
    // Opening runs `recover` and takes sled's lock on the live model.
    let live = ReadModel::open_with_cache(&p.live, tenant, cache_bytes)?;
    remove_once(&p.rebuilding)?;
    let built = async {
        let fresh = ReadModel::open_with_cache(&p.rebuilding, tenant, cache_bytes)?;
        let seq = Projector::new(&fresh).catch_up(log, progress).await?;
        fresh.flush()?;
        Ok::<_, ProjectError>(seq)
    }
    .await;
    let seq = match built {
        Ok(seq) => seq,
        Err(e) => {
            // The live read model stays as it was; the partial one is of
            // no use to anyone.
            if let Err(removing) = remove_once(&p.rebuilding) {
                tracing::warn!(error = %removing, "a failed rebuild's directory was not removed");
            }
            return Err(e);
        }
    };
    live.flush()?;
    rename_once(&p.live, &p.replaced)?;
    // What `recover` does after a crash here.
    rename_once(&p.rebuilding, &p.live)?;
    sync_parent(&p.live)?;
    drop(live);
    if let Err(e) = remove_once(&p.replaced) {
        // Only space: the next open or rebuild removes it.
        tracing::warn!(error = %e, "the replaced read model was not removed");
    }
    Ok(seq)
}

/// Replace the read model open as `old` in `dir` by a new empty one in the
/// same place (see the module docs): the old one's files go as a whole,
/// where clearing removed its keys one by one and kept its files at their
/// size. Returns the new database, opened with `config` (for `dir`).
pub(crate) fn start_afresh(
    dir: &Path,
    old: sled::Db,
    config: &sled::Config,
) -> Result<sled::Db, ReadModelError> {
    let p = Paths::of(dir)?;
    remove_once(&p.rebuilding)?;
    // The old one stays open (and locked) under its new name until the
    // new one holds the place.
    rename_once(&p.live, &p.replaced)?;
    sync_parent(&p.live)?;
    let fresh = crate::open_locked(config)?;
    sync_parent(&p.live)?;
    drop(old);
    if let Err(e) = remove_once(&p.replaced) {
        // Only space: the next open or rebuild removes it.
        tracing::warn!(error = %e, "the replaced read model was not removed");
    }
    Ok(fresh)
}
