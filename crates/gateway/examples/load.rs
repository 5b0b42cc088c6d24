//! Load test (not a test: run it by hand, in release mode):
//!
//! ```text
//! cargo run --release -p perfledger-gateway --example load -- --writers 8 --commands 250
//! cargo run --release -p perfledger-gateway --example load -- --writers 32 \
//!     --nats-server "$NATS_SERVER_ATOMIC"
//! ```
//!
//! Starts a loopback nats-server (testkit, temp storage; Debian's from PATH,
//! or `--nats-server PATH`) unless `--nats-url` is given, then runs the same
//! workload three times: N concurrent writers executing commands directly
//! through `perfledger_ledger::Ledger`, N concurrent publishers (one
//! connection each) sending them through the command gateway
//! (`perfledger-client` → NATS request/reply → gateway → ledger), and, as the
//! ceiling measured in the same run, N concurrent raw async-nats JetStream
//! publishes (one message with msg id, expected last subject sequence and a
//! recorded-at header, awaiting its ack) of a commit's size. Each writer owns
//! one risk and sends `AssessRisk` commands to it. Reports throughput,
//! p50/p99/max latency and the messages the ledger's NATS connection sent
//! per command (requests: loads, version checks, appends, consumer
//! creations and pulls) per mode. Bounded in count.

// jemalloc, configured as every perfledger binary's (`perfledger_alloc`):
// the ledger and the gateway run here as in the gateway binary.
use perfledger_alloc as _;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use perfledger_client::{Publisher, PublisherConfig};
use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::risk::{Assessment, RiskSpec};
use perfledger_domain::{Period, Tenant, Text};
use perfledger_gateway::{CommandGateway, GatewayConfig};
use perfledger_ledger::{Ledger, Submitted};
use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};
use perfledger_log::AnyLog;
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    /// Concurrent writers / publishers.
    #[arg(long, visible_alias = "publishers", default_value_t = 8)]
    writers: usize,
    /// Commands per writer (after one RegisterRisk each).
    #[arg(long, default_value_t = 250)]
    commands: usize,
    /// Use this server instead of starting one.
    #[arg(long)]
    nats_url: Option<String>,
    /// Start this nats-server binary (default: Debian's, from PATH).
    #[arg(long)]
    nats_server: Option<std::path::PathBuf>,
    /// Decide against a tenant calendar known current this recently without
    /// asking the log again (`Ledger::with_calendar_staleness`; default 0:
    /// asked for every command).
    #[arg(long, default_value_t = 0)]
    calendar_staleness_ms: u64,
    /// Every command through the ledger's full path (`with_fast_path(false)`:
    /// version check, command-id index caught up to the head, append), for
    /// comparison.
    #[arg(long)]
    full_path: bool,
}

fn t(s: &str) -> Text {
    Text::new("load", s).unwrap()
}

fn env(command: Command) -> CommandEnvelope {
    CommandEnvelope {
        command_id: Uuid::now_v7(),
        tenant: Tenant::new("loadtest").unwrap(),
        actor: t("load"),
        source: t("load"),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        command,
    }
}

fn register(id: &str) -> CommandEnvelope {
    env(Command::RegisterRisk {
        spec: RiskSpec {
            risk_id: t(id),
            unit: t("Load"),
            title: t(id),
            description: t("load test"),
            owner: None,
            category: None,
            controls: None,
            response: None,
            assurance: None,
        },
    })
}

fn assess(id: &str, n: usize) -> CommandEnvelope {
    env(Command::AssessRisk {
        risk_id: t(id),
        period: Period::parse("2016/17 Q1").unwrap(),
        current: Assessment {
            impact: (n % 5 + 1) as u8,
            probability: 3,
        },
        target: None,
        comment: None,
    })
}

struct Report {
    mode: &'static str,
    n: usize,
    elapsed: Duration,
    lat: Vec<Duration>,
    /// Messages the ledger's connection sent during the timed part.
    sent: u64,
}

/// Messages sent so far on a connection (publishes and API requests).
fn sent(c: &async_nats::Client) -> u64 {
    c.statistics()
        .out_messages
        .load(std::sync::atomic::Ordering::Relaxed)
}

impl Report {
    fn print(&mut self) {
        self.lat.sort();
        let pct = |p: f64| {
            let i = ((self.lat.len() as f64 * p).ceil() as usize).clamp(1, self.lat.len()) - 1;
            self.lat[i].as_secs_f64() * 1e3
        };
        println!(
            "{:<22} {:>6} cmds {:>8.2} s {:>9.1} cmd/s   p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms   {:>5.2} msgs/cmd",
            self.mode,
            self.n,
            self.elapsed.as_secs_f64(),
            self.n as f64 / self.elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            pct(1.0),
            self.sent as f64 / self.n as f64,
        );
    }
}

async fn direct(
    ledger: Ledger<AnyLog>,
    client: &async_nats::Client,
    a: &Args,
    tag: &str,
) -> Report {
    for i in 0..a.writers {
        ledger
            .execute(Submitted::new(register(&format!("{tag}{i}"))))
            .await
            .unwrap();
    }
    let sent0 = sent(client);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..a.writers {
        let l = ledger.clone();
        let (id, m) = (format!("{tag}{i}"), a.commands);
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(m);
            for n in 0..m {
                let t0 = Instant::now();
                l.execute(Submitted::new(assess(&id, n))).await.unwrap();
                lat.push(t0.elapsed());
            }
            lat
        });
    }
    let mut lat = Vec::new();
    while let Some(r) = tasks.join_next().await {
        lat.extend(r.unwrap());
    }
    let elapsed = start.elapsed();
    Report {
        mode: "direct (Ledger)",
        n: lat.len(),
        elapsed,
        lat,
        sent: sent(client) - sent0,
    }
}

async fn through_gateway(url: &str, client: &async_nats::Client, a: &Args, tag: &str) -> Report {
    let mut pubs = Vec::new();
    for i in 0..a.writers {
        let c = async_nats::connect(url).await.unwrap();
        let p = Publisher::new(c, PublisherConfig::default());
        p.send(&register(&format!("{tag}{i}"))).await.unwrap();
        pubs.push(Arc::new(p));
    }
    let sent0 = sent(client);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, p) in pubs.into_iter().enumerate() {
        let (id, m) = (format!("{tag}{i}"), a.commands);
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(m);
            for n in 0..m {
                let t0 = Instant::now();
                p.send(&assess(&id, n)).await.unwrap();
                lat.push(t0.elapsed());
            }
            lat
        });
    }
    let mut lat = Vec::new();
    while let Some(r) = tasks.join_next().await {
        lat.extend(r.unwrap());
    }
    let elapsed = start.elapsed();
    Report {
        mode: "gateway (NATS req/rep)",
        n: lat.len(),
        elapsed,
        lat,
        sent: sent(client) - sent0,
    }
}

/// The server's own rate for one-at-a-time appends: each writer publishes a
/// commit-sized message on its own subject with a msg id, the expected last
/// subject sequence and a recorded-at header, and awaits the ack.
async fn raw(url: &str, a: &Args, tag: &str) -> Report {
    use async_nats::jetstream::message::PublishMessage;
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let payload = bytes::Bytes::from(vec![7u8; 320]);
    let sent0 = sent(&client);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..a.writers {
        let (js, payload, m) = (js.clone(), payload.clone(), a.commands);
        let subject = format!("pl.ev.loadtest.raw.{tag}{i}");
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(m);
            let mut last = 0;
            for _ in 0..m {
                let t0 = Instant::now();
                let msg = PublishMessage::build()
                    .payload(payload.clone())
                    .message_id(Uuid::now_v7().hyphenated().to_string())
                    .header("Pl-Recorded-At", "1700000000000")
                    .expected_last_subject_sequence(last);
                let ack = js
                    .send_publish(subject.clone(), msg)
                    .await
                    .unwrap()
                    .await
                    .unwrap();
                last = ack.sequence;
                lat.push(t0.elapsed());
            }
            lat
        });
    }
    let mut lat = Vec::new();
    while let Some(r) = tasks.join_next().await {
        lat.extend(r.unwrap());
    }
    let elapsed = start.elapsed();
    Report {
        mode: "raw JetStream publish",
        n: lat.len(),
        elapsed,
        lat,
        sent: sent(&client) - sent0,
    }
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let _server;
    let url = match &a.nats_url {
        Some(u) => u.clone(),
        None => {
            _server = match &a.nats_server {
                Some(b) => perfledger_testkit::NatsServer::start_with_binary(b),
                None => perfledger_testkit::NatsServer::start(),
            };
            _server.url()
        }
    };
    let client = async_nats::connect(&url).await.unwrap();
    let log = JetStreamLog::with_client(client.clone(), JetStreamOptions::default())
        .await
        .unwrap();
    let ledger = Ledger::new(Arc::new(AnyLog::JetStream(log)), "pl")
        .with_calendar_staleness(Duration::from_millis(a.calendar_staleness_ms))
        .with_fast_path(!a.full_path);
    let gw = Arc::new(CommandGateway::new(
        ledger.clone(),
        GatewayConfig::new([Tenant::new("loadtest").unwrap()]),
    ));
    let (stop, rx) = tokio::sync::watch::channel(false);
    let gw_client = async_nats::connect(&url).await.unwrap();
    let serving = tokio::spawn({
        let mut rx = rx.clone();
        async move {
            gw.serve(gw_client, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await
        }
    });
    println!(
        "perfledger load: {} writers x {} commands, JetStream R1 on loopback ({url}), \
         nats-server {}, calendar staleness {} ms, {} path, load average {}",
        a.writers,
        a.commands,
        client.server_info().version,
        a.calendar_staleness_ms,
        if a.full_path { "full" } else { "fast" },
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into()),
    );
    let run = Uuid::now_v7().simple().to_string();
    let mut d = direct(ledger.clone(), &client, &a, &format!("D{}-", &run[20..])).await;
    d.print();
    let mut g = through_gateway(&url, &client, &a, &format!("G{}-", &run[20..])).await;
    g.print();
    let mut r = raw(&url, &a, &format!("R{}-", &run[20..])).await;
    r.print();
    let _ = stop.send(true);
    let _ = serving.await;
}
