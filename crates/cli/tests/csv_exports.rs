//! CSV exports a spreadsheet can use (issue #11, from #14 item 12): amounts
//! as plain numbers that sum, one percentage convention per column, totals
//! apart from the lines, commentary in history and source in audit; and
//! tables that never cut a title.

use std::path::Path;
use std::process::Command;

fn perfledger(dir: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_perfledger"))
        .arg("--data-dir")
        .arg(dir)
        .env_remove("PERFLEDGER_NATS_URL")
        .env_remove("PERFLEDGER_TENANT")
        .env_remove("PERFLEDGER_DATA")
        .args(args)
        .output()
        .expect("run perfledger");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

fn records(csv_text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let header = r
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = r
        .records()
        .map(|x| x.expect("a record").iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

#[test]
fn exports_sum_and_keep_commentary_and_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council");
    let sample = sample.to_str().expect("utf-8 path");
    perfledger(dir.path(), &["import", "--backdated", sample]);
    let csv = |args: &[&str]| perfledger(dir.path(), &[&["--format", "csv"], args].concat());

    // Finance: every amount a plain number; the lines sum to the total row.
    let (h, rows) = records(&csv(&["finance", "--unit", "CG", "--period", "2016/17 Q1"]));
    let (table, kind, budget, forecast, variation, percent) = (
        col(&h, "table"),
        col(&h, "kind"),
        col(&h, "budget"),
        col(&h, "forecast"),
        col(&h, "variation"),
        col(&h, "percent"),
    );
    let num = |s: &str| -> f64 {
        s.parse()
            .unwrap_or_else(|_| panic!("{s:?} is not a plain number"))
    };
    let mut seen_total = false;
    for r in &rows {
        for c in [budget, forecast] {
            num(&r[c]);
        }
        for c in [variation, percent] {
            if !r[c].is_empty() {
                num(&r[c]);
            }
        }
        match r[kind].as_str() {
            "total" => seen_total = true,
            "line" => assert!(!seen_total, "a line after the totals: {rows:?}"),
            other => panic!("kind {other:?}"),
        }
    }
    for t in ["revenue", "capital"] {
        let sum: f64 = rows
            .iter()
            .filter(|r| r[table] == t && r[kind] == "line")
            .map(|r| num(&r[budget]))
            .sum();
        let total = rows
            .iter()
            .find(|r| r[table] == t && r[kind] == "total")
            .expect("a total row");
        assert!(
            (sum - num(&total[budget])).abs() < 1e-6,
            "{t}: {sum} vs {total:?}"
        );
        assert!(sum != 0.0, "{t}: nothing summed");
    }
    // The sample's capital slippage (4,331) and -12% read as numbers.
    let capital_total = rows
        .iter()
        .find(|r| r[table] == "capital" && r[kind] == "total")
        .expect("capital total");
    assert_eq!(capital_total[variation], "-4331");
    assert_eq!(capital_total[percent], "-12");

    // History carries each period's commentary; audit the source.
    let (h, rows) = records(&csv(&["history", "CG/S24"]));
    let c = col(&h, "commentary");
    assert!(rows.iter().any(|r| !r[c].is_empty()), "{rows:?}");
    let (h, rows) = records(&csv(&["audit", "indicator", "CG/S24"]));
    let s = col(&h, "source");
    assert!(rows.iter().all(|r| !r[s].is_empty()), "{rows:?}");

    // Dashboard figures are plain numbers too.
    let (h, rows) = records(&csv(&[
        "dashboard",
        "--unit",
        "CG",
        "--period",
        "2016/17 Q1",
    ]));
    let (f, v) = (col(&h, "figure"), col(&h, "value"));
    let slip = rows
        .iter()
        .find(|r| r[f] == "capital.slippage")
        .expect("capital.slippage");
    assert_eq!(slip[v], "-4331");

    // Tables never cut a title (issue item: four rows read the same).
    let table = perfledger(dir.path(), &["indicators"]);
    let list = perfledger(dir.path(), &["--format", "json", "indicators"]);
    let list: serde_json::Value = serde_json::from_str(&list).expect("JSON");
    let long = list["indicators"]
        .as_array()
        .expect("indicators")
        .iter()
        .filter_map(|i| i["title"].as_str())
        .find(|t| t.chars().count() > 60)
        .expect("the sample has a title over 60 characters");
    assert!(table.contains(long), "{long:?} cut in:\n{table}");
    // The dashboard says its direction counts are long-term.
    let dash = perfledger(
        dir.path(),
        &["dashboard", "--unit", "CG", "--period", "2016/17 Q1"],
    );
    assert!(dash.contains("improved/same (long term)"), "{dash}");
}
