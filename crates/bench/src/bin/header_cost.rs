//! Server-side cost of JetStream publish headers, on raw async-nats: each
//! variant publishes the same N pipelined messages to a fresh stream, rounds
//! interleaved so a busy moment hits every variant alike (best of rounds).
//!
//! A variant is a `+`-joined set of header tokens:
//!
//! * `none` — no headers;
//! * `id` / `id32` — `Nats-Msg-Id`, a UUID hyphenated (36 chars) / simple (32);
//! * `subj` — `Nats-Expected-Last-Subject-Sequence` on every message;
//! * `subj1st` — the same, only on the first message to each subject;
//! * `lastid` — `Nats-Expected-Last-Msg-Id`: the previous message's id;
//! * `seq` — `Nats-Expected-Last-Sequence` (stream-wide);
//! * `rec` — `Pl-Recorded-At`;
//! * `plid` — the msg id in a header the server ignores (`Pl-Msg-Id`): the
//!   cost of carrying it without the dedupe table;
//! * `batch` — ADR-50 atomic batches of `--batch` messages (server ≥ 2.12),
//!   one batch in flight: one ack per batch instead of one per message.
//!
//! `cargo run --release -p perfledger-bench --bin header_cost -- --n 100000`

// jemalloc, configured as every perfledger binary's (`perfledger_alloc`).
use perfledger_alloc as _;

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
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Messages per atomic batch (`batch` variants).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Comma-separated variants (see the module docs).
    #[arg(
        long,
        default_value = "none,id,id32,subj,rec,id+subj,id+subj+rec,id+lastid,id+subj1st+lastid,id+subj1st+lastid+rec,id+seq+rec"
    )]
    variants: String,
}

#[derive(Debug, Clone, Copy, Default)]
struct Variant {
    id: bool,
    id32: bool,
    subj: bool,
    subj1st: bool,
    lastid: bool,
    seq: bool,
    rec: bool,
    batch: bool,
    plid: bool,
}

fn parse_variant(s: &str) -> Result<Variant, String> {
    let mut v = Variant::default();
    for t in s.split('+') {
        match t {
            "none" => {}
            "id" => v.id = true,
            "id32" => v.id32 = true,
            "subj" => v.subj = true,
            "subj1st" => v.subj1st = true,
            "lastid" => v.lastid = true,
            "seq" => v.seq = true,
            "rec" => v.rec = true,
            "batch" => v.batch = true,
            "plid" => v.plid = true,
            other => return Err(format!("unknown header token {other:?} in variant {s:?}")),
        }
    }
    Ok(v)
}

fn msg_id(v: &Variant, i: usize) -> String {
    let u = Uuid::from_u128(0xB0_0000 | i as u128);
    if v.id32 {
        u.simple().to_string()
    } else {
        u.hyphenated().to_string()
    }
}

/// Message `i` of `name`'s run with `v`'s headers, and whether it ends its
/// atomic batch (the last of `--batch` messages, or of the run).
fn with_headers(
    mut m: PublishMessage,
    a: &Args,
    v: &Variant,
    name: &str,
    i: usize,
) -> (PublishMessage, bool) {
    let batch_id = format!("{name}b{}", i / a.batch);
    let batch_seq = i % a.batch + 1;
    let batch_last = batch_seq == a.batch || i + 1 == a.n;
    if v.batch {
        m = m
            .header("Nats-Batch-Id", batch_id.as_str())
            .header("Nats-Batch-Sequence", batch_seq.to_string());
        if batch_last {
            m = m.header("Nats-Batch-Commit", "1");
        }
    }
    if v.id || v.id32 {
        m = m.message_id(msg_id(v, i));
    }
    if v.plid {
        m = m.header("Pl-Msg-Id", msg_id(v, i));
    }
    if v.lastid && i > 0 {
        m = m.header("Nats-Expected-Last-Msg-Id", msg_id(v, i - 1));
    }
    if v.rec {
        m = m.header(
            "Pl-Recorded-At",
            (1_700_000_000_000i64 + i as i64).to_string(),
        );
    }
    if v.seq {
        m = m.expected_last_sequence(i as u64);
    }
    if v.subj || (v.subj1st && i < a.entities) {
        let expected = if i < a.entities {
            0
        } else {
            (i - a.entities + 1) as u64
        };
        m = m.expected_last_subject_sequence(expected);
    }
    (m, batch_last)
}

/// Publish the run's `--n` messages with `v`'s headers to the fresh stream
/// `name`, `--window` acks in flight (one batch in flight for `batch`);
/// returns the rate in msg/s.
async fn publish_variant(
    js: &jetstream::Context,
    a: &Args,
    v: &Variant,
    name: &str,
    payload: &Bytes,
) -> Result<f64, Box<dyn std::error::Error>> {
    let subjects: Vec<String> = (0..a.entities)
        .map(|e| format!("{name}.ev.bench.indicator.{:032x}", e + 1))
        .collect();
    let mut pending = VecDeque::with_capacity(a.window);
    let t = Instant::now();
    for i in 0..a.n {
        if pending.len() >= a.window {
            let f: jetstream::context::PublishAckFuture = pending.pop_front().ok_or("pending")?;
            f.await?;
        }
        let (m, batch_last) = with_headers(
            PublishMessage::build().payload(payload.clone()),
            a,
            v,
            name,
            i,
        );
        let subject = subjects[i % a.entities].clone();
        if v.batch && !batch_last {
            let m = m.outbound_message(subject);
            js.client()
                .publish_with_headers(m.subject, m.headers.unwrap_or_default(), m.payload)
                .await?;
            continue;
        }
        let ack = js.send_publish(subject, m).await?;
        if v.batch {
            ack.await?;
        } else {
            pending.push_back(ack);
        }
    }
    while let Some(f) = pending.pop_front() {
        f.await?;
    }
    Ok(a.n as f64 / t.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    let variants: Vec<(String, Variant)> = a
        .variants
        .split(',')
        .map(|s| parse_variant(s).map(|v| (s.to_string(), v)))
        .collect::<Result<_, _>>()?;
    let server = NatsServer::start();
    let client = async_nats::connect(server.url()).await?;
    let js = jetstream::ContextBuilder::new()
        .max_ack_inflight(a.window * 2)
        .backpressure_on_inflight(true)
        .build(client);
    let payload = Bytes::from(vec![b'x'; a.size]);
    println!(
        "header_cost: n={} payload={}B entities={} rounds={}",
        a.n, a.size, a.entities, a.rounds
    );
    let mut best = vec![0f64; variants.len()];
    for round in 0..a.rounds {
        for (k, (label, v)) in variants.iter().enumerate() {
            let name = format!("H{round}x{k}");
            js.create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![format!("{name}.>")],
                storage: stream::StorageType::File,
                allow_atomic_publish: v.batch,
                ..Default::default()
            })
            .await?;
            let r = publish_variant(&js, &a, v, &name, &payload).await?;
            best[k] = best[k].max(r);
            println!("round {round}: {label:<28} {r:>10.0} msg/s");
            js.delete_stream(&name).await?;
        }
    }
    println!();
    let base = best[0];
    for ((label, _), r) in variants.iter().zip(&best) {
        println!("{label:<28} {r:>10.0} msg/s  {:.2}x of the first", r / base);
    }
    Ok(())
}
