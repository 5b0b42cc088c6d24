//! Property tests: round trips, robustness on arbitrary input, monotonic
//! RAG and direction of travel, deterministic replay.

mod common;

use common::strategies::*;
use perfledger_domain::aggregate::{new_state, AggregateState};
use perfledger_domain::codec::{decode_command_json, encode_command_json};
use perfledger_domain::direction::{direction, Direction};
use perfledger_domain::event::Envelope;
use perfledger_domain::indicator::{Comparator, Polarity, ResultValue, Target, Value};
use perfledger_domain::rag::{rate, ToleranceScheme};
use perfledger_domain::{
    decode_command, decode_commit, encode_command, encode_commit, parse, Fixed, Period,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn every_commit_round_trips(events in commit()) {
        let bytes = encode_commit(&events).unwrap();
        prop_assert_eq!(decode_commit(&bytes).unwrap(), events);
    }

    #[test]
    fn every_command_round_trips_postcard_and_json(ce in command_envelope()) {
        let bytes = encode_command(&ce).unwrap();
        prop_assert_eq!(&decode_command(&bytes).unwrap(), &ce);
        let json = encode_command_json(&ce).unwrap();
        prop_assert_eq!(decode_command_json(&json).unwrap(), ce);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_commit(&bytes);
        let _ = decode_command(&bytes);
        let mut with_header = vec![1u8];
        with_header.extend_from_slice(&bytes);
        let _ = decode_commit(&with_header);
        let _ = decode_command(&with_header);
    }

    #[test]
    fn mutated_commits_never_panic(events in commit(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = encode_commit(&events).unwrap();
        for (i, b) in flips {
            let n = bytes.len();
            bytes[i % n] ^= b;
        }
        let _ = decode_commit(&bytes);
        bytes.truncate(bytes.len() / 2);
        let _ = decode_commit(&bytes);
    }

    #[test]
    fn parsers_never_panic(s in "\\PC{0,40}") {
        let _ = parse::parse_amount(&s);
        let _ = parse::parse_value(&s);
        let _ = parse::parse_result(&s);
        let _ = parse::parse_target(&s);
        let _ = parse::parse_benchmark(&s);
        let _ = parse::parse_polarity(&s);
        let _ = parse::parse_frequency(&s);
        let _ = Period::parse(&s);
        let _ = perfledger_domain::Timestamp::parse(&s);
        let _ = decode_command_json(&s);
    }

    #[test]
    fn period_labels_round_trip(p in period()) {
        prop_assert_eq!(Period::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn fixed_display_round_trips(v in any::<i64>()) {
        let f = Fixed::from_raw(v);
        prop_assert_eq!(Fixed::parse_full(&f.to_string()).unwrap(), f);
    }

    #[test]
    fn rag_is_monotonic_in_the_result(
        a in -2_000_000i64..2_000_000,
        b in -2_000_000i64..2_000_000,
        bar in -1_000_000i64..1_000_000,
        prev in proptest::option::of(-2_000_000i64..2_000_000),
        scheme in prop_oneof![
            (0u32..3000, 0u32..3000).prop_map(|(x, y)| ToleranceScheme::four_level(x.min(y), x.max(y))),
            (0u32..3000).prop_map(|r| ToleranceScheme::ThreeLevel { red_from_bp: r }),
            (0u32..3000).prop_map(|g| ToleranceScheme::DirectionDependent { green_max_bp: g }),
        ],
        bigger in any::<bool>(),
        cmp in prop_oneof![Just(Comparator::Plain), Just(Comparator::AtLeast), Just(Comparator::AtMost)],
    ) {
        let polarity = if bigger { Polarity::BiggerIsBetter } else { Polarity::SmallerIsBetter };
        // a comparator must agree with the polarity for "better" to be defined
        let cmp = match (cmp, bigger) {
            (Comparator::AtLeast, false) | (Comparator::AtMost, true) => Comparator::Plain,
            (c, _) => c,
        };
        let (lo, hi) = (a.min(b), a.max(b));
        let (worse, better) = if bigger { (lo, hi) } else { (hi, lo) };
        let target = Target::Numeric { comparator: cmp, value: Value::Percent(Fixed::from_raw(bar)), note: None };
        let res = |v: i64| ResultValue::Measured { value: Value::Percent(Fixed::from_raw(v)), source_rag: None, label: None };
        let prev_v = prev.map(|p| Value::Percent(Fixed::from_raw(p)));
        let rw = rate(&scheme, polarity, &target, &res(worse), prev_v.as_ref()).unwrap();
        let rb = rate(&scheme, polarity, &target, &res(better), prev_v.as_ref()).unwrap();
        prop_assert!(rb <= rw, "better result {better} rated {rb:?}, worse {worse} rated {rw:?}");
        // monitor is never rated
        prop_assert!(rate(&scheme, polarity, &Target::Monitor, &res(better), None).is_none());
    }

    #[test]
    fn direction_is_monotonic_in_the_result(a in any::<i32>(), b in any::<i32>(), prev in any::<i32>(), bigger in any::<bool>()) {
        let polarity = if bigger { Polarity::BiggerIsBetter } else { Polarity::SmallerIsBetter };
        let (lo, hi) = (a.min(b), a.max(b));
        let (worse, better) = if bigger { (lo, hi) } else { (hi, lo) };
        let v = |x: i32| Value::Count(Fixed::from_raw(i64::from(x)));
        let rank = |d: Direction| match d { Direction::Improving => 0, Direction::Same => 1, Direction::Worsening => 2 };
        let dw = direction(polarity, &v(worse), &v(prev)).unwrap();
        let db = direction(polarity, &v(better), &v(prev)).unwrap();
        prop_assert!(rank(db) <= rank(dw));
        prop_assert_eq!(direction(polarity, &v(prev), &v(prev)), Some(Direction::Same));
    }

    #[test]
    fn applying_the_same_events_twice_gives_identical_state(events in proptest::collection::vec(commit(), 1..6)) {
        let log: Vec<Envelope> = events.into_iter().flatten().collect();
        for kind in perfledger_domain::EntityKind::ALL {
            let replay = || {
                let mut s: AggregateState = new_state(kind);
                for e in &log {
                    perfledger_domain::apply(&mut s, e);
                }
                s
            };
            prop_assert_eq!(replay(), replay());
        }
    }
}
