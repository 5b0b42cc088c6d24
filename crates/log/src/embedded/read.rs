//! Reading records back.
//!
//! Invariant: reads return exactly the records asked for, in sequence
//! order: each is located through the index, decoded with its CRC and
//! sequence checked (or, for the hash chain, hashed from its bytes after
//! the same checks and its subject's grammar), and a range that cannot
//! deliver the next sequence ends with [`LogError::Gap`]. A tail waits for
//! the head to move. The next chunks may be read ahead (several at once
//! for the hash chain, whose leaves are independent); they are met in
//! order.

use std::collections::VecDeque;
use std::os::unix::fs::FileExt;

use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::watch;

use bytes::Bytes;

use super::format::{check_record, RecordView};
use super::{io_err, poisoned, EmbeddedLog, Inner, READ_CHUNK};
use crate::integrity::{leaf_hash_of, Hashed, HashedStream};
use crate::{LogError, LogRecord, RecordStream, Seq, Subject, Until};

impl EmbeddedLog {
    pub(super) fn head_now(&self) -> Result<Seq, LogError> {
        Ok(self
            .inner
            .index
            .read()
            .map_err(|_| poisoned("index"))?
            .head())
    }

    /// Read records `from..=to` (clamped to the head) from disk.
    fn read_chunk(inner: &Inner, from: Seq, to: Seq) -> Result<Vec<LogRecord>, LogError> {
        // Payloads are slices of the chunk, not copies (one allocation per
        // chunk rather than per record).
        Self::read_chunk_with(inner, from, to, |buf, v| {
            v.into_record(|p| buf.slice_ref(p))
        })
    }

    /// Read records `from..=to` (clamped to the head) from disk as the hash
    /// chain reads them: each leaf hashed from the record's checked bytes,
    /// its subject's grammar checked but no record decoded.
    fn read_hashed_chunk(inner: &Inner, from: Seq, to: Seq) -> Result<Vec<Hashed>, LogError> {
        Self::read_chunk_with(inner, from, to, |buf, v| {
            Subject::check(v.subject).map_err(|e| v.bad_subject(e))?;
            Ok(Hashed {
                seq: v.seq,
                recorded_at: v.recorded_at,
                leaf: leaf_hash_of(v.seq, v.subject, &v.msg_id, v.recorded_at, v.payload),
                checkpoint: Subject::is_checkpoint_str(v.subject),
                payload: buf.slice_ref(v.payload),
            })
        })
    }

    /// Records `from..=to` (clamped to the head) read from disk in one
    /// read, each checked in place (CRC, lengths, sequence) and made a `T`
    /// by `each` from the chunk and the record.
    pub(super) fn read_chunk_with<T>(
        inner: &Inner,
        from: Seq,
        to: Seq,
        mut each: impl FnMut(&Bytes, RecordView<'_>) -> Result<T, LogError>,
    ) -> Result<Vec<T>, LogError> {
        let (base, lens, offsets) = {
            let idx = inner.index.read().map_err(|_| poisoned("index"))?;
            let to = to.min(idx.head());
            if from > to || from == 0 {
                return Ok(Vec::new());
            }
            (
                idx.offset(from),
                idx.lens(from, to),
                idx.offsets_of(from, to),
            )
        };
        let last = offsets.len() - 1;
        let end = offsets[last] + lens[last] as u64;
        let mut buf = vec![0u8; (end - base) as usize];
        inner
            .reader
            .read_exact_at(&mut buf, base)
            .map_err(|e| io_err(&inner.data_path, e))?;
        let buf = Bytes::from(buf);
        let mut out = Vec::with_capacity(offsets.len());
        for (i, (&off, &len)) in offsets.iter().zip(lens.iter()).enumerate() {
            let at = (off - base) as usize;
            let (v, _) = check_record(&buf[at..at + len as usize], from + i as u64)?;
            out.push(each(&buf, v)?);
        }
        Ok(out)
    }

    /// Records `from..=to` as the hash chain reads them (see
    /// [`EventLog::read_hashed`](crate::EventLog::read_hashed)).
    pub(super) fn hashed(&self, from: Seq, to: Seq) -> HashedStream {
        match self.resolve_until(Until::Seq(to)) {
            Ok(to) => self.stream_with(
                from,
                Some(to),
                Self::read_hashed_chunk,
                hashed_depth(),
                HASHED_CHUNK,
            ),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        }
    }

    pub(super) fn resolve_until(&self, until: Until) -> Result<Seq, LogError> {
        let idx = self.inner.index.read().map_err(|_| poisoned("index"))?;
        Ok(match until {
            Until::Head => idx.head(),
            Until::Seq(s) => s.min(idx.head()),
            Until::RecordedAt(t) => {
                drop(idx);
                self.end_at_time(t)?
            }
        })
    }

    pub(super) fn stream_range(&self, from: Seq, to: Option<Seq>) -> RecordStream {
        self.stream_with(from, to, Self::read_chunk, 1, READ_CHUNK as u64)
    }

    /// Records `from..=to` (or on, waiting for appends, when `to` is None)
    /// read `chunk` records at a time by `read` off the async runtime, up to
    /// `depth` chunks ahead of the reader (see [`Chunks`]). Chunks are
    /// flattened by an iterator, so a record costs the stream no more than
    /// an iterator step.
    fn stream_with<T: Send + 'static>(
        &self,
        from: Seq,
        to: Option<Seq>,
        read: ReadFn<T>,
        depth: usize,
        chunk: u64,
    ) -> BoxStream<'static, Result<T, LogError>> {
        let chunks = Chunks {
            log: self.clone(),
            read,
            next: from.max(1),
            to,
            rx: self.inner.head_tx.subscribe(),
            done: false,
            depth: depth.max(1),
            chunk: chunk.max(1),
            ahead: VecDeque::new(),
        };
        futures::stream::unfold(chunks, |mut st| async move {
            st.next_chunk().await.map(|chunk| (chunk, st))
        })
        .flat_map(|chunk| match chunk {
            Ok(recs) => futures::stream::iter(recs.into_iter().map(Ok)).left_stream(),
            Err(e) => futures::stream::once(futures::future::ready(Err(e))).right_stream(),
        })
        .boxed()
    }

    /// Every record of `subject`, read through the index.
    pub(super) async fn subject_records(
        &self,
        subject: &Subject,
    ) -> Result<Vec<LogRecord>, LogError> {
        let seqs = self
            .inner
            .index
            .read()
            .map_err(|_| poisoned("index"))?
            .subject_seqs(subject);
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::with_capacity(seqs.len());
            for s in seqs {
                out.extend(Self::read_chunk(&inner, s, s)?);
            }
            Ok(out)
        })
        .await
        .map_err(|e| LogError::Unavailable(format!("read task failed: {e}")))?
    }
}

/// How a stream reads the records `from..=to` of one chunk.
type ReadFn<T> = fn(&Inner, Seq, Seq) -> Result<Vec<T>, LogError>;

/// A chunk being read on the blocking pool.
type ChunkTask<T> = tokio::task::JoinHandle<Result<Vec<T>, LogError>>;

/// Chunks a hashed read keeps in flight: one more than the cores, at most
/// five. The chain steps sequentially on the reader's thread, but the
/// leaves (about 5 of the 7 SHA-256 blocks `verify` spends per record) are
/// independent: with this many chunks being read and hashed at once,
/// every core hashes leaves while the chain steps through the chunk before
/// them, and when the chain's thread takes a chunk another is already
/// waiting for the core it leaves. Memory stays bounded: this many chunks
/// of [`HASHED_CHUNK`] records.
fn hashed_depth() -> usize {
    std::thread::available_parallelism().map_or(3, |n| n.get().clamp(1, 4) + 1)
}

/// Records per chunk of a hashed read: larger than a plain read's
/// [`READ_CHUNK`] because each chunk is a hand-off between threads, and on
/// an idle machine a hand-off costs a thread's wake-up. On two idle cores
/// (30 November, 1M records, `verify_bench`, old and new alternated at
/// load 1.0-1.6), 2,048 records and two chunks ahead gave `verify`
/// 0.45-0.46× SHA-256's throughput by wall clock; three ahead 0.50×;
/// 8,192 records three ahead 0.52-0.54×; 16,384 three ahead 0.56×.
const HASHED_CHUNK: u64 = 16_384;

/// The chunks of a read, in order. While the reader works through one
/// chunk the next `depth` ones are already being read (and, for
/// `read_hashed`, hashed) on the blocking pool, when they lie within the
/// range and the head; their records, errors or gaps are met in order all
/// the same (a chunk read ahead past an error is never delivered).
struct Chunks<T> {
    log: EmbeddedLog,
    read: ReadFn<T>,
    /// The first sequence not yet delivered.
    next: Seq,
    to: Option<Seq>,
    rx: watch::Receiver<Seq>,
    done: bool,
    /// Chunks read ahead at most at once (at least 1).
    depth: usize,
    /// Records per chunk (at least 1).
    chunk: u64,
    /// The chunks being read, in order, as (first, last sequence, task):
    /// the first starts at `next`, each after the one before it.
    ahead: VecDeque<(Seq, Seq, ChunkTask<T>)>,
}

impl<T: Send + 'static> Chunks<T> {
    /// Start reading the chunks after those already being read, up to
    /// `depth` of them, while they are within the range and `head`.
    fn read_ahead(&mut self, head: Seq) {
        while self.ahead.len() < self.depth {
            let from = self
                .ahead
                .back()
                .map_or(self.next, |&(_, last, _)| last + 1);
            let end = (from + self.chunk - 1)
                .min(head)
                .min(self.to.unwrap_or(Seq::MAX));
            if from > end {
                return;
            }
            let (inner, read) = (self.log.inner.clone(), self.read);
            let task = tokio::task::spawn_blocking(move || read(&inner, from, end));
            self.ahead.push_back((from, end, task));
        }
    }

    /// The next chunk (never empty), an error that ends the read, or None
    /// at the end of the range. A live tail (no `to`) waits for appends.
    async fn next_chunk(&mut self) -> Option<Result<Vec<T>, LogError>> {
        loop {
            if self.done {
                return None;
            }
            if self.ahead.is_empty() {
                if self.to.is_some_and(|to| self.next > to) {
                    return None;
                }
                let head = *self.rx.borrow_and_update();
                if self.next > head {
                    if self.to.is_some() {
                        return None;
                    }
                    // Live tail: wait for an append.
                    if self.rx.changed().await.is_err() {
                        return None;
                    }
                    continue;
                }
                self.read_ahead(head);
            }
            let (from, last, chunk) = self
                .ahead
                .pop_front()
                .expect("next is within the range and the head, so a chunk is being read");
            let res = chunk
                .await
                .map_err(|e| LogError::Unavailable(format!("read task failed: {e}")))
                .and_then(|r| r);
            return Some(match res {
                Ok(recs) if recs.is_empty() => {
                    self.done = true;
                    Err(LogError::Gap {
                        expected: from,
                        got: 0,
                    })
                }
                Ok(recs) => {
                    self.next = from + recs.len() as u64;
                    if self.next != last + 1 {
                        // Fewer records than asked for: the chunks read
                        // ahead start at the wrong sequence; read again.
                        self.ahead.clear();
                    }
                    let head = *self.rx.borrow();
                    self.read_ahead(head);
                    Ok(recs)
                }
                Err(e) => {
                    self.done = true;
                    Err(e)
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::embedded::{read_raw, DATA_FILE};
    use crate::integrity::{self, Problem};
    use crate::{Commit, EventLog, Expected};

    /// An open log of `n` records over a few entities, in several chunks.
    async fn log_of(dir: &std::path::Path, n: u64) -> EmbeddedLog {
        let log = EmbeddedLog::open(dir).await.unwrap();
        let commits = (0..n).map(|i| Commit {
            subject: Subject::entity("pl", "t", "k", uuid::Uuid::from_u128(u128::from(i % 7)))
                .unwrap(),
            expected: Expected::Any,
            msg_id: uuid::Uuid::from_u128(u128::from(i) + 1),
            recorded_at: i as i64,
            payload: Bytes::from(format!("payload {i}")),
        });
        for batch in commits.collect::<Vec<_>>().chunks(1000) {
            log.append_batch(batch.to_vec()).await.unwrap();
        }
        log
    }

    /// Flip the last payload byte of each record of `seqs` in the file
    /// under the open log (their CRCs then fail when they are read).
    fn corrupt(dir: &std::path::Path, seqs: &[Seq]) {
        let raw = read_raw(dir).unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join(DATA_FILE))
            .unwrap();
        for &seq in seqs {
            let r = &raw[(seq - 1) as usize];
            let at = r.offset + u64::from(r.len) - 1;
            let mut b = [0u8; 1];
            f.read_exact_at(&mut b, at).unwrap();
            f.write_all_at(&[b[0] ^ 1], at).unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashed_reads_name_the_first_corrupt_record_with_chunks_read_ahead() {
        let d = tempfile::tempdir().unwrap();
        let n = 5 * HASHED_CHUNK + 17;
        let log = log_of(d.path(), n).await;
        let clean = integrity::verify(&log).await.unwrap();
        assert!(clean.ok() && clean.checked == n, "{clean:?}");
        // Corrupt records in the third and the fifth chunk: whichever chunk
        // is hashed first, the first bad sequence is the earlier one, and
        // the chunks before it are all checked (a chunk is read and
        // checked whole: none of the bad one's records is delivered).
        let (early, late) = (2 * HASHED_CHUNK + 100, 4 * HASHED_CHUNK + 3);
        corrupt(d.path(), &[early, late]);
        let report = integrity::verify(&log).await.unwrap();
        match report.first_bad {
            Some((seq, Problem::Unreadable(_))) => assert_eq!(seq, early),
            other => panic!("expected record {early} unreadable, got {other:?}"),
        }
        let before = 2 * HASHED_CHUNK;
        assert_eq!(report.checked, before);
        // The hashed read ends at the error: nothing after it is delivered.
        let items: Vec<_> = log.read_hashed(1, n).collect().await;
        assert_eq!(items.len() as u64, before + 1);
        assert!(items[..items.len() - 1].iter().all(|r| r.is_ok()));
        assert!(matches!(items.last(), Some(Err(LogError::Corrupt { seq, .. })) if *seq == early));
        // The same hashes as the records decoded one by one.
        let from_records: Vec<_> = log
            .read(1, Until::Seq(before))
            .map(|r| Hashed::of(&r.unwrap()))
            .collect()
            .await;
        let hashed: Vec<_> = items.into_iter().filter_map(Result::ok).collect();
        assert_eq!(hashed, from_records);
    }

    /// Chunks being read now, and the most at once.
    static READING: AtomicUsize = AtomicUsize::new(0);
    static MOST: AtomicUsize = AtomicUsize::new(0);

    fn slow_read(inner: &Inner, from: Seq, to: Seq) -> Result<Vec<Hashed>, LogError> {
        let now = READING.fetch_add(1, Ordering::SeqCst) + 1;
        MOST.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(30));
        READING.fetch_sub(1, Ordering::SeqCst);
        EmbeddedLog::read_hashed_chunk(inner, from, to)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashed_reads_hash_several_chunks_at_once_and_deliver_them_in_order() {
        let d = tempfile::tempdir().unwrap();
        let n = 6 * READ_CHUNK as u64 + 5;
        let log = log_of(d.path(), n).await;
        let seqs: Vec<Seq> = log
            .stream_with(1, Some(n), slow_read, 3, READ_CHUNK as u64)
            .map(|r| r.unwrap().seq)
            .collect()
            .await;
        assert_eq!(seqs, (1..=n).collect::<Vec<_>>());
        assert_eq!(
            MOST.load(Ordering::SeqCst),
            3,
            "three chunks are read (and their leaves hashed) at once"
        );
    }
}
