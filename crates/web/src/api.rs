//! The JSON API (`/api/...`): the read model's views as JSON, with the same
//! parameters as the pages (`as_of`, `unit`, `period`).
//!
//! Invariant: each answer is read at the request's one resolved sequence;
//! list answers carry that sequence as `as_of` (and the unit, when one was
//! asked for), so a client can ask again for exactly the same view.

use serde::Serialize;

use crate::pages::{hex32, kind_param, Res, M};
use crate::params::{self, ctx};
use crate::{json, App, AppError};

#[derive(Serialize)]
struct Listed<'a, T: Serialize> {
    as_of: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
    #[serde(flatten)]
    items: T,
}

pub(crate) fn units(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let units = app.rm().units(c.at())?;
    json(&Listed {
        as_of: c.seq,
        unit: None,
        items: serde_json::json!({ "units": units }),
    })
}

/// Periods with indicator targets/results or seals (at the checkpoint; the
/// selectors' list).
pub(crate) fn periods(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let periods: Vec<String> = app.periods()?.iter().map(|p| p.to_string()).collect();
    json(&Listed {
        as_of: c.seq,
        unit: None,
        items: serde_json::json!({ "periods": periods }),
    })
}

pub(crate) fn dashboard(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let known = app.periods()?;
    let period = params::period(m, &known)?
        .ok_or_else(|| AppError::bad("period", "", "no period given and none recorded yet"))?;
    json(&app.rm().dashboard(c.unit(), period, c.at())?)
}

pub(crate) fn indicators(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let list = app.rm().indicators(c.unit(), c.at())?;
    json(&Listed {
        as_of: c.seq,
        unit: c.unit(),
        items: serde_json::json!({ "indicators": list }),
    })
}

pub(crate) fn indicator(app: &App, key: &str, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    json(&app.rm().indicator(key, c.at())?)
}

pub(crate) fn audit(app: &App, kind: &str, key: &str, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let k = kind_param(kind)?;
    let t = app.rm().audit(k, key, c.at())?;
    let digest = t.digest_hex();
    let mut v = serde_json::to_value(&t).map_err(|e| AppError::Internal(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("digest".into(), digest.into());
    }
    json(&v)
}

pub(crate) fn risks(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    json(&app.rm().risks(c.unit(), c.at())?)
}

pub(crate) fn heatmap(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let maps = app.rm().heat_map(c.unit(), c.at())?;
    json(&Listed {
        as_of: c.seq,
        unit: c.unit(),
        items: maps,
    })
}

pub(crate) fn finance(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let known = app.periods()?;
    let period = params::period(m, &known)?
        .ok_or_else(|| AppError::bad("period", "", "no period given and none recorded yet"))?;
    json(&app.rm().finance(c.unit(), period, c.at())?)
}

#[derive(Serialize)]
struct SealOut {
    seq: u64,
    index: u16,
    seal: perfledger_domain::event::Seal,
    seal_id: Option<String>,
    title: Option<String>,
    sealed_at: Option<String>,
    digest: String,
    verdict: SealVerdictOut,
}

#[derive(Serialize)]
struct SealVerdictOut {
    matches: bool,
    expected_digest: String,
    actual_digest: String,
    changed_since: Vec<perfledger_readmodel::FigureDiff>,
}

pub(crate) fn seals(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let mut out = Vec::new();
    for rec in app.rm().seals(c.at())? {
        let v = app.seal_verdict(&rec)?;
        out.push(SealOut {
            seq: rec.seq,
            index: rec.index,
            digest: hex32(&rec.seal.digest),
            seal: rec.seal,
            seal_id: rec.seal_id,
            title: rec.title,
            sealed_at: rec.sealed_at.map(|t| t.to_string()),
            verdict: SealVerdictOut {
                matches: v.matches,
                expected_digest: v.expected_digest.clone(),
                actual_digest: v.actual_digest.clone(),
                changed_since: v.changed_since.clone(),
            },
        });
    }
    json(&Listed {
        as_of: c.seq,
        unit: None,
        items: serde_json::json!({ "seals": out }),
    })
}
