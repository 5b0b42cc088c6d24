//! A deterministic id source for the ledger ([`perfledger_ledger::IdSource`]).
//!
//! Invariant: the n-th id handed out (1-based) is [`SequentialIds::id`]`(millis, n)`
//! and nothing else: no clock, no randomness, so a test can name every event
//! id in advance and two runs of the same commands store the same bytes. The
//! ids are well-formed UUID v7 (version and variant bits set, `millis` as the
//! timestamp, the counter below it), never nil, rising with `n`.

use std::sync::atomic::{AtomicU64, Ordering};

use perfledger_ledger::IdSource;
use uuid::{Builder, Uuid};

/// Hands out [`SequentialIds::id`]`(millis, 1)`, `(millis, 2)`, ... in order.
#[derive(Debug)]
pub struct SequentialIds {
    millis: u64,
    handed_out: AtomicU64,
}

impl SequentialIds {
    /// A source whose ids carry the timestamp `millis` (ms since the epoch).
    pub fn new(millis: u64) -> Self {
        SequentialIds {
            millis,
            handed_out: AtomicU64::new(0),
        }
    }

    /// The `n`-th id (1-based) of a source created with `millis`.
    pub fn id(millis: u64, n: u64) -> Uuid {
        assert!(
            (1..1 << 62).contains(&n),
            "the counter has 62 bits below the variant"
        );
        let mut counter = [0u8; 10];
        counter[2..].copy_from_slice(&n.to_be_bytes());
        Builder::from_unix_timestamp_millis(millis, &counter).into_uuid()
    }

    /// How many ids it has handed out.
    pub fn handed_out(&self) -> u64 {
        self.handed_out.load(Ordering::SeqCst)
    }
}

impl IdSource for SequentialIds {
    fn next_id(&self) -> Uuid {
        let n = self.handed_out.fetch_add(1, Ordering::SeqCst) + 1;
        SequentialIds::id(self.millis, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_distinct_and_rising() {
        let ids = SequentialIds::new(1_470_000_000_000);
        let got: Vec<Uuid> = (0..1000).map(|_| ids.next_id()).collect();
        assert_eq!(ids.handed_out(), 1000);
        assert!(got.iter().all(|u| u.get_version_num() == 7 && !u.is_nil()));
        assert!(got.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(got[0], SequentialIds::id(1_470_000_000_000, 1));
        assert_eq!(got[999], SequentialIds::id(1_470_000_000_000, 1000));
    }
}
