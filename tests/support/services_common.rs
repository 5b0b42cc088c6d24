//! Shared support for the services suites (`tests/services_*.rs`): a
//! nats-server started from the `deploy/` configuration (temp copy with test
//! passwords, no monitoring port; testkit overrides port and store dir), an
//! in-process gateway/query service, and command builders.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use perfledger_client::{Publisher, PublisherConfig};
use perfledger_domain::budget::LineSpec;
use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::event::ResultEntry;
use perfledger_domain::indicator::{
    ComparisonBasis, DataType, Frequency, IndicatorSpec, IndicatorType, Polarity,
};
use perfledger_domain::parse::parse_result;
use perfledger_domain::risk::{Assessment, RiskSpec};
use perfledger_domain::{Period, Tenant, Text};
use perfledger_gateway::{CommandGateway, GatewayConfig, QueryConfig, QueryService};
use perfledger_ledger::Ledger;
use perfledger_log::async_nats;
use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};
use perfledger_log::{AnyLog, EventLog};
use perfledger_readmodel::ReadModel;
use perfledger_testkit::NatsServer;
use tokio::sync::watch;
use uuid::Uuid;

/// The test password of a deploy user (`$PL_FINANCE_PASSWORD` → `pw-finance`).
pub fn password(user: &str) -> String {
    format!("pw-{user}")
}

const USERS: [(&str, &str); 6] = [
    ("PL_LEDGER_PASSWORD", "ledger"),
    ("PL_FINANCE_PASSWORD", "finance"),
    ("PL_CUSTOMER_SERVICES_PASSWORD", "customer-services"),
    ("PL_RISK_TOOL_PASSWORD", "risk-tool"),
    ("PL_OPENDATA_PASSWORD", "opendata"),
    ("PL_SYS_PASSWORD", "sys"),
];

fn deploy_file(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/nats")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// `deploy/nats/single.conf` with `accounts.conf` inlined, test passwords,
/// and no monitoring port (parallel tests); testkit sets port and store dir.
pub fn single_node_config() -> String {
    let mut text = String::new();
    for line in deploy_file("single.conf").lines() {
        let t = line.trim_start();
        if t.starts_with("http:") {
            continue;
        }
        if t.starts_with("store_dir:") {
            continue; // -sd on the command line
        }
        if t.starts_with("include \"accounts.conf\"") {
            text.push_str(&deploy_file("accounts.conf"));
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    for (var, user) in USERS {
        text = text.replace(&format!("${var}"), &format!("\"{}\"", password(user)));
    }
    text
}

/// A single nats-server from the deploy configuration.
pub fn deploy_server() -> NatsServer {
    let tmp = std::env::temp_dir().join(format!("pl-deploy-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    let cfg = tmp.join("nats.conf");
    std::fs::write(&cfg, single_node_config()).unwrap();
    NatsServer::start_with_config(cfg)
}

/// Server-reported errors of one connection (permission violations...).
#[derive(Clone, Default)]
pub struct ServerErrors(Arc<Mutex<Vec<String>>>);

impl ServerErrors {
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Wait (bounded polling, not a timed assertion) until an error containing
    /// all of `needles` (case-insensitive) has been reported.
    pub async fn wait_for(&self, needles: &[&str]) -> String {
        for _ in 0..500 {
            if let Some(e) = self.all().into_iter().find(|e| {
                let l = e.to_lowercase();
                needles.iter().all(|n| l.contains(&n.to_lowercase()))
            }) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "no server error containing {needles:?}; got {:?}",
            self.all()
        );
    }
}

/// Connect as a deploy user, collecting server errors.
pub async fn connect_as(url: &str, user: &str) -> (async_nats::Client, ServerErrors) {
    let errors = ServerErrors::default();
    let e2 = errors.clone();
    let client = async_nats::ConnectOptions::new()
        .user_and_password(user.into(), password(user))
        .event_callback(move |ev| {
            let e2 = e2.clone();
            async move {
                if let async_nats::Event::ServerError(e) = ev {
                    e2.0.lock().unwrap().push(e.to_string());
                }
            }
        })
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect as {user}: {e}"));
    (client, errors)
}

/// A running gateway (and optionally query service) in this process.
pub struct Services {
    pub log: Arc<AnyLog>,
    pub readmodel: Option<ReadModel>,
    pub query: Option<Arc<QueryService>>,
    stop: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
}

impl Services {
    /// Start the gateway on `client` (JetStream log on the same connection).
    pub async fn start(client: async_nats::Client, replicas: usize, tenant: Option<&str>) -> Self {
        let log = JetStreamLog::with_client(
            client.clone(),
            JetStreamOptions {
                replicas,
                timeout: Duration::from_secs(10),
                ..JetStreamOptions::default()
            },
        )
        .await
        .expect("open JetStream log");
        Self::start_on(client, Arc::new(AnyLog::JetStream(log)), tenant).await
    }

    /// Start the gateway (serving the test council) over a given log.
    pub async fn start_on(
        client: async_nats::Client,
        log: Arc<AnyLog>,
        tenant: Option<&str>,
    ) -> Self {
        Self::start_with(
            client,
            log,
            &[tenant_name()],
            tenant,
            QueryConfig::default(),
        )
        .await
    }

    /// Start a gateway serving `gateway_tenants` over `log` and, with
    /// `query_tenant`, that tenant's query service (options `query`) and
    /// projector.
    pub async fn start_with(
        client: async_nats::Client,
        log: Arc<AnyLog>,
        gateway_tenants: &[&str],
        query_tenant: Option<&str>,
        query: QueryConfig,
    ) -> Self {
        let (stop, rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        let served = gateway_tenants
            .iter()
            .map(|t| Tenant::new(t).expect("tenant token"));
        let gw = Arc::new(CommandGateway::new(
            Ledger::new(log.clone(), "pl"),
            GatewayConfig::new(served),
        ));
        let (c, s) = (client.clone(), stopped());
        tasks.spawn(async move { gw.serve(c, s).await.expect("gateway serve") });
        let mut readmodel = None;
        let mut query_service = None;
        if let Some(t) = query_tenant {
            let rm = ReadModel::open_temporary(&Tenant::new(t).expect("tenant token"))
                .expect("temp read model");
            readmodel = Some(rm.clone());
            let svc = Arc::new(QueryService::new(rm, log.clone(), query));
            query_service = Some(svc.clone());
            let (p, l, s) = (svc.clone(), log.clone(), stopped());
            tasks.spawn(async move { p.project(l, s).await });
            let (c, s) = (client.clone(), stopped());
            tasks.spawn(async move { svc.serve(c, s).await.expect("query serve") });
        }
        // The subscriptions are registered once the server has seen them.
        client.flush().await.expect("flush");
        Services {
            log,
            readmodel,
            query: query_service,
            stop,
            tasks,
        }
    }

    pub async fn head(&self) -> u64 {
        self.log.head().await.expect("head")
    }

    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Wait (bounded) until the gateway answers: requests sent before its
/// subscription propagated get "no responders".
pub async fn wait_gateway(client: &async_nats::Client, subject: &str) {
    for _ in 0..500 {
        match client
            .request(subject.to_string(), bytes::Bytes::new())
            .await
        {
            Ok(_) => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    panic!("gateway never answered");
}

pub fn publisher(client: async_nats::Client) -> Publisher {
    Publisher::new(
        client,
        PublisherConfig {
            timeout: Duration::from_secs(5),
            attempts: 3,
            ..PublisherConfig::default()
        },
    )
}

pub fn t(s: &str) -> Text {
    Text::new("test", s).unwrap()
}

/// The test council.
pub fn tenant_name() -> &'static str {
    "barnet"
}

pub fn tenant() -> Tenant {
    Tenant::new(tenant_name()).unwrap()
}

pub fn envelope(command: Command) -> CommandEnvelope {
    CommandEnvelope {
        command_id: Uuid::now_v7(),
        tenant: tenant(),
        actor: t("service"),
        source: t("gateway-test"),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        command,
    }
}

pub fn define_indicator(reference: &str) -> CommandEnvelope {
    envelope(Command::DefineIndicator {
        spec: IndicatorSpec {
            reference: Some(t(reference)),
            title: t(&format!("Indicator {reference}")),
            unit: t("Customer Services"),
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
    })
}

pub fn period(label: &str) -> Period {
    Period::parse(label).unwrap()
}

pub fn record_result(reference: &str, period_label: &str, value: &str) -> CommandEnvelope {
    envelope(Command::RecordResult {
        indicator: t(reference),
        period: period(period_label),
        entry: ResultEntry {
            result: parse_result(value).unwrap(),
            commentary: None,
            intervention: None,
            benchmarks: Vec::new(),
        },
    })
}

pub fn define_revenue_line(name: &str) -> CommandEnvelope {
    envelope(Command::DefineRevenueLine {
        spec: LineSpec {
            unit: t("Finance"),
            name: t(name),
            description: None,
        },
    })
}

pub fn register_risk(id: &str) -> CommandEnvelope {
    envelope(Command::RegisterRisk {
        spec: RiskSpec {
            risk_id: t(id),
            unit: t("Resources"),
            title: t(&format!("Risk {id}")),
            description: t("test risk"),
            owner: None,
            category: None,
            controls: None,
            response: None,
            assurance: None,
        },
    })
}

pub fn assess_risk(id: &str, period_label: &str, impact: u8, probability: u8) -> CommandEnvelope {
    envelope(Command::AssessRisk {
        risk_id: t(id),
        period: period(period_label),
        current: Assessment {
            impact,
            probability,
        },
        target: None,
        comment: None,
    })
}

/// `deploy/nats/cluster-{1,2,3}.conf` with `accounts.conf` inlined, test
/// passwords, no monitoring port, the cluster listening on `cluster_ports`
/// on loopback and routes pointing there (testkit sets client port and
/// store dir).
pub fn cluster_node_configs(cluster_ports: [u16; 3]) -> Vec<String> {
    (1..=3)
        .map(|n| {
            let mut text = String::new();
            for line in deploy_file(&format!("cluster-{n}.conf")).lines() {
                let t = line.trim_start();
                if t.starts_with("http:") || t.starts_with("store_dir:") {
                    continue;
                }
                if t.starts_with("include \"accounts.conf\"") {
                    text.push_str(&deploy_file("accounts.conf"));
                    continue;
                }
                let mut l = line.replace(
                    "listen: 0.0.0.0:6222",
                    &format!("listen: 127.0.0.1:{}", cluster_ports[n - 1]),
                );
                for (i, p) in cluster_ports.iter().enumerate() {
                    l = l.replace(
                        &format!("pl-nats-{}:6222", i + 1),
                        &format!("127.0.0.1:{p}"),
                    );
                }
                text.push_str(&l);
                text.push('\n');
            }
            for (var, user) in USERS {
                text = text.replace(&format!("${var}"), &format!("\"{}\"", password(user)));
            }
            text.replace("route-password-change-me", "pw-route")
        })
        .collect()
}

/// Three nats-servers from the deploy cluster configuration.
pub fn deploy_cluster() -> Vec<NatsServer> {
    let ports = [
        perfledger_testkit::free_port(),
        perfledger_testkit::free_port(),
        perfledger_testkit::free_port(),
    ];
    cluster_node_configs(ports)
        .into_iter()
        .map(|text| {
            let tmp = std::env::temp_dir().join(format!("pl-deploy-{}", Uuid::new_v4().simple()));
            std::fs::create_dir_all(&tmp).unwrap();
            let cfg = tmp.join("nats.conf");
            std::fs::write(&cfg, text).unwrap();
            NatsServer::start_with_config(cfg)
        })
        .collect()
}
