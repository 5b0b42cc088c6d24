//! A read model is a cache of the log, in a layout its format number names
//! (`FORMAT_VERSION`). Opening one written in an older layout clears it so
//! the projector replays the log into the current one (an upgrade needs no
//! manual step); one written by a newer release is refused and left as it
//! is.

use std::path::Path;

use perfledger_log::{EmbeddedLog, EventLog};
use perfledger_readmodel::{Projector, ReadModel, ReadModelError, FORMAT_VERSION, TREE};
use perfledger_testkit::council::{to_commit, Generator, Shape};

fn tenant() -> perfledger_domain::Tenant {
    perfledger_domain::Tenant::new(perfledger_testkit::council::TENANT).unwrap()
}

/// Overwrite the stored format number, as a read model of another release
/// would have it.
fn store_format(rm_dir: &Path, format: u32) {
    let db = sled::open(rm_dir).unwrap();
    let tree = db.open_tree(TREE).unwrap();
    tree.insert(b"mformat", format.to_be_bytes().to_vec())
        .unwrap();
    db.flush().unwrap();
}

async fn caught_up(rm: &ReadModel, log: &EmbeddedLog) -> u64 {
    Projector::new(rm).catch_up(log, &mut |_| {}).await.unwrap()
}

#[tokio::test]
async fn an_older_format_is_cleared_and_replayed_a_newer_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path().join("log")).await.unwrap();
    let commits: Vec<_> = Generator::new(Shape::small(), 11)
        .map(|e| to_commit(&e).unwrap())
        .collect();
    log.append_batch(commits).await.unwrap();
    let head = log.head().await.unwrap();
    let rm_dir = dir.path().join("rm");

    let digest = {
        let rm = ReadModel::open(&rm_dir, &tenant()).unwrap();
        assert_eq!(caught_up(&rm, &log).await, head);
        rm.flush().unwrap();
        rm.content_digest().unwrap()
    };

    // Older: opened empty (nothing read with the wrong key grammar), then
    // replayed to the same bytes.
    store_format(&rm_dir, FORMAT_VERSION - 1);
    {
        let rm = ReadModel::open(&rm_dir, &tenant()).unwrap();
        assert_eq!(rm.checkpoint().unwrap(), 0, "an older layout is not read");
        assert_eq!(caught_up(&rm, &log).await, head);
        assert_eq!(rm.content_digest().unwrap(), digest);
        rm.flush().unwrap();
    }

    // Newer: refused with both numbers, and left intact for its release.
    store_format(&rm_dir, FORMAT_VERSION + 1);
    match ReadModel::open(&rm_dir, &tenant()) {
        Err(ReadModelError::Format { found, expected }) => {
            assert_eq!((found, expected), (FORMAT_VERSION + 1, FORMAT_VERSION));
        }
        Err(other) => panic!("expected a format refusal, got {other}"),
        Ok(_) => panic!("a newer format must be refused"),
    }
    store_format(&rm_dir, FORMAT_VERSION);
    let rm = ReadModel::open(&rm_dir, &tenant()).unwrap();
    assert_eq!(
        rm.checkpoint().unwrap(),
        head,
        "a refused read model is not cleared"
    );
    assert_eq!(rm.content_digest().unwrap(), digest);
}
