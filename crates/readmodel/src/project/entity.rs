//! What an event is about, as the read model keeps it: the unit its
//! entity sits in, the names it can be found by, and the slot (field,
//! period) its figure is kept in (every variant decided there). The
//! entity kind an event belongs to and its natural key are the domain's
//! (`EventBody::entity_kind`, `EventBody::natural_key`).

use perfledger_domain::event::EventBody;
use perfledger_domain::ids::normalise_key;

use crate::keys::field;

/// The unit an entity belongs to, from its defining event.
pub(crate) fn body_unit(body: &EventBody) -> Option<&str> {
    match body {
        EventBody::IndicatorDefined { spec } | EventBody::IndicatorAmended { spec, .. } => {
            Some(spec.unit.as_str())
        }
        EventBody::ActionDefined { spec } => Some(spec.unit.as_str()),
        EventBody::RiskRegistered { spec } => Some(spec.unit.as_str()),
        EventBody::RevenueLineDefined { spec } | EventBody::CapitalLineDefined { spec } => {
            Some(spec.unit.as_str())
        }
        EventBody::SavingProposed { spec } => Some(spec.unit.as_str()),
        _ => None,
    }
}

/// Natural key ([`EventBody::natural_key`], the domain's one naming rule)
/// and further names an entity can be found by.
pub(super) fn body_names(body: &EventBody) -> Option<(String, Vec<String>)> {
    let key = body.natural_key()?;
    let n = |s: &str| normalise_key(s);
    let aliases = match body {
        EventBody::IndicatorDefined { spec } | EventBody::IndicatorAmended { spec, .. } => {
            let mut aliases = vec![n(spec.title.as_str())];
            if let Some(r) = &spec.reference {
                aliases.push(n(r.as_str()));
            }
            aliases
        }
        EventBody::ActionDefined { spec } => vec![n(spec.reference.as_str())],
        EventBody::RiskRegistered { spec } => {
            vec![n(spec.risk_id.as_str()), n(spec.title.as_str())]
        }
        EventBody::RevenueLineDefined { spec } | EventBody::CapitalLineDefined { spec } => {
            vec![n(spec.name.as_str())]
        }
        EventBody::SavingProposed { spec } => vec![n(spec.reference.as_str())],
        EventBody::UnitDefined { spec } | EventBody::CommitteeDefined { spec } => {
            vec![n(spec.name.as_str())]
        }
        EventBody::CommitteeDashboardSealed { seal }
        | EventBody::CommitteePackSealed { seal, .. } => vec![n(seal.seal_id.as_str())],
        EventBody::ToleranceSchemeAdopted { .. }
        | EventBody::PeriodClosed { .. }
        | EventBody::DashboardSealed { .. } => vec![],
        // No natural key: returned above.
        EventBody::IndicatorRetired { .. }
        | EventBody::TargetSet { .. }
        | EventBody::TargetRevised { .. }
        | EventBody::ResultRecorded { .. }
        | EventBody::ResultRestated { .. }
        | EventBody::ActionStatusReported { .. }
        | EventBody::RiskAssessed { .. }
        | EventBody::RiskClosed { .. }
        | EventBody::BudgetSet { .. }
        | EventBody::BudgetRevised { .. }
        | EventBody::RevenueForecastSubmitted { .. }
        | EventBody::CapitalBudgetSet { .. }
        | EventBody::CapitalForecastSubmitted { .. }
        | EventBody::SavingDeliveryReported { .. }
        | EventBody::PostCloseRestatement { .. } => vec![],
    };
    Some((key, aliases))
}

/// Where an event's figure is kept: (field, period, tenant-wide copy?).
pub(super) fn fact_slot(body: &EventBody) -> Option<(u8, Option<perfledger_domain::Period>, bool)> {
    use perfledger_domain::Period;
    Some(match body {
        EventBody::IndicatorDefined { .. }
        | EventBody::IndicatorAmended { .. }
        | EventBody::ActionDefined { .. }
        | EventBody::RiskRegistered { .. }
        | EventBody::RevenueLineDefined { .. }
        | EventBody::CapitalLineDefined { .. }
        | EventBody::SavingProposed { .. }
        | EventBody::UnitDefined { .. }
        | EventBody::CommitteeDefined { .. } => (field::SPEC, None, false),
        EventBody::IndicatorRetired { .. } | EventBody::RiskClosed { .. } => {
            (field::STATUS, None, false)
        }
        EventBody::TargetSet { period, .. } | EventBody::TargetRevised { period, .. } => {
            (field::TARGET, Some(*period), false)
        }
        EventBody::ResultRecorded { period, .. } | EventBody::ResultRestated { period, .. } => {
            (field::RESULT, Some(*period), false)
        }
        EventBody::ActionStatusReported { period, .. } => {
            (field::ACTION_STATUS, Some(*period), false)
        }
        EventBody::RiskAssessed { period, .. } => (field::ASSESSMENT, Some(*period), false),
        EventBody::BudgetSet { year, .. }
        | EventBody::BudgetRevised { year, .. }
        | EventBody::CapitalBudgetSet { year, .. } => {
            (field::BUDGET, Some(Period::Year(*year)), false)
        }
        EventBody::RevenueForecastSubmitted { period, .. }
        | EventBody::CapitalForecastSubmitted { period, .. } => {
            (field::FORECAST, Some(*period), false)
        }
        EventBody::SavingDeliveryReported { period, .. } => (field::DELIVERY, Some(*period), false),
        EventBody::ToleranceSchemeAdopted { effective_from, .. } => {
            (field::SCHEME, Some(Period::Year(*effective_from)), true)
        }
        EventBody::PeriodClosed { period } => (field::CLOSED, Some(*period), true),
        EventBody::DashboardSealed { .. }
        | EventBody::CommitteeDashboardSealed { .. }
        | EventBody::CommitteePackSealed { .. }
        | EventBody::PostCloseRestatement { .. } => (field::EVENT, None, false),
    })
}
