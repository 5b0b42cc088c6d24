//! `perfledger-service`: the application layer between the front ends (the
//! CLI, the web server, the NATS gateway) and the ledger, the read model and
//! the import.
//!
//! A front end parses its input (arguments, a form, a request) and prints
//! or serves the answer; the workflows that span several lower crates live
//! here, once, so every front end runs them the same way:
//!
//! - [`import`]: CSV files → a validated plan (again with the ledger's
//!   closed periods) → every command appended in one all-or-nothing batch →
//!   the seals of seals.csv completed → a checkpoint;
//! - [`seal`]: seal completion: the position a committee seal pins (the
//!   meeting's papers), the dashboard digest there, and the seal command
//!   that pins the committee pack at that position.
//!
//! Dependency direction: `domain`, `log` ← `ledger`, `readmodel`, `import`
//! ← `service` ← front ends. Nothing here prints, reads the wall clock or
//! makes ids: times and ids come from the caller.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod import;
pub mod seal;

use std::collections::BTreeSet;

use futures::StreamExt;
use perfledger_domain::command::CALENDAR_KEY;
use perfledger_domain::ids::EntityKind;
use perfledger_domain::{AggregateState, Period, Tenant, Timestamp};
use perfledger_ledger::Ledger;
use perfledger_log::{EventLog, Until};
use perfledger_readmodel::{Projector, ReadModel};

pub use error::{BoxError, ServiceError};

/// A service result.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// The application layer over one ledger (and so one log). Cheap to
/// clone: the ledger's caches are shared.
pub struct Service<L> {
    ledger: Ledger<L>,
}

impl<L> Clone for Service<L> {
    fn clone(&self) -> Self {
        Service {
            ledger: self.ledger.clone(),
        }
    }
}

impl<L: EventLog> Service<L> {
    /// The service over `ledger`; checkpoints use the ledger's prefix.
    pub fn new(ledger: Ledger<L>) -> Self {
        Service { ledger }
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger<L> {
        &self.ledger
    }

    /// The log under the ledger.
    pub fn log(&self) -> &L {
        self.ledger.log()
    }

    /// Catch `rm` up with the log (every record projected).
    pub async fn caught_up(&self, rm: ReadModel) -> Result<ReadModel> {
        Projector::new(&rm)
            .catch_up(self.log(), &mut |_| {})
            .await?;
        Ok(rm)
    }

    /// The periods closed in the ledger of `tenant`.
    pub async fn closed_periods(&self, tenant: &Tenant) -> Result<BTreeSet<Period>> {
        let id = perfledger_domain::entity_id(tenant, EntityKind::Calendar, CALENDAR_KEY);
        let loaded = self.ledger.load(tenant, EntityKind::Calendar, id).await?;
        match loaded.state {
            AggregateState::Calendar(c) => Ok(c.closed),
            _ => unreachable!("the ledger loads the calendar entity as a calendar state"),
        }
    }

    /// The recorded time of the head record (`None` for an empty log).
    pub async fn head_time(&self) -> Result<Option<Timestamp>> {
        let log = self.log();
        let head = log.head().await?;
        if head == 0 {
            return Ok(None);
        }
        let mut s = log.read(head, Until::Seq(head));
        match s.next().await {
            Some(r) => Ok(Some(Timestamp(r?.recorded_at))),
            None => Ok(None),
        }
    }
}
