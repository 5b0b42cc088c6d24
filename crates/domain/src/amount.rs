//! Fixed-point numbers: [`Fixed`] is an `i64` with 4 implied decimals
//! (`Fixed::from_raw(866_000)` = 86.6). Every stored figure — percentages,
//! money (with its unit carried beside it, see [`crate::indicator::MoneyUnit`]),
//! counts, days — is a `Fixed`. There is no floating point anywhere.
//!
//! Serialisation: the raw `i64` in postcard; a decimal string (`"86.6"`) in
//! human-readable formats (JSON).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::DomainError;

/// A signed fixed-point number with 4 decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fixed(i64);

impl Fixed {
    /// Number of implied decimal places.
    pub const DECIMALS: u32 = 4;
    /// `10^DECIMALS`.
    pub const SCALE: i64 = 10_000;
    /// Zero.
    pub const ZERO: Fixed = Fixed(0);
    /// Largest magnitude accepted from input (10^14, i.e. £100 trillion).
    pub const MAX_INPUT: i64 = 100_000_000_000_000;

    /// From the raw scaled integer.
    pub const fn from_raw(raw: i64) -> Self {
        Fixed(raw)
    }

    /// The raw scaled integer.
    pub const fn raw(self) -> i64 {
        self.0
    }

    /// From a whole number (None on overflow).
    pub fn from_int(v: i64) -> Option<Self> {
        v.checked_mul(Self::SCALE).map(Fixed)
    }

    /// Checked addition.
    pub fn checked_add(self, o: Fixed) -> Option<Fixed> {
        self.0.checked_add(o.0).map(Fixed)
    }

    /// Checked subtraction.
    pub fn checked_sub(self, o: Fixed) -> Option<Fixed> {
        self.0.checked_sub(o.0).map(Fixed)
    }

    /// Checked negation.
    pub fn checked_neg(self) -> Option<Fixed> {
        self.0.checked_neg().map(Fixed)
    }

    /// Absolute value (saturating).
    pub fn abs(self) -> Fixed {
        Fixed(self.0.saturating_abs())
    }

    /// True when negative.
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Sum of values, erroring on overflow.
    pub fn sum<I: IntoIterator<Item = Fixed>>(items: I) -> Result<Fixed, DomainError> {
        items.into_iter().try_fold(Fixed::ZERO, |acc, v| {
            acc.checked_add(v)
                .ok_or(DomainError::Overflow { field: "sum" })
        })
    }

    /// Parse a plain decimal: optional sign, digits with optional thousands
    /// commas, optional `.` and up to 4 decimals (`-1,385.25`).
    pub fn parse_decimal(value: &str) -> Result<Self, DomainError> {
        let v = Self::parse_full(value)?;
        if v.0.unsigned_abs() / Self::SCALE.unsigned_abs() > Self::MAX_INPUT.unsigned_abs() {
            return Err(DomainError::Invalid {
                field: "number",
                value: value.chars().take(64).collect(),
                reason: "too large",
            });
        }
        Ok(v)
    }

    /// Parse a plain decimal over the whole `i64` raw range (used when
    /// decoding stored values; input goes through [`Fixed::parse_decimal`]).
    pub fn parse_full(value: &str) -> Result<Self, DomainError> {
        let bad = |reason| DomainError::Invalid {
            field: "number",
            value: value.chars().take(64).collect(),
            reason,
        };
        let v = value.trim();
        let (neg, body) =
            if let Some(r) = v.strip_prefix('-').or_else(|| v.strip_prefix('\u{2212}')) {
                (true, r)
            } else if let Some(r) = v.strip_prefix('+') {
                (false, r)
            } else {
                (false, v)
            };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(bad("no digits"));
        }
        if frac.len() > Self::DECIMALS as usize {
            return Err(bad("more than 4 decimal places"));
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("not a number"));
        }
        if int.contains(',') {
            let groups: Vec<&str> = int.split(',').collect();
            let first_ok = groups.first().is_some_and(|g| (1..=3).contains(&g.len()));
            let rest_ok = groups.iter().skip(1).all(|g| g.len() == 3);
            if !first_ok || !rest_ok {
                return Err(bad("misplaced thousands separator"));
            }
        }
        let digits: String = int.chars().filter(|c| *c != ',').collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("not a number"));
        }
        if digits.len() > 19 {
            return Err(bad("too large"));
        }
        let whole: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| bad("not a number"))?
        };
        let mut f: i128 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad("not a number"))?
        };
        for _ in frac.len()..Self::DECIMALS as usize {
            f *= 10;
        }
        let raw = whole * i128::from(Self::SCALE) + f;
        let raw = if neg { -raw } else { raw };
        i64::try_from(raw).map(Fixed).map_err(|_| bad("too large"))
    }
}

impl fmt::Display for Fixed {
    /// Plain decimal, trailing zeros trimmed: `86.6`, `-491`, `0.0001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let scale = Self::SCALE.unsigned_abs();
        let (w, mut fr) = (abs / scale, abs % scale);
        if neg {
            f.write_str("-")?;
        }
        write!(f, "{w}")?;
        if fr != 0 {
            let mut width = Self::DECIMALS as usize;
            while fr % 10 == 0 {
                fr /= 10;
                width -= 1;
            }
            write!(f, ".{fr:0width$}")?;
        }
        Ok(())
    }
}

impl Serialize for Fixed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Fixed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            Fixed::parse_full(&s).map_err(crate::error::de_error)
        } else {
            i64::deserialize(d).map(Fixed)
        }
    }
}
