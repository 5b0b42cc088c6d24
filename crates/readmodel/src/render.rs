//! Printed forms of stored values for audit trails (`82%`, `£1.2m`,
//! `Remain at or above 85%`, `4×4 = 16`). Pure string building, no floats.

use perfledger_domain::action::ActionStatus;
use perfledger_domain::event::{EventBody, ResultEntry};
use perfledger_domain::indicator::{Comparator, MoneyUnit, ResultValue, Target, Value};
use perfledger_domain::rag::Rag;
use perfledger_domain::risk::Assessment;

/// Short printed RAG (`G`, `GA`, `A`, `RA`, `R`).
pub fn rag_label(r: Rag) -> &'static str {
    match r {
        Rag::Green => "G",
        Rag::GreenAmber => "GA",
        Rag::Amber => "A",
        Rag::RedAmber => "RA",
        Rag::Red => "R",
    }
}

/// Printed action status.
pub fn status_label(s: ActionStatus) -> &'static str {
    match s {
        ActionStatus::Green => "Green",
        ActionStatus::GreenAmber => "Green Amber",
        ActionStatus::RedAmber => "Red Amber",
        ActionStatus::Red => "Red",
        ActionStatus::NotRated => "Not Rated",
    }
}

/// A value as printed.
pub fn value(v: &Value) -> String {
    match v {
        Value::Percent(p) => format!("{p}%"),
        Value::Money { amount, unit } => match unit {
            MoneyUnit::Pounds => format!("£{amount}"),
            MoneyUnit::Thousands => format!("£{amount}k"),
            MoneyUnit::Millions => format!("£{amount}m"),
        },
        Value::Count(c) => c.to_string(),
        Value::Days(d) => format!("{d} days"),
        Value::Ratio(r) => r.to_string(),
        Value::Fraction {
            numerator,
            denominator,
        } => format!("{numerator}/{denominator}"),
        Value::PercentReduction(p) => format!("{p}% reduction"),
    }
}

/// A target as printed.
pub fn target(t: &Target) -> String {
    match t {
        Target::Numeric {
            comparator,
            value: v,
            note,
        } => {
            let c = match comparator {
                Comparator::Plain => "",
                Comparator::LessThan => "<",
                Comparator::GreaterThan => ">",
                Comparator::AtMost => "≤",
                Comparator::AtLeast => "≥",
            };
            match note {
                Some(n) => format!("{c}{} ({n})", value(v)),
                None => format!("{c}{}", value(v)),
            }
        }
        Target::Monitor => "Monitor".to_string(),
        Target::Tbc => "TBC".to_string(),
        Target::Increase => "Increase".to_string(),
        Target::Decrease => "Decrease".to_string(),
        Target::RemainAtOrAbove(v) => format!("Remain at or above {}", value(v)),
        Target::RemainAtOrBelow(v) => format!("Remain at or below {}", value(v)),
        Target::Reduction(p) => format!("{p}% reduction"),
        Target::NewFor(y) => format!("New for {y}"),
        Target::NotApplicable => "N/A".to_string(),
    }
}

/// A result as printed (`82% (A)`, `Due 2019/20 Q3`, `Not available`).
pub fn result(r: &ResultValue) -> String {
    match r {
        ResultValue::Measured {
            value: v,
            source_rag,
            label,
        } => {
            let mut s = value(v);
            if let Some(rag) = source_rag {
                s.push_str(&format!(" ({})", rag_label(*rag)));
            }
            if let Some(l) = label {
                s.push_str(&format!(" [{l}]"));
            }
            s
        }
        ResultValue::NotYetDue { due: Some(p) } => format!("Due {p}"),
        ResultValue::NotYetDue { due: None } => "Not yet due".to_string(),
        ResultValue::NotAvailable { note } => note.to_string(),
        ResultValue::New { year: Some(y) } => format!("New ({y})"),
        ResultValue::New { year: None } => "New".to_string(),
    }
}

fn entry(e: &ResultEntry) -> String {
    result(&e.result)
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
