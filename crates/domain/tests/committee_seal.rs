//! Issue #14 item 4: seals with their own id, report title and time, as a
//! command and event appended at the end of their enums (old seal records
//! keep decoding: see golden.rs, whose vectors are unchanged).

mod common;

use common::*;
use perfledger_domain::aggregate::{apply, handle, new_state, Context};
use perfledger_domain::codec::{
    decode_command, decode_command_json, decode_commit, encode_command, encode_command_json,
    encode_commit,
};
use perfledger_domain::command::Command;
use perfledger_domain::event::{CommitteeSeal, EventBody, Seal};
use perfledger_domain::ids::EntityKind;
use perfledger_domain::{Date, DomainError, Period, Text, Timestamp};

fn t(s: &str) -> Text {
    Text::new("test", s).unwrap()
}

fn committee_seal(id: &str, meeting: &str) -> CommitteeSeal {
    CommitteeSeal {
        seal_id: t(id),
        title: Some(t("Commissioning Group – Q1 2016/17")),
        sealed_at: Timestamp::parse("2016-08-26T12:00:00Z").unwrap(),
        seal: Seal {
            unit: Some(t("CG")),
            period: Period::parse("2016/17 Q1").unwrap(),
            committee: t("PCMC"),
            meeting_date: Date::parse(meeting).unwrap(),
            seq: 541,
            digest: [7; 32],
        },
    }
}

#[test]
fn a_committee_seal_is_keyed_by_its_id_and_round_trips() {
    let seal = committee_seal("PCMC-2016-09-06-CG-Q1", "2016-09-06");
    let c = Command::SealCommitteeDashboard { seal: seal.clone() };
    assert_eq!(
        c.natural_key(),
        (EntityKind::Seal, "PCMC-2016-09-06-CG-Q1".to_string())
    );
    let ce = cmd(c);
    assert_eq!(decode_command(&encode_command(&ce).unwrap()).unwrap(), ce);
    assert_eq!(
        decode_command_json(&encode_command_json(&ce).unwrap()).unwrap(),
        ce
    );
    let mut state = new_state(EntityKind::Seal);
    let bodies = handle(&state, &ce, &Context::default()).unwrap();
    assert_eq!(
        bodies,
        vec![EventBody::CommitteeDashboardSealed { seal: seal.clone() }]
    );
    let commit = envelopes(&ce, bodies, 1_635_526_800_000);
    assert_eq!(
        decode_commit(&encode_commit(&commit).unwrap()).unwrap(),
        commit
    );
    for e in &commit {
        apply(&mut state, e);
    }
    // The same seal id again is a duplicate, never a replacement.
    assert!(matches!(
        handle(&state, &ce, &Context::default()),
        Err(DomainError::DuplicateDefinition { .. })
    ));
}

#[test]
fn a_meeting_before_the_period_or_a_blank_id_is_refused() {
    let early = cmd(Command::SealCommitteeDashboard {
        seal: committee_seal("X", "2016-03-31"),
    });
    let state = new_state(EntityKind::Seal);
    assert!(matches!(
        handle(&state, &early, &Context::default()),
        Err(DomainError::Invalid {
            field: "meeting date",
            ..
        })
    ));
    let mut blank = committee_seal("X", "2016-09-06");
    blank.seal_id = t(" ");
    let blank = cmd(Command::SealCommitteeDashboard { seal: blank });
    assert!(handle(&state, &blank, &Context::default()).is_err());
}

/// Issue #13 item 3: a pack seal (appended variants) pins the pack; it is
/// keyed by the seal id like a committee seal, round-trips through both
/// codecs, and refuses bytes that do not open with their format byte.
#[test]
fn a_pack_seal_pins_its_pack_and_round_trips() {
    use perfledger_domain::event::PackPin;
    let seal = committee_seal("PCMC-2016-09-06-CG-Q1", "2016-09-06");
    let pack = PackPin {
        chain_root: [3; 32],
        format: 1,
        rules: 1,
        digest: [5; 32],
        bytes: vec![1, 0, 9, 9],
    };
    let c = Command::SealCommitteePack {
        seal: seal.clone(),
        pack: pack.clone(),
    };
    assert_eq!(postcard::to_allocvec(&c).unwrap()[0], 28, "appended last");
    assert_eq!(
        c.natural_key(),
        (EntityKind::Seal, "PCMC-2016-09-06-CG-Q1".to_string())
    );
    let ce = cmd(c);
    assert_eq!(decode_command(&encode_command(&ce).unwrap()).unwrap(), ce);
    assert_eq!(
        decode_command_json(&encode_command_json(&ce).unwrap()).unwrap(),
        ce
    );
    let mut state = new_state(EntityKind::Seal);
    let bodies = handle(&state, &ce, &Context::default()).unwrap();
    assert_eq!(
        bodies,
        vec![EventBody::CommitteePackSealed {
            seal: seal.clone(),
            pack: pack.clone()
        }]
    );
    assert_eq!(postcard::to_allocvec(&bodies[0]).unwrap()[0], 28);
    let commit = envelopes(&ce, bodies, 1_635_526_800_000);
    assert_eq!(
        decode_commit(&encode_commit(&commit).unwrap()).unwrap(),
        commit
    );
    for e in &commit {
        apply(&mut state, e);
    }
    assert!(matches!(
        handle(&state, &ce, &Context::default()),
        Err(DomainError::DuplicateDefinition { .. })
    ));
    let bad = cmd(Command::SealCommitteePack {
        seal,
        pack: PackPin {
            bytes: vec![2, 0],
            ..pack
        },
    });
    assert!(matches!(
        handle(&new_state(EntityKind::Seal), &bad, &Context::default()),
        Err(DomainError::Invalid { field: "pack", .. })
    ));
}
