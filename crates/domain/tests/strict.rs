//! Issue #14 item 11 (decoder parts): inputs that used to be accepted are
//! refused, and decoder errors say what failed, where.

mod common;

use std::path::PathBuf;

use common::{cmd, t};
use perfledger_domain::codec::{decode_command_json, encode_command_json, CodecError};
use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::period::Period;
use perfledger_domain::{decode_command, encode_command};
use uuid::Uuid;

fn golden_json() -> Vec<String> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto/golden/commands_all.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn close() -> CommandEnvelope {
    cmd(Command::ClosePeriod {
        period: Period::parse("2016/17 Q1").unwrap(),
    })
}

fn malformed(r: Result<CommandEnvelope, CodecError>) -> String {
    match r {
        Err(CodecError::Malformed { detail, .. }) => detail,
        other => panic!("expected a malformed-input error, got {other:?}"),
    }
}

#[test]
fn json_commands_with_unknown_fields_are_refused() {
    let lines = golden_json();
    // every golden line still decodes (the JSON shapes are unchanged)
    for l in &lines {
        decode_command_json(l).unwrap();
    }
    let define = &lines[0];
    let record = &lines[5];
    assert!(record.contains("\"RecordResult\":{\"indicator\""));
    for (what, hostile) in [
        // a field beside the envelope's own
        ("envelope", define.replacen('{', "{\"is_admin\":true,", 1)),
        // inside a command variant
        (
            "variant",
            record.replacen(
                "\"RecordResult\":{",
                "\"RecordResult\":{\"is_admin\":true,",
                1,
            ),
        ),
        // inside a nested spec
        (
            "spec",
            define.replacen("\"spec\":{", "\"spec\":{\"is_admin\":true,", 1),
        ),
    ] {
        let detail = malformed(decode_command_json(&hostile));
        assert!(
            detail.contains("unknown field `is_admin`"),
            "{what}: {detail}"
        );
    }
}

#[test]
fn the_nil_uuid_is_refused_as_command_id_and_correlation_id() {
    for field in ["command_id", "correlation_id"] {
        let mut ce = close();
        match field {
            "command_id" => ce.command_id = Uuid::nil(),
            _ => ce.correlation_id = Uuid::nil(),
        }
        let nil = |r: Result<_, CodecError>| match r {
            Err(CodecError::NilId { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected NilId, got {other:?}"),
        };
        nil(encode_command(&ce).map(|_| ()));
        nil(encode_command_json(&ce).map(|_| ()));
        // bytes a foreign encoder might send
        let mut raw = vec![1u8];
        raw.extend(postcard::to_allocvec(&ce).unwrap());
        nil(decode_command(&raw).map(|_| ()));
        let json = serde_json::to_string(&ce).unwrap();
        nil(decode_command_json(&json).map(|_| ()));
    }
}

#[test]
fn non_canonical_varints_are_refused() {
    let ce = close();
    let good = encode_command(&ce).unwrap();
    assert_eq!(decode_command(&good).unwrap(), ce);
    // byte 1 is the command id's length prefix, varint 16 = 0x10; 0x90 0x00
    // is an over-long encoding of the same 16
    assert_eq!(good[1], 0x10);
    let mut long = good.clone();
    long.splice(1..2, [0x90, 0x00]);
    assert!(matches!(
        decode_command(&long),
        Err(CodecError::NonCanonical { offset: 1, .. })
    ));
    // the same for the period's year (a zigzag i32 at the end)
    let tail = postcard::to_allocvec(&ce.command).unwrap();
    let mut long = good.clone();
    let last = long.len() - 1; // quarter number (u8), before it the year varint
    let year_at = last - (tail.len() - 3);
    let year = long[year_at..last].to_vec();
    assert!(year.len() >= 2 && year[year.len() - 1] < 0x80);
    let mut padded = year.clone();
    let n = padded.len();
    padded[n - 1] |= 0x80;
    padded.push(0x00);
    long.splice(year_at..last, padded);
    assert!(
        matches!(decode_command(&long), Err(CodecError::NonCanonical { .. })),
        "{:?}",
        decode_command(&long)
    );
}

#[test]
fn postcard_errors_name_the_finding_the_field_and_the_offset() {
    let ce = close();
    let good = encode_command(&ce).unwrap();
    let tail = postcard::to_allocvec(&ce.command).unwrap();
    let prefix = &good[..good.len() - tail.len()];

    // an unknown command variant
    let mut bad = prefix.to_vec();
    bad.extend_from_slice(&[99, 0]);
    let detail = malformed(decode_command(&bad));
    assert!(!detail.contains("Serde Deserialization Error"), "{detail}");
    assert!(detail.contains("unknown enum variant"), "{detail}");
    assert!(detail.contains("in `command`"), "{detail}");
    assert!(
        detail.contains(&format!("stopped at byte {}", prefix.len() + 1)),
        "{detail}"
    );

    // a tenant that is not a tenant token: the type's own message
    let pos = good.windows(7).position(|w| w == b"\x06barnet").unwrap();
    let mut bad = good.clone();
    bad[pos + 1..pos + 7].copy_from_slice(b"BARNET");
    let detail = malformed(decode_command(&bad));
    assert!(detail.contains("in `tenant`"), "{detail}");
    assert!(detail.to_lowercase().contains("tenant"), "{detail}");
    assert!(!detail.contains("Serde Deserialization Error"), "{detail}");

    // a text with a NUL byte: the text's own rule, under its field
    let mut with_actor = ce.clone();
    with_actor.actor = t("abc");
    let good = encode_command(&with_actor).unwrap();
    let pos = good.windows(4).position(|w| w == b"\x03abc").unwrap();
    let mut bad = good.clone();
    bad[pos + 2] = 0;
    let detail = malformed(decode_command(&bad));
    assert!(detail.contains("in `actor`"), "{detail}");
    assert!(detail.contains("NUL"), "{detail}");

    // cut short: says so, and where
    let detail = malformed(decode_command(&good[..good.len() - 1]));
    assert!(detail.contains("ends early"), "{detail}");
    assert!(detail.contains("in `command."), "{detail}");
}

#[test]
fn commit_errors_name_the_event_and_the_field() {
    use common::envelopes;
    use perfledger_domain::event::EventBody;
    use perfledger_domain::{decode_commit, encode_commit};
    let ce = close();
    let commit = envelopes(
        &ce,
        vec![
            EventBody::PeriodClosed {
                period: Period::parse("2016/17 Q1").unwrap(),
            },
            EventBody::PeriodClosed {
                period: Period::parse("2016/17 Q2").unwrap(),
            },
        ],
        1,
    );
    let good = encode_commit(&commit).unwrap();
    // the second event's tenant
    let pos = good.windows(7).rposition(|w| w == b"\x06barnet").unwrap();
    let mut bad = good.clone();
    bad[pos + 1] = b'B';
    match decode_commit(&bad) {
        Err(CodecError::Malformed { detail, .. }) => {
            assert!(detail.contains("in `event 1: tenant`"), "{detail}");
            assert!(
                detail.contains(&format!("stopped at byte {}", pos + 7)),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
}
