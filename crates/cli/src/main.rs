//! `perfledger`: the command-line tool of the performance ledger.
//!
//! Writes go through the ledger (validated in full before anything is
//! appended) and are followed by an integrity checkpoint; queries catch the
//! read model up with the log first. Output: human tables by default,
//! `--format json` (field names documented in `docs/cli.md`) or `--format csv`.
//!
//! Where things are: `args` (the arguments, one struct per subcommand),
//! `env` (an open data directory), `commands/` (one module per command
//! group), `format/` (printing, one module per view), `error`. The import
//! workflow and seal completion are the application layer's
//! (`perfledger_service`), callable by any front end. This file only
//! dispatches.

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

// jemalloc, configured as every perfledger binary's (`perfledger_alloc`).
use perfledger_alloc as _;

mod args;
mod changes;
mod commands;
mod env;
mod error;
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

use std::process::ExitCode;

use clap::Parser;
use perfledger_log::LogError;
use perfledger_service::ServiceError;

use crate::args::{Cli, Cmd};
use crate::commands::{import, maintain, query, seal, serve, verify, write};
// What `pack` and `changes` take from the crate root.
use crate::args::{as_of, period, Format};
use crate::env::Env;
use crate::error::{CliError, Res};

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

/// Run one command: open the data directory and dispatch.
async fn run(cli: Cli) -> Res<ExitCode> {
    let g = cli.global.clone();
    let demo = matches!(cli.command, Cmd::Demo(_));
    let dir = env::data_dir(&g, demo);
    if cli.command.reads_only() {
        // Bad arguments are reported as such, before any missing data.
        cli.command.check_read_args()?;
        env::require_data(&g, &dir)?;
    }
    let env = match Env::open(&g, dir).await {
        Ok(env) => env,
        // A log that cannot be read back (a record failing its CRC, a gap)
        // is what `verify` looks for: reported as its finding, exit 2.
        Err(CliError::Service(ServiceError::Log(
            e @ (LogError::Corrupt { .. } | LogError::Gap { .. }),
        ))) if matches!(cli.command, Cmd::Verify(_)) => {
            return Ok(verify::unreadable_log(&g, &e));
        }
        Err(e) => return Err(e),
    };
    match cli.command {
        Cmd::Import(a) => import::import(&env, &a.paths, a.backdated).await?,
        Cmd::Pack(a) => pack::run(&env, a).await?,
        Cmd::Changes(a) => changes::run(&env, a).await?,
        Cmd::RecordResult(a) => write::result(&env, a, false).await?,
        Cmd::RestateResult(a) => write::result(&env, a, true).await?,
        Cmd::SetTarget(a) => write::target(&env, a, false).await?,
        Cmd::ReviseTarget(a) => write::target(&env, a, true).await?,
        Cmd::AssessRisk(a) => write::assess_risk(&env, a).await?,
        Cmd::SubmitForecast(a) => write::submit_forecast(&env, a).await?,
        Cmd::ReportAction(a) => write::report_action(&env, a).await?,
        Cmd::ClosePeriod(a) => write::close_period(&env, a).await?,
        Cmd::Dashboard(a) => query::dashboard(&env, a).await?,
        Cmd::Indicators(a) => query::indicators(&env, a).await?,
        Cmd::History(a) => query::history(&env, a).await?,
        Cmd::Audit(a) => query::audit(&env, a).await?,
        Cmd::Risks(a) => query::risks(&env, a).await?,
        Cmd::Finance(a) => query::finance(&env, a).await?,
        Cmd::Seal(a) => seal::seal(&env, a).await?,
        Cmd::Seals(a) => seal::seals(&env, a).await?,
        Cmd::Verify(a) => {
            let anchor = a.anchor.as_deref().map(verify::parse_anchor).transpose()?;
            return verify::verify(&env, anchor).await;
        }
        Cmd::Checkpoint => maintain::checkpoint(&env).await?,
        Cmd::Rebuild => maintain::rebuild(&env).await?,
        Cmd::Serve(a) => return serve::serve(&env, &a.addr, a.limits).await,
        Cmd::Demo(a) => return serve::demo(&env, a).await,
    }
    Ok(ExitCode::SUCCESS)
}
