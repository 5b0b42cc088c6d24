//! The JSON API (`/api/...`): the read model's views as JSON, with the same
//! parameters as the pages (`as_of`, `unit`, `period`). The views
//! (dashboard, finance, indicators, history, audit, risks, seals) are
//! `perfledger_readmodel::views`, the same bytes the CLI and the NATS query
//! service print (docs/json.md); units, periods and heatmap are the web's
//! selector lists.
//!
//! Invariant: each answer is read at the request's one resolved sequence;
//! list answers carry that sequence as `as_of` (and the unit, when one was
//! asked for), so a client can ask again for exactly the same view.

use perfledger_readmodel::views::{
    AuditJson, DashboardJson, FinanceJson, HistoryJson, IndicatorsJson, RisksJson, SealsJson,
};
use serde::Serialize;

use crate::pages::{kind_param, Res, M};
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
    json(&DashboardJson::from(&app.rm().dashboard(
        c.unit(),
        period,
        c.at(),
    )?))
}

pub(crate) fn indicators(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let list = app.rm().indicators(c.unit(), c.at())?;
    json(&IndicatorsJson::new(c.seq, c.unit(), &list))
}

pub(crate) fn indicator(app: &App, key: &str, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    json(&HistoryJson::from(&app.rm().indicator(key, c.at())?))
}

pub(crate) fn audit(app: &App, kind: &str, key: &str, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let k = kind_param(kind)?;
    json(&AuditJson::from(&app.rm().audit(k, key, c.at())?))
}

pub(crate) fn risks(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    json(&RisksJson::from(&app.rm().risks(c.unit(), c.at())?))
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
    json(&FinanceJson::from(&app.rm().finance(
        c.unit(),
        period,
        c.at(),
    )?))
}

pub(crate) fn seals(app: &App, m: &M) -> Res {
    let c = ctx(app.rm(), m)?;
    let mut rows = Vec::new();
    for rec in app.rm().seals(c.at())? {
        let v = app.seal_verdict(&rec)?;
        rows.push((rec, (*v).clone()));
    }
    json(&SealsJson::new(c.seq, &rows))
}
