//! Executing a submission: validate it whole, then append it in chunks.
//!
//! Invariant: nothing is appended unless every command of the submission
//! was decided without error. Each chunk is appended all-or-nothing where
//! the log is atomic, else in order and resumably (a re-run skips what the
//! command-id index already holds). A lost version race re-plans the chunk
//! from fresh state, a bounded number of times, unless the caller pinned a
//! version; the states cached afterwards carry the log's sequences, never
//! the plan's predictions.

use std::collections::{BTreeMap, BTreeSet};

use perfledger_domain::{DomainError, EntityKind};
use perfledger_log::{Commit, EventLog, Expected, LogError, Seq};
use uuid::Uuid;

use crate::error::about;
use crate::plan::{Plan, Step};
use crate::{Executed, Ledger, LedgerError, Submitted};

impl<L: EventLog> Ledger<L> {
    /// Execute one command.
    pub async fn execute(&self, item: Submitted) -> Result<Executed, LedgerError> {
        let mut out = self.execute_batch(vec![item], |_, _| {}).await?;
        Ok(out.remove(0))
    }

    /// Execute a submission: validate every command first (nothing is
    /// appended if any is rejected), then append. `progress(done, total)` is
    /// called after each appended chunk.
    pub async fn execute_batch(
        &self,
        items: Vec<Submitted>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Vec<Executed>, LedgerError> {
        let total = items.len();
        let chunk = self.max_batch.min(self.log.capabilities().max_batch.max(1));
        let mut seen = BTreeSet::new();
        for (index, item) in items.iter().enumerate() {
            // The nil UUID names nothing: as a command id every writer that
            // forgot to set one would share it (the codec refuses it too).
            for (field, id) in [
                ("command_id", item.command.command_id),
                ("correlation_id", item.command.correlation_id),
            ] {
                if id.is_nil() {
                    return Err(LedgerError::Rejected {
                        index,
                        command: item.command.command.name(),
                        about: about(&item.command.command),
                        source: DomainError::Invalid {
                            field,
                            value: id.to_string(),
                            reason: "the nil UUID is not an id; give a real one (uuid v7 or v5)",
                        },
                    });
                }
            }
            if !seen.insert(item.command.command_id) {
                return Err(LedgerError::DuplicateCommandId {
                    index,
                    command_id: item.command.command_id,
                });
            }
        }
        if let [item] = items.as_slice() {
            // One command: one append where the kept state allows.
            if let Some(done) = self.execute_fast(item).await? {
                progress(1, 1);
                return Ok(vec![done]);
            }
        }
        if total > chunk {
            // Appended in several chunks: validate all of it before any chunk.
            self.plan(&items, 0, None).await?;
        }
        let mut out = Vec::with_capacity(total);
        let mut start = 0;
        while start < total {
            let end = (start + chunk).min(total);
            out.extend(self.execute_chunk(&items, start, end).await?);
            progress(end, total);
            start = end;
        }
        Ok(out)
    }

    async fn execute_chunk(
        &self,
        items: &[Submitted],
        start: usize,
        end: usize,
    ) -> Result<Vec<Executed>, LedgerError> {
        let pinned = items[start..end].iter().any(|i| i.expected.is_some());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let plan = self.plan(items, start, Some(end)).await?;
            match self.append_plan(plan).await {
                Ok(done) => return Ok(done),
                Err(AppendFailure::Conflict {
                    index,
                    subject,
                    expected,
                    current,
                }) => {
                    tracing::debug!(index, %subject, current, attempt, "version conflict");
                    if pinned {
                        return Err(LedgerError::Conflict {
                            index,
                            command: items[index].command.command.name(),
                            subject,
                            expected,
                            current,
                        });
                    }
                    if attempt > self.conflict_retries {
                        return Err(LedgerError::TooManyConflicts { attempts: attempt });
                    }
                }
                Err(AppendFailure::Other(e)) => return Err(e),
            }
        }
    }

    /// Append a plan's commits (one batch where the log is atomic, else
    /// pipelined), judge what the log answers as duplicates, and keep the
    /// post-append states.
    async fn append_plan(&self, plan: Plan) -> Result<Vec<Executed>, AppendFailure> {
        let commits: Vec<Commit> = plan
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Append { commit, .. } => Some(commit.clone()),
                Step::Done(_) => None,
            })
            .collect();
        let sent = std::time::Instant::now();
        let appended = if commits.is_empty() {
            Vec::new()
        } else if self.log.capabilities().atomic_batch || commits.len() == 1 {
            self.log
                .append_batch(commits)
                .await
                .map_err(|e| AppendFailure::from_log(e, &plan))?
        } else {
            let progress = self.log.append_pipelined(commits).await;
            match progress.error {
                None => progress.appended,
                Some(e) => return Err(AppendFailure::from_log(e, &plan)),
            }
        };
        let mut appended = appended.into_iter();
        let mut out = Vec::with_capacity(plan.steps.len());
        let Plan { steps, mut states } = plan;
        // entity -> its last appended sequence, or None when the log
        // answered duplicate (the planned state was not stored)
        let mut settled: BTreeMap<(EntityKind, Uuid), Option<Seq>> = BTreeMap::new();
        for step in steps {
            match step {
                Step::Done(e) => out.push(e),
                Step::Append {
                    index,
                    key,
                    command,
                    commit,
                    events,
                } => {
                    let a = appended.next().ok_or_else(|| {
                        AppendFailure::Other(LedgerError::Log(LogError::Unavailable(
                            "log acknowledged fewer commits than were sent".into(),
                        )))
                    })?;
                    if a.duplicate {
                        // The log knew the msg id: its record must be this
                        // very command on this entity, or the id was reused.
                        self.check_log_duplicate(index, command, &events[0], a.seq)
                            .await
                            .map_err(AppendFailure::Other)?;
                        settled.insert(key, None);
                    } else {
                        if let Some(Some(_)) | None = settled.get(&key) {
                            settled.insert(key, Some(a.seq));
                        }
                        if let Some(l) = states.get_mut(&key) {
                            l.commands.insert(commit.msg_id, a.seq);
                        }
                    }
                    out.push(Executed {
                        seq: a.seq,
                        duplicate: a.duplicate,
                        events: if a.duplicate { Vec::new() } else { events },
                    });
                }
            }
        }
        // Keep the post-append states for the next command (the versions
        // are the log's sequences, not the plan's predictions).
        let mut cache = self.states.lock().await;
        for (key, seq) in settled {
            match (seq, states.remove(&key)) {
                (Some(seq), Some(mut loaded)) => {
                    loaded.version = seq;
                    cache.put_at(key, loaded, sent);
                }
                _ => cache.remove(&key),
            }
        }
        Ok(out)
    }
}

enum AppendFailure {
    Conflict {
        index: usize,
        subject: String,
        expected: Seq,
        current: Seq,
    },
    Other(LedgerError),
}

impl AppendFailure {
    /// A conflict on one of the plan's commits is retried (or reported
    /// against that command); anything else, including a conflict the log
    /// names on a subject the plan did not write or against no expectation
    /// (the ledger always sends one), is the log's error as it is.
    fn from_log(e: LogError, plan: &Plan) -> Self {
        let LogError::Conflict {
            subject,
            expected,
            current,
        } = &e
        else {
            return AppendFailure::Other(LedgerError::Log(e));
        };
        let index = plan.steps.iter().find_map(|s| match s {
            Step::Append { index, commit, .. } if commit.subject == *subject => Some(*index),
            _ => None,
        });
        let expected = match expected {
            Expected::At(s) => Some(*s),
            Expected::Empty => Some(0),
            Expected::Any => None,
        };
        match (index, expected) {
            (Some(index), Some(expected)) => AppendFailure::Conflict {
                index,
                subject: subject.to_string(),
                expected,
                current: *current,
            },
            _ => AppendFailure::Other(LedgerError::Log(e)),
        }
    }
}
