//! `serve` and `demo`: the HTML dashboards and JSON API over the read
//! model, followed live from the log; the demo imports the sample council
//! (as history, at its claimed times) and prints a tour first.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use perfledger_readmodel::Projector;

use crate::args::{DemoArgs, HttpLimits};
use crate::commands::import::import;
use crate::env::Env;
use crate::error::{CliError, Res};

/// `demo`: import the sample, print the tour, then serve (unless
/// `--no-serve`).
pub async fn demo(env: &Env, a: DemoArgs) -> Res<ExitCode> {
    let DemoArgs {
        addr,
        no_serve,
        limits,
        sample,
    } = a;
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
    import(env, &[sample], true).await?;
    tour(&env.dir);
    if !no_serve {
        return serve(env, &addr, limits).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the sample council lives in the source tree.
fn default_sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council")
}

/// `serve`: until Ctrl-C, or until following the log fails.
pub async fn serve(env: &Env, addr: &str, limits: HttpLimits) -> Res<ExitCode> {
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
