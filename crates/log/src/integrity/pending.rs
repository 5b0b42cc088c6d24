//! What a chain check keeps of the records it has read since the last
//! checkpoint it met, until a checkpoint covers them.
//!
//! Invariant: the pending records are sequences `first..first + len`, with
//! no gap; `prefixes` holds the short leaf ([`LEAF_PREFIX_BYTES`]) of the
//! newest `len - dropped` of them, in order (at most [`LEAF_WINDOW`] plus
//! one chunk); `roots` holds the chain root after each of the newest
//! `roots.len()` of them (at most [`ROOT_WINDOW`]), the newest last.
//!
//! Why these lengths: a checkpoint compares its leaves with the records it
//! covers since the one before, to name the exact altered record, and one
//! root, at its `upto`, which is the head its writer read just before
//! appending it, so only the newest roots are ever asked for. A log whose
//! checkpoints are far apart (services writing through the gateway append
//! none) would cost 8 bytes a record for every leaf: 80 MB at ten million
//! records without a checkpoint, in every rebuild and `verify`. So only
//! the newest [`LEAF_WINDOW`] leaves are kept. An altered record older
//! than that still changes the root the checkpoint states, so it is still
//! found, as a root mismatch at the checkpoint; `verify` then reads the
//! covered records again to name it ([`super::verify_each`]). The
//! projector applies records at most `HOLD_RECORDS` (far fewer) behind the
//! read, so every record it still holds has its leaf compared. A
//! checkpoint whose `upto` is older than the root window has its leaves
//! compared but not its root, as for a check resumed after it; the next
//! checkpoint's root covers every record before it anyway.

use std::collections::VecDeque;

use super::{Hash, LEAF_PREFIX_BYTES};
use crate::Seq;

/// Most chain roots kept (the newest): 2 MB.
pub(super) const ROOT_WINDOW: usize = 65_536;
/// Short leaves per chunk (512 KB): chunks are let go whole, so a long
/// run of records never holds a doubled buffer as one `VecDeque` would.
/// (Small in unit tests, so windows and chunk edges are crossed cheaply.)
const CHUNK: usize = if cfg!(test) { 64 } else { 65_536 };
/// Most short leaves kept beyond the chunk being filled: 8 MB.
pub const LEAF_WINDOW: usize = 16 * CHUNK;

type Prefix = [u8; LEAF_PREFIX_BYTES];

#[derive(Debug, Clone, Default)]
pub(super) struct Pending {
    /// Sequence of the oldest pending record (meaningless while empty).
    first: Seq,
    /// Pending records.
    len: u64,
    /// The oldest pending records whose leaves were let go (beyond the
    /// window).
    dropped: u64,
    /// Short leaves in chunks of at most [`CHUNK`]; the front chunk's first
    /// `skip` entries were covered or let go already.
    prefixes: VecDeque<Vec<Prefix>>,
    skip: usize,
    /// Roots after the newest records.
    roots: VecDeque<Hash>,
}

impl Pending {
    /// Record `seq` (the next after the newest pending, or any when none
    /// is pending), its short leaf and the chain root after it.
    pub(super) fn push(&mut self, seq: Seq, prefix: Prefix, root: Hash) {
        if self.len == 0 {
            self.first = seq;
        }
        assert_eq!(
            seq,
            self.first + self.len,
            "pending records are consecutive (the chain check refuses gaps before this)"
        );
        match self.prefixes.back_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(prefix),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(prefix);
                self.prefixes.push_back(chunk);
            }
        }
        self.len += 1;
        if self.len - self.dropped > (LEAF_WINDOW + CHUNK) as u64 {
            let front = self
                .prefixes
                .pop_front()
                .expect("leaves beyond the window are in chunks");
            self.dropped += (front.len() - self.skip) as u64;
            self.skip = 0;
        }
        if self.roots.len() == ROOT_WINDOW {
            self.roots.pop_front();
        }
        self.roots.push_back(root);
    }

    /// The short leaf of every pending record from [`Pending::leaves_from`]
    /// on, with its sequence, oldest first.
    pub(super) fn leaves(&self) -> impl Iterator<Item = (Seq, &Prefix)> {
        let first = self.leaves_from();
        self.prefixes
            .iter()
            .flatten()
            .skip(self.skip)
            .zip(0u64..)
            .map(move |(p, i)| (first + i, p))
    }

    /// The oldest pending record whose leaf is kept (the records before it
    /// are pending, their leaves let go).
    pub(super) fn leaves_from(&self) -> Seq {
        self.first + self.dropped
    }

    /// The chain root after record `seq`, when it is pending and among the
    /// newest [`ROOT_WINDOW`].
    pub(super) fn root_after(&self, seq: Seq) -> Option<Hash> {
        let end = self.first + self.len;
        let back = end.checked_sub(seq)?;
        let back = usize::try_from(back).ok()?;
        if seq < self.first || back == 0 || back > self.roots.len() {
            return None;
        }
        Some(self.roots[self.roots.len() - back])
    }

    /// Let go of every pending record up to `upto` (a checkpoint covered them).
    pub(super) fn drop_through(&mut self, upto: Seq) {
        let end = self.first + self.len;
        if self.len == 0 || upto < self.first {
            return;
        }
        let gone = upto.min(end - 1) - self.first + 1;
        let roots_before = self.len - self.roots.len() as u64;
        let roots_gone = gone.saturating_sub(roots_before);
        let roots_gone = usize::try_from(roots_gone).expect("at most ROOT_WINDOW roots");
        self.roots.drain(..roots_gone);
        let leaves_gone = gone.saturating_sub(self.dropped);
        self.dropped = self.dropped.saturating_sub(gone);
        let mut left = usize::try_from(leaves_gone).expect("kept leaves fit in memory");
        while left > 0 {
            let front = self.prefixes.front().expect("a pending record has a chunk");
            let here = front.len() - self.skip;
            if left >= here {
                self.prefixes.pop_front();
                self.skip = 0;
                left -= here;
            } else {
                self.skip += left;
                left = 0;
            }
        }
        self.first += gone;
        self.len -= gone;
        if self.len == 0 {
            self.prefixes.clear();
            self.skip = 0;
            self.roots.clear();
            self.dropped = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(seq: Seq) -> Prefix {
        seq.to_be_bytes()
    }

    fn root(seq: Seq) -> Hash {
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&seq.to_be_bytes());
        h
    }

    /// Against a plain list of (seq, prefix, root): the same leaves within
    /// the leaf window and the same roots within the root window, through
    /// pushes and covering drops that cut chunks anywhere.
    #[test]
    fn keeps_what_a_full_list_keeps_within_the_window() {
        let mut pending = Pending::default();
        let mut full: VecDeque<(Seq, Prefix, Hash)> = VecDeque::new();
        let mut next: Seq = 5;
        let steps: [(u64, u64); 6] = [
            (10, 3),
            (70_000, 1),
            (140_000, 65_537),
            (1, 0),
            (200_000, 199_990),
            (3, 50),
        ];
        for (pushes, covered_back) in steps {
            for _ in 0..pushes {
                pending.push(next, prefix(next), root(next));
                full.push_back((next, prefix(next), root(next)));
                next += 1;
            }
            let upto = next.saturating_sub(covered_back + 1);
            pending.drop_through(upto);
            while full.front().is_some_and(|(s, _, _)| *s <= upto) {
                full.pop_front();
            }
            let leaves: Vec<(Seq, Prefix)> = pending.leaves().map(|(s, p)| (s, *p)).collect();
            let from = pending.leaves_from();
            let want: Vec<(Seq, Prefix)> = full
                .iter()
                .filter(|(s, _, _)| *s >= from)
                .map(|(s, p, _)| (*s, *p))
                .collect();
            assert_eq!(leaves, want);
            assert!(
                leaves.len() >= full.len().min(LEAF_WINDOW) && leaves.len() <= LEAF_WINDOW + CHUNK,
                "{} leaves kept of {}",
                leaves.len(),
                full.len()
            );
            for (i, (s, _, r)) in full.iter().enumerate() {
                let in_window = full.len() - i <= ROOT_WINDOW;
                let got = pending.root_after(*s);
                assert_eq!(got, in_window.then_some(*r), "root after {s}");
            }
            assert_eq!(pending.root_after(next), None);
            assert_eq!(pending.root_after(0), None);
        }
    }
}
