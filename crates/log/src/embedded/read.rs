//! Reading records back.
//!
//! Invariant: reads return exactly the records asked for, in sequence
//! order: each is located through the index, decoded with its CRC and
//! sequence checked (or, for the hash chain, hashed from its bytes after
//! the same checks and its subject's grammar), and a range that cannot
//! deliver the next sequence ends with [`LogError::Gap`]. A tail waits for
//! the head to move. The next chunk may be read ahead; it is met in order.

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
                checkpoint: Subject::is_checkpoint_str(v.subject).then(|| buf.slice_ref(v.payload)),
            })
        })
    }

    /// Records `from..=to` (clamped to the head) read from disk in one
    /// read, each checked in place (CRC, lengths, sequence) and made a `T`
    /// by `each` from the chunk and the record.
    fn read_chunk_with<T>(
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
            let a = (from - 1) as usize;
            let b = to as usize;
            (
                idx.offsets[a],
                idx.lens[a..b].to_vec(),
                idx.offsets[a..b].to_vec(),
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
            Ok(to) => self.stream_with(from, Some(to), Self::read_hashed_chunk),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        }
    }

    pub(super) fn resolve_until(&self, until: Until) -> Result<Seq, LogError> {
        let idx = self.inner.index.read().map_err(|_| poisoned("index"))?;
        Ok(match until {
            Until::Head => idx.head(),
            Until::Seq(s) => s.min(idx.head()),
            Until::RecordedAt(t) => idx.prefix_max.partition_point(|&m| m <= t) as Seq,
        })
    }

    pub(super) fn stream_range(&self, from: Seq, to: Option<Seq>) -> RecordStream {
        self.stream_with(from, to, Self::read_chunk)
    }

    /// Records `from..=to` (or on, waiting for appends, when `to` is None)
    /// read `READ_CHUNK` at a time by `read` off the async runtime (see
    /// [`Chunks`]). Chunks are flattened by an iterator, so a record costs
    /// the stream no more than an iterator step.
    fn stream_with<T: Send + 'static>(
        &self,
        from: Seq,
        to: Option<Seq>,
        read: ReadFn<T>,
    ) -> BoxStream<'static, Result<T, LogError>> {
        let chunks = Chunks {
            log: self.clone(),
            read,
            next: from.max(1),
            to,
            rx: self.inner.head_tx.subscribe(),
            done: false,
            ahead: None,
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
            .subjects
            .get(subject)
            .cloned()
            .unwrap_or_default();
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

/// The chunks of a read, in order. While the reader works through one
/// chunk the next one is already being read (and, for `read_hashed`,
/// hashed) on the blocking pool, when it lies within the range and the
/// head; its records, error or gap are met in order all the same.
struct Chunks<T> {
    log: EmbeddedLog,
    read: ReadFn<T>,
    next: Seq,
    to: Option<Seq>,
    rx: watch::Receiver<Seq>,
    done: bool,
    /// The chunk starting at `next`, already being read.
    ahead: Option<tokio::task::JoinHandle<Result<Vec<T>, LogError>>>,
}

impl<T: Send + 'static> Chunks<T> {
    /// Start reading the chunk at `next`, when one is within the range
    /// and `head`.
    fn spawn(&self, head: Seq) -> Option<tokio::task::JoinHandle<Result<Vec<T>, LogError>>> {
        let end = (self.next + READ_CHUNK as u64 - 1)
            .min(head)
            .min(self.to.unwrap_or(Seq::MAX));
        if self.next > end {
            return None;
        }
        let (inner, read, from) = (self.log.inner.clone(), self.read, self.next);
        Some(tokio::task::spawn_blocking(move || read(&inner, from, end)))
    }

    /// The next chunk (never empty), an error that ends the read, or None
    /// at the end of the range. A live tail (no `to`) waits for appends.
    async fn next_chunk(&mut self) -> Option<Result<Vec<T>, LogError>> {
        loop {
            if self.done {
                return None;
            }
            let chunk = match self.ahead.take() {
                Some(chunk) => chunk,
                None => {
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
                    self.spawn(head)
                        .expect("next is within the range and the head")
                }
            };
            let from = self.next;
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
                    let head = *self.rx.borrow();
                    self.ahead = self.spawn(head);
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
