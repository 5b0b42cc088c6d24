//! Seals pin packs (issue #13 items 3 and 4): `seal` and the import of
//! `seals.csv` record the committee pack's canonical bytes, format byte,
//! rules version, digest and the chain root at the sealed position;
//! `verify` lists every seal with its rules version and outcome, and tells
//! altered content (exit 2) from a rules version this build cannot derive
//! (content intact: reported, not a failure).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use futures::StreamExt;
use perfledger_domain::event::EventBody;
use perfledger_domain::{decode_commit, encode_commit};
use perfledger_log::{integrity, Commit, EmbeddedLog, EventLog, Expected, Until};
use serde_json::Value;

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_perfledger"))
        .arg("--data-dir")
        .arg(dir)
        .args(["--tenant", "barnet"])
        .args(args)
        .output()
        .expect("run perfledger")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    assert!(
        o.status.success(),
        "perfledger {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council")
}

fn verify_json(dir: &Path) -> (Option<i32>, Value) {
    let o = run(dir, &["verify", "--format", "json"]);
    (
        o.status.code(),
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null),
    )
}

/// Copy the log, editing every pinned pack with `edit` and recomputing the
/// chain and checkpoints (a forger with write access to the storage).
async fn rewrite(from: &Path, to: &Path, edit: fn(&mut perfledger_domain::event::PackPin)) {
    let src = EmbeddedLog::open(from).await.unwrap();
    let dst = EmbeddedLog::open(to).await.unwrap();
    let head = src.head().await.unwrap();
    let mut records = src.read(1, Until::Seq(head));
    while let Some(r) = records.next().await {
        let r = r.unwrap();
        if r.subject.is_checkpoint() {
            integrity::checkpoint(&dst, "pl").await.unwrap();
            continue;
        }
        let mut events = decode_commit(&r.payload).unwrap();
        for e in &mut events {
            if let EventBody::CommitteePackSealed { pack, .. } = &mut e.body {
                edit(pack);
            }
        }
        dst.append(Commit {
            subject: r.subject.clone(),
            expected: Expected::Any,
            msg_id: r.msg_id,
            recorded_at: r.recorded_at,
            payload: encode_commit(&events).unwrap().into(),
        })
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seals_pin_packs_and_verify_names_rules_and_outcomes() {
    let real = tempfile::tempdir().unwrap();
    let d = real.path();
    ok(d, &["import", "--backdated", sample().to_str().unwrap()]);
    ok(
        d,
        &[
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
            "2016-09-06",
            "--as-of",
            "541",
            "--id",
            "TEST-SEAL",
        ],
    );
    let (code, v) = verify_json(d);
    assert_eq!(code, Some(0), "{v}");
    let seals = v["seals"].as_array().expect("verify lists seals");
    assert!(seals.len() >= 2, "{v}");
    for s in seals {
        assert_eq!(s["kind"], "pack", "{s}");
        assert_eq!(s["rules"], "v1", "{s}");
        assert_eq!(s["outcome"], "matches", "{s}");
    }
    assert!(seals.iter().any(|s| s["seal"] == "TEST-SEAL"));
    assert!(seals.iter().any(|s| s["seal"] == "PCMC-2016-09-06-CG-Q1"));
    let text = ok(d, &["verify"]);
    assert!(
        text.contains("seal TEST-SEAL (sequence") && text.contains("pack, rules v1: matches"),
        "{text}"
    );

    // Altered stored bytes: content altered, exit 2.
    let altered = tempfile::tempdir().unwrap();
    rewrite(&d.join("log"), &altered.path().join("log"), |p| {
        let last = p.bytes.len() - 1;
        p.bytes[last] ^= 1;
    })
    .await;
    let (code, v) = verify_json(altered.path());
    assert_eq!(code, Some(2), "{v}");
    assert!(v["seals"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["outcome"] == "content altered"));

    // A consistent rewrite (a figure changed, the digest recomputed):
    // re-derivation differs, naming the figure; exit 2.
    let rewritten = tempfile::tempdir().unwrap();
    rewrite(&d.join("log"), &rewritten.path().join("log"), |p| {
        use perfledger_readmodel::pack::{canonical_bytes, decode, digest_hex, Num};
        let mut pack = decode(&p.bytes).unwrap();
        let f = pack.revenue_total.forecast.0.raw();
        pack.revenue_total.forecast = Num(perfledger_domain::Fixed::from_raw(f + 10_000));
        p.bytes = canonical_bytes(&pack);
        p.digest = hex::decode(digest_hex(&pack)).unwrap().try_into().unwrap();
    })
    .await;
    let (code, v) = verify_json(rewritten.path());
    assert_eq!(code, Some(2), "{v}");
    for s in v["seals"].as_array().unwrap() {
        assert_eq!(s["outcome"], "re-derivation differs", "{s}");
        assert!(
            s["detail"]
                .as_str()
                .unwrap()
                .starts_with("revenue_total.forecast:"),
            "{s}"
        );
    }

    // A rules version this build does not know: derivation unavailable,
    // content intact, not tampering.
    let future = tempfile::tempdir().unwrap();
    rewrite(&d.join("log"), &future.path().join("log"), |p| p.rules = 7).await;
    let (code, v) = verify_json(future.path());
    assert_eq!(code, Some(0), "{v}");
    for s in v["seals"].as_array().unwrap() {
        assert_eq!(s["outcome"], "derivation unavailable", "{s}");
        assert_eq!(s["rules"], "#7", "{s}");
    }
}
