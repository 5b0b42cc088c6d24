//! The sled writer: a thread of its own that applies a committed batch's
//! write chunks (checkpoint last) and flushes if asked, while the projector
//! projects the next batch.
//!
//! A batch's plain-insert chunks go into a pool that the writer thread
//! takes from and that the projector takes from too once it has staged
//! the next batch and would otherwise wait in [`Writer::settle`] (sled
//! takes concurrent inserts; a batch's keys are distinct, so their order
//! within the batch does not matter). The batch's last chunk, the atomic
//! one ending with the checkpoint, is applied only when every plain
//! insert of the batch has landed, so the commit protocol is unchanged.
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

use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
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

/// The writer thread, its two channels and the pool of plain inserts it
/// shares with the projector.
struct Thread {
    jobs: mpsc::SyncSender<Job>,
    done: mpsc::Receiver<Result<(), ReadModelError>>,
    pool: Arc<Pool>,
    handle: JoinHandle<()>,
}

/// The plain-insert chunks of the batch in flight, taken by whichever
/// thread is free (the writer, or the projector waiting to settle).
#[derive(Default)]
struct Pool {
    state: Mutex<PoolState>,
    /// Signalled when a chunk has landed (or failed).
    landed: Condvar,
}

#[derive(Default)]
struct PoolState {
    /// Chunks not yet taken.
    chunks: Vec<Vec<(sled::IVec, sled::IVec)>>,
    /// Chunks taken and still being inserted.
    inserting: usize,
    /// The first insert that failed (the batch's error).
    failed: Option<ReadModelError>,
}

/// A chunk taken from the pool: counted as inserting until it has landed
/// (or failed); if the inserting thread panics (a sled panic), the batch
/// fails, so the thread waiting for the chunks is not left waiting.
struct Taken<'a>(&'a Pool);

impl Taken<'_> {
    fn landed(self, failed: Option<ReadModelError>) {
        self.finish(failed);
        std::mem::forget(self);
    }

    fn finish(&self, failed: Option<ReadModelError>) {
        let mut s = self.0.lock();
        s.inserting -= 1;
        if let Some(e) = failed {
            s.failed.get_or_insert(e);
            s.chunks.clear();
        }
        drop(s);
        self.0.landed.notify_all();
    }
}

impl Drop for Taken<'_> {
    /// Reached only by unwinding out of an insert.
    fn drop(&mut self) {
        self.finish(Some(ReadModelError::Storage(sled::Error::ReportableBug(
            "a sled insert panicked on another thread".to_string(),
        ))));
    }
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // A panic while holding the lock is a sled panic on another
        // thread; the state is only counters and queued chunks, so go on
        // (the panic itself reaches the projector through `thread_died`).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Insert chunks until none is left to take (or one has failed).
    fn help(&self, rm: &ReadModel) {
        loop {
            let chunk = {
                let mut s = self.lock();
                if s.failed.is_some() {
                    return;
                }
                let Some(chunk) = s.chunks.pop() else {
                    return;
                };
                s.inserting += 1;
                chunk
            };
            let taken = Taken(self);
            let outcome = chunk
                .into_iter()
                .try_for_each(|(k, v)| rm.tree.insert(k, v).map(drop));
            taken.landed(outcome.err().map(ReadModelError::from));
        }
    }

    /// Wait until every chunk taken has landed; the batch's error if one
    /// failed. The pool is empty after it.
    fn wait_landed(&self) -> Result<(), ReadModelError> {
        let mut s = self.lock();
        while s.inserting > 0 || !(s.chunks.is_empty() || s.failed.is_some()) {
            s = self.landed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.chunks.clear();
        match s.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
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
        // Rather than wait, insert what the writer has not taken yet.
        thread.pool.help(&self.rm);
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
    let pool = Arc::new(Pool::default());
    let shared = pool.clone();
    let handle = std::thread::Builder::new()
        .name("readmodel-writer".to_string())
        .spawn(move || {
            // A failed batch is reported and the thread goes on: the
            // projector stops on the error, and a write it attempts after
            // it (committing what it staged before stopping) is tried anew,
            // as on the projector's own thread.
            for job in job_rx {
                if done_tx.send(write(&rm, &shared, job)).is_err() {
                    break;
                }
            }
        })
        .expect("spawn the read model's writer thread");
    Thread {
        jobs,
        done,
        pool,
        handle,
    }
}

/// Apply `job`: its plain inserts through `pool` (with the projector's
/// help), then, once they have all landed, its atomic chunks in order and
/// the flush.
fn write(rm: &ReadModel, pool: &Pool, job: Job) -> Result<(), ReadModelError> {
    let mut atomic = Vec::new();
    let mut inserts = Vec::new();
    for chunk in job.chunks {
        match chunk {
            Chunk::Inserts(writes) => {
                assert!(
                    atomic.is_empty(),
                    "a batch's plain inserts come before its atomic chunk"
                );
                inserts.push(writes);
            }
            Chunk::Atomic(batch) => atomic.push(batch),
        }
    }
    if !inserts.is_empty() {
        // Taken from the end: the first chunks first.
        inserts.reverse();
        {
            let mut s = pool.lock();
            assert!(
                s.chunks.is_empty() && s.inserting == 0 && s.failed.is_none(),
                "the pool is empty between batches"
            );
            s.chunks = inserts;
        }
        pool.help(rm);
        pool.wait_landed()?;
    }
    for batch in atomic {
        rm.tree.apply_batch(batch)?;
    }
    if job.flush {
        rm.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporary() -> ReadModel {
        ReadModel::open_temporary(&perfledger_domain::Tenant::new("test-council").unwrap()).unwrap()
    }

    fn chunk(first: u32, n: u32) -> Vec<(sled::IVec, sled::IVec)> {
        (first..first + n)
            .map(|i| {
                let k = format!("x{i:08}");
                (
                    sled::IVec::from(k.as_bytes()),
                    sled::IVec::from(&i.to_be_bytes()[..]),
                )
            })
            .collect()
    }

    /// Chunks taken by several threads at once all land, each once, and
    /// the pool is empty after.
    #[test]
    fn a_pools_chunks_land_whoever_takes_them() {
        let rm = temporary();
        let before = rm.tree.len();
        let pool = Pool::default();
        pool.lock().chunks = (0..64).map(|c| chunk(c * 100, 100)).collect();
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| pool.help(&rm));
            }
            pool.help(&rm);
        });
        pool.wait_landed().expect("every insert landed");
        assert_eq!(rm.tree.len() - before, 6_400);
        let s = pool.lock();
        assert!(s.chunks.is_empty() && s.inserting == 0 && s.failed.is_none());
    }

    /// A thread that unwinds out of an insert fails the batch, and the
    /// thread waiting for the chunks is told, not left waiting.
    #[test]
    fn an_insert_that_panics_fails_the_batch() {
        let pool = Pool::default();
        pool.lock().chunks = vec![chunk(0, 1), chunk(1, 1)];
        let unwound = std::thread::scope(|s| {
            s.spawn(|| {
                let _chunk = {
                    let mut st = pool.lock();
                    st.inserting += 1;
                    st.chunks.pop()
                };
                let _taken = Taken(&pool);
                panic!("sled panicked mid-insert");
            })
            .join()
        });
        assert!(unwound.is_err());
        let err = pool.wait_landed().expect_err("the batch failed");
        assert!(err.to_string().contains("panicked"), "{err}");
        assert!(pool.lock().chunks.is_empty());
    }

    /// Through the writer: a batch of many plain chunks and its atomic
    /// last chunk land whole, the checkpoint with them.
    #[test]
    fn a_batch_lands_whole_with_the_projector_helping() {
        let rm = temporary();
        let before = rm.tree.len();
        let mut writer = Writer::new(&rm);
        for round in 0..3u32 {
            let mut chunks: Vec<Chunk> = (0..40)
                .map(|c| Chunk::Inserts(chunk(round * 10_000 + c * 50, 50)))
                .collect();
            let mut last = sled::Batch::default();
            last.insert(&b"last"[..], &round.to_be_bytes()[..]);
            chunks.push(Chunk::Atomic(last));
            writer.hand_over(Job {
                chunks,
                flush: round == 2,
            });
            writer.settle().expect("the batch landed");
            assert_eq!(rm.tree.len() - before, (round as usize + 1) * 2_000 + 1);
            assert_eq!(
                rm.tree.get(b"last").unwrap().unwrap().as_ref(),
                &round.to_be_bytes()[..]
            );
        }
    }
}
