//! Identity: tenants, entity kinds and deterministic entity ids.
//!
//! Entity ids are uuid v5 over [`NAMESPACE`] of
//! `"{tenant}\u{1f}{kind token}\u{1f}{normalised key}"`, so an import, a
//! service and a person typing a reference all name the same entity.
//! Composite natural keys join their normalised parts with `\u{1e}`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::error::DomainError;

/// The fixed perfledger namespace for uuid v5 entity ids (never change it).
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_52a4_8d3e_4b7a_9e21_0c5d_7a1f_e3b9);

/// Longest tenant token.
pub const MAX_TENANT_LEN: usize = 32;

/// A council (tenant): a token of 1–32 lowercase ascii letters, digits, `-`, `_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tenant(String);

impl Tenant {
    /// Validate a tenant token.
    pub fn new(value: &str) -> Result<Self, DomainError> {
        Tenant::check(value)?;
        Ok(Tenant(value.to_string()))
    }

    /// Validate an owned tenant token (no copy: decoding takes this).
    pub fn from_string(value: String) -> Result<Self, DomainError> {
        Tenant::check(&value)?;
        Ok(Tenant(value))
    }

    fn check(value: &str) -> Result<(), DomainError> {
        let ok = !value.is_empty()
            && value.len() <= MAX_TENANT_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(())
        } else {
            Err(DomainError::Invalid {
                field: "tenant",
                value: value.chars().take(64).collect(),
                reason: "1-32 lowercase ascii letters, digits, '-' or '_'",
            })
        }
    }

    /// The token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Tenant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Tenant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Tenant::from_string(s).map_err(crate::error::de_error)
    }
}

/// The kinds of entity the ledger keeps, each with its own subject token.
/// Never reorder: the variant index is part of the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EntityKind {
    /// A performance indicator.
    Indicator,
    /// A key action.
    Action,
    /// A risk.
    Risk,
    /// A revenue budget line.
    RevenueLine,
    /// A capital budget line.
    CapitalLine,
    /// A savings proposal.
    Saving,
    /// The tenant's tolerance (RAG) scheme.
    Scheme,
    /// The tenant's period calendar (closed periods).
    Calendar,
    /// Organisation: units, committees, themes, objectives.
    Unit,
    /// Dashboard seals (what committee saw).
    Seal,
}

impl EntityKind {
    /// Every kind, in wire order.
    pub const ALL: [EntityKind; 10] = [
        EntityKind::Indicator,
        EntityKind::Action,
        EntityKind::Risk,
        EntityKind::RevenueLine,
        EntityKind::CapitalLine,
        EntityKind::Saving,
        EntityKind::Scheme,
        EntityKind::Calendar,
        EntityKind::Unit,
        EntityKind::Seal,
    ];

    /// Lowercase subject token.
    pub fn token(self) -> &'static str {
        match self {
            EntityKind::Indicator => "indicator",
            EntityKind::Action => "action",
            EntityKind::Risk => "risk",
            EntityKind::RevenueLine => "revenue_line",
            EntityKind::CapitalLine => "capital_line",
            EntityKind::Saving => "saving",
            EntityKind::Scheme => "scheme",
            EntityKind::Calendar => "calendar",
            EntityKind::Unit => "unit",
            EntityKind::Seal => "seal",
        }
    }

    /// Parse a subject token.
    pub fn from_token(token: &str) -> Result<Self, DomainError> {
        EntityKind::ALL
            .into_iter()
            .find(|k| k.token() == token)
            .ok_or_else(|| DomainError::Invalid {
                field: "entity kind",
                value: token.chars().take(64).collect(),
                reason: "not a known entity kind token",
            })
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// Normalise a natural key: trim, collapse runs of whitespace to one space,
/// lowercase.
pub fn normalise_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    push_normalised_key(&mut out, key);
    out
}

/// Append [`normalise_key`]'s form of `key` to `out`. Every entity id
/// hashes it, so an ASCII key (nearly all of them) is normalised in one
/// pass without allocating; any other goes through `str::to_lowercase` on
/// the joined words, whose Unicode rules depend on context (a final sigma),
/// exactly as ids have always been made.
fn push_normalised_key(out: &mut String, key: &str) {
    if !key.is_ascii() {
        out.push_str(
            &key.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase(),
        );
        return;
    }
    let start = out.len();
    let mut gap = false;
    for c in key.chars() {
        // `char::is_whitespace`, as `split_whitespace` uses (it counts
        // U+000B, which `u8::is_ascii_whitespace` does not).
        if c.is_whitespace() {
            gap = true;
            continue;
        }
        if gap && out.len() > start {
            out.push(' ');
        }
        gap = false;
        out.push(c.to_ascii_lowercase());
    }
}

/// Join the parts of a composite natural key (each normalised) with `\u{1e}`.
pub fn composite_key(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| normalise_key(p))
        .collect::<Vec<_>>()
        .join("\u{1e}")
}

/// The deterministic id of an entity: uuid v5 of
/// `"{tenant}\u{1f}{kind}\u{1f}{normalised key}"` in [`NAMESPACE`].
pub fn entity_id(tenant: &Tenant, kind: EntityKind, natural_key: &str) -> Uuid {
    let (tenant, kind) = (tenant.as_str(), kind.token());
    let mut name = String::with_capacity(tenant.len() + kind.len() + natural_key.len() + 2);
    name.push_str(tenant);
    name.push('\u{1f}');
    name.push_str(kind);
    name.push('\u{1f}');
    push_normalised_key(&mut name, natural_key);
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// How keys were normalised and ids made before the one-pass form:
    /// ids are stored in the log, so the two must agree on every key.
    fn reference_id(tenant: &Tenant, kind: EntityKind, key: &str) -> Uuid {
        let normalised = key
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        let name = format!(
            "{}\u{1f}{}\u{1f}{}",
            tenant.as_str(),
            kind.token(),
            normalised
        );
        Uuid::new_v5(&NAMESPACE, name.as_bytes())
    }

    #[test]
    fn ids_are_those_made_before() {
        let t = Tenant::new("north").unwrap();
        for key in [
            "",
            "   ",
            "PI 01",
            "  pi\t\x0B01 \r\n",
            "\u{85}ΟΔΟΣ Σ",
            "ΣΑΣ x",
            "İstanbul\u{a0}key",
            "A\u{1f}B",
        ] {
            for kind in [
                EntityKind::Indicator,
                EntityKind::Calendar,
                EntityKind::Risk,
            ] {
                assert_eq!(
                    entity_id(&t, kind, key),
                    reference_id(&t, kind, key),
                    "{key:?}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn ids_agree_with_the_reference_on_any_key(
            key in "[ \t\n\x0B\x0C\r\u{85}\u{a0}\u{2003}a-zA-Z0-9ΣσςİK\u{1f}-]{0,40}",
            ascii in "[ -~\t\n\x0B\x0C\r]{0,40}",
        ) {
            let t = Tenant::new("north").unwrap();
            for k in [&key, &ascii] {
                prop_assert_eq!(
                    entity_id(&t, EntityKind::Indicator, k),
                    reference_id(&t, EntityKind::Indicator, k)
                );
            }
        }
    }
}
