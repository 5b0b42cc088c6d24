//! The command gateway, client and query service end to end on a real
//! nats-server (no auth: permissions are in services_permissions.rs).

#[path = "support/services_common.rs"]
mod common;

use std::sync::Arc;

use common::*;
use perfledger_client::wire::{Encoding, ServiceError};
use perfledger_client::{
    ClientError, Follower, FollowerConfig, Publisher, PublisherConfig, QueryClient,
};
use perfledger_domain::command::Command;
use perfledger_log::async_nats;
use perfledger_log::{integrity, EventLog};
use perfledger_testkit::NatsServer;

async fn setup(tenant: Option<&str>) -> (NatsServer, async_nats::Client, Services) {
    let server = NatsServer::start();
    let client = async_nats::connect(server.url()).await.unwrap();
    let svc = Services::start(client.clone(), 1, tenant).await;
    (server, client, svc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_appended_idempotently_with_typed_errors() {
    let (_server, client, svc) = setup(None).await;
    let pc = publisher(client.clone());
    let json = Publisher::new(
        client.clone(),
        PublisherConfig {
            encoding: Encoding::Json,
            ..PublisherConfig::default()
        },
    );
    let def = define_indicator("GW/01");
    let a = pc.send(&def).await.unwrap();
    assert_eq!((a.seq, a.duplicate, a.events), (1, false, 1));
    // Re-sent (same command id, either encoding): the original sequence.
    let again = json.send(&def).await.unwrap();
    assert_eq!((again.seq, again.duplicate, again.events), (1, true, 0));
    let rec = record_result("GW/01", "2016/17 Q1", "77%");
    let r = json.send(&rec).await.unwrap();
    assert_eq!(r.seq, 2);
    assert_eq!(svc.head().await, 2);

    // Validation names the rule, field and value.
    let err = pc
        .send(&record_result("GW/01", "2016/17 Q1", "78%"))
        .await
        .unwrap_err();
    match err.refusal() {
        Some(ServiceError::Validation {
            command,
            rule,
            field,
            value,
            ..
        }) => {
            assert_eq!(command, "RecordResult");
            assert_eq!(rule, "already_recorded");
            assert_eq!(field, "result");
            assert_eq!(value, "2016/17 Q1");
        }
        other => panic!("{other:?} / {err}"),
    }
    let err = pc
        .send(&record_result("NOPE/9", "2016/17 Q1", "1%"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.refusal(), Some(ServiceError::Validation { rule, value, .. }) if rule == "unknown_entity" && value == "NOPE/9"),
        "{err}"
    );
    // Out of range risk scores name the field.
    pc.send(&register_risk("R1")).await.unwrap();
    let err = pc
        .send(&assess_risk("R1", "2016/17 Q1", 6, 2))
        .await
        .unwrap_err();
    assert!(
        matches!(err.refusal(), Some(ServiceError::Validation { rule, field, value, .. }) if rule == "out_of_range" && field == "impact" && value == "6"),
        "{err}"
    );

    // A pinned version: conflict carries the current version.
    let head = svc.head().await;
    let err = pc
        .send_expecting(&record_result("GW/01", "2016/17 Q2", "79%"), 1)
        .await
        .unwrap_err();
    match err.refusal() {
        Some(ServiceError::Conflict {
            expected, current, ..
        }) => assert_eq!((*expected, *current), (1, 2)),
        other => panic!("{other:?}"),
    }
    let ok = pc
        .send_expecting(&record_result("GW/01", "2016/17 Q2", "79%"), 2)
        .await
        .unwrap();
    assert_eq!(ok.seq, head + 1);

    // A closed period.
    pc.send(&envelope(Command::ClosePeriod {
        period: period("2016/17 Q3"),
    }))
    .await
    .unwrap();
    let err = pc
        .send(&record_result("GW/01", "2016/17 Q3", "80%"))
        .await
        .unwrap_err();
    assert_eq!(
        err.refusal(),
        Some(&ServiceError::PeriodClosed {
            command: "RecordResult".into(),
            period: "2016/17 Q3".into()
        })
    );
    let before = svc.head().await;
    // No gateway on the subject: the client says so after its attempts.
    let nobody = Publisher::new(
        client.clone(),
        PublisherConfig {
            prefix: "other".into(),
            attempts: 2,
            backoff: std::time::Duration::from_millis(1),
            ..PublisherConfig::default()
        },
    );
    let err = nobody.send(&define_indicator("X")).await.unwrap_err();
    assert!(
        matches!(err, ClientError::NoResponders { attempts: 2, .. }),
        "{err}"
    );
    assert_eq!(svc.head().await, before);
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateway_instances_share_the_queue_group_and_concurrent_sends_all_land_once() {
    let (_server, client, svc) = setup(None).await;
    let second = Services::start_on(client.clone(), svc.log.clone(), None).await;
    let pc = Arc::new(publisher(client.clone()));
    pc.send(&register_risk("R-LOAD")).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40u32 {
        let pc = pc.clone();
        tasks.spawn(async move {
            let cmd = assess_risk("R-LOAD", "2016/17 Q1", (i % 5 + 1) as u8, 2);
            let first = pc.send(&cmd).await.unwrap();
            let dup = pc.send(&cmd).await.unwrap();
            assert!(dup.duplicate);
            assert_eq!(dup.seq, first.seq);
            first.seq
        });
    }
    let mut seqs = Vec::new();
    while let Some(r) = tasks.join_next().await {
        seqs.push(r.unwrap());
    }
    seqs.sort();
    seqs.dedup();
    assert_eq!(
        seqs.len(),
        40,
        "each command landed once at its own sequence"
    );
    assert_eq!(svc.head().await, 41);
    second.shutdown().await;
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_skips_checkpoints_keeps_sequence_order_and_resumes() {
    let (_server, client, svc) = setup(None).await;
    let pc = publisher(client.clone());
    pc.send(&define_indicator("F/1")).await.unwrap(); // 1
    pc.send(&record_result("F/1", "2016/17 Q1", "50%"))
        .await
        .unwrap(); // 2
    integrity::checkpoint(svc.log.as_ref(), "pl")
        .await
        .unwrap()
        .expect("checkpoint"); // 3
    pc.send(&record_result("F/1", "2016/17 Q2", "60%"))
        .await
        .unwrap(); // 4
    let mut f = Follower::start(client.clone(), FollowerConfig::new("reader-a"))
        .await
        .unwrap();
    let seqs: Vec<u64> = [
        f.next().await.unwrap(),
        f.next().await.unwrap(),
        f.next().await.unwrap(),
    ]
    .iter()
    .map(|c| c.seq)
    .collect();
    assert_eq!(seqs, vec![1, 2, 4], "the checkpoint at 3 is skipped");
    assert_eq!(f.position(), 4);
    f.ack().await.unwrap();
    drop(f);
    // From a given sequence, with a fresh durable name.
    let mut cfg = FollowerConfig::new("reader-b");
    cfg.from = 4;
    let mut g = Follower::start(client.clone(), cfg).await.unwrap();
    let c = g.next().await.unwrap();
    assert_eq!(c.seq, 4);
    assert_eq!(c.events[0].command_id, {
        // the command id is the log's msg id
        let recs = svc.log.read(4, perfledger_log::Until::Seq(4));
        use futures::StreamExt;
        let r: Vec<_> = recs.collect().await;
        r[0].as_ref().unwrap().msg_id
    });
    // Resuming reader-a continues after what it acknowledged.
    pc.send(&record_result("F/1", "2016/17 Q3", "70%"))
        .await
        .unwrap(); // 5
    let mut f = Follower::start(client.clone(), FollowerConfig::new("reader-a"))
        .await
        .unwrap();
    assert_eq!(f.next().await.unwrap().seq, 5);
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_service_answers_views_as_of_a_position() {
    let (_server, client, svc) = setup(Some("barnet")).await;
    let pc = publisher(client.clone());
    pc.send(&define_indicator("Q/1")).await.unwrap();
    let first = pc
        .send(&record_result("Q/1", "2016/17 Q1", "50%"))
        .await
        .unwrap();
    pc.send(&register_risk("QR1")).await.unwrap();
    let last = pc
        .send(&assess_risk("QR1", "2016/17 Q1", 4, 4))
        .await
        .unwrap();
    let q = QueryClient::new(client.clone());
    let status = q
        .query(
            "barnet",
            "status",
            &serde_json::json!({"min_seq": last.seq}),
        )
        .await
        .unwrap();
    assert!(status["checkpoint"].as_u64().unwrap() >= last.seq);
    let hist = q
        .query(
            "barnet",
            "history",
            &serde_json::json!({"indicator": "Q/1"}),
        )
        .await
        .unwrap();
    assert_eq!(
        hist["entries"].as_array().map(|a| a.len()),
        Some(2),
        "{hist}"
    );
    let earlier = q
        .query(
            "barnet",
            "history",
            &serde_json::json!({"indicator": "Q/1", "as_of": {"Seq": first.seq - 1}}),
        )
        .await
        .unwrap();
    assert_eq!(earlier["entries"].as_array().map(|a| a.len()), Some(1));
    let risks = q
        .query("barnet", "risks", &serde_json::json!({}))
        .await
        .unwrap();
    assert!(risks.to_string().contains("QR1"), "{risks}");
    let dash = q
        .query(
            "barnet",
            "dashboard",
            &serde_json::json!({"period": "2016/17 Q1"}),
        )
        .await
        .unwrap();
    assert_eq!(dash["digest"].as_str().map(|d| d.len()), Some(64));
    let audit = q
        .query(
            "barnet",
            "audit",
            &serde_json::json!({"kind": "risk", "key": "QR1"}),
        )
        .await
        .unwrap();
    assert_eq!(audit["digest"].as_str().map(|d| d.len()), Some(64));
    let fin = q
        .query(
            "barnet",
            "finance",
            &serde_json::json!({"period": "2016/17 Q1"}),
        )
        .await
        .unwrap();
    assert!(fin.is_object());
    // Bad queries name what is wrong.
    let e = q
        .query("barnet", "nonsense", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(e.refusal(), Some(ServiceError::BadQuery { detail, .. }) if detail.contains("unknown view"))
    );
    let e = q
        .query("barnet", "dashboard", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(e.refusal(), Some(ServiceError::BadQuery { detail, .. }) if detail.contains("`period`"))
    );
    let e = q
        .query(
            "barnet",
            "history",
            &serde_json::json!({"indicator": "NOPE"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e.refusal(), Some(ServiceError::BadQuery { detail, .. }) if detail.contains("NOPE"))
    );
    let e = q
        .query("barnet", "status", &serde_json::json!({"colour": 1}))
        .await
        .unwrap_err();
    assert!(
        matches!(e.refusal(), Some(ServiceError::Malformed { detail, .. }) if detail.contains("colour"))
    );
    // Another tenant has no query service here.
    let e = q
        .query("camden", "status", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::NoResponders { .. }), "{e}");
    svc.shutdown().await;
}
