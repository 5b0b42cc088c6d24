//! The on-disk grammar (see the module root), encoded and decoded.
//!
//! Invariant: nothing is decoded unchecked. Every record's CRC, length and
//! sequence (the next expected one) is checked, and every frame's CRC and
//! record count; a bad last frame is a torn tail (reported to the caller,
//! which sets it aside), any other bad frame is [`LogError::Corrupt`]
//! naming the first bad sequence.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use bytes::Bytes;
use uuid::Uuid;

use super::{io_err, DATA_FILE, FRAME_HEADER, MAGIC, REC_FIXED, REC_HEADER};
use crate::{LogError, LogRecord, Seq, Subject};

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

/// One record checked in place: its CRC, lengths and sequence hold and
/// its subject is UTF-8, but the subject's grammar is the caller's to check
/// ([`Subject::parse`], or [`Subject::check`] where no subject is built;
/// the index checks each distinct subject once). Borrowed from the bytes
/// read, so a reader that only hashes or indexes a record copies nothing.
pub(super) struct RecordView<'a> {
    pub seq: Seq,
    pub recorded_at: i64,
    pub msg_id: Uuid,
    pub subject: &'a str,
    pub payload: &'a [u8],
}

impl RecordView<'_> {
    /// The error of a record whose subject breaks the grammar.
    pub(super) fn bad_subject(&self, e: LogError) -> LogError {
        LogError::Corrupt {
            seq: self.seq,
            detail: e.to_string(),
        }
    }

    /// The record decoded (its subject parsed), the payload taken by
    /// `payload` from the checked bytes.
    pub(super) fn into_record(
        self,
        payload: impl FnOnce(&[u8]) -> Bytes,
    ) -> Result<LogRecord, LogError> {
        Ok(LogRecord {
            seq: self.seq,
            subject: Subject::parse(self.subject).map_err(|e| self.bad_subject(e))?,
            msg_id: self.msg_id,
            recorded_at: self.recorded_at,
            payload: payload(self.payload),
        })
    }
}

/// Check one record starting at `b[0]` (its rec_len field) in place: see
/// [`RecordView`]. Returns it and its total length. `expected` is the
/// sequence it must carry.
pub(super) fn check_record(b: &[u8], expected: Seq) -> Result<(RecordView<'_>, usize), LogError> {
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
    let subject = std::str::from_utf8(&rec[REC_FIXED..REC_FIXED + slen])
        .map_err(|_| corrupt("subject is not UTF-8".into()))?;
    Ok((
        RecordView {
            seq,
            recorded_at,
            msg_id: Uuid::from_bytes(id),
            subject,
            payload: &rec[REC_FIXED + slen..],
        },
        REC_HEADER + rec_len,
    ))
}

pub(super) enum ScanEnd {
    Clean,
    /// Torn tail starting at this offset.
    Torn(u64),
}

/// Scan the data file, calling `f` for every record (offset, length, the
/// record checked in place: `f` checks its subject). Stops at a torn tail.
pub(super) fn scan(
    path: &Path,
    mut f: impl FnMut(u64, u32, RecordView<'_>) -> Result<(), LogError>,
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
            let (rec, len) = check_record(&body[at..], next)?;
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

/// Read every record of a closed log directory (for tools and tests).
pub fn read_raw(dir: &Path) -> Result<Vec<RawRecord>, LogError> {
    let mut out = Vec::new();
    scan(&dir.join(DATA_FILE), |offset, len, v| {
        let record = v.into_record(Bytes::copy_from_slice)?;
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
