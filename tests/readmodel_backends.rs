//! The same log on both backends (embedded and NATS JetStream, a real
//! nats-server started by the testkit) projects to byte-identical read
//! models: equal content digests, equal dashboard and audit-trail digests.

use perfledger_domain::period::{FinancialYear, Period};
use perfledger_domain::EntityKind;
use perfledger_log::jetstream::JetStreamOptions;
use perfledger_log::{EmbeddedLog, EventLog, JetStreamLog};
use perfledger_readmodel::{AsOf, ReadModel};
use perfledger_testkit::council::{indicator_ref, to_commit, unit_name, Generator, Shape};
use perfledger_testkit::NatsServer;

#[tokio::test]
async fn embedded_and_jetstream_give_the_same_digests() {
    let commits: Vec<_> = Generator::new(Shape::small(), 77)
        .map(|e| to_commit(&e).unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let embedded = EmbeddedLog::open(dir.path().join("log")).await.unwrap();
    embedded
        .append_pipelined(commits.clone())
        .await
        .into_result()
        .unwrap();
    let server = NatsServer::start();
    let js = JetStreamLog::connect(JetStreamOptions {
        url: server.url(),
        ..Default::default()
    })
    .await
    .unwrap();
    js.append_pipelined(commits.clone())
        .await
        .into_result()
        .unwrap();
    assert_eq!(js.head().await.unwrap(), commits.len() as u64);

    let a = ReadModel::open_temporary(
        &perfledger_domain::Tenant::new(perfledger_testkit::council::TENANT).unwrap(),
    )
    .unwrap();
    a.rebuild(&embedded, &mut |_| {}).await.unwrap();
    let b = ReadModel::open_temporary(
        &perfledger_domain::Tenant::new(perfledger_testkit::council::TENANT).unwrap(),
    )
    .unwrap();
    b.rebuild(&js, &mut |_| {}).await.unwrap();
    assert_eq!(a.checkpoint().unwrap(), b.checkpoint().unwrap());
    assert_eq!(a.content_digest().unwrap(), b.content_digest().unwrap());
    let p = Period::Quarter(FinancialYear(2016), 2);
    for unit in [None, Some(unit_name(0)), Some(unit_name(1))] {
        for at in [AsOf::Head, AsOf::Seq(100)] {
            let da = a.dashboard(unit.as_deref(), p, at).unwrap();
            let db = b.dashboard(unit.as_deref(), p, at).unwrap();
            assert_eq!(da.digest, db.digest);
        }
    }
    let ta = a
        .audit(EntityKind::Indicator, &indicator_ref(0), AsOf::Head)
        .unwrap();
    let tb = b
        .audit(EntityKind::Indicator, &indicator_ref(0), AsOf::Head)
        .unwrap();
    assert!(!ta.entries.is_empty());
    assert_eq!(ta.digest_hex(), tb.digest_hex());
}
