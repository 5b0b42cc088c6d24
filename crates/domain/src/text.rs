//! Bounded text: every string in events and commands is a [`Text`], limited
//! to [`MAX_TEXT_BYTES`] on construction *and* on decode (TigerBeetle-style
//! limits: checked both ways).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::DomainError;

/// Longest text accepted anywhere (commentary included), in UTF-8 bytes.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// A string of at most [`MAX_TEXT_BYTES`] bytes, no NUL characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Text(String);

impl Text {
    /// Validate and wrap a string; the error names the offending field.
    pub fn new(field: &'static str, value: &str) -> Result<Self, DomainError> {
        check(field, value)?;
        Ok(Text(value.to_string()))
    }

    /// Validate and wrap an owned string (no copy: decoding takes this).
    pub fn from_string(field: &'static str, value: String) -> Result<Self, DomainError> {
        check(field, &value)?;
        Ok(Text(value))
    }

    /// The text as a `&str`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the text is empty or only whitespace.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

/// The rules of a [`Text`]: at most [`MAX_TEXT_BYTES`], no NUL.
fn check(field: &'static str, value: &str) -> Result<(), DomainError> {
    if value.len() > MAX_TEXT_BYTES {
        return Err(DomainError::TooLong {
            field,
            len: value.len(),
            max: MAX_TEXT_BYTES,
        });
    }
    if value.contains('\0') {
        return Err(DomainError::Invalid {
            field,
            value: value.replace('\0', "\\0"),
            reason: "contains a NUL character",
        });
    }
    Ok(())
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for Text {
    type Error = DomainError;
    fn try_from(value: &str) -> Result<Self, DomainError> {
        Text::new("text", value)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Text::from_string("text", s).map_err(crate::error::de_error)
    }
}
