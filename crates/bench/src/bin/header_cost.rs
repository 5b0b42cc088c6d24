//! Server-side cost of perfledger's publish headers on raw async-nats:
//! none vs `Nats-Msg-Id` vs `Nats-Expected-Last-Subject-Sequence` vs both.
//!
//! `cargo run --release -p perfledger-bench --bin header_cost -- --n 100000`

use std::collections::VecDeque;
use std::time::Instant;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use bytes::Bytes;
use clap::Parser;
use perfledger_testkit::NatsServer;
use uuid::Uuid;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    #[arg(long, default_value_t = 200)]
    size: usize,
    #[arg(long, default_value_t = 1_000)]
    entities: usize,
    #[arg(long, default_value_t = 4096)]
    window: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    let server = NatsServer::start();
    let client = async_nats::connect(server.url()).await?;
    let js = jetstream::ContextBuilder::new()
        .max_ack_inflight(a.window * 2)
        .backpressure_on_inflight(true)
        .build(client);
    let payload = Bytes::from(vec![b'x'; a.size]);
    println!(
        "header_cost: n={} payload={}B entities={}",
        a.n, a.size, a.entities
    );
    for (k, (label, msg_id, expected, recorded, stream_seq)) in [
        ("no headers", false, false, false, false),
        ("Nats-Msg-Id", true, false, false, false),
        (
            "Nats-Expected-Last-Subject-Sequence",
            false,
            true,
            false,
            false,
        ),
        ("both", true, true, false, false),
        (
            "both + Pl-Recorded-At (perfledger)",
            true,
            true,
            true,
            false,
        ),
        ("Pl-Recorded-At only", false, false, true, false),
        (
            "Nats-Expected-Last-Sequence (stream)",
            false,
            false,
            false,
            true,
        ),
        (
            "Msg-Id + Expected-Last-Sequence + Recorded",
            true,
            false,
            true,
            true,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        js.create_stream(stream::Config {
            name: format!("H{k}"),
            subjects: vec![format!("h{k}.>")],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await?;
        let subjects: Vec<String> = (0..a.entities)
            .map(|e| format!("h{k}.ev.bench.indicator.{:032x}", e + 1))
            .collect();
        let mut pending = VecDeque::with_capacity(a.window);
        let t = Instant::now();
        for i in 0..a.n {
            if pending.len() >= a.window {
                let f: jetstream::context::PublishAckFuture =
                    pending.pop_front().ok_or("pending")?;
                f.await?;
            }
            let mut m = PublishMessage::build().payload(payload.clone());
            if msg_id {
                m = m.message_id(Uuid::from_u128(i as u128).hyphenated().to_string());
            }
            if recorded {
                m = m.header(
                    "Pl-Recorded-At",
                    (1_700_000_000_000i64 + i as i64).to_string(),
                );
            }
            if stream_seq {
                m = m.expected_last_sequence(i as u64);
            }
            if expected {
                let v = if i < a.entities {
                    0
                } else {
                    (i - a.entities + 1) as u64
                };
                m = m.expected_last_subject_sequence(v);
            }
            pending.push_back(js.send_publish(subjects[i % a.entities].clone(), m).await?);
        }
        while let Some(f) = pending.pop_front() {
            f.await?;
        }
        let d = t.elapsed();
        println!("{label:<40} {:>10.0} msg/s", a.n as f64 / d.as_secs_f64());
    }
    Ok(())
}
