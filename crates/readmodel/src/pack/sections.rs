//! Finance, key actions and risks of a pack: the figures of
//! [`ReadModel::finance`], [`ReadModel::actions`] and the dashboard's risk
//! rows (the latest assessment up to the period), each row with the log
//! sequences of the fact versions behind it.

use perfledger_domain::event::EventBody;
use perfledger_domain::ids::composite_key;
use perfledger_domain::period::Period;
use perfledger_domain::risk::HeatMap;
use perfledger_domain::EntityKind;
use perfledger_log::Seq;
use uuid::Uuid;

use super::sources::Sources;
use super::{
    ActionLine, CapitalLine, CapitalTotal, Num, RevenueLine, RevenueTotal, RiskLine, RiskSection,
    SavingLine, SavingsTotal,
};
use crate::keys::field;
use crate::query::{fy_start_month, FinanceView};
use crate::store::FactRecord;
use crate::{AsOf, ReadModel, ReadModelError};

type R<T> = Result<T, ReadModelError>;

/// The finance sections of a pack.
pub(super) struct Finance {
    pub revenue: Vec<RevenueLine>,
    pub revenue_total: RevenueTotal,
    pub capital: Vec<CapitalLine>,
    pub capital_total: CapitalTotal,
    pub savings: Vec<SavingLine>,
    pub savings_total: SavingsTotal,
}

fn comment_of(f: Option<&FactRecord>) -> Option<String> {
    match f.map(|f| &f.body) {
        Some(
            EventBody::RevenueForecastSubmitted { comment, .. }
            | EventBody::CapitalForecastSubmitted { comment, .. },
        ) => comment.as_ref().map(|c| c.to_string()),
        _ => None,
    }
}

impl ReadModel {
    /// An entity by natural key as of s (None when it is not known then).
    fn entity_at(&self, kind: EntityKind, key: &str, s: Seq) -> R<Option<Uuid>> {
        match self.find_entity(kind, key, AsOf::Seq(s)) {
            Ok(id) => Ok(Some(id)),
            Err(ReadModelError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Definition, the year's budget and the latest forecast of the year up
    /// to the period (the versions `finance` read), with the forecast.
    fn line_facts(
        &self,
        kind: EntityKind,
        key: &str,
        period: Period,
        s: Seq,
    ) -> R<(Sources, Option<FactRecord>)> {
        let mut src = Sources::default();
        let Some(id) = self.entity_at(kind, key, s)? else {
            return Ok((src, None));
        };
        let fy = period.financial_year();
        let fld = match kind {
            EntityKind::Saving => field::DELIVERY,
            _ => field::FORECAST,
        };
        let latest = self.fact_latest_upto(id, fld, Some(fy_start_month(fy)), Some(period), s)?;
        src.fact(self.spec_record(id, s)?.as_ref())
            .fact(latest.as_ref());
        if kind != EntityKind::Saving {
            src.fact(
                self.fact_at(id, field::BUDGET, Some(Period::Year(fy)), s)?
                    .as_ref(),
            );
        }
        Ok((src, latest))
    }

    /// The pack's finance lines of `f` (the scope's finance view at s).
    pub(super) fn pack_finance(&self, f: &FinanceView, period: Period, s: Seq) -> R<Finance> {
        let mut revenue = Vec::new();
        for r in &f.revenue {
            let key = composite_key(&[&r.unit, &r.line]);
            let (src, fc) = self.line_facts(EntityKind::RevenueLine, &key, period, s)?;
            revenue.push(RevenueLine {
                unit: r.unit.clone(),
                line: r.line.clone(),
                original: Num(r.figures.original),
                revised: Num(r.figures.revised),
                forecast: Num(r.figures.forecast),
                variation: Num(r.variation),
                variation_percent_1dp: r.variation_percent_1dp.map(Num),
                comment: comment_of(fc.as_ref()),
                sources: src.list(),
            });
        }
        let t = f.revenue_total;
        let revenue_total = RevenueTotal {
            original: Num(t.original),
            revised: Num(t.revised),
            forecast: Num(t.forecast),
            variation: Num(t.variation()?),
            variation_percent_1dp: t.variation_percent_1dp()?.map(Num),
        };
        let mut capital = Vec::new();
        for r in &f.capital {
            let key = composite_key(&[&r.unit, &r.line]);
            let (src, fc) = self.line_facts(EntityKind::CapitalLine, &key, period, s)?;
            capital.push(CapitalLine {
                unit: r.unit.clone(),
                line: r.line.clone(),
                approved: Num(r.figures.approved),
                additions: Num(r.figures.additions),
                slippage: Num(r.figures.slippage),
                proposed: Num(r.proposed),
                forecast: Num(r.figures.forecast),
                variance: Num(r.variance),
                slippage_percent: r.slippage_percent.map(Num),
                comment: comment_of(fc.as_ref()),
                sources: src.list(),
            });
        }
        let c = f.capital_total;
        let capital_total = CapitalTotal {
            approved: Num(c.approved),
            additions: Num(c.additions),
            slippage: Num(c.slippage),
            proposed: Num(c.proposed()?),
            forecast: Num(c.forecast),
            variance: Num(c.variance()?),
            slippage_percent: c.slippage_percent_whole().map(Num),
        };
        let mut savings = Vec::new();
        for r in &f.savings {
            let (src, _) = self.line_facts(EntityKind::Saving, &r.reference, period, s)?;
            savings.push(SavingLine {
                unit: r.unit.clone(),
                reference: r.reference.clone(),
                description: r.description.clone(),
                target: Num(r.line.target),
                achieved: Num(r.line.achieved),
                achieved_percent_1dp: r.achieved_percent_1dp.map(Num),
                sources: src.list(),
            });
        }
        Ok(Finance {
            revenue,
            revenue_total,
            capital,
            capital_total,
            savings,
            savings_total: SavingsTotal {
                target: Num(f.savings_target),
                achieved: Num(f.savings_achieved),
            },
        })
    }

    pub(super) fn pack_actions(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
    ) -> R<Vec<ActionLine>> {
        let mut out = Vec::new();
        // The dashboard counts actions with a status for the period; an
        // action of another year (no status now) is not in this pack.
        for a in self.actions(unit, period, AsOf::Seq(s))? {
            if a.status.is_none() {
                continue;
            }
            let mut src = Sources::default();
            let key = composite_key(&[&a.unit, &a.reference]);
            if let Some(id) = self.entity_at(EntityKind::Action, &key, s)? {
                src.fact(self.spec_record(id, s)?.as_ref()).fact(
                    self.fact_at(id, field::ACTION_STATUS, Some(period), s)?
                        .as_ref(),
                );
            }
            out.push(ActionLine {
                unit: a.unit,
                reference: a.reference,
                description: a.description,
                due: a.due,
                status: a.status,
                comment: a.comment,
                sources: src.list(),
            });
        }
        Ok(out)
    }

    /// Open risks with their latest assessment up to the period (the rows
    /// the dashboard's heat map counts).
    pub(super) fn pack_risks(&self, unit: Option<&str>, period: Period, s: Seq) -> R<RiskSection> {
        let mut rows = Vec::new();
        for r in self.risk_rows(unit, Some(period), s)? {
            if r.closed {
                continue;
            }
            let mut src = Sources::default();
            src.fact(self.spec_record(r.entity, s)?.as_ref()).fact(
                self.fact_latest_upto(r.entity, field::ASSESSMENT, None, Some(period), s)?
                    .as_ref(),
            );
            rows.push(RiskLine {
                risk_id: r.risk_id,
                unit: r.unit,
                title: r.title,
                owner: r.owner,
                period: r.period,
                current: r.current,
                current_score: r.current_score,
                target: r.target,
                target_score: r.target_score,
                escalated: r.escalated,
                sources: src.list(),
            });
        }
        Ok(RiskSection {
            heat_map_current: HeatMap::from_assessments(
                rows.iter().filter_map(|r| r.current.as_ref()),
            ),
            heat_map_target: HeatMap::from_assessments(
                rows.iter().filter_map(|r| r.target.as_ref()),
            ),
            escalated: rows
                .iter()
                .filter(|r| r.escalated)
                .map(|r| r.risk_id.clone())
                .collect(),
            rows,
        })
    }
}
