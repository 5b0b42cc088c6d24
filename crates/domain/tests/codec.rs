//! Codec limits and hostile input.

mod common;

use common::{cmd, envelopes, spec, t};
use perfledger_domain::codec::{CodecError, MAX_COMMIT_BYTES, MAX_EVENTS_PER_COMMIT};
use perfledger_domain::command::Command;
use perfledger_domain::event::EventBody;
use perfledger_domain::indicator::{DataType, Frequency};
use perfledger_domain::period::Period;
use perfledger_domain::{decode_command, decode_commit, encode_command, encode_commit};

fn close(p: &str) -> Command {
    Command::ClosePeriod {
        period: Period::parse(p).unwrap(),
    }
}

#[test]
fn nested_post_close_restatements_are_refused_both_ways() {
    let nested = Command::PostCloseRestatement {
        reason: t("a"),
        command: Box::new(Command::PostCloseRestatement {
            reason: t("b"),
            command: Box::new(close("2016/17 Q1")),
        }),
    };
    let ce = cmd(nested);
    assert!(matches!(encode_command(&ce), Err(CodecError::Limit { .. })));
    let mut raw = vec![1u8];
    raw.extend(postcard::to_allocvec(&ce).unwrap());
    assert!(matches!(
        decode_command(&raw),
        Err(CodecError::Malformed { .. })
    ));
    // one level decodes fine, and the guard resets after an error
    let ok = cmd(Command::PostCloseRestatement {
        reason: t("a"),
        command: Box::new(close("2016/17 Q1")),
    });
    assert_eq!(decode_command(&encode_command(&ok).unwrap()).unwrap(), ok);
}

#[test]
fn deeply_nested_hostile_command_does_not_overflow_the_stack() {
    let leaf = close("2016/17 Q1");
    let ce = cmd(leaf.clone());
    let full = encode_command(&ce).unwrap();
    let tail = postcard::to_allocvec(&leaf).unwrap();
    let prefix = &full[..full.len() - tail.len()];
    let mut hostile = prefix.to_vec();
    for _ in 0..100_000 {
        hostile.extend_from_slice(&[26, 0]); // PostCloseRestatement, empty reason
    }
    hostile.extend_from_slice(&tail);
    assert!(decode_command(&hostile).is_err());
}

#[test]
fn commit_limits() {
    let ce = cmd(Command::DefineIndicator {
        spec: spec("CG/S24", Frequency::Quarterly, DataType::Percentage),
    });
    assert!(matches!(
        encode_commit(&[]),
        Err(CodecError::EventCount { count: 0, .. })
    ));
    let many = envelopes(
        &ce,
        vec![EventBody::IndicatorRetired { reason: t("x") }; MAX_EVENTS_PER_COMMIT + 1],
        1,
    );
    assert!(matches!(
        encode_commit(&many),
        Err(CodecError::EventCount { .. })
    ));
    let mut mixed = envelopes(
        &ce,
        vec![EventBody::IndicatorRetired { reason: t("x") }; 2],
        1,
    );
    mixed[1].recorded_at.0 += 1;
    assert!(matches!(
        encode_commit(&mixed),
        Err(CodecError::Inconsistent {
            index: 1,
            field: "recorded_at"
        })
    ));
    let mut bad_version = envelopes(&ce, vec![EventBody::IndicatorRetired { reason: t("x") }], 1);
    bad_version[0].schema_version = 9;
    assert!(matches!(
        encode_commit(&bad_version),
        Err(CodecError::SchemaVersion { version: 9, .. })
    ));
    // over-size input is refused before parsing
    assert!(matches!(
        decode_commit(&vec![1u8; MAX_COMMIT_BYTES + 1]),
        Err(CodecError::TooLarge { .. })
    ));
    assert!(matches!(decode_commit(&[]), Err(CodecError::Empty { .. })));
    assert!(matches!(
        decode_commit(&[3, 0]),
        Err(CodecError::UnsupportedVersion { version: 3, .. })
    ));
    // trailing bytes
    let ok = envelopes(&ce, vec![EventBody::IndicatorRetired { reason: t("x") }], 1);
    let mut bytes = encode_commit(&ok).unwrap();
    bytes.push(0);
    assert!(matches!(
        decode_commit(&bytes),
        Err(CodecError::Trailing { count: 1, .. })
    ));
    // a text over the limit cannot be built, nor decoded
    let long = "x".repeat(perfledger_domain::text::MAX_TEXT_BYTES + 1);
    assert!(perfledger_domain::Text::new("reason", &long).is_err());
}
