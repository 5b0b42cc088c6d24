//! A rebuild beside the live read model (`rebuild_beside`): the result
//! equals a clean rebuild and takes the live directory's place, nothing is
//! left beside it, and every state a crash can leave between the two
//! renames is finished (or undone) by the next open.

use std::path::{Path, PathBuf};

use perfledger_domain::Tenant;
use perfledger_log::{EmbeddedLog, EventLog, Seq};
use perfledger_readmodel::{rebuild_beside, ReadModel, ReadModelError};
use perfledger_testkit::council::{to_commit, Generator, Shape, TENANT};

fn tenant() -> Tenant {
    Tenant::new(TENANT).unwrap()
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

/// An empty log, and the small council's commits to append to it.
async fn log_in(dir: &Path) -> (EmbeddedLog, Vec<perfledger_log::Commit>) {
    let log = EmbeddedLog::open(dir.join("log")).await.unwrap();
    let commits: Vec<_> = Generator::new(Shape::small(), 7)
        .map(|e| to_commit(&e).unwrap())
        .collect();
    assert!(commits.len() > 100);
    (log, commits)
}

/// The content digest and checkpoint of the read model in `dir`.
fn state(dir: &Path) -> (String, Seq) {
    let rm = ReadModel::open(dir, &tenant()).unwrap();
    (
        rm.content_digest().unwrap().to_string(),
        rm.checkpoint().unwrap(),
    )
}

/// A read model of the first `n` records in `dir`.
async fn project(dir: &Path, log: &EmbeddedLog) -> Seq {
    let rm = ReadModel::open(dir, &tenant()).unwrap();
    perfledger_readmodel::Projector::new(&rm)
        .catch_up(log, &mut |_| {})
        .await
        .unwrap()
}

async fn clean_digest(log: &EmbeddedLog) -> String {
    let clean = ReadModel::open_temporary(&tenant()).unwrap();
    clean.rebuild(log, &mut |_| {}).await.unwrap();
    clean.content_digest().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_beside_takes_the_live_directorys_place_and_leaves_nothing_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let (log, commits) = log_in(dir.path()).await;
    log.append_batch(commits[..60].to_vec()).await.unwrap();
    let rm_dir = dir.path().join("readmodel");
    assert_eq!(project(&rm_dir, &log).await, 60);
    // A partial build left by an interrupted rebuild: removed, not reused.
    std::fs::create_dir(sibling(&rm_dir, ".rebuilding")).unwrap();
    std::fs::write(sibling(&rm_dir, ".rebuilding").join("db"), b"junk").unwrap();
    log.append_batch(commits[60..].to_vec()).await.unwrap();
    let head = log.head().await.unwrap();

    let seq = rebuild_beside(&rm_dir, &tenant(), 8 << 20, &log, &mut |_| {})
        .await
        .unwrap();

    assert_eq!(seq, head);
    assert_eq!(state(&rm_dir), (clean_digest(&log).await, head));
    assert!(!sibling(&rm_dir, ".rebuilding").exists());
    assert!(!sibling(&rm_dir, ".replaced").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_beside_creates_a_read_model_where_there_was_none() {
    let dir = tempfile::tempdir().unwrap();
    let (log, commits) = log_in(dir.path()).await;
    log.append_batch(commits).await.unwrap();
    let rm_dir = dir.path().join("readmodel");
    rebuild_beside(&rm_dir, &tenant(), 8 << 20, &log, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        state(&rm_dir),
        (clean_digest(&log).await, log.head().await.unwrap())
    );
}

/// Crashed after the live model was renamed away and before its
/// replacement went in: the replacement is complete, and opening puts it
/// in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_finishes_a_swap_interrupted_between_the_renames() {
    let dir = tempfile::tempdir().unwrap();
    let (log, commits) = log_in(dir.path()).await;
    log.append_batch(commits[..60].to_vec()).await.unwrap();
    let rm_dir = dir.path().join("readmodel");
    project(&rm_dir, &log).await;
    log.append_batch(commits[60..].to_vec()).await.unwrap();
    project(&sibling(&rm_dir, ".rebuilding"), &log).await;
    std::fs::rename(&rm_dir, sibling(&rm_dir, ".replaced")).unwrap();

    assert_eq!(
        state(&rm_dir),
        (clean_digest(&log).await, log.head().await.unwrap())
    );
    assert!(!sibling(&rm_dir, ".rebuilding").exists());
    assert!(!sibling(&rm_dir, ".replaced").exists());
}

/// A replaced model with no replacement beside it (only an impossible
/// order of steps leaves this, or a hand): it goes back, not an empty one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_puts_a_replaced_model_back_when_no_replacement_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let (log, commits) = log_in(dir.path()).await;
    log.append_batch(commits[..60].to_vec()).await.unwrap();
    let rm_dir = dir.path().join("readmodel");
    project(&rm_dir, &log).await;
    let before = state(&rm_dir);
    std::fs::rename(&rm_dir, sibling(&rm_dir, ".replaced")).unwrap();

    assert_eq!(state(&rm_dir), before);
    assert_eq!(before.1, 60);
    assert!(!sibling(&rm_dir, ".replaced").exists());
}

/// Crashed after the swap, before the replaced model was removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_removes_a_replaced_model_left_beside_the_live_one() {
    let dir = tempfile::tempdir().unwrap();
    let (log, commits) = log_in(dir.path()).await;
    log.append_batch(commits).await.unwrap();
    let rm_dir = dir.path().join("readmodel");
    project(&rm_dir, &log).await;
    project(&sibling(&rm_dir, ".replaced"), &log).await;
    let _ = state(&rm_dir);
    assert!(!sibling(&rm_dir, ".replaced").exists());
}

/// A service holding the live read model (sled's file lock) refuses the
/// rebuild before anything is built or renamed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_beside_is_refused_while_the_live_model_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let (log, commits) = log_in(dir.path()).await;
    log.append_batch(commits).await.unwrap();
    let rm_dir = dir.path().join("readmodel");
    project(&rm_dir, &log).await;
    let held = ReadModel::open(&rm_dir, &tenant()).unwrap();
    let before = held.content_digest().unwrap();

    let err = rebuild_beside(&rm_dir, &tenant(), 8 << 20, &log, &mut |_| {})
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            perfledger_readmodel::ProjectError::ReadModel(ReadModelError::Storage(_))
        ),
        "{err}"
    );
    assert!(!sibling(&rm_dir, ".rebuilding").exists());
    assert_eq!(held.content_digest().unwrap(), before);
}
