//! Anchors (issue #13): the chain root at a position, kept outside the log.
//!
//! Plain `verify` checks the log against itself: a forger who rewrites a
//! record and recomputes the hash chain and every checkpoint produces a log
//! that passes it (a documented limit). `verify --anchor SEQ:ROOT`, with
//! the root printed by `seal` or by an earlier `verify`, catches the
//! rewrite, because the forger cannot make the rewritten prefix hash to the
//! root held elsewhere. (Pack seals pin the chain root at their position;
//! a forger who recomputes the chain recomputes those pins as well.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use futures::StreamExt;
use perfledger_domain::event::EventBody;
use perfledger_domain::{decode_commit, encode_commit, Text};
use perfledger_log::{integrity, Commit, EmbeddedLog, EventLog, Expected, Until};
use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_perfledger")
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
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

fn head_anchor(dir: &Path) -> String {
    let v: Value = serde_json::from_str(&ok(dir, &["verify", "--format", "json"])).unwrap();
    assert_eq!(v["ok"], Value::Bool(true), "{v}");
    v["head_anchor"]
        .as_str()
        .expect("verify prints the head's anchor")
        .to_string()
}

/// Copy the log at `from` into a new log at `to`, changing the actor of
/// record `victim` and recomputing every checkpoint, as a forger with
/// write access to the storage would.
async fn forge(from: &Path, to: &Path, victim: u64) {
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
        let mut changed = r.seq == victim;
        for e in &mut events {
            if r.seq == victim {
                e.actor = Text::new("actor", "Someone Else").unwrap();
            }
            // Pack seals pin the chain root at their position: the forger
            // recomputes those too.
            if let EventBody::CommitteePackSealed { seal, pack } = &mut e.body {
                pack.chain_root = integrity::chain_root_at(&dst, seal.seal.seq).await.unwrap();
                changed = true;
            }
        }
        let payload = if changed {
            encode_commit(&events).unwrap().into()
        } else {
            r.payload.clone()
        };
        let appended = dst
            .append(Commit {
                subject: r.subject.clone(),
                expected: Expected::Any,
                msg_id: r.msg_id,
                recorded_at: r.recorded_at,
                payload,
            })
            .await
            .unwrap();
        assert_eq!(appended.seq, r.seq, "the forgery keeps every position");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_log_passes_plain_verify_and_fails_its_anchor() {
    let real = tempfile::tempdir().unwrap();
    ok(
        real.path(),
        &["import", "--backdated", sample().to_str().unwrap()],
    );
    let anchor = head_anchor(real.path());
    ok(real.path(), &["verify", "--anchor", &anchor]);

    let forged = tempfile::tempdir().unwrap();
    forge(&real.path().join("log"), &forged.path().join("log"), 2).await;

    // The limit: a recomputed chain and checkpoints pass plain verify.
    let forged_anchor = head_anchor(forged.path());
    assert_ne!(forged_anchor, anchor, "the rewrite changed the chain");

    // The anchor held outside the log catches it: exit 2, naming the
    // anchored position.
    let o = run(forged.path(), &["verify", "--anchor", &anchor]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let seq = anchor.split(':').next().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("sequence {seq}")) && err.contains("anchor"),
        "{err}"
    );
}

#[test]
fn seal_prints_its_anchor_and_bad_anchors_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["import", "--backdated", sample().to_str().unwrap()]);
    let out = ok(
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
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let anchor = v["anchor"].as_str().expect("seal prints its anchor");
    assert!(anchor.starts_with("541:"), "{anchor}");
    ok(d, &["verify", "--anchor", anchor]);

    // The printed pack of the same position carries the same anchor.
    let html = d.join("pack.html");
    ok(
        d,
        &[
            "pack",
            "--unit",
            "CG",
            "--period",
            "2016/17 Q1",
            "--as-of",
            "541",
            "--out",
            html.to_str().unwrap(),
        ],
    );
    let printed = std::fs::read_to_string(&html).unwrap();
    assert!(printed.contains(&format!("anchor {anchor}")), "pack footer");

    let wrong = format!("541:{}", "0".repeat(64));
    let o = run(d, &["verify", "--anchor", &wrong]);
    assert_eq!(o.status.code(), Some(2));
    for bad in ["541", "x:00", "0:00", "541:zz"] {
        let o = run(d, &["verify", "--anchor", bad]);
        assert!(!o.status.success(), "{bad}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("--anchor"),
            "{bad}: {o:?}"
        );
    }
}
