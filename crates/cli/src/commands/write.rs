//! Write commands: record/restate a result, set/revise a target, assess a
//! risk, submit a forecast, report an action, close a period. Each parses
//! its printed-form arguments into one domain `Command` and hands it to
//! [`Env::write`] (closed-period wrapping, ledger, checkpoint). A restating
//! command without a reason is refused here, before the ledger is asked.

use perfledger_domain::action::ActionStatus;
use perfledger_domain::event::ResultEntry;
use perfledger_domain::{parse, Command, Text};

use crate::args::{
    period, ActionArgs, ClosePeriodArgs, ForecastArgs, ForecastKind, ResultArgs, RiskArgs,
    TargetArgs,
};
use crate::env::Env;
use crate::error::{CliError, Res};

/// `record-result` (`restate` false) and `restate-result`.
pub async fn result(env: &Env, a: ResultArgs, restate: bool) -> Res<()> {
    let indicator = Text::new("indicator", &a.indicator)?;
    let period = period(&a.period)?;
    let entry = ResultEntry {
        result: parse::parse_result(&a.result)?,
        commentary: a
            .commentary
            .map(|c| Text::new("commentary", &c))
            .transpose()?,
        intervention: None,
        benchmarks: Vec::new(),
    };
    let cmd = if restate {
        let reason = a
            .reason
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| CliError::Usage("restate-result needs --reason".into()))?;
        Command::RestateResult {
            indicator,
            period,
            entry,
            reason: Text::new("reason", reason)?,
        }
    } else {
        Command::RecordResult {
            indicator,
            period,
            entry,
        }
    };
    env.write(cmd, a.reason.as_deref()).await
}

/// `set-target` (`revise` false) and `revise-target`.
pub async fn target(env: &Env, a: TargetArgs, revise: bool) -> Res<()> {
    let indicator = Text::new("indicator", &a.indicator)?;
    let period = period(&a.period)?;
    let target = parse::parse_target(&a.target)?;
    let cmd = if revise {
        let reason = a
            .reason
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| CliError::Usage("revise-target needs --reason".into()))?;
        Command::ReviseTarget {
            indicator,
            period,
            target,
            reason: Text::new("reason", reason)?,
        }
    } else {
        Command::SetTarget {
            indicator,
            period,
            target,
        }
    };
    env.write(cmd, a.reason.as_deref()).await
}

/// `assess-risk`.
pub async fn assess_risk(env: &Env, a: RiskArgs) -> Res<()> {
    let current = parse::parse_assessment(&a.impact, &a.probability)?;
    let target = match (a.target_impact, a.target_probability) {
        (Some(i), Some(p)) => Some(parse::parse_assessment(&i, &p)?),
        _ => None,
    };
    let cmd = Command::AssessRisk {
        risk_id: Text::new("risk id", &a.risk)?,
        period: period(&a.period)?,
        current,
        target,
        comment: a.comment.map(|c| Text::new("comment", &c)).transpose()?,
    };
    env.write(cmd, a.reason.as_deref()).await
}

/// `submit-forecast revenue|capital`.
pub async fn submit_forecast(env: &Env, a: ForecastArgs) -> Res<()> {
    let unit = Text::new("unit", &a.unit)?;
    let line = Text::new("line", &a.line)?;
    let period = period(&a.period)?;
    let forecast = parse::parse_amount(&a.forecast)?;
    let comment = a.comment.map(|c| Text::new("comment", &c)).transpose()?;
    let cmd = match a.kind {
        ForecastKind::Revenue => Command::SubmitRevenueForecast {
            unit,
            line,
            period,
            forecast,
            comment,
        },
        ForecastKind::Capital => Command::SubmitCapitalForecast {
            unit,
            line,
            period,
            additions: parse::parse_amount(&a.additions)?,
            slippage: parse::parse_amount(&a.slippage)?,
            forecast,
            comment,
        },
    };
    env.write(cmd, a.reason.as_deref()).await
}

/// `report-action`.
pub async fn report_action(env: &Env, a: ActionArgs) -> Res<()> {
    let cmd = Command::ReportActionStatus {
        unit: Text::new("unit", &a.unit)?,
        reference: Text::new("reference", &a.action)?,
        period: period(&a.period)?,
        status: ActionStatus::parse(&a.status)?,
        comment: a.comment.map(|c| Text::new("comment", &c)).transpose()?,
    };
    env.write(cmd, a.reason.as_deref()).await
}

/// `close-period`.
pub async fn close_period(env: &Env, a: ClosePeriodArgs) -> Res<()> {
    let cmd = Command::ClosePeriod {
        period: period(&a.period)?,
    };
    env.write(cmd, None).await
}
