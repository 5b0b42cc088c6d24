//! The msg-id index (msg id → sequence, for dedupe), kept by the writer.
//!
//! Invariant: once built, it answers for every record of the log exactly
//! as a map filled in sequence order would (a later record's id wins):
//! `find` returns the highest sequence whose record carries the id, or
//! None. Only appends need it, so it is built from the data file on the
//! first append (see `Writer::ids`): a process that only reads the log
//! (a rebuild, a query service following it, `verify`) never holds it.
//!
//! Layout: `packed` is a sorted array of `fingerprint << 32 | seq`, 8 bytes
//! a record, where a `HashMap<Uuid, Seq>` costs about 40 at 10M records;
//! a fingerprint hit is confirmed by reading the record's own id from the
//! file (collisions cost a read, never a wrong answer). Ids appended since
//! the last merge sit in the small map `recent`, folded into `packed` once
//! it holds a sixteenth as many (amortised: each id is moved a constant
//! number of times per doubling of the log).

use std::collections::HashMap;

use uuid::Uuid;

use crate::{LogError, Seq};

/// `recent` is folded into `packed` once it holds more than this many ids
/// or a sixteenth of `packed`, whichever is more.
const MERGE_MIN: usize = 1 << 16;

/// The 32-bit fingerprint of a msg id. Ids built from small integers (as
/// tests and some importers do) differ only in their low bytes, so both
/// halves go through a full mixer (splitmix64's finaliser), whose output
/// looks random even for consecutive inputs. A fixed function: the same
/// answer in every process and version (nothing of it is persisted).
pub(super) fn fingerprint(id: &Uuid) -> u32 {
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let (hi, lo) = id.as_u64_pair();
    (mix(hi ^ mix(lo)) >> 32) as u32
}

/// See the module header.
#[derive(Default)]
pub(super) struct MsgIds {
    /// `fingerprint << 32 | seq`, sorted, for records of sequence up to
    /// `u32::MAX` known at the last merge.
    packed: Vec<u64>,
    /// Every other record's id: appended since the last merge (or beyond
    /// `u32::MAX`, which `packed` cannot hold).
    recent: HashMap<Uuid, Seq>,
}

impl MsgIds {
    /// The index of records `1..=head`, whose ids `read(from, to)` gives
    /// for `from..=to`, asked `chunk` records at a time in sequence order.
    pub(super) fn build(
        head: Seq,
        chunk: Seq,
        mut read: impl FnMut(Seq, Seq) -> Result<Vec<Uuid>, LogError>,
    ) -> Result<Self, LogError> {
        let mut m = MsgIds {
            packed: Vec::with_capacity(head.min(u64::from(u32::MAX)) as usize),
            recent: HashMap::new(),
        };
        let mut from = 1;
        while from <= head {
            let to = (from + chunk - 1).min(head);
            let ids = read(from, to)?;
            assert_eq!(ids.len() as Seq, to - from + 1, "one id per record read");
            for (seq, id) in (from..=to).zip(ids) {
                match u32::try_from(seq) {
                    Ok(s) => m.packed.push(pack(&id, s)),
                    Err(_) => {
                        m.recent.insert(id, seq);
                    }
                }
            }
            from = to + 1;
        }
        m.packed.sort_unstable();
        Ok(m)
    }

    /// The highest sequence whose record has id `id`; `id_at` reads a
    /// record's id from the log (called only on a fingerprint hit).
    pub(super) fn find(
        &self,
        id: &Uuid,
        mut id_at: impl FnMut(Seq) -> Result<Uuid, LogError>,
    ) -> Result<Option<Seq>, LogError> {
        // Every id in `recent` is of a later record than every id in
        // `packed`: it answers first.
        if let Some(&seq) = self.recent.get(id) {
            return Ok(Some(seq));
        }
        let fp = u64::from(fingerprint(id)) << 32;
        let lo = self.packed.partition_point(|&p| p < fp);
        let hi = lo + self.packed[lo..].partition_point(|&p| p >> 32 == fp >> 32);
        // Same fingerprint, highest sequence first.
        for &p in self.packed[lo..hi].iter().rev() {
            let seq = p & u64::from(u32::MAX);
            if id_at(seq)? == *id {
                return Ok(Some(seq));
            }
        }
        Ok(None)
    }

    /// Record `seq` (after every record already indexed) has id `id`.
    pub(super) fn insert(&mut self, id: Uuid, seq: Seq) {
        self.recent.insert(id, seq);
        if self.recent.len() > MERGE_MIN.max(self.packed.len() / 16) {
            self.merge();
        }
    }

    /// Fold `recent` into `packed` (in place, from the back).
    fn merge(&mut self) {
        let mut new: Vec<u64> = Vec::with_capacity(self.recent.len());
        self.recent.retain(|id, &mut seq| match u32::try_from(seq) {
            Ok(s) => {
                new.push(pack(id, s));
                false
            }
            Err(_) => true,
        });
        new.sort_unstable();
        let old = self.packed.len();
        self.packed.resize(old + new.len(), 0);
        let (mut i, mut j, mut k) = (old, new.len(), self.packed.len());
        while j > 0 {
            k -= 1;
            if i > 0 && self.packed[i - 1] > new[j - 1] {
                self.packed[k] = self.packed[i - 1];
                i -= 1;
            } else {
                self.packed[k] = new[j - 1];
                j -= 1;
            }
        }
    }

    #[cfg(test)]
    pub(super) fn packed_len(&self) -> usize {
        self.packed.len()
    }
}

fn pack(id: &Uuid, seq: u32) -> u64 {
    (u64::from(fingerprint(id)) << 32) | u64::from(seq)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Two distinct ids of one fingerprint (a birthday search), neither of
    /// them a small integer (the tests' other ids).
    pub(crate) fn colliding_pair() -> (Uuid, Uuid) {
        let mut seen = HashMap::new();
        for i in 0u128.. {
            let id = Uuid::from_u128((7 << 100) | i);
            if let Some(other) = seen.insert(fingerprint(&id), id) {
                return (other, id);
            }
        }
        unreachable!("a 32-bit fingerprint collides within 2^32 + 1 ids")
    }

    #[test]
    fn finds_the_latest_record_of_an_id_through_collisions_and_merges() {
        let (a, b) = colliding_pair();
        assert_ne!(a, b);
        assert_eq!(fingerprint(&a), fingerprint(&b));
        // Records 1..=20: id 1000+i at seq i, with `a` at seq 3 and 7 (the
        // later wins) and `b` at 5.
        let mut log: Vec<Uuid> = (1..=20u128).map(|i| Uuid::from_u128(i + 1_000)).collect();
        log[2] = a;
        log[6] = a;
        log[4] = b;
        let mut m =
            MsgIds::build(20, 7, |a, b| Ok(log[a as usize - 1..b as usize].to_vec())).unwrap();
        let id_at = |s: Seq| Ok(log[s as usize - 1]);
        assert_eq!(m.find(&a, id_at).unwrap(), Some(7));
        assert_eq!(m.find(&b, id_at).unwrap(), Some(5));
        assert_eq!(m.find(&Uuid::from_u128(1_010), id_at).unwrap(), Some(10));
        assert_eq!(m.find(&Uuid::from_u128(7), id_at).unwrap(), None);

        // Appends beyond a merge: `b` again (a raw log may repeat ids).
        for i in 0..(MERGE_MIN as u128 + 10) {
            let id = if i == 5 {
                b
            } else {
                Uuid::from_u128((i + 1) << 64)
            };
            log.push(id);
            m.insert(id, log.len() as Seq);
        }
        assert!(m.packed_len() > 20, "recent was folded into packed");
        let id_at = |s: Seq| Ok(log[s as usize - 1]);
        assert_eq!(m.find(&b, id_at).unwrap(), Some(26));
        assert_eq!(m.find(&a, id_at).unwrap(), Some(7));
        assert!(
            m.packed.windows(2).all(|w| w[0] <= w[1]),
            "packed stays sorted"
        );
        let last = *log.last().unwrap();
        assert_eq!(m.find(&last, id_at).unwrap(), Some(log.len() as Seq));
    }
}
