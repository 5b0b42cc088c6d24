//! Query parameters: `as_of`, `period`, `unit`.

use std::collections::BTreeMap;

use perfledger_domain::ids::normalise_key;
use perfledger_domain::period::Period;
use perfledger_readmodel::{AsOf, ReadModel};

use crate::AppError;

/// Parse an `as_of` parameter: empty = the checkpoint; otherwise the
/// as-of grammar ([`AsOf::parse`]: `head`, a log sequence, a date or a
/// date-time, UTC unless an RFC 3339 offset is given). The error names the
/// reason.
pub fn parse_as_of(value: &str) -> Result<AsOf, String> {
    if value.trim().is_empty() {
        return Ok(AsOf::Head);
    }
    AsOf::parse(value).map_err(|e| match e {
        perfledger_domain::DomainError::Invalid { reason, .. } => reason.to_string(),
        other => other.to_string(),
    })
}

/// Parse a `period` parameter (`2016/17 Q1`, `Q1 2016/17`, `2016/17`,
/// `H1 2016/17`, `Dec 2015`).
pub fn parse_period(value: &str) -> Result<Period, String> {
    Period::parse(value).map_err(|e| e.to_string())
}

/// The request's position and scope.
pub(crate) struct Ctx {
    /// The raw `as_of` as given (for the form).
    pub as_of_raw: String,
    /// The sequence every query of the request reads at.
    pub seq: u64,
    /// Unit, canonical name, None = council-wide.
    pub unit: Option<String>,
}

impl Ctx {
    pub fn at(&self) -> AsOf {
        AsOf::Seq(self.seq)
    }

    pub fn unit(&self) -> Option<&str> {
        self.unit.as_deref()
    }
}

fn param<'a>(m: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    m.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Resolve `as_of` and `unit` (unknown unit → 404).
pub(crate) fn ctx(rm: &ReadModel, m: &BTreeMap<String, String>) -> Result<Ctx, AppError> {
    let raw = m
        .get("as_of")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let asked = parse_as_of(&raw).map_err(|r| AppError::bad("as_of", &raw, r))?;
    let seq = rm.resolve(asked).map_err(|e| match e {
        perfledger_readmodel::ReadModelError::BeyondCheckpoint { .. } => {
            AppError::bad("as_of", &raw, e.to_string())
        }
        other => other.into(),
    })?;
    let unit = match param(m, "unit") {
        None => None,
        Some(u) => {
            let want = normalise_key(u);
            let units = rm.units(AsOf::Seq(seq))?;
            match units.into_iter().find(|r| normalise_key(&r.name) == want) {
                Some(r) => Some(r.name),
                None => {
                    return Err(AppError::not_found(
                        "no unit named ",
                        u,
                        &format!(" as of log sequence {seq}"),
                    ))
                }
            }
        }
    };
    Ok(Ctx {
        as_of_raw: raw,
        seq,
        unit,
    })
}

/// The `period` parameter, else the latest known period (None when nothing
/// has been recorded).
pub(crate) fn period(
    m: &BTreeMap<String, String>,
    known: &[Period],
) -> Result<Option<Period>, AppError> {
    match param(m, "period") {
        Some(p) => parse_period(p)
            .map(Some)
            .map_err(|r| AppError::bad("period", p, r)),
        None => Ok(known
            .iter()
            .rev()
            .find(|p| matches!(p, Period::Quarter(..)))
            .or(known.last())
            .copied()),
    }
}

/// Recorded time (ms) of the log prefix ending at `seq`: the least `t` with
/// `resolve(Time(t)) >= seq`, found by bisection over the read model's time
/// index through its public API (about 64 index lookups).
pub(crate) fn recorded_at(rm: &ReadModel, seq: u64) -> Result<Option<i64>, AppError> {
    if seq == 0 {
        return Ok(None);
    }
    let (mut lo, mut hi) = (-(1i64 << 61), 1i64 << 61);
    if rm.resolve(AsOf::Time(hi))? < seq {
        return Ok(None);
    }
    if rm.resolve(AsOf::Time(lo))? >= seq {
        return Ok(Some(lo));
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if rm.resolve(AsOf::Time(mid))? >= seq {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(Some(hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfledger_domain::Timestamp;

    #[test]
    fn as_of_forms() {
        assert_eq!(parse_as_of(""), Ok(AsOf::Head));
        assert_eq!(parse_as_of("head"), Ok(AsOf::Head));
        assert_eq!(parse_as_of("17"), Ok(AsOf::Seq(17)));
        let day = Timestamp::parse("2016-09-06").unwrap().0;
        assert_eq!(parse_as_of("2016-09-06"), Ok(AsOf::Time(day)));
        assert_eq!(parse_as_of("2016-09-06T00:00:00Z"), Ok(AsOf::Time(day)));
        assert_eq!(parse_as_of("2016-09-06T00:00"), Ok(AsOf::Time(day)));
        assert_eq!(
            parse_as_of("2016-09-06T01:00:00+01:00"),
            Ok(AsOf::Time(day))
        );
        assert_eq!(
            parse_as_of("2016-09-05T23:00:00.5-01:00"),
            Ok(AsOf::Time(day + 500))
        );
        for bad in [
            "yesterday",
            "2016-13-01",
            "2016-09-06T25:00Z",
            "99999999999999999999999",
            "2016-09-06X",
            "2016-09-06T10:00+0100",
            "２０１６-09-06",
        ] {
            assert!(parse_as_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn periods() {
        assert!(parse_period("2016/17 Q1").is_ok());
        assert!(parse_period("Q5 2016/17").is_err());
    }
}
