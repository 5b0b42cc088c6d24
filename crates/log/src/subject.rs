//! Subject names: `{prefix}.ev.{tenant}.{kind}.{entity}` and `{prefix}.chk`.

use std::fmt;

use uuid::Uuid;

use crate::LogError;

/// A validated NATS subject naming one entity's records (or a log-level subject).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject(String);

/// Longest token we accept (tenant, kind, prefix).
pub const MAX_TOKEN_LEN: usize = 32;

fn check_token(value: &str) -> Result<(), LogError> {
    check_token_bytes(value.as_bytes()).map_err(|reason| LogError::InvalidSubject {
        value: value.to_string(),
        reason,
    })
}

/// The token rule on bytes; the reason when broken.
fn check_token_bytes(value: &[u8]) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("empty token");
    }
    if value.len() > MAX_TOKEN_LEN {
        return Err("token longer than 32 characters");
    }
    if !value.iter().all(|&b| CLASS[b as usize] & TOKEN != 0) {
        return Err("tokens are lowercase ascii letters, digits, '-' or '_'");
    }
    Ok(())
}

/// Byte classes of the grammar, looked up per byte.
const TOKEN: u8 = 1;
const HEX: u8 = 2;
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' {
            t[i] |= TOKEN;
        }
        if b.is_ascii_digit() || (b >= b'a' && b <= b'f') {
            t[i] |= HEX;
        }
        i += 1;
    }
    t
};

fn token_ok(t: &[u8]) -> bool {
    check_token_bytes(t).is_ok()
}

/// `{prefix}.ev.{tenant}.{kind}.{32 lowercase hex}`.
fn entity_ok(v: &[u8]) -> bool {
    let Some(cut) = v.len().checked_sub(33) else {
        return false;
    };
    let (head, id) = v.split_at(cut);
    if id[0] != b'.' || !id[1..].iter().all(|&b| CLASS[b as usize] & HEX != 0) {
        return false;
    }
    let mut parts = head.split(|&b| b == b'.');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(p), Some(b"ev"), Some(t), Some(k), None) if token_ok(p) && token_ok(t) && token_ok(k)
    )
}

impl Subject {
    /// The subject of one entity's records.
    pub fn entity(prefix: &str, tenant: &str, kind: &str, entity: Uuid) -> Result<Self, LogError> {
        check_token(prefix)?;
        check_token(tenant)?;
        check_token(kind)?;
        Ok(Subject(format!(
            "{prefix}.ev.{tenant}.{kind}.{}",
            entity.simple()
        )))
    }

    /// The log-level subject carrying integrity checkpoints.
    pub fn checkpoint(prefix: &str) -> Result<Self, LogError> {
        check_token(prefix)?;
        Ok(Subject(format!("{prefix}.chk")))
    }

    /// Parse a subject read back from the log.
    pub fn parse(value: &str) -> Result<Self, LogError> {
        Self::check(value)?;
        Ok(Subject(value.to_string()))
    }

    /// The grammar [`Subject::parse`] checks, without building a subject:
    /// a reader that only hashes a record's bytes checks its subject here.
    /// Table lookups, no allocation: this runs once per record read.
    pub(crate) fn check(value: &str) -> Result<(), LogError> {
        let v = value.as_bytes();
        let ok = match v.strip_suffix(b".chk") {
            // A token has no dots: this is `{prefix}.chk` exactly.
            Some(prefix) => token_ok(prefix),
            None => entity_ok(v),
        };
        if ok {
            Ok(())
        } else {
            Err(LogError::InvalidSubject {
                value: value.to_string(),
                reason: "expected {prefix}.ev.{tenant}.{kind}.{32-hex uuid} or {prefix}.chk",
            })
        }
    }

    /// [`Subject::is_checkpoint`] of a subject's text.
    pub(crate) fn is_checkpoint_str(value: &str) -> bool {
        value.ends_with(".chk")
    }

    /// True for the integrity checkpoint subject.
    pub fn is_checkpoint(&self) -> bool {
        Self::is_checkpoint_str(&self.0)
    }

    /// The subject as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A subject is looked up by its text (the log's index finds a record's
/// subject without building one): it hashes and compares as its string.
impl std::borrow::Borrow<str> for Subject {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_roundtrips_and_rejects() {
        let s = Subject::entity("pl", "t1", "indicator", Uuid::from_u128(7)).unwrap();
        assert_eq!(Subject::parse(s.as_str()).unwrap(), s);
        assert!(Subject::parse("pl.chk").unwrap().is_checkpoint());
        for bad in [
            "",
            "pl",
            "pl.chk.x",
            "pl.ev.t.k",
            "pl.ev.t.k.0000000000000000000000000000000G",
            "pl.ev.t.k.00000000000000000000000000000007.x",
            "PL.chk",
        ] {
            assert!(Subject::parse(bad).is_err(), "{bad}");
        }
    }

    /// The table-driven check accepts exactly the token-by-token grammar.
    #[test]
    fn check_is_the_token_grammar() {
        let id = "0123456789abcdef0123456789abcdef";
        let reference = |v: &str| {
            let t: Vec<&str> = v.split('.').collect();
            let token = |s: &str| check_token(s).is_ok();
            match t.as_slice() {
                [p, "chk"] => token(p),
                [p, "ev", a, k, e] => {
                    token(p)
                        && token(a)
                        && token(k)
                        && e.len() == 32
                        && e.bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                }
                _ => false,
            }
        };
        let long = "a".repeat(33);
        let cases = [
            format!("pl.ev.t.k.{id}"),
            format!("pl.ev.t-1.k_2.{id}"),
            format!("pl.ev.t.k.{}", id.to_uppercase()),
            format!("pl.ev.t.k.{id}0"),
            format!("pl.ev.t.k.{}", &id[1..]),
            format!("pl.ev.t.k.x.{id}"),
            format!("pl.ev.t.{id}"),
            format!("pl.ex.t.k.{id}"),
            format!(".ev.t.k.{id}"),
            format!("pl.ev..k.{id}"),
            format!("pl.ev.T.k.{id}"),
            format!("{long}.ev.t.k.{id}"),
            format!("{long}.chk"),
            format!("{id}.chk"),
            format!("pl.ev.t.k.{id}.chk"),
            "pl.chk".into(),
            ".chk".into(),
            "chk".into(),
            "pl.x.chk".into(),
            "p l.chk".into(),
            "pl.chk.".into(),
            format!("pl.ev.t.k{id}"),
            format!("pl.ev.t.k_{id}"),
            "é.chk".into(),
        ];
        for c in &cases {
            assert_eq!(Subject::check(c).is_ok(), reference(c), "{c}");
            assert_eq!(Subject::parse(c).is_ok(), reference(c), "{c}");
        }
        let mut m = std::collections::HashMap::new();
        m.insert(Subject::parse("pl.chk").unwrap(), 1);
        assert_eq!(m.get("pl.chk"), Some(&1), "looked up by its text");
    }
}
