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
    let bad = |reason| LogError::InvalidSubject {
        value: value.to_string(),
        reason,
    };
    if value.is_empty() {
        return Err(bad("empty token"));
    }
    if value.len() > MAX_TOKEN_LEN {
        return Err(bad("token longer than 32 characters"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(bad(
            "tokens are lowercase ascii letters, digits, '-' or '_'",
        ));
    }
    Ok(())
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
        // No allocation but the result: this runs once per record read.
        let mut it = value.split('.');
        let tokens = [it.next(), it.next(), it.next(), it.next(), it.next()];
        let ok = it.next().is_none()
            && match tokens {
                [Some(p), Some("chk"), None, None, None] => check_token(p).is_ok(),
                [Some(p), Some("ev"), Some(t), Some(k), Some(e)] => {
                    check_token(p).is_ok()
                        && check_token(t).is_ok()
                        && check_token(k).is_ok()
                        && e.len() == 32
                        && e.bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                }
                _ => false,
            };
        if ok {
            Ok(Subject(value.to_string()))
        } else {
            Err(LogError::InvalidSubject {
                value: value.to_string(),
                reason: "expected {prefix}.ev.{tenant}.{kind}.{32-hex uuid} or {prefix}.chk",
            })
        }
    }

    /// True for the integrity checkpoint subject.
    pub fn is_checkpoint(&self) -> bool {
        self.0.ends_with(".chk")
    }

    /// The subject as a string.
    pub fn as_str(&self) -> &str {
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
}
