//! The peer: the same indicator commands through cqrs-es and its PostgreSQL
//! event store, `postgres-es`, used as its documentation shows
//! (`postgres_cqrs`: every command loads the aggregate's events, decides,
//! and inserts the new events at the next sequences in one transaction; a
//! primary-key clash is an optimistic-lock conflict).
//!
//! The aggregate delegates to perfledger's own rules ([`IndicatorState`]'s
//! `handle`/`apply`), so both sides validate exactly the same way, and it
//! decides against the tenant calendar's closed periods as perfledger's
//! ledger does: through cqrs-es's services ([`PeerCalendar`]), the version
//! of the calendar aggregate is read before every command and its events
//! reloaded when it moved, so a period closed anywhere before a command
//! arrived is closed for it (one indexed query per command; perfledger asks
//! its log for the calendar subject's last sequence). Without the look-up
//! (the extra cell the bench runs beside it) the peer would accept a
//! result for a closed period that perfledger refuses. The
//! command id travels in the events' metadata, and a unique index on it
//! gives the peer the dedupe perfledger has (each of these commands yields
//! one event).
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
use perfledger_domain::aggregate::{CalendarState, IndicatorState};
use perfledger_domain::{Command, Context, DomainError, EventBody};
use perfledger_ledger::{Clock, SystemClock};
use postgres_es::{postgres_cqrs, PostgresCqrs};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Postgres as Pg};

use crate::durability::Durability;
use crate::pg::{Postgres, DATABASE, USER};
use crate::workload::{drive, nearest_rank, record, Timed, TENANT};

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
    type Services = PeerCalendar;

    async fn handle(
        &mut self,
        command: Command,
        calendar: &PeerCalendar,
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        let ctx = calendar.context().await.at(SystemClock.now());
        for event in self.state.handle(&command, &ctx)? {
            sink.write(PeerEvent(event), self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: PeerEvent) {
        self.state.apply(&event.0);
    }
}

/// The calendar aggregate's type in the peer's `events` table.
const CALENDAR_TYPE: &str = "Calendar";

/// The peer's view of one tenant calendar, as a cqrs-es service: the
/// calendar aggregate's events in the same `events` table, kept with the
/// version they were read at.
pub struct PeerCalendar {
    /// `None`: decide without a calendar (the peer as it ran before
    /// session 17, for comparison).
    pool: Option<Pool<Pg>>,
    aggregate_id: String,
    kept: std::sync::Mutex<(i64, CalendarState)>,
}

impl PeerCalendar {
    fn new(pool: Option<Pool<Pg>>) -> Self {
        PeerCalendar {
            pool,
            aggregate_id: format!("{TENANT}/calendar"),
            // Version -1: nothing read yet (an empty calendar is version 0).
            kept: std::sync::Mutex::new((-1, CalendarState::default())),
        }
    }

    /// The decision context of the calendar as committed when this was
    /// called: its version read now, its events reloaded if it moved.
    async fn context(&self) -> Context {
        let Some(pool) = &self.pool else {
            return Context::default();
        };
        let version: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(sequence), 0) FROM events \
             WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(CALENDAR_TYPE)
        .bind(&self.aggregate_id)
        .fetch_one(pool)
        .await
        .expect("the peer's calendar version query");
        {
            let kept = self
                .kept
                .lock()
                .expect("the calendar lock is never poisoned");
            if kept.0 == version {
                return Context::from_calendar(&kept.1);
            }
        }
        let payloads: Vec<String> = sqlx::query_scalar(
            "SELECT payload::text FROM events \
             WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence <= $3 \
             ORDER BY sequence",
        )
        .bind(CALENDAR_TYPE)
        .bind(&self.aggregate_id)
        .bind(version)
        .fetch_all(pool)
        .await
        .expect("the peer's calendar events query");
        let mut state = CalendarState::default();
        for p in &payloads {
            let PeerEvent(body) =
                serde_json::from_str(p).expect("the peer's calendar events are its own JSON");
            state.apply(&body);
        }
        assert!(
            state.closed.contains(&crate::workload::closed_period()),
            "the peer's calendar (version {version}) lacks the bench's closed period"
        );
        let ctx = Context::from_calendar(&state);
        let mut kept = self
            .kept
            .lock()
            .expect("the calendar lock is never poisoned");
        if version > kept.0 {
            *kept = (version, state);
        }
        ctx
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

/// Create the tables (once per server), and store the tenant calendar's
/// closed period as the calendar aggregate's first event.
pub async fn create_schema(pg: &Postgres) {
    let p = pool(pg, Durability::Durable, 1).await;
    sqlx::raw_sql(SCHEMA)
        .execute(&p)
        .await
        .expect("create postgres-es's tables");
    let close = crate::workload::close_calendar();
    let events = CalendarState::default()
        .handle(&close.command, &Context::default())
        .expect("an empty calendar closes any period");
    for (i, body) in events.into_iter().enumerate() {
        let event = PeerEvent(body);
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata) VALUES ($1, $2, $3, $4, $5, $6::json, $7::json)",
        )
        .bind(CALENDAR_TYPE)
        .bind(format!("{TENANT}/calendar"))
        .bind(i as i64 + 1)
        .bind(event.event_type())
        .bind(event.event_version())
        .bind(serde_json::to_string(&event).expect("an event encodes as JSON"))
        .bind(serde_json::json!({ "command_id": close.command_id.to_string() }).to_string())
        .execute(&p)
        .await
        .expect("store the calendar's closed period");
    }
    p.close().await;
}

/// The peer path: one pool connection per writer, commands through
/// `CqrsFramework::execute_with_metadata`, each decided against the
/// calendar read for it, or, `with_calendar` false, against none.
pub async fn run(
    pg: &Postgres,
    durability: Durability,
    with_calendar: bool,
    tag: &str,
    writers: usize,
    per: usize,
) -> Timed {
    let pool = pool(pg, durability, writers).await;
    let calendar = PeerCalendar::new(with_calendar.then(|| pool.clone()));
    let cqrs: Arc<PostgresCqrs<PeerIndicator>> =
        Arc::new(postgres_cqrs(pool.clone(), vec![], calendar));
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

/// The pgbench script: the calendar's version, then postgres-es's SQL for
/// one command, in one transaction, on the client's own aggregate.
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
        "SELECT coalesce(max(sequence), 0) AS c FROM events \
         WHERE aggregate_type = '{CALENDAR_TYPE}' AND aggregate_id = '{TENANT}/calendar' \\gset\n\
         BEGIN;\n\
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
