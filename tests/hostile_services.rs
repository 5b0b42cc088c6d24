//! Hostile clients against the real services: a real nats-server (started
//! by the testkit, from `deploy/` where permissions matter), the command
//! gateway and query service on it, and the real HTTP server over the same
//! read model. Each module is one item of issue #14 and replays the
//! attacker's requests from the issue; every test here fails on the code
//! before its fix. No sleeps as synchronisation and no timed assertions:
//! waits are bounded (a request timeout far above the normal answer time).

#[path = "support/services_common.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use perfledger_client::wire::ServiceError;
use perfledger_client::{ClientError, QueryClient};
use perfledger_log::async_nats;
use perfledger_log::AnyLog;
use perfledger_testkit::NatsServer;

/// Generous bound on one answer that normally takes milliseconds: hitting
/// it means the request was starved, not that the machine was slow.
const ANSWER_BOUND: Duration = Duration::from_secs(30);

fn refusal(e: &ClientError) -> &ServiceError {
    e.refusal()
        .unwrap_or_else(|| panic!("expected a typed refusal, got {e}"))
}

/// GET `path` from the HTTP server at `addr`: (status, body).
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut buf = Vec::new();
    tokio::time::timeout(ANSWER_BOUND, s.read_to_end(&mut buf))
        .await
        .expect("HTTP answer within the bound")
        .expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

/// Issue #14 item 1: cross-tenant writes must never land in another
/// tenant's views.
mod item1_cross_tenant_writes {
    use super::*;
    use perfledger_domain::command::{Command, CommandEnvelope};
    use perfledger_domain::parse::parse_target;
    use perfledger_domain::{Tenant, Timestamp};
    use perfledger_ledger::Ledger;

    fn as_tenant(mut e: CommandEnvelope, tenant: &str) -> CommandEnvelope {
        e.tenant = Tenant::new(tenant).unwrap();
        e
    }

    /// The attacker's commands from the issue: `evil` defines barnet's
    /// reference CG/S24 (same title) in unit CG, sets its target, records
    /// a result and closes 2016/17 Q1.
    fn evil_commands() -> Vec<CommandEnvelope> {
        let mut def = define_indicator("CG/S24");
        if let Command::DefineIndicator { spec } = &mut def.command {
            spec.unit = t("CG");
            spec.title = t("Overall satisfaction with customer services");
        }
        vec![
            as_tenant(def, "evil"),
            as_tenant(
                envelope(Command::SetTarget {
                    indicator: t("CG/S24"),
                    period: period("2016/17 Q1"),
                    target: parse_target("99%").unwrap(),
                }),
                "evil",
            ),
            as_tenant(record_result("CG/S24", "2016/17 Q1", "1%"), "evil"),
            as_tenant(
                envelope(Command::ClosePeriod {
                    period: period("2016/17 Q1"),
                }),
                "evil",
            ),
        ]
    }

    /// Import the sample council (barnet) into the services' log.
    async fn import_sample_council(log: &Arc<AnyLog>) {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample-council");
        let mut opts = perfledger_import::ImportOptions::new(
            t("Performance Officer"),
            Timestamp::parse("2026-01-01").unwrap(),
        );
        // The sample is history: load it at its claimed recorded times.
        opts.backdated = true;
        let plan = perfledger_import::load_dir(&data, &opts).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.tenant.as_str(), "barnet");
        Ledger::new(log.clone(), "pl")
            .execute_batch(plan.submissions.clone(), |_, _| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// What barnet's users see of CG/S24 and the CG Q1 dashboard.
    #[derive(Debug, PartialEq)]
    struct BarnetView {
        cg_indicators: usize,
        cg_s24: serde_json::Value,
        dashboard_digest: String,
        http_status: u16,
        api_cg_s24: serde_json::Value,
    }

    async fn barnet_view(q: &QueryClient, min_seq: u64, web: std::net::SocketAddr) -> BarnetView {
        let at_least = serde_json::json!({ "min_seq": min_seq });
        let status = q.query("barnet", "status", &at_least).await.unwrap();
        assert!(status["checkpoint"].as_u64().unwrap() >= min_seq);
        let list = q
            .query("barnet", "indicators", &serde_json::json!({"unit": "CG"}))
            .await
            .unwrap();
        let mut cg_s24 = q
            .query(
                "barnet",
                "indicator",
                &serde_json::json!({"indicator": "CG/S24"}),
            )
            .await
            .unwrap_or_else(|e| panic!("indicator CG/S24: {e}"));
        // The position it was answered at moves with the log; the rest may not.
        if let Some(m) = cg_s24.as_object_mut() {
            m.remove("as_of");
        }
        let dash = q
            .query(
                "barnet",
                "dashboard",
                &serde_json::json!({"unit": "CG", "period": "2016/17 Q1"}),
            )
            .await
            .unwrap();
        let (http_status, page) = http_get(web, "/indicators/CG/S24").await;
        assert!(
            http_status != 200 || page.contains("CG/S24"),
            "{http_status} {page}"
        );
        let (api_status, api) = http_get(web, "/api/indicators/CG%2FS24").await;
        let body = api.split("\r\n\r\n").nth(1).unwrap_or_default();
        let mut api_cg_s24: serde_json::Value = if api_status == 200 {
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
        } else {
            serde_json::json!({ "status": api_status })
        };
        if let Some(m) = api_cg_s24.as_object_mut() {
            m.remove("as_of");
        }
        BarnetView {
            cg_indicators: list["indicators"].as_array().map_or(0, |a| a.len()),
            cg_s24,
            dashboard_digest: dash["digest"].as_str().unwrap_or_default().to_string(),
            http_status,
            api_cg_s24,
        }
    }

    /// A deployment serving two councils on one stream (the gateway serves
    /// barnet and evil; barnet's query service and web pages read barnet's
    /// read model). Everything `evil` sends is accepted for `evil` — and
    /// changes nothing barnet's users see: the CG list, CG/S24 over NATS
    /// and HTTP, and the CG 2016/17 Q1 dashboard digest at head.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_councils_writes_leave_barnets_views_pages_and_digests_unchanged() {
        let server = NatsServer::start();
        let client = async_nats::connect(server.url()).await.unwrap();
        let log = Arc::new(AnyLog::JetStream(
            perfledger_log::jetstream::JetStreamLog::with_client(
                client.clone(),
                perfledger_log::jetstream::JetStreamOptions {
                    timeout: Duration::from_secs(10),
                    ..Default::default()
                },
            )
            .await
            .expect("open JetStream log"),
        ));
        let svc = Services::start_with(
            client.clone(),
            log.clone(),
            &["barnet", "evil"],
            Some("barnet"),
            perfledger_gateway::QueryConfig::default(),
        )
        .await;
        import_sample_council(&log).await;
        let rm = svc.readmodel.clone().expect("barnet's read model");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let web = listener.local_addr().unwrap();
        let (stop_web, web_stopped) = tokio::sync::oneshot::channel::<()>();
        let web_task = tokio::spawn(perfledger_web::serve_with_shutdown(
            perfledger_web::WebState {
                readmodel: Arc::new(rm),
                title: "Barnet".into(),
            },
            listener,
            async move {
                let _ = web_stopped.await;
            },
        ));

        let q = QueryClient::new(client.clone()).with_timeout(ANSWER_BOUND);
        let before = barnet_view(&q, svc.head().await, web).await;
        assert_eq!(before.cg_indicators, 37, "{before:?}");
        assert_eq!(before.http_status, 200);

        // The attacker, as a client of a tenant the deployment serves.
        let attacker = async_nats::connect(server.url()).await.unwrap();
        let pc = publisher(attacker);
        for cmd in evil_commands() {
            let a = pc
                .send(&cmd)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", cmd.command.name()));
            assert!(!a.duplicate);
        }

        let after = barnet_view(&q, svc.head().await, web).await;
        assert_eq!(after, before);
        let _ = stop_web.send(());
        web_task.await.unwrap().unwrap();
        svc.shutdown().await;
    }

    /// A gateway serving only barnet does not serve `evil`: the attacker's
    /// commands find no responder and nothing is appended.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_gateway_does_not_serve_tenants_it_is_not_configured_for() {
        let server = NatsServer::start();
        let client = async_nats::connect(server.url()).await.unwrap();
        let svc = Services::start(client.clone(), 1, Some("barnet")).await;
        let pc = publisher(client.clone());
        pc.send(&define_indicator("CG/S24")).await.unwrap();
        let head = svc.head().await;
        let attacker = async_nats::connect(server.url()).await.unwrap();
        let evil = perfledger_client::Publisher::new(
            attacker.clone(),
            perfledger_client::PublisherConfig {
                attempts: 1,
                ..perfledger_client::PublisherConfig::default()
            },
        );
        for cmd in evil_commands() {
            let err = evil.send(&cmd).await.unwrap_err();
            assert!(
                matches!(err, ClientError::NoResponders { .. }),
                "{}: {err}",
                cmd.command.name()
            );
        }
        // Nor does barnet's query service answer for evil.
        let q = QueryClient::new(attacker).with_timeout(ANSWER_BOUND);
        let err = q
            .query("evil", "status", &serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::NoResponders { .. }), "{err}");
        assert_eq!(svc.head().await, head);
        svc.shutdown().await;
    }

    /// `deploy/` permissions name the tenants: a publisher allowed to send
    /// barnet's indicator commands may not publish evil's.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deploy_permissions_name_the_tenants() {
        let server = deploy_server();
        let (cs, errors) = connect_as(&server.url(), "customer-services").await;
        cs.publish("pl.cmd.evil.indicator", bytes::Bytes::from_static(b"{}"))
            .await
            .unwrap();
        cs.flush().await.unwrap();
        errors
            .wait_for(&["permissions violation", "pl.cmd.evil.indicator"])
            .await;
        let (ro, errors) = connect_as(&server.url(), "opendata").await;
        ro.publish("pl.q.evil.status", bytes::Bytes::from_static(b"{}"))
            .await
            .unwrap();
        ro.flush().await.unwrap();
        errors
            .wait_for(&["permissions violation", "pl.q.evil.status"])
            .await;
    }
}

/// Issue #14 item 3: the query service must not be stallable by queries
/// that wait for `min_seq`.
mod item3_query_stall {
    use super::*;
    use perfledger_gateway::{QueryConfig, QueryService};
    use perfledger_readmodel::ReadModel;

    /// Waits that would outlast the test: on the code before the fix every
    /// flood request below would hold its query slot this long.
    const LONG_WAIT: Duration = Duration::from_secs(3600);

    /// The attack: 48 `status {"min_seq": u64::MAX}` at once, then
    /// a normal query. Each is refused at once as beyond the log's head,
    /// and the normal query is answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn min_seq_beyond_the_head_is_refused_at_once_and_starves_nothing() {
        let server = NatsServer::start();
        let client = async_nats::connect(server.url()).await.unwrap();
        let log = Arc::new(AnyLog::JetStream(
            perfledger_log::jetstream::JetStreamLog::with_client(
                client.clone(),
                perfledger_log::jetstream::JetStreamOptions::default(),
            )
            .await
            .expect("open JetStream log"),
        ));
        let svc = Services::start_with(
            client.clone(),
            log,
            &["barnet"],
            Some("barnet"),
            QueryConfig {
                max_wait: LONG_WAIT,
                ..QueryConfig::default()
            },
        )
        .await;
        let pc = publisher(client.clone());
        let seq = pc.send(&define_indicator("Q/1")).await.unwrap().seq;
        let q = QueryClient::new(client.clone()).with_timeout(ANSWER_BOUND);
        q.query("barnet", "status", &serde_json::json!({ "min_seq": seq }))
            .await
            .unwrap();

        let attacker = async_nats::connect(server.url()).await.unwrap();
        let aq = QueryClient::new(attacker).with_timeout(ANSWER_BOUND);
        let flood = (0..48).map(|_| {
            let aq = aq.clone();
            async move {
                aq.query(
                    "barnet",
                    "status",
                    &serde_json::json!({ "min_seq": u64::MAX }),
                )
                .await
            }
        });
        let started = std::time::Instant::now();
        let answers = futures::future::join_all(flood).await;
        let normal = q
            .query("barnet", "indicators", &serde_json::json!({}))
            .await
            .unwrap_or_else(|e| panic!("normal query after the flood: {e}"));
        // Reported, not asserted (the issue measured 9.7 s and 30 s).
        eprintln!(
            "48 min_seq=u64::MAX queries and a normal query answered in {:?}",
            started.elapsed()
        );
        // The indicators view is an object since the one JSON shape (issue
        // #14 item 12): its list is `indicators`.
        assert_eq!(normal["indicators"].as_array().map(|a| a.len()), Some(1));
        for a in answers {
            let err = a.expect_err("min_seq beyond the head is refused");
            match refusal(&err) {
                ServiceError::BadQuery { view, detail } => {
                    assert_eq!(view, "status");
                    assert!(
                        detail.contains(&u64::MAX.to_string())
                            && detail.contains(&format!("head {seq}")),
                        "{detail}"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        svc.shutdown().await;
    }

    /// Queries that may legitimately wait (min_seq at or below the head,
    /// read model behind) take places in a bounded pool of waiters, at most
    /// `max_waiting_per_client` per client and `max_waiting` in all; the
    /// rest are refused `unavailable` at once, and queries that do not wait
    /// are answered while the pool is full. When the read model catches up
    /// every waiter is answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_queries_are_bounded_and_never_take_other_queries_capacity() {
        let server = NatsServer::start();
        let client = async_nats::connect(server.url()).await.unwrap();
        // A gateway (no query service) to give the log a head.
        let gw = Services::start(client.clone(), 1, None).await;
        let pc = publisher(client.clone());
        pc.send(&define_indicator("Q/1")).await.unwrap();
        let head = pc
            .send(&record_result("Q/1", "2016/17 Q1", "50%"))
            .await
            .unwrap()
            .seq;
        // barnet's query service, its projector not started yet: the read
        // model stays behind the head until the test releases it.
        let rm = ReadModel::open_temporary(&tenant()).unwrap();
        let cfg = QueryConfig {
            max_in_flight: 2,
            max_waiting: 4,
            max_waiting_per_client: 2,
            max_wait: LONG_WAIT,
            ..QueryConfig::default()
        };
        let svc = Arc::new(QueryService::new(rm, gw.log.clone(), cfg));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = move || {
            let mut rx = stopped.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let serving = tokio::spawn({
            let (svc, c, s) = (svc.clone(), client.clone(), until_stopped());
            async move { svc.serve(c, s).await }
        });
        client.flush().await.unwrap();
        let q = QueryClient::new(client.clone()).with_timeout(ANSWER_BOUND);
        wait_answering(&q).await;

        let wait_body = serde_json::json!({ "min_seq": head });
        let mut waiters = tokio::task::JoinSet::new();
        let mut refused = Vec::new();
        // Client A asks three waiting queries: two wait, one is refused.
        let a = QueryClient::new(async_nats::connect(server.url()).await.unwrap())
            .with_timeout(ANSWER_BOUND);
        for _ in 0..3 {
            let (a, body) = (a.clone(), wait_body.clone());
            waiters.spawn(async move { a.query("barnet", "status", &body).await });
        }
        refused.push(next_refusal(&mut waiters).await);
        wait_until(|| svc.waiting() == 2).await;
        // Client B fills the pool; client C's waiting queries are refused.
        let b = QueryClient::new(async_nats::connect(server.url()).await.unwrap())
            .with_timeout(ANSWER_BOUND);
        for _ in 0..2 {
            let (b, body) = (b.clone(), wait_body.clone());
            waiters.spawn(async move { b.query("barnet", "status", &body).await });
        }
        wait_until(|| svc.waiting() == 4).await;
        let c = QueryClient::new(async_nats::connect(server.url()).await.unwrap())
            .with_timeout(ANSWER_BOUND);
        for _ in 0..2 {
            let err = c.query("barnet", "status", &wait_body).await.unwrap_err();
            refused.push(refusal(&err).clone());
        }
        for (i, r) in refused.iter().enumerate() {
            match r {
                ServiceError::Unavailable { detail } => assert!(
                    detail.contains(if i == 0 {
                        "this client"
                    } else {
                        "already waiting"
                    }),
                    "{i}: {detail}"
                ),
                other => panic!("{i}: {other:?}"),
            }
        }
        // With the pool full, queries that do not wait are answered, more
        // of them at once than `max_in_flight`.
        let normal = (0..6).map(|i| {
            let q = q.clone();
            async move {
                let view = if i % 2 == 0 { "status" } else { "indicators" };
                q.query("barnet", view, &serde_json::json!({})).await
            }
        });
        for r in futures::future::join_all(normal).await {
            r.unwrap_or_else(|e| panic!("a query that does not wait, pool full: {e}"));
        }
        assert_eq!(svc.waiting(), 4);

        // Release: the projector catches up and every waiter is answered.
        let projecting = tokio::spawn({
            let (svc, log, s) = (svc.clone(), gw.log.clone(), until_stopped());
            async move { svc.project(log, s).await }
        });
        while let Some(r) = waiters.join_next().await {
            let status = r
                .unwrap()
                .unwrap_or_else(|e| panic!("released waiter: {e}"));
            assert!(status["checkpoint"].as_u64().unwrap() >= head);
        }
        assert_eq!(svc.waiting(), 0);
        let _ = stop.send(true);
        serving.await.unwrap().unwrap();
        projecting.await.unwrap();
        gw.shutdown().await;
    }

    type Waiter = Result<serde_json::Value, ClientError>;

    /// The next waiting query to finish, which must be a refusal.
    async fn next_refusal(set: &mut tokio::task::JoinSet<Waiter>) -> ServiceError {
        let r = set.join_next().await.expect("a query").expect("join");
        let err = r.expect_err("the third waiting query of one client is refused");
        refusal(&err).clone()
    }

    /// The service answers (its subscription has propagated).
    async fn wait_answering(q: &QueryClient) {
        for _ in 0..500 {
            match q.query("barnet", "status", &serde_json::json!({})).await {
                Ok(_) => return,
                Err(ClientError::NoResponders { .. }) => {
                    tokio::time::sleep(Duration::from_millis(10)).await
                }
                Err(e) => panic!("{e}"),
            }
        }
        panic!("the query service never answered");
    }

    /// Bounded polling for a condition the test cannot await directly.
    async fn wait_until(cond: impl Fn() -> bool) {
        for _ in 0..3000 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition not reached");
    }
}

/// Issue #14 item 2: a command id names one command forever. Through the
/// real gateway: the same command re-sent is a duplicate; another command
/// under its id (on the same entity or another) is refused with its own
/// error and appends nothing.
mod item2_reused_command_ids {
    use super::*;
    use perfledger_domain::command::Command;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_command_under_a_used_id_is_refused_not_answered_as_a_duplicate() {
        let server = NatsServer::start();
        let client = async_nats::connect(server.url()).await.unwrap();
        let svc = Services::start(client.clone(), 1, Some(tenant_name())).await;
        let pc = publisher(client.clone());

        let first = define_indicator("CG/S24");
        let applied = pc.send(&first).await.unwrap();
        assert!(!applied.duplicate);
        let again = pc.send(&first).await.unwrap();
        assert!(again.duplicate, "the same command re-sent is a duplicate");
        assert_eq!(again.seq, applied.seq);
        let head = svc.head().await;

        // Same entity, different body.
        let mut renamed = first.clone();
        let Command::DefineIndicator { spec } = &mut renamed.command else {
            unreachable!("define_indicator builds DefineIndicator")
        };
        spec.title = t("Renamed by an attacker");
        // Another entity altogether.
        let mut elsewhere = define_indicator("CG/S99");
        elsewhere.command_id = first.command_id;
        for cmd in [renamed, elsewhere] {
            let err = pc.send(&cmd).await.unwrap_err();
            match refusal(&err) {
                ServiceError::CommandIdReused {
                    command_id,
                    original_seq,
                    ..
                } => {
                    assert_eq!(*command_id, first.command_id);
                    assert_eq!(*original_seq, applied.seq);
                }
                other => panic!("expected command_id_reused, got {other}"),
            }
        }
        assert_eq!(svc.head().await, head, "a refused command appends nothing");
        svc.shutdown().await;
    }
}

/// Issue #14 item 11: inputs the gateway must refuse, sent as raw JSON by
/// a client that does not use perfledger's encoder.
mod item11_inputs {
    use super::*;
    use perfledger_client::wire::Encoding;
    use perfledger_domain::codec;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_fields_and_the_nil_command_id_are_refused_as_malformed() {
        let server = NatsServer::start();
        let client = async_nats::connect(server.url()).await.unwrap();
        let svc = Services::start(client.clone(), 1, Some(tenant_name())).await;
        let pc = publisher(client.clone());
        let head = svc.head().await;

        let cmd = define_indicator("CG/S24");
        let json: serde_json::Value =
            serde_json::from_str(&codec::encode_command_json(&cmd).unwrap()).unwrap();
        let mut admin = json.clone();
        admin["is_admin"] = serde_json::Value::Bool(true);
        let mut nil = json.clone();
        nil["command_id"] = serde_json::json!("00000000-0000-0000-0000-000000000000");
        for (what, body, needle) in [
            ("an unknown field", admin, "is_admin"),
            ("the nil command id", nil, "nil"),
        ] {
            let err = pc
                .send_raw(
                    &cmd.subject("pl"),
                    Encoding::Json,
                    body.to_string().into(),
                    None,
                    cmd.command_id,
                )
                .await
                .unwrap_err();
            match refusal(&err) {
                ServiceError::Malformed { detail, .. } => {
                    assert!(detail.contains(needle), "{what}: {detail}")
                }
                other => panic!("{what}: expected malformed, got {other}"),
            }
        }
        assert_eq!(svc.head().await, head, "nothing was appended");
        svc.shutdown().await;
    }
}
