//! perfledger-bench: benchmark binaries live in `src/bin/`.
//! Run e.g. `cargo run --release -p perfledger-bench --bin log_bench -- --n 200000`.
//!
//! This library holds what several benchmarks share: argument look-up,
//! percentiles and their printed form, the load average printed beside
//! figures on a shared machine, and the generated council log.

pub mod sled_ceiling;

use std::time::Duration;

use perfledger_log::{EmbeddedLog, EventLog, LogError};
use perfledger_testkit::council::{to_commit, Generator, Shape};

/// The value after `name` on the command line, if given.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The `p`th percentile of sorted durations (nearest rank, rounding down;
/// zero for none).
pub fn pct(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = (sorted.len() * p / 100).min(sorted.len() - 1);
    sorted[i]
}

/// `12.345 ms`.
pub fn ms(d: Duration) -> String {
    format!("{}.{:03} ms", d.as_millis(), d.as_micros() % 1000)
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`), printed beside
/// figures measured on a shared machine.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_string())
}

/// CPU time this thread has run (`CLOCK_THREAD_CPUTIME_ID`). On a shared
/// machine the wall time of a query also counts the time it waited for a
/// core; its CPU time is the steadier figure to compare two builds with.
/// (`/proc/thread-self/schedstat` counts in scheduler ticks on this kernel,
/// 4 ms, too coarse for one query.)
pub fn thread_cpu() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of this whole process, every thread (`CLOCK_PROCESS_CPUTIME_ID`).
pub fn process_cpu() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, exclusively borrowed timespec for the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "CPU-time clocks are supported on Linux");
    let secs = u64::try_from(ts.tv_sec).expect("a CPU time is not negative");
    let nanos = u32::try_from(ts.tv_nsec).expect("tv_nsec is below one second");
    Duration::new(secs, nanos)
}

/// Append the council generated from `shape` and `seed` to an empty `log`
/// (deterministic; streamed in batches of 10,000 commits). A log that
/// already holds records is left as it is. Returns the events generated
/// (0 when the log was kept).
pub async fn generate_embedded(
    log: &EmbeddedLog,
    shape: Shape,
    seed: u64,
) -> Result<u64, LogError> {
    if log.head().await? != 0 {
        return Ok(0);
    }
    let mut gen = Generator::new(shape, seed);
    let mut chunk = Vec::with_capacity(10_000);
    for ev in gen.by_ref() {
        if let Some(c) = to_commit(&ev) {
            chunk.push(c);
        }
        if chunk.len() == 10_000 {
            log.append_batch(std::mem::take(&mut chunk)).await?;
        }
    }
    if !chunk.is_empty() {
        log.append_batch(chunk).await?;
    }
    Ok(gen.events_produced())
}
