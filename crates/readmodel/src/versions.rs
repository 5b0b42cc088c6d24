//! Fact-version slots: the bitemporal index and the audit data in one value.
//!
//! A slot holds every version of one entity's field whose periods end in
//! one calendar year ([`keys::slot_key`]), sorted by (period, seq, index).
//! Each version carries its whole [`crate::store::FactRecord`] (who, when,
//! why, the value it replaced), so an as-of lookup is one `get` and a
//! binary search, and the projector writes one key per touched slot per
//! batch instead of one key per event.
//!
//! Value layout (all integers big-endian):
//!
//! ```text
//! value   = SLOT_FORMAT(1) version*
//! version = period(8) seq(8) index(2) len(4) record(len)
//! ```

use crate::keys::{self, NO_PERIOD};
use crate::ReadModelError;

/// Format byte in front of every slot value.
pub(crate) const SLOT_FORMAT: u8 = 1;

/// Bytes of a version's header (period, seq, index, record length).
pub(crate) const HEADER: usize = 8 + 8 + 2 + 4;

/// Largest record a slot accepts (a FactRecord is bounded by the codec's
/// text limits; this guards the length field against corruption).
const MAX_RECORD: usize = 16 * 1024 * 1024;

/// One version, borrowed from a slot value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VersionRef<'a> {
    /// Period bytes ([`keys::period_bytes`], zeros for none).
    pub period: [u8; 8],
    pub seq: u64,
    pub index: u16,
    /// `store::encode(FactRecord)`.
    pub record: &'a [u8],
}

impl VersionRef<'_> {
    /// The period's end month (months since year 0; 0 for none).
    pub fn end_month(&self) -> u32 {
        u32::from_be_bytes([
            self.period[0],
            self.period[1],
            self.period[2],
            self.period[3],
        ])
    }

    /// The period's first month (months since year 0; 0 for none).
    pub fn start_month(&self) -> u32 {
        u32::from_be_bytes([
            self.period[4],
            self.period[5],
            self.period[6],
            self.period[7],
        ])
    }

    fn order(&self) -> ([u8; 8], u64, u16) {
        (self.period, self.seq, self.index)
    }

    pub fn to_owned(self) -> Version {
        Version {
            period: self.period,
            seq: self.seq,
            index: self.index,
            record: self.record.to_vec(),
        }
    }
}

/// One version, owned (the projector's staging form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    pub period: [u8; 8],
    pub seq: u64,
    pub index: u16,
    pub record: Vec<u8>,
}

impl Version {
    fn order(&self) -> ([u8; 8], u64, u16) {
        (self.period, self.seq, self.index)
    }
}

/// The versions of a slot value in order, without allocating; `key` names
/// the slot in errors. Corruption (bad format byte, truncation, lengths past
/// the end, versions out of order) is an error, never a panic.
pub(crate) fn iter<'a>(
    key: &'a [u8],
    value: &'a [u8],
) -> impl Iterator<Item = Result<VersionRef<'a>, ReadModelError>> + 'a {
    let corrupt = move |detail: String| ReadModelError::Corrupt {
        key: hex::encode(key),
        detail,
    };
    let (mut rest, mut failed): (&[u8], Option<ReadModelError>) = match value.split_first() {
        Some((&SLOT_FORMAT, body)) => (body, None),
        Some((v, _)) => (&[], Some(corrupt(format!("unknown slot format {v}")))),
        None => (&[], Some(corrupt("empty slot".to_string()))),
    };
    let mut last: Option<([u8; 8], u64, u16)> = None;
    std::iter::from_fn(move || {
        if let Some(e) = failed.take() {
            return Some(Err(e));
        }
        if rest.is_empty() {
            return None;
        }
        let at = value.len() - rest.len();
        let step = || -> Result<(VersionRef<'a>, &'a [u8]), ReadModelError> {
            if rest.len() < HEADER {
                return Err(corrupt(format!("truncated version header at byte {at}")));
            }
            let (h, tail) = rest.split_at(HEADER);
            let mut period = [0u8; 8];
            period.copy_from_slice(&h[..8]);
            let mut seq = [0u8; 8];
            seq.copy_from_slice(&h[8..16]);
            let seq = u64::from_be_bytes(seq);
            let index = u16::from_be_bytes([h[16], h[17]]);
            let len = u32::from_be_bytes([h[18], h[19], h[20], h[21]]) as usize;
            if len > MAX_RECORD || len > tail.len() {
                return Err(corrupt(format!(
                    "version at seq {seq} claims {len} bytes, {} left",
                    tail.len()
                )));
            }
            let (record, after) = tail.split_at(len);
            Ok((
                VersionRef {
                    period,
                    seq,
                    index,
                    record,
                },
                after,
            ))
        };
        match step() {
            Ok((v, after)) => {
                if last.is_some_and(|l| l >= v.order()) {
                    rest = &[];
                    return Some(Err(corrupt(format!(
                        "versions out of order at seq {}",
                        v.seq
                    ))));
                }
                last = Some(v.order());
                rest = after;
                Some(Ok(v))
            }
            Err(e) => {
                rest = &[];
                Some(Err(e))
            }
        }
    })
}

/// Parse a whole slot value; `key` names it in errors.
pub(crate) fn parse<'a>(
    key: &'a [u8],
    value: &'a [u8],
) -> Result<Vec<VersionRef<'a>>, ReadModelError> {
    iter(key, value).collect()
}

/// The last version of `period` with seq ≤ s in a slot value (one pass,
/// no allocation).
pub(crate) fn find_at<'a>(
    key: &'a [u8],
    value: &'a [u8],
    period: [u8; 8],
    s: u64,
) -> Result<Option<VersionRef<'a>>, ReadModelError> {
    let mut found = None;
    for v in iter(key, value) {
        let v = v?;
        if v.period > period {
            break;
        }
        if v.period == period && v.seq <= s {
            found = Some(v);
        }
    }
    Ok(found)
}

/// Encode versions (sorted, unique) as a slot value.
pub(crate) fn encode(versions: &[Version]) -> Vec<u8> {
    let size: usize = versions.iter().map(|v| HEADER + v.record.len()).sum();
    let mut out = Vec::with_capacity(1 + size);
    out.push(SLOT_FORMAT);
    for v in versions {
        put_version(&mut out, v);
    }
    out
}

/// The header and record of `v`, appended to `out`.
pub(crate) fn put_version(out: &mut Vec<u8>, v: &Version) {
    out.extend_from_slice(&v.period);
    out.extend_from_slice(&v.seq.to_be_bytes());
    out.extend_from_slice(&v.index.to_be_bytes());
    // Records are bounded far below u32::MAX by the codec's limits.
    out.extend_from_slice(
        &u32::try_from(v.record.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(&v.record);
}

/// [`insert`] on a slot value in place (the projector stages slots as
/// their stored bytes, so a slot is never decoded into versions nor
/// encoded again): the bytes become exactly those of [`encode`] of the
/// versions with `v` inserted. An empty `value` is an empty slot. `value`
/// must be a well-formed slot (one the projector built or checked).
pub(crate) fn insert_encoded(value: &mut Vec<u8>, v: &Version) {
    if value.is_empty() {
        value.push(SLOT_FORMAT);
    }
    let order = v.order();
    // The first version not before `v` (most versions go at the end).
    let mut at = 1;
    let mut replaced = 0;
    while at < value.len() {
        let h = &value[at..at + HEADER];
        let mut period = [0u8; 8];
        period.copy_from_slice(&h[..8]);
        let seq = u64::from_be_bytes(h[8..16].try_into().expect("8 bytes"));
        let index = u16::from_be_bytes([h[16], h[17]]);
        let len = u32::from_be_bytes([h[18], h[19], h[20], h[21]]) as usize;
        let here = (period, seq, index);
        if here >= order {
            if here == order {
                replaced = HEADER + len;
            }
            break;
        }
        at += HEADER + len;
    }
    if at == value.len() {
        put_version(value, v);
        return;
    }
    let mut one = Vec::with_capacity(HEADER + v.record.len());
    put_version(&mut one, v);
    value.splice(at..at + replaced, one);
}

/// Insert a version keeping the order; an equal (period, seq, index)
/// replaces the old one (re-applying a record is idempotent).
#[cfg(test)]
pub(crate) fn insert(versions: &mut Vec<Version>, v: Version) {
    let order = v.order();
    let at = versions.partition_point(|x| x.order() < order);
    match versions.get(at) {
        Some(x) if x.order() == order => versions[at] = v,
        _ => versions.insert(at, v),
    }
}

/// The last version of `period` (any seq), in a sorted owned slot.
#[cfg(test)]
pub(crate) fn last_of_period(versions: &[Version], period: [u8; 8]) -> Option<&Version> {
    let end = versions.partition_point(|x| x.period <= period);
    end.checked_sub(1)
        .and_then(|i| versions.get(i))
        .filter(|x| x.period == period)
}

/// Period bytes of an optional period.
pub(crate) fn period_key(p: Option<perfledger_domain::Period>) -> [u8; 8] {
    p.map(keys::period_bytes).unwrap_or(NO_PERIOD)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(p: u8, seq: u64, index: u16) -> Version {
        Version {
            period: [0, 0, 0, p, 0, 0, 0, p],
            seq,
            index,
            record: vec![p, seq as u8],
        }
    }

    #[test]
    fn round_trip_insert_and_lookup() {
        let mut s = Vec::new();
        for x in [v(2, 5, 0), v(1, 3, 0), v(2, 9, 1), v(1, 7, 0), v(2, 9, 0)] {
            insert(&mut s, x);
        }
        insert(&mut s, v(1, 7, 0)); // idempotent
        let bytes = encode(&s);
        let parsed = parse(b"k", &bytes).unwrap();
        assert_eq!(parsed.len(), 5);
        assert_eq!(
            parsed.iter().map(|x| x.seq).collect::<Vec<_>>(),
            vec![3, 7, 5, 9, 9]
        );
        let p2 = v(2, 0, 0).period;
        let find = |s| {
            find_at(b"k", &bytes, p2, s)
                .unwrap()
                .map(|x| (x.seq, x.index))
        };
        assert_eq!(find(8), Some((5, 0)));
        assert_eq!(find(9), Some((9, 1)));
        assert_eq!(find(4), None);
        assert_eq!(
            last_of_period(&s, v(1, 0, 0).period).map(|x| x.seq),
            Some(7)
        );
        assert_eq!(last_of_period(&s, v(3, 0, 0).period), None);
    }

    /// Inserting into the stored bytes gives the bytes of inserting into
    /// the versions and encoding them, in any insertion order.
    #[test]
    fn insert_encoded_is_insert_then_encode() {
        let all = [
            v(2, 5, 0),
            v(1, 3, 0),
            v(2, 9, 1),
            v(1, 7, 0),
            v(2, 9, 0),
            v(1, 7, 0),
            v(3, 1, 0),
            v(0, 8, 2),
        ];
        for start in 0..all.len() {
            let mut owned = Vec::new();
            let mut bytes = Vec::new();
            for x in all.iter().cycle().skip(start).take(all.len()) {
                insert(&mut owned, x.clone());
                insert_encoded(&mut bytes, x);
                assert_eq!(bytes, encode(&owned), "start {start}");
            }
        }
        // A replaced version of another length.
        let mut bytes = encode(&[v(1, 3, 0), v(2, 5, 0)]);
        let mut longer = v(1, 3, 0);
        longer.record = vec![1, 2, 3, 4, 5];
        insert_encoded(&mut bytes, &longer);
        assert_eq!(bytes, encode(&[longer, v(2, 5, 0)]));
    }

    #[test]
    fn corrupt_values_are_errors_not_panics() {
        let good = encode(&[v(1, 1, 0), v(1, 2, 0)]);
        for cut in 0..good.len() {
            let _ = parse(b"k", &good[..cut]);
        }
        assert!(parse(b"k", &good[..good.len() - 1]).is_err());
        assert!(parse(b"k", &[9]).is_err());
        let swapped = encode(&[v(1, 2, 0), v(1, 1, 0)]);
        assert!(parse(b"k", &swapped).is_err());
    }
}
