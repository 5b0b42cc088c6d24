//! `follow` tails an embedded log: records appended while it runs are
//! projected (progress reported after each commit), and the result equals a
//! clean rebuild.

use perfledger_log::{EmbeddedLog, EventLog};
use perfledger_readmodel::{Projector, ReadModel};
use perfledger_testkit::council::{to_commit, Generator, Shape};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_projects_records_appended_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path().join("log")).await.unwrap();
    let commits: Vec<_> = Generator::new(Shape::small(), 5)
        .map(|e| to_commit(&e).unwrap())
        .collect();
    assert!(commits.len() > 100);
    log.append_batch(commits[..60].to_vec()).await.unwrap();

    let rm = ReadModel::open(
        dir.path().join("rm"),
        &perfledger_domain::Tenant::new(perfledger_testkit::council::TENANT).unwrap(),
    )
    .unwrap();
    let (tx, mut rx) = tokio::sync::watch::channel(0u64);
    let follower = {
        let log = log.clone();
        let rm = rm.clone();
        tokio::spawn(async move {
            let mut progress = move |p: perfledger_readmodel::Progress| {
                let _ = tx.send(p.checkpoint);
            };
            Projector::new(&rm).follow(&log, &mut progress).await
        })
    };
    rx.wait_for(|cp| *cp >= 60).await.unwrap();
    log.append_batch(commits[60..].to_vec()).await.unwrap();
    let n = commits.len() as u64;
    rx.wait_for(|cp| *cp >= n).await.unwrap();
    assert_eq!(rm.checkpoint().unwrap(), n);
    follower.abort();

    let clean = ReadModel::open_temporary(
        &perfledger_domain::Tenant::new(perfledger_testkit::council::TENANT).unwrap(),
    )
    .unwrap();
    clean.rebuild(&log, &mut |_| {}).await.unwrap();
    assert_eq!(
        clean.content_digest().unwrap(),
        rm.content_digest().unwrap()
    );
    assert_eq!(log.head().await.unwrap(), n);
}
