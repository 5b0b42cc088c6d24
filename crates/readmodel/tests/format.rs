//! A read model is a cache of the log, in a layout its format number names
//! (`FORMAT_VERSION`). Opening one written in an older layout replaces it
//! by an empty one so the projector replays the log into the current one
//! (an upgrade needs no manual step); one written by a newer release is
//! refused and left as it is.

use std::path::Path;

use perfledger_log::{EmbeddedLog, EventLog};
use perfledger_readmodel::{Projector, ReadModel, ReadModelError, FORMAT_VERSION, TREE};
use perfledger_testkit::council::{to_commit, Generator, Shape};

fn tenant() -> perfledger_domain::Tenant {
    perfledger_domain::Tenant::new(perfledger_testkit::council::TENANT).unwrap()
}

/// `open` again while sled's directory lock is still held: dropping a sled
/// `Db` returns before its background flusher has let go of the lock (seen
/// once in a loaded CI run), so the next open in the same process can find
/// it busy for a moment. Bounded: five seconds.
fn when_unlocked<T, E: std::fmt::Display>(mut open: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    for _ in 0..100 {
        match open() {
            Err(e) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
    open()
}

fn open_rm(rm_dir: &Path) -> Result<ReadModel, ReadModelError> {
    when_unlocked(|| ReadModel::open(rm_dir, &tenant()))
}

/// Overwrite the stored format number, as a read model of another release
/// would have it.
fn store_format(rm_dir: &Path, format: u32) {
    let db = when_unlocked(|| sled::open(rm_dir)).unwrap();
    let tree = db.open_tree(TREE).unwrap();
    tree.insert(b"mformat", format.to_be_bytes().to_vec())
        .unwrap();
    db.flush().unwrap();
}

async fn caught_up(rm: &ReadModel, log: &EmbeddedLog) -> u64 {
    Projector::new(rm).catch_up(log, &mut |_| {}).await.unwrap()
}

#[tokio::test]
async fn an_older_format_is_replaced_and_replayed_a_newer_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path().join("log")).await.unwrap();
    let commits: Vec<_> = Generator::new(Shape::small(), 11)
        .map(|e| to_commit(&e).unwrap())
        .collect();
    log.append_batch(commits).await.unwrap();
    let head = log.head().await.unwrap();
    let rm_dir = dir.path().join("rm");

    let digest = {
        let rm = open_rm(&rm_dir).unwrap();
        assert_eq!(caught_up(&rm, &log).await, head);
        rm.flush().unwrap();
        rm.content_digest().unwrap()
    };

    // Older: opened empty (nothing read with the wrong key grammar), then
    // replayed to the same bytes. The old files go as a whole (a file sled
    // does not know of stands for them; clearing in place kept them, at
    // their size), and nothing is left beside the directory.
    store_format(&rm_dir, FORMAT_VERSION - 1);
    let old_file = rm_dir.join("left-by-the-older-release");
    std::fs::write(&old_file, b"x").unwrap();
    {
        let rm = open_rm(&rm_dir).unwrap();
        assert_eq!(rm.checkpoint().unwrap(), 0, "an older layout is not read");
        assert!(!old_file.exists(), "the older read model's files are gone");
        let beside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("rm."))
            .collect();
        assert!(beside.is_empty(), "left beside the read model: {beside:?}");
        assert_eq!(caught_up(&rm, &log).await, head);
        assert_eq!(rm.content_digest().unwrap(), digest);
        rm.flush().unwrap();
    }

    // Newer: refused with both numbers, and left intact for its release.
    store_format(&rm_dir, FORMAT_VERSION + 1);
    match open_rm(&rm_dir) {
        Err(ReadModelError::Format { found, expected }) => {
            assert_eq!((found, expected), (FORMAT_VERSION + 1, FORMAT_VERSION));
        }
        Err(other) => panic!("expected a format refusal, got {other}"),
        Ok(_) => panic!("a newer format must be refused"),
    }
    store_format(&rm_dir, FORMAT_VERSION);
    let rm = open_rm(&rm_dir).unwrap();
    assert_eq!(
        rm.checkpoint().unwrap(),
        head,
        "a refused read model is not cleared"
    );
    assert_eq!(rm.content_digest().unwrap(), digest);
}

/// What the projector writes for the committed golden log
/// (`tests/golden/history-v1`, never regenerated), per format: the read
/// model's content digest. A change to what the projector writes that does
/// not bump `FORMAT_VERSION` fails here, because read models already on
/// disk in that format would not be rebuilt and would answer from the old
/// layout (a missing key reads as "nothing reported"). Bump the format and
/// add its digest; never edit an old one.
const PINNED: &[(u32, &str)] = &[
    (
        5,
        "bb88924b336254134aadc0a39239835bec3ed88442aaf67cc5749f2ebf8886a1",
    ),
    (
        6,
        "84e5baee6da979a8e3dea924cb5bf8a2b8f9655cf99143d4b48c6da84f0fa72c",
    ),
];

#[tokio::test]
async fn each_format_writes_the_bytes_pinned_for_the_golden_log() {
    let set =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/history-v1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("log")).unwrap();
    std::fs::copy(set.join("log/log.dat"), dir.path().join("log/log.dat")).unwrap();
    let tenant = std::fs::read_to_string(set.join("tenant")).unwrap();
    let tenant = perfledger_domain::Tenant::new(tenant.trim()).unwrap();
    let log = EmbeddedLog::open(dir.path().join("log")).await.unwrap();
    let rm = ReadModel::open_temporary(&tenant).unwrap();
    caught_up(&rm, &log).await;
    let digest = rm.content_digest().unwrap();
    let pinned = PINNED
        .iter()
        .find(|(f, _)| *f == FORMAT_VERSION)
        .map(|(_, d)| *d);
    assert_eq!(
        pinned,
        Some(digest.as_str()),
        "format {FORMAT_VERSION} must write the pinned bytes for the golden log; a change to \
         what the projector writes is a new FORMAT_VERSION with its own digest ({digest})"
    );
}
