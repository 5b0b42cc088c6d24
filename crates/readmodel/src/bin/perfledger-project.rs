//! Project an embedded log into a read model (used by the crash test and
//! by hand): `perfledger-project <log dir> <readmodel dir> [--rebuild]
//! [--batch N] [--tenant T]` (N records per atomic batch; T the read
//! model's tenant, by default the test generator's).
//!
//! Prints `progress <checkpoint> <applied> <total>` after every committed
//! batch and `done <checkpoint> <content digest>` at the end (stdout, one
//! line each, flushed).

use std::io::Write;
use std::process::ExitCode;

use perfledger_log::EmbeddedLog;
use perfledger_readmodel::{Projector, ReadModel};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(log_dir), Some(rm_dir)) = (args.first(), args.get(1)) else {
        eprintln!("usage: perfledger-project <log dir> <readmodel dir> [--rebuild]");
        return ExitCode::from(2);
    };
    let rebuild = args.iter().any(|a| a == "--rebuild");
    let batch = args
        .iter()
        .position(|a| a == "--batch")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(perfledger_readmodel::BATCH_RECORDS);
    let tenant = args
        .iter()
        .position(|a| a == "--tenant")
        .and_then(|i| args.get(i + 1))
        .map_or(perfledger_readmodel::testgen::TENANT, |t| t.as_str());
    let tenant = match perfledger_domain::Tenant::new(tenant) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("perfledger-project: --tenant: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        let log = EmbeddedLog::open(log_dir)
            .await
            .map_err(|e| e.to_string())?;
        let rm = ReadModel::open(rm_dir, &tenant).map_err(|e| e.to_string())?;
        let mut out = std::io::stdout();
        let mut progress = |p: perfledger_readmodel::Progress| {
            let _ = writeln!(out, "progress {} {} {}", p.checkpoint, p.applied, p.total);
            let _ = out.flush();
        };
        if rebuild {
            rm.clear().map_err(|e| e.to_string())?;
        }
        let cp = Projector::new(&rm)
            .with_batch_records(batch)
            .catch_up(&log, &mut progress)
            .await
            .map_err(|e| e.to_string())?;
        let digest = rm.content_digest().map_err(|e| e.to_string())?;
        println!("done {cp} {digest}");
        Ok::<(), String>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("perfledger-project: {e}");
            ExitCode::FAILURE
        }
    }
}
