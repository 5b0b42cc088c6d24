//! Temp directories that name the process owning them, and the reaping of
//! those whose process is gone.
//!
//! Invariant: every directory [`owned_tempdir`] makes holds [`OWNER_FILE`],
//! the decimal pid of the process that made it, from its creation on. A
//! directory is an orphan when that pid no longer exists; [`reap_orphans`]
//! hands each orphan of a prefix to the caller's `stop` (which ends the
//! servers living in it) and then removes it. A directory without the file
//! (made by something else) or whose pid exists (its owner is alive, or the
//! pid was reused: then it waits for a later reap) is left alone.
//!
//! Why: a test or bench process killed before its drops run (a timeout's
//! SIGKILL, an abort) left its nats-servers and PostgreSQL clusters running
//! with their stores, found by hand days later.

use std::path::Path;

/// The file in an owned directory naming its owner's pid.
pub const OWNER_FILE: &str = "owner.pid";

/// A new temp directory with this name prefix, recording this process as
/// its owner.
pub fn owned_tempdir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|e| panic!("create a temp dir {prefix}*: {e}"));
    std::fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string())
        .unwrap_or_else(|e| panic!("record the owner of {}: {e}", dir.path().display()));
    dir
}

/// Whether process `pid` exists.
fn exists(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 sends nothing; it only checks the pid.
    let sent = unsafe { libc::kill(pid, 0) } == 0;
    // EPERM: it exists, owned by another user.
    sent || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// The owner recorded in `dir`, if it has a readable one.
fn owner(dir: &Path) -> Option<i32> {
    std::fs::read_to_string(dir.join(OWNER_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&pid| pid > 0)
}

/// For each orphaned directory of `prefix` in the temp dir: `stop(dir)`,
/// then remove it. Returns the directories removed.
pub fn reap_orphans(prefix: &str, mut stop: impl FnMut(&Path)) -> Vec<std::path::PathBuf> {
    let mut reaped = Vec::new();
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return reaped;
    };
    for dir in entries.flatten().map(|e| e.path()) {
        let named = dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(prefix));
        if !named || !dir.is_dir() {
            continue;
        }
        match owner(&dir) {
            Some(pid) if !exists(pid) => {
                stop(&dir);
                if std::fs::remove_dir_all(&dir).is_ok() {
                    reaped.push(dir);
                }
            }
            _ => {}
        }
    }
    reaped
}

/// Kill the process whose pid is in `pid_file` if its command line names
/// `dir` (so a reused pid is never killed), SIGKILL.
pub fn kill_recorded(pid_file: &Path, dir: &Path) {
    let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|&pid| pid > 0)
    else {
        return;
    };
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return;
    };
    let needle = dir.as_os_str().as_encoded_bytes();
    if cmdline.windows(needle.len()).any(|w| w == needle) {
        // SAFETY: kill(2) of a pid whose command line names our directory.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory whose owner is gone is stopped and removed; one whose
    /// owner lives, or without an owner file, is left.
    #[test]
    fn only_directories_of_gone_owners_are_reaped() {
        let prefix = format!("perfledger-owned-test-{}-", std::process::id());
        let mine = owned_tempdir(&prefix);
        let gone = owned_tempdir(&prefix);
        // A pid that existed and no longer does: a child we waited for.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(gone.path().join(OWNER_FILE), dead.to_string()).unwrap();
        let foreign = tempfile::Builder::new().prefix(&prefix).tempdir().unwrap();

        let mut stopped = Vec::new();
        let reaped = reap_orphans(&prefix, |d| stopped.push(d.to_path_buf()));
        assert_eq!(stopped, vec![gone.path().to_path_buf()]);
        assert_eq!(reaped, stopped);
        assert!(!gone.path().exists());
        assert!(mine.path().exists());
        assert!(foreign.path().exists());
    }
}
