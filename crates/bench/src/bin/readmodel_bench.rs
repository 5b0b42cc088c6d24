//! Read-model benchmark (release mode): a generated large council over ten
//! years (≥ 1M events, deterministic from a seed) on the embedded log.
//! Prints side by side: full rebuild vs raw read of the same log, and vs
//! sled's own ceiling for the same keys (the rebuilt read model's final
//! keys and values bulk-written into a fresh sled with the read model's
//! configuration, the floor of any rebuild that produces this read model;
//! and the projector's own write stream replayed into a fresh sled with no
//! projection work, each commit's plain inserts on one thread and on two),
//! the rebuilt read model's content digest (equal digests:
//! byte-identical read models), as-of dashboard latency p50/p99 vs a full
//! replay to the same point, and peak memory (VmHWM).
//!
//! `cargo run --release -p perfledger-bench --bin readmodel_bench -- [--seed N] [--years N] [--dir PATH] [--queries N] [--keep-read-model] [--no-stream-ceiling]`
//!
//! `--serve-only DIR [--cache-mb N] [--queries N] [--years N]` measures a
//! query service's memory alone in its process (the full run's query
//! figures share a process with generation and the raw reads).
//!
//! `--alternate DIR [--rounds N]` times the rebuild of `DIR/log` against
//! ceiling (b) on two threads and against the floor (c), (b) run beside
//! the reading a rebuild cannot skip (every record read, its frame, leaf
//! hash and chain checked, every commit decoded; nothing projected), in
//! an order rotated every round, N rounds, and prints the median ratios;
//! ceiling / floor is the most any rebuild reading the log so could reach
//! against (b) (run the full bench with `--dir DIR` once first to make
//! the log).
//!
//! `--no-stream-ceiling` skips the write-stream ceiling (it records the
//! projector's writes in a file as large as everything it writes).
//!
//! `--nats` runs the same log through JetStream instead (its own
//! nats-server, `NATS_SERVER` to pick the binary): raw ordered-consumer read
//! vs a full rebuild from the stream.

// jemalloc, configured as every perfledger binary's (`perfledger_alloc`).
use perfledger_alloc as _;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use perfledger_bench::{arg, generate_embedded, ms, pct, process_cpu, thread_cpu};
use perfledger_domain::aggregate::{IndicatorState, SchemeState};
use perfledger_domain::dashboard::indicator_line;
use perfledger_domain::period::{FinancialYear, Period};
use perfledger_domain::{decode_commit, EntityKind};
use perfledger_log::jetstream::JetStreamOptions;
use perfledger_log::{EmbeddedLog, EventLog, JetStreamLog, Until};
use perfledger_readmodel::{AsOf, ReadModel};
use perfledger_testkit::council::{to_commit, unit_name, Generator, Rng, Shape};
use perfledger_testkit::NatsServer;

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Full replay to `seq` through the domain aggregates: read, decode, apply,
/// then the indicator lines of one unit's dashboard for `period`.
async fn replay_to(log: &EmbeddedLog, seq: u64, unit: &str, period: Period) -> usize {
    let mut inds: BTreeMap<uuid::Uuid, IndicatorState> = BTreeMap::new();
    let mut schemes = SchemeState::default();
    let mut stream = log.read(1, Until::Seq(seq));
    while let Some(r) = stream.next().await {
        let Ok(r) = r else { break };
        if r.subject.is_checkpoint() {
            continue;
        }
        let Ok(events) = decode_commit(&r.payload) else {
            continue;
        };
        for e in events {
            match e.entity.kind {
                EntityKind::Indicator => inds.entry(e.entity.id).or_default().apply(&e.body),
                EntityKind::Scheme => schemes.apply(&e.body),
                _ => {}
            }
        }
    }
    let sch = schemes.schemes();
    inds.values()
        .filter(|s| s.spec.as_ref().is_some_and(|sp| sp.unit.as_str() == unit))
        .filter_map(|s| indicator_line(s, &sch, period))
        .count()
}

/// Clear `rm`, rebuild it from `log` and print `rebuild <ms> <CPU ms>
/// <projection CPU ms> <VmHWM> <content digest>` (the line
/// [`rebuild_in_child`] reads; CPU: the whole process's, every thread,
/// during the rebuild; projection: this thread's, which runs the projector
/// while sled's writes run on its writer thread).
async fn rebuild_and_report<L: EventLog>(
    log: &L,
    rm: &ReadModel,
    projector: perfledger_readmodel::Projector,
) -> Result<(), Box<dyn std::error::Error>> {
    rm.clear()?;
    println!("{}", allocator_note());
    let (t, cpu, own) = (Instant::now(), process_cpu(), thread_cpu());
    projector.catch_up(log, &mut |_| {}).await?;
    let ms = t.elapsed().as_millis();
    let cpu_ms = (process_cpu() - cpu).as_millis();
    let own_ms = (thread_cpu() - own).as_millis();
    // Peak memory first: the digest reads the whole tree.
    let hwm = vm_hwm().replace(' ', "");
    // `--no-digest`: the digest's scan swells sled's memory past the
    // rebuild's own peak, which a heap profile of the child then reports.
    let digest = if std::env::args().any(|a| a == "--no-digest") {
        "-".to_string()
    } else {
        rm.content_digest()?.to_string()
    };
    println!("rebuild {ms} {cpu_ms} {own_ms} {hwm} {digest}");
    Ok(())
}

/// The allocator's options that bear on peak memory, as it runs with them
/// (`perfledger_alloc::CONF`, unless `_RJEM_MALLOC_CONF` overrides them).
fn allocator_note() -> String {
    let opt =
        |name| perfledger_alloc::option_isize(name).map_or("?".to_string(), |v| v.to_string());
    format!(
        "allocator: jemalloc, dirty_decay_ms {}, muzzy_decay_ms {}",
        opt("opt.dirty_decay_ms"),
        opt("opt.muzzy_decay_ms")
    )
}

/// Run this binary as a child with `args`; returns the words after `tag`
/// on the child's last line (a child's peak memory is its own).
fn run_child(
    args: &[&std::ffi::OsStr],
    tag: &str,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(args)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let words: Vec<String> = text
        .lines()
        .last()
        .unwrap_or("")
        .split(' ')
        .map(str::to_string)
        .collect();
    match words.split_first() {
        Some((first, rest)) if out.status.success() && first == tag => Ok(rest.to_vec()),
        _ => Err(format!(
            "{tag} child failed: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into()),
    }
}

/// What a rebuild child reports.
struct Rebuilt {
    time: Duration,
    /// The child's CPU time during the rebuild (all its threads).
    cpu: Duration,
    /// The CPU time of the child's thread that ran the projector.
    projection_cpu: Duration,
    /// The child's peak memory (VmHWM).
    hwm: String,
    /// [`ReadModel::content_digest`] of the result.
    digest: String,
}

/// Run this binary as a rebuild child with `args`.
fn rebuild_in_child(args: &[&std::ffi::OsStr]) -> Result<Rebuilt, Box<dyn std::error::Error>> {
    match &run_child(args, "rebuild")?[..] {
        [ms, cpu_ms, own_ms, hwm, digest] => Ok(Rebuilt {
            time: Duration::from_millis(ms.parse()?),
            cpu: Duration::from_millis(cpu_ms.parse()?),
            projection_cpu: Duration::from_millis(own_ms.parse()?),
            hwm: hwm.clone(),
            digest: digest.clone(),
        }),
        other => Err(format!("rebuild child said {other:?}").into()),
    }
}

/// Child mode: rebuild `dir/readmodel` from `dir/log`.
async fn rebuild_only(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let log = EmbeddedLog::open(dir.join("log")).await?;
    let cache_mb: u64 = arg("--cache-mb")
        .and_then(|v| v.parse().ok())
        .unwrap_or(perfledger_readmodel::CACHE_BYTES / (1024 * 1024));
    let low_space = std::env::args().any(|a| a == "--low-space");
    let rm = ReadModel::open_with(
        dir.join("readmodel"),
        &bench_tenant(),
        cache_mb * 1024 * 1024,
        low_space,
    )?;
    let mut projector = perfledger_readmodel::Projector::new(&rm);
    if let Some(b) = arg("--batch").and_then(|v| v.parse().ok()) {
        projector = projector.with_batch_records(b);
    }
    if let Some(f) = arg("--flush-every").and_then(|v| v.parse().ok()) {
        projector = projector.with_flush_every(f);
    }
    if let Some(mb) = arg("--stage-mb").and_then(|v| v.parse::<usize>().ok()) {
        projector = projector.with_stage_bytes(mb * 1024 * 1024);
    }
    let Some(path) = arg("--record-stream") else {
        return rebuild_and_report(&log, &rm, projector).await;
    };
    let recorder =
        perfledger_bench::sled_ceiling::StreamRecorder::create(std::path::Path::new(&path))?;
    projector = projector.with_write_tap(recorder.tap());
    rebuild_and_report(&log, &rm, projector).await?;
    recorder.finish()
}

/// Child mode (`--serve-only DIR [--cache-mb N] [--queries N]`): what a
/// query service holds, alone in its process: open the log (as `serve`
/// does, to follow it) and the read model with a page cache of N MB (the
/// read model's default otherwise), answer N as-of dashboards (one in ten
/// council-wide, at random positions and quarters), and print
/// `serve <VmHWM after the opens> <VmHWM after the queries> <council p50 ms> <council p99 ms>`.
async fn serve_only(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let cache_mb: u64 = arg("--cache-mb")
        .and_then(|v| v.parse().ok())
        .unwrap_or(perfledger_readmodel::CACHE_BYTES >> 20);
    let queries: usize = arg("--queries").and_then(|s| s.parse().ok()).unwrap_or(100);
    let log = EmbeddedLog::open(dir.join("log")).await?;
    let head = log.head().await?;
    let rm = ReadModel::open_with_cache(dir.join("readmodel"), &bench_tenant(), cache_mb << 20)?;
    assert_eq!(
        rm.checkpoint()?,
        head,
        "--serve-only needs a read model at the head"
    );
    let opened = vm_hwm();
    let mut shape = Shape::large();
    if let Some(y) = arg("--years").and_then(|y| y.parse().ok()) {
        shape.years = y;
    }
    let mut rng = Rng::new(0x5E7E);
    let mut council = Vec::new();
    for i in 0..queries {
        let y = shape.first_year + i32::try_from(rng.below(10)).unwrap_or(0);
        let p = Period::Quarter(
            FinancialYear(y),
            1 + u8::try_from(rng.below(4)).unwrap_or(0),
        );
        let s = 1 + rng.below(head);
        let unit = unit_name(usize::try_from(rng.below(shape.units as u64)).unwrap_or(0));
        let t = Instant::now();
        let wide = i % 10 == 0;
        std::hint::black_box(rm.dashboard((!wide).then_some(unit.as_str()), p, AsOf::Seq(s))?);
        if wide {
            council.push(t.elapsed());
        }
    }
    council.sort();
    println!(
        "serve {} {} {} {}",
        opened.replace(' ', ""),
        vm_hwm().replace(' ', ""),
        ms(pct(&council, 50)),
        ms(pct(&council, 99))
    );
    Ok(())
}

/// Child mode: rebuild `dir/readmodel` from the JetStream stream at `url`.
async fn rebuild_only_nats(
    url: &str,
    dir: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let log = JetStreamLog::connect(JetStreamOptions {
        url: url.to_string(),
        stream: NATS_STREAM.to_string(),
        ..Default::default()
    })
    .await?;
    let rm = ReadModel::open(dir.join("readmodel"), &bench_tenant())?;
    rebuild_and_report(&log, &rm, perfledger_readmodel::Projector::new(&rm)).await
}

const NATS_STREAM: &str = "RMBENCH";

/// `--nats`: the same generated log in JetStream (a nats-server of its own):
/// raw ordered-consumer read vs full rebuild from the stream.
async fn nats_mode(seed: u64, shape: Shape) -> Result<(), Box<dyn std::error::Error>> {
    let server = NatsServer::start();
    let log = JetStreamLog::connect(JetStreamOptions {
        url: server.url(),
        stream: NATS_STREAM.to_string(),
        ..Default::default()
    })
    .await?;
    let t = Instant::now();
    let mut gen = Generator::new(shape, seed);
    let mut chunk = Vec::with_capacity(50_000);
    let mut records = 0usize;
    loop {
        let next = gen.next();
        if let Some(c) = next.as_deref().and_then(to_commit) {
            chunk.push(c);
        }
        if chunk.len() == 50_000 || (next.is_none() && !chunk.is_empty()) {
            records += chunk.len();
            let p = log.append_pipelined(std::mem::take(&mut chunk)).await;
            if let Some(e) = p.error {
                return Err(format!("append failed: {e}").into());
            }
        }
        if next.is_none() {
            break;
        }
    }
    let events = gen.events_produced();
    println!(
        "JetStream ({}): {records} records ({events} events) appended in {:.1?}",
        server.binary().display(),
        t.elapsed()
    );

    let client = async_nats::connect(server.url()).await?;
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream(NATS_STREAM).await?;
    let t = Instant::now();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await?;
    let mut msgs = consumer.messages().await?;
    let mut got = 0usize;
    while got < records {
        let m = msgs.next().await.ok_or("raw consumer ended")??;
        std::hint::black_box(&m.payload);
        got += 1;
    }
    let raw = t.elapsed();
    drop(msgs);

    let tmp = tempfile::tempdir()?;
    let url = server.url();
    let Rebuilt {
        time: rebuild, hwm, ..
    } = rebuild_in_child(&[
        "--rebuild-only-nats".as_ref(),
        url.as_ref(),
        tmp.path().as_os_str(),
    ])?;
    let per_sec = |d: Duration| (events as u128 * 1000) / d.as_millis().max(1);
    println!();
    println!("| JetStream | time | events/s | vs raw read |");
    println!("|---|---|---|---|");
    println!(
        "| raw ordered-consumer read ({records} records) | {raw:.2?} | {} | 1.00x |",
        per_sec(raw)
    );
    println!(
        "| full rebuild from the stream (projector) | {rebuild:.2?} | {} | {:.2}x |",
        per_sec(rebuild),
        raw.as_secs_f64() / rebuild.as_secs_f64()
    );
    println!("peak memory (VmHWM), rebuild process: {hwm}");
    Ok(())
}

/// The raw-read baselines a rebuild is compared with: the whole log read
/// once as bytes and once decoded into events.
struct ReadBaselines {
    /// Records read.
    n: u64,
    /// Payload bytes read.
    bytes: usize,
    /// Raw read of every record.
    raw: Duration,
    /// Raw read + decode of every commit.
    raw_decode: Duration,
    /// Events decoded (the generator's count when it has none).
    decoded: u64,
}

/// Step 2, raw read of the log, and raw read + decode.
async fn read_baselines(log: &EmbeddedLog) -> Result<ReadBaselines, Box<dyn std::error::Error>> {
    let t = Instant::now();
    let mut n = 0u64;
    let mut bytes = 0usize;
    let mut stream = log.read(1, Until::Head);
    while let Some(r) = stream.next().await {
        let r = r?;
        n += 1;
        bytes += r.payload.len();
    }
    let raw = t.elapsed();
    drop(stream);
    let t = Instant::now();
    let mut decoded = 0u64;
    let mut stream = log.read(1, Until::Head);
    while let Some(r) = stream.next().await {
        let r = r?;
        if let Ok(ev) = decode_commit(&r.payload) {
            decoded += ev.len() as u64;
        }
    }
    let raw_decode = t.elapsed();
    drop(stream);
    Ok(ReadBaselines {
        n,
        bytes,
        raw,
        raw_decode,
        decoded,
    })
}

/// Inserting threads the write-stream ceiling (b) is replayed with: sled
/// takes concurrent inserts, and on this 2-core machine two threads
/// absorbed the 1M stream in 1.28-1.35 s against 1.58-1.71 s for one, so
/// one thread alone understated sled's ceiling.
const STREAM_THREADS: [usize; 2] = [1, 2];

/// sled's ceilings for the rebuilt read model's keys, each a time and what
/// it wrote (see the module docs).
struct Ceilings {
    /// (a) The final keys and values bulk-written: time, keys, bytes.
    final_keys: (Duration, u64, u64),
    /// (b) The projector's write stream replayed, once per count of
    /// inserting threads ([`STREAM_THREADS`]): threads, time, batches,
    /// bytes, and the replaying process's CPU time. Empty when skipped.
    stream: Vec<StreamCeiling>,
}

/// Ceiling (b) once: inserting threads, time, batches, bytes, and the
/// replaying process's CPU time.
type StreamCeiling = (usize, Duration, u64, u64, Duration);

/// Measure both ceilings in child processes (fresh sleds under `base`);
/// the write stream is recorded by a second rebuild, whose digest must be
/// the first one's.
fn measure_ceilings(
    base: &std::path::Path,
    digest: &str,
) -> Result<Ceilings, Box<dyn std::error::Error>> {
    let parse = |w: Vec<String>| -> Result<(Duration, u64, u64), Box<dyn std::error::Error>> {
        match &w[..] {
            [ms, n, bytes] => Ok((
                Duration::from_millis(ms.parse()?),
                n.parse()?,
                bytes.parse()?,
            )),
            other => Err(format!("ceiling child said {other:?}").into()),
        }
    };
    let final_keys = parse(run_child(
        &["--ceiling-final".as_ref(), base.as_os_str()],
        "ceiling",
    )?)?;
    if std::env::args().any(|a| a == "--no-stream-ceiling") {
        return Ok(Ceilings {
            final_keys,
            stream: Vec::new(),
        });
    }
    let file = base.join("stream.bin");
    let again = rebuild_in_child(&[
        "--rebuild-only".as_ref(),
        base.as_os_str(),
        "--record-stream".as_ref(),
        file.as_os_str(),
    ])?;
    assert_eq!(
        again.digest, digest,
        "a second rebuild gives the same bytes"
    );
    let stream = STREAM_THREADS
        .into_iter()
        .map(|threads| stream_ceiling(base, threads))
        .collect::<Result<Vec<_>, _>>()?;
    std::fs::remove_file(&file)?;
    Ok(Ceilings { final_keys, stream })
}

/// Ceiling (b) in a child: the write stream recorded in `base/stream.bin`
/// replayed into a fresh sled on `threads` inserting threads.
fn stream_ceiling(
    base: &std::path::Path,
    threads: usize,
) -> Result<StreamCeiling, Box<dyn std::error::Error>> {
    let threads_arg = threads.to_string();
    let said = run_child(
        &[
            "--ceiling-stream".as_ref(),
            base.as_os_str(),
            "--ceiling-threads".as_ref(),
            threads_arg.as_ref(),
        ],
        "ceiling",
    )?;
    match &said[..] {
        [ms, n, bytes, cpu_ms] => Ok((
            threads,
            Duration::from_millis(ms.parse()?),
            n.parse()?,
            bytes.parse()?,
            Duration::from_millis(cpu_ms.parse()?),
        )),
        other => Err(format!("stream ceiling child said {other:?}").into()),
    }
}

/// What the floor child (c) reports: the time until both the replay and
/// the read were done, each one's own time, and the process's CPU.
struct Floor {
    time: Duration,
    replay: Duration,
    read: Duration,
    cpu: Duration,
}

/// The floor (c) in a child: ceiling (b) on two threads beside the
/// rebuild's reading of `base/log` (`sled_ceiling::floor`).
fn floor_in_child(base: &std::path::Path) -> Result<Floor, Box<dyn std::error::Error>> {
    let ms = |v: &String| -> Result<Duration, Box<dyn std::error::Error>> {
        Ok(Duration::from_millis(v.parse()?))
    };
    match &run_child(&["--floor".as_ref(), base.as_os_str()], "floor")?[..] {
        [time, replay, read, cpu] => Ok(Floor {
            time: ms(time)?,
            replay: ms(replay)?,
            read: ms(read)?,
            cpu: ms(cpu)?,
        }),
        other => Err(format!("floor child said {other:?}").into()),
    }
}

/// `--alternate DIR [--rounds N]` (default 5): the rebuild of `DIR/log`
/// into a fresh `DIR/readmodel` against ceiling (b) on two inserting
/// threads, `N` rounds, the order swapped every round (so a drift in the
/// machine's or the filesystem's state falls on both sides alike), each
/// in its own child; prints every pair and the median ratio. One run's
/// ratio moves with the filesystem (the ceiling at 1M took 1.00-1.75 s
/// across runs on one day); the median of alternated pairs is the steadier
/// figure. The write stream is recorded first by a rebuild of its own.
fn alternate(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = arg("--rounds").and_then(|v| v.parse().ok()).unwrap_or(5);
    let read_model = dir.join("readmodel");
    let fresh = || match std::fs::remove_dir_all(&read_model) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    let file = dir.join("stream.bin");
    fresh()?;
    let recorded = rebuild_in_child(&[
        "--rebuild-only".as_ref(),
        dir.as_os_str(),
        "--record-stream".as_ref(),
        file.as_os_str(),
    ])?;
    println!("load average: {}", perfledger_bench::load_average());
    println!(
        "| round | order | rebuild (CPU) | ceiling (b), two threads (CPU) | floor (c): (b) beside the log's reading (CPU; replay, read) | ceiling / rebuild | floor / rebuild | ceiling / floor |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let (mut ratios, mut floor_ratios, mut bounds) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        // The three children in an order rotated every round, so a drift
        // in the machine's or the filesystem's state falls on all alike.
        const NAMES: [&str; 3] = ["rebuild", "ceiling", "floor"];
        let order: Vec<usize> = (0..3).map(|i| (i + round - 1) % 3).collect();
        let (mut ceiling, mut rebuilt, mut floor) = (None, None, None);
        for &which in &order {
            match which {
                0 => {
                    fresh()?;
                    let r = rebuild_in_child(&["--rebuild-only".as_ref(), dir.as_os_str()])?;
                    assert_eq!(
                        r.digest, recorded.digest,
                        "every rebuild gives the same bytes"
                    );
                    rebuilt = Some(r);
                }
                1 => ceiling = Some(stream_ceiling(dir, 2)?),
                _ => floor = Some(floor_in_child(dir)?),
            }
        }
        let (ceiling, rebuilt, floor) = (
            ceiling.expect("measured above"),
            rebuilt.expect("measured above"),
            floor.expect("measured above"),
        );
        let secs = |d: Duration| d.as_secs_f64();
        let ratio = secs(ceiling.1) / secs(rebuilt.time);
        let floor_ratio = secs(floor.time) / secs(rebuilt.time);
        let bound = secs(ceiling.1) / secs(floor.time);
        ratios.push(ratio);
        floor_ratios.push(floor_ratio);
        bounds.push(bound);
        println!(
            "| {round} | {} | {:.2} s ({:.2} s) | {:.2} s ({:.2} s) | {:.2} s ({:.2} s; {:.2} s, {:.2} s) | {ratio:.2}x | {floor_ratio:.2}x | {bound:.2}x |",
            order.iter().map(|&i| NAMES[i]).collect::<Vec<_>>().join(", "),
            secs(rebuilt.time),
            secs(rebuilt.cpu),
            secs(ceiling.1),
            secs(ceiling.4),
            secs(floor.time),
            secs(floor.cpu),
            secs(floor.replay),
            secs(floor.read),
        );
    }
    std::fs::remove_file(&file)?;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        format!(
            "{:.2}x (min {:.2}x, max {:.2}x)",
            v[v.len() / 2],
            v[0],
            v[v.len() - 1]
        )
    };
    println!(
        "medians over {rounds} rounds: ceiling / rebuild {}; floor / rebuild {}; ceiling / floor, the most any rebuild that reads the log as this one must could reach against the ceiling, {}; digest {}; load average {}",
        median(ratios),
        median(floor_ratios),
        median(bounds),
        recorded.digest,
        perfledger_bench::load_average()
    );
    Ok(())
}

/// The rebuild table: raw read, raw read + decode and the full rebuild of
/// `events` events, each against the raw read, and sled's ceilings against
/// the rebuild; then the read model's size.
fn print_rebuild_table(
    b: &ReadBaselines,
    events: u64,
    rebuilt: &Rebuilt,
    ceilings: Option<&Ceilings>,
    rm: &ReadModel,
) -> Result<(), Box<dyn std::error::Error>> {
    let rebuild = rebuilt.time;
    let per_sec = |d: Duration| (events as u128 * 1000) / d.as_millis().max(1);
    println!();
    println!("load average: {}", perfledger_bench::load_average());
    println!("| | time | events/s | vs raw read | ceiling / rebuild |");
    println!("|---|---|---|---|---|");
    let vs = |base: Duration, d: Duration| base.as_secs_f64() / d.as_secs_f64();
    println!(
        "| raw read ({} records, {} MB) | {:.2?} | {} | 1.00x | |",
        b.n,
        b.bytes / 1_000_000,
        b.raw,
        per_sec(b.raw)
    );
    println!(
        "| raw read + decode | {:.2?} | {} | {:.2}x | |",
        b.raw_decode,
        per_sec(b.raw_decode),
        vs(b.raw, b.raw_decode)
    );
    println!(
        "| full rebuild (projector; CPU {:.2?}, of which the projecting thread {:.2?}) | {:.2?} | {} | {:.2}x | |",
        rebuilt.cpu,
        rebuilt.projection_cpu,
        rebuild,
        per_sec(rebuild),
        vs(b.raw, rebuild)
    );
    if let Some(c) = ceilings {
        let (t, keys, bytes) = c.final_keys;
        println!(
            "| sled ceiling (a): the final {keys} keys ({} MB) bulk-written | {t:.2?} | | | {:.2}x |",
            bytes / 1_000_000,
            vs(t, rebuild)
        );
        for &(threads, t, batches, bytes, cpu) in &c.stream {
            println!(
                "| sled ceiling (b): the projector's write stream ({batches} batches, {} MB) replayed, a commit's plain inserts on {threads} thread{} (CPU {cpu:.2?}) | {t:.2?} | | | {:.2}x |",
                bytes / 1_000_000,
                if threads == 1 { "" } else { "s" },
                vs(t, rebuild)
            );
        }
        // However well the threads overlap, a rebuild takes at least its
        // CPU time over the cores: the best (b) against that floor is the
        // most this much CPU can reach here.
        if let Some(best) = c.stream.iter().map(|s| s.1).min() {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let floor = rebuilt.cpu / u32::try_from(cores).unwrap_or(u32::MAX);
            println!(
                "| the rebuild's CPU over {cores} cores: its floor, however well its threads overlap | {floor:.2?} | | | {:.2}x |",
                vs(best, floor)
            );
        }
    }
    println!(
        "read model: {} keys, {} MB on disk",
        rm.len(),
        rm.size_on_disk()? / 1_000_000
    );
    Ok(())
}

/// Sorted as-of dashboard latencies: unit and council-wide from the read
/// model, and a full replay to the same point for a few unit samples.
struct Latencies {
    unit: Vec<Duration>,
    council: Vec<Duration>,
    /// The council-wide queries' thread CPU times (steadier than wall
    /// time on a shared machine).
    council_cpu: Vec<Duration>,
    replay: Vec<Duration>,
    /// Peak memory (VmHWM) of this process after the read-model queries,
    /// before the replays (which hold the domain aggregates of the whole
    /// log in memory).
    query_hwm: String,
}

/// Step 4, as-of dashboard latency (random unit/council, quarter, position),
/// and full replays of the first unit samples, checked against the read model.
async fn as_of_latencies(
    log: &EmbeddedLog,
    rm: &ReadModel,
    seed: u64,
    shape: &Shape,
    head: u64,
    queries: usize,
) -> Result<Latencies, Box<dyn std::error::Error>> {
    let mut rng = Rng::new(seed ^ 0xDA5B);
    let mut unit_lat = Vec::new();
    let mut council_lat = Vec::new();
    let mut council_cpu = Vec::new();
    let council_only = std::env::args().any(|a| a == "--council-only");
    let mut samples = Vec::new();
    for i in 0..queries {
        let y = shape.first_year + i32::try_from(rng.below(10)).unwrap_or(0);
        let q = 1 + u8::try_from(rng.below(4)).unwrap_or(0);
        let p = Period::Quarter(FinancialYear(y), q);
        let s = 1 + rng.below(head);
        // `--council-only` (for profiling) makes every query council-wide.
        let council = i % 10 == 0 || council_only;
        let unit = unit_name(usize::try_from(rng.below(shape.units as u64)).unwrap_or(0));
        let (t, c) = (Instant::now(), thread_cpu());
        let d = rm.dashboard(if council { None } else { Some(&unit) }, p, AsOf::Seq(s))?;
        let e = t.elapsed();
        let cpu = thread_cpu().saturating_sub(c);
        std::hint::black_box(&d);
        if council {
            council_lat.push(e);
            council_cpu.push(cpu);
        } else {
            unit_lat.push(e);
            if samples.len() < 3 {
                samples.push((unit, p, s, e, d.dashboard.indicators.reported));
            }
        }
    }
    unit_lat.sort();
    let query_hwm = vm_hwm();
    council_lat.sort();
    council_cpu.sort();
    let mut replay = Vec::new();
    for (unit, p, s, _, reported) in &samples {
        let t = Instant::now();
        let lines = replay_to(log, *s, unit, *p).await;
        replay.push(t.elapsed());
        assert_eq!(lines as u32, *reported, "replay and read model disagree");
    }
    replay.sort();
    Ok(Latencies {
        unit: unit_lat,
        council: council_lat,
        council_cpu,
        replay,
        query_hwm,
    })
}

/// The as-of table: p50/p99 of each kind of query.
fn print_latency_table(l: &Latencies) {
    println!();
    println!("| as-of dashboard | n | p50 | p99 |");
    println!("|---|---|---|---|");
    println!(
        "| unit (read model) | {} | {} | {} |",
        l.unit.len(),
        ms(pct(&l.unit, 50)),
        ms(pct(&l.unit, 99))
    );
    println!(
        "| council-wide (read model) | {} | {} | {} |",
        l.council.len(),
        ms(pct(&l.council, 50)),
        ms(pct(&l.council, 99))
    );
    println!(
        "| council-wide, thread CPU time | {} | {} | {} |",
        l.council_cpu.len(),
        ms(pct(&l.council_cpu, 50)),
        ms(pct(&l.council_cpu, 99))
    );
    println!(
        "| unit, full replay to the same point (domain aggregates) | {} | {} | {} |",
        l.replay.len(),
        ms(pct(&l.replay, 50)),
        ms(pct(&l.replay, 99))
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(dir) = arg("--rebuild-only") {
        return rebuild_only(std::path::Path::new(&dir)).await;
    }
    if let Some(dir) = arg("--serve-only") {
        return serve_only(std::path::Path::new(&dir)).await;
    }
    if let Some(dir) = arg("--alternate") {
        return alternate(std::path::Path::new(&dir));
    }
    if let Some(dir) = arg("--ceiling-final") {
        return perfledger_bench::sled_ceiling::final_keys(std::path::Path::new(&dir));
    }
    if let Some(dir) = arg("--ceiling-stream") {
        let threads = arg("--ceiling-threads")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        return perfledger_bench::sled_ceiling::replay_stream(std::path::Path::new(&dir), threads);
    }
    if let Some(dir) = arg("--floor") {
        let threads = arg("--ceiling-threads")
            .and_then(|v| v.parse().ok())
            .unwrap_or(2);
        return perfledger_bench::sled_ceiling::floor(std::path::Path::new(&dir), threads).await;
    }
    if let Some(url) = arg("--rebuild-only-nats") {
        let args: Vec<String> = std::env::args().collect();
        let dir = args.last().cloned().unwrap_or_default();
        return rebuild_only_nats(&url, std::path::Path::new(&dir)).await;
    }
    let seed: u64 = arg("--seed").and_then(|s| s.parse().ok()).unwrap_or(42);
    let queries: usize = arg("--queries").and_then(|s| s.parse().ok()).unwrap_or(400);
    let tmp = tempfile::tempdir()?;
    let base = arg("--dir")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let log_dir = base.join("log");
    let rm_dir = base.join("readmodel");
    let mut shape = Shape::large();
    if let Some(y) = arg("--years").and_then(|y| y.parse().ok()) {
        shape.years = y;
    }
    println!("readmodel_bench: seed {seed}, shape {shape:?}");
    println!("{}", allocator_note());
    if std::env::args().any(|a| a == "--nats") {
        return nats_mode(seed, shape).await;
    }

    // 1. Generate the log (streaming, deterministic).
    let t = Instant::now();
    let log = EmbeddedLog::open(&log_dir).await?;
    let mut events = generate_embedded(&log, shape.clone(), seed).await?;
    let head = log.head().await?;
    println!(
        "generated: {head} records ({events} events) in {:.1?}",
        t.elapsed()
    );

    // 2. Raw read of the same log, and raw read + decode.
    let baselines = read_baselines(&log).await?;
    if events == 0 {
        events = baselines.decoded;
    }

    // 3. Full rebuild, in a child process (the log allows one opener; the
    // child's VmHWM is the rebuild's own peak memory).
    drop(log);
    // `--keep-read-model` reuses a read model already built at the head
    // (to measure queries alone).
    let (rebuilt, ceilings) = if std::env::args().any(|a| a == "--keep-read-model") {
        let none = Rebuilt {
            time: Duration::ZERO,
            cpu: Duration::ZERO,
            projection_cpu: Duration::ZERO,
            hwm: "-".to_string(),
            digest: "-".to_string(),
        };
        (none, None)
    } else {
        let rebuilt = rebuild_in_child(&["--rebuild-only".as_ref(), base.as_os_str()])?;
        let ceilings = measure_ceilings(&base, &rebuilt.digest)?;
        (rebuilt, Some(ceilings))
    };
    let log = EmbeddedLog::open(&log_dir).await?;
    let rm = ReadModel::open(&rm_dir, &bench_tenant())?;
    let cp = rm.checkpoint()?;
    assert_eq!(cp, head, "rebuild reached the head");
    print_rebuild_table(&baselines, events, &rebuilt, ceilings.as_ref(), &rm)?;
    println!("read model content digest: {}", rebuilt.digest);

    // 4. As-of dashboard latency (random unit/council, quarter, position).
    let latencies = as_of_latencies(&log, &rm, seed, &shape, head, queries).await?;
    print_latency_table(&latencies);
    println!();
    println!(
        "peak memory (VmHWM): rebuild process {}; query process {} (before the replays); query/replay process {}",
        rebuilt.hwm,
        latencies.query_hwm,
        vm_hwm()
    );
    Ok(())
}

/// The generator's tenant: the read models here project its records.
fn bench_tenant() -> perfledger_domain::Tenant {
    perfledger_domain::Tenant::new(perfledger_testkit::council::TENANT)
        .expect("the generator's tenant is a valid token")
}
