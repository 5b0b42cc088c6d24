//! `perfledger`: the command-line tool of the performance ledger.
//!
//! Writes go through the ledger (validated in full before anything is
//! appended) and are followed by an integrity checkpoint; queries catch the
//! read model up with the log first. Output: human tables by default,
//! `--format json` (field names documented in `docs/cli.md`) or `--format csv`.

#![forbid(unsafe_code)]
// The argument structs' doc comments are clap's `--help` text, where
// `<DIR>` is a placeholder shown as written, not an HTML tag.
#![allow(rustdoc::invalid_html_tags)]

/// `println!` that ends the process quietly when stdout is closed
/// (`perfledger history X | head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::stdout_failed(e);
        }
    }};
}

mod changes;
mod format;
mod pack;

/// Stdout failed: a closed pipe ends the process quietly; anything else is
/// reported as one line.
pub(crate) fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write the output: {e}");
    std::process::exit(1);
}

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use perfledger_domain::action::ActionStatus;
use perfledger_domain::command::CALENDAR_KEY;
use perfledger_domain::event::{CommitteeSeal, PackPin, ResultEntry, Seal};
use perfledger_domain::ids::EntityKind;
use perfledger_domain::{
    parse, AggregateState, Command, CommandEnvelope, Date, DomainError, Period, Tenant, Text,
    Timestamp,
};
use perfledger_import::{ImportErrors, ImportOptions, ImportPlan};
use perfledger_ledger::{Ledger, LedgerError, Submitted};
use perfledger_log::{integrity, EventLog, LogError, Seq, Until};
use perfledger_log::{AnyLog, LogConfig};
use perfledger_readmodel::{AsOf, ProjectError, Projector, ReadModel, ReadModelError};
use uuid::Uuid;

const PREFIX: &str = "pl";

const ABOUT: &str = "perfledger: an event-sourced performance ledger for councils.

Every target, result, restatement, risk rescoring and forecast is an immutable
event; dashboards can be rebuilt exactly as committee saw them on any date.";

const EXAMPLES: &str = "Examples:
  perfledger demo                                   # import the sample council and serve it
  perfledger import data/sample-council             # import a directory of CSV files
  perfledger dashboard --unit CG --period \"2016/17 Q1\"
  perfledger dashboard --unit CG --period \"2016/17 Q1\" --as-of 2016-08-26T12:00:00Z
  perfledger history CG/S3 --format json
  perfledger audit indicator CG/S26
  perfledger risks --unit CG --heat-map
  perfledger finance --unit CG --period \"2016/17 Q1\"
  perfledger --actor \"Head of Performance\" restate-result --indicator CG/S26 \\
      --period \"2016/17 Q1\" --result 91% --reason \"late validation\"
  perfledger --actor \"Governance Officer\" seal --unit CG --period \"2016/17 Q1\" \\
      --committee PR --date 2016-09-06 --as-of 2016-09-06   # as of the meeting's papers
  perfledger seals
  perfledger verify

Environment: PERFLEDGER_DATA, PERFLEDGER_NATS_URL, PERFLEDGER_TENANT,
PERFLEDGER_ACTOR, RUST_LOG (logging; quiet by default).";

#[derive(Debug, Parser)]
#[command(name = "perfledger", version, about = ABOUT, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Clone, Args)]
struct Global {
    /// Data directory: embedded log in <DIR>/log, read model in <DIR>/readmodel
    /// [default: ./perfledger-data; `demo`: ./perfledger-demo]
    #[arg(long, global = true, env = "PERFLEDGER_DATA")]
    data_dir: Option<PathBuf>,
    /// NATS server URL (JetStream log); without it the embedded log is used
    #[arg(long, global = true, env = "PERFLEDGER_NATS_URL")]
    nats: Option<String>,
    /// Tenant (council) id [default: the tenant recorded by the last import
    /// in the data directory]
    #[arg(long, global = true, env = "PERFLEDGER_TENANT")]
    tenant: Option<String>,
    /// Who is acting: a job title (required for writes)
    #[arg(long, global = true, env = "PERFLEDGER_ACTOR")]
    actor: Option<String>,
    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable tables.
    Table,
    /// JSON (stable field names, see docs/cli.md).
    Json,
    /// CSV export.
    Csv,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Import CSV files (a directory, or files named <kind>.csv); all or nothing
    Import {
        /// Directories and/or files
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// A historical load: every row claims its recorded time
        /// (`recorded_at`, `closed_at`) and is marked as migrated. Allowed
        /// only where it keeps the log's time order. Without it rows carry
        /// no recorded time and are recorded now.
        #[arg(long)]
        backdated: bool,
    },
    /// Record a result for an indicator and period
    RecordResult(ResultArgs),
    /// Restate a result (a reason is required)
    RestateResult(ResultArgs),
    /// Set a target for an indicator and period
    SetTarget(TargetArgs),
    /// Revise a target (a reason is required)
    ReviseTarget(TargetArgs),
    /// Assess (rescore) a risk for a quarter
    AssessRisk {
        /// Risk id, e.g. ST0072
        #[arg(long)]
        risk: String,
        /// Quarter, e.g. "2013/14 Q3"
        #[arg(long)]
        period: String,
        /// Current impact, e.g. "Major 4" or 4
        #[arg(long)]
        impact: String,
        /// Current probability, e.g. "Unlikely 2" or 2
        #[arg(long)]
        probability: String,
        /// Target impact
        #[arg(long, requires = "target_probability")]
        target_impact: Option<String>,
        /// Target probability
        #[arg(long, requires = "target_impact")]
        target_probability: Option<String>,
        /// Comment (controls, why rescored)
        #[arg(long)]
        comment: Option<String>,
        /// Reason (required when the quarter is closed)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Submit a revenue or capital forecast for a line and quarter (£000)
    SubmitForecast {
        /// revenue or capital
        #[arg(value_enum)]
        kind: ForecastKind,
        /// Unit code
        #[arg(long)]
        unit: String,
        /// Line name as defined
        #[arg(long)]
        line: String,
        /// Quarter
        #[arg(long)]
        period: String,
        /// Forecast, printed form: 30,837 or (4,331)
        #[arg(long, allow_hyphen_values = true)]
        forecast: String,
        /// Capital: additions/(deletions)
        #[arg(long, default_value = "0", allow_hyphen_values = true)]
        additions: String,
        /// Capital: (slippage)/accelerated
        #[arg(long, default_value = "0", allow_hyphen_values = true)]
        slippage: String,
        /// Comment
        #[arg(long)]
        comment: Option<String>,
        /// Reason (required when the quarter is closed)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Report a key action's status for a quarter
    ReportAction {
        /// Unit code
        #[arg(long)]
        unit: String,
        /// Action reference, e.g. CG15
        #[arg(long)]
        action: String,
        /// Quarter
        #[arg(long)]
        period: String,
        /// Green, Green Amber, Red Amber, Red, Not Rated
        #[arg(long)]
        status: String,
        /// Comment
        #[arg(long)]
        comment: Option<String>,
        /// Reason (required when the quarter is closed)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Close a period (data collection complete; later changes need reasons)
    ClosePeriod {
        /// Period, e.g. "2016/17 Q1"
        #[arg(long)]
        period: String,
    },
    /// A unit's (or the council's) dashboard for a quarter
    Dashboard {
        /// Unit code; council-wide when omitted
        #[arg(long)]
        unit: Option<String>,
        /// Period, e.g. "2016/17 Q1"
        #[arg(long)]
        period: String,
        /// Log sequence, or RFC 3339 time / date (ledger as recorded then)
        #[arg(long)]
        as_of: Option<String>,
    },
    /// List indicators (key, title, unit, type)
    Indicators {
        /// Unit code; all units when omitted
        #[arg(long)]
        unit: Option<String>,
        /// Log sequence or time
        #[arg(long)]
        as_of: Option<String>,
    },
    /// An indicator's targets, results, ratings and directions by period
    History {
        /// Indicator reference, or title when it has none
        indicator: String,
        /// Log sequence or time
        #[arg(long)]
        as_of: Option<String>,
    },
    /// The audit trail of an entity: who, when, why, before and after
    Audit {
        /// indicator, action, risk, revenue-line, capital-line, saving, scheme, calendar, unit, seal
        kind: String,
        /// Natural key (indicator ref or title; risk id; action "UNIT/REF"...)
        key: String,
        /// Log sequence or time
        #[arg(long)]
        as_of: Option<String>,
    },
    /// The risk register, optionally with the 5x5 heat map
    Risks {
        /// Unit code; council-wide when omitted
        #[arg(long)]
        unit: Option<String>,
        /// Show the heat map (current position)
        #[arg(long)]
        heat_map: bool,
        /// Log sequence or time
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Revenue, capital and savings for a unit and period
    Finance {
        /// Unit code; council-wide when omitted
        #[arg(long)]
        unit: Option<String>,
        /// Quarter
        #[arg(long, conflicts_with = "year")]
        period: Option<String>,
        /// Financial year (savings plans), e.g. 2020/21
        #[arg(long)]
        year: Option<String>,
        /// Log sequence or time
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Seal the dashboard a committee saw at a meeting
    ///
    /// The dashboard is sealed as of the meeting's papers: the ledger as
    /// recorded before the meeting day, or the position given by --as-of.
    /// When records made after the meeting date change the dashboard and no
    /// --as-of is given, nothing is sealed: say which position the papers
    /// showed. Unknown units and committees, and meetings before the period
    /// began, are refused.
    Seal {
        /// Unit code; council-wide when omitted
        #[arg(long)]
        unit: Option<String>,
        /// Period
        #[arg(long)]
        period: String,
        /// Committee code (as defined in committees.csv, e.g. PCMC)
        #[arg(long)]
        committee: String,
        /// Meeting date (YYYY-MM-DD)
        #[arg(long)]
        date: String,
        /// Position the meeting's papers were produced from: a log sequence
        /// or a time [default: the ledger as recorded before the meeting day]
        #[arg(long)]
        as_of: Option<String>,
        /// Seal id (how `audit seal <ID>` finds it) [default:
        /// COMMITTEE-DATE-UNIT-PERIOD, e.g. PR-2016-09-06-CG-2016-17-Q1]
        #[arg(long)]
        id: Option<String>,
        /// Title of the report committee received
        #[arg(long)]
        title: Option<String>,
    },
    /// List the seals in the log, each re-derived (matches or differs)
    Seals {
        /// Log sequence or time
        #[arg(long)]
        as_of: Option<String>,
    },
    /// The committee pack (HTML, PDF, JSON or CSV by --out's extension)
    Pack(pack::PackArgs),
    /// What changed in a sealed pack since its seal, with the events and actors
    Changes(changes::ChangesArgs),
    /// Verify the log (hash chain, checkpoints) and re-derive every seal
    Verify {
        /// Also check that the log up to SEQ hashes to ROOT (64 hex), an
        /// anchor kept outside the log: printed by `seal`, by `verify` for
        /// the head, and in pack footers. Plain verification cannot detect
        /// a log rewritten with a recomputed chain and checkpoints; an
        /// anchor can.
        #[arg(long, value_name = "SEQ:ROOT")]
        anchor: Option<String>,
    },
    /// Append an integrity checkpoint
    Checkpoint,
    /// Rebuild the read model from the log
    Rebuild,
    /// Serve the HTML dashboards and JSON API
    Serve {
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        #[command(flatten)]
        limits: HttpLimits,
    },
    /// Import the sample council into ./perfledger-demo and serve it
    Demo {
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Import and print the tour, do not serve
        #[arg(long)]
        no_serve: bool,
        #[command(flatten)]
        limits: HttpLimits,
        /// Sample directory [default: data/sample-council of the source tree]
        #[arg(long)]
        sample: Option<PathBuf>,
    },
}

impl Cmd {
    /// Commands that only read: they never create a data directory.
    fn reads_only(&self) -> bool {
        matches!(
            self,
            Cmd::Dashboard { .. }
                | Cmd::Indicators { .. }
                | Cmd::History { .. }
                | Cmd::Audit { .. }
                | Cmd::Risks { .. }
                | Cmd::Finance { .. }
                | Cmd::Seals { .. }
                | Cmd::Serve { .. }
        )
    }
}

impl Cmd {
    /// Parse a read command's period and `--as-of` arguments (the command
    /// parses them again when it runs; this only reports them first).
    fn check_read_args(&self) -> Res<()> {
        let (p, at) = match self {
            Cmd::Dashboard {
                period: p, as_of, ..
            } => (Some(p.as_str()), as_of),
            Cmd::Finance {
                period: p,
                year,
                as_of,
                ..
            } => (p.as_deref().or(year.as_deref()), as_of),
            Cmd::Indicators { as_of, .. }
            | Cmd::History { as_of, .. }
            | Cmd::Audit { as_of, .. }
            | Cmd::Risks { as_of, .. }
            | Cmd::Seals { as_of } => (None, as_of),
            _ => return Ok(()),
        };
        if let Some(p) = p {
            period(p)?;
        }
        as_of(at.as_deref())?;
        Ok(())
    }
}

/// A read on the embedded log needs a data directory with a log in it: a
/// typo'd or missing `--data-dir` is an error, not a fresh empty ledger
/// answering zeros. (With `--nats` the log is the server's; the directory
/// only caches the read model and is created.)
fn require_data(g: &Global, dir: &Path) -> Res<()> {
    let nats = g.nats.as_deref().is_some_and(|u| !u.trim().is_empty());
    if nats || dir.join("log").is_dir() {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "no perfledger data at {}; run `perfledger import` or pass --data-dir",
        dir.display()
    )))
}

/// Limits of the HTTP server (`serve`, `demo`).
#[derive(Debug, Clone, Copy, Args)]
struct HttpLimits {
    /// Seconds a client has to send a complete request head (also how long
    /// an idle keep-alive connection stays open); slower connections are closed
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Most HTTP connections open at once; more are answered 503 and closed
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    max_connections: u64,
}

impl HttpLimits {
    fn config(self) -> perfledger_web::ServeConfig {
        perfledger_web::ServeConfig {
            header_timeout: std::time::Duration::from_secs(self.header_timeout),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ForecastKind {
    Revenue,
    Capital,
}

#[derive(Debug, Args)]
struct ResultArgs {
    /// Indicator reference (or title)
    #[arg(long)]
    indicator: String,
    /// Period, e.g. "2016/17 Q1"
    #[arg(long)]
    period: String,
    /// Printed result: 82% (A), 1,385/1,599, 8.35 days, Not available
    #[arg(long, allow_hyphen_values = true)]
    result: String,
    /// Commentary
    #[arg(long)]
    commentary: Option<String>,
    /// Why (required to restate, and for a closed period)
    #[arg(long)]
    reason: Option<String>,
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// Indicator reference (or title)
    #[arg(long)]
    indicator: String,
    /// Period: a year (2016/17) or a quarter
    #[arg(long)]
    period: String,
    /// Printed target: 90%, <£1m, Remain at or above 85%, Monitor
    #[arg(long, allow_hyphen_values = true)]
    target: String,
    /// Why (required to revise, and for a closed period)
    #[arg(long)]
    reason: Option<String>,
}

/// Everything that can go wrong, printed as one line plus causes.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Import(#[from] ImportErrors),
    #[error("{0}")]
    Rows(String),
    #[error("the ledger refused the command: {0}")]
    Ledger(#[from] LedgerError),
    #[error("log: {0}")]
    Log(#[from] LogError),
    #[error("read model: {0}")]
    ReadModel(#[from] ReadModelError),
    #[error("projecting the log: {0}")]
    Project(#[from] ProjectError),
    #[error("{0}")]
    Domain(#[from] DomainError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Verify(String),
}

type Res<T> = Result<T, CliError>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            let mut shown = e.to_string();
            eprintln!("error: {shown}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                let text = s.to_string();
                if !shown.contains(&text) {
                    eprintln!("  caused by: {text}");
                    shown = text;
                }
                src = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

/// An open data directory.
struct Env {
    g: Global,
    dir: PathBuf,
    log: Arc<AnyLog>,
    ledger: Ledger<AnyLog>,
}

impl Env {
    async fn open(g: &Global, dir: PathBuf) -> Res<Env> {
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

    fn tenant(&self) -> Res<Tenant> {
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

    fn actor(&self) -> Res<Text> {
        match &self.g.actor {
            Some(a) if !a.trim().is_empty() => Ok(Text::new("actor", a.trim())?),
            _ => Err(CliError::Usage(
                "this command writes to the ledger: pass --actor \"<job title>\" (or PERFLEDGER_ACTOR)"
                    .into(),
            )),
        }
    }

    fn readmodel(&self) -> Res<ReadModel> {
        ReadModel::open(self.dir.join("readmodel"), &self.tenant()?).map_err(|e| match e {
            ReadModelError::Storage(s) => CliError::Usage(format!(
                "cannot open the read model in {} (is `perfledger serve` running on it?): {s}",
                self.dir.join("readmodel").display()
            )),
            other => other.into(),
        })
    }

    /// Open the read model and catch it up with the log.
    async fn caught_up(&self) -> Res<ReadModel> {
        let rm = self.readmodel()?;
        Projector::new(&rm)
            .catch_up(&*self.log, &mut |_| {})
            .await?;
        Ok(rm)
    }

    async fn closed_periods(&self, tenant: &Tenant) -> Res<std::collections::BTreeSet<Period>> {
        let id = perfledger_domain::entity_id(tenant, EntityKind::Calendar, CALENDAR_KEY);
        let loaded = self.ledger.load(tenant, EntityKind::Calendar, id).await?;
        Ok(match loaded.state {
            AggregateState::Calendar(c) => c.closed,
            _ => Default::default(),
        })
    }

    async fn head_time(&self) -> Res<Option<Timestamp>> {
        let head = self.log.head().await?;
        if head == 0 {
            return Ok(None);
        }
        let mut s = self.log.read(head, Until::Seq(head));
        match s.next().await {
            Some(r) => Ok(Some(Timestamp(r?.recorded_at))),
            None => Ok(None),
        }
    }

    /// Execute one write, wrapping it for a closed period, then checkpoint.
    async fn write(&self, command: Command, reason: Option<&str>) -> Res<()> {
        let tenant = self.tenant()?;
        let actor = self.actor()?;
        let mut command = command;
        if let Some(p) = command.period() {
            let closed = self.closed_periods(&tenant).await?;
            if closed.iter().any(|c| c.contains(p)) {
                let reason = reason.filter(|r| !r.trim().is_empty()).ok_or_else(|| {
                    CliError::Usage(format!(
                        "{p} is closed: a change needs --reason (it is recorded as a post-close restatement)"
                    ))
                })?;
                command = Command::PostCloseRestatement {
                    reason: Text::new("reason", reason)?,
                    command: Box::new(command),
                };
            }
        }
        let name = command.name();
        let env = CommandEnvelope {
            command_id: Uuid::now_v7(),
            tenant,
            actor,
            source: Text::new("source", "perfledger-cli")?,
            correlation_id: Uuid::now_v7(),
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

fn data_dir(g: &Global, demo: bool) -> PathBuf {
    g.data_dir.clone().unwrap_or_else(|| {
        PathBuf::from(if demo {
            "./perfledger-demo"
        } else {
            "./perfledger-data"
        })
    })
}

fn period(v: &str) -> Res<Period> {
    Ok(Period::parse(v)?)
}

fn as_of(v: Option<&str>) -> Res<AsOf> {
    match v {
        None => Ok(AsOf::Head),
        Some(s) => {
            if let Ok(n) = s.trim().parse::<Seq>() {
                return Ok(AsOf::Seq(n));
            }
            Timestamp::parse(s.trim())
                .map(|t| AsOf::Time(t.0))
                .map_err(|_| {
                    CliError::Usage(format!(
                        "--as-of {s:?}: expected a log sequence (e.g. 120) or a time (2016-08-26 or 2016-08-26T12:00:00Z)"
                    ))
                })
        }
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template(&format!("{what} [{{bar:40}}] {{pos}}/{{len}} ({{eta}})"))
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

/// Where the sample council lives in the source tree.
fn default_sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council")
}

async fn run(cli: Cli) -> Res<ExitCode> {
    let g = cli.global.clone();
    let demo = matches!(cli.command, Cmd::Demo { .. });
    let dir = data_dir(&g, demo);
    if cli.command.reads_only() {
        // Bad arguments are reported as such, before any missing data.
        cli.command.check_read_args()?;
        require_data(&g, &dir)?;
    }
    let env = match Env::open(&g, dir).await {
        Ok(env) => env,
        // A log that cannot be read back (a record failing its CRC, a gap)
        // is what `verify` looks for: reported as its finding, exit 2.
        Err(CliError::Log(e @ (LogError::Corrupt { .. } | LogError::Gap { .. })))
            if matches!(cli.command, Cmd::Verify { .. }) =>
        {
            return Ok(unreadable_log(&g, &e));
        }
        Err(e) => return Err(e),
    };
    match cli.command {
        Cmd::Import { paths, backdated } => {
            import(&env, &paths, backdated).await?;
        }
        Cmd::Pack(a) => pack::run(&env, a).await?,
        Cmd::Changes(a) => changes::run(&env, a).await?,
        Cmd::RecordResult(a) => result_cmd(&env, a, false).await?,
        Cmd::RestateResult(a) => result_cmd(&env, a, true).await?,
        Cmd::SetTarget(a) => target_cmd(&env, a, false).await?,
        Cmd::ReviseTarget(a) => target_cmd(&env, a, true).await?,
        Cmd::AssessRisk {
            risk,
            period: p,
            impact,
            probability,
            target_impact,
            target_probability,
            comment,
            reason,
        } => {
            let current = parse::parse_assessment(&impact, &probability)?;
            let target = match (target_impact, target_probability) {
                (Some(i), Some(p)) => Some(parse::parse_assessment(&i, &p)?),
                _ => None,
            };
            let cmd = Command::AssessRisk {
                risk_id: Text::new("risk id", &risk)?,
                period: period(&p)?,
                current,
                target,
                comment: comment.map(|c| Text::new("comment", &c)).transpose()?,
            };
            env.write(cmd, reason.as_deref()).await?;
        }
        Cmd::SubmitForecast {
            kind,
            unit,
            line,
            period: p,
            forecast,
            additions,
            slippage,
            comment,
            reason,
        } => {
            let unit = Text::new("unit", &unit)?;
            let line = Text::new("line", &line)?;
            let period = period(&p)?;
            let forecast = parse::parse_amount(&forecast)?;
            let comment = comment.map(|c| Text::new("comment", &c)).transpose()?;
            let cmd = match kind {
                ForecastKind::Revenue => Command::SubmitRevenueForecast {
                    unit,
                    line,
                    period,
                    forecast,
                    comment,
                },
                ForecastKind::Capital => Command::SubmitCapitalForecast {
                    unit,
                    line,
                    period,
                    additions: parse::parse_amount(&additions)?,
                    slippage: parse::parse_amount(&slippage)?,
                    forecast,
                    comment,
                },
            };
            env.write(cmd, reason.as_deref()).await?;
        }
        Cmd::ReportAction {
            unit,
            action,
            period: p,
            status,
            comment,
            reason,
        } => {
            let cmd = Command::ReportActionStatus {
                unit: Text::new("unit", &unit)?,
                reference: Text::new("reference", &action)?,
                period: period(&p)?,
                status: ActionStatus::parse(&status)?,
                comment: comment.map(|c| Text::new("comment", &c)).transpose()?,
            };
            env.write(cmd, reason.as_deref()).await?;
        }
        Cmd::ClosePeriod { period: p } => {
            env.write(
                Command::ClosePeriod {
                    period: period(&p)?,
                },
                None,
            )
            .await?;
        }
        Cmd::Dashboard {
            unit,
            period: p,
            as_of: at,
        } => {
            // Arguments first: their errors need no tenant or read model.
            let (p, at) = (period(&p)?, as_of(at.as_deref())?);
            let rm = env.caught_up().await?;
            let view = rm.dashboard(unit.as_deref(), p, at)?;
            format::dashboard(g.format, &view)?;
        }
        Cmd::Indicators { unit, as_of: at } => {
            let rm = env.caught_up().await?;
            let list = rm.indicators(unit.as_deref(), as_of(at.as_deref())?)?;
            format::indicators(g.format, &list)?;
        }
        Cmd::History {
            indicator,
            as_of: at,
        } => {
            let rm = env.caught_up().await?;
            let view = rm.indicator(&indicator, as_of(at.as_deref())?)?;
            format::history(g.format, &view)?;
        }
        Cmd::Audit {
            kind,
            key,
            as_of: at,
        } => {
            let rm = env.caught_up().await?;
            let kind = EntityKind::from_token(&kind.replace('-', "_"))
                .or_else(|_| EntityKind::from_token(&kind.replace('-', "")))
                .or_else(|_| EntityKind::from_token(&kind))?;
            let key = if matches!(
                kind,
                EntityKind::Action | EntityKind::RevenueLine | EntityKind::CapitalLine
            ) {
                match key.split_once('/') {
                    Some((u, r)) => perfledger_domain::ids::composite_key(&[u, r]),
                    None => key,
                }
            } else {
                key
            };
            let trail = rm.audit(kind, &key, as_of(at.as_deref())?)?;
            format::audit(g.format, &trail)?;
        }
        Cmd::Risks {
            unit,
            heat_map,
            as_of: at,
        } => {
            let rm = env.caught_up().await?;
            let reg = rm.risks(unit.as_deref(), as_of(at.as_deref())?)?;
            format::risks(g.format, &reg, heat_map)?;
        }
        Cmd::Finance {
            unit,
            period: p,
            year,
            as_of: at,
        } => {
            let p = match (p, year) {
                (Some(p), _) => period(&p)?,
                (None, Some(y)) => period(&y)?,
                (None, None) => {
                    return Err(CliError::Usage("give --period or --year".into()));
                }
            };
            let rm = env.caught_up().await?;
            let view = rm.finance(unit.as_deref(), p, as_of(at.as_deref())?)?;
            format::finance(g.format, &view)?;
        }
        Cmd::Seal {
            unit,
            period: p,
            committee,
            date,
            as_of: at,
            id,
            title,
        } => {
            let rm = env.caught_up().await?;
            let meeting = Date::parse(&date)?;
            let p = period(&p)?;
            let seal = seal_position(&rm, unit.as_deref(), p, &committee, meeting, at.as_deref())?;
            let seal_id = match id {
                Some(id) => id,
                None => format!(
                    "{}-{}-{}-{}",
                    seal.committee,
                    seal.meeting_date,
                    seal.unit.as_ref().map_or("COUNCIL", |u| u.as_str()),
                    seal.period.to_string().replace(['/', ' '], "-")
                ),
            };
            let seal = CommitteeSeal {
                seal_id: Text::new("seal id", &seal_id)?,
                title: title.map(|t| Text::new("title", &t)).transpose()?,
                sealed_at: perfledger_ledger::Clock::now(&perfledger_ledger::SystemClock),
                seal,
            };
            let (seq, seal) = append_seal(&env, &rm, seal, None, Uuid::now_v7(), None).await?;
            integrity::checkpoint(&*env.log, PREFIX).await?;
            // The chain root at the sealed position: an anchor anyone can
            // keep with the printed papers and check with verify --anchor.
            let root = integrity::chain_root_at(&*env.log, seal.seal.seq).await?;
            format::seal(g.format, &seal, seq, &root)?;
        }
        Cmd::Seals { as_of: at } => {
            let rm = env.caught_up().await?;
            let at = rm.resolve(as_of(at.as_deref())?)?;
            let mut rows = Vec::new();
            for r in rm.seals(AsOf::Seq(at))? {
                let verdict = rm.verify_seal(&r.seal)?;
                rows.push((r, verdict));
            }
            format::seals(g.format, at, &rows)?;
        }
        Cmd::Verify { anchor } => {
            let anchor = anchor.as_deref().map(parse_anchor).transpose()?;
            return verify(&env, anchor).await;
        }
        Cmd::Checkpoint => {
            let c = integrity::checkpoint(&*env.log, PREFIX).await?;
            match (g.format, c) {
                (Format::Json, Some(c)) => out!(
                    "{}",
                    serde_json::json!({"checkpoint_seq": c.seq, "upto": c.upto, "root": hex::encode(c.root)})
                ),
                (Format::Json, None) => out!("{}", serde_json::json!({"checkpoint_seq": null})),
                (_, Some(c)) => out!(
                    "checkpoint at sequence {} covers 1..={} (root {})",
                    c.seq,
                    c.upto,
                    hex::encode(c.root)
                ),
                (_, None) => out!("nothing new since the last checkpoint"),
            }
        }
        Cmd::Rebuild => {
            let rm = env.readmodel()?;
            let head = env.log.head().await?;
            let pb = bar(head, "rebuilding");
            let seq = rm
                .rebuild(&*env.log, &mut |p| pb.set_position(p.applied))
                .await?;
            rm.flush()?;
            pb.finish_and_clear();
            out!("read model rebuilt up to sequence {seq}");
        }
        Cmd::Serve { addr, limits } => return serve(&env, &addr, limits).await,
        Cmd::Demo {
            addr,
            no_serve,
            sample,
            limits,
        } => {
            let sample = sample.unwrap_or_else(default_sample);
            if !sample.is_dir() {
                return Err(CliError::Usage(format!(
                    "sample directory {} not found (pass --sample <DIR>)",
                    sample.display()
                )));
            }
            out!(
                "perfledger demo: importing {} into {}",
                sample.display(),
                env.dir.display()
            );
            // The sample is history: loaded at its claimed times.
            import(&env, &[sample], true).await?;
            tour(&env.dir);
            if !no_serve {
                return serve(&env, &addr, limits).await;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn result_cmd(env: &Env, a: ResultArgs, restate: bool) -> Res<()> {
    let indicator = Text::new("indicator", &a.indicator)?;
    let period = period(&a.period)?;
    let entry = ResultEntry {
        result: parse::parse_result(&a.result)?,
        commentary: a
            .commentary
            .map(|c| Text::new("commentary", &c))
            .transpose()?,
        intervention: None,
        benchmarks: Vec::new(),
    };
    let cmd = if restate {
        let reason = a
            .reason
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| CliError::Usage("restate-result needs --reason".into()))?;
        Command::RestateResult {
            indicator,
            period,
            entry,
            reason: Text::new("reason", reason)?,
        }
    } else {
        Command::RecordResult {
            indicator,
            period,
            entry,
        }
    };
    env.write(cmd, a.reason.as_deref()).await
}

async fn target_cmd(env: &Env, a: TargetArgs, revise: bool) -> Res<()> {
    let indicator = Text::new("indicator", &a.indicator)?;
    let period = period(&a.period)?;
    let target = parse::parse_target(&a.target)?;
    let cmd = if revise {
        let reason = a
            .reason
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| CliError::Usage("revise-target needs --reason".into()))?;
        Command::ReviseTarget {
            indicator,
            period,
            target,
            reason: Text::new("reason", reason)?,
        }
    } else {
        Command::SetTarget {
            indicator,
            period,
            target,
        }
    };
    env.write(cmd, a.reason.as_deref()).await
}

/// The seal of what `committee` saw on `meeting`: checked (known unit and
/// committee, a meeting not before the period began) and pinned to the
/// position of the meeting's papers.
///
/// Without `--as-of` that position is the ledger as recorded before the
/// meeting day. If records made since then change the dashboard, sealing
/// is refused rather than pinning either today's figures (which committee
/// never saw) or the date's position silently (the papers may have been
/// produced from a later correction): the officer names the position.
fn seal_position(
    rm: &ReadModel,
    unit: Option<&str>,
    period: Period,
    committee: &str,
    meeting: Date,
    at: Option<&str>,
) -> Res<Seal> {
    let head = rm.checkpoint()?;
    let explicit = at.is_some();
    let position = match at {
        Some(a) => rm.resolve(as_of(Some(a))?)?,
        None => rm.resolve(AsOf::Time(meeting.start().0))?,
    };
    let seal = rm.seal_at(unit, period, committee, meeting, AsOf::Seq(position))?;
    if let Some(start) = period.start_date() {
        if meeting < start {
            return Err(CliError::Usage(format!(
                "meeting date {meeting} is before {period} began ({start}): a committee cannot have seen that dashboard then"
            )));
        }
    }
    if !explicit {
        if position == 0 {
            return Err(CliError::Usage(format!(
                "nothing was recorded before {meeting}: pass --as-of <sequence or time> naming the position the meeting's papers showed"
            )));
        }
        if position < head {
            let now = rm.dashboard(unit, period, AsOf::Seq(head))?;
            if now.digest != hex::encode(seal.digest) {
                return Err(CliError::Usage(format!(
                    "records made after {meeting} (sequences {}..={head}) change this dashboard, so today's figures are not what {} saw on {meeting}; \
pass --as-of naming the position the meeting's papers showed: --as-of {position} (the ledger as recorded before {meeting}) or a later sequence or time",
                    position + 1,
                    seal.committee
                )));
            }
        }
    }
    Ok(seal)
}

/// Append a seal command that pins the committee pack at the seal's
/// position (its canonical bytes, format byte, rules version, digest and
/// the chain root there; issue #13); `at` pins the recorded time (not
/// earlier than the head's).
async fn append_seal(
    env: &Env,
    rm: &ReadModel,
    seal: CommitteeSeal,
    at: Option<Timestamp>,
    command_id: Uuid,
    source: Option<(Text, Text)>,
) -> Res<(Seq, CommitteeSeal)> {
    let tenant = env.tenant()?;
    let (actor, source) = match source {
        Some(s) => s,
        None => (env.actor()?, Text::new("source", "perfledger-cli")?),
    };
    let env_cmd = CommandEnvelope {
        command_id,
        tenant,
        actor,
        source,
        correlation_id: command_id,
        causation_id: None,
        command: Command::SealCommitteePack {
            seal: seal.clone(),
            pack: pack_pin(env, rm, &seal.seal).await?,
        },
    };
    let sub = match at {
        Some(t) => {
            let head = env.head_time().await?.unwrap_or(t);
            Submitted::at(env_cmd, t.max(head))
        }
        None => Submitted::new(env_cmd),
    };
    let out = env.ledger.execute(sub).await?;
    Ok((out.seq, seal))
}

/// The pack a seal pins: built under the current rules at the seal's
/// position (its dashboard digest is the seal's by construction).
async fn pack_pin(env: &Env, rm: &ReadModel, seal: &Seal) -> Res<PackPin> {
    let rules = perfledger_readmodel::pack::Rules::builtin();
    let id = perfledger_readmodel::pack::RulesVersion::CURRENT.id();
    let unit = seal.unit.as_ref().map(|u| u.as_str());
    let record = rm
        .pack_seal_record(&rules, id, unit, seal.period, AsOf::Seq(seal.seq))?
        .ok_or_else(|| CliError::Usage(format!("rules version {id} unknown to this build")))?;
    Ok(PackPin {
        chain_root: integrity::chain_root_at(&*env.log, seal.seq).await?,
        format: record.format,
        rules: record.rules,
        digest: record.digest,
        bytes: record.bytes,
    })
}

async fn import(env: &Env, paths: &[PathBuf], backdated: bool) -> Res<()> {
    if let Some(p) = paths.iter().find(|p| !p.exists()) {
        return Err(CliError::Usage(format!(
            "{}: no such file or directory",
            p.display()
        )));
    }
    let actor = match &env.g.actor {
        Some(a) if !a.trim().is_empty() => Text::new("actor", a.trim())?,
        _ => Text::new("actor", "Performance Officer (import)")?,
    };
    let now = perfledger_ledger::Clock::now(&perfledger_ledger::SystemClock);
    let mut opts = ImportOptions::new(actor, now);
    opts.backdated = backdated;
    if let Some(t) = &env.g.tenant {
        opts.tenant = Some(Tenant::new(t)?);
    } else if let Ok(t) = env.tenant() {
        opts.tenant = Some(t);
    }
    let load = |opts: &ImportOptions| -> Result<ImportPlan, ImportErrors> {
        if paths.len() == 1 && paths[0].is_dir() {
            perfledger_import::load_dir(&paths[0], opts)
        } else {
            let mut files = Vec::new();
            for p in paths {
                if p.is_dir() {
                    if let Ok(rd) = std::fs::read_dir(p) {
                        let mut v: Vec<PathBuf> = rd
                            .flatten()
                            .map(|e| e.path())
                            .filter(|p| {
                                p.extension()
                                    .and_then(|x| x.to_str())
                                    .is_some_and(|x| x.eq_ignore_ascii_case("csv"))
                            })
                            .collect();
                        v.sort();
                        files.extend(v);
                    }
                } else {
                    files.push(p.clone());
                }
            }
            perfledger_import::load_files(&files, opts)
        }
    };
    // The data dir's tenant (from an earlier import) or --tenant must agree
    // with council.csv: one read model serves one council.
    let mut plan = load(&opts)?;
    let closed = env.closed_periods(&plan.tenant).await?;
    if !closed.is_empty() {
        opts.tenant = Some(plan.tenant.clone());
        opts.closed_periods = closed;
        plan = load(&opts)?;
    }
    tracing::info!(
        tenant = %plan.tenant,
        commands = plan.submissions.len(),
        seals = plan.seals.len(),
        warnings = plan.warnings.len(),
        "import validated"
    );
    std::fs::write(env.dir.join("tenant"), plan.tenant.as_str())?;
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    let total = plan.submissions.len() as u64;
    let pb = bar(total, "importing");
    let before = env.log.head().await?;
    let executed = match env
        .ledger
        .execute_batch(plan.submissions.clone(), |done, _| {
            pb.set_position(done as u64)
        })
        .await
    {
        Ok(x) => x,
        Err(e) => {
            pb.finish_and_clear();
            return Err(match plan.locate(&e) {
                Some(row) => CliError::Rows(format!(
                    "{row}\nnothing was imported (head sequence still {before})"
                )),
                None => e.into(),
            });
        }
    };
    pb.finish_and_clear();
    let mut appended: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for (s, x) in plan.submissions.iter().zip(&executed) {
        let e = appended.entry(s.command.command.name()).or_default();
        if x.duplicate || x.events.is_empty() {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }
    // Seals: the dashboard as of each seal's time, computed by the read model.
    let mut seal_rows = Vec::new();
    if !plan.seals.is_empty() {
        let rm = env.caught_up().await?;
        for req in &plan.seals {
            // Re-importing: a seal id already in the ledger is present (its
            // position as of sealed_at would now also cover the seal records
            // appended after it, so it is never re-derived and re-sent).
            match rm.find_entity(EntityKind::Seal, &req.seal_id, AsOf::Head) {
                Ok(_) => {
                    appended.entry("SealCommitteePack").or_default().1 += 1;
                    continue;
                }
                Err(ReadModelError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let view = rm.dashboard(
                req.unit.as_ref().map(|u| u.as_str()),
                req.period,
                AsOf::Time(req.sealed_at.0),
            )?;
            let seal = CommitteeSeal {
                seal_id: Text::new("seal id", &req.seal_id)
                    .map_err(|e| CliError::Rows(format!("{}: {e}", req.origin)))?,
                title: req.title.clone(),
                // The seal keeps its own time (the commit is recorded no
                // earlier than the head, to keep the log in time order).
                sealed_at: req.sealed_at,
                seal: Seal {
                    unit: req.unit.clone(),
                    period: req.period,
                    committee: req.committee.clone(),
                    meeting_date: req.meeting_date,
                    seq: view.as_of,
                    digest: perfledger_domain::dashboard::digest(&view.dashboard),
                },
            };
            let (seq, seal) = append_seal(
                env,
                &rm,
                seal,
                Some(req.sealed_at),
                req.command_id,
                Some((req.actor.clone(), req.source.clone())),
            )
            .await
            .map_err(|e| CliError::Rows(format!("{}: {e}", req.origin)))?;
            seal_rows.push((
                req.seal_id.clone(),
                seq,
                hex::encode(seal.seal.digest),
                view.as_of,
            ));
        }
    }
    let cp = integrity::checkpoint(&*env.log, PREFIX).await?;
    let head = env.log.head().await?;
    format::import_summary(
        env.g.format,
        &plan,
        &appended,
        &seal_rows,
        before,
        head,
        cp.map(|c| c.seq),
    )?;
    Ok(())
}

/// `verify` on a log that cannot be opened: the unreadable record is the
/// first bad sequence (exit 2, as for every problem `verify` finds).
fn unreadable_log(g: &Global, e: &LogError) -> ExitCode {
    let seq = match e {
        LogError::Corrupt { seq, .. } => Some(*seq).filter(|s| *s > 0),
        LogError::Gap { expected, .. } => Some(*expected),
        _ => None,
    };
    let problem = match seq {
        Some(seq) => format!("log record {seq}: unreadable: {e}"),
        None => format!("log unreadable: {e}"),
    };
    match g.format {
        Format::Json => out!(
            "{}",
            serde_json::json!({
                "ok": false,
                "records_checked": 0,
                "last_checkpoint": null,
                "uncovered_tail": null,
                "first_bad_seq": seq,
                "seals_checked": 0,
                "problems": [problem],
            })
        ),
        _ => out!("PROBLEM: {problem}"),
    }
    match seq {
        Some(seq) => eprintln!("error: verification failed at sequence {seq}: {e}"),
        None => eprintln!("error: verification failed: {e}"),
    }
    ExitCode::from(2)
}

/// `SEQ:ROOT` (ROOT = 64 hex digits of a chain root) as printed by `seal`
/// and `verify`.
fn parse_anchor(text: &str) -> Res<(Seq, integrity::Hash)> {
    let bad = |why: &str| {
        CliError::Usage(format!(
            "--anchor {:?}: {why}; expected SEQ:ROOT as printed by `perfledger seal` or `verify` (e.g. 541:9f86d0…, 64 hex digits)",
            text.chars().take(100).collect::<String>()
        ))
    };
    let (seq, root) = text.split_once(':').ok_or_else(|| bad("no ':'"))?;
    let seq: Seq = seq
        .parse()
        .map_err(|_| bad("the sequence is not a whole number"))?;
    if seq == 0 {
        return Err(bad("sequences start at 1"));
    }
    let mut hash = [0u8; 32];
    hex::decode_to_slice(root, &mut hash).map_err(|_| bad("the root is not 64 hex digits"))?;
    Ok((seq, hash))
}

async fn verify(env: &Env, anchor: Option<(Seq, integrity::Hash)>) -> Res<ExitCode> {
    let report = integrity::verify_with_anchor(&*env.log, anchor).await?;
    // The head's anchor, to keep outside the log (only for an intact chain).
    let head_anchor = if report.ok() {
        let head = env.log.head().await?;
        let root = integrity::chain_root_at(&*env.log, head).await?;
        Some(format!("{head}:{}", hex::encode(root)))
    } else {
        None
    };
    let mut problems: Vec<String> = Vec::new();
    if let Some((seq, p)) = &report.first_bad {
        problems.push(format!("log record {seq}: {p}"));
    }
    let mut seals_checked = 0;
    let mut seal_lines: Vec<serde_json::Value> = Vec::new();
    if report.ok() {
        // Command ids are used once: two stored commits with one id mean a
        // command was stored twice or an id was reused (issue #14 item 2).
        for r in perfledger_ledger::reused_command_ids(&*env.log).await? {
            problems.push(format!(
                "log record {}: command id {} reused (first stored at sequence {})",
                r.seq, r.command_id, r.first_seq
            ));
        }
        let rm = env.caught_up().await?;
        let rules = perfledger_readmodel::pack::Rules::builtin();
        for s in rm.seals(AsOf::Head)? {
            seals_checked += 1;
            if let Some(pin) = rm.seal_pack(s.seq, s.index)? {
                let (line, problem) = verify_pack_seal(env, &rm, &rules, &s, &pin).await?;
                problems.extend(problem);
                seal_lines.push(line);
            } else {
                seal_lines.push(serde_json::json!({
                    "seal": s.seal_id.clone().unwrap_or_else(|| format!("sequence {}", s.seq)),
                    "seq": s.seq,
                    "kind": "dashboard",
                    "rules": null,
                    "outcome": "dashboard digest checked",
                }));
            }
            let v = rm.verify_seal(&s.seal)?;
            if !v.matches {
                problems.push(format!(
                    "seal at sequence {} ({} {}): re-derived digest {} differs from sealed {}",
                    s.seq,
                    s.seal.unit.as_ref().map_or("council", |u| u.as_str()),
                    s.seal.period,
                    v.actual_digest,
                    v.expected_digest
                ));
            }
        }
    }
    let ok = problems.is_empty();
    match env.g.format {
        Format::Json => out!(
            "{}",
            serde_json::json!({
                "ok": ok,
                "records_checked": report.checked,
                "last_checkpoint": report.last_checkpoint.map(|c| c.upto),
                "uncovered_tail": report.uncovered_tail,
                "first_bad_seq": report.first_bad.as_ref().map(|b| b.0),
                "seals_checked": seals_checked,
                "seals": seal_lines,
                "anchor_checked": anchor.map(|(seq, _)| seq),
                "head_anchor": head_anchor,
                "problems": problems,
            })
        ),
        _ => {
            let coverage = match (report.last_checkpoint, report.ok()) {
                (Some(c), true) => format!(
                    "the last checkpoint (record {}) vouches for records 1..={}; {} records after it are not covered by a checkpoint yet",
                    c.seq, c.upto, report.uncovered_tail
                ),
                (Some(c), false) => format!(
                    "the last checkpoint that held before the problem (record {}) vouches for records 1..={}",
                    c.seq, c.upto
                ),
                (None, true) => format!(
                    "no checkpoint yet: none of the {} records is covered by one",
                    report.uncovered_tail
                ),
                (None, false) => "no checkpoint held before the problem".to_string(),
            };
            out!(
                "checked {} records; {coverage}; {} seals re-derived",
                report.checked,
                seals_checked
            );
            for l in &seal_lines {
                out!(
                    "seal {} (sequence {}): {}{}: {}",
                    l["seal"].as_str().unwrap_or("-"),
                    l["seq"],
                    l["kind"].as_str().unwrap_or("-"),
                    l["rules"]
                        .as_str()
                        .map_or(String::new(), |r| format!(", rules {r}")),
                    l["outcome"].as_str().unwrap_or("-")
                );
            }
            for p in &problems {
                out!("PROBLEM: {p}");
            }
            if let (Some((seq, _)), true) = (anchor, report.ok()) {
                out!("the log up to sequence {seq} hashes to the given anchor");
            }
            if let Some(a) = &head_anchor {
                out!(
                    "anchor of the head (keep it outside the log; check with verify --anchor): {a}"
                );
            }
            if ok {
                out!("OK: hash chain, checkpoints and seals verified");
            }
        }
    }
    if ok {
        Ok(ExitCode::SUCCESS)
    } else {
        if let Some((seq, p)) = &report.first_bad {
            eprintln!("error: verification failed at sequence {seq}: {p}");
        } else {
            eprintln!("error: verification failed: {}", problems[0]);
        }
        Ok(ExitCode::from(2))
    }
}

/// Verify one pack seal (issue #13): its outcome line for the report and,
/// unless it matches or cannot be derived by this build (content intact:
/// never tampering), the problem to report.
async fn verify_pack_seal(
    env: &Env,
    rm: &ReadModel,
    rules: &perfledger_readmodel::pack::Rules,
    s: &perfledger_readmodel::SealRecord,
    pin: &PackPin,
) -> Res<(serde_json::Value, Option<String>)> {
    use perfledger_readmodel::pack::{PackSealRecord, SealOutcome};
    let name = s
        .seal_id
        .clone()
        .unwrap_or_else(|| format!("sequence {}", s.seq));
    let outcome = rm.verify_pack_seal(&PackSealRecord::of(&s.seal, pin), rules)?;
    let root = integrity::chain_root_at(&*env.log, s.seal.seq).await?;
    let detail = match &outcome {
        SealOutcome::Matches => None,
        SealOutcome::ContentAltered { stored_digest } => Some(format!(
            "stored pack bytes hash to {stored_digest}, not the sealed digest {}",
            hex::encode(pin.digest)
        )),
        SealOutcome::DerivationUnavailable { reason } => Some(reason.clone()),
        SealOutcome::Differs { figures } => Some(figures.join("; ")),
    };
    let mut problem = match &outcome {
        SealOutcome::Matches | SealOutcome::DerivationUnavailable { .. } => None,
        _ => Some(format!(
            "seal {name} at sequence {}: {}: {}",
            s.seq,
            outcome.name(),
            detail.clone().unwrap_or_default()
        )),
    };
    if root != pin.chain_root {
        problem.get_or_insert(format!(
            "seal {name} at sequence {}: the chain root at sequence {} is {}, not the sealed {}",
            s.seq,
            s.seal.seq,
            hex::encode(root),
            hex::encode(pin.chain_root)
        ));
    }
    let line = serde_json::json!({
        "seal": name,
        "seq": s.seq,
        "kind": "pack",
        "rules": rules.name(pin.rules),
        "outcome": outcome.name(),
        "detail": detail,
    });
    Ok((line, problem))
}

async fn serve(env: &Env, addr: &str, limits: HttpLimits) -> Res<ExitCode> {
    let rm = env.caught_up().await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr()?;
    let title = match env.tenant() {
        Ok(t) => format!("perfledger: {t}"),
        Err(_) => "perfledger".to_string(),
    };
    let state = perfledger_web::WebState {
        readmodel: Arc::new(rm.clone()),
        title,
    };
    out!("serving http://{local}/ (Ctrl-C to stop)");
    let log = env.log.clone();
    let projector = Projector::new(&rm);
    let follow = async move { projector.follow(&*log, &mut |_| {}).await };
    tokio::select! {
        r = perfledger_web::serve_with_config(state, listener, limits.config(), std::future::pending()) => {
            r.map_err(|e| CliError::Usage(e.to_string()))?;
        }
        r = follow => {
            r?;
        }
        _ = tokio::signal::ctrl_c() => {
            eprintln!("stopping");
        }
    }
    rm.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn tour(dir: &Path) {
    let d = dir.display();
    out!(
        "
Try next (data dir {d}):
  perfledger --data-dir {d} dashboard --unit CG --period \"2016/17 Q1\"
  perfledger --data-dir {d} dashboard --unit CG --period \"2016/17 Q1\" --as-of 2016-08-26T12:00:00Z
  perfledger --data-dir {d} history CG/S26            # restated after the committee seal
  perfledger --data-dir {d} audit indicator CG/S3      # who restated what, when and why
  perfledger --data-dir {d} finance --unit CG --period \"2016/17 Q1\"
  perfledger --data-dir {d} risks --unit CG --heat-map --as-of 2013-11-08
  perfledger --data-dir {d} verify                     # hash chain, checkpoints and seals
"
    );
}
