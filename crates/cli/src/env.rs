//! An open data directory (`Env`): the log (embedded in `<DIR>/log`, or
//! JetStream with `--nats`), the ledger over it, the read model in
//! `<DIR>/readmodel`, and the tenant recorded in `<DIR>/tenant` by the last
//! import. Writes go through the ledger and are followed by an integrity
//! checkpoint; reads catch the read model up with the log first.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use perfledger_domain::{Command, CommandEnvelope, Tenant, Text};
use perfledger_ledger::{Ledger, Submitted};
use perfledger_log::{integrity, AnyLog, LogConfig};
use perfledger_readmodel::{ReadModel, ReadModelError};
use perfledger_service::Service;

use crate::args::{Format, Global};
use crate::error::{CliError, Res};

/// The checkpoint prefix of this tool's log.
pub const PREFIX: &str = "pl";

/// A read on the embedded log needs a data directory with a log in it: a
/// typo'd or missing `--data-dir` is an error, not a fresh empty ledger
/// answering zeros. (With `--nats` the log is the server's; the directory
/// only caches the read model and is created.)
pub fn require_data(g: &Global, dir: &Path) -> Res<()> {
    let nats = g.nats.as_deref().is_some_and(|u| !u.trim().is_empty());
    if nats || dir.join("log").is_dir() {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "no perfledger data at {}; run `perfledger import` or pass --data-dir",
        dir.display()
    )))
}

/// An open data directory.
pub struct Env {
    /// The global arguments (format, tenant, actor).
    pub g: Global,
    /// The data directory.
    pub dir: PathBuf,
    /// The log (embedded or JetStream).
    pub log: Arc<AnyLog>,
    /// The ledger over `log`.
    pub ledger: Ledger<AnyLog>,
}

impl Env {
    pub async fn open(g: &Global, dir: PathBuf) -> Res<Env> {
        std::fs::create_dir_all(&dir)?;
        let mut cfg = LogConfig::embedded(dir.join("log"));
        cfg.nats_url = g.nats.clone().filter(|u| !u.trim().is_empty());
        let log = Arc::new(AnyLog::open(&cfg).await?);
        let ledger = Ledger::new(log.clone(), PREFIX);
        Ok(Env {
            g: g.clone(),
            dir,
            log,
            ledger,
        })
    }

    pub fn tenant(&self) -> Res<Tenant> {
        let t = match &self.g.tenant {
            Some(t) => t.clone(),
            None => std::fs::read_to_string(self.dir.join("tenant"))
                .map(|s| s.trim().to_string())
                .map_err(|_| {
                    CliError::Usage(
                        "no tenant: pass --tenant (or PERFLEDGER_TENANT), or import council.csv first"
                            .into(),
                    )
                })?,
        };
        Ok(Tenant::new(&t)?)
    }

    pub fn actor(&self) -> Res<Text> {
        match &self.g.actor {
            Some(a) if !a.trim().is_empty() => Ok(Text::new("actor", a.trim())?),
            _ => Err(CliError::Usage(
                "this command writes to the ledger: pass --actor \"<job title>\" (or PERFLEDGER_ACTOR)"
                    .into(),
            )),
        }
    }

    /// The read model's directory.
    pub fn readmodel_dir(&self) -> PathBuf {
        self.dir.join("readmodel")
    }

    /// The read model's page cache (`--cache-mb`).
    pub fn cache_bytes(&self) -> u64 {
        self.g.cache_mb << 20
    }

    pub fn readmodel(&self) -> Res<ReadModel> {
        ReadModel::open_with_cache(self.readmodel_dir(), &self.tenant()?, self.cache_bytes())
            .map_err(|e| self.read_model_error(e))
    }

    /// A read-model error as the user should read it: sled's lock held by
    /// another process is most likely a running `perfledger serve`.
    pub fn read_model_error(&self, e: ReadModelError) -> CliError {
        match e {
            ReadModelError::Storage(s) if s.to_string().contains("could not acquire lock") => {
                CliError::Usage(format!(
                    "cannot open the read model in {} (is `perfledger serve` running on it?): {s}",
                    self.readmodel_dir().display()
                ))
            }
            other => other.into(),
        }
    }

    /// Open the read model and catch it up with the log.
    pub async fn caught_up(&self) -> Res<ReadModel> {
        Ok(self.service().caught_up(self.readmodel()?).await?)
    }

    /// The application layer over this directory's ledger.
    pub fn service(&self) -> Service<AnyLog> {
        Service::new(self.ledger.clone())
    }

    /// Execute one write, wrapping it for a closed period, then checkpoint.
    pub async fn write(&self, command: Command, reason: Option<&str>) -> Res<()> {
        let tenant = self.tenant()?;
        let actor = self.actor()?;
        let mut command = command;
        if command.period().is_some() {
            let closed = self.service().closed_periods(&tenant).await?;
            if let Some(p) = command.closed_period(&closed) {
                let reason = reason.filter(|r| !r.trim().is_empty()).ok_or_else(|| {
                    CliError::Usage(format!(
                        "{p} is closed: a change needs --reason (it is recorded as a post-close restatement)"
                    ))
                })?;
                command = command.after_close(Text::new("reason", reason)?);
            }
        }
        let name = command.name();
        let ids = self.ledger.ids();
        let env = CommandEnvelope {
            command_id: ids.next_id(),
            tenant,
            actor,
            source: Text::new("source", "perfledger-cli")?,
            correlation_id: ids.next_id(),
            causation_id: None,
            command,
        };
        tracing::debug!(command = name, "executing");
        let out = self.ledger.execute(Submitted::new(env)).await?;
        tracing::info!(command = name, seq = out.seq, "recorded");
        let seq = out.seq;
        integrity::checkpoint(&*self.log, PREFIX).await?;
        match self.g.format {
            Format::Json => out!(
                "{}",
                serde_json::json!({"command": name, "seq": seq, "events": out.events.len()})
            ),
            _ => out!("{name} recorded at sequence {seq}"),
        }
        Ok(())
    }
}

/// The data directory: `--data-dir`, or the default of the command.
pub fn data_dir(g: &Global, demo: bool) -> PathBuf {
    g.data_dir.clone().unwrap_or_else(|| {
        PathBuf::from(if demo {
            "./perfledger-demo"
        } else {
            "./perfledger-data"
        })
    })
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template(&format!("{what} [{{bar:40}}] {{pos}}/{{len}} ({{eta}})"))
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}
