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
//! msg id → sequence, seq → offset) rebuilt. A frame that is incomplete or fails
//! its CRC *and is the last frame of the file* is a torn write from a crash: it
//! was never acknowledged; its bytes are copied to `log.dat.torn-<offset>` and
//! the file truncated. A bad frame followed by more data is corruption:
//! [`LogError::Corrupt`] naming the first bad sequence, never truncated.
//!
//! `<dir>/LOCK` is held with an exclusive advisory lock while the log is open:
//! one process owns the directory. Within the process appends are serialised.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;
use uuid::Uuid;

use crate::{
    check_commit, expected_ok, Appended, BatchProgress, Capabilities, Commit, EventLog, LogError,
    LogRecord, RecordStream, Seq, Subject, Until, DEFAULT_MAX_BATCH, DEFAULT_MAX_PAYLOAD,
};

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

#[derive(Default)]
struct Index {
    /// seq-1 → file offset of the record (its rec_len field).
    offsets: Vec<u64>,
    /// seq-1 → record length including its 8-byte header.
    lens: Vec<u32>,
    /// seq-1 → max recorded_at over 1..=seq (for `Until::RecordedAt`).
    prefix_max: Vec<i64>,
    subjects: HashMap<Subject, Vec<Seq>>,
    msg_ids: HashMap<Uuid, Seq>,
}

impl Index {
    fn head(&self) -> Seq {
        self.offsets.len() as Seq
    }
    fn version(&self, s: &Subject) -> Seq {
        self.subjects
            .get(s)
            .and_then(|v| v.last().copied())
            .unwrap_or(0)
    }
    fn push(&mut self, offset: u64, len: u32, subject: Subject, msg_id: Uuid, recorded_at: i64) {
        let seq = self.head() + 1;
        let pm = self.prefix_max.last().copied().unwrap_or(i64::MIN);
        self.offsets.push(offset);
        self.lens.push(len);
        self.prefix_max.push(pm.max(recorded_at));
        self.subjects.entry(subject).or_default().push(seq);
        self.msg_ids.insert(msg_id, seq);
    }
}

struct Writer {
    file: File,
    len: u64,
}

/// An append waiting for the group commit.
struct Queued {
    commits: Vec<Commit>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<Appended>, LogError>>,
}

struct NewRec {
    start: usize,
    len: usize,
    subject: Subject,
    msg_id: Uuid,
    recorded_at: i64,
}

/// Records staged for one group commit.
#[derive(Default)]
struct Group {
    next: Seq,
    body: Vec<u8>,
    new: Vec<NewRec>,
    ids: HashMap<Uuid, Seq>,
    versions: HashMap<Subject, Seq>,
}

struct Inner {
    dir: PathBuf,
    data_path: PathBuf,
    opts: EmbeddedOptions,
    writer: Mutex<Writer>,
    queue: Mutex<Vec<Queued>>,
    index: RwLock<Index>,
    reader: File,
    head_tx: watch::Sender<Seq>,
    _lock: File,
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

/// One decoded record plus where it sits.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub offset: u64,
    pub len: u32,
    pub record: LogRecord,
}

/// Encode one record (header + body) into `out`.
pub fn encode_record(out: &mut Vec<u8>, seq: Seq, c: &LogRecordRef<'_>) {
    let subject = c.subject.as_bytes();
    let rec_len = REC_FIXED + subject.len() + c.payload.len();
    let start = out.len();
    out.extend_from_slice(&(rec_len as u32).to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&c.recorded_at.to_le_bytes());
    out.extend_from_slice(c.msg_id.as_bytes());
    out.extend_from_slice(&(subject.len() as u16).to_le_bytes());
    out.extend_from_slice(subject);
    out.extend_from_slice(c.payload);
    let crc = crc32fast::hash(&out[start + REC_HEADER..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Borrowed view of a record to encode.
pub struct LogRecordRef<'a> {
    pub subject: &'a str,
    pub msg_id: Uuid,
    pub recorded_at: i64,
    pub payload: &'a [u8],
}

/// Wrap encoded records into a frame (header + body).
pub fn encode_frame(count: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER + body.len());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&out[0..8]);
    h.update(body);
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Decode one record starting at `b[0]` (its rec_len field). Returns the
/// record and its total length. `expected` is the sequence it must carry.
fn decode_record(b: &[u8], expected: Seq) -> Result<(LogRecord, usize), LogError> {
    let corrupt = |detail: String| LogError::Corrupt {
        seq: expected,
        detail,
    };
    if b.len() < REC_HEADER {
        return Err(corrupt("record header truncated".into()));
    }
    let rec_len = u32_at(b, 0) as usize;
    let crc = u32_at(b, 4);
    if rec_len < REC_FIXED || b.len() < REC_HEADER + rec_len {
        return Err(corrupt(format!("record length {rec_len} out of bounds")));
    }
    let rec = &b[REC_HEADER..REC_HEADER + rec_len];
    if crc32fast::hash(rec) != crc {
        return Err(corrupt("record CRC mismatch".into()));
    }
    let seq = u64_at(rec, 0);
    if seq != expected {
        return Err(corrupt(format!(
            "record carries sequence {seq} where {expected} was expected"
        )));
    }
    let recorded_at = u64_at(rec, 8) as i64;
    let mut id = [0u8; 16];
    id.copy_from_slice(&rec[16..32]);
    let slen = u16::from_le_bytes([rec[32], rec[33]]) as usize;
    if REC_FIXED + slen > rec_len {
        return Err(corrupt(format!("subject length {slen} out of bounds")));
    }
    let subj = std::str::from_utf8(&rec[REC_FIXED..REC_FIXED + slen])
        .map_err(|_| corrupt("subject is not UTF-8".into()))?;
    let subject = Subject::parse(subj).map_err(|e| corrupt(e.to_string()))?;
    let payload = Bytes::copy_from_slice(&rec[REC_FIXED + slen..]);
    Ok((
        LogRecord {
            seq,
            subject,
            msg_id: Uuid::from_bytes(id),
            recorded_at,
            payload,
        },
        REC_HEADER + rec_len,
    ))
}

enum ScanEnd {
    Clean,
    /// Torn tail starting at this offset.
    Torn(u64),
}

/// Scan the data file, calling `f` for every record. Stops at a torn tail.
fn scan(
    path: &Path,
    mut f: impl FnMut(u64, u32, LogRecord) -> Result<(), LogError>,
) -> Result<(ScanEnd, u64), LogError> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let file_len = file.metadata().map_err(|e| io_err(path, e))?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 8];
    if file_len < 8 {
        return Err(LogError::Corrupt {
            seq: 0,
            detail: format!("{} shorter than its header", path.display()),
        });
    }
    r.read_exact(&mut magic).map_err(|e| io_err(path, e))?;
    if &magic != MAGIC {
        return Err(LogError::Corrupt {
            seq: 0,
            detail: format!("{} is not a perfledger embedded log", path.display()),
        });
    }
    let mut pos = 8u64;
    let mut next: Seq = 1;
    let mut body = Vec::new();
    loop {
        if pos == file_len {
            return Ok((ScanEnd::Clean, pos));
        }
        if file_len - pos < FRAME_HEADER as u64 {
            return Ok((ScanEnd::Torn(pos), pos));
        }
        let mut hdr = [0u8; FRAME_HEADER];
        r.read_exact(&mut hdr).map_err(|e| io_err(path, e))?;
        let body_len = u32_at(&hdr, 0) as u64;
        let count = u32_at(&hdr, 4);
        let crc = u32_at(&hdr, 8);
        let end = pos + FRAME_HEADER as u64 + body_len;
        if end > file_len {
            return Ok((ScanEnd::Torn(pos), pos));
        }
        body.resize(body_len as usize, 0);
        r.read_exact(&mut body).map_err(|e| io_err(path, e))?;
        let mut h = crc32fast::Hasher::new();
        h.update(&hdr[0..8]);
        h.update(&body);
        let frame_ok = h.finalize() == crc;
        if !frame_ok && end == file_len {
            return Ok((ScanEnd::Torn(pos), pos));
        }
        // Decode records (even when the frame CRC failed, to name the bad one).
        let mut at = 0usize;
        let mut n = 0u32;
        while at < body.len() {
            let (rec, len) = decode_record(&body[at..], next)?;
            f(pos + (FRAME_HEADER + at) as u64, len as u32, rec)?;
            at += len;
            next += 1;
            n += 1;
        }
        if !frame_ok || n != count {
            return Err(LogError::Corrupt {
                seq: next - n as u64,
                detail: format!("frame at byte {pos} fails its CRC or record count"),
            });
        }
        pos = end;
    }
}

/// Attempts to take the directory lock before reporting it in use.
const LOCK_ATTEMPTS: u32 = 50;
/// Pause between attempts (at most about half a second in all).
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(10);

/// Take the exclusive directory lock, retrying briefly while it is held.
///
/// A flock lives as long as any copy of its descriptor. While another thread
/// of this process spawns a child, the child briefly holds copies of every
/// descriptor (between fork and exec), so a lock released by dropping the
/// log can look held for a moment. A lock that stays held is a real second
/// owner and is reported.
fn lock_exclusive(lock: &File) -> std::io::Result<()> {
    let mut attempt = 1;
    loop {
        match fs2::FileExt::try_lock_exclusive(lock) {
            Ok(()) => return Ok(()),
            Err(e) if attempt < LOCK_ATTEMPTS && e.kind() == std::io::ErrorKind::WouldBlock => {
                attempt += 1;
                std::thread::sleep(LOCK_RETRY);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Read every record of a closed log directory (for tools and tests).
pub fn read_raw(dir: &Path) -> Result<Vec<RawRecord>, LogError> {
    let mut out = Vec::new();
    scan(&dir.join(DATA_FILE), |offset, len, record| {
        out.push(RawRecord {
            offset,
            len,
            record,
        });
        Ok(())
    })?;
    Ok(out)
}

/// Rewrite a closed log directory's data file from records, one frame per
/// record, with valid CRCs (used by tamper tests; sequences are written as given).
pub fn write_raw(dir: &Path, records: &[LogRecord]) -> Result<(), LogError> {
    let path = dir.join(DATA_FILE);
    let mut buf = MAGIC.to_vec();
    for r in records {
        let mut body = Vec::new();
        encode_record(
            &mut body,
            r.seq,
            &LogRecordRef {
                subject: r.subject.as_str(),
                msg_id: r.msg_id,
                recorded_at: r.recorded_at,
                payload: &r.payload,
            },
        );
        buf.extend_from_slice(&encode_frame(1, &body));
    }
    std::fs::write(&path, buf).map_err(|e| io_err(&path, e))
}

impl EmbeddedLog {
    /// Open (or create) the log in `dir` with default options.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, LogError> {
        Self::open_with(dir, EmbeddedOptions::default()).await
    }

    /// Open (or create) the log in `dir`.
    pub async fn open_with(
        dir: impl Into<PathBuf>,
        opts: EmbeddedOptions,
    ) -> Result<Self, LogError> {
        let dir = dir.into();
        tokio::task::spawn_blocking(move || Self::open_blocking(dir, opts))
            .await
            .map_err(|e| LogError::Unavailable(format!("open task failed: {e}")))?
    }

    fn open_blocking(dir: PathBuf, opts: EmbeddedOptions) -> Result<Self, LogError> {
        std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err(&lock_path, e))?;
        lock_exclusive(&lock).map_err(|e| {
            LogError::Unavailable(format!(
                "log directory {} is in use by another process or handle ({e})",
                dir.display()
            ))
        })?;
        let data_path = dir.join(DATA_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&data_path)
            .map_err(|e| io_err(&data_path, e))?;
        let len = file.metadata().map_err(|e| io_err(&data_path, e))?.len();
        if len == 0 {
            file.write_all(MAGIC).map_err(|e| io_err(&data_path, e))?;
            file.sync_all().map_err(|e| io_err(&data_path, e))?;
            File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_err(&dir, e))?;
        }
        let mut index = Index::default();
        let (end, good_len) = scan(&data_path, |offset, len, rec| {
            index.push(offset, len, rec.subject, rec.msg_id, rec.recorded_at);
            Ok(())
        })?;
        if let ScanEnd::Torn(at) = end {
            // Keep the torn bytes aside (never silently lost), then truncate.
            let mut torn = Vec::new();
            file.seek(SeekFrom::Start(at))
                .and_then(|_| file.read_to_end(&mut torn))
                .map_err(|e| io_err(&data_path, e))?;
            let aside = dir.join(format!("{DATA_FILE}.torn-{at}"));
            std::fs::write(&aside, &torn).map_err(|e| io_err(&aside, e))?;
            tracing::warn!(
                offset = at,
                bytes = torn.len(),
                "embedded log: torn tail from an interrupted write truncated (kept in {})",
                aside.display()
            );
            file.set_len(good_len)
                .and_then(|_| file.sync_all())
                .map_err(|e| io_err(&data_path, e))?;
        }
        file.seek(SeekFrom::Start(good_len))
            .map_err(|e| io_err(&data_path, e))?;
        let reader = File::open(&data_path).map_err(|e| io_err(&data_path, e))?;
        let (head_tx, _) = watch::channel(index.head());
        Ok(EmbeddedLog {
            inner: Arc::new(Inner {
                dir,
                data_path,
                opts,
                writer: Mutex::new(Writer {
                    file,
                    len: good_len,
                }),
                queue: Mutex::new(Vec::new()),
                index: RwLock::new(index),
                reader,
                head_tx,
                _lock: lock,
            }),
        })
    }

    /// The directory this log lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn head_now(&self) -> Result<Seq, LogError> {
        Ok(self
            .inner
            .index
            .read()
            .map_err(|_| poisoned("index"))?
            .head())
    }

    /// Validate one request against the index plus what the current group
    /// already holds; encode its new records into `g`. All-or-nothing per
    /// request: on error nothing of it stays in `g`.
    fn stage(idx: &Index, g: &mut Group, commits: &[Commit]) -> Result<Vec<Appended>, LogError> {
        let mut out = Vec::with_capacity(commits.len());
        let mut ids: HashMap<Uuid, Seq> = HashMap::new();
        let mut versions: HashMap<&Subject, Seq> = HashMap::new();
        let body_mark = g.body.len();
        let new_mark = g.new.len();
        let mut next = g.next;
        for c in commits {
            let seen = ids
                .get(&c.msg_id)
                .or_else(|| g.ids.get(&c.msg_id))
                .or_else(|| idx.msg_ids.get(&c.msg_id));
            if let Some(&seq) = seen {
                out.push(Appended {
                    seq,
                    duplicate: true,
                });
                continue;
            }
            let current = versions
                .get(&c.subject)
                .or_else(|| g.versions.get(&c.subject))
                .copied()
                .unwrap_or_else(|| idx.version(&c.subject));
            if !expected_ok(c.expected, current) {
                g.body.truncate(body_mark);
                g.new.truncate(new_mark);
                return Err(LogError::Conflict {
                    subject: c.subject.clone(),
                    expected: c.expected,
                    current,
                });
            }
            let start = g.body.len();
            encode_record(
                &mut g.body,
                next,
                &LogRecordRef {
                    subject: c.subject.as_str(),
                    msg_id: c.msg_id,
                    recorded_at: c.recorded_at,
                    payload: &c.payload,
                },
            );
            g.new.push(NewRec {
                start,
                len: g.body.len() - start,
                subject: c.subject.clone(),
                msg_id: c.msg_id,
                recorded_at: c.recorded_at,
            });
            ids.insert(c.msg_id, next);
            versions.insert(&c.subject, next);
            out.push(Appended {
                seq: next,
                duplicate: false,
            });
            next += 1;
        }
        g.next = next;
        g.ids.extend(ids);
        for (s, v) in versions {
            g.versions.insert(s.clone(), v);
        }
        Ok(out)
    }

    /// Group commit: whoever holds the writer drains every queued request,
    /// writes all their new records as ONE frame, fsyncs once, then answers
    /// each request. A request already answered by an earlier leader finds
    /// the queue without it and returns at once.
    fn commit_queued(inner: &Inner) -> Result<(), LogError> {
        let mut w = inner.writer.lock().map_err(|_| poisoned("writer"))?;
        let queued: Vec<Queued> =
            std::mem::take(&mut *inner.queue.lock().map_err(|_| poisoned("queue"))?);
        if queued.is_empty() {
            return Ok(());
        }
        let mut g = Group::default();
        let mut answers: Vec<(Queued, Result<Vec<Appended>, LogError>)> = Vec::new();
        {
            let idx = inner.index.read().map_err(|_| poisoned("index"))?;
            g.next = idx.head() + 1;
            for q in queued {
                let r = q
                    .commits
                    .iter()
                    .try_for_each(|c| check_commit(c, inner.opts.max_payload))
                    .and_then(|_| Self::stage(&idx, &mut g, &q.commits));
                answers.push((q, r));
            }
        }
        if !g.new.is_empty() {
            let frame = encode_frame(g.new.len() as u32, &g.body);
            let base = w.len;
            let res = w.file.write_all(&frame).and_then(|_| w.file.sync_data());
            if let Err(e) = res {
                // Roll back a partial write: the file never keeps an unacknowledged frame.
                let _ = w.file.set_len(base);
                let _ = w.file.seek(SeekFrom::Start(base));
                // Nothing of this group is durable: fail every request in it
                // (even all-duplicate ones, which may point into this group).
                let msg = e.to_string();
                for (q, _) in answers {
                    let _ = q.reply.send(Err(io_err(
                        &inner.data_path,
                        std::io::Error::new(e.kind(), msg.clone()),
                    )));
                }
                return Ok(());
            }
            w.len = base + frame.len() as u64;
            let head = {
                let mut idx = inner.index.write().map_err(|_| poisoned("index"))?;
                for n in g.new {
                    idx.push(
                        base + (FRAME_HEADER + n.start) as u64,
                        n.len as u32,
                        n.subject,
                        n.msg_id,
                        n.recorded_at,
                    );
                }
                idx.head()
            };
            inner.head_tx.send_replace(head);
        }
        drop(w);
        for (q, r) in answers {
            let _ = q.reply.send(r);
        }
        Ok(())
    }

    async fn append_many(&self, commits: Vec<Commit>) -> Result<Vec<Appended>, LogError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.inner
            .queue
            .lock()
            .map_err(|_| poisoned("queue"))?
            .push(Queued { commits, reply });
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || Self::commit_queued(&inner))
            .await
            .map_err(|e| LogError::Unavailable(format!("append task failed: {e}")))??;
        rx.await
            .map_err(|_| LogError::Unavailable("append was dropped by the group commit".into()))?
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
        let mut out = Vec::with_capacity(offsets.len());
        for (i, (&off, &len)) in offsets.iter().zip(lens.iter()).enumerate() {
            let at = (off - base) as usize;
            let (rec, _) = decode_record(&buf[at..at + len as usize], from + i as u64)?;
            out.push(rec);
        }
        Ok(out)
    }

    fn resolve_until(&self, until: Until) -> Result<Seq, LogError> {
        let idx = self.inner.index.read().map_err(|_| poisoned("index"))?;
        Ok(match until {
            Until::Head => idx.head(),
            Until::Seq(s) => s.min(idx.head()),
            Until::RecordedAt(t) => idx.prefix_max.partition_point(|&m| m <= t) as Seq,
        })
    }

    fn stream_range(&self, from: Seq, to: Option<Seq>) -> RecordStream {
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

    fn read(&self, from: Seq, until: Until) -> RecordStream {
        match self.resolve_until(until) {
            Ok(to) => self.stream_range(from, Some(to)),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        }
    }

    fn tail(&self, from: Seq) -> RecordStream {
        self.stream_range(from, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Expected;

    fn c(i: u128, expected: Expected) -> Commit {
        Commit {
            subject: Subject::entity("pl", "t", "k", Uuid::from_u128(i % 7 + 1)).unwrap(),
            expected,
            msg_id: Uuid::from_u128(i + 1),
            recorded_at: i as i64,
            payload: Bytes::from(format!("payload {i}")),
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
                            payload: Bytes::from_static(b"x"),
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
