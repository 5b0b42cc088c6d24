//! The golden history (issue #13 item 5): logs in the embedded format,
//! committed under `tests/golden/` (see its README.md), that every test run
//! opens and checks, so a change to the codec, the rules or the pack
//! renderer that would alter what an old log says fails here.
//!
//! * **`history-*` sets** (the sample council as a release wrote it, with
//!   dashboard and pack seals, and the packs rendered from its seals): the
//!   log is copied to a temporary directory (opening writes a lock file and
//!   the read model; the committed set is never opened), every commit
//!   decodes and, when it is in the current commit version, re-encodes to
//!   its stored bytes; `perfledger verify` finds the hash chain and the
//!   checkpoints intact, the head's anchor the one recorded, and every seal
//!   re-derived (pack seals bit for bit under the rules version each
//!   names, dashboard seals by their digest) with the recorded outcome;
//!   `perfledger pack --seal ID` renders every pinned pack to exactly the
//!   committed HTML, JSON and CSV bytes; `verify --anchor` accepts every
//!   recorded anchor. PDF bytes are not deterministic (Chromium stamps
//!   them) and are not pinned; `tests/pack.rs` prints and checks PDFs.
//! * **`envelope-v1`**: a small history whose every commit is in commit
//!   format version 1 (the envelope before `command_digest` and
//!   `migrated_at`). It is decoded, upcast as documented (both `None`,
//!   `schema_version` as stored), projected, and its dashboard seal still
//!   re-derives to its digest.
//!
//! The rule: sets are never regenerated or edited; a future change may add
//! a set and must keep every old one passing. The `#[ignore]`d tests at the
//! end write a NEW set into a directory that does not exist yet (README).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output};
use std::sync::Arc;

use futures::StreamExt;
use perfledger_domain::codec::{COMMIT_VERSION, COMMIT_VERSION_1};
use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::event::{CommitteeSeal, Envelope, Seal};
use perfledger_domain::{decode_commit, encode_commit, Date, Period, Tenant, Text, Timestamp};
use perfledger_ledger::{Ledger, Submitted};
use perfledger_log::{integrity, EmbeddedLog, EventLog, LogRecord, Until};
use perfledger_readmodel::{AsOf, Projector, ReadModel};
use serde_json::{json, Value};

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council")
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Process::new(env!("CARGO_BIN_EXE_perfledger"))
        .arg("--data-dir")
        .arg(dir)
        .env_remove("PERFLEDGER_NATS_URL")
        .env_remove("PERFLEDGER_TENANT")
        .env_remove("PERFLEDGER_DATA")
        .env_remove("PERFLEDGER_ACTOR")
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .expect("run perfledger")
}

fn ok(dir: &Path, args: &[&str]) -> Output {
    let o = run(dir, args);
    assert!(
        o.status.success(),
        "perfledger {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    o
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A working copy of a set's data directory (`log/log.dat`, `tenant`):
/// the committed files are read, never opened as a log.
fn working_copy(set: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("log")).unwrap();
    for f in ["log/log.dat", "tenant"] {
        std::fs::copy(set.join(f), tmp.path().join(f))
            .unwrap_or_else(|e| panic!("{}/{f}: {e}", set.display()));
    }
    tmp
}

/// Every record of a log.
async fn read_all<L: EventLog>(log: &L) -> Vec<LogRecord> {
    let head = log.head().await.unwrap();
    let mut out = Vec::new();
    let mut s = log.read(1, Until::Seq(head));
    while let Some(r) = s.next().await {
        out.push(r.unwrap());
    }
    out
}

/// Every record of the embedded log of the data directory `dir`.
async fn records(dir: &Path) -> Vec<LogRecord> {
    read_all(&EmbeddedLog::open(dir.join("log")).await.unwrap()).await
}

/// Decode every commit; one in the current version must re-encode to its
/// stored bytes (a codec that changes the encoding without a new version
/// byte fails here). Returns the count of commits per version byte.
fn check_codec(records: &[LogRecord]) -> BTreeMap<String, u64> {
    let mut versions = BTreeMap::new();
    for r in records.iter().filter(|r| !r.subject.is_checkpoint()) {
        let events = decode_commit(&r.payload)
            .unwrap_or_else(|e| panic!("record {} no longer decodes: {e}", r.seq));
        if r.payload[0] == COMMIT_VERSION {
            let again = encode_commit(&events).unwrap();
            assert!(
                again == r.payload,
                "record {}: the codec re-encodes a version-{COMMIT_VERSION} commit differently",
                r.seq
            );
        }
        *versions.entry(r.payload[0].to_string()).or_insert(0) += 1;
    }
    versions
}

/// `a` and `b` are the same bytes; otherwise say where they part.
fn assert_same_bytes(what: &str, got: &[u8], want: &[u8]) {
    if got == want {
        return;
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let line = want[..at].iter().filter(|b| **b == b'\n').count() + 1;
    let around = |b: &[u8]| {
        String::from_utf8_lossy(&b[at.saturating_sub(80)..(at + 80).min(b.len())]).to_string()
    };
    panic!(
        "{what} drifted: {} bytes rendered, {} committed; first difference at byte {at} (line {line})\n\
         rendered:  …{}…\ncommitted: …{}…",
        got.len(),
        want.len(),
        around(got),
        around(want)
    );
}

/// The facts `verify --format json` must report, as recorded in
/// MANIFEST.json: counts, the head's anchor, and each seal's name,
/// sequence, kind, rules version and outcome (not its wording of details).
fn verify_facts(v: &Value) -> Value {
    let seals: Vec<Value> = v["seals"]
        .as_array()
        .expect("verify lists the seals")
        .iter()
        .map(|s| {
            json!({
                "seal": s["seal"],
                "seq": s["seq"],
                "kind": s["kind"],
                "rules": s["rules"],
                "outcome": s["outcome"],
            })
        })
        .collect();
    json!({
        "records": v["records_checked"],
        "last_checkpoint": v["last_checkpoint"],
        "uncovered_tail": v["uncovered_tail"],
        "head_anchor": v["head_anchor"],
        "seals": seals,
    })
}

/// Render the pack a seal pinned in every pinned format; returns
/// (extension, bytes) and the (digest, anchor) printed on stderr.
fn render_sealed(
    dir: &Path,
    seal: &str,
    council: &str,
) -> (Vec<(String, Vec<u8>)>, String, String) {
    let mut out = Vec::new();
    let mut printed = (String::new(), String::new());
    for ext in ["html", "json", "csv"] {
        let file = dir.join(format!("render.{ext}"));
        let o = ok(
            dir,
            &[
                "pack",
                "--seal",
                seal,
                "--council",
                council,
                "--out",
                file.to_str().unwrap(),
            ],
        );
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        let last = |prefix: &str| {
            err.lines()
                .find(|l| l.starts_with(prefix))
                .and_then(|l| l.rsplit(' ').next())
                .unwrap_or_default()
                .to_string()
        };
        printed = (last("pack "), last("anchor "));
        out.push((ext.to_string(), std::fs::read(&file).unwrap()));
    }
    (out, printed.0, printed.1)
}

fn history_sets() -> Vec<PathBuf> {
    let mut sets: Vec<PathBuf> = std::fs::read_dir(golden())
        .expect("tests/golden exists")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("history-"))
        })
        .collect();
    sets.sort();
    sets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_golden_history_set_verifies_and_renders_its_packs_to_the_committed_bytes() {
    let sets = history_sets();
    assert!(
        sets.iter().any(|s| s.ends_with("history-v1")),
        "history-v1 is committed: {sets:?}"
    );
    for set in sets {
        let name = set.file_name().unwrap().to_string_lossy().to_string();
        let manifest = read_json(&set.join("MANIFEST.json"));
        let work = working_copy(&set);
        let d = work.path();

        let versions = check_codec(&records(d).await);
        assert_eq!(
            json!(versions),
            manifest["commit_versions"],
            "{name}: commit versions"
        );

        let v = json_of(&ok(d, &["verify", "--format", "json"]));
        assert_eq!(v["ok"], true, "{name}: {v:#}");
        assert_eq!(verify_facts(&v), manifest["verify"], "{name}: verify");
        for s in v["seals"].as_array().unwrap() {
            let outcome = s["outcome"].as_str().unwrap();
            assert!(
                outcome == "matches" || outcome == "dashboard digest checked",
                "{name}: seal {s}"
            );
        }

        let council = manifest["council"].as_str().unwrap();
        let packs = manifest["packs"].as_array().unwrap();
        assert!(!packs.is_empty(), "{name}: pins packs");
        for p in packs {
            let seal = p["seal"].as_str().unwrap();
            let (rendered, digest, anchor) = render_sealed(d, seal, council);
            assert_eq!(
                digest,
                p["digest"].as_str().unwrap(),
                "{name}: {seal} digest"
            );
            assert_eq!(
                anchor,
                p["anchor"].as_str().unwrap(),
                "{name}: {seal} anchor"
            );
            for (ext, bytes) in rendered {
                let file = set.join("packs").join(format!("{seal}.{ext}"));
                let want =
                    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                assert_same_bytes(&format!("{name}: {seal}.{ext}"), &bytes, &want);
            }
            ok(d, &["verify", "--anchor", &anchor]);
        }
        let head = manifest["verify"]["head_anchor"].as_str().unwrap();
        ok(d, &["verify", "--anchor", head]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_v1_records_are_upcast_and_projected() {
    let set = golden().join("envelope-v1");
    let manifest = read_json(&set.join("MANIFEST.json"));
    let work = working_copy(&set);
    let d = work.path();

    let all = records(d).await;
    let mut upcast: Vec<Envelope> = Vec::new();
    for r in all.iter().filter(|r| !r.subject.is_checkpoint()) {
        assert_eq!(
            r.payload[0], COMMIT_VERSION_1,
            "record {} is a v1 commit",
            r.seq
        );
        let events = decode_commit(&r.payload).unwrap();
        // Written again it is a current-version commit of the same events
        // (stored records are never rewritten; this is what a copy is).
        let again = encode_commit(&events).unwrap();
        assert_eq!(again[0], COMMIT_VERSION);
        assert_eq!(decode_commit(&again).unwrap(), events);
        upcast.extend(events);
    }
    assert_eq!(json!(check_codec(&all)), manifest["commit_versions"]);
    // The upcast, as documented (crates/domain/src/codec.rs, proto/envelope.md):
    // the fields version 2 appended are None, schema_version is as stored.
    assert_eq!(upcast.len() as u64, manifest["events"].as_u64().unwrap());
    for e in &upcast {
        assert_eq!(e.command_digest, None, "{}", e.body.name());
        assert_eq!(e.migrated_at, None, "{}", e.body.name());
        assert_eq!(e.schema_version, 1, "{}", e.body.name());
    }
    let kinds: std::collections::BTreeSet<&str> = upcast.iter().map(|e| e.body.name()).collect();
    let want: std::collections::BTreeSet<&str> = manifest["event_kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(kinds, want);

    // Projected: the restatement's audit entry, the old dashboard seal.
    let log = EmbeddedLog::open(d.join("log")).await.unwrap();
    let report = integrity::verify(&log).await.unwrap();
    assert!(report.ok(), "{report:?}");
    let tenant = Tenant::new(std::fs::read_to_string(d.join("tenant")).unwrap().trim()).unwrap();
    let rm = ReadModel::open(d.join("rm"), &tenant).unwrap();
    Projector::new(&rm)
        .catch_up(&log, &mut |_| {})
        .await
        .unwrap();
    let trail = rm.history(V1_INDICATOR, AsOf::Head).unwrap();
    let restated = trail
        .entries
        .iter()
        .find(|e| e.event == "ResultRestated")
        .expect("the restatement");
    assert_eq!(restated.before.as_deref(), Some("78%"));
    assert_eq!(restated.after.as_deref(), Some("70%"));
    assert_eq!(restated.reason.as_deref(), Some(V1_REASON));
    assert!(trail.entries.iter().all(|e| e.migrated_at.is_none()));
    let seals = rm.seals(AsOf::Head).unwrap();
    assert_eq!(seals.len(), 1);
    assert_eq!(seals[0].seal_id, None, "a DashboardSealed seal has no id");
    let verdict = rm.verify_seal(&seals[0].seal).unwrap();
    assert!(verdict.matches, "{verdict:?}");
    assert_eq!(
        verdict.actual_digest,
        manifest["seal_digest"].as_str().unwrap()
    );
    drop(rm);
    drop(log);

    // And the CLI reads it as any log.
    let v = json_of(&ok(d, &["verify", "--format", "json"]));
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(v["seals"][0]["outcome"], "dashboard digest checked");
}

// ---------------------------------------------------------------------
// Writing a NEW set (never run by `cargo test`; see tests/golden/README.md)
// ---------------------------------------------------------------------

/// The directory of a new set named by `PERFLEDGER_GOLDEN_SET`; refuses a
/// name that exists (old sets are never overwritten).
fn new_set_dir(prefix: &str) -> PathBuf {
    let name = std::env::var("PERFLEDGER_GOLDEN_SET")
        .expect("name the new set: PERFLEDGER_GOLDEN_SET=history-v2 (or envelope-…)");
    assert!(
        name.starts_with(prefix) && !name.contains(['/', '\\', '.']),
        "a {prefix}* name without path separators: {name:?}"
    );
    let dir = golden().join(&name);
    assert!(
        !dir.exists(),
        "{} exists: old sets are never regenerated; pick a new name",
        dir.display()
    );
    dir
}

fn text(s: &str) -> Text {
    Text::new("golden", s).unwrap()
}

fn envelope(tenant: &Tenant, n: u128, actor: &str, command: Command) -> CommandEnvelope {
    CommandEnvelope {
        command_id: uuid::Uuid::from_u128(0x601D_E000_0000 + n),
        tenant: tenant.clone(),
        actor: text(actor),
        source: text("golden history generator"),
        correlation_id: uuid::Uuid::from_u128(0x601D_E000_0000),
        causation_id: None,
        command,
    }
}

/// Copy a data directory's log and tenant into a set directory.
fn store_log(from: &Path, set: &Path) {
    std::fs::create_dir_all(set.join("log")).unwrap();
    std::fs::copy(from.join("log/log.dat"), set.join("log/log.dat")).unwrap();
    std::fs::copy(from.join("tenant"), set.join("tenant")).unwrap();
}

const COUNCIL: &str = "London Borough of Barnet (perfledger sample council)";

/// Write a new `history-*` set: the sample council imported by this
/// release (its seals.csv rows become pack seals), plus a dashboard-only
/// seal of each kind (`SealDashboard`, `SealCommitteeDashboard`), a
/// checkpoint, the packs every pack seal pins rendered as HTML, JSON and
/// CSV, and MANIFEST.json. Run:
/// `PERFLEDGER_GOLDEN_SET=history-v2 cargo test -p perfledger-cli --test golden_history -- --ignored write_a_new_history_set`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes a new fixture set; run by hand (tests/golden/README.md)"]
async fn write_a_new_history_set() {
    let set = new_set_dir("history-");
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    ok(d, &["import", "--backdated", sample().to_str().unwrap()]);

    // Dashboard-only seals, as releases before pack seals recorded them.
    {
        let tenant =
            Tenant::new(std::fs::read_to_string(d.join("tenant")).unwrap().trim()).unwrap();
        let log = Arc::new(EmbeddedLog::open(d.join("log")).await.unwrap());
        let rm = ReadModel::open(d.join("readmodel"), &tenant).unwrap();
        Projector::new(&rm)
            .catch_up(&*log, &mut |_| {})
            .await
            .unwrap();
        let ledger = Ledger::new(log.clone(), "pl");
        let seal = |unit: Option<&str>, period: &str, committee: &str, date: &str, at: &str| {
            let period = Period::parse(period).unwrap();
            let at = AsOf::Time(Timestamp::parse(at).unwrap().0);
            let view = rm.dashboard(unit, period, at).unwrap();
            Seal {
                unit: unit.map(text),
                period,
                committee: text(committee),
                meeting_date: Date::parse(date).unwrap(),
                seq: view.as_of,
                digest: perfledger_domain::dashboard::digest(&view.dashboard),
            }
        };
        let old = seal(
            Some("CG"),
            "2016/17 Q1",
            "PCMC",
            "2016-09-06",
            "2016-08-26T12:00:00Z",
        );
        let named = CommitteeSeal {
            seal_id: text("GOLDEN-PR-2020-01-06-DASHBOARD"),
            title: Some(text(
                "Council-wide dashboard, Q2 2019/20 (dashboard seal, no pack)",
            )),
            sealed_at: Timestamp::parse("2019-12-20T12:00:00Z").unwrap(),
            seal: seal(
                None,
                "2019/20 Q2",
                "PR",
                "2020-01-06",
                "2019-12-20T12:00:00Z",
            ),
        };
        for (n, c) in [
            Command::SealDashboard { seal: old },
            Command::SealCommitteeDashboard { seal: named },
        ]
        .into_iter()
        .enumerate()
        {
            let env = envelope(&tenant, n as u128 + 1, "Governance Officer", c);
            ledger.execute(Submitted::new(env)).await.unwrap();
        }
    }
    ok(d, &["checkpoint"]);

    let v = json_of(&ok(d, &["verify", "--format", "json"]));
    assert_eq!(v["ok"], true, "{v:#}");
    // The checkpoint vouches for every record before it (not for itself).
    assert_eq!(v["uncovered_tail"], 1, "the checkpoint is the last record");
    std::fs::create_dir_all(set.join("packs")).unwrap();
    let mut packs = Vec::new();
    for s in v["seals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "pack")
    {
        let id = s["seal"].as_str().unwrap();
        let (rendered, digest, anchor) = render_sealed(d, id, COUNCIL);
        for (ext, bytes) in rendered {
            std::fs::write(set.join("packs").join(format!("{id}.{ext}")), bytes).unwrap();
        }
        packs.push(json!({ "seal": id, "digest": digest, "anchor": anchor }));
    }
    let manifest = json!({
        "set": set.file_name().unwrap().to_string_lossy(),
        "written_by": format!("perfledger {}", env!("CARGO_PKG_VERSION")),
        "council": COUNCIL,
        "commit_versions": check_codec(&records(d).await),
        "verify": verify_facts(&v),
        "packs": packs,
    });
    store_log(d, &set);
    let mut text = serde_json::to_string_pretty(&manifest).unwrap();
    text.push('\n');
    std::fs::write(set.join("MANIFEST.json"), text).unwrap();
}

/// The indicator and reason of the `envelope-v1` history.
const V1_INDICATOR: &str = "GV/S1";
const V1_REASON: &str = "late returns re-validated";

/// The version-1 envelope, exactly as commit version 1 wrote it (the
/// current envelope without the two fields version 2 appended; a frozen
/// copy of `EnvelopeV1` in crates/domain/src/codec.rs, which is private).
#[derive(serde::Serialize)]
struct WrittenV1<'a> {
    event_id: uuid::Uuid,
    entity: &'a perfledger_domain::event::EntityRef,
    tenant: &'a Tenant,
    recorded_at: Timestamp,
    effective: Option<Period>,
    actor: &'a Text,
    source: &'a Text,
    reason: &'a Option<Text>,
    correlation_id: uuid::Uuid,
    causation_id: Option<uuid::Uuid>,
    command_id: uuid::Uuid,
    schema_version: u16,
    body: &'a perfledger_domain::event::EventBody,
}

/// A commit in version 1: `[1] ++ postcard(Vec<EnvelopeV1>)`, schema
/// version 1.
fn as_v1_commit(events: &[Envelope]) -> Vec<u8> {
    let v1: Vec<WrittenV1> = events
        .iter()
        .map(|e| WrittenV1 {
            event_id: e.event_id,
            entity: &e.entity,
            tenant: &e.tenant,
            recorded_at: e.recorded_at,
            effective: e.effective,
            actor: &e.actor,
            source: &e.source,
            reason: &e.reason,
            correlation_id: e.correlation_id,
            causation_id: e.causation_id,
            command_id: e.command_id,
            schema_version: 1,
            body: &e.body,
        })
        .collect();
    postcard::to_extend(&v1, vec![COMMIT_VERSION_1]).unwrap()
}

/// Write a new `envelope-*` set: a small history (a unit, a tolerance
/// scheme, an indicator with targets, results and a restatement, a risk
/// and an old-style dashboard seal) recorded by this release's ledger,
/// every commit then written as commit version 1 into a fresh embedded log
/// (the chain is that of the v1 bytes). Run:
/// `PERFLEDGER_GOLDEN_SET=envelope-v1 cargo test -p perfledger-cli --test golden_history -- --ignored write_a_new_envelope_set`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes a new fixture set; run by hand (tests/golden/README.md)"]
async fn write_a_new_envelope_set() {
    use perfledger_domain::indicator::{
        ComparisonBasis, DataType, Frequency, IndicatorSpec, IndicatorType, Polarity,
    };
    use perfledger_domain::organisation::{OrgKind, OrgSpec};
    use perfledger_domain::parse::{parse_result, parse_target};
    use perfledger_domain::rag::ToleranceScheme;
    use perfledger_domain::risk::{Assessment, RiskSpec};
    use perfledger_domain::{event::ResultEntry, FinancialYear};

    let set = new_set_dir("envelope-");
    let work = tempfile::tempdir().unwrap();
    let tenant = Tenant::new("barnet").unwrap();
    let log = Arc::new(EmbeddedLog::open(work.path().join("v2/log")).await.unwrap());
    let ledger = Ledger::new(log.clone(), "pl");
    let q = |s: &str| Period::parse(s).unwrap();
    let entry = |v: &str| ResultEntry {
        result: parse_result(v).unwrap(),
        commentary: None,
        intervention: None,
        benchmarks: Vec::new(),
    };
    let unit = "Governance";
    let commands = vec![
        Command::DefineUnit {
            spec: OrgSpec {
                kind: OrgKind::Unit,
                name: text(unit),
                parent: None,
                lead: None,
            },
        },
        Command::AdoptToleranceScheme {
            name: text("Four level 2013-2017"),
            effective_from: FinancialYear(2013),
            scheme: ToleranceScheme::four_level(500, 1000),
        },
        Command::DefineIndicator {
            spec: IndicatorSpec {
                reference: Some(text(V1_INDICATOR)),
                title: text("Freedom of Information requests answered on time"),
                unit: text(unit),
                lead_officer: None,
                indicator_type: IndicatorType::Spi,
                polarity: Polarity::BiggerIsBetter,
                frequency: Frequency::Quarterly,
                data_type: DataType::Percentage,
                comparison: ComparisonBasis::Sequential,
                theme: None,
                objective: None,
                committee: None,
            },
        },
        Command::SetTarget {
            indicator: text(V1_INDICATOR),
            period: q("2015/16 Q4"),
            target: parse_target("80%").unwrap(),
        },
        Command::SetTarget {
            indicator: text(V1_INDICATOR),
            period: q("2016/17 Q1"),
            target: parse_target("80%").unwrap(),
        },
        Command::RecordResult {
            indicator: text(V1_INDICATOR),
            period: q("2015/16 Q4"),
            entry: entry("74%"),
        },
        Command::RecordResult {
            indicator: text(V1_INDICATOR),
            period: q("2016/17 Q1"),
            entry: entry("78%"),
        },
        Command::RegisterRisk {
            spec: RiskSpec {
                risk_id: text("GV001"),
                unit: text(unit),
                title: text("Information requests backlog"),
                description: text("Requests arrive faster than they are answered"),
                owner: None,
                category: None,
                controls: None,
                response: None,
                assurance: None,
            },
        },
        Command::AssessRisk {
            risk_id: text("GV001"),
            period: q("2016/17 Q1"),
            current: Assessment::new(4, 3).unwrap(),
            target: Some(Assessment::new(2, 2).unwrap()),
            comment: None,
        },
    ];
    // One hour between records from 2016-07-01, after the quarter ended.
    let mut clock = Timestamp::parse("2016-07-01").unwrap().0;
    let mut n = 0u128;
    let mut submit = |c: Command| {
        n += 1;
        clock += 3_600_000;
        Submitted::at(
            envelope(&tenant, n, "Head of Governance", c),
            Timestamp(clock),
        )
    };
    for c in commands {
        ledger.execute(submit(c)).await.unwrap();
    }
    ledger
        .execute(submit(Command::RestateResult {
            indicator: text(V1_INDICATOR),
            period: q("2016/17 Q1"),
            entry: entry("70%"),
            reason: text(V1_REASON),
        }))
        .await
        .unwrap();
    // The old-style seal of the unit's Q1 dashboard as it stands now.
    let rm = ReadModel::open(work.path().join("rm"), &tenant).unwrap();
    Projector::new(&rm)
        .catch_up(&*log, &mut |_| {})
        .await
        .unwrap();
    let view = rm
        .dashboard(Some(unit), q("2016/17 Q1"), AsOf::Head)
        .unwrap();
    let seal_digest = view.digest.clone();
    ledger
        .execute(submit(Command::SealDashboard {
            seal: Seal {
                unit: Some(text(unit)),
                period: q("2016/17 Q1"),
                committee: text("Audit Committee"),
                meeting_date: Date::parse("2016-09-06").unwrap(),
                seq: view.as_of,
                digest: perfledger_domain::dashboard::digest(&view.dashboard),
            },
        }))
        .await
        .unwrap();

    // The same records, each commit written as version 1.
    let v1_dir = work.path().join("v1");
    std::fs::create_dir_all(v1_dir.join("log")).unwrap();
    let v1 = EmbeddedLog::open(v1_dir.join("log")).await.unwrap();
    let mut events = 0u64;
    let mut kinds = std::collections::BTreeSet::new();
    for r in read_all(&*log).await {
        let decoded = decode_commit(&r.payload).unwrap();
        events += decoded.len() as u64;
        kinds.extend(decoded.iter().map(|e| e.body.name()));
        v1.append(perfledger_log::Commit {
            subject: r.subject,
            expected: perfledger_log::Expected::Any,
            msg_id: r.msg_id,
            recorded_at: r.recorded_at,
            payload: as_v1_commit(&decoded).into(),
        })
        .await
        .unwrap();
    }
    std::fs::write(v1_dir.join("tenant"), tenant.to_string()).unwrap();
    let written = read_all(&v1).await;
    drop(v1);
    let manifest = json!({
        "set": set.file_name().unwrap().to_string_lossy(),
        "written_by": format!("perfledger {} (commits transcoded to version 1)", env!("CARGO_PKG_VERSION")),
        "commit_versions": check_codec(&written),
        "events": events,
        "event_kinds": kinds,
        "seal_digest": seal_digest,
    });
    store_log(&v1_dir, &set);
    let mut out = serde_json::to_string_pretty(&manifest).unwrap();
    out.push('\n');
    std::fs::write(set.join("MANIFEST.json"), out).unwrap();
}
