//! `verify` throughput against SHA-256's own on the same bytes (issue #12).
//!
//! Writes an embedded log of `--n` records (subjects and payload sizes in
//! the shape of a council's log: `--entities` entity subjects, payloads of
//! `--size` bytes on average, a checkpoint every `--checkpoint-every`
//! records), then prints in one run, on the same machine:
//!
//! - SHA-256 (the `sha2` crate the log uses) over the log file's bytes, in
//!   1 MiB updates: the ceiling the target is stated against;
//! - the raw read of the file;
//! - opening the log (its index scan), best of `--rounds`;
//! - `integrity::verify` of the opened log (every record's leaf hashed,
//!   the chain stepped, every checkpoint's leaves and root compared);
//! - the chain's hashing alone: a leaf and a chain step for `--n` records
//!   of the same sizes, from memory, nothing read or checked: the floor of
//!   any `verify` of this chain format with this SHA-256.
//!
//! The payloads are opaque to `verify` (it hashes bytes), so synthetic
//! bytes measure the same work a council's log costs.
//!
//! `cargo run --release -p perfledger-bench --bin verify_bench -- --n 1000000`

use std::io::Read;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use perfledger_log::{integrity, Commit, EmbeddedLog, EventLog, Expected, Subject};
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

/// The best wall and CPU time of `rounds` verifies of `log` (which must
/// verify, every one of its `head` records).
async fn time_verify(
    log: &EmbeddedLog,
    head: u64,
    rounds: usize,
) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    let mut verify = Duration::MAX;
    let mut verify_cpu = Duration::MAX;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let c = cpu();
        let report = integrity::verify(log).await?;
        verify = verify.min(t.elapsed());
        verify_cpu = verify_cpu.min(cpu() - c);
        assert!(report.ok(), "the bench log verifies: {report:?}");
        assert_eq!(report.checked, head);
    }
    Ok((verify, verify_cpu))
}

/// The best wall and CPU time of `rounds` opens of the log in `dir`.
async fn time_open(
    dir: &std::path::Path,
    rounds: usize,
) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    let mut open = Duration::MAX;
    let mut open_cpu = Duration::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        let c = cpu();
        let log = EmbeddedLog::open(dir).await?;
        open = open.min(t.elapsed());
        open_cpu = open_cpu.min(cpu() - c);
        drop(log);
    }
    Ok((open, open_cpu))
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

    let (raw, _) = best(a.rounds, || {
        let t = Instant::now();
        let mut f = std::fs::File::open(&file).expect("log file");
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let k = f.read(&mut buf).expect("read log file");
            if k == 0 {
                break;
            }
            n += k as u64;
        }
        assert_eq!(n, bytes, "read the whole file");
        (t.elapsed(), ())
    });
    let (sha, (digest, sha_cpu)) = best(a.rounds, || {
        let t = Instant::now();
        let c = cpu();
        let mut f = std::fs::File::open(&file).expect("log file");
        let mut buf = vec![0u8; 1 << 20];
        let mut h = Sha256::new();
        loop {
            let k = f.read(&mut buf).expect("read log file");
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
        }
        let d = h.finalize();
        (t.elapsed(), (d, cpu() - c))
    });
    let (open, open_cpu) = time_open(&dir, a.rounds).await?;
    let log = EmbeddedLog::open(&dir).await?;
    let (verify, verify_cpu) = time_verify(&log, head, a.rounds).await?;

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
        "log: {head} records, {:.1} MB ({} bytes/record), sha_ni in /proc/cpuinfo: {sha_ni}, digest {:02x}{:02x}..",
        bytes as f64 / 1e6,
        bytes / head.max(1),
        digest[0],
        digest[1]
    );
    println!("| measurement | time | MB/s | vs SHA-256 |");
    println!("|---|---|---|---|");
    let row = |name: &str, d: Duration| {
        println!(
            "| {name} | {d:.2?} | {:.0} | {:.2}x |",
            mb_s(bytes, d),
            sha.as_secs_f64() / d.as_secs_f64()
        );
    };
    row("raw read of the log file", raw);
    row("SHA-256 of the log file (sha2)", sha);
    row("open (index scan)", open);
    row("integrity::verify (chain + checkpoints)", verify);
    row("open + verify", open + verify);
    row("the chain's hashing alone (floor)", hash_only);
    println!(
        "CPU time (user+system, best round): SHA-256 {sha_cpu:.2?}, verify {verify_cpu:.2?}: verify at {:.2}x SHA-256 by CPU; open {open_cpu:.2?}",
        sha_cpu.as_secs_f64() / verify_cpu.as_secs_f64()
    );
    println!(
        "CPU time of the chain's hashing alone {hash_only_cpu:.2?}: {:.2}x SHA-256 by CPU, verify at {:.2}x of it",
        sha_cpu.as_secs_f64() / hash_only_cpu.as_secs_f64(),
        hash_only_cpu.as_secs_f64() / verify_cpu.as_secs_f64()
    );
    Ok(())
}
