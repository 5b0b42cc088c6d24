//! Load test (not a test: run it by hand, in release mode):
//!
//! ```text
//! cargo run --release -p perfledger-gateway --example load -- --publishers 8 --commands 250
//! ```
//!
//! Starts a loopback nats-server (testkit, temp storage) unless `--nats-url`
//! is given, then runs the same workload twice: N concurrent writers
//! executing commands directly through `perfledger_ledger::Ledger`, and N
//! concurrent publishers (one connection each) sending them through the
//! command gateway (`perfledger-client` → NATS request/reply → gateway →
//! ledger). Each writer owns one risk and sends `AssessRisk` commands to it.
//! Reports throughput and p50/p99/max latency per mode. Bounded in count.

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
    #[arg(long, default_value_t = 8)]
    publishers: usize,
    /// Commands per writer (after one RegisterRisk each).
    #[arg(long, default_value_t = 250)]
    commands: usize,
    /// Use this server instead of starting one.
    #[arg(long)]
    nats_url: Option<String>,
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
}

impl Report {
    fn print(&mut self) {
        self.lat.sort();
        let pct = |p: f64| {
            let i = ((self.lat.len() as f64 * p).ceil() as usize).clamp(1, self.lat.len()) - 1;
            self.lat[i].as_secs_f64() * 1e3
        };
        println!(
            "{:<22} {:>6} cmds {:>8.2} s {:>9.1} cmd/s   p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
            self.mode,
            self.n,
            self.elapsed.as_secs_f64(),
            self.n as f64 / self.elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            pct(1.0),
        );
    }
}

async fn direct(ledger: Ledger<AnyLog>, a: &Args, tag: &str) -> Report {
    for i in 0..a.publishers {
        ledger
            .execute(Submitted::new(register(&format!("{tag}{i}"))))
            .await
            .unwrap();
    }
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..a.publishers {
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
    Report {
        mode: "direct (Ledger)",
        n: lat.len(),
        elapsed: start.elapsed(),
        lat,
    }
}

async fn through_gateway(url: &str, a: &Args, tag: &str) -> Report {
    let mut pubs = Vec::new();
    for i in 0..a.publishers {
        let c = async_nats::connect(url).await.unwrap();
        let p = Publisher::new(c, PublisherConfig::default());
        p.send(&register(&format!("{tag}{i}"))).await.unwrap();
        pubs.push(Arc::new(p));
    }
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
    Report {
        mode: "gateway (NATS req/rep)",
        n: lat.len(),
        elapsed: start.elapsed(),
        lat,
    }
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let _server;
    let url = match &a.nats_url {
        Some(u) => u.clone(),
        None => {
            _server = perfledger_testkit::NatsServer::start();
            _server.url()
        }
    };
    let client = async_nats::connect(&url).await.unwrap();
    let log = JetStreamLog::with_client(client.clone(), JetStreamOptions::default())
        .await
        .unwrap();
    let ledger = Ledger::new(Arc::new(AnyLog::JetStream(log)), "pl");
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
        "perfledger load: {} writers x {} commands, JetStream R1 on loopback ({url})",
        a.publishers, a.commands
    );
    let run = Uuid::now_v7().simple().to_string();
    let mut d = direct(ledger.clone(), &a, &format!("D{}-", &run[20..])).await;
    d.print();
    let mut g = through_gateway(&url, &a, &format!("G{}-", &run[20..])).await;
    g.print();
    let _ = stop.send(true);
    let _ = serving.await;
}
