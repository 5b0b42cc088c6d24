//! Log throughput: raw async-nats JetStream vs perfledger's JetStream log, and
//! the embedded backend. Starts its own nats-server (perfledger-testkit).
//!
//! perfledger's timed append path is the whole of what the ledger does per
//! commit once a command is validated: build the event envelope, encode it
//! (postcard), and append it with its headers (dedupe id, expected subject
//! sequence, recorded time). The envelope's commentary is sized so that the
//! encoded commit is exactly `--size` bytes, the size of the raw messages.
//!
//! `cargo run --release -p perfledger-bench --bin log_bench -- --n 200000`
//!
//! `--writers 1,8,32` measures the embedded log alone under concurrent
//! writers instead: each appends `--n / W` commits one at a time to an
//! entity of its own, each expecting the version its last append returned
//! (as the ledger does), every append fsynced before its answer and
//! concurrent appends sharing a group commit; prints appends/s, latency
//! percentiles and the process's peak thread count (blocking threads held
//! by commit tasks).

// jemalloc, configured as every perfledger binary's (`perfledger_alloc`).
use perfledger_alloc as _;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use futures::StreamExt;
use perfledger_domain::event::ResultEntry;
use perfledger_domain::parse::parse_result;
use perfledger_domain::time::Timestamp;
use perfledger_domain::{
    decode_commit, encode_commit, EntityKind, EntityRef, Envelope, EventBody, Period, Tenant, Text,
    SCHEMA_VERSION,
};
use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};
use perfledger_log::{Commit, EmbeddedLog, EventLog, Expected, Subject, Until};
use perfledger_testkit::NatsServer;
use uuid::Uuid;

#[derive(Parser, Debug)]
struct Args {
    /// Messages per measurement.
    #[arg(long, default_value_t = 200_000)]
    n: usize,
    /// Payload bytes.
    #[arg(long, default_value_t = 200)]
    size: usize,
    /// Distinct entities (subjects).
    #[arg(long, default_value_t = 1_000)]
    entities: usize,
    /// Acks in flight.
    #[arg(long, default_value_t = 4096)]
    window: usize,
    /// JetStream rounds (best of, the machine is shared).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Single fsync'ed embedded appends to time.
    #[arg(long, default_value_t = 2_000)]
    single: usize,
    /// Only the embedded log under this many concurrent writers each
    /// (comma-separated), `--n` appends in all per count (module docs).
    #[arg(long, value_delimiter = ',')]
    writers: Vec<usize>,
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// One indicator result, as the ledger would record it: the envelope of a
/// `ResultRecorded` event whose commentary has `commentary_len` bytes. The
/// per-commit fields are set by [`stamped`].
fn envelope_template(commentary_len: usize) -> Envelope {
    let text = |field, v: &str| Text::new(field, v).expect("valid bench text");
    let commentary = "c".repeat(commentary_len);
    Envelope {
        event_id: Uuid::nil(),
        entity: EntityRef {
            kind: EntityKind::Indicator,
            id: Uuid::nil(),
        },
        tenant: Tenant::new("bench").expect("valid tenant"),
        recorded_at: Timestamp(0),
        effective: Some(Period::parse("2016/17 Q1").expect("valid period")),
        actor: text("actor", "finance.system"),
        source: text("source", "bench"),
        reason: None,
        correlation_id: Uuid::from_u128(7),
        causation_id: None,
        command_id: Uuid::nil(),
        schema_version: SCHEMA_VERSION,
        body: EventBody::ResultRecorded {
            period: Period::parse("2016/17 Q1").expect("valid period"),
            entry: ResultEntry {
                result: parse_result("41%").expect("valid result"),
                commentary: (commentary_len > 0).then(|| text("commentary", &commentary)),
                intervention: None,
                benchmarks: Vec::new(),
            },
        },
        command_digest: Some([0x5a; 32]),
        migrated_at: None,
    }
}

/// Commit `i`'s envelope: the template with its ids and recorded time. Like
/// the ledger, which clones the command's parsed fields into each envelope.
fn stamped(template: &Envelope, i: usize, entity: Uuid) -> Envelope {
    let mut e = template.clone();
    e.event_id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | i as u128);
    e.entity.id = entity;
    e.recorded_at = Timestamp(1_700_000_000_000 + i as i64);
    e.command_id = msg_id(i);
    e
}

fn msg_id(i: usize) -> Uuid {
    Uuid::from_u128(0xBE00_0000_0000_0000_0000_0000_0000_0000 | i as u128)
}

/// The commentary length that makes one encoded commit exactly `size` bytes.
fn commentary_len_for(size: usize) -> Result<usize, String> {
    let len = |c| encode_commit(&[stamped(&envelope_template(c), 0, Uuid::nil())]).map(|b| b.len());
    let smallest = len(0).map_err(|e| e.to_string())?;
    (1..=size)
        .find(|&c| len(c).is_ok_and(|l| l == size))
        .ok_or_else(|| {
            format!("no envelope encodes to exactly {size} bytes (the smallest is {smallest})")
        })
}

fn subjects(prefix: &str, entities: usize) -> Vec<(Uuid, Subject)> {
    (0..entities)
        .map(|e| {
            let id = Uuid::from_u128(e as u128 + 1);
            Subject::entity(prefix, "bench", "indicator", id).map(|s| (id, s))
        })
        .collect::<Result<_, _>>()
        .expect("valid subjects")
}

/// Commits `from..to` of the single-writer bench load: envelope, encoding,
/// expectation. Commit i gets sequence i+1, so the expected version of an
/// entity is the sequence of its previous commit.
fn commits(
    subjects: &[(Uuid, Subject)],
    from: usize,
    to: usize,
    commentary_len: usize,
) -> Vec<Commit> {
    let entities = subjects.len();
    let template = envelope_template(commentary_len);
    (from..to)
        .map(|i| {
            let (entity, subject) = &subjects[i % entities];
            let envelope = stamped(&template, i, *entity);
            let payload = encode_commit(std::slice::from_ref(&envelope)).expect("encodable");
            Commit {
                subject: subject.clone(),
                expected: if i < entities {
                    Expected::Empty
                } else {
                    Expected::At((i - entities + 1) as u64)
                },
                msg_id: envelope.command_id,
                recorded_at: envelope.recorded_at.0,
                payload: payload.into(),
            }
        })
        .collect()
}

/// Time a raw ordered-consumer read of the first `n` messages of `stream`.
async fn raw_ordered_read(
    stream: &async_nats::jetstream::stream::Stream,
    n: usize,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let t = Instant::now();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await?;
    let mut msgs = consumer.messages().await?;
    for _ in 0..n {
        let m = msgs.next().await.ok_or("raw consumer ended")??;
        std::hint::black_box(&m.payload);
    }
    Ok(t.elapsed())
}

/// One line of the summary: raw and perfledger rates and their ratio.
fn print_ratio(label: &str, note: &str, n: usize, raw: Duration, perfledger: Duration) {
    println!(
        "{label:<44} {:>12.0} {:>12.0} {:>7.2}x   ({note})",
        rate(n, raw),
        rate(n, perfledger),
        raw.as_secs_f64() / perfledger.as_secs_f64()
    );
}

#[derive(Debug, Clone, Copy)]
struct Round {
    raw_pub: Duration,
    raw_hdr_pub: Duration,
    pl_pub: Duration,
    raw_read: Duration,
    raw_same_read: Duration,
    pl_read: Duration,
    pl_read_decode: Duration,
}

/// Raw async-nats: `--n` headerless pipelined publishes to a fresh stream
/// `RAW{r}`; returns the stream (read later) and the publish time.
async fn raw_publish(
    a: &Args,
    r: usize,
    js: &async_nats::jetstream::Context,
    payload: &Bytes,
) -> Result<(async_nats::jetstream::stream::Stream, Duration), Box<dyn std::error::Error>> {
    let raw_stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: format!("RAW{r}"),
            subjects: vec![format!("raw{r}.>")],
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    let raw_subjects: Vec<String> = (0..a.entities)
        .map(|e| format!("raw{r}.ev.bench.indicator.{:032x}", e + 1))
        .collect();
    let t = Instant::now();
    let mut pending = VecDeque::with_capacity(a.window);
    for i in 0..a.n {
        if pending.len() >= a.window {
            let f: async_nats::jetstream::context::PublishAckFuture =
                pending.pop_front().expect("pending");
            f.await?;
        }
        pending.push_back(
            js.publish(raw_subjects[i % a.entities].clone(), payload.clone())
                .await?,
        );
    }
    while let Some(f) = pending.pop_front() {
        f.await?;
    }
    Ok((raw_stream, t.elapsed()))
}

/// Same raw client, but with perfledger's headers (msg id, expected
/// subject sequence, recorded-at): isolates the server's cost of dedupe and
/// the concurrency check from perfledger's client-side overhead.
async fn raw_publish_with_headers(
    a: &Args,
    r: usize,
    js: &async_nats::jetstream::Context,
    payload: &Bytes,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let hdr_stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: format!("RAWHDR{r}"),
            subjects: vec![format!("rawh{r}.>")],
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    let hdr_subjects: Vec<String> = (0..a.entities)
        .map(|e| format!("rawh{r}.ev.bench.indicator.{:032x}", e + 1))
        .collect();
    let mut pending = VecDeque::with_capacity(a.window);
    let t = Instant::now();
    for i in 0..a.n {
        if pending.len() >= a.window {
            pending.pop_front().expect("pending").await?;
        }
        let expected = if i < a.entities {
            0
        } else {
            (i - a.entities + 1) as u64
        };
        let msg = async_nats::jetstream::message::PublishMessage::build()
            .payload(payload.clone())
            .message_id(Uuid::from_u128(i as u128).hyphenated().to_string())
            .expected_last_subject_sequence(expected)
            .header(
                "Pl-Recorded-At",
                (1_700_000_000_000i64 + i as i64).to_string(),
            );
        pending.push_back(
            js.send_publish(hdr_subjects[i % a.entities].clone(), msg)
                .await?,
        );
    }
    while let Some(f) = pending.pop_front() {
        f.await?;
    }
    let raw_hdr_pub = t.elapsed();
    drop(hdr_stream);
    Ok(raw_hdr_pub)
}

/// perfledger's side of a round: its timings, and the raw read of its stream.
struct PerfledgerRound {
    pl_pub: Duration,
    raw_same_read: Duration,
    pl_read: Duration,
    pl_read_decode: Duration,
}

/// perfledger's JetStream log: `--n` pipelined commits to stream `PL{r}`,
/// then a raw ordered-consumer read of that stream (the baseline), the
/// log's read, and the log's read with every commit decoded.
async fn perfledger_round(
    a: &Args,
    r: usize,
    server: &NatsServer,
    js: &async_nats::jetstream::Context,
    commentary_len: usize,
) -> Result<PerfledgerRound, Box<dyn std::error::Error>> {
    let log = JetStreamLog::connect(JetStreamOptions {
        url: server.url(),
        stream: format!("PL{r}"),
        prefix: format!("pl{r}"),
        pipeline_window: a.window,
        ..Default::default()
    })
    .await?;
    let pl_subjects = subjects(&format!("pl{r}"), a.entities);
    let t = Instant::now();
    let batch = commits(&pl_subjects, 0, a.n, commentary_len);
    let p = log.append_pipelined(batch).await;
    let pl_pub = t.elapsed();
    if let Some(e) = p.error {
        return Err(format!("perfledger append failed after {}: {e}", p.appended.len()).into());
    }
    // Raw ordered-consumer read of the very same stream (same messages, same
    // headers): the baseline for perfledger's read path.
    let pl_stream = js.get_stream(format!("PL{r}")).await?;
    let raw_same_read = raw_ordered_read(&pl_stream, a.n).await?;

    let t = Instant::now();
    let mut s = log.read(1, Until::Head);
    let mut got = 0;
    while let Some(r) = s.next().await {
        std::hint::black_box(&r?.payload);
        got += 1;
    }
    let pl_read = t.elapsed();
    if got != a.n {
        return Err(format!("perfledger read {got} of {}", a.n).into());
    }

    // The read path plus decoding every commit back into envelopes: what a
    // projector pays before it applies anything.
    let t = Instant::now();
    let mut s = log.read(1, Until::Head);
    while let Some(r) = s.next().await {
        std::hint::black_box(decode_commit(&r?.payload)?);
    }
    let pl_read_decode = t.elapsed();
    Ok(PerfledgerRound {
        pl_pub,
        raw_same_read,
        pl_read,
        pl_read_decode,
    })
}

async fn js_round(
    a: &Args,
    r: usize,
    server: &NatsServer,
    client: &async_nats::Client,
    payload: &Bytes,
    commentary_len: usize,
) -> Result<Round, Box<dyn std::error::Error>> {
    let payload = payload.clone();
    // ---- raw async-nats ----
    let js = async_nats::jetstream::ContextBuilder::new()
        .max_ack_inflight(a.window * 2)
        .backpressure_on_inflight(true)
        .build(client.clone());
    let (raw_stream, raw_pub) = raw_publish(a, r, &js, &payload).await?;
    let raw_hdr_pub = raw_publish_with_headers(a, r, &js, &payload).await?;
    let raw_read = raw_ordered_read(&raw_stream, a.n).await?;

    // ---- perfledger JetStream log ----
    let pl = perfledger_round(a, r, server, &js, commentary_len).await?;
    Ok(Round {
        raw_pub,
        raw_hdr_pub,
        pl_pub: pl.pl_pub,
        raw_read,
        raw_same_read: pl.raw_same_read,
        pl_read: pl.pl_read,
        pl_read_decode: pl.pl_read_decode,
    })
}

/// The embedded log's timings, on a fresh log in a temporary directory.
struct Embedded {
    /// `--n` commits appended pipelined.
    publish: Duration,
    /// The `--n` records read back.
    read: Duration,
    /// `--single` fsync'ed appends, one at a time.
    single: Duration,
    /// Reopening the log (its index rebuilt).
    reopen: Duration,
    /// The reopened log's head.
    head: u64,
}

/// The embedded log: `--n` pipelined commits, read back, `--single` single
/// appends, then a reopen of the log.
async fn embedded(a: &Args, commentary_len: usize) -> Result<Embedded, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let emb = EmbeddedLog::open(dir.path().join("log")).await?;
    let emb_subjects = subjects("pl", a.entities);
    let t = Instant::now();
    let batch = commits(&emb_subjects, 0, a.n, commentary_len);
    let p = emb.append_pipelined(batch).await;
    let emb_pub = t.elapsed();
    if let Some(e) = p.error {
        return Err(format!("embedded append failed: {e}").into());
    }
    let t = Instant::now();
    let mut s = emb.read(1, Until::Head);
    let mut got = 0;
    while let Some(r) = s.next().await {
        std::hint::black_box(&r?.payload);
        got += 1;
    }
    let emb_read = t.elapsed();
    if got != a.n {
        return Err(format!("embedded read {got} of {}", a.n).into());
    }
    let singles = commits(&emb_subjects, a.n, a.n + a.single, commentary_len);
    let t = Instant::now();
    for c in singles {
        emb.append(c).await?;
    }
    let emb_single = t.elapsed();
    drop(s);
    drop(emb);
    let t = Instant::now();
    let emb2 = EmbeddedLog::open(dir.path().join("log")).await?;
    let reopen = t.elapsed();
    let head = emb2.head().await?;
    Ok(Embedded {
        publish: emb_pub,
        read: emb_read,
        single: emb_single,
        reopen,
        head,
    })
}

/// The JetStream table (best of the rounds, raw vs perfledger) and the
/// client-side share of the append path (`encode`).
fn print_jetstream_summary(a: &Args, rounds: &[Round], encode: Duration) {
    // Best of the rounds for each measurement (the machine is shared).
    let best = |f: fn(&Round) -> Duration| rounds.iter().map(f).min().unwrap_or_default();
    let raw_pub = best(|x| x.raw_pub);
    let raw_hdr_pub = best(|x| x.raw_hdr_pub);
    let pl_pub = best(|x| x.pl_pub);
    let raw_read = best(|x| x.raw_read);
    let raw_same_read = best(|x| x.raw_same_read);
    let pl_read = best(|x| x.pl_read);
    let pl_read_decode = best(|x| x.pl_read_decode);
    println!();
    println!(
        "{:<44} {:>12} {:>12} {:>8}",
        "", "raw msg/s", "perfledger", "ratio"
    );
    print_ratio(
        "JetStream pipelined append",
        "target >= 0.70x",
        a.n,
        raw_pub,
        pl_pub,
    );
    print_ratio(
        "JetStream append, raw with perfledger headers",
        "same headers on both sides",
        a.n,
        raw_hdr_pub,
        pl_pub,
    );
    print_ratio(
        "JetStream ordered-consumer read, raw stream",
        "headerless raw stream",
        a.n,
        raw_read,
        pl_read,
    );
    print_ratio(
        "JetStream ordered-consumer read, same stream",
        "target >= 0.80x",
        a.n,
        raw_same_read,
        pl_read,
    );
    print_ratio(
        "JetStream read and decode, same stream",
        "read + decode every commit",
        a.n,
        raw_same_read,
        pl_read_decode,
    );
    println!(
        "building and encoding {} commits alone: {:.0} ms ({:.2} us per commit)",
        a.n,
        encode.as_secs_f64() * 1e3,
        encode.as_secs_f64() * 1e6 / a.n as f64
    );
}

/// The embedded log's lines.
fn print_embedded(a: &Args, e: &Embedded) {
    println!();
    println!(
        "embedded append_pipelined (10k-record frames, 1 fsync each): {:>10.0} rec/s",
        rate(a.n, e.publish)
    );
    println!(
        "embedded read:                                              {:>10.0} rec/s",
        rate(a.n, e.read)
    );
    println!(
        "embedded single append (1 fsync each), {} appends:         {:>10.0} rec/s",
        a.single,
        rate(a.single, e.single)
    );
    println!(
        "embedded reopen (index rebuild) of {} records:        {:>10.1} ms",
        e.head,
        e.reopen.as_secs_f64() * 1000.0
    );
}

/// The process's thread count (`Threads:` in `/proc/self/status`).
fn threads_now() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `--writers`: the embedded log under each count of concurrent writers
/// (module docs), a fresh log each.
async fn embedded_writers(
    a: &Args,
    commentary_len: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    println!(
        "log_bench --writers: the embedded log, {} appends of {} B per count, each fsynced before its answer; load average {}",
        a.n,
        a.size,
        perfledger_bench::load_average()
    );
    println!("| writers | appends/s | p50 | p99 | peak threads |");
    println!("|---|---|---|---|---|");
    let template = envelope_template(commentary_len);
    for &writers in &a.writers {
        assert!(writers >= 1, "--writers counts are at least 1");
        let dir = tempfile::tempdir()?;
        let log = EmbeddedLog::open(dir.path().join("log")).await?;
        let per = a.n / writers;
        // Every writer's commits, built before the clock starts; the
        // expected version is set as each is appended.
        let loads: Vec<Vec<Commit>> = subjects("pl", writers)
            .into_iter()
            .enumerate()
            .map(|(w, (entity, subject))| {
                (0..per)
                    .map(|k| {
                        let envelope = stamped(&template, w * per + k, entity);
                        Commit {
                            subject: subject.clone(),
                            expected: Expected::Any,
                            msg_id: envelope.command_id,
                            recorded_at: envelope.recorded_at.0,
                            payload: encode_commit(std::slice::from_ref(&envelope))
                                .expect("encodable")
                                .into(),
                        }
                    })
                    .collect()
            })
            .collect();
        let (done, peak) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        let sampler = std::thread::spawn({
            let (done, peak) = (done.clone(), peak.clone());
            move || {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(threads_now(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        });
        let t = Instant::now();
        let tasks: Vec<_> = loads
            .into_iter()
            .map(|commits| {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(commits.len());
                    let mut last = None;
                    for mut c in commits {
                        c.expected = last.map_or(Expected::Empty, Expected::At);
                        let sent = Instant::now();
                        last = Some(log.append(c).await?.seq);
                        latencies.push(sent.elapsed());
                    }
                    Ok::<_, perfledger_log::LogError>(latencies)
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(per * writers);
        for task in tasks {
            latencies.extend(task.await??);
        }
        let took = t.elapsed();
        done.store(true, Ordering::Relaxed);
        sampler.join().expect("the sampler does not panic");
        assert_eq!(
            log.head().await?,
            (per * writers) as u64,
            "every append landed"
        );
        latencies.sort_unstable();
        println!(
            "| {writers} | {:.0} | {} | {} | {} |",
            rate(per * writers, took),
            perfledger_bench::ms(perfledger_bench::pct(&latencies, 50)),
            perfledger_bench::ms(perfledger_bench::pct(&latencies, 99)),
            peak.load(Ordering::Relaxed)
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    let payload = Bytes::from(vec![b'x'; a.size]);
    let commentary_len = commentary_len_for(a.size)?;
    if !a.writers.is_empty() {
        return embedded_writers(&a, commentary_len).await;
    }
    let server = NatsServer::start();
    println!(
        "log_bench: n={} payload={}B entities={} window={} (nats-server at {})",
        a.n,
        a.size,
        a.entities,
        a.window,
        server.url()
    );

    let client = async_nats::connect(server.url()).await?;
    let mut rounds = Vec::new();
    for r in 0..a.rounds {
        let x = js_round(&a, r, &server, &client, &payload, commentary_len).await?;
        println!(
            "round {r}: append raw {:.0}/s, raw+headers {:.0}/s, perfledger {:.0}/s; read raw {:.0}/s, raw same stream {:.0}/s, perfledger {:.0}/s",
            rate(a.n, x.raw_pub),
            rate(a.n, x.raw_hdr_pub),
            rate(a.n, x.pl_pub),
            rate(a.n, x.raw_read),
            rate(a.n, x.raw_same_read),
            rate(a.n, x.pl_read)
        );
        rounds.push(x);
    }

    // The client-side share of the append path: envelopes and encoding alone.
    let t = Instant::now();
    std::hint::black_box(commits(&subjects("pl", a.entities), 0, a.n, commentary_len));
    let encode = t.elapsed();

    let emb = embedded(&a, commentary_len).await?;
    print_jetstream_summary(&a, &rounds, encode);
    print_embedded(&a, &emb);
    Ok(())
}
