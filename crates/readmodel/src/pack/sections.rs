//! Finance, key actions and risks of a pack: the figures of
//! [`ReadModel::finance`], [`ReadModel::actions`] and the dashboard's risk
//! rows (the latest assessment up to the period), each row with the log
//! sequences of the fact versions behind it.

use perfledger_domain::event::EventBody;
use perfledger_domain::period::Period;
use perfledger_domain::risk::HeatMap;
use perfledger_log::Seq;

use super::sources::Sources;
use super::{
    ActionLine, CapitalLine, CapitalTotal, Num, RevenueLine, RevenueTotal, RiskLine, RiskSection,
    SavingLine, SavingsTotal,
};
use crate::keys::field;
use crate::query::{FinanceProvenance, FinanceView, LineProvenance};
use crate::store::FactRecord;
use crate::{ReadModel, ReadModelError};

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

/// The sequences a finance row was read from (definition, the year's
/// budget, the latest forecast or delivery report shown), with that latest
/// record (its comment is printed).
fn line_sources(p: &LineProvenance) -> (Sources, Option<&FactRecord>) {
    let mut src = Sources::default();
    src.seq(Some(p.spec)).seq(p.budget).fact(p.latest.as_ref());
    (src, p.latest.as_ref())
}

impl ReadModel {
    /// The pack's finance lines of `f` (the scope's finance view at s),
    /// each naming the sequences `provenance` says it was read from.
    pub(super) fn pack_finance(
        &self,
        f: &FinanceView,
        provenance: &FinanceProvenance,
    ) -> R<Finance> {
        let mut revenue = Vec::new();
        for (r, p) in f.revenue.iter().zip(&provenance.revenue) {
            let (src, fc) = line_sources(p);
            revenue.push(RevenueLine {
                unit: r.unit.clone(),
                line: r.line.clone(),
                original: Num(r.figures.original),
                revised: Num(r.figures.revised),
                forecast: Num(r.figures.forecast),
                variation: Num(r.variation),
                variation_percent_1dp: r.variation_percent_1dp.map(Num),
                comment: comment_of(fc),
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
        for (r, p) in f.capital.iter().zip(&provenance.capital) {
            let (src, fc) = line_sources(p);
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
                comment: comment_of(fc),
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
        for (r, p) in f.savings.iter().zip(&provenance.savings) {
            let (src, _) = line_sources(p);
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
        // (`pack_v1` has refused an unknown unit already, through `finance`.)
        for a in self.action_facts(unit, period, s, true)? {
            let mut src = Sources::default();
            src.seq(Some(a.spec_seq)).seq(a.status_seq);
            let a = a.row;
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
