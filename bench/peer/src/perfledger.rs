//! perfledger's two command paths on a real nats-server.
//!
//! One [`Side`] = one nats-server (the modern binary, temp storage, loopback)
//! with JetStream either fsyncing every write (`sync_interval: always`, the
//! durable setting of deploy/README.md) or on its timer (the default), or
//! three routed servers holding the log's stream in three replicas (the
//! `replicated` setting, timer fsync: [`crate::durability`]), one
//! `Ledger` over its JetStream log as the gateway binary builds it, and a
//! `CommandGateway` serving it in-process like `gateway --example load`,
//! on the log's own connection as the gateway binary does.
//! The ledger path calls `Ledger::execute`; the gateway path sends each
//! command from its writer's own NATS connection with `perfledger-client`
//! (request/reply → gateway → ledger → JetStream). Every command must be
//! accepted: a refusal is a panic naming it, never a silently short cell.
//!
//! [`Side::start_embedded`] is the same ledger and gateway on perfledger's
//! embedded log instead (a directory on the disk PostgreSQL's data is on):
//! an append is acknowledged once its frame is fsynced, and concurrent
//! appends share one frame and one fsync (the log's group commit,
//! `crates/log/src/embedded/write.rs`), the `durable` promise kept the way
//! PostgreSQL keeps it. Its nats-server carries the gateway's requests
//! and replies only.

use std::sync::Arc;

use perfledger_client::{Publisher, PublisherConfig};
use perfledger_domain::Tenant;
use perfledger_gateway::{CommandGateway, GatewayConfig};
use perfledger_ledger::{Ledger, Submitted};
use perfledger_log::embedded::EmbeddedLog;
use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};
use perfledger_log::AnyLog;
use perfledger_testkit::{NatsCluster, NatsServer};

use crate::durability::Durability;
use crate::workload::{drive, Timed, TENANT};

/// The servers of one side: one nats-server, or three routed (the
/// `replicated` setting's stream has a replica on each).
enum Servers {
    One(NatsServer),
    Three(NatsCluster),
}

impl Servers {
    /// A client of these servers (of any of the three: the client follows
    /// the cluster's routes).
    async fn connect(&self) -> async_nats::Client {
        let urls = match self {
            Servers::One(s) => s.url(),
            Servers::Three(c) => c.urls(),
        };
        let addrs: Vec<async_nats::ServerAddr> = urls
            .split(',')
            .map(|u| u.parse().expect("testkit's URLs parse"))
            .collect();
        async_nats::ConnectOptions::new()
            .connect(addrs)
            .await
            .expect("connect to the bench nats-server")
    }
}

/// Where a side's log is.
enum Log {
    JetStream(JetStreamLog),
    /// The embedded log in this directory (removed with the side).
    Embedded(#[allow(dead_code)] tempfile::TempDir),
}

/// A nats-server (or three) with a ledger and a gateway on it.
pub struct Side {
    servers: Servers,
    log: Log,
    ledger: Ledger<AnyLog>,
    stop: tokio::sync::watch::Sender<bool>,
    serving: tokio::task::JoinHandle<Result<(), perfledger_gateway::GatewayError>>,
}

impl Side {
    /// Start the server (`$NATS_SERVER`, set by main to the modern binary),
    /// the log (grouping up to `group_commit` concurrent appends into one
    /// atomic batch, `group_in_flight` batches at a time; 1 = every append
    /// its own publish), the ledger (trusting a tenant calendar known
    /// current within `calendar_staleness`; zero = asked for every command,
    /// the gateway binary's default) and the gateway.
    pub async fn start(
        durability: Durability,
        group_commit: usize,
        group_in_flight: usize,
        calendar_staleness: std::time::Duration,
    ) -> Self {
        let servers = match durability.replicas() {
            1 => Servers::One(NatsServer::start_with_config_text(durability.nats_config())),
            3 => Servers::Three(NatsCluster::start()),
            n => unreachable!("a side runs one server or three, not {n}"),
        };
        let client = servers.connect().await;
        if let Servers::Three(c) = &servers {
            c.wait_jetstream(&client).await;
        }
        let opts = JetStreamOptions {
            group_commit,
            group_in_flight,
            replicas: durability.replicas(),
            ..JetStreamOptions::default()
        };
        let log = JetStreamLog::with_client(client, opts)
            .await
            .expect("open the JetStream log");
        if let Servers::Three(_) = &servers {
            // Where each side landed: a publish from a client on another
            // node than the stream's leader crosses one more route.
            let leader = async_nats::jetstream::new(log.client().clone())
                .get_stream(JetStreamOptions::default().stream)
                .await
                .expect("the log's stream")
                .info()
                .await
                .expect("the stream's info")
                .cluster
                .as_ref()
                .and_then(|c| c.leader.clone())
                .unwrap_or_default();
            eprintln!(
                "  replicated: stream leader {leader}; the ledger and the gateway on {}",
                log.client().server_info().server_name,
            );
        }
        // One connection for the log and the requests, as the gateway
        // binary has (`crates/gateway/src/main.rs`, `open_log`).
        let gw_client = log.client().clone();
        let (ledger, stop, serving) = Self::serve(
            AnyLog::JetStream(log.clone()),
            calendar_staleness,
            gw_client,
        )
        .await;
        Side {
            servers,
            log: Log::JetStream(log),
            ledger,
            stop,
            serving,
        }
    }

    /// The ledger (trusting the tenant calendar as [`Side::start`] says)
    /// and gateway on an embedded log in a fresh directory, with a
    /// nats-server for the gateway's requests (see the module docs).
    pub async fn start_embedded(calendar_staleness: std::time::Duration) -> Self {
        let servers = Servers::One(NatsServer::start_with_config_text(
            crate::durability::Durability::Relaxed.nats_config(),
        ));
        let dir = perfledger_testkit::owned_dir::owned_tempdir("pl-bench-embedded-");
        let log = EmbeddedLog::open(dir.path().join("log"))
            .await
            .expect("open the embedded log");
        let (ledger, stop, serving) = Self::serve(
            AnyLog::Embedded(log),
            calendar_staleness,
            servers.connect().await,
        )
        .await;
        Side {
            servers,
            log: Log::Embedded(dir),
            ledger,
            stop,
            serving,
        }
    }

    /// A ledger over `log` (its tenant's first quarter closed, as every
    /// side's) and a gateway serving it on `client`.
    async fn serve(
        log: AnyLog,
        calendar_staleness: std::time::Duration,
        client: async_nats::Client,
    ) -> (
        Ledger<AnyLog>,
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<Result<(), perfledger_gateway::GatewayError>>,
    ) {
        let ledger = Ledger::new(Arc::new(log), "pl").with_calendar_staleness(calendar_staleness);
        ledger
            .execute(Submitted::new(crate::workload::close_calendar()))
            .await
            .expect("close the bench tenant's first quarter");
        let gw = Arc::new(CommandGateway::new(
            ledger.clone(),
            GatewayConfig::new([Tenant::new(TENANT).expect("a valid tenant name")]),
        ));
        let (stop, rx) = tokio::sync::watch::channel(false);
        let serving = tokio::spawn(async move {
            let mut rx = rx;
            gw.serve(client, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await
        });
        (ledger, stop, serving)
    }

    /// The ledger path: `Ledger::execute` in this process.
    pub async fn run_ledger(&self, tag: &str, writers: usize, per_writer: usize) -> Timed {
        let ledger = self.ledger.clone();
        drive(tag, writers, per_writer, move |_, cmd| {
            let ledger = ledger.clone();
            async move {
                let name = cmd.command.name();
                if let Err(e) = ledger.execute(Submitted::new(cmd)).await {
                    panic!("ledger path: {name} failed: {e}");
                }
            }
        })
        .await
    }

    /// The gateway path: one NATS connection and publisher per writer.
    pub async fn run_gateway(&self, tag: &str, writers: usize, per_writer: usize) -> Timed {
        let mut pubs = Vec::with_capacity(writers);
        for _ in 0..writers {
            let c = self.servers.connect().await;
            pubs.push(Publisher::new(c, PublisherConfig::default()));
        }
        let pubs = Arc::new(pubs);
        drive(tag, writers, per_writer, move |w, cmd| {
            let pubs = pubs.clone();
            async move {
                if let Err(e) = pubs[w].send(&cmd).await {
                    panic!("gateway path: {} failed: {e}", cmd.command.name());
                }
            }
        })
        .await
    }

    /// Consumers on the log's stream now (the ledger's reads delete theirs;
    /// a count that grows with the commands run would tax every append).
    pub async fn stream_consumers(&self) -> usize {
        let Log::JetStream(log) = &self.log else {
            return 0;
        };
        let mut stream = async_nats::jetstream::new(log.client().clone())
            .get_stream(JetStreamOptions::default().stream)
            .await
            .expect("the log's stream");
        stream
            .info()
            .await
            .expect("the stream's info")
            .state
            .consumer_count
    }

    /// What the log's group commit did so far, as one line.
    pub fn group_stats(&self) -> String {
        let Log::JetStream(log) = &self.log else {
            return "the embedded log's own group commit".to_string();
        };
        let s = log.group_commit_stats();
        let mean = if s.batches == 0 {
            0.0
        } else {
            s.batched as f64 / s.batches as f64
        };
        format!(
            "{} alone, {} batches of {mean:.1} on average, {} re-sent alone",
            s.alone, s.batches, s.resent
        )
    }

    /// Stop the gateway (waiting for requests in flight) and the server.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.serving
            .await
            .expect("the gateway task panicked")
            .expect("the gateway stopped with an error");
        drop(self.servers);
    }
}
