//! Canonical bytes of a pack: `[PACK_FORMAT]` ++ postcard(pack). The format
//! byte comes first so a stored pack (in a future seal) says how to decode
//! it before anything else is read; postcard of plain structs, `Vec`s and
//! `BTreeMap`s is deterministic, so equal packs give equal bytes.

use sha2::{Digest, Sha256};

use super::Pack;

/// Format byte of the canonical bytes. A change to [`Pack`]'s shape is a
/// new format byte with its own decoder; old bytes stay decodable.
pub const PACK_FORMAT: u8 = 1;

/// Why stored pack bytes cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum PackDecodeError {
    /// No bytes at all.
    #[error("empty pack bytes")]
    Empty,
    /// A format byte this build does not know.
    #[error("unknown pack format {0}")]
    Format(u8),
    /// The body is not a pack of that format.
    #[error("undecodable pack: {0}")]
    Body(String),
}

/// Canonical bytes of a pack.
pub fn canonical_bytes(pack: &Pack) -> Vec<u8> {
    // Serialising plain data (no maps with non-string keys, no untagged
    // enums) into a growable Vec cannot fail. Were it ever to, the digest of
    // empty bytes would be sealed as if it were this pack: stop instead.
    postcard::to_extend(pack, vec![PACK_FORMAT])
        .expect("a pack is plain data and always serialises into a Vec")
}

/// SHA-256 hex of [`canonical_bytes`].
pub fn digest_hex(pack: &Pack) -> String {
    hex::encode(Sha256::digest(canonical_bytes(pack)))
}

/// Decode canonical bytes (never panics on bad input).
pub fn decode(bytes: &[u8]) -> Result<Pack, PackDecodeError> {
    match bytes.split_first() {
        None => Err(PackDecodeError::Empty),
        Some((&PACK_FORMAT, body)) => {
            let (pack, rest): (Pack, &[u8]) = postcard::take_from_bytes(body)
                .map_err(|e| PackDecodeError::Body(e.to_string()))?;
            // Canonical means exactly one encoding: trailing bytes are not.
            if !rest.is_empty() {
                return Err(PackDecodeError::Body(format!(
                    "{} trailing bytes",
                    rest.len()
                )));
            }
            if pack.format_version != PACK_FORMAT {
                return Err(PackDecodeError::Body(format!(
                    "format byte {PACK_FORMAT} but the pack says {}",
                    pack.format_version
                )));
            }
            Ok(pack)
        }
        Some((other, _)) => Err(PackDecodeError::Format(*other)),
    }
}
