//! The gateway's checkpointer: appends integrity checkpoints
//! ([`integrity::checkpoint`]) over what the gateway's commands appended,
//! every `every` while new records arrive, and once more when it stops.
//!
//! Why: a record is tamper-evident once a checkpoint covers it. The CLI
//! checkpoints after each of its commands and imports, and sealing does,
//! but a log written only through the gateway had no checkpoint until
//! someone ran `perfledger checkpoint`: `verify` reported every gateway
//! record as an uncovered tail, and a projector applied them unvouched.
//!
//! Several checkpointers (gateway instances in one queue group, the CLI)
//! may race: the one that loses gets [`LogError::Conflict`], which is not
//! an error here (a checkpoint was appended; the next tick covers the
//! rest), and two that cover the same records append the same commit,
//! answered as a duplicate. Any other failure is logged and tried again at
//! the next tick: checkpointing never stops the gateway.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use perfledger_log::{integrity, EventLog, LogError};

/// Checkpoint `log` every `every` until `shutdown` completes, then once
/// more. A tick with nothing new appends nothing.
pub async fn keep_checkpointed<L: EventLog>(
    log: Arc<L>,
    prefix: String,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    assert!(!every.is_zero(), "a checkpoint interval is positive");
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate: a log left uncovered by an earlier run
    // is covered at once.
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = ticks.tick() => checkpoint_once(&*log, &prefix).await,
        }
    }
    checkpoint_once(&*log, &prefix).await;
}

/// One checkpoint attempt, its outcome logged.
async fn checkpoint_once<L: EventLog>(log: &L, prefix: &str) {
    match integrity::checkpoint(log, prefix).await {
        Ok(Some(c)) => tracing::info!(seq = c.seq, upto = c.upto, "checkpoint appended"),
        Ok(None) => {}
        Err(LogError::Conflict { .. }) => {
            tracing::debug!("another checkpointer appended a checkpoint first")
        }
        Err(e) => tracing::warn!(error = %e, "cannot append a checkpoint; trying again later"),
    }
}
