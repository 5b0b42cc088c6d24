//! Opening a log directory.
//!
//! Invariant: one owner per directory, and no acknowledged record is ever
//! lost on open. `LOCK` is held exclusively while the log is open; the data
//! file is scanned in full and the index rebuilt; only a torn last frame
//! (never acknowledged) is cut off, and its bytes are kept beside the file
//! as `log.dat.torn-<offset>` first.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;

use super::format::{scan, ScanEnd};
use super::{
    io_err, EmbeddedLog, EmbeddedOptions, Index, Inner, Queue, Writer, DATA_FILE, LOCK_FILE, MAGIC,
};
use crate::LogError;

/// Attempts to take the directory lock before reporting it in use.
const LOCK_ATTEMPTS: u32 = 50;
/// Pause between attempts (at most about half a second in all).
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(10);

/// Take the exclusive directory lock, retrying briefly while it is held.
///
/// A flock lives as long as any copy of its descriptor. While another thread
/// of this process spawns a child, the child briefly holds copies of every
/// descriptor (between fork and exec), so a lock released by dropping the
/// log can look held for a moment. A lock that stays held is a real second
/// owner and is reported.
fn lock_exclusive(lock: &File) -> std::io::Result<()> {
    let mut attempt = 1;
    loop {
        match fs2::FileExt::try_lock_exclusive(lock) {
            Ok(()) => return Ok(()),
            Err(e) if attempt < LOCK_ATTEMPTS && e.kind() == std::io::ErrorKind::WouldBlock => {
                attempt += 1;
                std::thread::sleep(LOCK_RETRY);
            }
            Err(e) => return Err(e),
        }
    }
}

impl EmbeddedLog {
    /// Open (or create) the log in `dir` with default options.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, LogError> {
        Self::open_with(dir, EmbeddedOptions::default()).await
    }

    /// Open (or create) the log in `dir`.
    pub async fn open_with(
        dir: impl Into<PathBuf>,
        opts: EmbeddedOptions,
    ) -> Result<Self, LogError> {
        let dir = dir.into();
        tokio::task::spawn_blocking(move || Self::open_blocking(dir, opts))
            .await
            .map_err(|e| LogError::Unavailable(format!("open task failed: {e}")))?
    }

    fn open_blocking(dir: PathBuf, opts: EmbeddedOptions) -> Result<Self, LogError> {
        std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err(&lock_path, e))?;
        lock_exclusive(&lock).map_err(|e| {
            LogError::Unavailable(format!(
                "log directory {} is in use by another process or handle ({e})",
                dir.display()
            ))
        })?;
        let data_path = dir.join(DATA_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&data_path)
            .map_err(|e| io_err(&data_path, e))?;
        let len = file.metadata().map_err(|e| io_err(&data_path, e))?.len();
        if len == 0 {
            file.write_all(MAGIC).map_err(|e| io_err(&data_path, e))?;
            file.sync_all().map_err(|e| io_err(&data_path, e))?;
            File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_err(&dir, e))?;
        }
        let mut index = Index::default();
        let (end, good_len) = scan(&data_path, |offset, len, rec| {
            index.push_scanned(offset, len, &rec)
        })?;
        index.shrink_subjects();
        if let ScanEnd::Torn(at) = end {
            // Keep the torn bytes aside (never silently lost), then truncate.
            let mut torn = Vec::new();
            file.seek(SeekFrom::Start(at))
                .and_then(|_| file.read_to_end(&mut torn))
                .map_err(|e| io_err(&data_path, e))?;
            let aside = dir.join(format!("{DATA_FILE}.torn-{at}"));
            std::fs::write(&aside, &torn).map_err(|e| io_err(&aside, e))?;
            tracing::warn!(
                offset = at,
                bytes = torn.len(),
                "embedded log: torn tail from an interrupted write truncated (kept in {})",
                aside.display()
            );
            file.set_len(good_len)
                .and_then(|_| file.sync_all())
                .map_err(|e| io_err(&data_path, e))?;
        }
        file.seek(SeekFrom::Start(good_len))
            .map_err(|e| io_err(&data_path, e))?;
        let reader = File::open(&data_path).map_err(|e| io_err(&data_path, e))?;
        let (head_tx, _) = watch::channel(index.head());
        Ok(EmbeddedLog {
            inner: Arc::new(Inner {
                dir,
                data_path,
                opts,
                writer: Mutex::new(Writer {
                    file,
                    len: good_len,
                    broken: None,
                    ids: None,
                }),
                queue: Mutex::new(Queue::default()),
                index: RwLock::new(index),
                reader,
                head_tx,
                _lock: lock,
            }),
        })
    }

    /// The directory this log lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }
}
