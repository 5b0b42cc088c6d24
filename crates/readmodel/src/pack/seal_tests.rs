//! Pack seals on the sample council's CG 2016/17 Q1 pack at the PCMC
//! seal's position, with a test-only rules version 2 that changes one
//! figure (the revenue total's variation is taken from the original
//! budget, not the revised one).

use std::path::Path;
use std::sync::Arc;

use perfledger_domain::{Fixed, Period, Text, Timestamp};
use perfledger_ledger::Ledger;
use perfledger_log::embedded::EmbeddedLog;
use perfledger_log::Seq;

use super::*;
use crate::pack::Num;
use crate::Projector;

/// Test-only rules v2: v1, except revenue variation = forecast − original.
fn derive_v2(rm: &ReadModel, unit: Option<&str>, period: Period, s: Seq) -> R<Pack> {
    let mut p = derive_v1(rm, unit, period, s)?;
    let t = &mut p.revenue_total;
    t.variation = Num(Fixed::from_raw(t.forecast.0.raw() - t.original.0.raw()));
    Ok(p)
}

fn rules() -> Rules {
    Rules::builtin().with(2, "v2-test", derive_v2)
}

async fn sample() -> (tempfile::TempDir, Arc<ReadModel>, Timestamp) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council");
    let mut opts = perfledger_import::ImportOptions::new(
        Text::new("test", "Performance Officer").unwrap(),
        Timestamp::parse("2026-01-01").unwrap(),
    );
    opts.backdated = true;
    let plan = perfledger_import::load_dir(&data, &opts).unwrap_or_else(|e| panic!("{e}"));
    let sealed_at = plan
        .seals
        .iter()
        .find(|s| s.seal_id == "PCMC-2016-09-06-CG-Q1")
        .expect("seals.csv holds the PCMC seal")
        .sealed_at;
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).await.unwrap());
    Ledger::new(log.clone(), "pl")
        .execute_batch(plan.submissions.clone(), |_, _| {})
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rm = ReadModel::open(dir.path().join("rm"), &plan.tenant).unwrap();
    Projector::new(&rm)
        .catch_up(&*log, &mut |_| {})
        .await
        .unwrap();
    (dir, Arc::new(rm), sealed_at)
}

fn q1() -> Period {
    Period::parse("2016/17 Q1").unwrap()
}

fn seal(rm: &ReadModel, id: u32, at: Timestamp) -> PackSealRecord {
    rm.pack_seal_record(&rules(), id, Some("CG"), q1(), AsOf::Time(at.0))
        .unwrap()
        .expect("rules known")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_seal_verifies_under_v1_while_a_v2_rederivation_differs() {
    let (_dir, rm, at) = sample().await;
    let v1 = seal(&rm, 1, at);
    eprintln!("CG 2016/17 Q1 pack: {} canonical bytes", v1.bytes.len());
    let council = rm
        .pack_seal_record(&rules(), 1, None, q1(), AsOf::Time(at.0))
        .unwrap()
        .unwrap();
    eprintln!("council-wide pack: {} canonical bytes", council.bytes.len());
    assert_eq!(v1.rules, RulesVersion::V1.id());
    assert_eq!(v1.format, PACK_FORMAT);
    assert_eq!(
        rm.verify_pack_seal(&v1, &rules()).unwrap(),
        SealOutcome::Matches
    );
    // The builtin rules (no v2) verify it too: v1 is frozen in the build.
    assert_eq!(
        rm.verify_pack_seal(&v1, &Rules::builtin()).unwrap(),
        SealOutcome::Matches
    );
    // The same content re-derived under v2 differs in exactly one figure.
    let claimed_v2 = PackSealRecord {
        rules: 2,
        ..v1.clone()
    };
    match rm.verify_pack_seal(&claimed_v2, &rules()).unwrap() {
        SealOutcome::Differs { figures } => {
            assert_eq!(figures.len(), 1, "{figures:?}");
            assert!(
                figures[0].starts_with("revenue_total.variation:"),
                "{figures:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A v2 seal verifies under v2, and where the build has no v2 that is
    // "derivation unavailable" (content intact), never tampering.
    let v2 = seal(&rm, 2, at);
    assert_ne!(v2.digest, v1.digest);
    assert_eq!(
        rm.verify_pack_seal(&v2, &rules()).unwrap(),
        SealOutcome::Matches
    );
    let outcome = rm.verify_pack_seal(&v2, &Rules::builtin()).unwrap();
    assert_eq!(outcome.name(), "derivation unavailable");
    assert_eq!(rules().name(2), "v2-test");
    assert_eq!(Rules::builtin().name(2), "#2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_content_and_unknown_rules_are_distinct_outcomes() {
    let (_dir, rm, at) = sample().await;
    let v1 = seal(&rm, 1, at);

    // A flipped byte no longer hashes to the digest.
    let mut flipped = v1.clone();
    let last = flipped.bytes.len() - 1;
    flipped.bytes[last] ^= 1;
    assert!(matches!(
        rm.verify_pack_seal(&flipped, &rules()).unwrap(),
        SealOutcome::ContentAltered { .. }
    ));

    // A consistent rewrite (figure changed, digest recomputed) is caught by
    // re-derivation, naming the figure.
    let mut pack = decode(&v1.bytes).unwrap();
    pack.revenue_total.forecast = Num(Fixed::from_raw(pack.revenue_total.forecast.0.raw() + 1));
    let bytes = canonical_bytes(&pack);
    let rewritten = PackSealRecord {
        digest: Sha256::digest(&bytes).into(),
        bytes,
        ..v1.clone()
    };
    match rm.verify_pack_seal(&rewritten, &rules()).unwrap() {
        SealOutcome::Differs { figures } => {
            assert_eq!(figures.len(), 1, "{figures:?}");
            assert!(
                figures[0].starts_with("revenue_total.forecast:"),
                "{figures:?}"
            );
        }
        other => panic!("{other:?}"),
    }

    // Rules this build does not know: content intact, derivation unavailable.
    let unknown = PackSealRecord {
        rules: 7,
        ..v1.clone()
    };
    assert_eq!(
        rm.verify_pack_seal(&unknown, &rules()).unwrap(),
        SealOutcome::DerivationUnavailable {
            reason: "rules version 7 unknown to this build".into()
        }
    );

    // A format byte this build does not know, intact: unavailable too.
    let future = vec![9u8, 1, 2, 3];
    let future = PackSealRecord {
        format: 9,
        digest: Sha256::digest(&future).into(),
        bytes: future,
        ..v1.clone()
    };
    assert_eq!(
        rm.verify_pack_seal(&future, &rules()).unwrap().name(),
        "derivation unavailable"
    );

    // Empty or garbage stored bytes never panic.
    let empty = PackSealRecord {
        bytes: vec![],
        ..v1.clone()
    };
    assert!(matches!(
        rm.verify_pack_seal(&empty, &rules()).unwrap(),
        SealOutcome::ContentAltered { .. }
    ));
}
