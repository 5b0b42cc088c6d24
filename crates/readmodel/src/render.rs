//! Printed forms of stored values for audit trails (`82%`, `£1.2m`,
//! `Remain at or above 85%`, `4×4 = 16`). Pure string building, no floats;
//! every figure's form is the domain's ([`perfledger_domain::printed`]).
//! Finance figures in the audit trail keep their stored plain form
//! (`-4331`): the trail shows what was recorded, and grouping them would
//! change every stored `before` text.

use perfledger_domain::action::ActionStatus;
use perfledger_domain::event::{EventBody, ResultEntry};
use perfledger_domain::indicator::{ResultValue, Target, Value};
use perfledger_domain::printed;
use perfledger_domain::rag::Rag;
use perfledger_domain::risk::Assessment;

/// Short printed RAG (`G`, `GA`, `A`, `RA`, `R`).
pub fn rag_label(r: Rag) -> &'static str {
    printed::rag_label(r)
}

/// Printed action status.
pub fn status_label(s: ActionStatus) -> &'static str {
    printed::action_status(s)
}

/// A value as printed.
pub fn value(v: &Value) -> String {
    printed::value(v)
}

/// A target as printed.
pub fn target(t: &Target) -> String {
    printed::target(t)
}

/// A result as printed (`82% (A)`, `Due 2019/20 Q3`, `Not available`).
pub fn result(r: &ResultValue) -> String {
    printed::result(r)
}

fn entry(e: &ResultEntry) -> String {
    printed::entry(e)
}

fn assessment(a: &Assessment) -> String {
    format!("{}×{} = {}", a.impact, a.probability, a.score())
}

/// The figure an event sets, as (field name, printed value).
pub fn figure(body: &EventBody) -> (&'static str, Option<String>) {
    match body {
        EventBody::IndicatorDefined { spec } | EventBody::IndicatorAmended { spec, .. } => {
            ("definition", Some(spec.title.to_string()))
        }
        EventBody::IndicatorRetired { .. } => ("status", Some("retired".to_string())),
        EventBody::TargetSet { target: t, .. } | EventBody::TargetRevised { target: t, .. } => {
            ("target", Some(target(t)))
        }
        EventBody::ResultRecorded { entry: e, .. } | EventBody::ResultRestated { entry: e, .. } => {
            ("result", Some(entry(e)))
        }
        EventBody::ActionDefined { spec } => ("definition", Some(spec.description.to_string())),
        EventBody::ActionStatusReported { status, .. } => {
            ("status", Some(status_label(*status).to_string()))
        }
        EventBody::RiskRegistered { spec } => ("definition", Some(spec.title.to_string())),
        EventBody::RiskAssessed {
            current, target: t, ..
        } => {
            let mut s = format!("current {}", assessment(current));
            if let Some(t) = t {
                s.push_str(&format!(", target {}", assessment(t)));
            }
            ("assessment", Some(s))
        }
        EventBody::RiskClosed { .. } => ("status", Some("closed".to_string())),
        EventBody::RevenueLineDefined { spec } | EventBody::CapitalLineDefined { spec } => {
            ("definition", Some(spec.name.to_string()))
        }
        EventBody::BudgetSet {
            original, revised, ..
        }
        | EventBody::BudgetRevised {
            original, revised, ..
        } => (
            "budget",
            Some(format!("original {original}, revised {revised}")),
        ),
        EventBody::RevenueForecastSubmitted { forecast, .. } => {
            ("forecast", Some(forecast.to_string()))
        }
        EventBody::CapitalBudgetSet { approved, .. } => ("budget", Some(approved.to_string())),
        EventBody::CapitalForecastSubmitted {
            additions,
            slippage,
            forecast,
            ..
        } => (
            "forecast",
            Some(format!(
                "additions {additions}, slippage {slippage}, forecast {forecast}"
            )),
        ),
        EventBody::SavingProposed { spec } => ("definition", Some(spec.description.to_string())),
        EventBody::SavingDeliveryReported { achieved, .. } => {
            ("achieved", Some(achieved.to_string()))
        }
        EventBody::ToleranceSchemeAdopted { name, .. } => ("scheme", Some(name.to_string())),
        EventBody::PeriodClosed { .. } => ("period", Some("closed".to_string())),
        EventBody::UnitDefined { spec } | EventBody::CommitteeDefined { spec } => {
            ("definition", Some(spec.name.to_string()))
        }
        EventBody::DashboardSealed { seal } => ("seal", Some(hex::encode(seal.digest))),
        // A pack seal's audit value is its dashboard digest, as every seal's.
        EventBody::CommitteeDashboardSealed { seal }
        | EventBody::CommitteePackSealed { seal, .. } => {
            ("seal", Some(hex::encode(seal.seal.digest)))
        }
        EventBody::PostCloseRestatement { .. } => ("post-close restatement", None),
    }
}

/// The parts of a result entry other than the result (commentary,
/// intervention level, benchmarks) that `after` changes from `before`, as
/// (field, before, after) printed: a restatement's audit trail records every
/// field it changes, not only the figure. Empty for other events.
pub fn side_changes(
    before: &EventBody,
    after: &EventBody,
) -> Vec<(&'static str, Option<String>, Option<String>)> {
    let (
        EventBody::ResultRecorded { entry: b, .. } | EventBody::ResultRestated { entry: b, .. },
        EventBody::ResultRecorded { entry: a, .. } | EventBody::ResultRestated { entry: a, .. },
    ) = (before, after)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if a.commentary != b.commentary {
        let text = |e: &ResultEntry| e.commentary.as_ref().map(|c| c.to_string());
        out.push(("commentary", text(b), text(a)));
    }
    if a.intervention != b.intervention {
        let level = |e: &ResultEntry| e.intervention.map(|l| format!("Level {}", l.0));
        out.push(("intervention", level(b), level(a)));
    }
    if a.benchmarks != b.benchmarks {
        let list = |e: &ResultEntry| {
            (!e.benchmarks.is_empty()).then(|| {
                e.benchmarks
                    .iter()
                    .map(|m| format!("{} {}", m.group, value(&m.value)))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        };
        out.push(("benchmarks", list(b), list(a)));
    }
    out
}
