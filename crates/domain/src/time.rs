//! Time: [`Timestamp`] (ms since the Unix epoch, UTC) and civil [`Date`]s,
//! with hand-written civil-calendar conversions (proleptic Gregorian,
//! Howard Hinnant's algorithms). The domain never reads a clock: timestamps
//! are passed in.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

const MS_PER_DAY: i64 = 86_400_000;
/// Earliest supported year.
pub const MIN_YEAR: i32 = 1900;
/// Latest supported year.
pub const MAX_YEAR: i32 = 9999;

/// A civil date (UTC, proleptic Gregorian), years 1900–9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
}

/// True for Gregorian leap years.
pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in a month (0 for an invalid month).
pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A validated date.
    pub fn new(year: i32, month: u8, day: u8) -> Result<Self, DomainError> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return Err(DomainError::OutOfRange {
                field: "year",
                value: i64::from(year),
                min: i64::from(MIN_YEAR),
                max: i64::from(MAX_YEAR),
            });
        }
        if !(1..=12).contains(&month) {
            return Err(DomainError::OutOfRange {
                field: "month",
                value: i64::from(month),
                min: 1,
                max: 12,
            });
        }
        let dim = days_in_month(year, month);
        if day == 0 || day > dim {
            return Err(DomainError::OutOfRange {
                field: "day",
                value: i64::from(day),
                min: 1,
                max: i64::from(dim),
            });
        }
        Ok(Date { year, month, day })
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01 (None outside years 1900–9999).
    pub fn from_days_since_epoch(days: i64) -> Option<Self> {
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        let year = i32::try_from(y).ok()?;
        Date::new(year, u8::try_from(m).ok()?, u8::try_from(d).ok()?).ok()
    }

    /// Midnight UTC at the start of this date.
    pub fn start(self) -> Timestamp {
        Timestamp(self.days_since_epoch() * MS_PER_DAY)
    }

    /// Parse `YYYY-MM-DD`.
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::Invalid {
            field: "date",
            value: value.chars().take(64).collect(),
            reason: "expected YYYY-MM-DD",
        };
        let b = value.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let year = digits(&b[0..4]).ok_or_else(bad)?;
        let month = digits(&b[5..7]).ok_or_else(bad)?;
        let day = digits(&b[8..10]).ok_or_else(bad)?;
        Date::new(
            i32::try_from(year).map_err(|_| bad())?,
            u8::try_from(month).map_err(|_| bad())?,
            u8::try_from(day).map_err(|_| bad())?,
        )
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The civil date (UTC) of this instant, None outside years 1900–9999.
    pub fn date(self) -> Option<Date> {
        Date::from_days_since_epoch(self.0.div_euclid(MS_PER_DAY))
    }

    /// Parse `2016-09-06`, `2016-09-06T00:00Z`, `2016-09-06T00:00:00Z` or
    /// `2016-09-06T00:00:00.123Z` (UTC only).
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::Invalid {
            field: "timestamp",
            value: value.chars().take(64).collect(),
            reason: "expected YYYY-MM-DD[THH:MM[:SS[.mmm]]Z]",
        };
        if value.len() < 10 || !value.is_char_boundary(10) {
            return Err(bad());
        }
        let (d, rest) = value.split_at(10);
        let date = Date::parse(d).map_err(|_| bad())?;
        if rest.is_empty() {
            return Ok(date.start());
        }
        let rest = rest.strip_prefix('T').ok_or_else(bad)?;
        let rest = rest.strip_suffix('Z').ok_or_else(bad)?;
        let b = rest.as_bytes();
        if b.len() < 5 || b[2] != b':' {
            return Err(bad());
        }
        let hh = digits(&b[0..2]).ok_or_else(bad)?;
        let mm = digits(&b[3..5]).ok_or_else(bad)?;
        let (mut ss, mut ms) = (0, 0);
        let tail = &b[5..];
        if !tail.is_empty() {
            if tail.len() < 3 || tail[0] != b':' {
                return Err(bad());
            }
            ss = digits(&tail[1..3]).ok_or_else(bad)?;
            let frac = &tail[3..];
            if !frac.is_empty() {
                if frac.len() != 4 || frac[0] != b'.' {
                    return Err(bad());
                }
                ms = digits(&frac[1..4]).ok_or_else(bad)?;
            }
        }
        if hh > 23 || mm > 59 || ss > 59 {
            return Err(bad());
        }
        let within = i64::from(((hh * 60 + mm) * 60 + ss) * 1000 + ms);
        Ok(Timestamp(date.start().0 + within))
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` when milliseconds are not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(date) = self.date() else {
            return write!(f, "@{}ms", self.0);
        };
        let within = self.0.rem_euclid(MS_PER_DAY);
        let (h, m, s, ms) = (
            within / 3_600_000,
            within / 60_000 % 60,
            within / 1000 % 60,
            within % 1000,
        );
        write!(f, "{date}T{h:02}:{m:02}:{s:02}")?;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}
