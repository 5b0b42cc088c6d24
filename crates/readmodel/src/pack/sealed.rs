//! A sealed pack as its seal pinned it, and the anchor a printed pack
//! carries (issue #13 items 2 and 6).
//!
//! Invariants:
//!
//! * **What committee read, not a re-derivation.** [`ReadModel::sealed_pack`]
//!   decodes the canonical bytes the seal stored (`CommitteePackSealed`),
//!   after checking that they hash to the sealed digest; it never derives
//!   anything, so a sealed pack renders the same under every later rules
//!   version. Bytes that do not hash to their digest, or that this build
//!   cannot decode, are an error naming the seal (never rendered).
//! * **The anchor is the log's own**: `SEQ:ROOT`, the hash-chain root after
//!   sequence SEQ, as `perfledger verify --anchor` checks it. The read model
//!   holds it only where the log recorded or the projector checked it:
//!   every pack seal pins the root at its position, and the projector
//!   stores the root at its checkpoint ([`ReadModel::chain_root`]).
//!   [`ReadModel::pack_anchor`] answers from those and says `None`
//!   elsewhere (the log itself is needed: `perfledger pack` computes it).

use perfledger_log::integrity::Hash;
use perfledger_log::Seq;
use sha2::{Digest, Sha256};

use super::{decode, Pack};
use crate::{keys, AsOf, ReadModel, ReadModelError};

type R<T> = Result<T, ReadModelError>;

/// A pack as a seal pinned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedPack {
    /// Seal id (`PCMC-2016-09-06-CG-Q1`).
    pub seal_id: String,
    /// Sequence of the seal's own record.
    pub seal_seq: Seq,
    /// The pack decoded from the pinned bytes.
    pub pack: Pack,
    /// Hex SHA-256 of the pinned bytes (= the sealed digest).
    pub digest: String,
    /// `SEQ:ROOT`: the chain root the seal pinned at the pack's position.
    pub anchor: String,
    /// Wire id of the rules the pack was derived under.
    pub rules: u32,
    /// The pinned canonical bytes.
    pub bytes: Vec<u8>,
}

/// `SEQ:ROOT` as printed and as `verify --anchor` reads it.
pub fn anchor_text(seq: Seq, root: &Hash) -> String {
    format!("{seq}:{}", hex::encode(root))
}

impl ReadModel {
    /// The pack the seal `seal_id` pinned. `NotFound` (kind `seal`) for an
    /// unknown id, (kind `pack pinned by seal`) for a seal recorded before
    /// seals pinned packs; `Corrupt` when the pinned bytes do not hash to
    /// the sealed digest or cannot be decoded by this build.
    pub fn sealed_pack(&self, seal_id: &str) -> R<SealedPack> {
        let id = seal_id.trim();
        let rec = self
            .seals(AsOf::Head)?
            .into_iter()
            .find(|r| r.seal_id.as_deref() == Some(id))
            .ok_or_else(|| ReadModelError::NotFound {
                kind: "seal",
                key: id.to_string(),
            })?;
        let pin = self
            .seal_pack(rec.seq, rec.index)?
            .ok_or_else(|| ReadModelError::NotFound {
                kind: "pack pinned by seal",
                key: id.to_string(),
            })?;
        let corrupt = |detail: String| ReadModelError::Corrupt {
            key: hex::encode(keys::seal_pack_key(rec.seq, rec.index)),
            detail: format!("seal {id}: {detail}"),
        };
        let stored: [u8; 32] = Sha256::digest(&pin.bytes).into();
        if stored != pin.digest {
            return Err(corrupt(format!(
                "the pinned pack hashes to {}, not the sealed digest {} (run perfledger verify)",
                hex::encode(stored),
                hex::encode(pin.digest)
            )));
        }
        let pack = decode(&pin.bytes).map_err(|e| corrupt(e.to_string()))?;
        Ok(SealedPack {
            seal_id: id.to_string(),
            seal_seq: rec.seq,
            anchor: anchor_text(pack.as_of, &pin.chain_root),
            pack,
            digest: hex::encode(pin.digest),
            rules: pin.rules,
            bytes: pin.bytes,
        })
    }

    /// The chain root after sequence `s`, where the read model holds it: a
    /// pack seal pinned at `s`, or the projector's checkpoint when it is
    /// `s`. `None` elsewhere (see the module header).
    pub fn pack_anchor(&self, s: Seq) -> R<Option<Hash>> {
        for rec in self.seals(AsOf::Head)? {
            if rec.seal.seq != s {
                continue;
            }
            if let Some(pin) = self.seal_pack(rec.seq, rec.index)? {
                return Ok(Some(pin.chain_root));
            }
        }
        // Checkpoint and root are written together; reading the checkpoint
        // on both sides of the root makes a concurrent advance visible.
        let before = self.checkpoint()?;
        let root = self.chain_root()?;
        let after = self.checkpoint()?;
        Ok(if before == s && after == s {
            root
        } else {
            None
        })
    }
}
