//! The dashboard: gathered as of S in ONE place ([`ReadModel::dashboard_inputs`]
//! is used by the current view, as-of views, seals and verification alike)
//! and computed by the domain's [`perfledger_domain::dashboard::compute`].
//!
//! The committee pack reads every fact the dashboard counts for its own
//! rows (the same indicator lines, action statuses, risk assessments and
//! finance view); it assembles the dashboard from those
//! ([`ReadModel::assemble_inputs`], [`view_of`]) rather than reading them
//! twice, so both paths meet here and a pack's dashboard digest is the
//! dashboard's by construction.

use perfledger_domain::action::ActionStatus;
use perfledger_domain::dashboard::{self, compute, Dashboard, DashboardInputs, IndicatorLine};
use perfledger_domain::period::Period;
use perfledger_domain::risk::Assessment;
use perfledger_domain::Text;
use perfledger_log::Seq;
use serde::{Deserialize, Serialize};

use super::{FinanceView, R};
use crate::{AsOf, ReadModel, ReadModelError};

/// A dashboard as of a position, with its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardView {
    /// The sequence it was computed at.
    pub as_of: Seq,
    /// SHA-256 hex of the dashboard's canonical bytes.
    pub digest: String,
    /// The dashboard.
    pub dashboard: Dashboard,
    /// Nothing was reported for the scope and period as of this position:
    /// no indicator result, key-action status, revenue, capital or savings
    /// figure, HR or customer figure. The dashboard then shows zeros (and
    /// the latest risk assessments, which carry forward); every surface
    /// says "no data" instead of letting the zeros pass for figures.
    #[serde(default)]
    pub no_data: bool,
}

impl DashboardView {
    /// Canonical bytes of the dashboard (what seals pin).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        dashboard::canonical_bytes(&self.dashboard)
    }
}

impl ReadModel {
    /// The inputs of a dashboard as of s: the ONE place dashboards are
    /// gathered (current, as-of, seals and verification all come here).
    pub(super) fn dashboard_inputs(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
    ) -> R<DashboardInputs> {
        let schemes = self.schemes_at(s)?;
        let indicators = self.indicator_lines(unit, period, s, &schemes)?;
        let actions = self.action_statuses(unit, period, s)?;
        let risks = self
            .risk_rows(unit, Some(period), s)?
            .into_iter()
            .filter(|r| !r.closed)
            .filter_map(|r| r.current)
            .collect();
        let fin = self.finance_at(unit, period, s)?;
        self.assemble_inputs(
            unit,
            period,
            s,
            Counted {
                indicators,
                actions,
                risks,
            },
            &fin,
        )
    }

    /// The inputs of a dashboard from what it counts: the lines, statuses
    /// and assessments gathered as [`ReadModel::dashboard_inputs`] gathers
    /// them, and the scope's finance view.
    pub(crate) fn assemble_inputs(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
        counted: Counted,
        fin: &FinanceView,
    ) -> R<DashboardInputs> {
        Ok(DashboardInputs {
            unit: match unit {
                Some(u) => Some(
                    Text::new("unit", &self.unit_name(u, s)?).map_err(ReadModelError::Domain)?,
                ),
                None => None,
            },
            period,
            revenue: fin.revenue.iter().map(|r| r.figures).collect(),
            capital: fin.capital.iter().map(|r| r.figures).collect(),
            savings: fin.savings.iter().map(|r| r.line).collect(),
            indicators: counted.indicators,
            actions: counted.actions,
            risks: counted.risks,
            // No event carries HR or customer-experience figures yet.
            hr: None,
            customer: Vec::new(),
        })
    }

    /// The dashboard of a unit (None = council-wide) for a period, as of a position.
    /// An unknown unit is `NotFound`.
    pub fn dashboard(&self, unit: Option<&str>, period: Period, at: AsOf) -> R<DashboardView> {
        let s = self.resolve(at)?;
        self.check_unit(unit, s)?;
        self.dashboard_at(unit, period, s)
    }

    pub(super) fn dashboard_at(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
    ) -> R<DashboardView> {
        let inputs = self.dashboard_inputs(unit, period, s)?;
        view_of(&inputs, s)
    }

    /// The inputs the dashboard is computed from (for inspection and tests).
    pub fn dashboard_inputs_as_of(
        &self,
        unit: Option<&str>,
        period: Period,
        at: AsOf,
    ) -> R<DashboardInputs> {
        let s = self.resolve(at)?;
        self.check_unit(unit, s)?;
        self.dashboard_inputs(unit, period, s)
    }
}

/// What a dashboard counts besides finance: its indicator lines, key-action
/// statuses and open risks' current assessments.
pub(crate) struct Counted {
    /// One line per indicator reporting for the period.
    pub indicators: Vec<IndicatorLine>,
    /// Statuses reported for the period.
    pub actions: Vec<ActionStatus>,
    /// Current assessments of open risks.
    pub risks: Vec<Assessment>,
}

/// The dashboard computed from its inputs, as of s.
pub(crate) fn view_of(inputs: &DashboardInputs, s: Seq) -> R<DashboardView> {
    let d = compute(inputs)?;
    let no_data = inputs.revenue.is_empty()
        && inputs.capital.is_empty()
        && inputs.savings.is_empty()
        && inputs.indicators.is_empty()
        && inputs.actions.is_empty()
        && inputs.hr.is_none()
        && inputs.customer.is_empty();
    Ok(DashboardView {
        as_of: s,
        digest: dashboard::digest_hex(&d),
        dashboard: d,
        no_data,
    })
}
