//! The UK local-government period calendar: financial years run April–March.
//!
//! Canonical labels: `2016/17` (year), `2016/17 Q1` (quarter, Q1 = Apr–Jun),
//! `2016/17 H1` (half, H1 = Apr–Sep), `Dec 2015` (calendar month).
//! Accepted on input as well: `Q1 2016/17`, `Q2 19/20`, `2021-22`, `21/22`,
//! `H2 2016/17`, `December 2015`, `Sept 2015`, `2015-12`.
//!
//! THE calendar: [`Period::months`] is the one function that says which
//! months a period covers (as [`MonthIndex`]es, `year × 12 + month − 1`);
//! containment, dates, ordering and the read model's period keys all derive
//! from it. [`FinancialYear::first_month`] is the month a financial year
//! starts (April).
//!
//! Order: periods are ordered by time — first month, then last month (so a
//! quarter sorts before the year that starts with it, and both after the
//! previous year's Q4); ties between distinct values (only possible for
//! out-of-range values built by hand) fall back to the variant and fields.
//!
//! Serialisation: a label string in human-readable formats (JSON), the
//! compact enum (`Year(i32)`, `Half(i32,u8)`, `Quarter(i32,u8)`,
//! `Month(i32,u8)`, in that variant order) in postcard. Decoding validates.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::DomainError;
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

    /// The first month of the financial year (April of its start year).
    pub fn first_month(self) -> MonthIndex {
        MonthIndex(i64::from(self.0) * 12 + 3)
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

/// An absolute calendar month: `year × 12 + (month − 1)` (`Apr 2016` =
/// 2016 × 12 + 3). Consecutive months have consecutive indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonthIndex(pub i64);

impl MonthIndex {
    /// The month of a date.
    pub fn of(date: Date) -> Self {
        MonthIndex(i64::from(date.year) * 12 + i64::from(date.month) - 1)
    }

    /// Calendar year and month (1–12) of this index.
    pub fn year_month(self) -> Option<(i32, u8)> {
        let y = i32::try_from(self.0.div_euclid(12)).ok()?;
        let m = u8::try_from(self.0.rem_euclid(12) + 1).ok()?;
        Some((y, m))
    }
}

/// The months a period covers: `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Months {
    /// First month.
    pub first: MonthIndex,
    /// Last month (inclusive).
    pub last: MonthIndex,
}

/// A reporting period. Ordered by time (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// How often an indicator reports. Never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Frequency {
    /// Quarterly `(q)`.
    Quarterly,
    /// Rolling 12 months `(r)`.
    Rolling12Months,
    /// Annual.
    Annual,
    /// Biannual survey (Residents' Perception Survey, spring/autumn).
    BiannualSurvey,
    /// Monthly.
    Monthly,
}

impl Frequency {
    /// Name used in errors.
    pub fn name(self) -> &'static str {
        match self {
            Frequency::Quarterly => "quarterly",
            Frequency::Rolling12Months => "rolling 12 months",
            Frequency::Annual => "annual",
            Frequency::BiannualSurvey => "biannual survey",
            Frequency::Monthly => "monthly",
        }
    }
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

impl Ord for Period {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.months()
            .cmp(&other.months())
            .then_with(|| self.fields().cmp(&other.fields()))
    }
}

impl PartialOrd for Period {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Period {
    /// A validated financial year.
    pub fn year(fy: i32) -> Result<Self, DomainError> {
        Period::Year(FinancialYear::new(fy)?).validated()
    }

    /// A validated half year (1 = Apr–Sep, 2 = Oct–Mar).
    pub fn half(fy: i32, h: u8) -> Result<Self, DomainError> {
        Period::Half(FinancialYear::new(fy)?, h).validated()
    }

    /// A validated quarter.
    pub fn quarter(fy: i32, q: u8) -> Result<Self, DomainError> {
        Period::Quarter(FinancialYear::new(fy)?, q).validated()
    }

    /// The variant and its fields, as a tie-break of the time order.
    fn fields(self) -> (u8, i32, u8) {
        match self {
            Period::Year(fy) => (0, fy.0, 0),
            Period::Half(fy, h) => (1, fy.0, h),
            Period::Quarter(fy, q) => (2, fy.0, q),
            Period::Month(y, m) => (3, y, m),
        }
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

    /// THE calendar: the months this period covers. A financial year is
    /// April–March, H1 Apr–Sep, Q1 Apr–Jun ... Q4 Jan–Mar.
    pub fn months(self) -> Months {
        let span = |first: MonthIndex, len: i64| Months {
            first,
            last: MonthIndex(first.0 + len - 1),
        };
        match self {
            Period::Year(fy) => span(fy.first_month(), 12),
            Period::Half(fy, h) => span(MonthIndex(fy.first_month().0 + (i64::from(h) - 1) * 6), 6),
            Period::Quarter(fy, q) => {
                span(MonthIndex(fy.first_month().0 + (i64::from(q) - 1) * 3), 3)
            }
            Period::Month(y, m) => span(MonthIndex(i64::from(y) * 12 + i64::from(m) - 1), 1),
        }
    }

    /// Chronological sort key: (first month, last month) as absolute month
    /// numbers ([`Period::months`]); the same order as `Ord`.
    pub fn sort_key(self) -> (i64, i64) {
        let m = self.months();
        (m.first.0, m.last.0)
    }

    /// True when `other` lies entirely within this period (a period contains itself).
    pub fn contains(self, other: Period) -> bool {
        let (a, b) = (self.months(), other.months());
        a.first <= b.first && b.last <= a.last
    }

    /// First day of the period.
    pub fn start_date(self) -> Option<Date> {
        let (y, m) = self.months().first.year_month()?;
        Date::new(y, m, 1).ok()
    }

    /// Last day of the period.
    pub fn end_date(self) -> Option<Date> {
        let (y, m) = self.months().last.year_month()?;
        Date::new(y, m, crate::time::days_in_month(y, m)).ok()
    }

    /// The period of the given granularity containing a date.
    pub fn containing(date: Date, granularity: Granularity) -> Period {
        let fy = FinancialYear::containing(date);
        let idx = (i32::from(date.month) + 8) % 12; // Apr = 0 ... Mar = 11
        match granularity {
            Granularity::Year => Period::Year(fy),
            Granularity::Half => Period::Half(fy, if idx < 6 { 1 } else { 2 }),
            Granularity::Quarter => Period::Quarter(
                fy,
                u8::try_from(idx / 3 + 1).expect("idx is 0..=11, so the quarter is 1..=4"),
            ),
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
            return Period::parse(&s).map_err(crate::error::de_error);
        }
        let p = match PeriodRepr::deserialize(d)? {
            PeriodRepr::Year(y) => Period::Year(FinancialYear(y)),
            PeriodRepr::Half(y, h) => Period::Half(FinancialYear(y), h),
            PeriodRepr::Quarter(y, q) => Period::Quarter(FinancialYear(y), q),
            PeriodRepr::Month(y, m) => Period::Month(y, m),
        };
        p.validated().map_err(crate::error::de_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Period {
        Period::parse(s).expect("test label")
    }

    #[test]
    fn months_of_each_granularity() {
        let apr16 = MonthIndex(2016 * 12 + 3);
        assert_eq!(p("2016/17").months().first, apr16);
        assert_eq!(p("2016/17").months().last, MonthIndex(apr16.0 + 11));
        assert_eq!(p("2016/17 H2").months().first, MonthIndex(apr16.0 + 6));
        assert_eq!(p("2016/17 Q4").months().first, MonthIndex(2017 * 12));
        assert_eq!(p("2016/17 Q4").months().last, MonthIndex(2017 * 12 + 2));
        assert_eq!(p("Dec 2015").months().first, MonthIndex(2015 * 12 + 11));
        assert_eq!(FinancialYear(2016).first_month(), apr16);
        assert_eq!(MonthIndex::of(Date::new(2016, 4, 30).unwrap()), apr16);
        assert_eq!(apr16.year_month(), Some((2016, 4)));
    }

    #[test]
    fn ordered_by_time_not_variant() {
        let mut v = [
            p("Jun 2016"),
            p("2016/17"),
            p("2016/17 Q2"),
            p("2015/16 Q4"),
            p("2016/17 H1"),
            p("2016/17 Q1"),
            p("Apr 2016"),
            p("2015/16"),
        ];
        v.sort();
        let labels: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            labels,
            [
                "2015/16",
                "2015/16 Q4",
                "Apr 2016",
                "2016/17 Q1",
                "2016/17 H1",
                "2016/17",
                "Jun 2016",
                "2016/17 Q2"
            ]
        );
        for w in v.windows(2) {
            assert!(w[0].sort_key() <= w[1].sort_key());
        }
        // distinct out-of-range values with the same months still differ
        let (a, b) = (Period::Quarter(FinancialYear(2016), 5), p("2017/18 Q1"));
        assert_eq!(a.months(), b.months());
        assert_ne!(a.cmp(&b), std::cmp::Ordering::Equal);
    }

    #[test]
    fn validated_constructors() {
        assert_eq!(Period::year(2016).unwrap(), p("2016/17"));
        assert_eq!(Period::half(2016, 2).unwrap(), p("2016/17 H2"));
        assert_eq!(Period::quarter(2016, 1).unwrap(), p("2016/17 Q1"));
        assert_eq!(Period::month(2015, 12).unwrap(), p("Dec 2015"));
        assert!(Period::half(2016, 3).is_err());
        assert!(Period::quarter(2016, 0).is_err());
        assert!(Period::month(2016, 13).is_err());
        assert!(Period::year(MAX_FY + 1).is_err());
        assert!(FinancialYear::new(MIN_FY - 1).is_err());
    }
}
