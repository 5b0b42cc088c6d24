//! The deploy/ cluster configuration (cluster-{1,2,3}.conf + accounts.conf)
//! on loopback: the three nodes route to each other with route
//! authentication, the gateway creates the stream at 3 replicas, and the
//! per-service permissions hold on every node.

#[path = "support/services_common.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use perfledger_log::async_nats;
use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};
use perfledger_log::AnyLog;
use perfledger_testkit::NatsCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deploy_cluster_forms_replicates_the_stream_and_enforces_permissions() {
    let cluster = NatsCluster {
        nodes: deploy_cluster(),
    };
    let (ledger, _) = connect_as(&cluster.nodes[0].url(), "ledger").await;
    cluster.wait_jetstream(&ledger).await;
    let mut log = None;
    for _ in 0..100 {
        match JetStreamLog::with_client(
            ledger.clone(),
            JetStreamOptions {
                replicas: 3,
                timeout: Duration::from_secs(10),
                ..Default::default()
            },
        )
        .await
        {
            Ok(l) => {
                log = Some(l);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let log = log.expect("R3 stream on the deploy cluster");
    let ctx = log.context().clone();
    let svc = Services::start_on(ledger.clone(), Arc::new(AnyLog::JetStream(log)), None).await;

    // A publisher on another node reaches the gateway through the routes.
    let (cs, _) = connect_as(&cluster.nodes[2].url(), "customer-services").await;
    wait_gateway(&cs, "pl.cmd.barnet.indicator").await;
    let a = publisher(cs)
        .send(&define_indicator("DC/1"))
        .await
        .expect("define through the cluster");
    assert_eq!(a.seq, 1);

    // The stream has 3 replicas: a leader and two current followers.
    let mut followers_current = false;
    for _ in 0..200 {
        let info = ctx
            .get_stream("PERFLEDGER")
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .clone();
        assert_eq!(info.config.num_replicas, 3);
        assert_eq!(
            info.config.subjects,
            vec!["pl.ev.>".to_string(), "pl.chk".to_string()]
        );
        let c = info.cluster.expect("clustered stream");
        if c.leader.is_some() && c.replicas.len() == 2 && c.replicas.iter().all(|r| r.current) {
            followers_current = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        followers_current,
        "the R3 stream never had two current followers"
    );

    // Permissions hold on every node.
    let (fin, errors) = connect_as(&cluster.nodes[1].url(), "finance").await;
    fin.publish("pl.cmd.barnet.indicator", bytes::Bytes::from_static(b"{}"))
        .await
        .unwrap();
    errors
        .wait_for(&["permissions violation", "pl.cmd.barnet.indicator"])
        .await;
    let (reader, rerrors) = connect_as(&cluster.nodes[2].url(), "opendata").await;
    reader
        .publish("pl.chk", bytes::Bytes::from_static(b"x"))
        .await
        .unwrap();
    rerrors.wait_for(&["permissions violation", "pl.chk"]).await;
    // A wrong password is refused.
    let bad = async_nats::ConnectOptions::new()
        .user_and_password("ledger".into(), "wrong".into())
        .connect(cluster.nodes[1].url())
        .await;
    assert!(bad.is_err(), "a wrong password connected");
    assert_eq!(svc.head().await, 1);
    svc.shutdown().await;
}
