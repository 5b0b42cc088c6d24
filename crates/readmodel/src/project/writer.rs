//! The sled writer: a thread of its own that applies a committed batch's
//! write chunks (checkpoint last) and flushes if asked, while the projector
//! projects the next batch.
//!
//! Invariant: at most one batch is in flight, and batches reach sled in
//! the order they were handed over. [`Writer::hand_over`] refuses to
//! start a batch before the previous one is settled ([`Writer::settle`]
//! returned its outcome), so while the projector stages batch N+1, sled
//! holds every batch up to N-1 and only batch N's writes are landing; the
//! batcher keeps what N wrote in memory for that time (see
//! [`super::batch`]). A batch's error is returned by the next `settle`
//! (the projector then stops with it); dropping the writer waits for the batch
//! in flight, so no write lands after the projector has returned.

use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::{ReadModel, ReadModelError};

/// One committed batch: its chunks in order (the checkpoint in the last),
/// then a flush if `flush`.
pub(super) struct Job {
    pub(super) chunks: Vec<Chunk>,
    pub(super) flush: bool,
}

/// One chunk of a batch's writes.
pub(super) enum Chunk {
    /// Plain inserts, one at a time, in order.
    Inserts(Vec<(sled::IVec, sled::IVec)>),
    /// One `apply_batch`.
    Atomic(sled::Batch),
}

/// The writer thread and its two channels.
struct Thread {
    jobs: mpsc::SyncSender<Job>,
    done: mpsc::Receiver<Result<(), ReadModelError>>,
    handle: JoinHandle<()>,
}

/// Applies handed-over batches on a thread of its own (started with the
/// first batch), one at a time.
pub(super) struct Writer {
    rm: ReadModel,
    thread: Option<Thread>,
    /// A batch was handed over and its outcome not yet received.
    in_flight: bool,
}

impl Writer {
    pub(super) fn new(rm: &ReadModel) -> Self {
        Writer {
            rm: rm.clone(),
            thread: None,
            in_flight: false,
        }
    }

    /// Start writing `job`. The previous batch must be settled.
    pub(super) fn hand_over(&mut self, job: Job) {
        assert!(
            !self.in_flight,
            "a batch handed to the sled writer before the previous one was settled"
        );
        let rm = &self.rm;
        let thread = self.thread.get_or_insert_with(|| spawn(rm.clone()));
        if thread.jobs.send(job).is_err() {
            self.thread_died();
        }
        self.in_flight = true;
    }

    /// Wait until the batch in flight (if any) is applied (and flushed if
    /// asked); its error if it failed.
    pub(super) fn settle(&mut self) -> Result<(), ReadModelError> {
        if !std::mem::replace(&mut self.in_flight, false) {
            return Ok(());
        }
        let thread = self
            .thread
            .as_ref()
            .expect("a batch in flight has a writer thread");
        match thread.done.recv() {
            Ok(outcome) => outcome,
            Err(_) => self.thread_died(),
        }
    }

    /// The thread hung up without reporting: it panicked (a sled panic);
    /// carry the panic on in the projector.
    fn thread_died(&mut self) -> ! {
        let thread = self
            .thread
            .take()
            .expect("only a started writer thread can hang up");
        drop(thread.jobs);
        match thread.handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("the sled writer stopped with a batch unreported"),
        }
    }
}

impl Drop for Writer {
    /// Wait for the batch in flight: nothing lands after the projector
    /// returned (its outcome is lost; the checkpoint says what landed).
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            drop(thread.jobs);
            // A panic on the writer thread was a sled panic already
            // reported on stderr; the projector is going away anyway.
            let _ = thread.handle.join();
        }
    }
}

fn spawn(rm: ReadModel) -> Thread {
    let (jobs, job_rx) = mpsc::sync_channel::<Job>(1);
    let (done_tx, done) = mpsc::sync_channel(1);
    let handle = std::thread::Builder::new()
        .name("readmodel-writer".to_string())
        .spawn(move || {
            // A failed batch is reported and the thread goes on: the
            // projector stops on the error, and a write it attempts after
            // it (committing what it staged before stopping) is tried anew,
            // as on the projector's own thread.
            for job in job_rx {
                if done_tx.send(write(&rm, job)).is_err() {
                    break;
                }
            }
        })
        .expect("spawn the read model's writer thread");
    Thread { jobs, done, handle }
}

fn write(rm: &ReadModel, job: Job) -> Result<(), ReadModelError> {
    for chunk in job.chunks {
        match chunk {
            Chunk::Inserts(writes) => {
                for (k, v) in writes {
                    rm.tree.insert(k, v)?;
                }
            }
            Chunk::Atomic(batch) => rm.tree.apply_batch(batch)?,
        }
    }
    if job.flush {
        rm.flush()?;
    }
    Ok(())
}
