//! Reading records back.
//!
//! Invariant: reads return exactly the records asked for, in sequence
//! order: each is located through the index, decoded with its CRC and
//! sequence checked, and a range that cannot deliver the next sequence
//! ends with [`LogError::Gap`]. A tail waits for the head to move.

use std::os::unix::fs::FileExt;

use futures::StreamExt;
use tokio::sync::watch;

use bytes::Bytes;

use super::format::decode_record_with;
use super::{io_err, poisoned, EmbeddedLog, Inner, READ_CHUNK};
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
        // Payloads are slices of the chunk, not copies (one allocation per
        // chunk rather than per record).
        let buf = Bytes::from(buf);
        let mut out = Vec::with_capacity(offsets.len());
        for (i, (&off, &len)) in offsets.iter().zip(lens.iter()).enumerate() {
            let at = (off - base) as usize;
            let (rec, _) = decode_record_with(&buf[at..at + len as usize], from + i as u64, |p| {
                buf.slice_ref(p)
            })?;
            out.push(rec);
        }
        Ok(out)
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
        struct St {
            log: EmbeddedLog,
            next: Seq,
            to: Option<Seq>,
            buf: std::vec::IntoIter<LogRecord>,
            rx: watch::Receiver<Seq>,
            done: bool,
        }
        let rx = self.inner.head_tx.subscribe();
        let st = St {
            log: self.clone(),
            next: from.max(1),
            to,
            buf: Vec::new().into_iter(),
            rx,
            done: false,
        };
        futures::stream::unfold(st, |mut st| async move {
            loop {
                if st.done {
                    return None;
                }
                if let Some(r) = st.buf.next() {
                    return Some((Ok(r), st));
                }
                if let Some(to) = st.to {
                    if st.next > to {
                        return None;
                    }
                }
                let head = *st.rx.borrow_and_update();
                if st.next > head {
                    if st.to.is_some() {
                        return None;
                    }
                    // Live tail: wait for an append.
                    if st.rx.changed().await.is_err() {
                        return None;
                    }
                    continue;
                }
                let end = (st.next + READ_CHUNK as u64 - 1)
                    .min(head)
                    .min(st.to.unwrap_or(Seq::MAX));
                let inner = st.log.inner.clone();
                let from = st.next;
                let res = tokio::task::spawn_blocking(move || Self::read_chunk(&inner, from, end))
                    .await
                    .map_err(|e| LogError::Unavailable(format!("read task failed: {e}")))
                    .and_then(|r| r);
                match res {
                    Ok(recs) => {
                        if recs.is_empty() {
                            st.done = true;
                            return Some((
                                Err(LogError::Gap {
                                    expected: from,
                                    got: 0,
                                }),
                                st,
                            ));
                        }
                        st.next = from + recs.len() as u64;
                        st.buf = recs.into_iter();
                    }
                    Err(e) => {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                }
            }
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
