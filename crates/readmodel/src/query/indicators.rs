//! The indicator views: one row per period with a target or result (the
//! target in force, the result, its RAG and directions of travel), the
//! indicator's history, and the listing. The line's rule (target choice,
//! rating, long-term direction) is the domain's, written once in
//! [`perfledger_domain::dashboard::line_of`] and
//! [`perfledger_domain::dashboard::target_periods`]; the aggregate replay
//! ([`perfledger_domain::dashboard::indicator_line`]) calls the same.

use std::collections::BTreeMap;

use perfledger_domain::dashboard::{self, IndicatorLine};
use perfledger_domain::direction::{
    direction_of_results, long_term_period, short_term_period, Direction,
};
use perfledger_domain::event::{EventBody, ResultEntry};
use perfledger_domain::ids::normalise_key;
use perfledger_domain::indicator::{IndicatorSpec, IndicatorType, Target};
use perfledger_domain::period::{FinancialYear, Period};
use perfledger_domain::rag::{Rag, ToleranceScheme};
use perfledger_domain::EntityKind;
use perfledger_log::Seq;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::R;
use crate::fact_roll::{Gather, ScopeMembers};
use crate::keys::{self, field};
use crate::store::FactRecord;
use crate::{render, AsOf, AuditEntry, ReadModel};

/// One period of an indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorRow {
    /// Period.
    pub period: Period,
    /// Target in force (period target, else the year's).
    pub target: Option<Target>,
    /// Target as printed.
    pub target_text: Option<String>,
    /// Result.
    pub result: Option<ResultEntry>,
    /// Result as printed.
    pub result_text: Option<String>,
    /// Restatements of the result so far.
    pub restatements: u32,
    /// RAG under the scheme in force for the period's year (as known then).
    pub rag: Option<Rag>,
    /// Short-term direction of travel.
    pub direction_short: Option<Direction>,
    /// Long-term direction of travel.
    pub direction_long: Option<Direction>,
    /// Commentary.
    pub commentary: Option<String>,
}

/// An indicator's state and history as of a position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorView {
    /// Sequence.
    pub as_of: Seq,
    /// Entity id.
    pub entity: Uuid,
    /// Natural key.
    pub natural_key: String,
    /// Definition.
    pub spec: Option<IndicatorSpec>,
    /// Retired.
    pub retired: bool,
    /// Periods with a target or result, chronologically.
    pub rows: Vec<IndicatorRow>,
    /// Every event, in log order.
    pub audit: Vec<AuditEntry>,
}

/// Indicator listing entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorSummary {
    /// Entity id.
    pub entity: Uuid,
    /// Natural key.
    pub natural_key: String,
    /// Reference.
    pub reference: Option<String>,
    /// Title.
    pub title: String,
    /// Unit.
    pub unit: String,
    /// Type.
    pub indicator_type: IndicatorType,
    /// Retired.
    pub retired: bool,
}

/// The result an event of a result slot carries.
pub(super) fn result_entry(body: EventBody) -> Option<ResultEntry> {
    match body {
        EventBody::ResultRecorded { entry, .. } | EventBody::ResultRestated { entry, .. } => {
            Some(entry)
        }
        _ => None,
    }
}

/// The definition an event of a definition slot carries.
pub(super) fn indicator_spec(body: EventBody) -> Option<IndicatorSpec> {
    match body {
        EventBody::IndicatorDefined { spec } | EventBody::IndicatorAmended { spec, .. } => {
            Some(spec)
        }
        _ => None,
    }
}

/// The target an event of a target slot carries.
fn target_of(body: EventBody) -> Option<Target> {
    match body {
        EventBody::TargetSet { target, .. } | EventBody::TargetRevised { target, .. } => {
            Some(target)
        }
        _ => None,
    }
}

impl ReadModel {
    /// The dashboard lines of the scope's indicators that report for the
    /// period, as known at s, in entity order.
    pub(super) fn indicator_lines(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
        schemes: &BTreeMap<FinancialYear, ToleranceScheme>,
    ) -> R<Vec<IndicatorLine>> {
        self.indicator_lines_gathered(unit, period, s, schemes, None)
    }

    /// [`ReadModel::indicator_lines`], gathered one way (None: the cheaper
    /// for the scope, [`ReadModel::scope_members`]).
    pub(crate) fn indicator_lines_gathered(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
        schemes: &BTreeMap<FinancialYear, ToleranceScheme>,
        gather: Option<Gather>,
    ) -> R<Vec<IndicatorLine>> {
        let scope = self.scope_members(unit, EntityKind::Indicator, s, gather)?;
        match scope.gather {
            Gather::ByEntity => {
                let mut lines = Vec::new();
                for &id in &scope.ids {
                    // Most indicators have no result for a given period: look that up first.
                    let Some(result) = self.fact_at(id, field::RESULT, Some(period), s)? else {
                        continue;
                    };
                    let Some(spec) = self.spec_at(id, s)?.and_then(indicator_spec) else {
                        continue;
                    };
                    let Some(entry) = result_entry(result.body) else {
                        continue;
                    };
                    let target = self.target_in_force(id, period, s)?;
                    lines.push(self.indicator_line(
                        id,
                        &spec,
                        period,
                        s,
                        schemes,
                        target.as_ref(),
                        &entry,
                    )?);
                }
                Ok(lines)
            }
            Gather::Rolled => self.indicator_lines_rolled(scope, period, s, schemes),
        }
    }

    /// The lines from the period's rolls: its results, last year's (the
    /// long-term direction), the targets where the domain looks for them
    /// and the definitions; the same facts [`ReadModel::indicator_line`]
    /// reads from each indicator's slots, fed to the same rule.
    fn indicator_lines_rolled(
        &self,
        scope: ScopeMembers,
        period: Period,
        s: Seq,
        schemes: &BTreeMap<FinancialYear, ToleranceScheme>,
    ) -> R<Vec<IndicatorLine>> {
        let roll = |fld, p| self.fact_roll(EntityKind::Indicator, fld, p, s);
        let results = roll(field::RESULT, Some(period))?;
        if results.is_empty() {
            return Ok(Vec::new());
        }
        let specs = match scope.specs {
            Some(specs) => specs,
            None => roll(field::SPEC, None)?,
        };
        let last_year = match long_term_period(period) {
            Some(p) => Some(roll(field::RESULT, Some(p))?),
            None => None,
        };
        let targets = dashboard::target_periods(period)
            .into_iter()
            .map(|p| roll(field::TARGET, Some(p)))
            .collect::<R<Vec<_>>>()?;
        let mut lines = Vec::new();
        for id in &scope.ids {
            let Some(result) = results.fact(id)? else {
                continue;
            };
            let Some(spec) = specs.fact(id)?.and_then(|f| indicator_spec(f.body)) else {
                continue;
            };
            let Some(entry) = result_entry(result.body) else {
                continue;
            };
            let mut target = None;
            for t in &targets {
                target = t.fact(id)?.and_then(|f| target_of(f.body));
                if target.is_some() {
                    break;
                }
            }
            let previous = match &last_year {
                Some(r) => r.fact(id)?.and_then(|f| result_entry(f.body)),
                None => None,
            };
            lines.push(dashboard::line_of(
                &spec,
                schemes,
                period,
                target.as_ref(),
                &entry.result,
                previous.as_ref().map(|x| &x.result),
            ));
        }
        Ok(lines)
    }

    /// The row of one period as known at s: the target in force, the
    /// result (`result`, the period's result fact if the caller has read it
    /// already) and its dashboard line by the domain's rule
    /// ([`dashboard::line_of`]: RAG, long-term direction); with `detail`
    /// also the short-term direction and the number of restatements.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn indicator_row(
        &self,
        entity: Uuid,
        spec: &IndicatorSpec,
        period: Period,
        s: Seq,
        schemes: &BTreeMap<FinancialYear, ToleranceScheme>,
        result: Option<FactRecord>,
        detail: bool,
    ) -> R<IndicatorRow> {
        let entry = result.and_then(|f| result_entry(f.body));
        let target = self.target_in_force(entity, period, s)?;
        let mut restatements = 0u32;
        let mut rag = None;
        let mut direction_short = None;
        let mut direction_long = None;
        if let Some(e) = &entry {
            let line = self.indicator_line(entity, spec, period, s, schemes, target.as_ref(), e)?;
            rag = line.rag;
            direction_long = line.direction;
            if detail {
                let prev_short =
                    self.result_in(entity, short_term_period(spec.comparison, period), s)?;
                direction_short = direction_of_results(
                    spec.polarity,
                    &e.result,
                    prev_short.as_ref().map(|x| &x.result),
                );
                restatements = self.restatements(entity, period, s)?;
            }
        }
        Ok(IndicatorRow {
            period,
            target_text: target.as_ref().map(render::target),
            target,
            result_text: entry.as_ref().map(|e| render::result(&e.result)),
            commentary: entry
                .as_ref()
                .and_then(|e| e.commentary.as_ref().map(|c| c.to_string())),
            result: entry,
            restatements,
            rag,
            direction_short,
            direction_long,
        })
    }

    /// The dashboard line of a period's result `entry` as known at s: the
    /// domain's rule, fed the target in force and last year's result.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn indicator_line(
        &self,
        entity: Uuid,
        spec: &IndicatorSpec,
        period: Period,
        s: Seq,
        schemes: &BTreeMap<FinancialYear, ToleranceScheme>,
        target: Option<&Target>,
        entry: &ResultEntry,
    ) -> R<IndicatorLine> {
        let previous = self.result_in(entity, long_term_period(period), s)?;
        Ok(dashboard::line_of(
            spec,
            schemes,
            period,
            target,
            &entry.result,
            previous.as_ref().map(|x| &x.result),
        ))
    }

    /// The target in force for `period` as known at s, looked for where the
    /// domain says ([`dashboard::target_periods`]).
    pub(super) fn target_in_force(
        &self,
        entity: Uuid,
        period: Period,
        s: Seq,
    ) -> R<Option<Target>> {
        for p in dashboard::target_periods(period) {
            let fact = self.fact_at(entity, field::TARGET, Some(p), s)?;
            if let Some(target) = fact.and_then(|f| target_of(f.body)) {
                return Ok(Some(target));
            }
        }
        Ok(None)
    }

    /// The result of period `p` (None: no such period) as known at s.
    fn result_in(&self, entity: Uuid, p: Option<Period>, s: Seq) -> R<Option<ResultEntry>> {
        let Some(p) = p else { return Ok(None) };
        Ok(self
            .fact_at(entity, field::RESULT, Some(p), s)?
            .and_then(|f| result_entry(f.body)))
    }

    /// How many times the period's result was restated, as known at s.
    fn restatements(&self, entity: Uuid, period: Period, s: Seq) -> R<u32> {
        let mut n = 0u32;
        for f in self.fact_history(entity, field::RESULT, Some(period), s)? {
            if matches!(f.body, EventBody::ResultRestated { .. }) {
                n = n.saturating_add(1);
            }
        }
        Ok(n)
    }

    /// An indicator's state and history as of a position.
    pub fn indicator(&self, key: &str, at: AsOf) -> R<IndicatorView> {
        let s = self.resolve(at)?;
        let id = self.find_at(EntityKind::Indicator, key, s)?;
        let spec = self.spec_at(id, s)?.and_then(indicator_spec);
        let schemes = self.schemes_at(s)?;
        let mut periods: BTreeMap<[u8; 8], Period> = BTreeMap::new();
        for fld in [field::TARGET, field::RESULT] {
            for f in self.fact_versions(id, fld, s)? {
                if let Some(p) = f.period {
                    periods.insert(keys::period_bytes(p), p);
                }
            }
        }
        let mut rows = Vec::new();
        if let Some(spec) = &spec {
            for p in periods.values() {
                let result = self.fact_at(id, field::RESULT, Some(*p), s)?;
                rows.push(self.indicator_row(id, spec, *p, s, &schemes, result, true)?);
            }
        }
        let natural_key = self.natural_key(id)?;
        Ok(IndicatorView {
            as_of: s,
            entity: id,
            natural_key,
            retired: self.ended_at(id, s)?,
            spec,
            rows,
            audit: self.audit_at(id, s)?,
        })
    }

    /// Indicators of a unit (None = all) as of a position, by natural key.
    pub fn indicators(&self, unit: Option<&str>, at: AsOf) -> R<Vec<IndicatorSummary>> {
        let s = self.resolve(at)?;
        self.check_unit(unit, s)?;
        let mut out = Vec::new();
        for id in self.members(unit, EntityKind::Indicator, s)? {
            if let Some(
                EventBody::IndicatorDefined { spec } | EventBody::IndicatorAmended { spec, .. },
            ) = self.spec_at(id, s)?
            {
                out.push(IndicatorSummary {
                    entity: id,
                    natural_key: spec.natural_key().to_string(),
                    reference: spec.reference.as_ref().map(|r| r.to_string()),
                    title: spec.title.to_string(),
                    unit: spec.unit.to_string(),
                    indicator_type: spec.indicator_type,
                    retired: self.ended_at(id, s)?,
                });
            }
        }
        out.sort_by(|a, b| {
            normalise_key(&a.natural_key)
                .cmp(&normalise_key(&b.natural_key))
                .then(a.entity.cmp(&b.entity))
        });
        Ok(out)
    }
}
