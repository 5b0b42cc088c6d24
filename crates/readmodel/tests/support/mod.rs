//! Helpers shared by the read-model tests.
#![allow(dead_code)]

use bytes::Bytes;
use perfledger_domain::Envelope;
use perfledger_log::{LogRecord, Subject};
use perfledger_testkit::council::{to_commit, Generator, Shape};
use uuid::Uuid;

/// Log records (seq 1..) of a generated council, with an integrity
/// checkpoint record (`pl.chk`) after every `chk_every` records.
pub fn records(shape: Shape, seed: u64, chk_every: usize) -> (Vec<LogRecord>, Vec<Vec<Envelope>>) {
    let mut out = Vec::new();
    let mut commits = Vec::new();
    for events in Generator::new(shape, seed) {
        let c = to_commit(&events).expect("generated commit encodes");
        let seq = out.len() as u64 + 1;
        out.push(LogRecord {
            seq,
            subject: c.subject,
            msg_id: c.msg_id,
            recorded_at: c.recorded_at,
            payload: c.payload,
        });
        commits.push(events);
        if chk_every > 0 && out.len() % chk_every == 0 {
            let seq = out.len() as u64 + 1;
            let at = out.last().map(|r: &LogRecord| r.recorded_at).unwrap_or(0);
            out.push(LogRecord {
                seq,
                subject: Subject::checkpoint("pl").expect("checkpoint subject"),
                msg_id: Uuid::from_u64_pair(seq, 7),
                recorded_at: at,
                payload: Bytes::from_static(b"not a domain commit"),
            });
            commits.push(Vec::new());
        }
    }
    (out, commits)
}
