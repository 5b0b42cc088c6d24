//! Record file offsets by sequence, 4 bytes a record.
//!
//! Invariant: entry `i` is the file offset of record `i + 1`; offsets
//! ascend. They are kept in blocks of [`BLOCK`] records: a block holds its
//! first offset and each record's distance from it as a `u32`, or (when a
//! block's records span 4 GB, which needs records far above the default
//! payload limit) the offsets themselves. Every block is allocated at its
//! full size once, so a log of ten million records holds 40 MB here, not
//! the 80 MB of a `Vec<u64>` plus up to as much again while it doubles.

/// Records per block.
const BLOCK: usize = 4096;

#[derive(Debug, Default)]
pub(super) struct Offsets {
    blocks: Vec<Block>,
    len: usize,
}

#[derive(Debug)]
enum Block {
    Narrow { base: u64, from_base: Vec<u32> },
    Wide(Vec<u64>),
}

impl Offsets {
    /// Records indexed.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Index the next record, at `offset` (after every offset before it).
    pub(super) fn push(&mut self, offset: u64) {
        if self.len.is_multiple_of(BLOCK) {
            self.blocks.push(Block::Narrow {
                base: offset,
                from_base: Vec::with_capacity(BLOCK),
            });
        }
        let block = self.blocks.last_mut().expect("a block was opened above");
        match block {
            Block::Narrow { base, from_base } => {
                assert!(offset >= *base, "record offsets ascend");
                match u32::try_from(offset - *base) {
                    Ok(d) => from_base.push(d),
                    Err(_) => {
                        let mut wide = Vec::with_capacity(BLOCK);
                        wide.extend(from_base.iter().map(|&d| *base + u64::from(d)));
                        wide.push(offset);
                        *block = Block::Wide(wide);
                    }
                }
            }
            Block::Wide(v) => v.push(offset),
        }
        self.len += 1;
    }

    /// Offset of entry `i`, None past the end.
    pub(super) fn get(&self, i: usize) -> Option<u64> {
        if i >= self.len {
            return None;
        }
        Some(match &self.blocks[i / BLOCK] {
            Block::Narrow { base, from_base } => *base + u64::from(from_base[i % BLOCK]),
            Block::Wide(v) => v[i % BLOCK],
        })
    }

    /// Offsets of entries `a..b` (all indexed).
    pub(super) fn range(&self, a: usize, b: usize) -> Vec<u64> {
        assert!(a <= b && b <= self.len, "offsets {a}..{b} of {}", self.len);
        (a..b)
            .map(|i| self.get(i).expect("checked against len above"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same answers as a plain list, across blocks, including a block
    /// that turns wide mid-way.
    #[test]
    fn answers_as_a_plain_list() {
        let mut offsets = Offsets::default();
        let mut plain = Vec::new();
        let mut at = 8u64;
        for i in 0..3 * BLOCK + 17 {
            offsets.push(at);
            plain.push(at);
            at += if i == BLOCK + 5 {
                5 << 30
            } else {
                37 + (i as u64 % 300)
            };
        }
        assert_eq!(offsets.len(), plain.len());
        assert!(matches!(offsets.blocks[1], Block::Wide(_)));
        assert!(matches!(offsets.blocks[2], Block::Narrow { .. }));
        for (i, &o) in plain.iter().enumerate() {
            assert_eq!(offsets.get(i), Some(o));
        }
        assert_eq!(offsets.get(plain.len()), None);
        assert_eq!(
            offsets.range(BLOCK - 3, BLOCK + 9),
            plain[BLOCK - 3..BLOCK + 9]
        );
        assert_eq!(offsets.range(0, 0), Vec::<u64>::new());
    }
}
