//! The generator's output, pinned.

use super::*;

/// FNV-1a over every commit as appended (subject, dedupe id, recorded
/// time, payload) and the number of events.
fn fingerprint(shape: Shape, seed: u64) -> (u64, u64) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    let mut gen = Generator::new(shape, seed);
    for events in gen.by_ref() {
        let c = to_commit(&events).expect("generated commit encodes");
        eat(c.subject.as_str().as_bytes());
        eat(c.msg_id.as_bytes());
        eat(&c.recorded_at.to_be_bytes());
        eat(&c.payload);
    }
    (h, gen.events_produced())
}

/// Benchmarks and tests compare against figures of generated councils:
/// the generator's output is pinned byte for byte (a change here is a
/// change of every generated log, not a refactoring).
#[test]
fn generated_logs_are_pinned() {
    let monthly = Shape {
        monthly_per_mille: 500,
        monthly_reports: true,
        ..Shape::small()
    };
    let medium = Shape {
        units: 3,
        indicators: 40,
        actions: 10,
        risks: 10,
        revenue_lines: 5,
        capital_lines: 3,
        savings: 4,
        first_year: 2013,
        years: 6,
        monthly_per_mille: 300,
        restate_per_mille: 300,
        monthly_reports: false,
    };
    let got = [
        fingerprint(Shape::small(), 7),
        fingerprint(monthly, 11),
        fingerprint(medium, 2024),
    ];
    assert_eq!(
        got,
        [
            (11_275_753_615_636_348_366, 277),
            (6_404_924_209_625_636_954, 671),
            (5_182_797_737_082_021_807, 4_521),
        ]
    );
}
