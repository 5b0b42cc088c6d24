//! Revenue, capital and savings of a period: the year's budget and the
//! latest forecast (or delivery report) of the period's financial year up
//! to the period, carried forward when the period has none, as of S.

use std::collections::BTreeMap;

use perfledger_domain::budget::{CapitalFigures, RevenueFigures};
use perfledger_domain::dashboard::SavingLine;
use perfledger_domain::event::EventBody;
use perfledger_domain::period::Period;
use perfledger_domain::{EntityKind, Fixed};
use perfledger_log::Seq;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{fy_start_month, R};
use crate::fact_roll::{Gather, Rolled, ScopeMembers};
use crate::keys::field;
use crate::store::FactRecord;
use crate::{AsOf, ReadModel};

/// A revenue line for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueRow {
    /// Line.
    pub line: String,
    /// Unit.
    pub unit: String,
    /// Figures.
    pub figures: RevenueFigures,
    /// Variation.
    pub variation: Fixed,
    /// % of revised budget, 1dp.
    pub variation_percent_1dp: Option<Fixed>,
    /// The period of the forecast shown: the requested period, or an
    /// earlier one of the same financial year carried forward (label it
    /// "forecast as at …"); None when no forecast was submitted (the
    /// revised budget stands in for it).
    pub forecast_period: Option<Period>,
}

/// A capital line for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapitalRow {
    /// Line.
    pub line: String,
    /// Unit.
    pub unit: String,
    /// Figures.
    pub figures: CapitalFigures,
    /// Proposed = approved + additions + slippage.
    pub proposed: Fixed,
    /// Variance from approved.
    pub variance: Fixed,
    /// % slippage, whole.
    pub slippage_percent: Option<Fixed>,
    /// The period of the forecast shown (as for [`RevenueRow::forecast_period`]).
    pub forecast_period: Option<Period>,
}

/// A saving for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavingRow {
    /// Reference.
    pub reference: String,
    /// Unit.
    pub unit: String,
    /// Description.
    pub description: String,
    /// Target and achieved.
    pub line: SavingLine,
    /// Achieved % of target, 1dp.
    pub achieved_percent_1dp: Option<Fixed>,
    /// The period of the delivery report shown (earlier than the requested
    /// period when carried forward); None when none was reported.
    pub reported_period: Option<Period>,
}

/// Revenue, capital and savings with totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinanceView {
    /// Sequence.
    pub as_of: Seq,
    /// Unit (None = council).
    pub unit: Option<String>,
    /// Period.
    pub period: Period,
    /// Revenue lines.
    pub revenue: Vec<RevenueRow>,
    /// Revenue total.
    pub revenue_total: RevenueFigures,
    /// Capital lines.
    pub capital: Vec<CapitalRow>,
    /// Capital total.
    pub capital_total: CapitalFigures,
    /// Savings.
    pub savings: Vec<SavingRow>,
    /// Savings total target.
    pub savings_target: Fixed,
    /// Savings total achieved.
    pub savings_achieved: Fixed,
}

impl FinanceView {
    /// No revenue, capital or savings line has anything for the period's
    /// financial year (the totals are zeros of nothing, not zero figures).
    pub fn is_empty(&self) -> bool {
        self.revenue.is_empty() && self.capital.is_empty() && self.savings.is_empty()
    }

    /// Earlier periods whose forecasts or delivery reports are shown for
    /// this one (carried forward), chronologically.
    pub fn carried_forward(&self) -> Vec<Period> {
        let mut out: BTreeMap<(i64, i64), Period> = BTreeMap::new();
        let rows = self
            .revenue
            .iter()
            .map(|r| r.forecast_period)
            .chain(self.capital.iter().map(|r| r.forecast_period))
            .chain(self.savings.iter().map(|r| r.reported_period));
        for p in rows.flatten().filter(|p| *p != self.period) {
            out.insert(p.sort_key(), p);
        }
        out.into_values().collect()
    }
}

/// Where one finance row was read from: the definition in force, the
/// year's budget (none for savings) and the latest forecast or delivery
/// report shown (the record itself: the pack prints its comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineProvenance {
    pub spec: Seq,
    pub budget: Option<Seq>,
    pub latest: Option<FactRecord>,
}

/// The provenance of each row of a [`FinanceView`], in the view's row order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FinanceProvenance {
    pub revenue: Vec<LineProvenance>,
    pub capital: Vec<LineProvenance>,
    pub savings: Vec<LineProvenance>,
}

/// Sort rows and their provenance together (a stable sort by the row key,
/// so the rows come out exactly as sorting them alone would give).
fn sorted<T>(
    mut rows: Vec<(T, LineProvenance)>,
    order: impl Fn(&T, &T) -> std::cmp::Ordering,
) -> (Vec<T>, Vec<LineProvenance>) {
    rows.sort_by(|a, b| order(&a.0, &b.0));
    rows.into_iter().unzip()
}

/// Where a finance view reads each line's facts: its definition, its
/// year's budget (lines with one) and its latest forecast or delivery
/// report of the financial year up to the period; from each line's slots,
/// or for a large scope from the rolls of all lines of the kind
/// ([`crate::fact_roll`]), which hold the same records.
struct LineFacts<'a> {
    rm: &'a ReadModel,
    latest_field: u8,
    year: Period,
    min_start: u32,
    period: Period,
    s: Seq,
    /// The spec, budget and latest rolls, when gathered rolled.
    rolled: Option<(Rolled, Option<Rolled>, Rolled)>,
}

impl<'a> LineFacts<'a> {
    /// The facts of `members` lines of `kind` (`budget`: whether the kind
    /// has a year budget) for the period as of s.
    /// The scope's lines of `kind` (`budget`: whether the kind has a year
    /// budget) and where their facts for the period are read as of s.
    #[allow(clippy::too_many_arguments)]
    fn scoped(
        rm: &'a ReadModel,
        unit: Option<&str>,
        kind: EntityKind,
        budget: bool,
        latest_field: u8,
        period: Period,
        s: Seq,
        gather: Option<Gather>,
    ) -> R<(Vec<Uuid>, Self)> {
        let ScopeMembers { ids, gather, specs } = rm.scope_members(unit, kind, s, gather)?;
        let fy = period.financial_year();
        let (year, min_start) = (Period::Year(fy), fy_start_month(fy));
        let rolled = match gather {
            Gather::ByEntity => None,
            Gather::Rolled => Some((
                match specs {
                    Some(specs) => specs,
                    None => rm.fact_roll(kind, field::SPEC, None, s)?,
                },
                match budget {
                    true => Some(rm.fact_roll(kind, field::BUDGET, Some(year), s)?),
                    false => None,
                },
                rm.fact_roll_latest_upto(
                    kind,
                    latest_field,
                    min_start,
                    Some(min_start),
                    period,
                    s,
                )?,
            )),
        };
        let facts = LineFacts {
            rm,
            latest_field,
            year,
            min_start,
            period,
            s,
            rolled,
        };
        Ok((ids, facts))
    }

    fn spec(&self, id: Uuid) -> R<Option<FactRecord>> {
        match &self.rolled {
            Some((spec, _, _)) => spec.fact(&id),
            None => self.rm.fact_at(id, field::SPEC, None, self.s),
        }
    }

    fn budget(&self, id: Uuid) -> R<Option<FactRecord>> {
        match &self.rolled {
            Some((_, Some(budget), _)) => budget.fact(&id),
            Some((_, None, _)) => Ok(None),
            None => self.rm.fact_at(id, field::BUDGET, Some(self.year), self.s),
        }
    }

    fn latest(&self, id: Uuid) -> R<Option<FactRecord>> {
        match &self.rolled {
            Some((_, _, latest)) => latest.fact(&id),
            None => self.rm.fact_latest_upto(
                id,
                self.latest_field,
                Some(self.min_start),
                Some(self.period),
                self.s,
            ),
        }
    }
}

impl ReadModel {
    pub(super) fn finance_at(&self, unit: Option<&str>, period: Period, s: Seq) -> R<FinanceView> {
        Ok(self.finance_facts(unit, period, s)?.0)
    }

    /// The finance view as of s with each row's provenance.
    pub(crate) fn finance_facts(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
    ) -> R<(FinanceView, FinanceProvenance)> {
        self.finance_facts_gathered(unit, period, s, None)
    }

    /// [`ReadModel::finance_facts`], gathered one way (None: the cheaper
    /// for each kind's scope, [`ReadModel::scope_members`]).
    pub(crate) fn finance_facts_gathered(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
        gather: Option<Gather>,
    ) -> R<(FinanceView, FinanceProvenance)> {
        let (revenue, revenue_prov) =
            sorted(self.revenue_rows(unit, period, s, gather)?, |a, b| {
                (&a.unit, &a.line).cmp(&(&b.unit, &b.line))
            });
        let (capital, capital_prov) =
            sorted(self.capital_rows(unit, period, s, gather)?, |a, b| {
                (&a.unit, &a.line).cmp(&(&b.unit, &b.line))
            });
        let (savings, savings_prov) = sorted(self.saving_rows(unit, period, s, gather)?, |a, b| {
            (&a.unit, &a.reference).cmp(&(&b.unit, &b.reference))
        });
        let revenue_total = RevenueFigures::total(revenue.iter().map(|r| &r.figures))?;
        let capital_total = CapitalFigures::total(capital.iter().map(|r| &r.figures))?;
        let savings_target = Fixed::sum(savings.iter().map(|r| r.line.target))?;
        let savings_achieved = Fixed::sum(savings.iter().map(|r| r.line.achieved))?;
        let view = FinanceView {
            as_of: s,
            unit: match unit {
                Some(u) => Some(self.unit_name(u, s)?),
                None => None,
            },
            period,
            revenue,
            revenue_total,
            capital,
            capital_total,
            savings,
            savings_target,
            savings_achieved,
        };
        let provenance = FinanceProvenance {
            revenue: revenue_prov,
            capital: capital_prov,
            savings: savings_prov,
        };
        Ok((view, provenance))
    }

    /// Revenue lines with a budget for the year or a forecast in it, by unit and line.
    fn revenue_rows(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
        gather: Option<Gather>,
    ) -> R<Vec<(RevenueRow, LineProvenance)>> {
        let (ids, facts) = LineFacts::scoped(
            self,
            unit,
            EntityKind::RevenueLine,
            true,
            field::FORECAST,
            period,
            s,
            gather,
        )?;
        let mut revenue = Vec::new();
        for id in ids {
            let Some(FactRecord {
                body: EventBody::RevenueLineDefined { spec },
                seq: spec_seq,
                ..
            }) = facts.spec(id)?
            else {
                continue;
            };
            let budget_record = facts.budget(id)?;
            let latest = facts.latest(id)?;
            let budget = match &budget_record {
                Some(FactRecord {
                    body:
                        EventBody::BudgetSet {
                            original, revised, ..
                        }
                        | EventBody::BudgetRevised {
                            original, revised, ..
                        },
                    ..
                }) => Some((*original, *revised)),
                _ => None,
            };
            let (forecast, forecast_period) = match &latest {
                Some(FactRecord {
                    body: EventBody::RevenueForecastSubmitted { forecast, .. },
                    period: fp,
                    ..
                }) => (Some(*forecast), *fp),
                _ => (None, None),
            };
            if budget.is_none() && forecast.is_none() {
                continue;
            }
            let (original, revised) = budget.unwrap_or((Fixed::ZERO, Fixed::ZERO));
            let figures = RevenueFigures {
                original,
                revised,
                forecast: forecast.unwrap_or(revised),
            };
            let row = RevenueRow {
                line: spec.name.to_string(),
                unit: spec.unit.to_string(),
                variation: figures.variation()?,
                variation_percent_1dp: figures.variation_percent_1dp()?,
                figures,
                forecast_period,
            };
            let provenance = LineProvenance {
                spec: spec_seq,
                budget: budget_record.map(|b| b.seq),
                latest,
            };
            revenue.push((row, provenance));
        }
        Ok(revenue)
    }

    /// Capital lines with an approved budget for the year or a forecast in it, by unit and line.
    fn capital_rows(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
        gather: Option<Gather>,
    ) -> R<Vec<(CapitalRow, LineProvenance)>> {
        let (ids, facts) = LineFacts::scoped(
            self,
            unit,
            EntityKind::CapitalLine,
            true,
            field::FORECAST,
            period,
            s,
            gather,
        )?;
        let mut capital = Vec::new();
        for id in ids {
            let Some(FactRecord {
                body: EventBody::CapitalLineDefined { spec },
                seq: spec_seq,
                ..
            }) = facts.spec(id)?
            else {
                continue;
            };
            let budget_record = facts.budget(id)?;
            let latest = facts.latest(id)?;
            let approved = match &budget_record {
                Some(FactRecord {
                    body: EventBody::CapitalBudgetSet { approved, .. },
                    ..
                }) => Some(*approved),
                _ => None,
            };
            let (fc, forecast_period) = match &latest {
                Some(FactRecord {
                    body:
                        EventBody::CapitalForecastSubmitted {
                            additions,
                            slippage,
                            forecast,
                            ..
                        },
                    period: fp,
                    ..
                }) => (Some((*additions, *slippage, *forecast)), *fp),
                _ => (None, None),
            };
            if approved.is_none() && fc.is_none() {
                continue;
            }
            let approved = approved.unwrap_or(Fixed::ZERO);
            let (additions, slippage, forecast) =
                fc.unwrap_or((Fixed::ZERO, Fixed::ZERO, approved));
            let figures = CapitalFigures {
                approved,
                additions,
                slippage,
                forecast,
            };
            let row = CapitalRow {
                line: spec.name.to_string(),
                unit: spec.unit.to_string(),
                proposed: figures.proposed()?,
                variance: figures.variance()?,
                slippage_percent: figures.slippage_percent_whole(),
                figures,
                forecast_period,
            };
            let provenance = LineProvenance {
                spec: spec_seq,
                budget: budget_record.map(|b| b.seq),
                latest,
            };
            capital.push((row, provenance));
        }
        Ok(capital)
    }

    /// Savings with a target for the year, by unit and reference.
    fn saving_rows(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
        gather: Option<Gather>,
    ) -> R<Vec<(SavingRow, LineProvenance)>> {
        let fy = period.financial_year();
        let (ids, facts) = LineFacts::scoped(
            self,
            unit,
            EntityKind::Saving,
            false,
            field::DELIVERY,
            period,
            s,
            gather,
        )?;
        let mut savings = Vec::new();
        for id in ids {
            let Some(FactRecord {
                body: EventBody::SavingProposed { spec },
                seq: spec_seq,
                ..
            }) = facts.spec(id)?
            else {
                continue;
            };
            let Some(target) = spec.target_for(fy) else {
                continue;
            };
            let latest = facts.latest(id)?;
            let (achieved, reported_period) = match &latest {
                Some(FactRecord {
                    body: EventBody::SavingDeliveryReported { achieved, .. },
                    period: rp,
                    ..
                }) => (*achieved, *rp),
                _ => (Fixed::ZERO, None),
            };
            let row = SavingRow {
                reference: spec.reference.to_string(),
                unit: spec.unit.to_string(),
                description: spec.description.to_string(),
                line: SavingLine { target, achieved },
                achieved_percent_1dp: perfledger_domain::saving::achieved_percent_1dp(
                    achieved, target,
                ),
                reported_period,
            };
            let provenance = LineProvenance {
                spec: spec_seq,
                budget: None,
                latest,
            };
            savings.push((row, provenance));
        }
        Ok(savings)
    }

    /// Revenue, capital and savings per line with totals for a period (the
    /// latest forecast of the period's financial year up to the period).
    pub fn finance(&self, unit: Option<&str>, period: Period, at: AsOf) -> R<FinanceView> {
        let s = self.resolve(at)?;
        self.check_unit(unit, s)?;
        self.finance_at(unit, period, s)
    }
}
