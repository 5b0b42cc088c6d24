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
//! - `postgres-es`: cqrs-es with its PostgreSQL event store ([`peer`]);
//!
//! and pgbench with postgres-es's SQL alone, the peer's ceiling. Durability
//! is matched pairwise: `durable` = JetStream `sync_interval: always` /
//! PostgreSQL `synchronous_commit = on` (each acknowledged command is on
//! disk); `relaxed` = JetStream's default timer fsync / `synchronous_commit
//! = off` (a crash may lose the last moments; JetStream's window is longer).
//! Ratios are perfledger's throughput over the peer's in the same run at the
//! same durability and writer count: on a shared machine only those count.

mod peer;
mod perfledger;
mod pg;
mod workload;

use clap::Parser;
use uuid::Uuid;

use crate::workload::Timed;

#[derive(Parser)]
struct Args {
    /// Timed commands per cell, split evenly over its writers.
    #[arg(long, default_value_t = 1600)]
    commands: usize,
    /// Writer counts.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8, 32])]
    writers: Vec<usize>,
    /// pgbench client counts.
    #[arg(long, value_delimiter = ',', default_values_t = [8, 32])]
    pgbench_clients: Vec<usize>,
    /// Seconds per pgbench run.
    #[arg(long, default_value_t = 10)]
    pgbench_secs: u64,
}

/// One row of the results table.
struct Row {
    durable: bool,
    writers: usize,
    path: &'static str,
    throughput: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Against the peer's throughput in the same cell, for perfledger's rows.
    ratio: Option<f64>,
}

impl Row {
    fn timed(durable: bool, writers: usize, path: &'static str, t: &Timed) -> Self {
        Row {
            durable,
            writers,
            path,
            throughput: t.throughput(),
            p50_ms: t.percentile_ms(0.50),
            p99_ms: t.percentile_ms(0.99),
            ratio: None,
        }
    }

    fn print(&self) {
        let ratio = self.ratio.map(|r| format!("{r:.2}×")).unwrap_or_default();
        println!(
            "| {:<7} | {:>7} | {:<21} | {:>8.0} | {:>7.2} | {:>7.2} | {:>15} |",
            durability(self.durable),
            self.writers,
            self.path,
            self.throughput,
            self.p50_ms,
            self.p99_ms,
            ratio
        );
    }
}

fn durability(durable: bool) -> &'static str {
    if durable {
        "durable"
    } else {
        "relaxed"
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The ledger, gateway and peer cells at every writer count, one durability.
async fn run_durability(a: &Args, pg: &pg::Postgres, durable: bool, run: &str) -> Vec<Row> {
    let side = perfledger::Side::start(durable).await;
    let mut rows = Vec::new();
    for &w in &a.writers {
        let per = (a.commands / w).max(1);
        let tag = |p: &str| format!("{run}{}{p}{w}", &durability(durable)[..1]);
        let ledger = side.run_ledger(&tag("l"), w, per).await;
        let gateway = side.run_gateway(&tag("g"), w, per).await;
        let peer = peer::run(pg, durable, &tag("p"), w, per).await;
        let base = peer.throughput();
        for (path, t) in [
            ("ledger (in process)", &ledger),
            ("gateway (NATS)", &gateway),
        ] {
            let mut row = Row::timed(durable, w, path, t);
            row.ratio = Some(row.throughput / base);
            rows.push(row);
        }
        rows.push(Row::timed(durable, w, "postgres-es", &peer));
        eprintln!(
            "  {} × {w} writers done (load {})",
            durability(durable),
            load_average()
        );
    }
    side.shutdown().await;
    for &c in &a.pgbench_clients {
        let b = peer::pgbench(pg, durable, &format!("{run}{c}"), c, a.pgbench_secs);
        rows.push(Row {
            durable,
            writers: c,
            path: "pgbench (SQL only)",
            throughput: b.tps,
            p50_ms: b.p50_ms,
            p99_ms: b.p99_ms,
            ratio: None,
        });
    }
    rows
}

fn main() {
    let a = Args::parse();
    // testkit's config-file servers run `$NATS_SERVER`: make it the modern
    // binary (sync_interval needs ≥ 2.10). Set before any thread starts.
    let modern = perfledger_testkit::nats_server_atomic_binary();
    std::env::set_var(perfledger_testkit::NATS_SERVER_ENV, &modern);
    let rt = tokio::runtime::Runtime::new().expect("start the tokio runtime");
    rt.block_on(async {
        let pg = pg::Postgres::start();
        peer::create_schema(&pg).await;
        let run = Uuid::now_v7().simple().to_string()[24..].to_string();
        let load_before = load_average();
        eprintln!(
            "bench-peer: {} commands per cell; load {load_before}",
            a.commands
        );
        let mut rows = run_durability(&a, &pg, false, &run).await;
        rows.extend(run_durability(&a, &pg, true, &run).await);
        println!(
            "\nperfledger vs postgres-es: {} timed commands per cell; nats-server {}; \
             load average {load_before} before, {} after\n",
            a.commands,
            modern.display(),
            load_average()
        );
        println!(
            "| durability | writers | path | cmd/s | p50 ms | p99 ms | perfledger / postgres-es |"
        );
        println!("|---|---:|---|---:|---:|---:|---:|");
        for r in &rows {
            r.print();
        }
    });
}
