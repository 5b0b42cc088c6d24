//! `verify`: the log's hash chain and checkpoints (and, with `--anchor
//! SEQ:ROOT`, the chain root at SEQ), command ids used once, and every seal
//! re-derived: a pack seal is judged matches / content altered /
//! re-derivation differs / derivation unavailable (the last not a failure)
//! and its pinned chain root checked. Findings are printed, not raised:
//! exit 0 when everything holds, 2 when anything does not (also for a log
//! that cannot be read back at all).

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use perfledger_domain::event::PackPin;
use perfledger_log::{integrity, EventLog, LogError, Seq};
use perfledger_readmodel::{AsOf, ReadModel};

use crate::args::{Format, Global};
use crate::env::Env;
use crate::error::{CliError, Res};

/// `verify` on a log that cannot be opened: the unreadable record is the
/// first bad sequence (exit 2, as for every problem `verify` finds).
pub fn unreadable_log(g: &Global, e: &LogError) -> ExitCode {
    let seq = match e {
        LogError::Corrupt { seq, .. } => Some(*seq).filter(|s| *s > 0),
        LogError::Gap { expected, .. } => Some(*expected),
        _ => None,
    };
    let problem = match seq {
        Some(seq) => format!("log record {seq}: unreadable: {e}"),
        None => format!("log unreadable: {e}"),
    };
    match g.format {
        Format::Json => out!(
            "{}",
            serde_json::json!({
                "ok": false,
                "records_checked": 0,
                "last_checkpoint": null,
                "uncovered_tail": null,
                "first_bad_seq": seq,
                "seals_checked": 0,
                "problems": [problem],
            })
        ),
        _ => out!("PROBLEM: {problem}"),
    }
    match seq {
        Some(seq) => eprintln!("error: verification failed at sequence {seq}: {e}"),
        None => eprintln!("error: verification failed: {e}"),
    }
    ExitCode::from(2)
}

/// `SEQ:ROOT` (ROOT = 64 hex digits of a chain root) as printed by `seal`
/// and `verify`.
pub fn parse_anchor(text: &str) -> Res<(Seq, integrity::Hash)> {
    let bad = |why: &str| {
        CliError::Usage(format!(
            "--anchor {:?}: {why}; expected SEQ:ROOT as printed by `perfledger seal` or `verify` (e.g. 541:9f86d0…, 64 hex digits)",
            text.chars().take(100).collect::<String>()
        ))
    };
    let (seq, root) = text.split_once(':').ok_or_else(|| bad("no ':'"))?;
    let seq: Seq = seq
        .parse()
        .map_err(|_| bad("the sequence is not a whole number"))?;
    if seq == 0 {
        return Err(bad("sequences start at 1"));
    }
    let mut hash = [0u8; 32];
    hex::decode_to_slice(root, &mut hash).map_err(|_| bad("the root is not 64 hex digits"))?;
    Ok((seq, hash))
}

/// The chain root is kept after every this many records of the verify
/// pass: a seal's root is then stepped from the nearest one (at most this
/// many records read again) rather than from the log's start. 40 bytes
/// each: 100 KB for ten million records.
const ROOT_EVERY: Seq = 4096;

pub async fn verify(env: &Env, anchor: Option<(Seq, integrity::Hash)>) -> Res<ExitCode> {
    // One pass over the log: the chain and checkpoints, every commit's
    // command id (decoded on a thread of its own), and the chain roots
    // every ROOT_EVERY records and at the last record (what the seals'
    // roots are stepped from).
    let mut command_ids = perfledger_ledger::CommandIdThread::new();
    let mut known_roots = BTreeMap::new();
    let mut last_root = (0, integrity::ZERO);
    let report = integrity::verify_each(&*env.log, anchor, |r, root| {
        command_ids.push(r.seq, r.checkpoint, &r.payload);
        if r.seq % ROOT_EVERY == 0 {
            known_roots.insert(r.seq, *root);
        }
        last_root = (r.seq, *root);
    })
    .await?;
    known_roots.insert(last_root.0, last_root.1);
    let command_ids = command_ids.finish();
    // The head's anchor, to keep outside the log (only for an intact chain).
    let mut head_anchor = None;
    let mut problems: Vec<String> = Vec::new();
    if let Some((seq, p)) = &report.first_bad {
        problems.push(format!("log record {seq}: {p}"));
    }
    let mut seals = SealFindings::default();
    if report.ok() {
        // Command ids are used once: two stored commits with one id mean a
        // command was stored twice or an id was reused (issue #14 item 2).
        for r in command_ids.finish(&*env.log).await? {
            problems.push(format!(
                "log record {}: command id {} reused (first stored at sequence {})",
                r.seq, r.command_id, r.first_seq
            ));
        }
        let rm = env.caught_up().await?;
        let head = env.log.head().await?;
        // The head's root and every pack seal's, each from the nearest
        // root the pass kept (the head may have moved since).
        let mut positions: BTreeSet<Seq> = BTreeSet::from([head]);
        for s in rm.seals(AsOf::Head)? {
            if rm.seal_pack(s.seq, s.index)?.is_some() {
                positions.insert(s.seal.seq);
            }
        }
        let roots = integrity::chain_roots_from(&*env.log, &known_roots, &positions).await?;
        let root_at = |seq: Seq| {
            *roots
                .get(&seq)
                .expect("chain_roots_from returns a root for every position asked")
        };
        head_anchor = Some(format!("{head}:{}", hex::encode(root_at(head))));
        seals = check_seals(&rm, &root_at, &mut problems)?;
    }
    let ok = problems.is_empty();
    match env.g.format {
        Format::Json => out!(
            "{}",
            serde_json::json!({
                "ok": ok,
                "records_checked": report.checked,
                "last_checkpoint": report.last_checkpoint.map(|c| c.upto),
                "uncovered_tail": report.uncovered_tail,
                "first_bad_seq": report.first_bad.as_ref().map(|b| b.0),
                "seals_checked": seals.checked,
                "seals": seals.lines,
                "anchor_checked": anchor.map(|(seq, _)| seq),
                "head_anchor": head_anchor,
                "problems": problems,
            })
        ),
        _ => print_report(&report, &seals, &problems, anchor, head_anchor.as_deref()),
    }
    if ok {
        Ok(ExitCode::SUCCESS)
    } else {
        if let Some((seq, p)) = &report.first_bad {
            eprintln!("error: verification failed at sequence {seq}: {p}");
        } else {
            eprintln!("error: verification failed: {}", problems[0]);
        }
        Ok(ExitCode::from(2))
    }
}

/// What re-deriving the seals found: how many, and one outcome line each
/// (the JSON objects the report prints).
#[derive(Default)]
struct SealFindings {
    checked: usize,
    lines: Vec<serde_json::Value>,
}

/// Re-derive every seal at the head; problems are added to `problems`.
fn check_seals(
    rm: &ReadModel,
    root_at: &dyn Fn(Seq) -> integrity::Hash,
    problems: &mut Vec<String>,
) -> Res<SealFindings> {
    let mut found = SealFindings::default();
    let rules = perfledger_readmodel::pack::Rules::builtin();
    for s in rm.seals(AsOf::Head)? {
        found.checked += 1;
        if let Some(pin) = rm.seal_pack(s.seq, s.index)? {
            let (line, problem) = verify_pack_seal(rm, &rules, &s, &pin, root_at(s.seal.seq))?;
            problems.extend(problem);
            found.lines.push(line);
        } else {
            found.lines.push(serde_json::json!({
                "seal": s.seal_id.clone().unwrap_or_else(|| format!("sequence {}", s.seq)),
                "seq": s.seq,
                "kind": "dashboard",
                "rules": null,
                "outcome": "dashboard digest checked",
            }));
        }
        let v = rm.verify_seal(&s.seal)?;
        if !v.matches {
            problems.push(format!(
                "seal at sequence {} ({} {}): re-derived digest {} differs from sealed {}",
                s.seq,
                s.seal.unit.as_ref().map_or("council", |u| u.as_str()),
                s.seal.period,
                v.actual_digest,
                v.expected_digest
            ));
        }
    }
    Ok(found)
}

/// The human report: coverage, one line per seal, the problems, the
/// anchors.
fn print_report(
    report: &integrity::VerifyReport,
    seals: &SealFindings,
    problems: &[String],
    anchor: Option<(Seq, integrity::Hash)>,
    head_anchor: Option<&str>,
) {
    let coverage = match (report.last_checkpoint, report.ok()) {
        (Some(c), true) => format!(
            "the last checkpoint (record {}) vouches for records 1..={}; {} records after it are not covered by a checkpoint yet",
            c.seq, c.upto, report.uncovered_tail
        ),
        (Some(c), false) => format!(
            "the last checkpoint that held before the problem (record {}) vouches for records 1..={}",
            c.seq, c.upto
        ),
        (None, true) => format!(
            "no checkpoint yet: none of the {} records is covered by one",
            report.uncovered_tail
        ),
        (None, false) => "no checkpoint held before the problem".to_string(),
    };
    out!(
        "checked {} records; {coverage}; {} seals re-derived",
        report.checked,
        seals.checked
    );
    for l in &seals.lines {
        out!(
            "seal {} (sequence {}): {}{}: {}",
            l["seal"].as_str().unwrap_or("-"),
            l["seq"],
            l["kind"].as_str().unwrap_or("-"),
            l["rules"]
                .as_str()
                .map_or(String::new(), |r| format!(", rules {r}")),
            l["outcome"].as_str().unwrap_or("-")
        );
    }
    for p in problems {
        out!("PROBLEM: {p}");
    }
    if let (Some((seq, _)), true) = (anchor, report.ok()) {
        out!("the log up to sequence {seq} hashes to the given anchor");
    }
    if let Some(a) = head_anchor {
        out!("anchor of the head (keep it outside the log; check with verify --anchor): {a}");
    }
    if problems.is_empty() {
        out!("OK: hash chain, checkpoints and seals verified");
    }
}

/// Verify one pack seal (issue #13): its outcome line for the report and,
/// unless it matches or cannot be derived by this build (content intact:
/// never tampering), the problem to report.
fn verify_pack_seal(
    rm: &ReadModel,
    rules: &perfledger_readmodel::pack::Rules,
    s: &perfledger_readmodel::SealRecord,
    pin: &PackPin,
    root: integrity::Hash,
) -> Res<(serde_json::Value, Option<String>)> {
    use perfledger_readmodel::pack::{PackSealRecord, SealOutcome};
    let name = s
        .seal_id
        .clone()
        .unwrap_or_else(|| format!("sequence {}", s.seq));
    let outcome = rm.verify_pack_seal(&PackSealRecord::of(&s.seal, pin), rules)?;
    let detail = match &outcome {
        SealOutcome::Matches => None,
        SealOutcome::ContentAltered { stored_digest } => Some(format!(
            "stored pack bytes hash to {stored_digest}, not the sealed digest {}",
            hex::encode(pin.digest)
        )),
        SealOutcome::DerivationUnavailable { reason } => Some(reason.clone()),
        SealOutcome::Differs { figures } => Some(figures.join("; ")),
    };
    let mut problem = match &outcome {
        SealOutcome::Matches | SealOutcome::DerivationUnavailable { .. } => None,
        _ => Some(format!(
            "seal {name} at sequence {}: {}: {}",
            s.seq,
            outcome.name(),
            detail.clone().unwrap_or_default()
        )),
    };
    if root != pin.chain_root {
        problem.get_or_insert(format!(
            "seal {name} at sequence {}: the chain root at sequence {} is {}, not the sealed {}",
            s.seq,
            s.seal.seq,
            hex::encode(root),
            hex::encode(pin.chain_root)
        ));
    }
    let line = serde_json::json!({
        "seal": name,
        "seq": s.seq,
        "kind": "pack",
        "rules": rules.name(pin.rules),
        "outcome": outcome.name(),
        "detail": detail,
    });
    Ok((line, problem))
}
