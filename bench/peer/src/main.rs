//! perfledger against the event store a council's team would pick instead
//! (issue #12, "a peer in the repo"). A benchmark, not a test: run it with
//! `scripts/bench-peer`, which installs what it needs.
//!
//! One run starts PostgreSQL 15 (Debian's packages, temp storage, loopback)
//! and, per durability setting, a modern nats-server (`$NATS_SERVER_ATOMIC`,
//! ≥ 2.10 for `sync_interval`), then runs the same indicator commands
//! ([`workload`]) at each writer count through three paths:
//! - `ledger`: perfledger's `Ledger` in process, on the JetStream log;
//! - `gateway`: perfledger-client → NATS request/reply → gateway → ledger;
//! - `postgres-es`: cqrs-es with its PostgreSQL event store ([`peer`]),
//!   deciding against the tenant calendar read per command as perfledger
//!   does, and again without that look-up (the peer as measured before
//!   session 17: it would accept results for closed periods);
//!
//! and, with `--embedded`, the `durable` setting's ledger and gateway again
//! on perfledger's embedded log (fsync before acknowledging, concurrent
//! appends sharing one: [`perfledger::Side::start_embedded`]);
//!
//! and pgbench with postgres-es's SQL alone, the peer's ceiling. Durability
//! is matched pairwise ([`durability`]): `relaxed`, `durable` (on one
//! machine's disk) and, with `--durability replicated`, surviving the loss
//! of a server (a JetStream stream of three replicas on three routed
//! servers / PostgreSQL with a synchronous standby, its own server).
//! Ratios are perfledger's throughput over the peer's in the same run at the
//! same durability and writer count: on a shared machine only those count.
//! Both sides share this process's allocator, jemalloc as every perfledger
//! binary has it (`perfledger_alloc`).

// jemalloc, configured as every perfledger binary's (`perfledger_alloc`).
use perfledger_alloc as _;

mod durability;
mod peer;
mod perfledger;
mod pg;
mod raw;
mod workload;

use clap::Parser;
use uuid::Uuid;

use crate::durability::Durability;
use crate::workload::Timed;

#[derive(Parser)]
struct Args {
    /// Timed commands per cell, split evenly over its writers. 32,000
    /// keeps every cell above a few seconds, where the peer's rate (which
    /// moves by a quarter from run to run) averages out. Before the log's
    /// reads deleted their consumers, larger cells measured perfledger
    /// slower (13–15k against 9–11k cmd/s at 32 writers, gateway, relaxed):
    /// their setup left more consumers lingering, not their length; since,
    /// 6,400 and 32,000 measure the same (15.3–16.0k).
    #[arg(long, default_value_t = 32000)]
    commands: usize,
    /// Writer counts.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8, 32])]
    writers: Vec<usize>,
    /// Durability settings, in this order ([`durability`]): `replicated`
    /// starts three nats-servers and a PostgreSQL standby of its own.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["relaxed", "durable"])]
    durability: Vec<Durability>,
    /// pgbench client counts.
    #[arg(long, value_delimiter = ',', default_values_t = [8, 32])]
    pgbench_clients: Vec<usize>,
    /// Seconds per pgbench run.
    #[arg(long, default_value_t = 10)]
    pgbench_secs: u64,
    /// Only the server's raw rate, durable then relaxed: single appends
    /// against atomic batches (no PostgreSQL, no ledger): see `raw`.
    #[arg(long)]
    raw: bool,
    /// The JetStream log's group commit sizes to run perfledger's durable
    /// paths with (1 = off: every append its own publish). Relaxed runs
    /// without: there an atomic batch costs fsyncs a publish does not.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 64])]
    group_commit: Vec<usize>,
    /// perfledger's paths to run (`ledger`, `gateway`): one alone measures
    /// it on a log holding only its own records, and profiles cleanly.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["ledger", "gateway"])]
    paths: Vec<Path>,
    /// The ledger trusts a tenant calendar known current within this many
    /// ms (`Ledger::with_calendar_staleness`, the gateway's
    /// `--calendar-staleness-ms`); 0 (the default everywhere) asks the log
    /// for the calendar's version before every command.
    #[arg(long, default_value_t = 0)]
    calendar_staleness_ms: u64,
    /// Also run perfledger's durable paths on its embedded log (fsynced
    /// before the acknowledgement, concurrent appends sharing one fsync, as
    /// PostgreSQL's commits share a WAL flush): the same ledger and gateway
    /// where the log's storage groups commits, beside JetStream's one fsync
    /// per publish.
    #[arg(long)]
    embedded: bool,
    /// Groups in flight at once with group commit.
    #[arg(long, default_value_t = 1)]
    group_in_flight: usize,
    /// `--raw`: commits outstanding at any time.
    #[arg(long, default_value_t = 32)]
    raw_in_flight: usize,
    /// `--raw`: atomic batch sizes.
    #[arg(long, value_delimiter = ',', default_values_t = [8, 32])]
    raw_batches: Vec<usize>,
}

/// One of perfledger's command paths.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Path {
    Ledger,
    Gateway,
}

/// One row of the results table.
struct Row {
    durability: Durability,
    writers: usize,
    path: String,
    throughput: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Against the peer's throughput in the same cell (its commands decided
    /// against the calendar, as perfledger's are), for perfledger's rows.
    ratio: Option<f64>,
    /// Against the peer deciding without a calendar, in the same cell.
    ratio_without_calendar: Option<f64>,
}

impl Row {
    fn timed(durability: Durability, writers: usize, path: String, t: &Timed) -> Self {
        Row {
            durability,
            writers,
            path,
            throughput: t.throughput(),
            p50_ms: t.percentile_ms(0.50),
            p99_ms: t.percentile_ms(0.99),
            ratio: None,
            ratio_without_calendar: None,
        }
    }

    fn print(&self) {
        let times = |r: Option<f64>| r.map(|r| format!("{r:.2}×")).unwrap_or_default();
        println!(
            "| {:<10} | {:>7} | {:<37} | {:>8.0} | {:>7.2} | {:>7.2} | {:>15} | {:>15} |",
            self.durability.name(),
            self.writers,
            self.path,
            self.throughput,
            self.p50_ms,
            self.p99_ms,
            times(self.ratio),
            times(self.ratio_without_calendar),
        );
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The ledger, gateway and peer cells at every writer count, one durability:
/// perfledger's durable paths once per group commit size, the peer once.
async fn run_durability(
    a: &Args,
    pg: &pg::Postgres,
    durability: Durability,
    run: &str,
) -> Vec<Row> {
    let groups = if durability == Durability::Durable {
        a.group_commit.clone()
    } else {
        vec![1]
    };
    let staleness = std::time::Duration::from_millis(a.calendar_staleness_ms);
    let mut sides = Vec::new();
    for &g in &groups {
        let side = perfledger::Side::start(durability, g, a.group_in_flight, staleness).await;
        let (label, tag) = match g {
            1 => (String::new(), "1".to_string()),
            g => (format!(", group {g}"), g.to_string()),
        };
        sides.push((label, tag, side));
    }
    if a.embedded && durability == Durability::Durable {
        let side = perfledger::Side::start_embedded(staleness).await;
        sides.push((", embedded log".to_string(), "e".to_string(), side));
    }
    let mut rows = Vec::new();
    for &w in &a.writers {
        let per = (a.commands / w).max(1);
        let tag = |p: &str| format!("{run}{}{p}{w}", &durability.name()[..1]);
        let mut ours = Vec::new();
        for (label, g, side) in &sides {
            let name = |path: &str| format!("{path}{label}");
            if a.paths.contains(&Path::Ledger) {
                let ledger = side.run_ledger(&tag(&format!("l{g}-")), w, per).await;
                ours.push((name("ledger (in process)"), ledger));
            }
            if a.paths.contains(&Path::Gateway) {
                let gateway = side.run_gateway(&tag(&format!("g{g}-")), w, per).await;
                ours.push((name("gateway (NATS)"), gateway));
            }
            eprintln!(
                "  {} × {w} writers, side {g}: {}; {} consumers on the stream",
                durability.name(),
                side.group_stats(),
                side.stream_consumers().await
            );
        }
        let peer = peer::run(pg, durability, true, &tag("p"), w, per).await;
        let unmatched = peer::run(pg, durability, false, &tag("q"), w, per).await;
        for (path, t) in ours {
            let mut row = Row::timed(durability, w, path, &t);
            row.ratio = Some(row.throughput / peer.throughput());
            row.ratio_without_calendar = Some(row.throughput / unmatched.throughput());
            rows.push(row);
        }
        rows.push(Row::timed(durability, w, "postgres-es".into(), &peer));
        rows.push(Row::timed(
            durability,
            w,
            "postgres-es, no calendar look-up".into(),
            &unmatched,
        ));
        eprintln!(
            "  {} × {w} writers done (load {})",
            durability.name(),
            load_average()
        );
    }
    for (_, _, side) in sides {
        side.shutdown().await;
    }
    for &c in &a.pgbench_clients {
        let b = peer::pgbench(pg, durability, &format!("{run}{c}"), c, a.pgbench_secs);
        rows.push(Row {
            durability,
            writers: c,
            path: "pgbench (SQL only)".into(),
            throughput: b.tps,
            p50_ms: b.p50_ms,
            p99_ms: b.p99_ms,
            ratio: None,
            ratio_without_calendar: None,
        });
    }
    rows
}

/// `--raw`: the server's own rate at each durability, single appends
/// against atomic batches of the same commits.
async fn run_raw(a: &Args, modern: &std::path::Path) {
    let load_before = load_average();
    let mut rows = Vec::new();
    for durability in [Durability::Durable, Durability::Relaxed] {
        for r in raw::run(
            durability.nats_config(),
            a.commands,
            a.raw_in_flight,
            &a.raw_batches,
        )
        .await
        {
            rows.push((durability, r));
        }
    }
    println!(
        "\nraw appends: {} commits per mode, {} in flight; nats-server {}; \
         load average {load_before} before, {} after\n",
        a.commands,
        a.raw_in_flight,
        modern.display(),
        load_average()
    );
    println!("| durability | mode | msgs/s | p50 ms | p99 ms | server fsyncs | fsyncs per msg |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (durability, r) in rows {
        let (syncs, per) = match r.syncs {
            Some(s) => (s.to_string(), format!("{:.3}", s as f64 / r.msgs as f64)),
            None => ("n/a".into(), "n/a".into()),
        };
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {syncs} | {per} |",
            durability.name(),
            r.mode,
            r.msgs_per_s,
            r.p50_ms,
            r.p99_ms
        );
    }
}

fn main() {
    let a = Args::parse();
    // testkit's config-file servers run `$NATS_SERVER`: make it the modern
    // binary (sync_interval needs ≥ 2.10). Set before any thread starts.
    let modern = perfledger_testkit::nats_server_atomic_binary();
    std::env::set_var(perfledger_testkit::NATS_SERVER_ENV, &modern);
    let rt = tokio::runtime::Runtime::new().expect("start the tokio runtime");
    if a.raw {
        rt.block_on(run_raw(&a, &modern));
        return;
    }
    rt.block_on(async {
        let run = Uuid::now_v7().simple().to_string()[24..].to_string();
        let load_before = load_average();
        eprintln!(
            "bench-peer: {} commands per cell; load {load_before}",
            a.commands
        );
        // One PostgreSQL for the single-machine settings, and one with a
        // standby for `replicated` (its commits all wait for the standby).
        let mut single = None;
        let mut rows = Vec::new();
        for &d in &a.durability {
            let replicated;
            let pg = if d.standby() {
                replicated = pg::Postgres::start_with_standby();
                peer::create_schema(&replicated).await;
                &replicated
            } else {
                if single.is_none() {
                    let pg = pg::Postgres::start();
                    peer::create_schema(&pg).await;
                    single = Some(pg);
                }
                single.as_ref().expect("started just above")
            };
            rows.extend(run_durability(&a, pg, d, &run).await);
        }
        println!(
            "\nperfledger vs postgres-es: {} timed commands per cell; calendar staleness \
             {} ms; nats-server {}; load average {load_before} before, {} after\n",
            a.commands,
            a.calendar_staleness_ms,
            modern.display(),
            load_average()
        );
        println!(
            "| durability | writers | path | cmd/s | p50 ms | p99 ms | perfledger / postgres-es \
             | / postgres-es, no calendar |"
        );
        println!("|---|---:|---|---:|---:|---:|---:|---:|");
        for r in &rows {
            r.print();
        }
    });
}
