//! The peer: the same indicator commands through cqrs-es and its PostgreSQL
//! event store, `postgres-es`, used as its documentation shows
//! (`postgres_cqrs`: every command loads the aggregate's events, decides,
//! and inserts the new events at the next sequences in one transaction; a
//! primary-key clash is an optimistic-lock conflict).
//!
//! The aggregate delegates to perfledger's own rules ([`IndicatorState`]'s
//! `handle`/`apply`), so both sides validate exactly the same way; it is
//! given only the recorded time (no calendar lookup, which perfledger's
//! ledger does per command: a small advantage to the peer). The command id
//! travels in the events' metadata, and a unique index on it gives the peer
//! the dedupe perfledger has (each of these commands yields one event).
//!
//! [`pgbench`] runs the same SQL with no client code (one transaction per
//! command: read the version, insert at version + 1 with a fresh command
//! id): the most the peer can reach on this server.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use perfledger_domain::aggregate::IndicatorState;
use perfledger_domain::{Command, Context, DomainError, EventBody};
use perfledger_ledger::{Clock, SystemClock};
use postgres_es::{postgres_cqrs, PostgresCqrs};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Postgres as Pg};

use crate::durability::Durability;
use crate::pg::{Postgres, DATABASE, USER};
use crate::workload::{drive, nearest_rank, record, Timed};

/// The indicator as a cqrs-es aggregate.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PeerIndicator {
    state: IndicatorState,
}

/// perfledger's event body as a cqrs-es event (JSON in the `payload` column).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerEvent(EventBody);

impl DomainEvent for PeerEvent {
    fn event_type(&self) -> String {
        self.0.name().to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

impl Aggregate for PeerIndicator {
    const TYPE: &'static str = "Indicator";
    type Command = Command;
    type Event = PeerEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        let ctx = Context::default().at(SystemClock.now());
        for event in self.state.handle(&command, &ctx)? {
            sink.write(PeerEvent(event), self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: PeerEvent) {
        self.state.apply(&event.0);
    }
}

/// postgres-es's `events` and `snapshots` tables (their documented
/// schema), and the unique command id.
const SCHEMA: &str = "
CREATE TABLE events (
    aggregate_type text NOT NULL,
    aggregate_id   text NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text NOT NULL,
    event_version  text NOT NULL,
    payload        json NOT NULL,
    metadata       json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE TABLE snapshots (
    aggregate_type   text NOT NULL,
    aggregate_id     text NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0) NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);
CREATE UNIQUE INDEX events_command_id ON events ((metadata ->> 'command_id'));
";

/// A pool of `size` connections with `durability`'s `synchronous_commit`.
async fn pool(pg: &Postgres, durability: Durability, size: usize) -> Pool<Pg> {
    let opts = PgConnectOptions::from_str(&pg.url())
        .expect("a well-formed PostgreSQL URL")
        .options([("synchronous_commit", durability.synchronous_commit())]);
    PgPoolOptions::new()
        .max_connections(size as u32)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(opts)
        .await
        .expect("connect to the bench PostgreSQL")
}

/// Create the tables (once per server).
pub async fn create_schema(pg: &Postgres) {
    let p = pool(pg, Durability::Durable, 1).await;
    sqlx::raw_sql(SCHEMA)
        .execute(&p)
        .await
        .expect("create postgres-es's tables");
    p.close().await;
}

/// The peer path: one pool connection per writer, commands through
/// `CqrsFramework::execute_with_metadata`.
pub async fn run(
    pg: &Postgres,
    durability: Durability,
    tag: &str,
    writers: usize,
    per: usize,
) -> Timed {
    let pool = pool(pg, durability, writers).await;
    let cqrs: Arc<PostgresCqrs<PeerIndicator>> = Arc::new(postgres_cqrs(pool.clone(), vec![], ()));
    let timed = drive(tag, writers, per, move |_, env| {
        let cqrs = cqrs.clone();
        async move {
            let (_, key) = env.command.natural_key();
            let id = format!("{}/{key}", env.tenant);
            let name = env.command.name();
            let meta = HashMap::from([("command_id".to_string(), env.command_id.to_string())]);
            if let Err(e) = cqrs.execute_with_metadata(&id, env.command, meta).await {
                panic!("postgres-es path: {name} on {id} failed: {e}");
            }
        }
    })
    .await;
    pool.close().await;
    timed
}

/// What one pgbench run measured.
pub struct Bench {
    pub tps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The pgbench script: postgres-es's SQL for one command, in one
/// transaction, on the client's own aggregate.
fn script(tag: &str) -> String {
    let payload = serde_json::to_string(&PeerEvent(EventBody::ResultRecorded {
        period: perfledger_domain::Period::parse("2000/01 Q1").expect("a quarter label"),
        entry: match record(tag, 0, 0).command {
            Command::RecordResult { entry, .. } => entry,
            other => unreachable!("record() builds RecordResult, not {}", other.name()),
        },
    }))
    .expect("an event encodes as JSON");
    assert!(!payload.contains('\''), "the payload is quoted in SQL");
    // pgbench reads `:name` as a variable anywhere in the SQL: a space after
    // each key's colon keeps `"source_rag":null` from becoming one.
    let payload = payload.replace("\":", "\": ");
    format!(
        "BEGIN;\n\
         SELECT coalesce(max(sequence), 0) AS v FROM events \
         WHERE aggregate_type = 'Indicator' AND aggregate_id = 'pgb-{tag}-' || :client_id \\gset\n\
         INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Indicator', 'pgb-{tag}-' || :client_id, :v + 1, 'ResultRecorded', '1.0', '{payload}', \
         json_build_object('command_id', gen_random_uuid()));\n\
         COMMIT;\n"
    )
}

/// Run pgbench for `secs` seconds with `clients` clients; per-transaction
/// latencies come from its `--log` files, written in a temp dir.
pub fn pgbench(
    pg: &Postgres,
    durability: Durability,
    tag: &str,
    clients: usize,
    secs: u64,
) -> Bench {
    let dir = tempfile::Builder::new()
        .prefix("peer-pgbench-")
        .tempdir()
        .expect("temp dir for pgbench");
    let file = dir.path().join("postgres-es.sql");
    std::fs::write(&file, script(tag)).expect("write the pgbench script");
    let out = Process::new("pgbench")
        .current_dir(dir.path())
        .env(
            "PGOPTIONS",
            format!("-c synchronous_commit={}", durability.synchronous_commit()),
        )
        .args(["-n", "-M", "prepared", "-l", "-h", "127.0.0.1", "-U", USER])
        .args(["-p", &pg.port().to_string()])
        .args(["-c", &clients.to_string(), "-j", "2"])
        .args(["-T", &secs.to_string(), "-f"])
        .arg(&file)
        .arg(DATABASE)
        .stdin(Stdio::null())
        .output()
        .expect("run pgbench (Debian's postgresql-client)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pgbench failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let tps = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no `tps = ` line in pgbench's output:\n{stdout}"));
    let mut lat = latencies(dir.path());
    lat.sort_unstable();
    Bench {
        tps,
        p50_ms: nearest_rank(&lat, 0.50) as f64 / 1e3,
        p99_ms: nearest_rank(&lat, 0.99) as f64 / 1e3,
    }
}

/// Per-transaction latencies (µs, third field) from pgbench's log files.
fn latencies(dir: &Path) -> Vec<u64> {
    let mut lat = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list the pgbench dir") {
        let path = entry.expect("a dir entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.starts_with("pgbench_log.") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read a pgbench log");
        for line in text.lines() {
            let us = line
                .split_whitespace()
                .nth(2)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("unexpected pgbench log line: {line}"));
            lat.push(us);
        }
    }
    assert!(!lat.is_empty(), "pgbench wrote no transaction log");
    lat
}
