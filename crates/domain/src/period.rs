//! The UK local-government period calendar: financial years run April–March.
//!
//! Canonical labels: `2016/17` (year), `2016/17 Q1` (quarter, Q1 = Apr–Jun),
//! `2016/17 H1` (half, H1 = Apr–Sep), `Dec 2015` (calendar month).
//! Accepted on input as well: `Q1 2016/17`, `Q2 19/20`, `2021-22`, `21/22`,
//! `H2 2016/17`, `December 2015`, `Sept 2015`, `2015-12`.
//!
//! Serialisation: a label string in human-readable formats (JSON), the
//! compact enum (`Year(i32)`, `Half(i32,u8)`, `Quarter(i32,u8)`,
//! `Month(i32,u8)`, in that variant order) in postcard.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::DomainError;
use crate::indicator::Frequency;
use crate::time::Date;

/// Earliest financial year accepted.
pub const MIN_FY: i32 = 1900;
/// Latest financial year accepted.
pub const MAX_FY: i32 = 9998;

/// A UK financial year, named by the calendar year in which it starts
/// (`FinancialYear(2016)` = April 2016 – March 2017 = `2016/17`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FinancialYear(pub i32);

impl FinancialYear {
    /// A validated financial year.
    pub fn new(start_year: i32) -> Result<Self, DomainError> {
        if (MIN_FY..=MAX_FY).contains(&start_year) {
            Ok(FinancialYear(start_year))
        } else {
            Err(DomainError::OutOfRange {
                field: "financial year",
                value: i64::from(start_year),
                min: i64::from(MIN_FY),
                max: i64::from(MAX_FY),
            })
        }
    }

    /// The financial year containing a date.
    pub fn containing(date: Date) -> Self {
        FinancialYear(if date.month >= 4 {
            date.year
        } else {
            date.year - 1
        })
    }

    /// Parse `2016/17`, `2021-22`, `19/20`.
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::Invalid {
            field: "financial year",
            value: value.chars().take(64).collect(),
            reason: "expected a label like 2016/17, 2021-22 or 19/20",
        };
        let v = value.trim();
        let (a, b) = v.split_once(['/', '-']).ok_or_else(bad)?;
        let (a, b) = (a.trim(), b.trim());
        if !a.bytes().all(|c| c.is_ascii_digit()) || !b.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let start: i32 = match a.len() {
            4 => a.parse().map_err(|_| bad())?,
            2 => 2000 + a.parse::<i32>().map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        let end: i32 = match b.len() {
            4 => b.parse().map_err(|_| bad())?,
            2 => b.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        let ok = if b.len() == 4 {
            end == start + 1
        } else {
            end == (start + 1) % 100
        };
        if !ok {
            return Err(bad());
        }
        FinancialYear::new(start)
    }
}

impl fmt::Display for FinancialYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:02}", self.0, (self.0 + 1).rem_euclid(100))
    }
}

/// A reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    /// A whole financial year.
    Year(FinancialYear),
    /// Half year 1 (Apr–Sep) or 2 (Oct–Mar).
    Half(FinancialYear, u8),
    /// Quarter 1–4 (Q1 = Apr–Jun ... Q4 = Jan–Mar).
    Quarter(FinancialYear, u8),
    /// A calendar month (year, month 1–12).
    Month(i32, u8),
}

/// The granularity of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Granularity {
    /// Financial year.
    Year,
    /// Half year.
    Half,
    /// Quarter.
    Quarter,
    /// Calendar month.
    Month,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTHS_LONG: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Parse a month name (`Dec`, `December`, `Sept`), any case.
pub fn month_from_name(name: &str) -> Option<u8> {
    let n = name.trim().trim_end_matches('.').to_lowercase();
    if n.len() < 3 {
        return None;
    }
    if n == "sept" {
        return Some(9);
    }
    MONTHS_LONG
        .iter()
        .position(|m| *m == n || (n.len() == 3 && m.starts_with(&n)))
        .and_then(|i| u8::try_from(i + 1).ok())
}

impl Period {
    /// A validated quarter.
    pub fn quarter(fy: i32, q: u8) -> Result<Self, DomainError> {
        Period::Quarter(FinancialYear::new(fy)?, q).validated()
    }

    /// A validated calendar month.
    pub fn month(year: i32, month: u8) -> Result<Self, DomainError> {
        Period::Month(year, month).validated()
    }

    /// Check the numeric ranges of a period.
    pub fn validated(self) -> Result<Self, DomainError> {
        let range = |field, v: u8, max: u8| {
            if (1..=max).contains(&v) {
                Ok(())
            } else {
                Err(DomainError::OutOfRange {
                    field,
                    value: i64::from(v),
                    min: 1,
                    max: i64::from(max),
                })
            }
        };
        match self {
            Period::Year(fy) => {
                FinancialYear::new(fy.0)?;
            }
            Period::Half(fy, h) => {
                FinancialYear::new(fy.0)?;
                range("half", h, 2)?;
            }
            Period::Quarter(fy, q) => {
                FinancialYear::new(fy.0)?;
                range("quarter", q, 4)?;
            }
            Period::Month(y, m) => {
                if !(MIN_FY..=MAX_FY).contains(&y) {
                    return Err(DomainError::OutOfRange {
                        field: "year",
                        value: i64::from(y),
                        min: i64::from(MIN_FY),
                        max: i64::from(MAX_FY),
                    });
                }
                range("month", m, 12)?;
            }
        }
        Ok(self)
    }

    /// The granularity of this period.
    pub fn granularity(self) -> Granularity {
        match self {
            Period::Year(_) => Granularity::Year,
            Period::Half(..) => Granularity::Half,
            Period::Quarter(..) => Granularity::Quarter,
            Period::Month(..) => Granularity::Month,
        }
    }

    /// The financial year the period belongs to.
    pub fn financial_year(self) -> FinancialYear {
        match self {
            Period::Year(fy) | Period::Half(fy, _) | Period::Quarter(fy, _) => fy,
            Period::Month(y, m) => FinancialYear(if m >= 4 { y } else { y - 1 }),
        }
    }

    /// Inclusive range of absolute month numbers (`year*12 + month-1`).
    fn month_range(self) -> (i64, i64) {
        let fy_start = |fy: FinancialYear| i64::from(fy.0) * 12 + 3;
        match self {
            Period::Year(fy) => (fy_start(fy), fy_start(fy) + 11),
            Period::Half(fy, h) => {
                let s = fy_start(fy) + (i64::from(h) - 1) * 6;
                (s, s + 5)
            }
            Period::Quarter(fy, q) => {
                let s = fy_start(fy) + (i64::from(q) - 1) * 3;
                (s, s + 2)
            }
            Period::Month(y, m) => {
                let s = i64::from(y) * 12 + i64::from(m) - 1;
                (s, s)
            }
        }
    }

    /// Chronological sort key: (first month, last month) as absolute month
    /// numbers. (`Ord` on `Period` is by variant first; use this to order
    /// periods in time.)
    pub fn sort_key(self) -> (i64, i64) {
        self.month_range()
    }

    /// True when `other` lies entirely within this period (a period contains itself).
    pub fn contains(self, other: Period) -> bool {
        let (a, b) = self.month_range();
        let (c, d) = other.month_range();
        a <= c && d <= b
    }

    /// First day of the period.
    pub fn start_date(self) -> Option<Date> {
        let (s, _) = self.month_range();
        let y = i32::try_from(s.div_euclid(12)).ok()?;
        let m = u8::try_from(s.rem_euclid(12) + 1).ok()?;
        Date::new(y, m, 1).ok()
    }

    /// Last day of the period.
    pub fn end_date(self) -> Option<Date> {
        let (_, e) = self.month_range();
        let y = i32::try_from(e.div_euclid(12)).ok()?;
        let m = u8::try_from(e.rem_euclid(12) + 1).ok()?;
        Date::new(y, m, crate::time::days_in_month(y, m)).ok()
    }

    /// The period of the given granularity containing a date.
    pub fn containing(date: Date, granularity: Granularity) -> Period {
        let fy = FinancialYear::containing(date);
        let idx = (i32::from(date.month) + 8) % 12; // Apr = 0 ... Mar = 11
        match granularity {
            Granularity::Year => Period::Year(fy),
            Granularity::Half => Period::Half(fy, if idx < 6 { 1 } else { 2 }),
            Granularity::Quarter => Period::Quarter(fy, u8::try_from(idx / 3 + 1).unwrap_or(1)),
            Granularity::Month => Period::Month(date.year, date.month),
        }
    }

    /// The immediately preceding period of the same granularity (short-term
    /// comparison: the previous quarter for a quarter).
    pub fn previous(self) -> Option<Period> {
        let p = match self {
            Period::Year(fy) => Period::Year(FinancialYear(fy.0 - 1)),
            Period::Half(fy, 2) => Period::Half(fy, 1),
            Period::Half(fy, _) => Period::Half(FinancialYear(fy.0 - 1), 2),
            Period::Quarter(fy, q) if q > 1 => Period::Quarter(fy, q - 1),
            Period::Quarter(fy, _) => Period::Quarter(FinancialYear(fy.0 - 1), 4),
            Period::Month(y, m) if m > 1 => Period::Month(y, m - 1),
            Period::Month(y, _) => Period::Month(y - 1, 12),
        };
        p.validated().ok()
    }

    /// The same period one year earlier (long-term comparison).
    pub fn same_period_last_year(self) -> Option<Period> {
        let p = match self {
            Period::Year(fy) => Period::Year(FinancialYear(fy.0 - 1)),
            Period::Half(fy, h) => Period::Half(FinancialYear(fy.0 - 1), h),
            Period::Quarter(fy, q) => Period::Quarter(FinancialYear(fy.0 - 1), q),
            Period::Month(y, m) => Period::Month(y - 1, m),
        };
        p.validated().ok()
    }

    /// Whether results for this period fit an indicator's reporting frequency:
    /// quarterly → quarters; rolling 12 months → quarters or months (the
    /// rolling year ending there); annual → years; biannual survey → halves or
    /// the quarter whose report carries the survey; monthly → months.
    pub fn fits(self, frequency: Frequency) -> bool {
        matches!(
            (frequency, self),
            (Frequency::Quarterly, Period::Quarter(..))
                | (
                    Frequency::Rolling12Months,
                    Period::Quarter(..) | Period::Month(..)
                )
                | (Frequency::Annual, Period::Year(..))
                | (
                    Frequency::BiannualSurvey,
                    Period::Half(..) | Period::Quarter(..)
                )
                | (Frequency::Monthly, Period::Month(..))
        )
    }

    /// Parse any accepted label (see module docs).
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::Invalid {
            field: "period",
            value: value.chars().take(64).collect(),
            reason: "expected 2016/17, 2016/17 Q1, Q1 2016/17, H1 2016/17 or Dec 2015",
        };
        let v = value.trim();
        // Parts are separated by exactly one space (`2016/17  Q1` is a typo).
        let parts: Vec<&str> = v.split(' ').collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || p.contains(char::is_whitespace))
        {
            return Err(bad());
        }
        let qh = |tok: &str| -> Option<(char, u8)> {
            let t = tok.to_ascii_uppercase();
            let mut c = t.chars();
            let letter = c.next()?;
            let n: u8 = c.as_str().parse().ok()?;
            matches!(letter, 'Q' | 'H').then_some((letter, n))
        };
        let built = match parts.as_slice() {
            [one] => {
                if let Ok(fy) = FinancialYear::parse(one) {
                    Period::Year(fy)
                } else if one.len() == 7 && one.as_bytes().get(4) == Some(&b'-') {
                    let y: i32 = one[..4].parse().map_err(|_| bad())?;
                    let m: u8 = one[5..].parse().map_err(|_| bad())?;
                    Period::Month(y, m)
                } else {
                    return Err(bad());
                }
            }
            [a, b] => {
                if let (Some((l, n)), Ok(fy)) = (qh(a), FinancialYear::parse(b)) {
                    if l == 'Q' {
                        Period::Quarter(fy, n)
                    } else {
                        Period::Half(fy, n)
                    }
                } else if let (Ok(fy), Some((l, n))) = (FinancialYear::parse(a), qh(b)) {
                    if l == 'Q' {
                        Period::Quarter(fy, n)
                    } else {
                        Period::Half(fy, n)
                    }
                } else if let Some(m) = month_from_name(a) {
                    if b.len() != 4 {
                        return Err(bad());
                    }
                    Period::Month(b.parse().map_err(|_| bad())?, m)
                } else {
                    return Err(bad());
                }
            }
            _ => return Err(bad()),
        };
        built.validated().map_err(|_| bad())
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Year(fy) => write!(f, "{fy}"),
            Period::Half(fy, h) => write!(f, "{fy} H{h}"),
            Period::Quarter(fy, q) => write!(f, "{fy} Q{q}"),
            Period::Month(y, m) => {
                let name = MONTHS.get(usize::from(m).wrapping_sub(1)).unwrap_or(&"???");
                write!(f, "{name} {y}")
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
enum PeriodRepr {
    Year(i32),
    Half(i32, u8),
    Quarter(i32, u8),
    Month(i32, u8),
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return s.collect_str(self);
        }
        match *self {
            Period::Year(fy) => PeriodRepr::Year(fy.0),
            Period::Half(fy, h) => PeriodRepr::Half(fy.0, h),
            Period::Quarter(fy, q) => PeriodRepr::Quarter(fy.0, q),
            Period::Month(y, m) => PeriodRepr::Month(y, m),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            return Period::parse(&s).map_err(crate::codec::de_error);
        }
        let p = match PeriodRepr::deserialize(d)? {
            PeriodRepr::Year(y) => Period::Year(FinancialYear(y)),
            PeriodRepr::Half(y, h) => Period::Half(FinancialYear(y), h),
            PeriodRepr::Quarter(y, q) => Period::Quarter(FinancialYear(y), q),
            PeriodRepr::Month(y, m) => Period::Month(y, m),
        };
        p.validated().map_err(crate::codec::de_error)
    }
}
