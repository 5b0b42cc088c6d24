//! The embedded log: one local directory, no server.
//!
//! # On-disk format (`<dir>/log.dat`, all integers little-endian)
//!
//! ```text
//! file   := MAGIC(8 = "PLEMB\0\0\x01") frame*
//! frame  := body_len:u32 count:u32 crc:u32 body          (crc32 of body_len‖count‖body)
//! body   := record{count}
//! record := rec_len:u32 rec_crc:u32 rec                   (rec_crc = crc32 of rec)
//! rec    := seq:u64 recorded_at:i64 msg_id:[16] subject_len:u16 subject payload
//! ```
//!
//! A frame is the unit of atomicity and durability: one `append` writes one
//! frame of one record, one `append_batch` writes one frame of all its new
//! records, followed by one `fsync` before the acknowledgement. On open the
//! file is scanned, every CRC checked and the index (subject → versions,
//! seq → offset) rebuilt; the msg-id index (msg id → sequence) is read by
//! the first append (`ids`). A frame that is incomplete or fails
//! its CRC *and is the last frame of the file* is a torn write from a crash: it
//! was never acknowledged; its bytes are copied to `log.dat.torn-<offset>` and
//! the file truncated. A bad frame followed by more data is corruption:
//! [`LogError::Corrupt`] naming the first bad sequence, never truncated.
//!
//! `<dir>/LOCK` is held with an exclusive advisory lock while the log is open:
//! one process owns the directory. Within the process appends are serialised.
//!
//! # Where things are
//!
//! * `format`: the grammar above, encoded and decoded (every CRC and
//!   sequence checked), and the scan that finds a torn tail;
//! * `open`: the directory lock, and opening (index rebuilt, torn tail set
//!   aside);
//! * `ids`: the msg-id index for dedupe, built by the first append;
//! * `write`: staging and the group commit (one frame, one fsync, then the
//!   acknowledgements);
//! * `read`: reading records back through the index.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use futures::StreamExt;
use tokio::sync::watch;

use crate::{
    Appended, BatchProgress, Capabilities, Commit, EventLog, LogError, LogRecord, RecordStream,
    Seq, Subject, Until, DEFAULT_MAX_BATCH, DEFAULT_MAX_PAYLOAD,
};

mod format;
mod ids;
mod offsets;
mod open;
mod read;
mod seq_list;
mod write;

use format::RecordView;
use offsets::Offsets;
use seq_list::SeqList;
use write::{Queue, Writer};

pub use format::{encode_frame, encode_record, read_raw, write_raw, LogRecordRef, RawRecord};

/// File magic (8 bytes), also the format version.
pub const MAGIC: &[u8; 8] = b"PLEMB\0\0\x01";
/// Name of the data file inside the directory.
pub const DATA_FILE: &str = "log.dat";
/// Name of the lock file inside the directory.
pub const LOCK_FILE: &str = "LOCK";

const FRAME_HEADER: usize = 12;
const REC_HEADER: usize = 8;
const REC_FIXED: usize = 8 + 8 + 16 + 2;
/// Records per read chunk.
const READ_CHUNK: usize = 2048;

/// Options of the embedded log.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    pub max_payload: usize,
    pub max_batch: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_batch: DEFAULT_MAX_BATCH,
        }
    }
}

/// Records per entry of [`Index::block_max`].
const TIME_BLOCK: Seq = 256;

/// Where each record is, and each subject's sequences: about 8 bytes a
/// record for positions (a length is the distance to the next record, less
/// a frame header where a frame starts), a fraction of a byte for times.
#[derive(Default)]
struct Index {
    /// seq-1 → file offset of the record (its rec_len field).
    offsets: Offsets,
    /// Bit seq-1 set ⇔ record seq is the first of its frame (a frame
    /// header lies between it and the record before).
    frame_starts: Vec<u64>,
    /// The end of the last record (0 when there is none).
    end: u64,
    /// Block k → max recorded_at over records `1..=(k+1)·TIME_BLOCK` (the
    /// last block: up to the head), for `Until::RecordedAt`.
    block_max: Vec<i64>,
    subjects: HashMap<Subject, SeqList>,
}

/// Where [`Until::RecordedAt`] ends, as far as the index knows.
enum TimeEnd {
    /// At this sequence.
    At(Seq),
    /// Within records `from..=to`, after the last one whose own time and
    /// every earlier record's is at most the bound: read their times.
    Within(Seq, Seq),
}

impl Index {
    fn head(&self) -> Seq {
        self.offsets.len() as Seq
    }
    /// File offsets of records `from..=to` (all indexed).
    fn offsets_of(&self, from: Seq, to: Seq) -> Vec<u64> {
        self.offsets.range((from - 1) as usize, to as usize)
    }
    fn version(&self, s: &Subject) -> Seq {
        self.subjects.get(s).and_then(SeqList::last).unwrap_or(0)
    }
    /// Every sequence of subject `s`, ascending.
    fn subject_seqs(&self, s: &Subject) -> Vec<Seq> {
        self.subjects
            .get(s)
            .map(SeqList::to_vec)
            .unwrap_or_default()
    }
    /// Index an appended record; its sequence.
    fn push(&mut self, offset: u64, len: u32, subject: Subject, recorded_at: i64) -> Seq {
        let seq = self.push_position(offset, len, recorded_at);
        self.subjects.entry(subject).or_default().push(seq);
        seq
    }

    /// Record `seq`'s file offset.
    fn offset(&self, seq: Seq) -> u64 {
        self.offsets
            .get((seq - 1) as usize)
            .expect("an indexed sequence has an offset")
    }

    /// The lengths (with their headers) of records `from..=to`, all indexed.
    fn lens(&self, from: Seq, to: Seq) -> Vec<u32> {
        (from..=to)
            .map(|seq| {
                let next = match self.offsets.get(seq as usize) {
                    None => self.end,
                    Some(o) if self.starts_frame(seq + 1) => o - FRAME_HEADER as u64,
                    Some(o) => o,
                };
                u32::try_from(next - self.offset(seq))
                    .expect("a record's length fits its u32 field")
            })
            .collect()
    }

    fn starts_frame(&self, seq: Seq) -> bool {
        let i = (seq - 1) as usize;
        (self.frame_starts[i / 64] >> (i % 64)) & 1 == 1
    }

    /// Where the longest prefix of records whose times are all at most
    /// `t` ends: at the head, or within the first block whose maximum is
    /// beyond `t`.
    fn time_end(&self, t: i64) -> TimeEnd {
        let k = self.block_max.partition_point(|&m| m <= t);
        if k == self.block_max.len() {
            return TimeEnd::At(self.head());
        }
        let from = k as Seq * TIME_BLOCK + 1;
        TimeEnd::Within(from, (from + TIME_BLOCK - 1).min(self.head()))
    }

    /// Index a record met by the open's scan. Its subject is looked up by its text and
    /// its grammar checked only when it is new (the subject of an indexed
    /// record was checked then): no subject is built for the rest.
    fn push_scanned(&mut self, offset: u64, len: u32, v: &RecordView<'_>) -> Result<(), LogError> {
        let seq = self.head() + 1;
        match self.subjects.get_mut(v.subject) {
            Some(seqs) => seqs.push(seq),
            None => {
                let subject = Subject::parse(v.subject).map_err(|e| v.bad_subject(e))?;
                self.subjects.entry(subject).or_default().push(seq);
            }
        }
        self.push_position(offset, len, v.recorded_at);
        Ok(())
    }

    /// Give back the subject lists' spare capacity (after the open's scan).
    fn shrink_subjects(&mut self) {
        for list in self.subjects.values_mut() {
            list.shrink_to_fit();
        }
    }

    /// The next record's position and time; its sequence.
    fn push_position(&mut self, offset: u64, len: u32, recorded_at: i64) -> Seq {
        let i = self.offsets.len();
        if i.is_multiple_of(64) {
            self.frame_starts.push(0);
        }
        if offset != self.end {
            // Records of one frame are contiguous; the next frame's first
            // record follows the frame header.
            assert_eq!(
                offset,
                self.end.max(MAGIC.len() as u64) + FRAME_HEADER as u64,
                "a record is where the frame before it ends"
            );
            *self.frame_starts.last_mut().expect("a word per 64 records") |= 1 << (i % 64);
        }
        self.offsets.push(offset);
        self.end = offset + u64::from(len);
        if (i as Seq).is_multiple_of(TIME_BLOCK) {
            let before = self.block_max.last().copied().unwrap_or(i64::MIN);
            self.block_max.push(before.max(recorded_at));
        } else {
            let m = self
                .block_max
                .last_mut()
                .expect("a block per TIME_BLOCK records");
            *m = (*m).max(recorded_at);
        }
        self.head()
    }
}

struct Inner {
    dir: PathBuf,
    data_path: PathBuf,
    opts: EmbeddedOptions,
    writer: Mutex<Writer>,
    queue: Mutex<Queue>,
    index: RwLock<Index>,
    reader: File,
    head_tx: watch::Sender<Seq>,
    _lock: File,
}

impl EmbeddedLog {
    /// `Until::RecordedAt(t)`: the end of the longest prefix of records all
    /// recorded at or before `t`. The index narrows it to one block; that
    /// block's times (one read of at most `TIME_BLOCK` records) finish it.
    fn end_at_time(&self, t: i64) -> Result<Seq, LogError> {
        let end = self
            .inner
            .index
            .read()
            .map_err(|_| poisoned("index"))?
            .time_end(t);
        match end {
            TimeEnd::At(seq) => Ok(seq),
            TimeEnd::Within(from, to) => {
                let times = Self::read_chunk_with(&self.inner, from, to, |_, v| Ok(v.recorded_at))?;
                Ok(from - 1 + times.iter().take_while(|&&r| r <= t).count() as Seq)
            }
        }
    }
}

/// The embedded backend. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct EmbeddedLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EmbeddedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedLog")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

fn io_err(path: &Path, source: std::io::Error) -> LogError {
    LogError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn poisoned(what: &str) -> LogError {
    LogError::Unavailable(format!("embedded log {what} lock poisoned by a panic"))
}

impl EventLog for EmbeddedLog {
    async fn append(&self, commit: Commit) -> Result<Appended, LogError> {
        let mut v = self.append_many(vec![commit]).await?;
        v.pop()
            .ok_or_else(|| LogError::Unavailable("append produced no acknowledgement".into()))
    }

    async fn append_batch(&self, commits: Vec<Commit>) -> Result<Vec<Appended>, LogError> {
        if commits.len() > self.inner.opts.max_batch {
            return Err(LogError::BatchTooLarge {
                len: commits.len(),
                max: self.inner.opts.max_batch,
            });
        }
        self.append_many(commits).await
    }

    async fn append_pipelined(&self, commits: Vec<Commit>) -> BatchProgress {
        let mut appended = Vec::with_capacity(commits.len());
        let mut it = commits.into_iter().peekable();
        while it.peek().is_some() {
            let chunk: Vec<Commit> = it.by_ref().take(self.inner.opts.max_batch).collect();
            match self.append_many(chunk).await {
                Ok(a) => appended.extend(a),
                Err(e) => {
                    return BatchProgress {
                        appended,
                        error: Some(e),
                    }
                }
            }
        }
        BatchProgress {
            appended,
            error: None,
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            atomic_batch: true,
            max_batch: self.inner.opts.max_batch,
            // Ids are remembered forever, but a wrapper may forget them
            // (testkit's fault log): promise nothing.
            dedupe_window: std::time::Duration::ZERO,
            // A read of this process's own index.
            direct_versions: true,
        }
    }

    async fn head(&self) -> Result<Seq, LogError> {
        self.head_now()
    }

    async fn subject_version(&self, subject: &Subject) -> Result<Seq, LogError> {
        Ok(self
            .inner
            .index
            .read()
            .map_err(|_| poisoned("index"))?
            .version(subject))
    }

    async fn read_subject(&self, subject: &Subject) -> Result<Vec<LogRecord>, LogError> {
        self.subject_records(subject).await
    }

    fn read(&self, from: Seq, until: Until) -> RecordStream {
        match self.resolve_until(until) {
            Ok(to) => self.stream_range(from, Some(to)),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        }
    }

    fn tail(&self, from: Seq) -> RecordStream {
        self.stream_range(from, None)
    }

    fn read_hashed(&self, from: Seq, to: Seq) -> crate::integrity::HashedStream {
        self.hashed(from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Expected;
    use uuid::Uuid;

    fn c(i: u128, expected: Expected) -> Commit {
        Commit {
            subject: Subject::entity("pl", "t", "k", Uuid::from_u128(i % 7 + 1)).unwrap(),
            expected,
            msg_id: Uuid::from_u128(i + 1),
            recorded_at: i as i64,
            payload: bytes::Bytes::from(format!("payload {i}")),
        }
    }

    #[tokio::test]
    async fn batch_frame_roundtrip_and_reopen_rebuilds_index() {
        let d = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(d.path()).await.unwrap();
        let commits: Vec<_> = (0..50).map(|i| c(i, Expected::Any)).collect();
        let a = log.append_batch(commits).await.unwrap();
        assert_eq!(a.last().unwrap().seq, 50);
        drop(log);
        let raw = read_raw(d.path()).unwrap();
        assert_eq!(raw.len(), 50);
        let log = EmbeddedLog::open(d.path()).await.unwrap();
        assert_eq!(log.head().await.unwrap(), 50);
        let s = Subject::entity("pl", "t", "k", Uuid::from_u128(1)).unwrap();
        assert_eq!(log.subject_version(&s).await.unwrap(), 50);
        assert_eq!(log.read_subject(&s).await.unwrap().len(), 8);
        let dup = log.append(c(3, Expected::Empty)).await.unwrap();
        assert_eq!((dup.seq, dup.duplicate), (4, true));
    }

    fn ids_built(log: &EmbeddedLog) -> bool {
        log.inner.writer.lock().unwrap().ids.is_some()
    }

    #[tokio::test]
    async fn dedupe_across_reopen_and_fingerprint_collisions() {
        let (a, b) = ids::tests::colliding_pair();
        let with_id = |i: u128, id: Uuid| Commit {
            msg_id: id,
            ..c(i, Expected::Any)
        };
        let d = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(d.path()).await.unwrap();
        log.append_batch((0..10).map(|i| c(i, Expected::Any)).collect())
            .await
            .unwrap();
        assert_eq!(log.append(with_id(10, a)).await.unwrap().seq, 11);
        drop(log);

        let log = EmbeddedLog::open(d.path()).await.unwrap();
        for _ in 0..3 {
            log.read(1, Until::Head).count().await;
            log.read(1, Until::RecordedAt(4)).count().await;
        }
        assert!(!ids_built(&log), "reading never builds the msg-id index");
        // Appended before the open: found through the file.
        let dup = log.append(with_id(20, a)).await.unwrap();
        assert_eq!((dup.seq, dup.duplicate), (11, true));
        assert!(ids_built(&log));
        // Same fingerprint, another id: a new record, then its own duplicate.
        let new = log.append(with_id(21, b)).await.unwrap();
        assert_eq!((new.seq, new.duplicate), (12, false));
        let dup = log.append(with_id(22, b)).await.unwrap();
        assert_eq!((dup.seq, dup.duplicate), (12, true));
        // Before the open, in a batch with a new one.
        let got = log
            .append_batch(vec![c(4, Expected::Any), c(30, Expected::Any)])
            .await
            .unwrap();
        assert_eq!(
            got.iter().map(|a| (a.seq, a.duplicate)).collect::<Vec<_>>(),
            [(5, true), (13, false)]
        );
        drop(log);

        let log = EmbeddedLog::open(d.path()).await.unwrap();
        for (i, id, seq) in [(0, a, 11), (1, b, 12), (2, Uuid::from_u128(31), 13)] {
            let dup = log.append(with_id(i, id)).await.unwrap();
            assert_eq!((dup.seq, dup.duplicate), (seq, true), "{id}");
        }
        assert_eq!(log.head().await.unwrap(), 13);
    }

    #[tokio::test]
    async fn positions_and_times_across_frames_and_blocks() {
        let d = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(d.path()).await.unwrap();
        // Times that go back and forth, in frames of 1 to 300 records.
        let time = |i: u128| ((i * 7919) % 1_000) as i64 + i as i64 / 3;
        let mut all = Vec::new();
        let mut i = 0;
        for size in [1, 300, 7, 1, 256, 255, 2, 100] {
            let batch: Vec<_> = (i..i + size)
                .map(|i| Commit {
                    recorded_at: time(i),
                    ..c(i, Expected::Any)
                })
                .collect();
            all.extend(
                batch
                    .iter()
                    .map(|c| (c.msg_id, c.recorded_at, c.payload.clone())),
            );
            log.append_batch(batch).await.unwrap();
            i += size;
        }
        check_positions_and_times(&log, &all).await;
        drop(log);
        // Again through the open's scan.
        let log = EmbeddedLog::open(d.path()).await.unwrap();
        check_positions_and_times(&log, &all).await;
    }

    async fn check_positions_and_times(log: &EmbeddedLog, all: &[(Uuid, i64, bytes::Bytes)]) {
        let got: Vec<_> = log
            .read(1, Until::Head)
            .map(|r| {
                let r = r.unwrap();
                (r.msg_id, r.recorded_at, r.payload)
            })
            .collect()
            .await;
        assert_eq!(got, all);
        for t in (-1..1_400).step_by(7) {
            let want = all.iter().take_while(|(_, at, _)| *at <= t).count();
            let n = log.read(1, Until::RecordedAt(t)).count().await;
            assert_eq!(n, want, "t {t}");
        }
    }

    #[tokio::test]
    async fn torn_batch_frame_is_discarded_whole() {
        let d = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(d.path()).await.unwrap();
        log.append(c(0, Expected::Any)).await.unwrap();
        log.append_batch((1..20).map(|i| c(i, Expected::Any)).collect())
            .await
            .unwrap();
        drop(log);
        // Cut the last (batch) frame in half: a crash mid-write.
        let path = d.path().join(DATA_FILE);
        let bytes = std::fs::read(&path).unwrap();
        let raw = read_raw(d.path()).unwrap();
        let cut = (raw[1].offset as usize + bytes.len()) / 2;
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let log = EmbeddedLog::open(d.path()).await.unwrap();
        assert_eq!(
            log.head().await.unwrap(),
            1,
            "the torn batch is all-or-nothing"
        );
    }

    #[tokio::test]
    async fn garbage_file_is_refused_not_truncated() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(DATA_FILE), b"definitely not a log").unwrap();
        match EmbeddedLog::open(d.path()).await {
            Err(LogError::Corrupt { seq: 0, .. }) => {}
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert_eq!(
            std::fs::read(d.path().join(DATA_FILE)).unwrap(),
            b"definitely not a log"
        );
    }
}

#[cfg(test)]
mod group_commit_tests {
    use super::*;
    use crate::Expected;
    use uuid::Uuid;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_share_fsyncs_and_stay_gapless() {
        let d = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(d.path()).await.unwrap();
        let mut tasks = Vec::new();
        for w in 0..8u128 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let s = Subject::entity("pl", "t", "k", Uuid::from_u128(w + 1)).unwrap();
                let mut v = 0;
                for i in 0..50u128 {
                    let a = log
                        .append(Commit {
                            subject: s.clone(),
                            expected: Expected::At(v),
                            msg_id: Uuid::from_u128(w << 64 | i),
                            recorded_at: 0,
                            payload: bytes::Bytes::from_static(b"x"),
                        })
                        .await
                        .unwrap();
                    v = a.seq;
                }
                v
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(log.head().await.unwrap(), 400);
        drop(log);
        let raw = read_raw(d.path()).unwrap();
        assert_eq!(raw.len(), 400);
        assert!(raw
            .iter()
            .enumerate()
            .all(|(i, r)| r.record.seq == i as u64 + 1));
    }
}
