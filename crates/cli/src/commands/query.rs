//! Read commands over the read model: `dashboard`, `indicators`, `history`,
//! `audit`, `risks`, `finance`. Each catches the read model up with the log,
//! asks it one question as of a position (`--as-of`, default the head) and
//! prints the answer in the chosen format (`crate::format`).

use perfledger_domain::ids::EntityKind;
use perfledger_readmodel::AsOf;

use crate::args::{
    as_of, period, AuditArgs, DashboardArgs, FinanceArgs, HistoryArgs, IndicatorsArgs, RisksArgs,
};
use crate::env::Env;
use crate::error::{CliError, Res};
use crate::format;

/// `dashboard`.
pub async fn dashboard(env: &Env, a: DashboardArgs) -> Res<()> {
    // Arguments first: their errors need no tenant or read model.
    let (p, at) = (period(&a.period)?, as_of(a.as_of.as_deref())?);
    let rm = env.caught_up().await?;
    let view = rm.dashboard(a.unit.as_deref(), p, at)?;
    format::dashboard(env.g.format, &view)
}

/// `indicators`.
pub async fn indicators(env: &Env, a: IndicatorsArgs) -> Res<()> {
    let rm = env.caught_up().await?;
    let at = rm.resolve(as_of(a.as_of.as_deref())?)?;
    let list = rm.indicators(a.unit.as_deref(), AsOf::Seq(at))?;
    format::indicators(env.g.format, at, a.unit.as_deref(), &list)
}

/// `history`.
pub async fn history(env: &Env, a: HistoryArgs) -> Res<()> {
    let rm = env.caught_up().await?;
    let view = rm.indicator(&a.indicator, as_of(a.as_of.as_deref())?)?;
    format::history(env.g.format, &view)
}

/// `audit KIND KEY`: the kind as a token (`revenue-line`, `revenueline`
/// or `revenue_line`); the key of an action or a finance line as
/// `UNIT/REF`.
pub async fn audit(env: &Env, a: AuditArgs) -> Res<()> {
    let rm = env.caught_up().await?;
    let AuditArgs {
        kind,
        key,
        as_of: at,
    } = a;
    let kind = EntityKind::from_token(&kind.replace('-', "_"))
        .or_else(|_| EntityKind::from_token(&kind.replace('-', "")))
        .or_else(|_| EntityKind::from_token(&kind))?;
    let key = if matches!(
        kind,
        EntityKind::Action | EntityKind::RevenueLine | EntityKind::CapitalLine
    ) {
        match key.split_once('/') {
            Some((u, r)) => perfledger_domain::ids::composite_key(&[u, r]),
            None => key,
        }
    } else {
        key
    };
    let trail = rm.audit(kind, &key, as_of(at.as_deref())?)?;
    format::audit(env.g.format, &trail)
}

/// `risks`.
pub async fn risks(env: &Env, a: RisksArgs) -> Res<()> {
    let rm = env.caught_up().await?;
    let reg = rm.risks(a.unit.as_deref(), as_of(a.as_of.as_deref())?)?;
    format::risks(env.g.format, &reg, a.heat_map)
}

/// `finance`: a quarter (`--period`) or a year's savings plans (`--year`).
pub async fn finance(env: &Env, a: FinanceArgs) -> Res<()> {
    let p = match (a.period, a.year) {
        (Some(p), _) => period(&p)?,
        (None, Some(y)) => period(&y)?,
        (None, None) => {
            return Err(CliError::Usage("give --period or --year".into()));
        }
    };
    let rm = env.caught_up().await?;
    let view = rm.finance(a.unit.as_deref(), p, as_of(a.as_of.as_deref())?)?;
    format::finance(env.g.format, &view)
}
