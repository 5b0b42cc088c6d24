//! The one workload every path runs, and the driver that times it.
//!
//! Writer `w` of a cell owns its own indicators (quarterly, percentage, a
//! target for the first quarter), defined before the clock starts; the timed
//! part is `per_writer` `RecordResult` commands, one per quarter: command `n`
//! goes to indicator `n / QUARTERS` and quarter `n % QUARTERS` from 2000/01
//! Q1, so every command is accepted and no entity's history exceeds
//! `QUARTERS + 2` events (both event stores replay it per command). Writers
//! never share an entity: the figures are the command path's cost, not
//! contention. Each writer sends one command at a time and waits for its
//! answer; its latency is that round trip. Every side's tenant calendar has
//! one closed quarter ([`close_calendar`]), before all the timed ones: each
//! command is decided against it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::event::ResultEntry;
use perfledger_domain::indicator::{
    Comparator, ComparisonBasis, DataType, Frequency, IndicatorSpec, IndicatorType, Polarity,
    ResultValue, Target, Value,
};
use perfledger_domain::{Fixed, Period, Tenant, Text};
use uuid::Uuid;

/// Quarters recorded per indicator (2000/01 Q1 .. 2009/10 Q4, all ended).
pub const QUARTERS: usize = 40;

/// The tenant every path writes to.
pub const TENANT: &str = "peerbench";

fn t(s: &str) -> Text {
    Text::new("bench", s).expect("bench texts are short and printable")
}

fn envelope(command: Command) -> CommandEnvelope {
    CommandEnvelope {
        command_id: Uuid::now_v7(),
        tenant: Tenant::new(TENANT).expect("a valid tenant name"),
        actor: t("bench"),
        source: t("bench-peer"),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        command,
    }
}

fn percent(v: i64) -> Value {
    Value::Percent(Fixed::from_int(v).expect("a small percentage fits a Fixed"))
}

fn quarter(n: usize) -> Period {
    let year = 2000 + n / 4;
    Period::parse(&format!("{year}/{:02} Q{}", (year + 1) % 100, n % 4 + 1))
        .expect("a well-formed quarter label")
}

/// The reference of writer `w`'s `k`-th indicator in the cell tagged `tag`.
fn reference(tag: &str, w: usize, k: usize) -> String {
    format!("{tag}-{w}-{k}")
}

/// The period every side's tenant calendar has closed before a cell runs
/// (a council's calendar holds its closed quarters; none of the timed
/// results falls in it).
pub fn closed_period() -> Period {
    Period::parse("1999/00 Q4").expect("a well-formed quarter label")
}

/// The command that closes [`closed_period`], once per side.
pub fn close_calendar() -> CommandEnvelope {
    envelope(Command::ClosePeriod {
        period: closed_period(),
    })
}

/// The untimed commands that make writer `w`'s indicators exist, with a target.
pub fn setup(tag: &str, w: usize, per_writer: usize) -> Vec<CommandEnvelope> {
    let mut out = Vec::new();
    for k in 0..per_writer.div_ceil(QUARTERS) {
        let r = reference(tag, w, k);
        out.push(envelope(Command::DefineIndicator {
            spec: IndicatorSpec {
                reference: Some(t(&r)),
                title: t(&format!("Bench indicator {r}")),
                unit: t("Bench"),
                lead_officer: None,
                indicator_type: IndicatorType::Spi,
                polarity: Polarity::BiggerIsBetter,
                frequency: Frequency::Quarterly,
                data_type: DataType::Percentage,
                comparison: ComparisonBasis::Sequential,
                theme: None,
                objective: None,
                committee: None,
            },
        }));
        out.push(envelope(Command::SetTarget {
            indicator: t(&r),
            period: quarter(0),
            target: Target::Numeric {
                comparator: Comparator::Plain,
                value: percent(90),
                note: None,
            },
        }));
    }
    out
}

/// Writer `w`'s `n`-th timed command: a quarterly result.
pub fn record(tag: &str, w: usize, n: usize) -> CommandEnvelope {
    envelope(Command::RecordResult {
        indicator: t(&reference(tag, w, n / QUARTERS)),
        period: quarter(n % QUARTERS),
        entry: ResultEntry {
            result: ResultValue::Measured {
                value: percent(70 + (n % 30) as i64),
                source_rag: None,
                label: None,
            },
            commentary: None,
            intervention: None,
            benchmarks: Vec::new(),
        },
    })
}

/// What one cell measured.
pub struct Timed {
    pub commands: usize,
    pub elapsed: Duration,
    /// Sorted.
    pub latencies: Vec<Duration>,
}

impl Timed {
    pub fn throughput(&self) -> f64 {
        self.commands as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p`-quantile latency in ms.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        nearest_rank(&self.latencies, p).as_secs_f64() * 1e3
    }
}

/// The `p`-quantile of sorted, non-empty samples (nearest rank).
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> T {
    let n = sorted.len();
    assert!(n > 0, "no samples, no percentiles");
    sorted[((n as f64 * p).ceil() as usize).clamp(1, n) - 1]
}

/// Run a cell: every writer sends its setup commands, then all start
/// together (the clock starts when the last is ready) and send
/// `per_writer` commands each through `send(writer, command)`.
pub async fn drive<S, F>(tag: &str, writers: usize, per_writer: usize, send: S) -> Timed
where
    S: Fn(usize, CommandEnvelope) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = ()> + Send,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(writers + 1));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let (send, barrier, tag) = (send.clone(), barrier.clone(), tag.to_string());
        tasks.spawn(async move {
            for cmd in setup(&tag, w, per_writer) {
                send(w, cmd).await;
            }
            let timed: Vec<CommandEnvelope> = (0..per_writer).map(|n| record(&tag, w, n)).collect();
            barrier.wait().await;
            let mut lat = Vec::with_capacity(per_writer);
            for cmd in timed {
                let t0 = Instant::now();
                send(w, cmd).await;
                lat.push(t0.elapsed());
            }
            lat
        });
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(writers * per_writer);
    while let Some(r) = tasks.join_next().await {
        latencies.extend(r.expect("a writer task panicked"));
    }
    let elapsed = start.elapsed();
    latencies.sort();
    Timed {
        commands: latencies.len(),
        elapsed,
        latencies,
    }
}
