//! THE as-of grammar: the one way a reader names a position in the ledger,
//! for the CLI (`--as-of`), the web (`?as_of=`) and the NATS query service
//! (`"as_of"` in the JSON parameters).
//!
//! ```text
//! as-of    = "head"                      ; any case: the read model's checkpoint
//!          | 1*DIGIT                     ; a log sequence (u64)
//!          | date                        ; YYYY-MM-DD = its first instant, UTC
//!          | date sep time [offset]      ; no offset = UTC
//! sep      = "T" | "t" | " "
//! time     = HH ":" MM [":" SS ["." 1*DIGIT]]   ; fractions kept to the millisecond
//! offset   = "Z" | "z" | ("+" | "-") HH ":" MM  ; RFC 3339
//! ```
//!
//! A time means "the ledger as recorded up to then" (milliseconds since the
//! Unix epoch, the offset applied). Surrounding spaces are ignored; an empty
//! value is not an as-of (a surface whose parameter is optional treats
//! "absent" as `head` itself).
//!
//! Wire: postcard and JSON both carry the tagged enum (`"Head"`,
//! `{"Seq": n}`, `{"Time": ms}`); JSON also accepts a string in the grammar
//! above (`"2016-09-06T10:00:00+01:00"`, `"541"`, `"head"`).

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::DomainError;
use crate::time::Timestamp;

/// A position to read the ledger at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AsOf {
    /// The checkpoint (everything projected).
    Head,
    /// After applying records 1..=seq.
    Seq(u64),
    /// The longest prefix whose records all have recorded_at ≤ t (ms since
    /// the Unix epoch).
    Time(i64),
}

/// Why an as-of was refused (also the web's and CLI's message).
pub const EXPECTED: &str = "expected a log sequence number or a date/time such as 2016-09-06, \
     2016-09-06T10:00 or 2016-09-06T10:00:00Z (RFC 3339)";

/// The reason given for a sequence beyond `u64`.
pub const SEQ_TOO_LARGE: &str = "log sequence too large";

impl AsOf {
    /// Parse the grammar in the module docs.
    pub fn parse(value: &str) -> Result<AsOf, DomainError> {
        let bad = |reason| DomainError::Invalid {
            field: "as of",
            value: value.chars().take(64).collect(),
            reason,
        };
        let v = value.trim();
        if v.eq_ignore_ascii_case("head") {
            return Ok(AsOf::Head);
        }
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            return v
                .parse::<u64>()
                .map(AsOf::Seq)
                .map_err(|_| bad(SEQ_TOO_LARGE));
        }
        parse_time(v).map(AsOf::Time).ok_or_else(|| bad(EXPECTED))
    }
}

/// A date or RFC 3339 date-time (see the grammar) as ms since the epoch.
fn parse_time(v: &str) -> Option<i64> {
    if !v.is_ascii() || v.len() < 10 {
        return None;
    }
    if v.len() == 10 {
        return Timestamp::parse(v).ok().map(|t| t.0);
    }
    let (date, rest) = v.split_at(10);
    let rest = rest
        .strip_prefix('T')
        .or_else(|| rest.strip_prefix('t'))
        .or_else(|| rest.strip_prefix(' '))?;
    let (clock, offset_ms) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0i64)
    } else if rest.len() > 6 && matches!(rest.as_bytes()[rest.len() - 6], b'+' | b'-') {
        let (c, off) = rest.split_at(rest.len() - 6);
        let ob = off.as_bytes();
        if ob[3] != b':' {
            return None;
        }
        let hh: i64 = off[1..3].parse().ok()?;
        let mm: i64 = off[4..6].parse().ok()?;
        if hh > 23 || mm > 59 {
            return None;
        }
        let ms = (hh * 60 + mm) * 60_000;
        (c, if ob[0] == b'-' { -ms } else { ms })
    } else {
        (rest, 0)
    };
    // Fractions: keep milliseconds (truncate or pad to 3 digits).
    let clock = match clock.split_once('.') {
        Some((hms, frac)) => {
            if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut f: String = frac.chars().take(3).collect();
            while f.len() < 3 {
                f.push('0');
            }
            format!("{hms}.{f}")
        }
        None => clock.to_string(),
    };
    let t = Timestamp::parse(&format!("{date}T{clock}Z")).ok()?;
    t.0.checked_sub(offset_ms)
}

impl fmt::Display for AsOf {
    /// `head`, the sequence, or the time in RFC 3339 UTC (parses back).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsOf::Head => f.write_str("head"),
            AsOf::Seq(s) => write!(f, "{s}"),
            AsOf::Time(t) => write!(f, "{}", Timestamp(*t)),
        }
    }
}

/// The tagged form (postcard, and JSON objects).
#[derive(Deserialize)]
enum Tagged {
    Head,
    Seq(u64),
    Time(i64),
}

impl From<Tagged> for AsOf {
    fn from(t: Tagged) -> Self {
        match t {
            Tagged::Head => AsOf::Head,
            Tagged::Seq(s) => AsOf::Seq(s),
            Tagged::Time(t) => AsOf::Time(t),
        }
    }
}

struct HumanVisitor;

impl<'de> Visitor<'de> for HumanVisitor {
    type Value = AsOf;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"Head\", {\"Seq\": n}, {\"Time\": ms} or an as-of string (541, head, 2016-09-06, RFC 3339)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<AsOf, E> {
        AsOf::parse(v).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AsOf, A::Error> {
        let key: String = map
            .next_key()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let at = match key.as_str() {
            "Seq" => AsOf::Seq(map.next_value()?),
            "Time" => AsOf::Time(map.next_value()?),
            "Head" => {
                map.next_value::<()>()?;
                AsOf::Head
            }
            other => return Err(de::Error::unknown_variant(other, &["Head", "Seq", "Time"])),
        };
        if map.next_key::<String>()?.is_some() {
            return Err(de::Error::invalid_length(2, &self));
        }
        Ok(at)
    }
}

impl<'de> Deserialize<'de> for AsOf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            d.deserialize_any(HumanVisitor)
        } else {
            Tagged::deserialize(d).map(AsOf::from)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> i64 {
        Timestamp::parse("2016-09-06").unwrap().0
    }

    #[test]
    fn every_form() {
        let day = day();
        for (s, want) in [
            ("head", AsOf::Head),
            ("HEAD", AsOf::Head),
            (" 17 ", AsOf::Seq(17)),
            ("0", AsOf::Seq(0)),
            ("2016-09-06", AsOf::Time(day)),
            ("2016-09-06T00:00:00Z", AsOf::Time(day)),
            ("2016-09-06T00:00Z", AsOf::Time(day)),
            ("2016-09-06t00:00:00z", AsOf::Time(day)),
            ("2016-09-06 00:00", AsOf::Time(day)),
            ("2016-09-06T00:00", AsOf::Time(day)),
            ("2016-09-06T00:00:00.123Z", AsOf::Time(day + 123)),
            ("2016-09-06T00:00:00.1234567Z", AsOf::Time(day + 123)),
            ("2016-09-06T01:00:00+01:00", AsOf::Time(day)),
            ("2016-09-05T23:00:00.5-01:00", AsOf::Time(day + 500)),
        ] {
            assert_eq!(AsOf::parse(s).unwrap(), want, "{s}");
        }
    }

    #[test]
    fn refusals_name_the_reason() {
        for bad in [
            "",
            "yesterday",
            "2016-13-01",
            "2016-09-06T25:00Z",
            "2016-09-06X",
            "2016-09-06T10:00+0100",
            "2016-09-06T10:00:00.Z",
            "２０１６-09-06",
            "-1",
            "+5",
        ] {
            match AsOf::parse(bad) {
                Err(DomainError::Invalid { reason, .. }) => assert_eq!(reason, EXPECTED, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        match AsOf::parse("99999999999999999999999") {
            Err(DomainError::Invalid { reason, .. }) => assert_eq!(reason, SEQ_TOO_LARGE),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn display_parses_back() {
        for a in [
            AsOf::Head,
            AsOf::Seq(541),
            AsOf::Time(day()),
            AsOf::Time(day() + 1),
        ] {
            assert_eq!(AsOf::parse(&a.to_string()).unwrap(), a);
        }
    }

    #[test]
    fn wire_forms() {
        // JSON: the tagged enum as before, and strings in the grammar.
        for (json, want) in [
            ("\"Head\"", AsOf::Head),
            ("{\"Seq\":5}", AsOf::Seq(5)),
            ("{\"Time\":1473120000000}", AsOf::Time(1_473_120_000_000)),
            ("\"541\"", AsOf::Seq(541)),
            ("\"2016-09-06\"", AsOf::Time(day())),
        ] {
            assert_eq!(serde_json::from_str::<AsOf>(json).unwrap(), want, "{json}");
        }
        assert_eq!(serde_json::to_string(&AsOf::Seq(5)).unwrap(), "{\"Seq\":5}");
        assert_eq!(serde_json::to_string(&AsOf::Head).unwrap(), "\"Head\"");
        assert!(serde_json::from_str::<AsOf>("{\"Later\":5}").is_err());
        assert!(serde_json::from_str::<AsOf>("{\"Seq\":5,\"Time\":1}").is_err());
        // postcard: the tagged enum.
        for a in [AsOf::Head, AsOf::Seq(7), AsOf::Time(-3)] {
            let bytes = postcard::to_allocvec(&a).unwrap();
            assert_eq!(postcard::from_bytes::<AsOf>(&bytes).unwrap(), a);
        }
    }
}
