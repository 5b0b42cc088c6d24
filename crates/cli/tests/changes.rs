//! Issue #13 item 7, driven through the real `perfledger` binary on the
//! sample council (a backdated import): `changes --seal ID` lists every row
//! of the sealed pack that differs now, with the events that changed it and
//! the summary counts it moved.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council")
}

/// Run perfledger on a data directory with a clean environment.
fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_perfledger"))
        .current_dir(dir)
        .env_remove("PERFLEDGER_NATS_URL")
        .env_remove("PERFLEDGER_TENANT")
        .env_remove("PERFLEDGER_ACTOR")
        .env_remove("PERFLEDGER_DATA")
        .env_remove("RUST_LOG")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("run perfledger")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    assert!(
        o.status.success(),
        "perfledger {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn imported() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(
        dir.path(),
        &["import", "--backdated", sample().to_str().unwrap()],
    );
    dir
}

const SEAL: &str = "PCMC-2016-09-06-CG-Q1";
const REASON: &str = "Re highways cases closed late in June re-validated";

#[test]
fn changes_since_the_pcmc_seal_list_cg_s26_with_actor_reason_and_counts() {
    let dir = imported();
    let d = dir.path();

    let table = ok(d, &["changes", "--seal", SEAL]);
    assert!(table.contains("indicator CG/S26"), "{table}");
    assert!(table.contains("result.text: 89% → 90%"), "{table}");
    assert!(table.contains("rag: GreenAmber → Green"), "{table}");
    assert!(
        table.contains("#542 2016-10-14T10:00:00Z by Performance Officer, Commissioning Group"),
        "{table}"
    );
    assert!(table.contains(REASON), "{table}");
    assert!(
        table.contains("indicators.Green 8 → 9: moved by CG/S26"),
        "{table}"
    );
    assert!(
        table.contains("indicators.GreenAmber 12 → 11: moved by CG/S26"),
        "{table}"
    );
    // Deterministic: the same log prints the same bytes.
    assert_eq!(table, ok(d, &["changes", "--seal", SEAL]));

    let v: Value =
        serde_json::from_str(&ok(d, &["changes", "--seal", SEAL, "--format", "json"])).unwrap();
    assert_eq!(v["seal_id"], SEAL);
    assert_eq!(v["sealed_as_of"], 541);
    let rows = v["rows"].as_array().unwrap();
    // One indicator row moved; every section is diffed, so the rows it
    // moves elsewhere (the dashboard's digest, the SPI overview, its
    // off-target comment) are listed after it.
    let keys: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["section"].as_str().unwrap(), r["key"].as_str().unwrap()))
        .collect();
    assert_eq!(
        keys,
        [
            ("indicator", "CG/S26"),
            ("dashboard", "CG"),
            ("overview", "SPI"),
            ("off-target", "CG/S26")
        ],
        "{v:#}"
    );
    assert_eq!(rows[0]["key"], "CG/S26");
    let restated = rows[0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "ResultRestated")
        .expect("the restatement");
    assert_eq!(restated["seq"], 542);
    assert_eq!(
        restated["actor"],
        "Performance Officer, Commissioning Group"
    );
    assert!(restated["reason"].as_str().unwrap().contains(REASON));
    assert_eq!(restated["before"], "89%");
    assert_eq!(restated["after"], "90%");
    let green = v["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["count"] == "indicators.Green")
        .expect("the Green count");
    assert_eq!(
        (green["before"].as_u64(), green["after"].as_u64()),
        (Some(8), Some(9))
    );
    assert_eq!(green["moved_by"][0], "CG/S26");
    // The overview by indicator type moves with it (CG/S26 is an SPI).
    let spi = v["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["count"] == "overview.Spi.Green")
        .expect("the SPI Green count");
    assert_eq!(
        (spi["before"].as_u64(), spi["after"].as_u64()),
        (Some(3), Some(4))
    );

    let csv = ok(d, &["changes", "--seal", SEAL, "--format", "csv"]);
    assert!(
        csv.starts_with("section,key,field,before,after,events\n"),
        "{csv}"
    );
    assert!(
        csv.contains("indicator,CG/S26,result.text,89%,90%,"),
        "{csv}"
    );
    assert!(
        csv.contains("count,indicators.Green,,8,9,moved by CG/S26"),
        "{csv}"
    );

    // As of the seal's own position nothing has changed.
    let none = ok(d, &["changes", "--seal", SEAL, "--as-of", "541"]);
    assert!(
        none.contains("no figure of the sealed pack has changed"),
        "{none}"
    );
}

#[test]
fn changes_for_an_unknown_seal_is_an_error_naming_it() {
    let dir = imported();
    let o = run(dir.path(), &["changes", "--seal", "NO-SUCH-SEAL"]);
    assert!(!o.status.success());
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("NO-SUCH-SEAL"), "{err}");
}

#[test]
fn a_risk_rescored_after_the_seal_is_listed_with_the_escalated_count_it_moved() {
    let dir = imported();
    let d = dir.path();
    ok(
        d,
        &[
            "--actor",
            "Risk Officer",
            "assess-risk",
            "--risk",
            "ST0068",
            "--period",
            "2016/17 Q1",
            "--impact",
            "4",
            "--probability",
            "4",
            "--reason",
            "capacity reviewed",
        ],
    );
    let table = ok(d, &["changes", "--seal", SEAL]);
    assert!(table.contains("risk ST0068\n"), "{table}");
    assert!(table.contains("  current_score: 12 → 16\n"), "{table}");
    assert!(table.contains("by Risk Officer"), "{table}");
    assert!(table.contains("because capacity reviewed"), "{table}");
    assert!(
        table.contains("risks.escalated 3 → 4: moved by ST0068"),
        "{table}"
    );
}

/// A row's events' sequences, by (section, key), from `changes --format json`.
fn row_events(v: &Value, section: &str, key: &str) -> Vec<u64> {
    let row = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["section"] == section && r["key"] == key)
        .unwrap_or_else(|| panic!("no {section} row {key} in {v:#}"));
    row["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

/// The recorded sequence perfledger prints for a write.
fn recorded_at(out: &str) -> u64 {
    out.trim()
        .rsplit(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no sequence in {out:?}"))
}

/// Every section of the pack is diffed (issue #13 item 7): an HR and a
/// customer-experience measure restated, a risk rescored out of its heat
/// map cells, and the council-wide pack's per-unit overview, each with the
/// events that changed it.
#[test]
fn changes_diff_measures_heat_maps_off_target_and_the_unit_overview() {
    let dir = imported();
    let d = dir.path();
    let write = |args: &[&str]| {
        let mut all = vec!["--actor", "Performance Officer"];
        all.extend_from_slice(args);
        recorded_at(&ok(d, &all))
    };
    let q1 = "2016/17 Q1";
    let hr = "No. of agency staff – Commissioning Group";
    let cx = "FOIs responded to on time";
    let hr_seq = write(&[
        "restate-result",
        "--indicator",
        hr,
        "--period",
        q1,
        "--result",
        "7",
        "--reason",
        "payroll re-run",
    ]);
    let cx_seq = write(&[
        "restate-result",
        "--indicator",
        cx,
        "--period",
        q1,
        "--result",
        "90%",
        "--reason",
        "late log",
    ]);
    let risk_seq = write(&[
        "assess-risk",
        "--risk",
        "ST0070",
        "--period",
        q1,
        "--impact",
        "2",
        "--probability",
        "2",
        "--reason",
        "mitigation in place",
    ]);
    // A council-wide seal of the same quarter as of the PCMC papers.
    ok(
        d,
        &[
            "--actor",
            "Governance Officer",
            "seal",
            "--period",
            q1,
            "--committee",
            "PR",
            "--date",
            "2016-09-06",
            "--as-of",
            "541",
            "--id",
            "PR-TEST-COUNCIL-Q1",
        ],
    );

    let v: Value =
        serde_json::from_str(&ok(d, &["changes", "--seal", SEAL, "--format", "json"])).unwrap();
    let hr_key = format!("CG-WORKFORCE / {hr}");
    assert!(
        row_events(&v, "measure", &hr_key).contains(&hr_seq),
        "{v:#}"
    );
    assert!(row_events(&v, "measure", &format!("CG-CX / {cx}")).contains(&cx_seq));
    assert!(row_events(&v, "risk", "ST0070").contains(&risk_seq));
    // ST0070 left current cell I5 P3 (and target I5 P2) for current I2 P2.
    for cell in ["current I5 P3", "current I2 P2", "target I5 P2"] {
        assert!(
            row_events(&v, "heat-map", cell).contains(&risk_seq),
            "{cell}"
        );
    }
    // CG/S26 left the off-target comments at its restatement (542).
    assert!(row_events(&v, "off-target", "CG/S26").contains(&542));
    assert!(row_events(&v, "dashboard", "CG").contains(&risk_seq));

    let table = ok(d, &["changes", "--seal", SEAL]);
    assert!(
        table.contains(&format!(
            "measure CG-WORKFORCE / {hr}\n  result.text: 47 → 7\n"
        )),
        "{table}"
    );
    assert!(
        table.contains("heat-map current I2 P2\n  count: 0 → 1\n"),
        "{table}"
    );
    assert!(table.contains("off-target CG/S26\n  row: present → —\n"));
    let csv = ok(d, &["changes", "--seal", SEAL, "--format", "csv"]);
    assert!(csv.contains("heat-map,current I5 P3,count,2,1,"), "{csv}");

    let council: Value = serde_json::from_str(&ok(
        d,
        &[
            "changes",
            "--seal",
            "PR-TEST-COUNCIL-Q1",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    assert!(
        row_events(&council, "unit", "CG").contains(&542),
        "{council:#}"
    );
}
