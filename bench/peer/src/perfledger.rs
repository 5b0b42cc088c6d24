//! perfledger's two command paths on a real nats-server.
//!
//! One [`Side`] = one nats-server (the modern binary, temp storage, loopback)
//! with JetStream either fsyncing every write (`sync_interval: always`, the
//! durable setting of deploy/README.md) or on its timer (the default), one
//! `Ledger` over its JetStream log as the gateway binary builds it, and a
//! `CommandGateway` serving it in-process like `gateway --example load`.
//! The ledger path calls `Ledger::execute`; the gateway path sends each
//! command from its writer's own NATS connection with `perfledger-client`
//! (request/reply → gateway → ledger → JetStream). Every command must be
//! accepted: a refusal is a panic naming it, never a silently short cell.

use std::sync::Arc;

use perfledger_client::{Publisher, PublisherConfig};
use perfledger_domain::Tenant;
use perfledger_gateway::{CommandGateway, GatewayConfig};
use perfledger_ledger::{Ledger, Submitted};
use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};
use perfledger_log::AnyLog;
use perfledger_testkit::NatsServer;

use crate::workload::{drive, Timed, TENANT};

/// nats-server config of each durability setting (JetStream and its store
/// dir come from testkit's command line). The server's default limits stay:
/// a stream takes at most 1,000 consumers, and the ledger's reads delete
/// theirs when done (before they did, the command path's lingering
/// consumers reached that limit within seconds and the bench had to lift
/// it; [`Side::stream_consumers`] shows the count after each cell).
pub fn config(durable: bool) -> &'static str {
    if durable {
        "jetstream {\n  sync_interval: always\n}\n"
    } else {
        // No sync_interval: the file store fsyncs on its timer (2 min).
        "jetstream {\n}\n"
    }
}

/// A nats-server with a ledger and a gateway on it.
pub struct Side {
    server: NatsServer,
    log: JetStreamLog,
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
        durable: bool,
        group_commit: usize,
        group_in_flight: usize,
        calendar_staleness: std::time::Duration,
    ) -> Self {
        let server = NatsServer::start_with_config_text(config(durable));
        let url = server.url();
        let client = async_nats::connect(&url)
            .await
            .expect("connect to the bench nats-server");
        let opts = JetStreamOptions {
            group_commit,
            group_in_flight,
            ..JetStreamOptions::default()
        };
        let log = JetStreamLog::with_client(client, opts)
            .await
            .expect("open the JetStream log");
        let ledger = Ledger::new(Arc::new(AnyLog::JetStream(log.clone())), "pl")
            .with_calendar_staleness(calendar_staleness);
        let gw = Arc::new(CommandGateway::new(
            ledger.clone(),
            GatewayConfig::new([Tenant::new(TENANT).expect("a valid tenant name")]),
        ));
        let gw_client = async_nats::connect(&url)
            .await
            .expect("connect the gateway");
        let (stop, rx) = tokio::sync::watch::channel(false);
        let serving = tokio::spawn(async move {
            let mut rx = rx;
            gw.serve(gw_client, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await
        });
        Side {
            server,
            log,
            ledger,
            stop,
            serving,
        }
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
            let c = async_nats::connect(self.server.url())
                .await
                .expect("connect a publisher");
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
        let mut stream = async_nats::jetstream::new(self.log.client().clone())
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
        let s = self.log.group_commit_stats();
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
        drop(self.server);
    }
}
