//! End-to-end tests that drive the real `perfledger` binary: import the
//! sample council, compare the printed figures of the seed reports
//! (data/sample-council/expected.json) with `--format json` output, the
//! restatement / as-of / seal / verify tour, tampering, and bad CSV files.
//! Each flow runs on the embedded log and on a real nats-server.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_perfledger")
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council")
}

/// A data directory and, optionally, a NATS URL.
struct Site {
    dir: tempfile::TempDir,
    nats: Option<String>,
}

impl Site {
    fn embedded() -> Self {
        Site {
            dir: tempfile::tempdir().unwrap(),
            nats: None,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(bin());
        c.arg("--data-dir").arg(self.dir.path());
        c.env_remove("PERFLEDGER_NATS_URL")
            .env_remove("PERFLEDGER_TENANT")
            .env_remove("PERFLEDGER_ACTOR")
            .env_remove("PERFLEDGER_DATA")
            .env_remove("RUST_LOG");
        if let Some(u) = &self.nats {
            c.arg("--nats").arg(u);
        }
        c.args(args);
        c.output().expect("run perfledger")
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

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        let out = self.ok(&a);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
    }

    fn head(&self) -> u64 {
        self.json(&["verify"])["records_checked"].as_u64().unwrap()
    }
}

fn expected() -> Value {
    let text = std::fs::read_to_string(sample().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `sealed_at` of the seal of a unit and period in seals.csv.
fn seal_time(unit: &str, period: &str) -> String {
    let text = std::fs::read_to_string(sample().join("seals.csv")).unwrap();
    let mut rdr = csv_lines(&text);
    let header = rdr.remove(0);
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    rdr.iter()
        .find(|r| r[col("unit")] == unit && r[col("period")] == period)
        .map(|r| r[col("sealed_at")].clone())
        .unwrap_or_else(|| panic!("no seal for {unit} {period}"))
}

/// Tiny RFC 4180 reader (the test must not share the importer's code).
fn csv_lines(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut q = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (q, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => q = false,
            (true, c) => cell.push(c),
            (false, '"') => q = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

/// A printed figure (`(4,331)`, `-50.7%`, `(12%)`) or a JSON number
/// (`-4331`, `-50.7`) as one comparable number (the views carry numbers,
/// issue #11 from #14 item 12).
fn figure(printed: &str) -> String {
    let t = printed.trim().replace([',', '%'], "");
    let t = match t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        Some(inner) => format!("-{inner}"),
        None => t,
    };
    t.parse::<f64>().map_or(t, |x| format!("{x}"))
}

/// A count with its percentage, as the reports print it: `19 (58%)`
/// (`count_first`) or `46% (12)`.
fn share(v: &Value, count_first: bool) -> String {
    let pct = v["percent"]
        .as_i64()
        .map_or("-".to_string(), |p| format!("{p}%"));
    if count_first {
        format!("{} ({pct})", v["count"])
    } else {
        format!("{pct} ({})", v["count"])
    }
}

/// A risk assessment as printed: `Medium High 9`.
fn assessment(v: &Value) -> String {
    if v.is_null() {
        return "null".into();
    }
    format!("{} {}", s(&v["band"]), v["score"])
}

fn s(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn history_row<'a>(h: &'a Value, period: &str) -> &'a Value {
    h["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["period"] == period)
        .unwrap_or_else(|| panic!("no row {period} in {}", h["indicator"]))
}

/// Compare every check of expected.json the sample can reproduce; returns
/// (checks compared, failures).
fn compare_expected(site: &Site) -> (usize, Vec<String>) {
    let exp = expected();
    let mut done = 0;
    let mut fails = Vec::new();
    let mut check = |id: &str, what: &str, want: String, got: String| {
        if want != got {
            fails.push(format!("{id}: {what}: expected {want}, got {got}"));
        }
    };
    for c in exp["checks"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let kind = c["kind"].as_str().unwrap();
        let unit = c["unit"].as_str().unwrap_or("");
        let period = c["period"].as_str().unwrap_or("");
        let subject = c["subject"].as_str().unwrap_or("");
        let e = &c["expected"];
        if e.is_null() {
            continue;
        }
        match kind {
            "revenue_line" | "revenue_total" => {
                let f = site.json(&["finance", "--unit", unit, "--period", period]);
                let row = if kind == "revenue_total" {
                    f["revenue_total"].clone()
                } else {
                    match f["revenue"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|r| r["line"] == subject)
                    {
                        Some(r) => r.clone(),
                        None => Value::Null,
                    }
                };
                for (k, v) in e.as_object().unwrap() {
                    let field = if k == "pct_of_revised" {
                        "variation_percent"
                    } else {
                        k.as_str()
                    };
                    check(id, k, figure(&s(v)), figure(&s(&row[field])));
                }
            }
            "capital_line" => {
                let f = site.json(&["finance", "--unit", unit, "--period", period]);
                let row = f["capital"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["line"] == subject)
                    .cloned()
                    .unwrap_or(Value::Null);
                for (k, v) in e.as_object().unwrap() {
                    if k == "pct_slippage" {
                        check(id, k, figure(&s(v)), figure(&s(&row["slippage_percent"])));
                    } else {
                        check(id, k, figure(&s(v)), figure(&s(&row[k.as_str()])));
                    }
                }
            }
            "savings_achieved" => {
                let f = site.json(&["finance", "--unit", unit, "--period", period]);
                let row = f["savings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["reference"] == subject)
                    .cloned()
                    .unwrap_or(Value::Null);
                check(
                    id,
                    "achieved",
                    figure(&s(&e["achieved"])),
                    figure(&s(&row["achieved"])),
                );
                check(
                    id,
                    "pct",
                    figure(&s(&e["pct"])),
                    figure(&s(&row["achieved_percent"])),
                );
            }
            "savings_total" => {
                let f = site.json(&["finance", "--year", period]);
                check(
                    id,
                    "amount",
                    figure(s(&e["amount"]).trim_matches(|c| c == '(' || c == ')')),
                    figure(&s(&f["savings_target"])),
                );
            }
            "action_counts" => {
                let d = site.json(&["dashboard", "--unit", unit, "--period", period]);
                for (k, v) in e.as_object().unwrap() {
                    if k == "total" {
                        check(id, k, s(v), s(&d["actions"]["total"]));
                    } else {
                        check(
                            id,
                            k,
                            s(v),
                            share(&d["actions"]["by_status"][k.as_str()], true),
                        );
                    }
                }
            }
            "indicator_counts_derived" => {
                let at = c["as_of"].as_str().unwrap_or("latest");
                let mut args = vec!["dashboard", "--unit", unit, "--period", period];
                if at != "latest" {
                    args.extend(["--as-of", at]);
                }
                let d = site.json(&args);
                let ind = &d["indicators"];
                for (k, v) in e.as_object().unwrap() {
                    let got = match k.as_str() {
                        "Green" | "Green Amber" | "Red Amber" | "Red" => {
                            share(&ind["counts"][k.as_str()], false)
                        }
                        "rated" => s(&ind["rated"]),
                        "not rated" => s(&ind["not_rated"]),
                        "Improved/Same" => share(&ind["long_term_improved_or_same"], false),
                        "Worsened" => share(&ind["long_term_worsened"], false),
                        "with DoT" => s(&ind["long_term_with_direction"]),
                        "indicator rows" => s(&ind["reported"]),
                        _ => continue,
                    };
                    check(id, k, s(v).trim_matches('"').to_string(), got);
                }
                let by_type = if e.get("by type").is_some() {
                    &e["by type"]
                } else {
                    e
                };
                for (k, v) in by_type.as_object().unwrap() {
                    let Some((t, rag)) = k.split_once('|') else {
                        continue;
                    };
                    let b = &d["indicators_by_type"][t];
                    let got = if rag == "Not rated" {
                        s(&b["not_rated"])
                    } else {
                        s(&b["counts"][rag]["count"])
                    };
                    check(id, k, s(v), got);
                }
            }
            "indicator_row" => {
                let mut args = vec!["history", subject];
                if let Some(at) = c["as_of"].as_str() {
                    args.extend(["--as-of", at]);
                }
                let h = site.json(&args);
                let row = history_row(&h, period);
                let rag = if row["rag"].is_null() {
                    "Not rated".to_string()
                } else {
                    s(&row["rag"])
                };
                check(id, "rating", s(&e["rating"]), rag);
                let dir = |v: &Value| {
                    if v.is_null() {
                        "none".to_string()
                    } else {
                        s(v)
                    }
                };
                if e.get("dot_short").is_some() {
                    check(
                        id,
                        "dot_short",
                        s(&e["dot_short"]),
                        dir(&row["direction_short"]),
                    );
                    check(
                        id,
                        "dot_long",
                        s(&e["dot_long"]),
                        dir(&row["direction_long"]),
                    );
                }
                if let Some(d) = e.get("dot") {
                    let word = s(d).split(',').next().unwrap().to_string();
                    check(id, "dot", word, dir(&row["direction_long"]));
                }
            }
            "risk_score" => {
                let at = seal_time(unit, period);
                let r = site.json(&["risks", "--unit", unit, "--as-of", &at]);
                let row = r["risks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|x| x["risk_id"] == subject)
                    .cloned()
                    .unwrap_or(Value::Null);
                check(id, "period", period.to_string(), s(&row["period"]));
                check(id, "current", s(&e["current"]), assessment(&row["current"]));
                check(id, "target", s(&e["target"]), assessment(&row["target"]));
                check(
                    id,
                    "escalated",
                    s(&e["escalate_to_PR"]),
                    s(&row["escalated"]),
                );
            }
            "heat_map" => {
                let at = seal_time(unit, period);
                let r = site.json(&["risks", "--unit", unit, "--as-of", &at]);
                check(id, "heat map", e.to_string(), r["heat_map"].to_string());
            }
            "printed_rating" => {
                let h = site.json(&["history", subject]);
                let row = history_row(&h, period);
                let carried = s(&e["carried_rating"]);
                let result = s(&row["result"]);
                check(
                    id,
                    "carried",
                    format!("({carried})"),
                    result
                        .split_whitespace()
                        .find(|w| w.starts_with('('))
                        .unwrap_or("")
                        .to_string(),
                );
                if c["status"] == "printed-differs-from-scheme" {
                    // The printed rating is carried as given (never silently
                    // replaced): the view shows it.
                    let name = match carried.as_str() {
                        "G" => "Green",
                        "A" => "Amber",
                        "R" => "Red",
                        "GA" => "Green Amber",
                        _ => "Red Amber",
                    };
                    check(id, "shown", name.to_string(), s(&row["rag"]));
                } else {
                    let computed = s(&e["computed_BARNET-3L"]);
                    let computed = computed.split(" (").next().unwrap().to_string();
                    check(id, "computed", computed, s(&row["rag"]));
                }
            }
            "indicator_value" if id.starts_with("cx-") => {
                let h = site.json(&["history", subject]);
                let row = history_row(&h, period);
                let r = s(&row["result"]);
                let (n, d) = r.split_once('/').unwrap();
                let (n, d): (i64, i64) = (
                    n.replace(',', "").parse().unwrap(),
                    d.replace(',', "").parse().unwrap(),
                );
                let pct = (200 * n + d) / (2 * d); // half up, whole percent
                check(id, "value", s(&e["value"]), format!("{pct}%"));
            }
            "breakdown" => {
                // Percentage points of each breakdown against the overall
                // result of the same survey indicator and period.
                let titles = [
                    ("35 to 44", "Residents who agree that people from different backgrounds get on well together in Barnet", "Age: 35 to 44"),
                    ("55 to 64", "Residents who agree that people from different backgrounds get on well together in Barnet", "Age: 55 to 64"),
                    ("LLTI (get on well)", "Residents who agree that people from different backgrounds get on well together in Barnet", "Disability: limiting long-term illness or disability"),
                    ("LLTI (doesn't do enough)", "Residents who feel the council doesn't do enough for people like me", "Disability: limiting long-term illness or disability"),
                ];
                let pct = |t: &str| -> i64 {
                    let h = site.json(&["history", t]);
                    let r = s(&history_row(&h, period)["result"]);
                    r.split('%').next().unwrap().parse().unwrap()
                };
                for (k, v) in e.as_object().unwrap() {
                    let Some((_, title, b)) = titles.iter().find(|x| x.0 == k) else {
                        check(id, k, s(v), "no mapping".into());
                        continue;
                    };
                    let diff = pct(&format!("{title} [{b}]")) - pct(title);
                    check(id, k, s(v), format!("{diff:+}"));
                }
            }
            "indicator_value" if id.starts_with("hr-") => {
                // HR figures are carried as recorded: the results of the
                // dashboard-section units' indicators for the period.
                for (who, unit) in [("CG", "CG-WORKFORCE"), ("Overall", "COUNCIL-WORKFORCE")] {
                    let list = site.json(&["indicators", "--unit", unit]);
                    let mut got: Vec<String> = Vec::new();
                    for i in list["indicators"].as_array().unwrap() {
                        let h = site.json(&["history", i["key"].as_str().unwrap()]);
                        if let Some(r) = h["rows"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|r| r["period"] == period)
                        {
                            got.push(s(&r["result"]));
                        }
                    }
                    // Same figure: the read model prints counts without grouping.
                    let mut want: Vec<String> = e[who]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| s(v).replace(',', ""))
                        .collect();
                    got.sort();
                    want.sort();
                    check(id, who, want.join(" | "), got.join(" | "));
                }
            }
            "as_of_result" => {
                for (k, v) in e.as_object().unwrap() {
                    let at = if k == "latest" {
                        None
                    } else if let Some(d) = k.strip_prefix("as_of seal ") {
                        Some(seal_on(d))
                    } else if let Some(d) = k.strip_prefix("as_of ") {
                        Some(d.to_string())
                    } else {
                        continue;
                    };
                    let mut args = vec!["history", subject];
                    if let Some(a) = &at {
                        args.extend(["--as-of", a.as_str()]);
                    }
                    let h = site.json(&args);
                    let row = history_row(&h, period);
                    let want = s(v);
                    let (value, rag) = match want.split_once(" (") {
                        Some((a, b)) => (a.to_string(), Some(b.trim_end_matches(')').to_string())),
                        None => (want.clone(), None),
                    };
                    check(id, k, value, s(&row["result"]));
                    if let Some(rag) = rag {
                        check(id, &format!("{k} rating"), rag, s(&row["rag"]));
                    }
                }
                if let Some(hist) = e.get("history") {
                    let h = site.json(&["history", subject]);
                    let entries: Vec<String> = h["audit"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|a| a["period"] == period && a["field"] == "result")
                        .map(|a| {
                            let ev = if s(&a["event"]).contains("Restated") {
                                "restate"
                            } else {
                                "record"
                            };
                            format!("{ev} {} {}", &s(&a["recorded_at"])[..10], s(&a["after"]))
                        })
                        .collect();
                    check(
                        id,
                        "history",
                        hist.as_array()
                            .unwrap()
                            .iter()
                            .map(s)
                            .collect::<Vec<_>>()
                            .join("; "),
                        entries.join("; "),
                    );
                }
            }
            "as_of_target" => {
                for (k, v) in e.as_object().unwrap() {
                    let mut args = vec!["history", subject];
                    let at;
                    if let Some(d) = k.strip_prefix("as_of seal ") {
                        at = seal_on(d);
                        args.extend(["--as-of", at.as_str()]);
                    }
                    let h = site.json(&args);
                    check(id, k, s(v), s(&history_row(&h, period)["target"]));
                }
            }
            "as_of_risk" => {
                for (p, v) in e.as_object().unwrap() {
                    let at = if p == period {
                        None
                    } else {
                        Some(seal_time(unit, p))
                    };
                    let mut args = vec!["risks", "--unit", unit];
                    if let Some(a) = &at {
                        args.extend(["--as-of", a.as_str()]);
                    }
                    let r = site.json(&args);
                    let row = r["risks"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|x| x["risk_id"] == subject)
                        .cloned()
                        .unwrap_or(Value::Null);
                    let got = format!(
                        "{} ({})",
                        s(&row["current"]["score"]),
                        s(&row["current"]["band"])
                    );
                    check(id, p, s(v), got);
                    check(id, &format!("{p} period"), p.clone(), s(&row["period"]));
                }
            }
            _ => continue,
        }
        done += 1;
    }
    (done, fails)
}

/// `sealed_at` of the seal sealed on a date (`as_of seal 2016-08-26`).
fn seal_on(date: &str) -> String {
    let text = std::fs::read_to_string(sample().join("seals.csv")).unwrap();
    let mut rows = csv_lines(&text);
    let header = rows.remove(0);
    let col = header.iter().position(|h| h == "sealed_at").unwrap();
    rows.iter()
        .map(|r| r[col].clone())
        .find(|t| t.starts_with(date))
        .unwrap_or_else(|| panic!("no seal on {date}"))
}

fn full_flow(site: &Site) {
    // Import (demo imports the same directory; `import` is what officers run).
    let summary = site.json(&["import", "--backdated", sample().to_str().unwrap()]);
    assert_eq!(summary["tenant"], "barnet");
    assert_eq!(summary["already_present"], 0);
    assert_eq!(summary["seals"].as_array().unwrap().len(), 4);
    assert!(
        summary["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| s(w).starts_with("revenue.csv:")),
        "control-total warning"
    );
    let head = site.head();
    assert_eq!(summary["head"].as_u64().unwrap(), head);

    // Re-import: a no-op.
    let again = site.json(&["import", "--backdated", sample().to_str().unwrap()]);
    assert_eq!(again["appended"], 0);
    assert_eq!(site.head(), head, "re-import appended something");

    // The seed figures.
    let (n, fails) = compare_expected(site);
    assert!(
        fails.is_empty(),
        "{} of {n} checks differ:\n{}",
        fails.len(),
        fails.join("\n")
    );
    assert!(n >= 70, "only {n} checks compared");

    // Restatement and as-of tour.
    let before = site.head();
    let orig = site.json(&["history", "CG/S24"]);
    let orig_result = s(&history_row(&orig, "2016/17 Q1")["result"]);
    let dash_before = site.json(&["dashboard", "--unit", "CG", "--period", "2016/17 Q1"]);
    let o = site.run(&[
        "--actor",
        "Head of Performance and Risk",
        "restate-result",
        "--indicator",
        "CG/S24",
        "--period",
        "2016/17 Q1",
        "--result",
        "99%",
    ]);
    assert!(!o.status.success(), "restate without a reason must fail");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--reason"));
    let o = site.run(&[
        "restate-result",
        "--indicator",
        "CG/S24",
        "--period",
        "2016/17 Q1",
        "--result",
        "99%",
        "--reason",
        "x",
    ]);
    assert!(!o.status.success(), "writes need --actor");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--actor"));
    site.ok(&[
        "--actor",
        "Head of Performance and Risk",
        "restate-result",
        "--indicator",
        "CG/S24",
        "--period",
        "2016/17 Q1",
        "--result",
        "99%",
        "--reason",
        "Re-validated case data (e2e)",
    ]);
    let was = site.json(&["history", "CG/S24", "--as-of", &before.to_string()]);
    assert_eq!(s(&history_row(&was, "2016/17 Q1")["result"]), orig_result);
    let now = site.json(&["history", "CG/S24"]);
    assert_eq!(s(&history_row(&now, "2016/17 Q1")["result"]), "99%");
    let dash_was = site.json(&[
        "dashboard",
        "--unit",
        "CG",
        "--period",
        "2016/17 Q1",
        "--as-of",
        &before.to_string(),
    ]);
    let dash_now = site.json(&["dashboard", "--unit", "CG", "--period", "2016/17 Q1"]);
    assert_eq!(dash_was["digest"], dash_before["digest"]);
    assert_ne!(dash_now["digest"], dash_before["digest"]);
    let audit = site.json(&["audit", "indicator", "CG/S24"]);
    let results: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["period"] == "2016/17 Q1" && e["field"] == "result")
        .collect();
    assert!(results.len() >= 2, "{audit}");
    let last = results.last().unwrap();
    assert_eq!(last["actor"], "Head of Performance and Risk");
    assert_eq!(last["reason"], "Re-validated case data (e2e)");
    assert_eq!(last["before"], orig_result.as_str());
    assert_eq!(last["after"], "99%");
    assert!(results[0]["actor"]
        .as_str()
        .unwrap()
        .contains("Commissioning Group"));

    // Seal, then verify. The restatement above was recorded after the
    // meeting date, so the seal names the position the papers showed
    // (issue #14 item 4: without --as-of this is refused).
    let now_seq = dash_now["as_of"].to_string();
    let seal = site.json(&[
        "--actor",
        "Governance Officer",
        "seal",
        "--unit",
        "CG",
        "--period",
        "2016/17 Q1",
        "--committee",
        "PCMC",
        "--date",
        "2016-12-01",
        "--as-of",
        &now_seq,
    ]);
    assert_eq!(seal["digest"], dash_now["digest"]);
    let v = site.json(&["verify"]);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["seals_checked"], 5);
}

/// Entries of the data directory named after the read model but not it
/// (a rebuild's `.rebuilding` or `.replaced` left behind).
fn beside_the_read_model(site: &Site) -> Vec<String> {
    std::fs::read_dir(site.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("readmodel") && n != "readmodel")
        .collect()
}

#[test]
fn embedded_end_to_end_and_tamper() {
    let site = Site::embedded();
    full_flow(&site);
    // Rebuild gives the same dashboard; checkpoints are idempotent.
    let d1 = site.json(&["dashboard", "--unit", "CG", "--period", "2016/17 Q1"]);
    assert!(site.ok(&["rebuild"]).contains("rebuilt"));
    let d2 = site.json(&["dashboard", "--unit", "CG", "--period", "2016/17 Q1"]);
    assert_eq!(d1["digest"], d2["digest"]);
    // Rebuilt beside the live read model and swapped in: nothing left beside it.
    assert_eq!(beside_the_read_model(&site), Vec::<String>::new());
    // The page cache is bounded from outside too, and a small one answers the same.
    let dashboard = ["dashboard", "--unit", "CG", "--period", "2016/17 Q1"];
    let o = site.run(&[&["--cache-mb", "4"][..], &dashboard].concat());
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--cache-mb"));
    let small = site.ok(&[&["--cache-mb", "8"][..], &dashboard].concat());
    assert_eq!(small, site.ok(&dashboard));
    assert!(
        site.json(&["checkpoint"])["checkpoint_seq"].is_null(),
        "writes already checkpointed"
    );
    // Tamper with the embedded log's bytes: verify names the sequence.
    let log_dir = site.dir.path().join("log");
    let mut records: Vec<perfledger_log::LogRecord> = perfledger_log::embedded::read_raw(&log_dir)
        .unwrap()
        .into_iter()
        .map(|r| r.record)
        .collect();
    let victim = 100usize;
    let mut p = records[victim - 1].payload.to_vec();
    let last = p.len() - 1;
    p[last] ^= 0x01;
    records[victim - 1].payload = p.into();
    perfledger_log::embedded::write_raw(&log_dir, &records).unwrap();
    let o = site.run(&["verify"]);
    assert_eq!(o.status.code(), Some(2), "verify must fail");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("sequence {victim}")), "{err}");
}

#[test]
fn nats_end_to_end() {
    let server = perfledger_testkit::NatsServer::start();
    let site = Site {
        dir: tempfile::tempdir().unwrap(),
        nats: Some(server.url()),
    };
    full_flow(&site);
}

fn bad_import(site: &Site, files: &[(&str, &str)]) -> String {
    let d = tempfile::tempdir().unwrap();
    for (n, c) in files {
        std::fs::write(d.path().join(n), c).unwrap();
    }
    let before = site.head();
    let o = site.run(&["import", "--backdated", d.path().to_str().unwrap()]);
    assert!(!o.status.success(), "import of {files:?} must fail");
    assert_eq!(site.head(), before, "something was appended");
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    err
}

#[test]
fn bad_csv_rows_append_nothing() {
    let site = Site::embedded();
    site.ok(&["import", "--backdated", sample().to_str().unwrap()]);
    let hdr = "indicator_ref,indicator_title,unit,period,result,kind,actor,recorded_at,reason";
    let ok_row = "CG/S24,,CG,2016/17 Q2,90%,record,Performance Officer,2016-10-21T10:00:00Z,";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "bad period",
            format!("{hdr}\n{ok_row}\nCG/S24,,CG,2016/17 Q7,90%,record,Officer,2016-10-21,\n"),
            "results.csv:3: column period: value \"2016/17 Q7\"",
        ),
        (
            "bad number",
            format!("{hdr}\n{ok_row}\nCG/S24,,CG,2016/17 Q3,9O%,record,Officer,2016-10-21,\n"),
            "results.csv:3: column result: value \"9O%\"",
        ),
        (
            "missing reason",
            format!("{hdr}\nCG/S24,,CG,2016/17 Q1,91%,restate,Officer,2016-10-21,\n"),
            "results.csv:2: column reason",
        ),
        (
            "unknown column",
            format!("{hdr},colour\n{ok_row},blue\n"),
            "results.csv:1: column colour: unknown column",
        ),
        (
            "truncated quote",
            format!("{hdr}\n{ok_row}\nCG/S24,,CG,2016/17 Q3,\"90%,record,Officer,2016-10-21,\n"),
            "results.csv:3",
        ),
        (
            "unknown indicator",
            format!("{hdr}\nNO/SUCH,,CG,2016/17 Q2,90%,record,Officer,2016-10-21,\n"),
            "results.csv:2: rejected by the ledger",
        ),
    ];
    for (name, content, want) in cases {
        let err = bad_import(&site, &[("results.csv", &content)]);
        assert!(err.contains(want), "{name}: expected {want:?} in:\n{err}");
        assert!(err.contains("nothing was imported"), "{name}: {err}");
    }
    // Several errors at once, across files.
    let rev = "unit,period,row_type,line,revised_budget,forecast,actor,recorded_at\nCG,2016/17 Q2,line,Finance,x,1,Officer,2016-10-21\n";
    let err = bad_import(
        &site,
        &[
            (
                "results.csv",
                &format!("{hdr}\nCG/S24,,CG,2016/17 Q9,90%,record,Officer,2016-10-21,\n"),
            ),
            ("revenue.csv", rev),
        ],
    );
    assert!(
        err.contains("results.csv:2") && err.contains("revenue.csv:2: column revised_budget"),
        "{err}"
    );
    // And nothing is wrong with the log.
    assert_eq!(site.json(&["verify"])["ok"], true);
}

#[test]
fn help_and_bad_arguments() {
    let o = Command::new(bin()).arg("--help").output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.contains("Examples:") && out.contains("demo"));
    let site = Site::embedded();
    let o = site.run(&["dashboard", "--unit", "CG", "--period", "2016/17 Q9"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("2016/17 Q9"),
        "{err}"
    );
    let o = site.run(&[
        "dashboard",
        "--unit",
        "CG",
        "--period",
        "2016/17 Q1",
        "--as-of",
        "yesterday",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--as-of"));
    // One data dir serves one council: another tenant's files are refused.
    let o = site.run(&[
        "--tenant",
        "camden",
        "import",
        "--backdated",
        sample().to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("council.csv:2: column tenant"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
}

#[test]
fn demo_imports_and_prints_the_tour() {
    let site = Site::embedded();
    let out = site.ok(&["demo", "--no-serve"]);
    assert!(out.contains("Try next"), "{out}");
    assert!(out.contains("dashboard --unit CG"), "{out}");
    let v = site.json(&["verify"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["seals_checked"], 4);
}

#[test]
fn write_commands_and_closed_periods() {
    let site = Site::embedded();
    site.ok(&["import", "--backdated", sample().to_str().unwrap()]);
    let w = |args: &[&str]| {
        let mut a = vec!["--actor", "Performance Officer, Commissioning Group"];
        a.extend_from_slice(args);
        site.json(&a)
    };
    assert_eq!(
        w(&[
            "set-target",
            "--indicator",
            "CG/S24",
            "--period",
            "2016/17 Q2",
            "--target",
            "90%"
        ])["command"],
        "SetTarget"
    );
    assert_eq!(
        w(&[
            "record-result",
            "--indicator",
            "CG/S24",
            "--period",
            "2016/17 Q2",
            "--result",
            "88%"
        ])["command"],
        "RecordResult"
    );
    w(&[
        "revise-target",
        "--indicator",
        "CG/S24",
        "--period",
        "2016/17 Q2",
        "--target",
        "85%",
        "--reason",
        "Committee agreed a lower target",
    ]);
    let h = site.json(&["history", "CG/S24"]);
    let row = history_row(&h, "2016/17 Q2");
    assert_eq!(row["target"], "85%");
    assert_eq!(row["result"], "88%");
    assert_eq!(row["rag"], "Green");
    // A closed period needs a reason; with one it is a post-close restatement.
    w(&["close-period", "--period", "2016/17 Q2"]);
    let o = site.run(&[
        "--actor",
        "Officer",
        "record-result",
        "--indicator",
        "CG/S26",
        "--period",
        "2016/17 Q2",
        "--result",
        "91%",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("closed"));
    assert_eq!(
        w(&[
            "record-result",
            "--indicator",
            "CG/S26",
            "--period",
            "2016/17 Q2",
            "--result",
            "91%",
            "--reason",
            "Late return"
        ])["command"],
        "PostCloseRestatement"
    );
    // Risks, actions, forecasts.
    w(&[
        "assess-risk",
        "--risk",
        "ST0072",
        "--period",
        "2013/14 Q4",
        "--impact",
        "Major 4",
        "--probability",
        "Rare 1",
    ]);
    let r = site.json(&["risks", "--unit", "CG"]);
    let st = r["risks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["risk_id"] == "ST0072")
        .unwrap();
    assert_eq!(assessment(&st["current"]), "Medium Low 4");
    w(&[
        "report-action",
        "--unit",
        "CG",
        "--action",
        "CG01",
        "--period",
        "2016/17 Q3",
        "--status",
        "Green Amber",
    ]);
    let d = site.json(&["dashboard", "--unit", "CG", "--period", "2016/17 Q3"]);
    assert_eq!(d["actions"]["by_status"]["Green Amber"]["count"], 1);
    w(&[
        "submit-forecast",
        "revenue",
        "--unit",
        "CG",
        "--line",
        "Finance",
        "--period",
        "2016/17 Q3",
        "--forecast",
        "(500)",
    ]);
    w(&[
        "submit-forecast",
        "capital",
        "--unit",
        "CG",
        "--line",
        "Commissioning Group",
        "--period",
        "2016/17 Q3",
        "--forecast",
        "30,000",
        "--slippage",
        "(5,168)",
    ]);
    let f = site.json(&["finance", "--unit", "CG", "--period", "2016/17 Q3"]);
    let fin = f["revenue"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["line"] == "Finance")
        .unwrap();
    assert_eq!(fin["variation"], -1469);
    assert_eq!(f["capital_total"]["slippage_percent"], -15);
    // A bad value is one clear line, nothing appended.
    let before = site.head();
    let o = site.run(&[
        "--actor",
        "Officer",
        "record-result",
        "--indicator",
        "CG/S24",
        "--period",
        "2016/17 Q3",
        "--result",
        "lots",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("\"lots\""),
        "{err}"
    );
    assert_eq!(site.head(), before);
    assert_eq!(site.json(&["verify"])["ok"], true);
    // CSV export.
    let csv = site.ok(&[
        "--format",
        "csv",
        "finance",
        "--unit",
        "CG",
        "--period",
        "2016/17 Q3",
    ]);
    assert!(csv.starts_with("table,kind,line,unit,budget,forecast,variation,percent"));
    assert!(
        csv.contains("revenue,line,Finance,CG,969,-500,-1469,"),
        "{csv}"
    );
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn demo_serves_the_dashboards() {
    use std::io::BufRead;
    let site = Site::embedded();
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(site.dir.path())
        .args(["demo", "--addr", "127.0.0.1:0"])
        .env_remove("PERFLEDGER_NATS_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut addr = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("serving http://") {
            addr = Some(rest.split('/').next().unwrap().to_string());
            break;
        }
    }
    let addr = addr.expect("demo printed no serving line");
    let api = http_get(&addr, "/api/dashboard?unit=CG&period=2016%2F17%20Q1");
    let page = http_get(&addr, "/dashboard?unit=CG&period=2016%2F17%20Q1");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(api.starts_with("HTTP/1.1 200"), "{api}");
    let cli = site.json(&["dashboard", "--unit", "CG", "--period", "2016/17 Q1"]);
    assert!(
        api.contains(cli["digest"].as_str().unwrap()),
        "web and CLI disagree:\n{api}"
    );
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains("<html"),
        "{page}"
    );
}

/// Issue #14 item 8: after a record is altered with valid CRCs, `rebuild`
/// stops before it and names it (as `verify` does), and `verify` says what
/// its checkpoint line means; a record failing its CRC makes `verify` exit 2
/// like every other problem it finds.
#[test]
fn tampered_log_stops_rebuild_and_every_verify_problem_exits_2() {
    let site = Site::embedded();
    site.ok(&["import", "--backdated", sample().to_str().unwrap()]);
    let log_dir = site.dir.path().join("log");
    let raw = perfledger_log::embedded::read_raw(&log_dir).unwrap();
    let mut records: Vec<perfledger_log::LogRecord> =
        raw.iter().map(|r| r.record.clone()).collect();
    let victim = 100usize;
    records[victim - 1].recorded_at += 1;
    perfledger_log::embedded::write_raw(&log_dir, &records).unwrap();

    let o = site.run(&["rebuild"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "rebuild must refuse: {err}");
    assert!(
        err.contains(&format!("log record {victim} fails the hash chain")),
        "{err}"
    );
    // The failed rebuild's partial read model is gone; the live one stays.
    assert_eq!(beside_the_read_model(&site), Vec::<String>::new());
    assert!(site.dir.path().join("readmodel").is_dir());
    let o = site.run(&["verify"]);
    assert_eq!(o.status.code(), Some(2));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("1..=0"), "{out}");
    assert!(
        out.contains(&format!("PROBLEM: log record {victim}")),
        "{out}"
    );

    // A byte flipped without fixing the CRC: the log cannot be opened.
    perfledger_log::embedded::write_raw(
        &log_dir,
        &raw.iter().map(|r| r.record.clone()).collect::<Vec<_>>(),
    )
    .unwrap();
    let raw = perfledger_log::embedded::read_raw(&log_dir).unwrap();
    let bad = &raw[49];
    let data = log_dir.join(perfledger_log::embedded::DATA_FILE);
    let mut bytes = std::fs::read(&data).unwrap();
    let at = usize::try_from(bad.offset).unwrap() + bad.len as usize - 1;
    bytes[at] ^= 0x01;
    std::fs::write(&data, bytes).unwrap();
    let o = site.run(&["verify"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("sequence 50"), "{err}");
    let o = site.run(&["verify", "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_bad_seq"], 50);
}

/// Issue #14 item 7: recorded time is the ledger's clock. After a CLI write
/// (stamped now), a live import (no `recorded_at`) still works; files that
/// claim times need `--backdated`, which is refused where it would break
/// the log's time order; a result for a period not yet ended is refused;
/// audits show migrated events with their claimed and real times.
#[test]
fn live_imports_work_after_writes_and_backdated_loads_are_explicit() {
    let site = Site::embedded();
    site.ok(&["import", "--backdated", sample().to_str().unwrap()]);
    let write = |period: &str, result: &str| {
        site.run(&[
            "--actor",
            "Head of Performance",
            "record-result",
            "--indicator",
            "CG/S24",
            "--period",
            period,
            "--result",
            result,
        ])
    };
    let o = write("2024/25 Q1", "80%");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = write("2030/31 Q1", "80%");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("has not ended"),
        "{err}"
    );

    let d = tempfile::tempdir().unwrap();
    let live = "indicator_ref,unit,period,result,kind,actor\n\
CG/S24,CG,2024/25 Q2,81%,record,Performance Officer\n";
    std::fs::write(d.path().join("results.csv"), live).unwrap();
    site.ok(&["import", d.path().to_str().unwrap()]);

    let claimed = "indicator_ref,unit,period,result,kind,actor,recorded_at\n\
CG/S24,CG,2024/25 Q3,82%,record,Performance Officer,2025-01-21T10:00:00Z\n";
    std::fs::write(d.path().join("results.csv"), claimed).unwrap();
    let o = site.run(&["import", d.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success()
            && err.contains("results.csv:2: column recorded_at")
            && err.contains("--backdated"),
        "{err}"
    );
    let o = site.run(&["import", "--backdated", d.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("results.csv:2") && err.contains("time order"),
        "{err}"
    );

    // The audit trail: the sample's records are migrated (claimed time in
    // recorded_at, the append in migrated_at); the live ones are not.
    let a = site.json(&["audit", "indicator", "CG/S24"]);
    let entries = a["entries"].as_array().unwrap();
    let first = &entries[0];
    assert!(
        first["recorded_at"].as_str().unwrap().starts_with("20"),
        "{first}"
    );
    assert!(first["migrated_at"].is_string(), "{first}");
    assert!(first["recorded_at"].as_str() < first["migrated_at"].as_str());
    let mine: Vec<&Value> = entries
        .iter()
        .filter(|e| e["period"] == "2024/25 Q1" || e["period"] == "2024/25 Q2")
        .collect();
    assert_eq!(mine.len(), 2, "{a}");
    assert!(mine.iter().all(|e| e["migrated_at"].is_null()), "{a}");
    let csv = site.ok(&["audit", "indicator", "CG/S24", "--format", "csv"]);
    assert!(
        csv.lines().next().unwrap().ends_with(",migrated_at"),
        "{csv}"
    );
}
