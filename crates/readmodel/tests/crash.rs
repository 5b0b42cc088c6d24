//! Crash test: SIGKILL the projector process at pseudo-random points (fixed
//! seed) during catch-up of a 100k+ event embedded log, at least 20 times;
//! after each restart it resumes from its checkpoint, and at the end the
//! read model is byte-identical (content digest over every key and value)
//! to a clean rebuild, and so are the dashboards' digests.
//!
//! The projector process is this test binary run again with only the
//! [`projector_process`] test selected and its arguments in [`CHILD_ARGS`]
//! (test-only code stays out of the production crate; no binary is built
//! for it). It prints `progress <checkpoint> <applied> <total>` after every
//! committed batch and `done <checkpoint> <content digest>` at the end, one
//! flushed line each; the harness's own lines are ignored.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use perfledger_domain::period::{FinancialYear, Period};
use perfledger_log::{EmbeddedLog, EventLog};
use perfledger_readmodel::{AsOf, Projector, ReadModel};
use perfledger_testkit::council::{to_commit, unit_name, Generator, Rng, Shape, TENANT};

/// Environment variable carrying the projector process's arguments,
/// tab-separated: log dir, read-model dir, batch records, `rebuild` or not.
const CHILD_ARGS: &str = "PERFLEDGER_CRASH_PROJECTOR";
const BATCH: &str = "3000";

/// The projector process (a no-op unless started by [`spawn`]): catch up
/// the read model with the embedded log, reporting progress on stdout.
#[test]
fn projector_process() {
    let Ok(args) = std::env::var(CHILD_ARGS) else {
        return;
    };
    let args: Vec<&str> = args.split('\t').collect();
    let [log_dir, rm_dir, batch, rebuild] = args[..] else {
        panic!("{CHILD_ARGS}: expected 4 tab-separated fields, got {args:?}");
    };
    let batch: usize = batch.parse().expect("batch records");
    let tenant = perfledger_domain::Tenant::new(TENANT).expect("tenant");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let log = EmbeddedLog::open(log_dir).await.expect("open log");
        let rm = ReadModel::open(rm_dir, &tenant).expect("open read model");
        let mut out = std::io::stdout();
        let mut progress = |p: perfledger_readmodel::Progress| {
            let _ = writeln!(out, "progress {} {} {}", p.checkpoint, p.applied, p.total);
            let _ = out.flush();
        };
        if rebuild == "rebuild" {
            rm.clear().expect("clear");
        }
        let cp = Projector::new(&rm)
            .with_batch_records(batch)
            .catch_up(&log, &mut progress)
            .await
            .expect("catch up");
        let digest = rm.content_digest().expect("content digest");
        println!("done {cp} {digest}");
    });
}

fn shape() -> Shape {
    Shape {
        units: 8,
        indicators: 800,
        actions: 200,
        risks: 100,
        revenue_lines: 100,
        capital_lines: 30,
        savings: 30,
        first_year: 2013,
        years: 10,
        monthly_per_mille: 300,
        restate_per_mille: 120,
        monthly_reports: false,
    }
}

async fn write_log(dir: &Path) -> (u64, u64) {
    let log = EmbeddedLog::open(dir).await.expect("open log");
    let mut gen = Generator::new(shape(), 2024);
    let mut chunk = Vec::new();
    for events in gen.by_ref() {
        chunk.push(to_commit(&events).expect("commit"));
        if chunk.len() == 5000 {
            log.append_batch(std::mem::take(&mut chunk))
                .await
                .expect("append");
        }
    }
    if !chunk.is_empty() {
        log.append_batch(chunk).await.expect("append");
    }
    (log.head().await.expect("head"), gen.events_produced())
}

/// Start the projector process (see the module docs); `rebuild` clears the
/// read model first.
fn spawn(log: &Path, rm: &Path, rebuild: bool) -> Child {
    let args = [
        log.to_str().expect("utf-8 path"),
        rm.to_str().expect("utf-8 path"),
        BATCH,
        if rebuild { "rebuild" } else { "resume" },
    ]
    .join("\t");
    Command::new(std::env::current_exe().expect("test binary"))
        .args(["projector_process", "--exact", "--nocapture", "-q"])
        .args(["--test-threads", "1"])
        .env(CHILD_ARGS, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the projector process")
}

/// Parse `progress <checkpoint> <applied> <total>`.
fn progress(line: &str) -> Option<(u64, u64, u64)> {
    let mut it = line.strip_prefix("progress ")?.split(' ');
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}

fn run_to_end(log: &Path, rm: &Path, rebuild: bool) -> (u64, String) {
    let mut child = spawn(log, rm, rebuild);
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut done = None;
    for line in out.lines() {
        let line = line.expect("line");
        if let Some(rest) = line.strip_prefix("done ") {
            let (cp, digest) = rest.split_once(' ').expect("done line");
            done = Some((cp.parse().expect("cp"), digest.to_string()));
        }
    }
    assert!(child.wait().expect("wait").success());
    done.expect("done line")
}

#[test]
fn sigkill_during_catch_up_then_resume_equals_clean_rebuild() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log_dir = tmp.path().join("log");
    let rm_dir = tmp.path().join("rm");
    let clean_dir = tmp.path().join("clean");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (head, events) = rt.block_on(write_log(&log_dir));
    assert!(events >= 100_000, "only {events} events");

    let mut rng = Rng::new(0xC0FFEE);
    let mut kills = 0;
    let mut resumed_from_nonzero = 0;
    let mut runs = 0;
    while kills < 24 {
        runs += 1;
        assert!(runs < 400, "projector never got through");
        let mut child = spawn(&log_dir, &rm_dir, false);
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        // Kill after a pseudo-random number of committed batches (0 = at the
        // first progress report, before any batch of this run).
        let after = rng.below(6);
        let mut seen = 0u64;
        let mut killed = false;
        let mut finished = false;
        for line in out.lines() {
            let line = line.expect("line");
            if let Some((cp, applied, _total)) = progress(&line) {
                if applied == 0 && cp > 0 {
                    resumed_from_nonzero += 1;
                }
                if seen >= after {
                    child.kill().expect("SIGKILL");
                    killed = true;
                    break;
                }
                seen += 1;
            } else if line.starts_with("done ") {
                finished = true;
            }
        }
        let status = child.wait().expect("wait");
        if killed {
            kills += 1;
            assert!(!status.success() || finished);
        } else {
            // It completed before the chosen point: start over from zero so
            // that every kill lands during a catch-up.
            assert!(status.success() && finished);
            std::fs::remove_dir_all(&rm_dir).expect("reset read model");
        }
    }
    eprintln!(
        "crash test: {head} records ({events} events), {kills} SIGKILLs in {runs} runs, \
         {resumed_from_nonzero} runs resumed from a non-zero checkpoint"
    );
    assert!(resumed_from_nonzero > 0, "no run resumed from a checkpoint");

    let (cp, digest) = run_to_end(&log_dir, &rm_dir, false);
    assert_eq!(cp, head);
    let (clean_cp, clean_digest) = run_to_end(&log_dir, &clean_dir, true);
    assert_eq!(clean_cp, head);
    assert_eq!(
        digest, clean_digest,
        "resumed read model differs from a clean rebuild"
    );

    let a = ReadModel::open(&rm_dir, &perfledger_domain::Tenant::new(TENANT).unwrap())
        .expect("open resumed");
    let b = ReadModel::open(&clean_dir, &perfledger_domain::Tenant::new(TENANT).unwrap())
        .expect("open clean");
    for q in 1..=4 {
        let p = Period::Quarter(FinancialYear(2018), q);
        for unit in [None, Some(unit_name(0)), Some(unit_name(7))] {
            for at in [AsOf::Head, AsOf::Seq(head / 2)] {
                let da = a.dashboard(unit.as_deref(), p, at).expect("dashboard");
                let db = b.dashboard(unit.as_deref(), p, at).expect("dashboard");
                assert_eq!(da.digest, db.digest);
            }
        }
    }
    let d = a
        .dashboard(None, Period::Quarter(FinancialYear(2018), 2), AsOf::Head)
        .expect("dashboard");
    assert!(d.dashboard.indicators.reported > 100);
}
