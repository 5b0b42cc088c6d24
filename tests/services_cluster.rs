//! A 3-node JetStream cluster on loopback (stream at 3 replicas): kill the
//! stream leader during a steady load of commands through the gateway. No
//! acknowledged command is lost or duplicated, appends resume, the live
//! projector (which rode through the failover) converges to the same read
//! model and dashboard digests as fresh rebuilds from the log.

#[path = "support/services_common.rs"]
mod common;
#[path = "support/log_common.rs"]
mod log_common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures::StreamExt;
use perfledger_client::{Publisher, PublisherConfig};
use perfledger_log::async_nats;
use perfledger_log::{AnyLog, EventLog, Until};
use perfledger_readmodel::{AsOf, Projector, ReadModel};
use perfledger_testkit::NatsCluster;

const PUBLISHERS: usize = 4;
const PER_PUBLISHER: usize = 40;

async fn connect_all(urls: &str) -> async_nats::Client {
    let addrs: Vec<async_nats::ServerAddr> = urls.split(',').map(|u| u.parse().unwrap()).collect();
    async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(addrs)
        .await
        .expect("connect to the cluster")
}

async fn rebuild(log: &AnyLog) -> ReadModel {
    let rm = ReadModel::open_temporary(&tenant()).unwrap();
    Projector::new(&rm)
        .catch_up(log, &mut |_| {})
        .await
        .expect("projection");
    rm
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_stream_leader_under_load_loses_and_duplicates_nothing() {
    let mut cluster = NatsCluster::start();
    let urls = cluster.urls();
    let gw_client = connect_all(&urls).await;
    cluster.wait_jetstream(&gw_client).await;
    let log = log_common::open_r3(&gw_client, Duration::from_secs(10)).await;
    let info = log
        .context()
        .get_stream("PERFLEDGER")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(info.config.num_replicas, 3);
    let svc = Services::start_on(
        gw_client.clone(),
        Arc::new(AnyLog::JetStream(log)),
        Some("barnet"),
    )
    .await;

    let mut publishers = Vec::new();
    for i in 0..PUBLISHERS {
        let c = connect_all(&urls).await;
        let p = Publisher::new(
            c,
            PublisherConfig {
                timeout: Duration::from_secs(8),
                attempts: 20,
                backoff: Duration::from_millis(50),
                max_backoff: Duration::from_secs(1),
                ..PublisherConfig::default()
            },
        );
        wait_gateway(p_client(&p), "pl.cmd.barnet.risk").await;
        p.send(&register_risk(&format!("C{i}")))
            .await
            .expect("register");
        publishers.push(p);
    }
    // A read-only follower (durable consumer) rides through the failover too.
    let follower_client = connect_all(&urls).await;
    let total_expected = (PUBLISHERS * PER_PUBLISHER + PUBLISHERS + 2) as u64;
    let following = tokio::spawn(async move {
        // Creating a replicated durable consumer goes through the meta
        // leader, which can time out under the start of the load; creating
        // the same durable again is idempotent, so retry a bounded number
        // of times.
        let mut attempts = Vec::new();
        let mut f = loop {
            match perfledger_client::Follower::start(
                follower_client.clone(),
                perfledger_client::FollowerConfig::new("cluster-reader"),
            )
            .await
            {
                Ok(f) => break f,
                Err(e) => {
                    attempts.push(e.to_string());
                    assert!(attempts.len() < 5, "durable consumer: {attempts:?}");
                }
            }
        };
        let mut seqs = Vec::new();
        let mut errors = Vec::new();
        while seqs.last().copied().unwrap_or(0) < total_expected {
            match f.next().await {
                Ok(c) => seqs.push(c.seq),
                // Transient errors during the failover: keep following.
                Err(e) => {
                    errors.push(e.to_string());
                    assert!(errors.len() < 1000, "follower keeps failing: {errors:?}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        (seqs, errors)
    });
    let acked = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, p) in publishers.into_iter().enumerate() {
        let acked = acked.clone();
        tasks.spawn(async move {
            let mut out = Vec::new();
            for n in 0..PER_PUBLISHER {
                let cmd = assess_risk(&format!("C{i}"), "2016/17 Q1", (n % 5 + 1) as u8, 3);
                let a = p
                    .send(&cmd)
                    .await
                    .unwrap_or_else(|e| panic!("publisher {i} #{n}: {e}"));
                assert!(!a.duplicate || a.seq > 0);
                out.push((cmd.command_id, a.seq, std::time::Instant::now()));
                acked.fetch_add(1, Ordering::SeqCst);
            }
            out
        });
    }
    // Kill the stream leader once a third of the load is acknowledged.
    let mut polled = 0;
    while acked.load(Ordering::SeqCst) < PUBLISHERS * PER_PUBLISHER / 3 {
        polled += 1;
        assert!(polled < 6000, "load did not progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let leader = log_leader(&gw_client).await;
    let victim: usize = leader
        .trim_start_matches('n')
        .parse()
        .expect("testkit node names are n0..n2");
    let at_kill = acked.load(Ordering::SeqCst);
    let killed_at = std::time::Instant::now();
    cluster.nodes[victim].kill();

    let mut acks: BTreeMap<uuid::Uuid, u64> = BTreeMap::new();
    let mut first_after_kill = None;
    let mut last_ack = killed_at;
    while let Some(r) = tasks.join_next().await {
        for (id, seq, at) in r.expect("publisher task") {
            assert!(acks.insert(id, seq).is_none());
            if at > killed_at {
                first_after_kill =
                    Some(first_after_kill.map_or(at, |f: std::time::Instant| f.min(at)));
                last_ack = last_ack.max(at);
            }
        }
    }
    // Reported, not asserted (no timed assertions).
    eprintln!(
        "killed node n{victim} (stream leader) after {at_kill} acks; first ack after the kill {:?} later; load finished {:?} after the kill",
        first_after_kill.map(|f| f - killed_at),
        last_ack - killed_at
    );
    assert_eq!(acks.len(), PUBLISHERS * PER_PUBLISHER);
    assert!(at_kill < acks.len(), "the kill happened during the load");
    // Appends resume with the victim still down...
    let extra = publisher(gw_client.clone())
        .send(&register_risk("AFTER"))
        .await
        .expect("append after the kill");
    // Entity loads keep working with the victim down. nats-server 2.9 keeps
    // placing ephemeral consumers on the dead peer for minutes, and those
    // creations are never answered (about one in three): a log that only
    // read subjects through consumers failed about a third of these loads
    // (each after its 2 s timeout), so 30 in a row would all succeed with
    // odds of (2/3)^30. `read_subject` falls back to message gets.
    let probe = log_common::open_r3(&gw_client, Duration::from_secs(2)).await;
    let mut subjects = Vec::new();
    let mut listing = probe
        .context()
        .get_stream("PERFLEDGER")
        .await
        .expect("stream")
        .info_with_subjects("pl.ev.>")
        .await
        .expect("stream subjects");
    while let Some(entry) = listing.next().await {
        let (subject, _) = entry.expect("stream subject");
        subjects.push(perfledger_log::Subject::parse(&subject).expect("a perfledger subject"));
    }
    subjects.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert!(!subjects.is_empty());
    let mut loads = 0;
    while loads < 30 {
        for s in &subjects {
            let version = probe.subject_version(s).await.expect("subject version");
            let records = probe
                .read_subject(s)
                .await
                .unwrap_or_else(|e| panic!("entity load #{loads} of {s} with a peer down: {e}"));
            assert_eq!(records.last().map(|r| r.seq), Some(version), "{s}");
            assert!(records.windows(2).all(|w| w[0].seq < w[1].seq));
            loads += 1;
        }
    }
    // ... and after it is back.
    cluster.nodes[victim].restart();
    let extra2 = publisher(gw_client.clone())
        .send(&register_risk("AFTER-RESTART"))
        .await
        .expect("append after the restart");
    assert!(extra2.seq > extra.seq);

    // Every acknowledged command is in the log exactly once, at its sequence.
    let head = svc.head().await;
    let mut seen: BTreeMap<uuid::Uuid, u64> = BTreeMap::new();
    let mut s = svc.log.read(1, Until::Head);
    let mut n = 0u64;
    while let Some(r) = s.next().await {
        let r = r.expect("record");
        n += 1;
        assert_eq!(r.seq, n, "gapless");
        assert!(
            seen.insert(r.msg_id, r.seq).is_none(),
            "msg id {} stored twice",
            r.msg_id
        );
    }
    assert_eq!(n, head);
    assert_eq!(head as usize, PUBLISHERS * PER_PUBLISHER + PUBLISHERS + 2);
    for (id, seq) in &acks {
        assert_eq!(
            seen.get(id),
            Some(seq),
            "acknowledged command {id} lost or moved"
        );
    }

    let (followed, follow_errors) = following.await.expect("follower task");
    eprintln!(
        "follower: {} commits, transient errors: {follow_errors:?}",
        followed.len()
    );
    assert_eq!(
        followed,
        (1..=head).collect::<Vec<u64>>(),
        "the follower saw every commit once, in order"
    );

    // The live projector rode through the failover: it converges to the same
    // read model as fresh rebuilds (one through a connection to another node).
    let live = svc.readmodel.clone().unwrap();
    // A bound, not a timing claim: catching up usually takes 0.5-3.5 s, but
    // the client re-creates its ordered consumer on its own schedule.
    for _ in 0..9000 {
        if live.checkpoint().unwrap() >= head {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(live.checkpoint().unwrap(), head);
    let fresh = rebuild(svc.log.as_ref()).await;
    let other_node = (victim + 1) % 3;
    let c2 = async_nats::connect(cluster.nodes[other_node].url())
        .await
        .unwrap();
    let log2 = AnyLog::JetStream(log_common::open_r3(&c2, Duration::from_secs(10)).await);
    let fresh2 = rebuild(&log2).await;
    let d = live.content_digest().unwrap();
    assert_eq!(d, fresh.content_digest().unwrap());
    assert_eq!(d, fresh2.content_digest().unwrap());
    let p = period("2016/17 Q1");
    let dash = |rm: &ReadModel| rm.dashboard(None, p, AsOf::Head).unwrap().digest;
    assert_eq!(dash(&live), dash(&fresh));
    assert_eq!(dash(&live), dash(&fresh2));
    let risks =
        |rm: &ReadModel| serde_json::to_string(&rm.risks(None, AsOf::Head).unwrap()).unwrap();
    assert_eq!(risks(&live), risks(&fresh2));
    svc.shutdown().await;
}

fn p_client(p: &Publisher) -> &async_nats::Client {
    p.client()
}

async fn log_leader(client: &async_nats::Client) -> String {
    let js = async_nats::jetstream::new(client.clone());
    for _ in 0..100 {
        if let Ok(mut s) = js.get_stream("PERFLEDGER").await {
            if let Ok(info) = s.info().await {
                if let Some(l) = info.cluster.as_ref().and_then(|c| c.leader.clone()) {
                    return l;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no stream leader");
}
