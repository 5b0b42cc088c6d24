//! `verify` throughput against SHA-256's own on the same bytes (issue #12).
//!
//! Writes an embedded log of `--n` records (subjects and payload sizes in
//! the shape of a council's log: `--entities` entity subjects, payloads of
//! `--size` bytes on average, a checkpoint every `--checkpoint-every`
//! records), then prints in one run, on the same machine:
//!
//! - SHA-256 (the `sha2` crate the log uses) over the log file's bytes, in
//!   1 MiB updates on one thread: what the target is stated
//!   against, timed alternately with `verify` (round by round);
//! - the raw read of the file;
//! - opening the log (its index scan), best of `--rounds`, and the peak
//!   memory an open adds (`--open-only` stops there);
//! - `integrity::verify` of the opened log (every record's leaf hashed,
//!   the chain stepped, every checkpoint's leaves and root compared), and
//!   verify / SHA-256 by wall-clock throughput (the target: leaves
//!   are hashed on several cores) and by CPU time (the work), with the load
//!   average before and after;
//! - the chain's hashing alone: a leaf and a chain step for `--n` records
//!   of the same sizes, from memory, nothing read or checked: the floor of
//!   any `verify` of this chain format with this SHA-256.
//!
//! The payloads are opaque to `verify` (it hashes bytes), so synthetic
//! bytes measure the same work a council's log costs. They are not ledger
//! commits, so `perfledger verify` (which also decodes every commit for
//! reused command ids and re-derives seals from a read model) cannot run
//! on this log: `--council` times its passes over a council's log.
//!
//! With `--council`, also `perfledger verify`'s passes over a council's
//! log of ledger commits (see `council_passes`).
//!
//! `cargo run --release -p perfledger-bench --bin verify_bench -- --n 1000000 [--council]`

// jemalloc, configured as every perfledger binary's (`perfledger_alloc`).
use perfledger_alloc as _;

use std::collections::BTreeSet;
use std::io::Read;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use perfledger_bench::{load_average, thread_cpu};
use perfledger_log::{integrity, Commit, EmbeddedLog, EventLog, Expected, Subject};
use perfledger_testkit::council::Shape;
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Parser, Debug)]
struct Args {
    /// Records (checkpoints included).
    #[arg(long, default_value_t = 1_000_000)]
    n: u64,
    /// Average payload bytes (payloads vary from half to one and a half times this).
    #[arg(long, default_value_t = 150)]
    size: usize,
    /// Distinct entity subjects.
    #[arg(long, default_value_t = 20_000)]
    entities: u64,
    /// A checkpoint after this many records.
    #[arg(long, default_value_t = 50_000)]
    checkpoint_every: u64,
    /// Timed rounds of each measurement (best of; the machine is shared).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Directory for the log (a temporary one when absent).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Also time `perfledger verify`'s passes over a council's log (the
    /// testkit's large council, > 1M events of ledger commits, kept in
    /// `DIR-council` with `--dir`): the chain, reused command ids and the
    /// head's chain root as separate passes, and as the one pass the CLI
    /// now makes.
    #[arg(long)]
    council: bool,
    /// Stop after timing the open (its wall, CPU and peak memory).
    #[arg(long)]
    open_only: bool,
}

/// This process's CPU time (user + system, all threads) from /proc/self/stat:
/// on a shared machine wall time mostly measures the neighbours, CPU time
/// the work.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (Linux)");
    let after = &stat[stat
        .rfind(')')
        .expect("stat has the command in parentheses")
        + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 of stat(5) (utime, stime), counted after the command.
    let ticks: u64 = f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime");
    Duration::from_millis(ticks * 10)
}

fn best<T>(rounds: usize, mut f: impl FnMut() -> (Duration, T)) -> (Duration, T) {
    let mut out = f();
    for _ in 1..rounds {
        let next = f();
        if next.0 < out.0 {
            out = next;
        }
    }
    out
}

fn mb_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

/// Deterministic pseudo-random bytes (xorshift), so every run writes the same log.
fn fill(buf: &mut [u8], state: &mut u64) {
    for b in buf {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *b = (*state >> 24) as u8;
    }
}

async fn write_log(
    dir: &std::path::Path,
    a: &Args,
) -> Result<EmbeddedLog, Box<dyn std::error::Error>> {
    let log = EmbeddedLog::open(dir).await?;
    let max = log.capabilities().max_batch.min(5_000);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut written = log.head().await?;
    let mut batch = Vec::with_capacity(max);
    while written < a.n {
        // Sequences that are multiples of `checkpoint_every` are checkpoints.
        let next_cp = (written / a.checkpoint_every + 1) * a.checkpoint_every;
        if written + 1 == next_cp {
            integrity::checkpoint(&log, "pl").await?;
            written += 1;
            continue;
        }
        let take = (max as u64).min(next_cp - 1 - written).min(a.n - written);
        for i in 0..take {
            let seq = written + i + 1;
            let entity = Uuid::from_u128(u128::from(seq % a.entities) << 64 | 0x5eed);
            let len = a.size / 2 + (seq as usize * 7919) % (a.size + 1);
            let mut payload = vec![0u8; len];
            fill(&mut payload, &mut state);
            batch.push(Commit {
                subject: Subject::entity("pl", "bench", "indicator", entity)?,
                expected: Expected::Any,
                msg_id: Uuid::from_u128(u128::from(seq)),
                recorded_at: 1_700_000_000_000 + seq as i64,
                payload: Bytes::from(payload),
            });
        }
        written += log.append_batch(std::mem::take(&mut batch)).await?.len() as u64;
    }
    Ok(log)
}

/// A leaf hash and a chain step for `n` records shaped as `write_log`
/// writes them (subject length, payload sizes), from memory: the hashing
/// `verify` cannot avoid, without reading, checking or bookkeeping.
fn chain_hashing_alone(a: &Args, n: u64) -> integrity::Hash {
    let subject = Subject::entity("pl", "bench", "indicator", Uuid::from_u128(0x5eed))
        .expect("a valid subject");
    let mut payload = vec![0u8; a.size / 2 + a.size + 1];
    fill(&mut payload, &mut 0x9e37_79b9_7f4a_7c15u64);
    let mut root = integrity::ZERO;
    for seq in 1..=n {
        let len = a.size / 2 + (seq as usize * 7919) % (a.size + 1);
        let leaf = integrity::leaf_hash_of(
            seq,
            subject.as_str(),
            &Uuid::from_u128(u128::from(seq)),
            1_700_000_000_000 + seq as i64,
            &payload[..len],
        );
        root = integrity::chain_next(&root, &leaf);
    }
    root
}

/// The wall time, CPU time and this thread's CPU time of one verify of
/// `log` (which must verify, every one of its `head` records). The chain
/// steps on this thread (`main`'s, where the runtime polls the verify);
/// the leaves are hashed on the blocking pool's.
async fn time_verify(
    log: &EmbeddedLog,
    head: u64,
) -> Result<(Duration, Duration, Duration), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let (c, tc) = (cpu(), thread_cpu());
    let report = integrity::verify(log).await?;
    let times = (t.elapsed(), cpu() - c, thread_cpu() - tc);
    assert!(report.ok(), "the bench log verifies: {report:?}");
    assert_eq!(report.checked, head);
    Ok(times)
}

/// The wall and CPU time of SHA-256 over the file's bytes, read in 1 MiB
/// updates on this one thread, and the digest.
fn time_sha256(file: &std::path::Path, bytes: u64) -> (Duration, Duration, [u8; 32]) {
    let t = Instant::now();
    let c = cpu();
    let mut h = Sha256::new();
    read_file(file, bytes, |b| h.update(b));
    let d = h.finalize().into();
    (t.elapsed(), cpu() - c, d)
}

/// A `Vm*` figure of this process from /proc/self/status, in kB.
fn vm_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status (Linux)")
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// The best wall and CPU time of `rounds` opens of the log in `dir`,
/// printed with the most memory an open added: the process's peak resident
/// set while opening (reset before it through /proc/self/clear_refs) less
/// its resident set before.
async fn time_open(
    dir: &std::path::Path,
    rounds: usize,
) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    let mut open = Duration::MAX;
    let mut open_cpu = Duration::MAX;
    let mut grew = 0f64;
    for _ in 0..rounds {
        // "5" resets VmHWM to the current resident set (Linux 4.0+).
        std::fs::write("/proc/self/clear_refs", "5")?;
        let before = vm_kb("VmRSS");
        let t = Instant::now();
        let c = cpu();
        let log = EmbeddedLog::open(dir).await?;
        open = open.min(t.elapsed());
        open_cpu = open_cpu.min(cpu() - c);
        grew = grew.max((vm_kb("VmHWM").saturating_sub(before)) as f64 / 1024.0);
        drop(log);
    }
    println!(
        "open: {open:.2?} wall, {open_cpu:.2?} CPU (best of {rounds}), peak memory of the open {grew:.0} MB; load average {}",
        load_average()
    );
    Ok((open, open_cpu))
}

/// The cores this process may run on.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The best (wall, CPU) of two.
fn min2(a: (Duration, Duration), b: (Duration, Duration)) -> (Duration, Duration) {
    (a.0.min(b.0), a.1.min(b.1))
}

/// Wall and CPU time of `f`.
async fn timed<T, F: std::future::Future<Output = T>>(f: F) -> ((Duration, Duration), T) {
    let (t, c) = (Instant::now(), cpu());
    let out = f.await;
    ((t.elapsed(), cpu() - c), out)
}

/// `perfledger verify`'s passes over a council's log in `dir` (generated
/// once): before issue #12's fold, `integrity::verify`, then
/// `reused_command_ids` and `chain_roots_at` each reading the log again;
/// now one `verify_each` pass feeding a `CommandIdThread` (the seals' roots
/// are stepped from roots it keeps). Best of `rounds`, alternating.
async fn council_passes(
    dir: &std::path::Path,
    rounds: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let log = EmbeddedLog::open(dir).await?;
    let t = Instant::now();
    let made = perfledger_bench::generate_embedded(&log, Shape::large(), 42).await?;
    let head = log.head().await?;
    let bytes = std::fs::metadata(dir.join("log.dat"))?.len();
    println!(
        "council log: {head} records, {:.1} MB ({made} events generated in {:.1?})",
        bytes as f64 / 1e6,
        t.elapsed()
    );
    let never = (Duration::MAX, Duration::MAX);
    let (mut chain, mut ids, mut root, mut folded) = (never, never, never, never);
    let load_before = load_average();
    for _ in 0..rounds.max(1) {
        let (d, report) = timed(integrity::verify(&log)).await;
        assert!(report?.ok(), "the council's log verifies");
        chain = min2(chain, d);
        let (d, reused) = timed(perfledger_ledger::reused_command_ids(&log)).await;
        let reused = reused?;
        ids = min2(ids, d);
        let (d, roots) = timed(integrity::chain_roots_at(&log, &BTreeSet::from([head]))).await;
        let head_root = roots?[&head];
        root = min2(root, d);
        let mut check = perfledger_ledger::CommandIdThread::new();
        let mut last = integrity::ZERO;
        let (d, reused_too) = timed(async {
            let report = integrity::verify_each(&log, None, |r, root| {
                check.push(r.seq, r.checkpoint, &r.payload);
                last = *root;
            })
            .await?;
            assert!(report.ok(), "the council's log verifies");
            Ok::<_, Box<dyn std::error::Error>>(check.finish().finish(&log).await?)
        })
        .await;
        assert_eq!(reused_too?, reused, "the same reused ids found");
        assert_eq!(last, head_root, "the same head root");
        folded = min2(folded, d);
    }
    let sum = (chain.0 + ids.0 + root.0, chain.1 + ids.1 + root.1);
    println!("| `perfledger verify`'s passes, council log | wall | CPU |");
    println!("|---|---|---|");
    for (name, (w, c)) in [
        ("integrity::verify", chain),
        ("reused_command_ids (its own pass)", ids),
        ("chain_roots_at(head) (its own pass)", root),
        ("the three, one after another (before)", sum),
        ("verify_each + CommandIdThread, one pass (now)", folded),
    ] {
        println!("| {name} | {w:.2?} | {c:.2?} |");
    }
    println!(
        "load average {load_before} before, {} after",
        load_average()
    );
    Ok(())
}

/// The best wall time of `rounds` reads of the file's bytes, 1 MiB at a
/// time.
fn time_raw_read(file: &std::path::Path, bytes: u64, rounds: usize) -> Duration {
    best(rounds, || {
        let t = Instant::now();
        read_file(file, bytes, |_| {});
        (t.elapsed(), ())
    })
    .0
}

/// Read the file's `bytes` bytes 1 MiB at a time, handing each to `each`.
fn read_file(file: &std::path::Path, bytes: u64, mut each: impl FnMut(&[u8])) {
    let mut f = std::fs::File::open(file).expect("log file");
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).expect("read log file");
        if k == 0 {
            break;
        }
        n += k as u64;
        each(&buf[..k]);
    }
    assert_eq!(n, bytes, "read the whole file");
}

/// The measurements' table: each row's time, throughput over the file's
/// `bytes`, and its throughput against SHA-256's (`sha`).
fn print_table(bytes: u64, sha: Duration, rows: &[(&str, Duration)]) {
    println!("| measurement | time | MB/s | vs SHA-256 |");
    println!("|---|---|---|---|");
    for (name, d) in rows {
        println!(
            "| {name} | {d:.2?} | {:.0} | {:.2}x |",
            mb_s(bytes, *d),
            sha.as_secs_f64() / d.as_secs_f64()
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    let tmp = tempfile::tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().join("log"));
    let t = Instant::now();
    let log = write_log(&dir, &a).await?;
    let head = log.head().await?;
    println!("wrote {head} records in {:.1?}", t.elapsed());
    drop(log);
    let file = dir.join("log.dat");
    let bytes = std::fs::metadata(&file)?.len();
    if a.open_only {
        time_open(&dir, a.rounds).await?;
        return Ok(());
    }

    let raw = time_raw_read(&file, bytes, a.rounds);
    let (open, open_cpu) = time_open(&dir, a.rounds).await?;
    let log = EmbeddedLog::open(&dir).await?;
    // SHA-256 and verify alternately, round by round, so both meet the
    // same neighbours; the best of each.
    let load_before = load_average();
    let (mut sha, mut sha_cpu) = (Duration::MAX, Duration::MAX);
    let (mut verify, mut verify_cpu, mut chain_cpu) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let mut digest = [0u8; 32];
    for _ in 0..a.rounds.max(1) {
        let (w, c, d) = time_sha256(&file, bytes);
        (sha, sha_cpu, digest) = (sha.min(w), sha_cpu.min(c), d);
        let (w, c, tc) = time_verify(&log, head).await?;
        (verify, verify_cpu, chain_cpu) = (verify.min(w), verify_cpu.min(c), chain_cpu.min(tc));
    }
    let load_after = load_average();

    let (hash_only, hash_only_cpu) = best(a.rounds, || {
        let t = Instant::now();
        let c = cpu();
        let root = chain_hashing_alone(&a, head);
        std::hint::black_box(root);
        (t.elapsed(), cpu() - c)
    });

    let sha_ni = std::fs::read_to_string("/proc/cpuinfo")
        .map(|c| c.split_whitespace().any(|w| w == "sha_ni"))
        .unwrap_or(false);
    println!(
        "log: {head} records, {:.1} MB ({} bytes/record), sha_ni in /proc/cpuinfo: {sha_ni}, digest {:02x}{:02x}.., cores {}",
        bytes as f64 / 1e6,
        bytes / head.max(1),
        digest[0],
        digest[1],
        cores()
    );
    print_table(
        bytes,
        sha,
        &[
            ("raw read of the log file", raw),
            ("SHA-256 of the log file (sha2, one thread)", sha),
            ("open (index scan)", open),
            ("integrity::verify (chain + checkpoints)", verify),
            ("open + verify", open + verify),
            ("the chain's hashing alone (floor, one thread)", hash_only),
        ],
    );
    println!(
        "SHA-256 of the file (one thread): wall {sha:.2?}, CPU {sha_cpu:.2?}; verify: wall {verify:.2?}, CPU {verify_cpu:.2?} (best of {} rounds each, alternating)",
        a.rounds.max(1)
    );
    println!(
        "verify / SHA-256 throughput: {:.2}x by wall clock, {:.2}x by CPU; load average {load_before} before, {load_after} after",
        sha.as_secs_f64() / verify.as_secs_f64(),
        sha_cpu.as_secs_f64() / verify_cpu.as_secs_f64()
    );
    let idle = chain_cpu.max(verify_cpu / cores() as u32);
    println!(
        "verify's CPU: {chain_cpu:.2?} on the chain's thread, the rest ({:.2?}) hashing leaves on the others: on {} idle cores its wall time would be about {idle:.2?} ({:.2}x SHA-256's CPU), the larger of the chain's thread and the total shared out",
        verify_cpu.saturating_sub(chain_cpu),
        cores(),
        sha_cpu.as_secs_f64() / idle.as_secs_f64()
    );
    println!("open: CPU {open_cpu:.2?}");
    println!(
        "CPU time of the chain's hashing alone {hash_only_cpu:.2?}: {:.2}x SHA-256 by CPU, verify at {:.2}x of it",
        sha_cpu.as_secs_f64() / hash_only_cpu.as_secs_f64(),
        hash_only_cpu.as_secs_f64() / verify_cpu.as_secs_f64()
    );
    drop(log);
    if a.council {
        let council = match &a.dir {
            Some(d) => d.with_file_name(format!(
                "{}-council",
                d.file_name().map_or("log".into(), |n| n.to_string_lossy())
            )),
            None => tmp.path().join("council"),
        };
        council_passes(&council, a.rounds).await?;
    }
    Ok(())
}
