//! Import of the sample council and of bad files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use perfledger_domain::{Command, Text, Timestamp};
use perfledger_import::{load_bytes, load_dir, ImportOptions};
use perfledger_ledger::Ledger;
use perfledger_log::embedded::EmbeddedLog;
use perfledger_log::EventLog;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council")
}

/// Options for the sample and the other historical files here: a
/// backdated load.
fn opts() -> ImportOptions {
    let mut o = ImportOptions::new(
        Text::new("actor", "Performance Officer").unwrap(),
        Timestamp::parse("2026-01-01").unwrap(),
    );
    o.backdated = true;
    o
}

#[test]
fn sample_council_validates_in_time_order() {
    let plan = load_dir(&sample(), &opts()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.tenant.as_str(), "barnet");
    assert_eq!(plan.submissions.len(), plan.origins.len());
    let times: Vec<i64> = plan
        .submissions
        .iter()
        .map(|s| s.recorded_at.unwrap().0)
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "not in time order");
    assert_eq!(
        plan.submissions[0].recorded_at,
        Some(Timestamp::parse("2012-11-30T10:00:00Z").unwrap())
    );
    // printed revenue totals are checks, never lines
    assert!(plan.warnings.iter().any(|w| w.file == "revenue.csv"
        && w.message
            .contains("forecast of CG 2016/17 Q1 is 20,256, the lines sum to 20,255")));
    assert!(!plan.submissions.iter().any(|s| matches!(&s.command.command,
        Command::SubmitRevenueForecast { line, .. } if line.as_str().eq_ignore_ascii_case("total"))));
    assert_eq!(plan.seals.len(), 4);
    let counts = plan.counts();
    assert_eq!(counts.get("DefineAction"), Some(&107));
    assert_eq!(counts.get("ReportActionStatus"), Some(&36));
    // the CG/S26 restatement after the Q1 close is a post-close restatement
    assert!(plan.submissions.iter().any(|s| matches!(&s.command.command,
        Command::PostCloseRestatement { command, .. } if matches!(command.as_ref(), Command::RestateResult { indicator, .. } if indicator.as_str() == "CG/S26"))));
    // ids are deterministic
    let again = load_dir(&sample(), &opts()).unwrap();
    let a: Vec<_> = plan
        .submissions
        .iter()
        .map(|s| s.command.command_id)
        .collect();
    let b: Vec<_> = again
        .submissions
        .iter()
        .map(|s| s.command.command_id)
        .collect();
    assert_eq!(a, b);
}

#[tokio::test]
async fn sample_appends_and_reimport_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).await.unwrap());
    let ledger = Ledger::new(log.clone(), "pl");
    let plan = load_dir(&sample(), &opts()).unwrap();
    let n = plan.submissions.len();
    let out = match ledger
        .execute_batch(plan.submissions.clone(), |_, _| {})
        .await
    {
        Ok(o) => o,
        Err(e) => panic!(
            "{}",
            plan.locate(&e)
                .map(|x| x.to_string())
                .unwrap_or(e.to_string())
        ),
    };
    assert_eq!(out.len(), n);
    let head = log.head().await.unwrap();
    assert!(head as usize >= n - 5, "head {head}");
    // Re-import as the CLI does: with the periods the ledger has closed.
    let tenant = plan.tenant.clone();
    let cal =
        perfledger_domain::entity_id(&tenant, perfledger_domain::EntityKind::Calendar, "calendar");
    let loaded = ledger
        .load(&tenant, perfledger_domain::EntityKind::Calendar, cal)
        .await
        .unwrap();
    let mut o = opts();
    if let perfledger_domain::AggregateState::Calendar(c) = loaded.state {
        assert_eq!(c.closed.len(), 4);
        o.closed_periods = c.closed;
    }
    let plan2 = load_dir(&sample(), &o).unwrap();
    let out2 = ledger
        .execute_batch(plan2.submissions.clone(), |_, _| {})
        .await
        .unwrap();
    assert!(out2.iter().all(|e| e.duplicate || e.events.is_empty()));
    assert_eq!(log.head().await.unwrap(), head);
}

fn err_strings(files: &[(&str, &str)]) -> Vec<String> {
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_bytes())).collect();
    match load_bytes(&files, &opts()) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
    }
}

const COUNCIL: &str = "tenant,name\nbarnet,Barnet\n";
const IND: &str = "ref,title,unit,type,polarity,frequency,data_type\nX1,Thing,CG,CPI,Bigger is Better,Quarterly,percentage\n";

#[test]
fn every_bad_row_is_reported_with_file_line_column() {
    let results = "indicator_ref,unit,period,result,kind,actor,recorded_at,reason\n\
X1,CG,2016/17 Q5,50%,record,Officer,2016-07-01,\n\
X1,CG,2016/17 Q1,fifty,record,Officer,2016-07-01,\n\
NOPE,CG,2016/17 Q1,50%,record,Officer,2016-07-01,\n\
X1,CG,2016/17 Q2,50%,restate,Officer,2016-07-01,\n";
    let errs = err_strings(&[
        ("council.csv", COUNCIL),
        ("indicators.csv", IND),
        ("results.csv", results),
    ]);
    let joined = errs.join("\n");
    assert!(
        joined.contains("results.csv:2: column period: value \"2016/17 Q5\""),
        "{joined}"
    );
    assert!(
        joined.contains("results.csv:3: column result: value \"fifty\""),
        "{joined}"
    );
    assert!(
        joined.contains("results.csv:4: column indicator_ref: value \"NOPE\""),
        "{joined}"
    );
    assert!(joined.contains("results.csv:5: column reason"), "{joined}");
}

#[test]
fn unknown_and_missing_columns_and_truncated_quotes() {
    let errs = err_strings(&[
        ("council.csv", COUNCIL),
        (
            "indicators.csv",
            "ref,titel,unit,type,polarity,frequency,data_type\n",
        ),
    ]);
    let joined = errs.join("\n");
    assert!(
        joined.contains("indicators.csv:1: column titel: unknown column"),
        "{joined}"
    );
    assert!(
        joined.contains("indicators.csv:1: column title: required column is missing"),
        "{joined}"
    );
    let bad = "ref,title,unit,type,polarity,frequency,data_type\nX1,\"Thing,CG,CPI,Bigger is Better,Quarterly,percentage\n";
    let errs = err_strings(&[("council.csv", COUNCIL), ("indicators.csv", bad)]);
    assert!(
        errs.iter().any(|e| e.starts_with("indicators.csv:2")),
        "{errs:?}"
    );
}

#[test]
fn bad_number_in_revenue_and_future_time() {
    let rev = "unit,period,row_type,line,revised_budget,forecast,actor,recorded_at\n\
CG,2016/17 Q1,line,A,1O0,100,Officer,2016-07-01\n\
CG,2016/17 Q1,line,B,100,100,Officer,2099-07-01\n";
    let errs = err_strings(&[("council.csv", COUNCIL), ("revenue.csv", rev)]);
    let joined = errs.join("\n");
    assert!(
        joined.contains("revenue.csv:2: column revised_budget: value \"1O0\""),
        "{joined}"
    );
    assert!(
        joined.contains("revenue.csv:3: column recorded_at"),
        "{joined}"
    );
}

#[test]
fn error_cap_and_more_count() {
    let mut rev =
        String::from("unit,period,row_type,line,revised_budget,forecast,actor,recorded_at\n");
    for i in 0..150 {
        rev.push_str(&format!("CG,2016/17 Q1,line,L{i},x,1,Officer,2016-07-01\n"));
    }
    let files: Vec<(&str, &[u8])> = vec![
        ("council.csv", COUNCIL.as_bytes()),
        ("revenue.csv", rev.as_bytes()),
    ];
    let e = load_bytes(&files, &opts()).unwrap_err();
    assert_eq!(e.errors.len(), 100);
    assert_eq!(e.more, 50);
    assert!(e.to_string().contains("150 errors"));
}

#[test]
fn risk_ratings_are_checks_and_labels_must_agree() {
    let risks = "risk_id,unit,short_title,description\nR1,CG,T,D\n";
    let ra = "risk_id,period,current_impact,current_probability,current_rating,target_impact,target_probability,target_rating,actor,recorded_at\n\
R1,2013/14 Q2,Major 4,Likely 4,High 12,,,,Risk Manager,2013-10-18\n\
R1,2013/14 Q3,Minor 4,Likely 4,,,,,Risk Manager,2013-12-18\n\
R1,2013/14 Q4,Major 4,Likely 4,,Minor 2,,,Risk Manager,2014-01-18\n";
    let errs = err_strings(&[
        ("council.csv", COUNCIL),
        ("risks.csv", risks),
        ("risk_assessments.csv", ra),
    ]);
    let j = errs.join("\n");
    assert!(
        j.contains("risk_assessments.csv:2: column current_rating: value \"High 12\""),
        "{j}"
    );
    assert!(
        j.contains("risk_assessments.csv:3: column current_impact: value \"Minor 4\""),
        "{j}"
    );
    assert!(
        j.contains("risk_assessments.csv:4: column target_probability"),
        "{j}"
    );
}

#[test]
fn breakdowns_benchmarks_labels_and_closed_periods() {
    let ind = "ref,title,unit,type,polarity,frequency,data_type\nX1,Thing,CG,CPI,Bigger is Better,Quarterly,percentage\n";
    let targets = "indicator_ref,unit,period,target,target_label,kind,actor,recorded_at\nX1,CG,2016/17,85%,+2% from baseline,set,Officer,2016-04-01\n";
    let results =
        "indicator_ref,unit,period,result,result_label,breakdown,kind,actor,recorded_at,reason\n\
X1,CG,2016/17 Q1,80%,Spring 2016,,record,Officer,2016-07-01,\n\
X1,CG,2016/17 Q1,70%,,Age: 18 to 24,record,Officer,2016-07-01,\n\
X1,CG,2016/17 Q1,81%,,,restate,Officer,2016-09-01,Late data\n";
    let bm = "indicator_ref,unit,period,benchmark\nX1,CG,2016/17 Q1,\"London 41% (Autumn 2014, RPS)\"\nX1,CG,2016/17 Q1,National: very satisfied (LGA)\n";
    let closed = "unit,period,closed_at,actor\nCG,2016/17 Q1,2016-08-01,Head of Performance\n";
    let files: Vec<(&str, &[u8])> = vec![
        ("council.csv", COUNCIL.as_bytes()),
        ("indicators.csv", ind.as_bytes()),
        ("targets.csv", targets.as_bytes()),
        ("results.csv", results.as_bytes()),
        ("benchmarks.csv", bm.as_bytes()),
        ("periods_closed.csv", closed.as_bytes()),
    ];
    let plan = load_bytes(&files, &opts()).unwrap_or_else(|e| panic!("{e}"));
    let cmds: Vec<&Command> = plan
        .submissions
        .iter()
        .map(|s| &s.command.command)
        .collect();
    // the breakdown is its own derived indicator
    assert!(cmds.iter().any(|c| matches!(c, Command::DefineIndicator { spec } if spec.natural_key() == "X1 [Age: 18 to 24]")));
    // the label is kept on the value, the benchmarks ride on the first result
    let first = cmds
        .iter()
        .find_map(|c| match c {
            Command::RecordResult {
                indicator, entry, ..
            } if indicator.as_str() == "X1" => Some(entry),
            _ => None,
        })
        .unwrap();
    assert_eq!(first.benchmarks.len(), 1);
    assert!(first
        .commentary
        .as_ref()
        .unwrap()
        .as_str()
        .contains("National: very satisfied"));
    assert!(
        matches!(&first.result, perfledger_domain::indicator::ResultValue::Measured { label: Some(l), .. } if l.as_str() == "Spring 2016")
    );
    assert!(cmds.iter().any(|c| matches!(c, Command::SetTarget { target: perfledger_domain::indicator::Target::Numeric { note: Some(n), .. }, .. } if n.as_str() == "+2% from baseline")));
    // the restatement after the close is a post-close restatement carrying the reason
    let last = cmds.last().unwrap();
    assert!(
        matches!(last, Command::PostCloseRestatement { reason, .. } if reason.as_str() == "Late data"),
        "{last:?}"
    );
    // a change after the close without a reason is refused at its line
    let results2 = "indicator_ref,unit,period,result,kind,actor,recorded_at,reason\n\
X1,CG,2016/17 Q1,80%,record,Officer,2016-07-01,\nX1,CG,2016/17 Q2,80%,record,Officer,2016-10-01,\n";
    let errs = err_strings(&[
        ("council.csv", COUNCIL),
        ("indicators.csv", ind),
        ("results.csv", results2),
        (
            "periods_closed.csv",
            "unit,period,closed_at,actor\nCG,2016/17,2016-08-01,Head\n",
        ),
    ]);
    assert!(
        errs.iter()
            .any(|e| e.starts_with("results.csv:3: column reason")),
        "{errs:?}"
    );
    // the tenant must agree with a chosen one
    let mut o = opts();
    o.tenant = Some(perfledger_domain::Tenant::new("camden").unwrap());
    let e = load_bytes(&[("council.csv", COUNCIL.as_bytes())], &o).unwrap_err();
    assert!(
        e.to_string().contains("council.csv:2: column tenant"),
        "{e}"
    );
}

/// Issue #14 item 7: recorded time is the ledger's clock. A live import
/// carries none (its rows are recorded now, in file order); a file that
/// claims one needs a backdated load, which needs it on every row.
#[test]
fn live_imports_record_now_and_backdated_loads_are_explicit() {
    let mut live = opts();
    live.backdated = false;
    let results = "indicator_ref,unit,period,result,kind,actor,reason\n\
X1,CG,2016/17 Q1,80%,record,Officer,\n\
X1,CG,2016/17 Q1,81%,restate,Officer,Late data\n";
    let files: Vec<(&str, &[u8])> = vec![
        ("council.csv", COUNCIL.as_bytes()),
        ("indicators.csv", IND.as_bytes()),
        ("results.csv", results.as_bytes()),
    ];
    let plan = load_bytes(&files, &live).unwrap_or_else(|e| panic!("{e}"));
    assert!(plan.submissions.iter().all(|s| s.recorded_at.is_none()));
    assert_eq!(plan.latest, None);
    let names: Vec<&str> = plan
        .submissions
        .iter()
        .map(|s| s.command.command.name())
        .collect();
    assert_eq!(names, ["DefineIndicator", "RecordResult", "RestateResult"]);

    // Claimed times in a live import: named once per file, nothing planned.
    let claimed = "indicator_ref,unit,period,result,kind,actor,recorded_at\n\
X1,CG,2016/17 Q1,80%,record,Officer,2016-07-21\n\
X1,CG,2016/17 Q2,80%,record,Officer,2016-10-21\n";
    let files: Vec<(&str, &[u8])> = vec![
        ("council.csv", COUNCIL.as_bytes()),
        ("indicators.csv", IND.as_bytes()),
        ("results.csv", claimed.as_bytes()),
    ];
    let e = load_bytes(&files, &live).unwrap_err().to_string();
    assert!(
        e.contains("results.csv:2: column recorded_at: value \"2016-07-21\"")
            && e.contains("--backdated"),
        "{e}"
    );
    assert!(!e.contains("results.csv:3"), "{e}");
    // The same file, backdated: planned at its claimed times.
    let plan = load_bytes(&files, &opts()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.latest, Some(Timestamp::parse("2016-10-21").unwrap()));

    // A backdated load needs the claimed time of every row.
    let gap = "indicator_ref,unit,period,result,kind,actor,recorded_at\n\
X1,CG,2016/17 Q1,80%,record,Officer,2016-07-21\n\
X1,CG,2016/17 Q2,80%,record,Officer,\n";
    let e = load_bytes(
        &[
            ("council.csv", COUNCIL.as_bytes()),
            ("indicators.csv", IND.as_bytes()),
            ("results.csv", gap.as_bytes()),
        ],
        &opts(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("results.csv:3: column recorded_at") && e.contains("backdated load needs"),
        "{e}"
    );
}

/// Issue #11: a value the import composes from a cell (a breakdown's
/// derived title, a revenue line's name) that goes over the text limit is
/// an error at its row and column; it used to stop the import with
/// "0 errors … nothing was imported".
#[test]
fn overlong_composed_values_are_reported_at_their_cell() {
    let long = "x".repeat(perfledger_domain::text::MAX_TEXT_BYTES - 4);
    let results = format!(
        "indicator_ref,unit,period,result,breakdown,kind,actor,recorded_at\n\
X1,CG,2016/17 Q1,70%,{long},record,Officer,2016-07-01\n"
    );
    let e = load_bytes(
        &[
            ("council.csv", COUNCIL.as_bytes()),
            ("indicators.csv", IND.as_bytes()),
            ("results.csv", results.as_bytes()),
        ],
        &opts(),
    )
    .unwrap_err();
    assert!(!e.errors.is_empty(), "{e}");
    assert!(
        e.errors[0]
            .to_string()
            .starts_with("results.csv:2: column breakdown: value \"xxx"),
        "{e}"
    );

    let long = "y".repeat(perfledger_domain::text::MAX_TEXT_BYTES + 1);
    let rev = format!(
        "unit,period,row_type,line,revised_budget,forecast,actor,recorded_at\n\
CG,2016/17 Q1,line,{long},100,100,Officer,2016-07-01\n"
    );
    let e = load_bytes(
        &[
            ("council.csv", COUNCIL.as_bytes()),
            ("revenue.csv", rev.as_bytes()),
        ],
        &opts(),
    )
    .unwrap_err();
    assert!(
        e.errors
            .iter()
            .any(|x| x.to_string().starts_with("revenue.csv:2: column line")),
        "{e}"
    );
}

/// Issue #11: a cell the import cannot keep is an error at its row, never
/// dropped: an overlong label, a comment that outgrows the limit once its
/// reason is appended, a seal's unit (which used to fall back to a
/// council-wide seal).
#[test]
fn values_that_cannot_be_kept_are_errors_not_dropped() {
    let max = perfledger_domain::text::MAX_TEXT_BYTES;
    let label = "l".repeat(max + 1);
    let targets = format!(
        "indicator_ref,unit,period,target,target_label,kind,actor,recorded_at\n\
X1,CG,2016/17,85%,{label},set,Officer,2016-04-01\n"
    );
    let results = format!(
        "indicator_ref,unit,period,result,result_label,kind,actor,recorded_at\n\
X1,CG,2016/17 Q1,80%,{label},record,Officer,2016-07-01\n"
    );
    let comment = "c".repeat(max - 5);
    let actions = "ref,description,unit\nA1,Do it,CG\n";
    let status = format!(
        "action_ref,period,status,comment,actor,recorded_at,reason\n\
A1,2016/17 Q1,Green,ok,Officer,2016-07-01,\n\
A1,2016/17 Q1,Red,{comment},Officer,2016-07-02,Slipped\n"
    );
    let unit = "U".repeat(max + 1);
    let seals = format!(
        "seal_id,committee,unit,period,sealed_at,actor\n\
S1,PR,{unit},2016/17 Q1,2016-09-01,Clerk\n"
    );
    let e = load_bytes(
        &[
            ("council.csv", COUNCIL.as_bytes()),
            ("indicators.csv", IND.as_bytes()),
            ("targets.csv", targets.as_bytes()),
            ("results.csv", results.as_bytes()),
            ("actions.csv", actions.as_bytes()),
            ("action_status.csv", status.as_bytes()),
            ("seals.csv", seals.as_bytes()),
        ],
        &opts(),
    )
    .map(|p| format!("planned {} commands", p.submissions.len()))
    .unwrap_err()
    .to_string();
    for at in [
        "targets.csv:2: column target_label",
        "results.csv:2: column result_label",
        "action_status.csv:3: column comment",
        "seals.csv:2: column unit",
    ] {
        assert!(e.contains(at), "{at} not in {e}");
    }
}

/// Issue #11: a ledger error about one submission is named at its row, the
/// same way as the import's own errors; one about no submission is not.
#[test]
fn ledger_errors_are_located_at_their_row() {
    let plan = load_bytes(
        &[
            ("council.csv", COUNCIL.as_bytes()),
            ("indicators.csv", IND.as_bytes()),
        ],
        &opts(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let backdated = perfledger_ledger::LedgerError::Backdated {
        index: 0,
        given: Timestamp::parse("2016-07-01").unwrap(),
        latest: Timestamp::parse("2017-01-01").unwrap(),
    };
    let e = plan.locate(&backdated).unwrap();
    assert_eq!(
        (e.column.as_deref(), e.value.as_deref()),
        (
            Some("recorded_at"),
            Some(Timestamp::parse("2016-07-01").unwrap().to_string().as_str())
        )
    );
    assert!(
        e.to_string().starts_with(&format!(
            "indicators.csv:2: column recorded_at: value {:?}: a backdated load must keep",
            Timestamp::parse("2016-07-01").unwrap().to_string()
        )),
        "{e}"
    );
    let reused = perfledger_ledger::LedgerError::CommandIdReused {
        index: 0,
        command: "DefineIndicator",
        command_id: plan.submissions[0].command.command_id,
        original_seq: 7,
    };
    let e = plan.locate(&reused).unwrap().to_string();
    assert!(
        e.starts_with("indicators.csv:2: rejected by the ledger: this row")
            && e.contains("sequence 7"),
        "{e}"
    );
    let elsewhere = perfledger_ledger::LedgerError::TooManyConflicts { attempts: 3 };
    assert_eq!(plan.locate(&elsewhere), None);
}

/// Issue #11 (from #14 item 12): an unknown column is reported and the
/// rest of the file is still checked, so one run shows every error.
#[test]
fn unknown_column_does_not_hide_the_other_errors_of_its_file() {
    let results = "indicator_ref,unit,period,result,kind,actor,recorded_at,reason,colour\n\
X1,CG,2016/17 Q5,50%,record,Officer,2016-07-01,,blue\n\
NOPE,CG,2016/17 Q1,50%,record,Officer,2016-07-01,,red\n";
    let errs = err_strings(&[
        ("council.csv", COUNCIL),
        ("indicators.csv", IND),
        ("results.csv", results),
    ]);
    let joined = errs.join("\n");
    assert!(
        joined.contains("results.csv:1: column colour: unknown column"),
        "{joined}"
    );
    assert!(
        joined.contains("results.csv:2: column period: value \"2016/17 Q5\""),
        "{joined}"
    );
    assert!(
        joined.contains("results.csv:3") && joined.contains("NOPE"),
        "{joined}"
    );
}

/// A row whose trailing empty fields were dropped (as spreadsheets save
/// CSV) reads as if they were there.
#[test]
fn a_row_missing_its_trailing_empty_fields_is_accepted() {
    let results = "indicator_ref,unit,period,result,kind,actor,recorded_at,reason\n\
X1,CG,2016/17 Q1,50%,record,Officer,2016-07-01\n";
    let files: Vec<(&str, &[u8])> = vec![
        ("council.csv", COUNCIL.as_bytes()),
        ("indicators.csv", IND.as_bytes()),
        ("results.csv", results.as_bytes()),
    ];
    if let Err(e) = load_bytes(&files, &opts()) {
        let errs: Vec<String> = e.errors.iter().map(|e| e.to_string()).collect();
        panic!("{errs:#?}");
    }
    // Too many fields still cannot be placed.
    let extra = "indicator_ref,unit,period,result,kind,actor,recorded_at,reason\n\
X1,CG,2016/17 Q1,50%,record,Officer,2016-07-01,,surplus\n";
    let errs = err_strings(&[
        ("council.csv", COUNCIL),
        ("indicators.csv", IND),
        ("results.csv", extra),
    ]);
    assert!(
        errs.iter().any(|e| e.contains("row has 9 fields")),
        "{errs:?}"
    );
}
