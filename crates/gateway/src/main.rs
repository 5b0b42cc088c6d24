//! `perfledger-gateway`: runs the command gateway for the tenants named by
//! `--tenants` (commands for any other tenant are not served) and (with
//! `--tenant`) one tenant's read-model query service and its projector,
//! and appends integrity checkpoints over what it writes
//! (`--checkpoint-every`), until Ctrl-C / SIGTERM.

// jemalloc, configured as every perfledger binary's (`perfledger_alloc`).
use perfledger_alloc as _;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use perfledger_domain::Tenant;
use perfledger_gateway::{CommandGateway, GatewayConfig, QueryConfig, QueryService};
use perfledger_ledger::Ledger;
use perfledger_log::jetstream::{JetStreamLog, JetStreamOptions};
use perfledger_log::{AnyLog, LogConfig};
use perfledger_readmodel::ReadModel;
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(name = "perfledger-gateway", version, about)]
struct Args {
    /// NATS server URL(s), comma-separated.
    #[arg(
        long,
        env = "PERFLEDGER_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    nats_url: String,
    /// NATS user (see deploy/).
    #[arg(long, env = "PERFLEDGER_NATS_USER")]
    user: Option<String>,
    /// NATS password.
    #[arg(long, env = "PERFLEDGER_NATS_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Use the embedded log in this directory instead of JetStream (NATS is
    /// then only the request/reply transport).
    #[arg(long)]
    embedded_log: Option<PathBuf>,
    /// Subject prefix.
    #[arg(long, default_value = "pl")]
    prefix: String,
    /// JetStream stream name.
    #[arg(long, default_value = "PERFLEDGER")]
    stream: String,
    /// Stream replicas when the gateway creates the stream (3 on a cluster).
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// Commands executed at once.
    #[arg(long, default_value_t = 64)]
    max_in_flight: usize,
    /// Group commit: up to this many concurrent commands' appends go to
    /// JetStream as one atomic batch (nats-server ≥ 2.12). 1 = off. Only
    /// worth measuring with `sync_interval: always` on a slow-fsync disk
    /// (a batch costs about four fsyncs, a publish one, but a batch is
    /// staged first: README, "Group commit"); with the timer fsync it is
    /// slower.
    #[arg(long, env = "PERFLEDGER_GROUP_COMMIT", default_value_t = 1)]
    group_commit: usize,
    /// Trust a tenant's calendar known current within this many ms instead
    /// of asking JetStream for its version before every command (0, the
    /// default: asked every time). The check is one of a command's two
    /// round trips: `bench/peer` at 32 writers measured the gateway at
    /// about 1.4× the commands per second with 1000 (README, "The command
    /// path against a PostgreSQL event store"); the price is that a period
    /// another gateway instance or the CLI closed less than this long ago
    /// may still take results here. At most 60000.
    #[arg(long, env = "PERFLEDGER_CALENDAR_STALENESS_MS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    calendar_staleness_ms: u64,
    /// Queue group of gateway instances.
    #[arg(long, default_value = "perfledger-gateway")]
    queue_group: String,
    /// The tenants (councils) whose commands this gateway serves,
    /// comma-separated (`--tenants barnet,camden`); commands for others are
    /// refused. Required unless --no-commands.
    #[arg(long, env = "PERFLEDGER_TENANTS", value_delimiter = ',')]
    tenants: Vec<String>,
    /// Serve read-model queries for this tenant (`{prefix}.q.{tenant}.*`):
    /// one read model (and one query service) per tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Read-model directory (with --tenant; it records its tenant and
    /// refuses to open for another).
    #[arg(long, default_value = "perfledger-readmodel")]
    readmodel_dir: PathBuf,
    /// Do not run the command gateway (query service only).
    #[arg(long)]
    no_commands: bool,
    /// Append an integrity checkpoint over new records every this many
    /// seconds, and when stopping, so what the gateway appends becomes
    /// tamper-evident without a `perfledger checkpoint`; 0 = never (with
    /// --no-commands it never does).
    #[arg(long, env = "PERFLEDGER_CHECKPOINT_EVERY", default_value_t = 10)]
    checkpoint_every: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("perfledger-gateway: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// A service task's outcome: `Err` names why it stopped.
type Tasks = tokio::task::JoinSet<Result<(), String>>;

async fn run(a: Args) -> Res<()> {
    // Arguments first (before connecting, which retries until a server answers).
    let (tenants, query_tenant) = tenants(&a)?;
    let client = connect(&a).await?;
    let log = Arc::new(open_log(&a, &client).await?);
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let mut tasks = Tasks::new();
    if !a.no_commands {
        let gw = Arc::new(CommandGateway::new(
            Ledger::new(log.clone(), a.prefix.clone())
                .with_calendar_staleness(Duration::from_millis(a.calendar_staleness_ms)),
            GatewayConfig {
                prefix: a.prefix.clone(),
                queue_group: a.queue_group.clone(),
                max_in_flight: a.max_in_flight,
                ..GatewayConfig::new(tenants)
            },
        ));
        let (c, s) = (client.clone(), stopped());
        let checkpoints = (a.checkpoint_every > 0).then(|| {
            let every = Duration::from_secs(a.checkpoint_every);
            (log.clone(), a.prefix.clone(), every)
        });
        tasks.spawn(async move {
            let Some((l, p, every)) = checkpoints else {
                return gw.serve(c, s).await.map_err(|e| e.to_string());
            };
            // The last checkpoint is taken once the gateway has stopped and
            // answered its commands in flight, so it covers them all.
            let (served_tx, served_rx) = tokio::sync::oneshot::channel::<()>();
            let served = async move {
                let _ = served_rx.await;
            };
            let checkpointer = tokio::spawn(async move {
                perfledger_gateway::checkpointer::keep_checkpointed(l, p, every, served).await
            });
            let outcome = gw.serve(c, s).await.map_err(|e| e.to_string());
            drop(served_tx);
            let _ = checkpointer.await;
            outcome
        });
    }
    if let Some(tenant) = &query_tenant {
        let rm = ReadModel::open(&a.readmodel_dir, tenant)?;
        let cfg = QueryConfig {
            prefix: a.prefix.clone(),
            ..QueryConfig::default()
        };
        let svc = Arc::new(QueryService::new(rm, log.clone(), cfg));
        let (p, l, s) = (svc.clone(), log.clone(), stopped());
        tasks.spawn(async move {
            p.project(l, s).await;
            Ok(())
        });
        let (c, s) = (client.clone(), stopped());
        tasks.spawn(async move { svc.serve(c, s).await.map_err(|e| e.to_string()) });
    }
    if tasks.is_empty() {
        return Err("nothing to run: --no-commands without --tenant".into());
    }
    until_stopped(&mut tasks).await?;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    client.flush().await?;
    Ok(())
}

/// The tenants whose commands are served (`--tenants`; required unless
/// `--no-commands`) and the tenant whose queries are served (`--tenant`).
fn tenants(a: &Args) -> Res<(Vec<Tenant>, Option<Tenant>)> {
    let tenants = a
        .tenants
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .map(|t| Tenant::new(t).map_err(|e| format!("--tenants: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if tenants.is_empty() && !a.no_commands {
        return Err(
            "the command gateway serves only the tenants it is given: pass --tenants (or PERFLEDGER_TENANTS), or --no-commands"
                .into(),
        );
    }
    let query_tenant = match &a.tenant {
        Some(t) => Some(Tenant::new(t).map_err(|e| format!("--tenant: {e}"))?),
        None => None,
    };
    Ok((tenants, query_tenant))
}

/// Connect to NATS (retrying until a server answers).
async fn connect(a: &Args) -> Res<async_nats::Client> {
    let mut opts = async_nats::ConnectOptions::new()
        .name("perfledger-gateway")
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5));
    if let (Some(u), Some(p)) = (a.user.clone(), a.password.clone()) {
        opts = opts.user_and_password(u, p);
    }
    let urls: Vec<async_nats::ServerAddr> = a
        .nats_url
        .split(',')
        .map(|u| u.trim().parse())
        .collect::<Result<_, _>>()?;
    Ok(opts.connect(urls).await?)
}

/// The log: the embedded one with `--embedded-log`, else JetStream over the
/// same connection.
async fn open_log(a: &Args, client: &async_nats::Client) -> Res<AnyLog> {
    Ok(match &a.embedded_log {
        Some(dir) => AnyLog::open(&LogConfig::embedded(dir)).await?,
        None => AnyLog::JetStream(
            JetStreamLog::with_client(
                client.clone(),
                JetStreamOptions {
                    url: a.nats_url.clone(),
                    stream: a.stream.clone(),
                    prefix: a.prefix.clone(),
                    replicas: a.replicas,
                    group_commit: a.group_commit,
                    ..JetStreamOptions::default()
                },
            )
            .await?,
        ),
    })
}

/// Wait for Ctrl-C, SIGTERM or the first service task to end; a task that
/// ended with an error is returned as the error.
async fn until_stopped(tasks: &mut Tasks) -> Res<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        Some(r) = tasks.join_next() => {
            if let Ok(Err(e)) = r { return Err(e.into()); }
        }
    }
    Ok(())
}
