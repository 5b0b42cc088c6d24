//! What the ledger takes from outside the log: the time and fresh ids.
//!
//! Invariant: only the ledger reads a clock or mints ids, and it reads both
//! only through these traits, injected ([`crate::Ledger::with_clock`],
//! [`crate::Ledger::with_ids`]), so a test can pin every recorded time and
//! every event id. The domain and the projections never read either.

use perfledger_domain::Timestamp;
use uuid::Uuid;

/// A source of recorded times. Only the ledger reads the clock; the domain
/// and the projections never do.
pub trait Clock: Send + Sync {
    /// Now, in ms since the Unix epoch (UTC).
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the system clock is set before 1970: recorded times would be wrong")
            .as_millis() as i64;
        Timestamp(ms)
    }
}

/// A clock that always answers the same instant (tests, reproducible demos).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// A source of fresh ids (event ids). Every id it hands out is new.
pub trait IdSource: Send + Sync {
    /// A new id, never handed out before (and never the nil UUID).
    fn next_id(&self) -> Uuid;
}

/// UUID v7 ids: time-ordered, random below the millisecond (production).
#[derive(Debug, Clone, Copy, Default)]
pub struct V7Ids;

impl IdSource for V7Ids {
    fn next_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
