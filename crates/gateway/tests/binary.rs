//! The `perfledger-gateway` binary serves the tenants it is given (issue #14
//! item 1), on a real nats-server: without `--tenants` it refuses to start;
//! with `--tenants barnet` a command for barnet is accepted and one for
//! another tenant finds no responder. It checkpoints what it appends, as it
//! goes and when it stops.

use std::process::{Command, Stdio};
use std::time::Duration;

use perfledger_client::wire::ServiceError;
use perfledger_client::{ClientError, Publisher, PublisherConfig, QueryClient};
use perfledger_domain::command::{Command as Cmd, CommandEnvelope};
use perfledger_domain::risk::RiskSpec;
use perfledger_domain::{Tenant, Text};
use perfledger_testkit::NatsServer;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_perfledger-gateway");

fn t(s: &str) -> Text {
    Text::new("test", s).unwrap()
}

fn register(tenant: &str, id: &str) -> CommandEnvelope {
    CommandEnvelope {
        command_id: Uuid::now_v7(),
        tenant: Tenant::new(tenant).unwrap(),
        actor: t("a"),
        source: t("s"),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        command: Cmd::RegisterRisk {
            spec: RiskSpec {
                risk_id: t(id),
                unit: t("U"),
                title: t("T"),
                description: t("D"),
                owner: None,
                category: None,
                controls: None,
                response: None,
                assurance: None,
            },
        },
    }
}

/// Kills the gateway process it holds when dropped (also on a failed
/// assertion).
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn without_tenants_the_gateway_refuses_to_start() {
    let out = Command::new(BIN)
        .args(["--nats-url", "nats://127.0.0.1:1"])
        .env_remove("PERFLEDGER_TENANTS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tenants"), "{err}");
    let out = Command::new(BIN)
        .args(["--nats-url", "nats://127.0.0.1:1", "--tenants", "Barnet!"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--tenants") && err.contains("Barnet!"),
        "{err}"
    );
}

/// The calendar staleness is bounded (a minute at most): a longer window
/// is refused before the gateway connects, naming the flag.
#[test]
fn a_calendar_staleness_past_its_limit_is_refused() {
    let mut child = Command::new(BIN)
        .args(["--nats-url", "nats://127.0.0.1:1", "--tenants", "barnet"])
        .args(["--calendar-staleness-ms", "60001"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Accepted, it would wait for a NATS server that never answers.
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("a 60001 ms staleness was accepted: the gateway went on to connect");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--calendar-staleness-ms") && err.contains("60001"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_only_its_tenants() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let _gateway = Child(
        Command::new(BIN)
            .args(["--nats-url", &server.url(), "--tenants", "barnet"])
            // Sequences below are the commands' own (no checkpoints).
            .args(["--checkpoint-every", "0"])
            .args(["--tenant", "barnet", "--readmodel-dir"])
            .arg(dir.path().join("rm"))
            .arg("--embedded-log")
            .arg(dir.path().join("log"))
            .env_remove("PERFLEDGER_TENANTS")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = async_nats::connect(server.url()).await.unwrap();
    let once = Publisher::new(
        client.clone(),
        PublisherConfig {
            attempts: 1,
            timeout: Duration::from_secs(30),
            ..PublisherConfig::default()
        },
    );
    // Wait (bounded) for the gateway's subscriptions.
    let mut accepted = None;
    let cmd = register("barnet", "R1");
    for _ in 0..1000 {
        match once.send(&cmd).await {
            Ok(a) => {
                accepted = Some(a);
                break;
            }
            Err(ClientError::NoResponders { .. }) => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
    let accepted = accepted.expect("the gateway never answered");
    assert_eq!(accepted.seq, 1);
    let err = once.send(&register("evil", "R1")).await.unwrap_err();
    assert!(matches!(err, ClientError::NoResponders { .. }), "{err}");
    // barnet's query service answers barnet's queries only. It subscribes
    // after the command gateway (it opens its read model first): wait
    // (bounded) for it too.
    let q = QueryClient::new(client).with_timeout(Duration::from_secs(30));
    let mut status = None;
    for _ in 0..1000 {
        match q
            .query("barnet", "status", &serde_json::json!({"min_seq": 1}))
            .await
        {
            Ok(s) => {
                status = Some(s);
                break;
            }
            Err(ClientError::NoResponders { .. }) => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
    let status = status.expect("the query service never answered");
    assert_eq!(status["checkpoint"], 1);
    let err = q
        .query("barnet", "status", &serde_json::json!({"min_seq": 2}))
        .await
        .unwrap_err();
    assert!(
        matches!(err.refusal(), Some(ServiceError::BadQuery { .. })),
        "{err}"
    );
    let err = q
        .query("evil", "status", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NoResponders { .. }), "{err}");
}

/// Send `cmd` once the gateway answers (it subscribes after starting).
async fn send_when_up(p: &Publisher, cmd: &CommandEnvelope) -> u64 {
    for _ in 0..3000 {
        match p.send(cmd).await {
            Ok(a) => return a.seq,
            Err(ClientError::NoResponders { .. }) => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the gateway never answered")
}

/// With `--checkpoint-every 1` the gateway covers its commands with a
/// checkpoint within about a second, and on SIGTERM it covers the last
/// ones before exiting: the JetStream log then verifies with nothing
/// uncovered but that checkpoint itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_checkpoints_what_it_appends_and_when_it_stops() {
    use perfledger_log::integrity;
    use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};

    let server = NatsServer::start();
    let mut gateway = Child(
        Command::new(BIN)
            .args(["--nats-url", &server.url(), "--tenants", "barnet"])
            .args(["--checkpoint-every", "1"])
            .env_remove("PERFLEDGER_TENANTS")
            .env_remove("PERFLEDGER_CHECKPOINT_EVERY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = async_nats::connect(server.url()).await.unwrap();
    let p = Publisher::new(client, PublisherConfig::default());
    let mut last = 0;
    for i in 0..3 {
        last = send_when_up(&p, &register("barnet", &format!("R{i}"))).await;
    }
    let log = JetStreamLog::connect(JetStreamOptions {
        url: server.url(),
        ..JetStreamOptions::default()
    })
    .await
    .unwrap();
    let covered = |log: &JetStreamLog| {
        let log = log.clone();
        async move {
            let report = integrity::verify(&log).await.unwrap();
            assert!(report.ok(), "{report:?}");
            report.last_checkpoint.map_or(0, |c| c.upto)
        }
    };
    let mut waited = 0;
    while covered(&log).await < last {
        assert!(waited < 300, "no checkpoint covered the commands in 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    // One more command, then a clean stop at once.
    let fourth = send_when_up(&p, &register("barnet", "R9")).await;
    let pid = gateway.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = gateway.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let report = integrity::verify(&log).await.unwrap();
    assert!(report.ok(), "{report:?}");
    let cp = report.last_checkpoint.expect("a checkpoint");
    assert!(
        cp.upto >= fourth,
        "the stop covered the last command: {cp:?}"
    );
    assert_eq!(report.uncovered_tail, 1, "only the last checkpoint itself");
}
