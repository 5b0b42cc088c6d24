//! One subject's sequences, ascending, as LEB128 deltas.
//!
//! Invariant: `deltas` holds, for each sequence in order, its distance from
//! the one before (the first's from 0) as an unsigned LEB128 varint, 7 bits
//! a byte, low first, the high bit set on all but a varint's last byte;
//! `last` is the newest sequence (0 iff the list is empty: sequences start
//! at 1). Sequences strictly ascend, so every delta is at least 1.
//!
//! Why deltas: an entity's records are spread through the log, so its
//! sequences are far apart as numbers but close as distances. With a few
//! thousand entities interleaved, a distance takes two bytes where a
//! sequence took four (eight past 2^32), and a log of ten million records
//! held 54 MB of subject lists at a rebuild's peak (`heaptrack`), in
//! every process that opens it.

use crate::Seq;

#[derive(Debug, Default)]
pub(super) struct SeqList {
    deltas: Vec<u8>,
    last: Seq,
}

impl SeqList {
    /// Append `seq`, which must be above every sequence in the list.
    pub(super) fn push(&mut self, seq: Seq) {
        assert!(
            seq > self.last,
            "a subject's sequences ascend ({seq} after {})",
            self.last
        );
        let mut delta = seq - self.last;
        while delta >= 0x80 {
            self.deltas.push((delta as u8) | 0x80);
            delta >>= 7;
        }
        self.deltas.push(delta as u8);
        self.last = seq;
    }

    /// The newest sequence.
    pub(super) fn last(&self) -> Option<Seq> {
        (self.last > 0).then_some(self.last)
    }

    /// Every sequence, ascending.
    pub(super) fn to_vec(&self) -> Vec<Seq> {
        let mut out = Vec::new();
        let (mut seq, mut delta, mut shift) = (0u64, 0u64, 0u32);
        for &b in &self.deltas {
            delta |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                seq += delta;
                out.push(seq);
                (delta, shift) = (0, 0);
            } else {
                shift += 7;
            }
        }
        assert_eq!(
            out.last().copied().unwrap_or(0),
            self.last,
            "a subject list decodes to its newest sequence"
        );
        out
    }

    /// Give back the spare capacity (after the open's scan: lists grown by
    /// doubling hold up to twice their bytes).
    pub(super) fn shrink_to_fit(&mut self) {
        self.deltas.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_sequence_across_varint_widths() {
        let mut l = SeqList::default();
        assert_eq!(l.last(), None);
        assert!(l.to_vec().is_empty());
        let seqs = [
            1,
            2,
            129,
            130 + 16_384,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            1 << 40,
            u64::MAX,
        ];
        for (i, &s) in seqs.iter().enumerate() {
            l.push(s);
            assert_eq!(l.last(), Some(s));
            assert_eq!(l.to_vec(), seqs[..=i]);
        }
    }

    #[test]
    fn close_sequences_take_a_byte_or_two() {
        let mut l = SeqList::default();
        for i in 1..=1_000u64 {
            l.push(i * 6_000);
        }
        assert_eq!(l.deltas.len(), 2 * 1_000);
    }

    #[test]
    #[should_panic(expected = "ascend")]
    fn a_sequence_not_above_the_last_is_refused() {
        let mut l = SeqList::default();
        l.push(5);
        l.push(5);
    }
}
