//! The deploy/ configuration on a real nats-server: per-service permissions,
//! the gateway's own checks, and malformed input. Every refusal leaves the
//! log's head unchanged.

#[path = "support/services_common.rs"]
mod common;

use bytes::Bytes;
use common::*;
use perfledger_client::wire::{Encoding, ServiceError};
use perfledger_client::{ClientError, CommandReply, Follower, FollowerConfig, QueryClient};
use perfledger_domain::codec;
use perfledger_log::async_nats;
use perfledger_log::async_nats::jetstream;

async fn raw_request(
    client: &async_nats::Client,
    subject: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> (Encoding, CommandReply, String) {
    let mut h = async_nats::HeaderMap::new();
    if let Some(e) = encoding {
        h.insert("Pl-Encoding", e);
    }
    let msg = client
        .request_with_headers(subject.to_string(), h, Bytes::from(body))
        .await
        .expect("gateway reply");
    let headers = msg.headers.clone().expect("reply headers");
    let enc = Encoding::parse(
        headers
            .get("Pl-Encoding")
            .expect("encoding header")
            .as_str(),
    )
    .expect("known encoding");
    let status = headers.get("Pl-Status").expect("status header").to_string();
    let reply = CommandReply::decode(enc, &msg.payload).expect("decodable reply");
    (enc, reply, status)
}

fn refusal(r: CommandReply) -> ServiceError {
    match r {
        CommandReply::Refused(e) => e,
        CommandReply::Accepted(a) => panic!("expected a refusal, got {a:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_user_cannot_publish_to_the_stream_or_send_commands_but_can_follow_and_query() {
    let server = deploy_server();
    let (ledger, _) = connect_as(&server.url(), "ledger").await;
    let svc = Services::start(ledger, 1, Some("barnet")).await;
    let (cs, _) = connect_as(&server.url(), "customer-services").await;
    let p = publisher(cs);
    p.send(&define_indicator("CS/01")).await.expect("define");
    let rec = p
        .send(&record_result("CS/01", "2016/17 Q1", "77%"))
        .await
        .expect("record");
    let head = svc.head().await;
    assert_eq!(head, rec.seq);

    let (reader, errors) = connect_as(&server.url(), "opendata").await;
    // A valid-looking commit published straight to an event subject, a
    // checkpoint, and a command: all refused by the server.
    let subject = format!(
        "pl.ev.barnet.indicator.{}",
        uuid::Uuid::from_u128(9).simple()
    );
    reader
        .publish(subject.clone(), Bytes::from_static(&[1, 0]))
        .await
        .unwrap();
    errors.wait_for(&["permissions violation", &subject]).await;
    reader
        .publish("pl.chk", Bytes::from_static(b"x"))
        .await
        .unwrap();
    errors.wait_for(&["permissions violation", "pl.chk"]).await;
    let cmd = codec::encode_command(&record_result("CS/01", "2016/17 Q2", "80%")).unwrap();
    reader
        .publish("pl.cmd.barnet.indicator", Bytes::from(cmd))
        .await
        .unwrap();
    errors
        .wait_for(&["permissions violation", "pl.cmd.barnet.indicator"])
        .await;
    // Through JetStream's publish API too: no ack, nothing stored.
    let js = jetstream::new(reader.clone());
    let ack = js
        .publish(subject.clone(), Bytes::from_static(&[1, 0]))
        .await;
    if let Ok(fut) = ack {
        assert!(fut.await.is_err(), "a read-only publish was acknowledged");
    }
    // Stream administration is refused too.
    assert!(js.delete_stream("PERFLEDGER").await.is_err());
    assert_eq!(
        svc.head().await,
        head,
        "the read-only user appended something"
    );

    // What it may do: follow the stream with its durable consumer, and query.
    let mut f = Follower::start(reader.clone(), FollowerConfig::new("opendata"))
        .await
        .expect("durable consumer for opendata");
    let first = f.next().await.expect("first commit");
    assert_eq!(first.seq, 1);
    let second = f.next().await.expect("second commit");
    assert_eq!(second.seq, rec.seq);
    assert_eq!(second.events.len(), 1);
    // Another consumer name is not its own.
    assert!(
        Follower::start(reader.clone(), FollowerConfig::new("someone-else"))
            .await
            .is_err()
    );
    let q = QueryClient::new(reader.clone());
    let view = q
        .query(
            "barnet",
            "indicator",
            &serde_json::json!({"indicator": "CS/01", "min_seq": rec.seq}),
        )
        .await
        .expect("indicator view");
    assert_eq!(view["as_of"], rec.seq);
    assert_eq!(view["rows"].as_array().unwrap().len(), 1);
    assert_eq!(svc.head().await, head);
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_publisher_cannot_record_indicator_results() {
    let server = deploy_server();
    let (ledger, _) = connect_as(&server.url(), "ledger").await;
    let svc = Services::start(ledger, 1, None).await;
    let (cs, _) = connect_as(&server.url(), "customer-services").await;
    publisher(cs)
        .send(&define_indicator("CS/02"))
        .await
        .expect("define");
    let (fin, errors) = connect_as(&server.url(), "finance").await;
    let p = publisher(fin.clone());
    let accepted = p
        .send(&define_revenue_line("Parking"))
        .await
        .expect("finance command");
    assert!(!accepted.duplicate);
    let head = svc.head().await;

    // 1. NATS permissions: the indicator subject is not the finance user's.
    let quick = perfledger_client::Publisher::new(
        fin.clone(),
        perfledger_client::PublisherConfig {
            timeout: std::time::Duration::from_millis(500),
            attempts: 1,
            ..Default::default()
        },
    );
    let err = quick
        .send(&record_result("CS/02", "2016/17 Q1", "70%"))
        .await
        .expect_err("finance user sent an indicator command");
    assert!(
        matches!(
            err,
            ClientError::Timeout { .. } | ClientError::NoResponders { .. } | ClientError::Nats(_)
        ),
        "{err:?}"
    );
    errors
        .wait_for(&["permissions violation", "pl.cmd.barnet.indicator"])
        .await;

    // 2. The gateway: an indicator command on the finance subject (which the
    //    finance user may publish to) is refused, naming both families.
    let body = codec::encode_command(&record_result("CS/02", "2016/17 Q1", "70%")).unwrap();
    let (_, reply, status) =
        raw_request(&fin, "pl.cmd.barnet.finance", Some("postcard"), body).await;
    assert_eq!(status, "not_permitted");
    assert_eq!(
        refusal(reply),
        ServiceError::NotPermitted {
            field: "family".into(),
            subject_value: "finance".into(),
            command_value: "indicator".into(),
        }
    );
    // ... and a finance command for another tenant than the subject's.
    let mut other = define_revenue_line("Lettings");
    other.tenant = perfledger_domain::Tenant::new("camden").unwrap();
    let body = codec::encode_command_json(&other).unwrap().into_bytes();
    let (enc, reply, _) = raw_request(&fin, "pl.cmd.barnet.finance", None, body).await;
    assert_eq!(enc, Encoding::Json);
    assert_eq!(
        refusal(reply),
        ServiceError::NotPermitted {
            field: "tenant".into(),
            subject_value: "barnet".into(),
            command_value: "camden".into(),
        }
    );
    assert_eq!(
        svc.head().await,
        head,
        "a refused command appended something"
    );
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_commands_get_clear_errors_and_append_nothing() {
    let server = deploy_server();
    let (ledger, _) = connect_as(&server.url(), "ledger").await;
    let svc = Services::start(ledger, 1, None).await;
    let (cs, _) = connect_as(&server.url(), "customer-services").await;
    publisher(cs.clone())
        .send(&define_indicator("CS/03"))
        .await
        .expect("define");
    let head = svc.head().await;
    let subj = "pl.cmd.barnet.indicator";
    let good_json =
        codec::encode_command_json(&record_result("CS/03", "2016/17 Q1", "70%")).unwrap();
    let good_pc = codec::encode_command(&record_result("CS/03", "2016/17 Q1", "70%")).unwrap();

    let malformed = |r: CommandReply| match refusal(r) {
        ServiceError::Malformed { encoding, detail } => (encoding, detail),
        other => panic!("expected malformed, got {other:?}"),
    };
    // JSON: a missing field is named.
    let missing = good_json.replacen("\"tenant\":\"barnet\",", "", 1);
    let (_, r, status) = raw_request(&cs, subj, Some("json"), missing.into_bytes()).await;
    assert_eq!(status, "malformed");
    let (enc, detail) = malformed(r);
    assert_eq!(enc, "json");
    assert!(detail.contains("missing field `tenant`"), "{detail}");
    // JSON: an unknown command is named.
    let unknown = good_json.replacen("RecordResult", "RecordResults", 1);
    let (_, r, _) = raw_request(&cs, subj, Some("json"), unknown.into_bytes()).await;
    let (_, detail) = malformed(r);
    assert!(detail.contains("RecordResults"), "{detail}");
    // JSON: a bad period label is named.
    let bad_period = good_json.replacen("2016/17 Q1", "2016/17 Q7", 1);
    let (_, r, _) = raw_request(&cs, subj, Some("json"), bad_period.into_bytes()).await;
    let (_, detail) = malformed(r);
    assert!(detail.contains("Q7"), "{detail}");
    // JSON: truncated, with the position.
    let (_, r, _) = raw_request(&cs, subj, None, good_json.as_bytes()[..40].to_vec()).await;
    let (enc, detail) = malformed(r);
    assert_eq!(enc, "json");
    assert!(detail.contains("line 1 column"), "{detail}");
    // JSON: not UTF-8.
    let (_, r, _) = raw_request(&cs, subj, Some("json"), b"{\"a\":\"\xff\"}".to_vec()).await;
    let (_, detail) = malformed(r);
    assert!(detail.contains("not UTF-8"), "{detail}");
    // Postcard: truncated, wrong version byte, trailing bytes, empty.
    let (_, r, _) = raw_request(
        &cs,
        subj,
        Some("postcard"),
        good_pc[..good_pc.len() / 2].to_vec(),
    )
    .await;
    let (enc, detail) = malformed(r);
    assert_eq!(enc, "postcard");
    assert!(detail.contains("command: malformed"), "{detail}");
    let mut v2 = good_pc.clone();
    v2[0] = 2;
    let (_, r, _) = raw_request(&cs, subj, Some("postcard"), v2).await;
    let (_, detail) = malformed(r);
    assert!(detail.contains("unsupported version 2"), "{detail}");
    let mut trailing = good_pc.clone();
    trailing.extend_from_slice(&[0, 0, 0]);
    let (_, r, _) = raw_request(&cs, subj, Some("postcard"), trailing).await;
    let (_, detail) = malformed(r);
    assert!(detail.contains("3 trailing bytes"), "{detail}");
    let (_, r, _) = raw_request(&cs, subj, Some("postcard"), Vec::new()).await;
    let (_, detail) = malformed(r);
    assert!(detail.contains("empty"), "{detail}");
    // An unknown encoding header is named (reply in JSON).
    let (enc, r, _) = raw_request(&cs, subj, Some("xml"), good_pc.clone()).await;
    assert_eq!(enc, Encoding::Json);
    let (encoding, detail) = malformed(r);
    assert_eq!(encoding, "xml");
    assert!(detail.contains("Pl-Encoding"), "{detail}");
    // Over the size limit (below the server's max_payload).
    let (_, r, status) = raw_request(&cs, subj, Some("json"), vec![b' '; 300 * 1024]).await;
    assert_eq!(status, "too_large");
    assert!(matches!(refusal(r), ServiceError::TooLarge { max, .. } if max == 256 * 1024));
    // A bad expected-version header.
    let mut h = async_nats::HeaderMap::new();
    h.insert("Pl-Expected-Version", "seven");
    let msg = cs
        .request_with_headers(subj.to_string(), h, Bytes::from(good_pc.clone()))
        .await
        .unwrap();
    let (_, detail) = malformed(CommandReply::decode(Encoding::Postcard, &msg.payload).unwrap());
    assert!(detail.contains("Pl-Expected-Version \"seven\""), "{detail}");

    assert_eq!(svc.head().await, head, "malformed input appended something");
    // The good command still goes through afterwards.
    let (_, r, status) = raw_request(&cs, subj, Some("json"), good_json.into_bytes()).await;
    assert_eq!(status, "ok", "{r:?}");
    assert_eq!(svc.head().await, head + 1);
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_consumer_cannot_make_the_server_deliver_into_the_stream_or_the_gateway() {
    use async_nats::jetstream::consumer::push;
    let server = deploy_server();
    let (ledger, _) = connect_as(&server.url(), "ledger").await;
    let svc = Services::start(ledger, 1, None).await;
    let (cs, _) = connect_as(&server.url(), "customer-services").await;
    publisher(cs)
        .send(&define_indicator("PC/1"))
        .await
        .expect("define");
    let head = svc.head().await;
    let (reader, _) = connect_as(&server.url(), "opendata").await;
    let js = jetstream::new(reader.clone());
    let stream = js.get_stream_no_info("PERFLEDGER").await.unwrap();
    // Delivering stored records back onto an event subject: refused (cycle).
    let into_stream = stream
        .create_consumer(push::Config {
            durable_name: Some("opendata".into()),
            deliver_subject: format!(
                "pl.ev.barnet.indicator.{}",
                uuid::Uuid::from_u128(1).simple()
            ),
            ..Default::default()
        })
        .await;
    assert!(
        into_stream.is_err(),
        "a push consumer delivering into the stream was created"
    );
    // Delivering onto the command subject: whatever the server decides, the
    // gateway never appends stored commits as commands.
    let into_gateway = stream
        .create_consumer(push::Config {
            durable_name: Some("opendata".into()),
            deliver_subject: "pl.cmd.barnet.indicator".into(),
            ..Default::default()
        })
        .await;
    let created = into_gateway.is_ok();
    let mut delivered = 0;
    if let Ok(mut c) = into_gateway {
        // Whether the server delivers (the gateway listens in a queue group
        // and the consumer has none), bounded polling; reported below.
        for _ in 0..100 {
            delivered = c.info().await.unwrap().delivered.stream_sequence;
            if delivered >= head {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    assert_eq!(svc.head().await, head, "a delivered record was appended");
    eprintln!(
        "push consumer into the stream: {:?}; into pl.cmd: {}",
        into_stream.err().map(|e| e.to_string()),
        if created {
            format!("created, delivered up to {delivered}")
        } else {
            "refused".to_string()
        }
    );
    svc.shutdown().await;
}
