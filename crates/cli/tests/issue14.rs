//! Issue #14 items 4 and 6, driven through the real `perfledger` binary on
//! the embedded log: unknown names are errors, absent data says so,
//! carried-forward figures say where they come from, reads never create a
//! data directory; seals are checked, found and listed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_perfledger")
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council")
}

/// Run perfledger in `cwd` with a clean environment.
fn run_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(cwd)
        .env_remove("PERFLEDGER_NATS_URL")
        .env_remove("PERFLEDGER_TENANT")
        .env_remove("PERFLEDGER_ACTOR")
        .env_remove("PERFLEDGER_DATA")
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .expect("run perfledger")
}

/// A data directory with the sample council imported.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn imported() -> Site {
        let site = Site {
            dir: tempfile::tempdir().unwrap(),
        };
        let sample = sample();
        site.ok(&["import", "--backdated", sample.to_str().unwrap()]);
        site
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut a = vec!["--data-dir", self.dir.path().to_str().unwrap()];
        a.extend_from_slice(args);
        run_in(self.dir.path(), &a)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "perfledger {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// A failing run: its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            !o.status.success(),
            "perfledger {args:?} succeeded: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(o.stdout.is_empty(), "{args:?} printed {:?}", o.stdout);
        String::from_utf8(o.stderr).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        let out = self.ok(&a);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
    }
}

/// Item 6: a typo'd unit is an error everywhere, never a confident zero.
#[test]
fn an_unknown_unit_is_an_error_not_a_zero_dashboard() {
    let site = Site::imported();
    for args in [
        &["dashboard", "--unit", "XX", "--period", "2016/17 Q1"][..],
        &["finance", "--unit", "XX", "--period", "2016/17 Q1"],
        &["risks", "--unit", "XX"],
        &["indicators", "--unit", "XX"],
    ] {
        let err = site.fails(args);
        assert!(err.contains("no unit named \"XX\""), "{args:?}: {err}");
    }
    // The real unit, in any case, still answers.
    let d = site.json(&["dashboard", "--unit", "cg", "--period", "2016/17 Q1"]);
    assert!(d["digest"].is_string());
}

/// Item 6: a known unit in a period nothing was reported for says "no data"
/// rather than printing zeros as if they were figures.
#[test]
fn a_dashboard_without_data_says_so() {
    let site = Site::imported();
    let empty = ["dashboard", "--unit", "CG", "--period", "2030/31 Q1"];
    let table = site.ok(&empty);
    assert!(
        table.contains("no data: nothing reported for CG in 2030/31 Q1 as of sequence"),
        "{table}"
    );
    assert_eq!(site.json(&empty)["no_data"], Value::Bool(true));
    let real = ["dashboard", "--unit", "CG", "--period", "2016/17 Q1"];
    assert!(!site.ok(&real).contains("no data"));
    assert_eq!(site.json(&real)["no_data"], Value::Bool(false));
}

/// Item 6: a read in a directory without data says so and creates nothing
/// (the `--help` example run in a fresh directory, and a typo'd --data-dir).
#[test]
fn reads_never_create_a_data_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let o = run_in(
        cwd.path(),
        &["dashboard", "--unit", "CG", "--period", "2016/17 Q1"],
    );
    assert!(!o.status.success());
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "no perfledger data at ./perfledger-data; run `perfledger import` or pass --data-dir"
        ),
        "{err}"
    );
    assert!(!cwd.path().join("perfledger-data").exists());
    let typo = cwd.path().join("perfledger-dtaa");
    for args in [
        &["finance", "--period", "2016/17 Q1"][..],
        &["risks"],
        &["indicators"],
        &["history", "CG/S24"],
        &["audit", "indicator", "CG/S24"],
    ] {
        let mut a = vec!["--data-dir", typo.to_str().unwrap()];
        a.extend_from_slice(args);
        let o = run_in(cwd.path(), &a);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("no perfledger data at"),
            "{args:?}"
        );
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
}

/// Item 6: a period with no finance figures says "no data"; figures carried
/// forward from an earlier quarter say which.
#[test]
fn finance_says_no_data_and_labels_carried_forward_forecasts() {
    let site = Site::imported();
    let table = site.ok(&["finance", "--period", "2017/18 Q1"]);
    assert!(table.contains("no data"), "{table}");
    assert!(!table.contains("Total"), "{table}");
    let j = site.json(&["finance", "--period", "2017/18 Q1"]);
    assert_eq!(j["no_data"], true);
    // 2016/17 Q2 has no forecasts of its own: Q1's are shown, labelled.
    let j = site.json(&["finance", "--unit", "CG", "--period", "2016/17 Q2"]);
    assert_eq!(j["no_data"], false);
    assert_eq!(j["carried_forward"], serde_json::json!(["2016/17 Q1"]));
    let fin = j["revenue"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["line"] == "Finance")
        .unwrap();
    assert_eq!(fin["forecast"], 478);
    assert_eq!(fin["forecast_as_at"], "2016/17 Q1");
    let table = site.ok(&["finance", "--unit", "CG", "--period", "2016/17 Q2"]);
    assert!(table.contains("forecast as at 2016/17 Q1"), "{table}");
    // The period's own forecasts carry no label.
    let table = site.ok(&["finance", "--unit", "CG", "--period", "2016/17 Q1"]);
    assert!(!table.contains("as at"), "{table}");
}

/// Item 4: a seal names a known unit and committee, a meeting not before
/// the period, and is pinned to the position of the meeting's papers.
#[test]
fn seals_refuse_unknown_names_and_seal_as_of_the_meeting() {
    let site = Site::imported();
    let head = |site: &Site| site.json(&["seals"])["as_of"].as_u64().unwrap();
    let before = head(&site);
    let seal = |args: &[&str]| {
        let mut a = vec!["--actor", "Governance Officer", "seal"];
        a.extend_from_slice(args);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let refused = |args: &[&str], want: &str| {
        let a = seal(args);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let err = site.fails(&a);
        assert!(err.contains(want), "{args:?}: {err}");
    };
    // The issue's own example: every name unknown, a meeting before the period.
    refused(
        &[
            "--unit",
            "XX",
            "--period",
            "2031/32 Q1",
            "--committee",
            "NOPE",
            "--date",
            "2024-12-01",
        ],
        "no unit named \"XX\"",
    );
    refused(
        &[
            "--unit",
            "CG",
            "--period",
            "2016/17 Q1",
            "--committee",
            "NOPE",
            "--date",
            "2016-09-06",
        ],
        "no committee named \"NOPE\"",
    );
    refused(
        &[
            "--unit",
            "CG",
            "--period",
            "2016/17 Q1",
            "--committee",
            "PCMC",
            "--date",
            "2016-03-01",
        ],
        "before 2016/17 Q1 began",
    );
    // The README's old example: today's dashboard is not what committee saw
    // in 2016 (later restatements change it), so nothing is sealed without
    // --as-of; the refusal names the position of the meeting date.
    refused(
        &[
            "--unit",
            "CG",
            "--period",
            "2016/17 Q1",
            "--committee",
            "PR",
            "--date",
            "2016-09-06",
        ],
        "records made after 2016-09-06",
    );
    assert_eq!(head(&site), before, "a refused seal appends nothing");
    // With the position of the papers it is sealed there, and it matches
    // the imported PCMC seal of the same dashboard.
    let a = seal(&[
        "--unit",
        "CG",
        "--period",
        "2016/17 Q1",
        "--committee",
        "PR",
        "--date",
        "2016-09-06",
        "--as-of",
        "2016-09-06",
        "--format",
        "json",
    ]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let sealed: Value = serde_json::from_str(&site.ok(&a)).unwrap();
    let seals = site.json(&["seals"]);
    let list = seals["seals"].as_array().unwrap();
    let pcmc = list
        .iter()
        .find(|s| s["committee"] == "PCMC" && s["meeting_date"] == "2016-09-06")
        .expect("the imported PCMC seal is listed");
    assert_eq!(sealed["dashboard_as_of"], pcmc["dashboard_as_of"]);
    assert_eq!(sealed["digest"], pcmc["digest"]);
    assert!(
        list.iter().all(|s| s["verdict"]["matches"] == true),
        "{seals:#}"
    );
}

/// Item 4: imported seals keep their id, report title and own time; they
/// are listed and found by id; a CLI seal gets an id too.
#[test]
fn seals_have_ids_titles_and_their_own_time_and_are_found_by_id() {
    let site = Site::imported();
    let seals = site.json(&["seals"]);
    let pcmc = seals["seals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["seal_id"] == "PCMC-2016-09-06-CG-Q1")
        .unwrap_or_else(|| panic!("no PCMC seal by id: {seals:#}"));
    assert_eq!(pcmc["title"], "Commissioning Group – Q1 2016/17");
    // Its own sealed_at (seals.csv), not the import batch's latest time.
    assert_eq!(pcmc["sealed_at"], "2016-08-26T12:00:00Z");
    assert_eq!(pcmc["committee"], "PCMC");
    assert_eq!(pcmc["meeting_date"], "2016-09-06");
    let trail = site.json(&["audit", "seal", "PCMC-2016-09-06-CG-Q1"]);
    let entries = trail["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{trail:#}");
    assert_eq!(entries[0]["after"], pcmc["digest"]);
    // A seal made here gets an id (given or derived) and is found by it.
    site.ok(&[
        "--actor",
        "Governance Officer",
        "seal",
        "--unit",
        "CG",
        "--period",
        "2016/17 Q1",
        "--committee",
        "PR",
        "--date",
        "2016-09-06",
        "--as-of",
        "2016-09-06",
        "--title",
        "Q1 performance",
    ]);
    let trail = site.json(&["audit", "seal", "PR-2016-09-06-CG-2016-17-Q1"]);
    assert_eq!(trail["entries"].as_array().unwrap().len(), 1);
    // The same id again is refused and appends nothing.
    let err = site.fails(&[
        "--actor",
        "Governance Officer",
        "seal",
        "--unit",
        "CG",
        "--period",
        "2016/17 Q1",
        "--committee",
        "PR",
        "--date",
        "2016-09-06",
        "--as-of",
        "2016-09-06",
    ]);
    assert!(err.contains("PR-2016-09-06-CG-2016-17-Q1"), "{err}");
}
