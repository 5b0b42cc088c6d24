//! Argument definitions of `perfledger` (clap derive) and the parsing of
//! the argument values every command shares: periods and `--as-of`.
//!
//! The doc comments of the argument structs are clap's `--help` text, so
//! they say what to type; one struct per subcommand, named after it. The
//! `--as-of` grammar: a log sequence (`120`) or a time (`2016-08-26`,
//! `2016-08-26T12:00:00Z`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use perfledger_domain::Period;
use perfledger_readmodel::AsOf;

use crate::error::{CliError, Res};

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
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Data directory: embedded log in <DIR>/log, read model in <DIR>/readmodel
    /// [default: ./perfledger-data; `demo`: ./perfledger-demo]
    #[arg(long, global = true, env = "PERFLEDGER_DATA")]
    pub data_dir: Option<PathBuf>,
    /// NATS server URL (JetStream log); without it the embedded log is used
    #[arg(long, global = true, env = "PERFLEDGER_NATS_URL")]
    pub nats: Option<String>,
    /// Tenant (council) id [default: the tenant recorded by the last import
    /// in the data directory]
    #[arg(long, global = true, env = "PERFLEDGER_TENANT")]
    pub tenant: Option<String>,
    /// The read model's page cache in MB (sled's bound; the process holds
    /// more than this: see README, "Memory at 10M events")
    #[arg(long, global = true, env = "PERFLEDGER_CACHE_MB",
          default_value_t = perfledger_readmodel::CACHE_BYTES >> 20,
          value_parser = clap::value_parser!(u64).range(8..=65_536))]
    pub cache_mb: u64,
    /// Who is acting: a job title (required for writes)
    #[arg(long, global = true, env = "PERFLEDGER_ACTOR")]
    pub actor: Option<String>,
    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
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
pub enum Cmd {
    /// Import CSV files (a directory, or files named <kind>.csv); all or nothing
    Import(ImportArgs),
    /// Record a result for an indicator and period
    RecordResult(ResultArgs),
    /// Restate a result (a reason is required)
    RestateResult(ResultArgs),
    /// Set a target for an indicator and period
    SetTarget(TargetArgs),
    /// Revise a target (a reason is required)
    ReviseTarget(TargetArgs),
    /// Assess (rescore) a risk for a quarter
    AssessRisk(RiskArgs),
    /// Submit a revenue or capital forecast for a line and quarter (£000)
    SubmitForecast(ForecastArgs),
    /// Report a key action's status for a quarter
    ReportAction(ActionArgs),
    /// Close a period (data collection complete; later changes need reasons)
    ClosePeriod(ClosePeriodArgs),
    /// A unit's (or the council's) dashboard for a quarter
    Dashboard(DashboardArgs),
    /// List indicators (key, title, unit, type)
    Indicators(IndicatorsArgs),
    /// An indicator's targets, results, ratings and directions by period
    History(HistoryArgs),
    /// The audit trail of an entity: who, when, why, before and after
    Audit(AuditArgs),
    /// The risk register, optionally with the 5x5 heat map
    Risks(RisksArgs),
    /// Revenue, capital and savings for a unit and period
    Finance(FinanceArgs),
    /// Seal the dashboard a committee saw at a meeting
    ///
    /// The dashboard is sealed as of the meeting's papers: the ledger as
    /// recorded before the meeting day, or the position given by --as-of.
    /// When records made after the meeting date change the dashboard and no
    /// --as-of is given, nothing is sealed: say which position the papers
    /// showed. Unknown units and committees, and meetings before the period
    /// began, are refused.
    Seal(SealArgs),
    /// List the seals in the log, each re-derived (matches or differs)
    Seals(SealsArgs),
    /// The committee pack (HTML, PDF, JSON or CSV by --out's extension)
    Pack(crate::pack::PackArgs),
    /// What changed in a sealed pack since its seal, with the events and actors
    Changes(crate::changes::ChangesArgs),
    /// Verify the log (hash chain, checkpoints) and re-derive every seal
    Verify(VerifyArgs),
    /// Append an integrity checkpoint
    Checkpoint,
    /// Rebuild the read model from the log (beside the live one, swapped in when complete)
    Rebuild,
    /// Serve the HTML dashboards and JSON API
    Serve(ServeArgs),
    /// Import the sample council into ./perfledger-demo and serve it
    Demo(DemoArgs),
}

impl Cmd {
    /// Commands that only read: they never create a data directory.
    pub fn reads_only(&self) -> bool {
        matches!(
            self,
            Cmd::Dashboard(_)
                | Cmd::Indicators(_)
                | Cmd::History(_)
                | Cmd::Audit(_)
                | Cmd::Risks(_)
                | Cmd::Finance(_)
                | Cmd::Seals(_)
                | Cmd::Serve(_)
        )
    }

    /// Parse a read command's period and `--as-of` arguments (the command
    /// parses them again when it runs; this only reports them first).
    pub fn check_read_args(&self) -> Res<()> {
        let (p, at) = match self {
            Cmd::Dashboard(a) => (Some(a.period.as_str()), &a.as_of),
            Cmd::Finance(a) => (a.period.as_deref().or(a.year.as_deref()), &a.as_of),
            Cmd::Indicators(IndicatorsArgs { as_of, .. })
            | Cmd::History(HistoryArgs { as_of, .. })
            | Cmd::Audit(AuditArgs { as_of, .. })
            | Cmd::Risks(RisksArgs { as_of, .. })
            | Cmd::Seals(SealsArgs { as_of }) => (None, as_of),
            _ => return Ok(()),
        };
        if let Some(p) = p {
            period(p)?;
        }
        as_of(at.as_deref())?;
        Ok(())
    }
}

/// Limits of the HTTP server (`serve`, `demo`).
#[derive(Debug, Clone, Copy, Args)]
pub struct HttpLimits {
    /// Seconds a client has to send a complete request head (also how long
    /// an idle keep-alive connection stays open); slower connections are closed
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Most HTTP connections open at once; more are answered 503 and closed
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_connections: u64,
}

impl HttpLimits {
    pub fn config(self) -> perfledger_web::ServeConfig {
        perfledger_web::ServeConfig {
            header_timeout: std::time::Duration::from_secs(self.header_timeout),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ForecastKind {
    Revenue,
    Capital,
}

#[derive(Debug, Args)]
pub struct ResultArgs {
    /// Indicator reference (or title)
    #[arg(long)]
    pub indicator: String,
    /// Period, e.g. "2016/17 Q1"
    #[arg(long)]
    pub period: String,
    /// Printed result: 82% (A), 1,385/1,599, 8.35 days, Not available
    #[arg(long, allow_hyphen_values = true)]
    pub result: String,
    /// Commentary
    #[arg(long)]
    pub commentary: Option<String>,
    /// Why (required to restate, and for a closed period)
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Indicator reference (or title)
    #[arg(long)]
    pub indicator: String,
    /// Period: a year (2016/17) or a quarter
    #[arg(long)]
    pub period: String,
    /// Printed target: 90%, <£1m, Remain at or above 85%, Monitor
    #[arg(long, allow_hyphen_values = true)]
    pub target: String,
    /// Why (required to revise, and for a closed period)
    #[arg(long)]
    pub reason: Option<String>,
}

// `Import`'s arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Directories and/or files
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// A historical load: every row claims its recorded time
    /// (`recorded_at`, `closed_at`) and is marked as migrated. Allowed
    /// only where it keeps the log's time order. Without it rows carry
    /// no recorded time and are recorded now.
    #[arg(long)]
    pub backdated: bool,
}

// `AssessRisk`'s arguments.
#[derive(Debug, Args)]
pub struct RiskArgs {
    /// Risk id, e.g. ST0072
    #[arg(long)]
    pub risk: String,
    /// Quarter, e.g. "2013/14 Q3"
    #[arg(long)]
    pub period: String,
    /// Current impact, e.g. "Major 4" or 4
    #[arg(long)]
    pub impact: String,
    /// Current probability, e.g. "Unlikely 2" or 2
    #[arg(long)]
    pub probability: String,
    /// Target impact
    #[arg(long, requires = "target_probability")]
    pub target_impact: Option<String>,
    /// Target probability
    #[arg(long, requires = "target_impact")]
    pub target_probability: Option<String>,
    /// Comment (controls, why rescored)
    #[arg(long)]
    pub comment: Option<String>,
    /// Reason (required when the quarter is closed)
    #[arg(long)]
    pub reason: Option<String>,
}

// `SubmitForecast`'s arguments.
#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// revenue or capital
    #[arg(value_enum)]
    pub kind: ForecastKind,
    /// Unit code
    #[arg(long)]
    pub unit: String,
    /// Line name as defined
    #[arg(long)]
    pub line: String,
    /// Quarter
    #[arg(long)]
    pub period: String,
    /// Forecast, printed form: 30,837 or (4,331)
    #[arg(long, allow_hyphen_values = true)]
    pub forecast: String,
    /// Capital: additions/(deletions)
    #[arg(long, default_value = "0", allow_hyphen_values = true)]
    pub additions: String,
    /// Capital: (slippage)/accelerated
    #[arg(long, default_value = "0", allow_hyphen_values = true)]
    pub slippage: String,
    /// Comment
    #[arg(long)]
    pub comment: Option<String>,
    /// Reason (required when the quarter is closed)
    #[arg(long)]
    pub reason: Option<String>,
}

// `ReportAction`'s arguments.
#[derive(Debug, Args)]
pub struct ActionArgs {
    /// Unit code
    #[arg(long)]
    pub unit: String,
    /// Action reference, e.g. CG15
    #[arg(long)]
    pub action: String,
    /// Quarter
    #[arg(long)]
    pub period: String,
    /// Green, Green Amber, Red Amber, Red, Not Rated
    #[arg(long)]
    pub status: String,
    /// Comment
    #[arg(long)]
    pub comment: Option<String>,
    /// Reason (required when the quarter is closed)
    #[arg(long)]
    pub reason: Option<String>,
}

// `ClosePeriod`'s arguments.
#[derive(Debug, Args)]
pub struct ClosePeriodArgs {
    /// Period, e.g. "2016/17 Q1"
    #[arg(long)]
    pub period: String,
}

// `Dashboard`'s arguments.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Unit code; council-wide when omitted
    #[arg(long)]
    pub unit: Option<String>,
    /// Period, e.g. "2016/17 Q1"
    #[arg(long)]
    pub period: String,
    /// Log sequence, or RFC 3339 time / date (ledger as recorded then)
    #[arg(long)]
    pub as_of: Option<String>,
}

// `Indicators`'s arguments.
#[derive(Debug, Args)]
pub struct IndicatorsArgs {
    /// Unit code; all units when omitted
    #[arg(long)]
    pub unit: Option<String>,
    /// Log sequence or time
    #[arg(long)]
    pub as_of: Option<String>,
}

// `History`'s arguments.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Indicator reference, or title when it has none
    pub indicator: String,
    /// Log sequence or time
    #[arg(long)]
    pub as_of: Option<String>,
}

// `Audit`'s arguments.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// indicator, action, risk, revenue-line, capital-line, saving, scheme, calendar, unit, seal
    pub kind: String,
    /// Natural key (indicator ref or title; risk id; action "UNIT/REF"...)
    pub key: String,
    /// Log sequence or time
    #[arg(long)]
    pub as_of: Option<String>,
}

// `Risks`'s arguments.
#[derive(Debug, Args)]
pub struct RisksArgs {
    /// Unit code; council-wide when omitted
    #[arg(long)]
    pub unit: Option<String>,
    /// Show the heat map (current position)
    #[arg(long)]
    pub heat_map: bool,
    /// Log sequence or time
    #[arg(long)]
    pub as_of: Option<String>,
}

// `Finance`'s arguments.
#[derive(Debug, Args)]
pub struct FinanceArgs {
    /// Unit code; council-wide when omitted
    #[arg(long)]
    pub unit: Option<String>,
    /// Quarter
    #[arg(long, conflicts_with = "year")]
    pub period: Option<String>,
    /// Financial year (savings plans), e.g. 2020/21
    #[arg(long)]
    pub year: Option<String>,
    /// Log sequence or time
    #[arg(long)]
    pub as_of: Option<String>,
}

// `Seal`'s arguments.
#[derive(Debug, Args)]
pub struct SealArgs {
    /// Unit code; council-wide when omitted
    #[arg(long)]
    pub unit: Option<String>,
    /// Period
    #[arg(long)]
    pub period: String,
    /// Committee code (as defined in committees.csv, e.g. PCMC)
    #[arg(long)]
    pub committee: String,
    /// Meeting date (YYYY-MM-DD)
    #[arg(long)]
    pub date: String,
    /// Position the meeting's papers were produced from: a log sequence
    /// or a time [default: the ledger as recorded before the meeting day]
    #[arg(long)]
    pub as_of: Option<String>,
    /// Seal id (how `audit seal <ID>` finds it) [default:
    /// COMMITTEE-DATE-UNIT-PERIOD, e.g. PR-2016-09-06-CG-2016-17-Q1]
    #[arg(long)]
    pub id: Option<String>,
    /// Title of the report committee received
    #[arg(long)]
    pub title: Option<String>,
}

// `Seals`'s arguments.
#[derive(Debug, Args)]
pub struct SealsArgs {
    /// Log sequence or time
    #[arg(long)]
    pub as_of: Option<String>,
}

// `Verify`'s arguments.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Also check that the log up to SEQ hashes to ROOT (64 hex), an
    /// anchor kept outside the log: printed by `seal`, by `verify` for
    /// the head, and in pack footers. Plain verification cannot detect
    /// a log rewritten with a recomputed chain and checkpoints; an
    /// anchor can.
    #[arg(long, value_name = "SEQ:ROOT")]
    pub anchor: Option<String>,
}

// `Serve`'s arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    #[command(flatten)]
    pub limits: HttpLimits,
}

// `Demo`'s arguments.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Import and print the tour, do not serve
    #[arg(long)]
    pub no_serve: bool,
    #[command(flatten)]
    pub limits: HttpLimits,
    /// Sample directory [default: data/sample-council of the source tree]
    #[arg(long)]
    pub sample: Option<PathBuf>,
}

/// A period argument (`2016/17 Q1`, `2016/17`).
pub fn period(v: &str) -> Res<Period> {
    Ok(Period::parse(v)?)
}

/// An `--as-of` argument: absent = the head; otherwise the as-of grammar
/// ([`AsOf::parse`]: a log sequence, `head`, a date or an RFC 3339 time).
pub fn as_of(v: Option<&str>) -> Res<AsOf> {
    match v {
        None => Ok(AsOf::Head),
        Some(s) => AsOf::parse(s).map_err(|_| {
            CliError::Usage(format!(
                "--as-of {s:?}: expected a log sequence (e.g. 120) or a time (2016-08-26 or 2016-08-26T12:00:00Z)"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    fn cache_mb(args: &[&str]) -> u64 {
        let argv = std::iter::once("perfledger").chain(args.iter().copied());
        Cli::try_parse_from(argv)
            .expect("valid arguments")
            .global
            .cache_mb
    }

    /// Every command, a query service and a rebuild alike, gets the read
    /// model's default page cache unless the option says otherwise.
    #[test]
    fn the_page_cache_defaults_to_the_read_models_and_is_overridden_by_the_option() {
        let default = perfledger_readmodel::CACHE_BYTES >> 20;
        assert_eq!(cache_mb(&["serve"]), default);
        assert_eq!(cache_mb(&["rebuild"]), default);
        assert_eq!(cache_mb(&["--cache-mb", "64", "serve"]), 64);
        assert_eq!(cache_mb(&["rebuild", "--cache-mb", "512"]), 512);
        let too_small = Cli::try_parse_from(["perfledger", "--cache-mb", "4", "serve"]);
        assert!(too_small.is_err());
    }

    /// The help states the default the commands use (it once said 96 MB
    /// after the default had become 64).
    #[test]
    fn the_help_states_the_page_caches_real_default() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        let default = format!("[default: {}]", perfledger_readmodel::CACHE_BYTES >> 20);
        let option = help
            .split("--cache-mb")
            .nth(1)
            .and_then(|rest| rest.split("--actor").next())
            .expect("the help lists --cache-mb before --actor");
        assert!(option.contains(&default), "{option}");
    }
}
