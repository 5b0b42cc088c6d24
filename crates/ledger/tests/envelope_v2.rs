//! The ledger fills the version-2 envelope fields: the command's digest on
//! every write, and `migrated_at` (the ledger clock at the append) only when
//! the caller gave a historical recorded time.

use std::sync::Arc;

use futures::StreamExt;
use perfledger_domain::{command_digest, decode_commit, Timestamp};
use perfledger_ledger::{FixedClock, Ledger, Submitted};
use perfledger_log::embedded::EmbeddedLog;
use perfledger_log::{EventLog, Until};
use perfledger_testkit::fixtures::define;

const NOW: Timestamp = Timestamp(1_770_000_000_000);

#[tokio::test]
async fn live_writes_carry_the_digest_and_backdated_writes_their_migration_time() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path().join("log")).await.unwrap();
    let l = Ledger::new(Arc::new(log), "pl").with_clock(Arc::new(FixedClock(NOW)));
    let claimed = Timestamp(1_460_000_000_000);
    let old = define(1, "CG/S24");
    let live = define(2, "CG/S26");
    l.execute(Submitted::at(old.clone(), claimed))
        .await
        .unwrap();
    l.execute(Submitted::new(live.clone())).await.unwrap();

    let mut stored = Vec::new();
    let mut records = l.log().read(1, Until::Head);
    while let Some(r) = records.next().await {
        stored.push(decode_commit(&r.unwrap().payload).unwrap());
    }
    assert_eq!(stored.len(), 2);
    let (a, b) = (&stored[0][0], &stored[1][0]);
    assert_eq!(a.schema_version, 2);
    assert_eq!(a.recorded_at, claimed, "recorded_at keeps the claimed time");
    assert_eq!(a.migrated_at, Some(NOW), "the ledger's clock at the append");
    assert_eq!(a.command_digest, Some(command_digest(&old).unwrap()));
    assert_eq!(b.recorded_at, NOW);
    assert_eq!(b.migrated_at, None, "a live write is not a migration");
    assert_eq!(b.command_digest, Some(command_digest(&live).unwrap()));
}
