//! Assembling a [`Pack`] from the read model's as-of queries (rules v1).
//!
//! Every figure comes from an existing query or domain rule: the dashboard
//! from [`ReadModel::dashboard`], each indicator row's RAG and directions
//! from the query module's `indicator_row` (the function the dashboard
//! uses), finance from [`ReadModel::finance`], key actions from
//! [`ReadModel::actions`]. This module only selects, orders and records
//! provenance; it computes no rule of its own.

use std::collections::BTreeMap;

use perfledger_domain::dashboard::{breakdown, Dashboard, IndicatorLine as DashboardLine};
use perfledger_domain::direction::{long_term_period, short_term_period};
use perfledger_domain::event::EventBody;
use perfledger_domain::ids::normalise_key;
use perfledger_domain::indicator::{Benchmark, ResultValue, Target};
use perfledger_domain::period::Period;
use perfledger_domain::rag::Rag;
use perfledger_domain::EntityKind;
use perfledger_log::Seq;
use uuid::Uuid;

use super::sources::{union, Schemes, Sources};
use super::{
    IndicatorGroup, IndicatorLine, MeasureLine, MeasureSection, Num, OffTarget, Pack,
    PackDashboard, ResultCell, RulesVersion, StatusCount, TargetCell, TypeOverview, UnitOverview,
    PACK_FORMAT,
};
use crate::keys::{self, field};
use crate::query::{view_of, Counted};
use crate::store::{self, EntityInfo, FactRecord};
use crate::{render, AsOf, ReadModel, ReadModelError};

type R<T> = Result<T, ReadModelError>;

/// An indicator row with what orders it: (first sequence, entity).
struct Placed {
    order: (Seq, Uuid),
    theme: Option<String>,
    line: IndicatorLine,
}

impl ReadModel {
    /// The committee pack of a unit (None = the whole council) for a
    /// period, as of a position, under a rules version.
    pub fn pack(
        &self,
        unit: Option<&str>,
        period: Period,
        at: AsOf,
        rules: RulesVersion,
    ) -> R<Pack> {
        let s = self.resolve(at)?;
        match rules {
            RulesVersion::V1 => self.pack_v1(unit, period, s),
        }
    }

    /// Rules v1. Frozen once a seal names v1: a change of rules is a new
    /// [`RulesVersion`] with its own function beside this one.
    fn pack_v1(&self, unit: Option<&str>, period: Period, s: Seq) -> R<Pack> {
        // An unknown unit is refused (NotFound), as the dashboard does.
        self.check_unit(unit, s)?;
        let (fin, provenance) = self.finance_facts(unit, period, s)?;
        let placed = self.pack_indicator_rows(unit, period, s)?;
        let finance = self.pack_finance(&fin, &provenance)?;
        let actions = self.pack_actions(unit, period, s)?;
        let risks = self.pack_risks(unit, period, s)?;
        // The dashboard counts exactly these rows (module header of
        // `query::dashboard`): the same lines, statuses, assessments and
        // finance view, assembled instead of read again.
        let counted = Counted {
            indicators: placed.iter().map(|p| dashboard_line(&p.line)).collect(),
            actions: actions.iter().filter_map(|a| a.status).collect(),
            risks: risks.rows.iter().filter_map(|r| r.current).collect(),
        };
        let view = view_of(&self.assemble_inputs(unit, period, s, counted, &fin)?, s)?;
        let measures = match unit {
            Some(u) => self.pack_measures(u, period, s)?,
            None => Vec::new(),
        };
        let units = match unit {
            Some(_) => Vec::new(),
            None => self.pack_unit_overview(s, &placed)?,
        };
        let lines: Vec<&IndicatorLine> = placed.iter().map(|p| &p.line).collect();
        let overview = overview_by_type(&view.dashboard, &lines);
        let off_target = off_target(&placed);
        let mut all = vec![];
        all.extend(lines.iter().map(|l| &l.sources));
        all.extend(actions.iter().map(|a| &a.sources));
        all.extend(finance.revenue.iter().map(|r| &r.sources));
        all.extend(finance.capital.iter().map(|r| &r.sources));
        all.extend(finance.savings.iter().map(|r| &r.sources));
        all.extend(risks.rows.iter().map(|r| &r.sources));
        let dashboard = pack_dashboard(&view.dashboard, view.digest.clone(), union(all));
        Ok(Pack {
            format_version: PACK_FORMAT,
            rules_version: RulesVersion::V1,
            unit: match unit {
                Some(u) => Some(self.unit_name(u, s)?),
                None => None,
            },
            period,
            as_of: s,
            dashboard,
            revenue: finance.revenue,
            revenue_total: finance.revenue_total,
            capital: finance.capital,
            capital_total: finance.capital_total,
            savings: finance.savings,
            savings_total: finance.savings_total,
            overview,
            indicators: group_by_theme(placed),
            off_target,
            actions,
            risks,
            measures,
            units,
        })
    }

    /// First sequence an entity appeared at (its definition order).
    fn first_seq(&self, id: Uuid) -> R<Seq> {
        let k = keys::entity_key(id);
        Ok(match self.tree.get(&k)? {
            Some(v) => store::decode::<EntityInfo>(&k, &v)?.first_seq,
            None => Seq::MAX,
        })
    }

    /// The indicator rows of a scope for a period: every indicator with a
    /// result for the period (the dashboard's "reported" set).
    fn pack_indicator_rows(&self, unit: Option<&str>, period: Period, s: Seq) -> R<Vec<Placed>> {
        let schemes = self.pack_schemes(s)?;
        let mut out = Vec::new();
        for id in self.members(unit, EntityKind::Indicator, s)? {
            if let Some(p) = self.pack_indicator_row(id, period, s, &schemes)? {
                out.push(p);
            }
        }
        out.sort_by_key(|p| p.order);
        Ok(out)
    }

    fn pack_indicator_row(
        &self,
        id: Uuid,
        period: Period,
        s: Seq,
        schemes: &Schemes,
    ) -> R<Option<Placed>> {
        let Some(result) = self.fact_at(id, field::RESULT, Some(period), s)? else {
            return Ok(None);
        };
        let Some(spec_rec) = self.spec_record(id, s)? else {
            return Ok(None);
        };
        let spec = match &spec_rec.body {
            EventBody::IndicatorDefined { spec } | EventBody::IndicatorAmended { spec, .. } => {
                spec.clone()
            }
            _ => return Ok(None),
        };
        let row = self.indicator_row(
            id,
            &spec,
            period,
            s,
            &schemes.schemes,
            Some(result.clone()),
            true,
        )?;
        let Some(entry) = row.result.clone() else {
            return Ok(None);
        };
        let fy = period.financial_year();
        let year = Period::Year(fy);
        let target_p = self.fact_at(id, field::TARGET, Some(period), s)?;
        let target_y = match period {
            Period::Year(_) => None,
            _ => self.fact_at(id, field::TARGET, Some(year), s)?,
        };
        // The same comparison periods `indicator_row` used for the directions.
        let result_in = |p: Option<Period>| -> R<Option<FactRecord>> {
            match p {
                Some(p) => self.fact_at(id, field::RESULT, Some(p), s),
                None => Ok(None),
            }
        };
        let previous = result_in(short_term_period(spec.comparison, period))?;
        let last_year = result_in(long_term_period(period))?;
        let mut src = Sources::default();
        src.fact(Some(&spec_rec))
            .fact(Some(&result))
            .fact(target_p.as_ref())
            .fact(target_y.as_ref())
            .fact(previous.as_ref())
            .fact(last_year.as_ref());
        if row.target.is_some() {
            src.seq(schemes.seq_in_force(fy));
        }
        let annual = match period {
            Period::Year(_) => target_p.as_ref(),
            _ => target_y.as_ref(),
        };
        let line = IndicatorLine {
            reference: spec.reference.as_ref().map(|r| r.to_string()),
            title: spec.title.to_string(),
            indicator_type: spec.indicator_type,
            polarity: spec.polarity,
            annual_target: annual.and_then(target_cell),
            period_target: target_p.as_ref().and_then(target_cell),
            result: result_cell(&result),
            previous: previous.as_ref().and_then(result_cell),
            direction_short: row.direction_short,
            last_year: last_year.as_ref().and_then(result_cell),
            direction_long: row.direction_long,
            rag: row.rag,
            rag_printed: match &entry.result {
                ResultValue::Measured { source_rag, .. } => *source_rag,
                _ => None,
            },
            monitor: matches!(row.target, Some(Target::Monitor)),
            benchmarks: entry.benchmarks.iter().map(benchmark_text).collect(),
            commentary: entry.commentary.as_ref().map(|c| c.to_string()),
            intervention: entry.intervention.map(|l| l.0),
            sources: src.list(),
        };
        Ok(Some(Placed {
            order: (self.first_seq(id)?, id),
            theme: spec.theme.as_ref().map(|t| t.to_string()),
            line,
        }))
    }

    /// Measures of the unit's child units (HR, customer experience).
    fn pack_measures(&self, unit: &str, period: Period, s: Seq) -> R<Vec<MeasureSection>> {
        let mut out = Vec::new();
        for child in self.child_units(unit, s)? {
            let rows: Vec<MeasureLine> = self
                .pack_indicator_rows(Some(&child), period, s)?
                .into_iter()
                .filter_map(|p| {
                    let result = p.line.result?;
                    Some(MeasureLine {
                        percent: measure_percent(&result.result),
                        title: p.line.title,
                        result,
                        sources: p.line.sources,
                    })
                })
                .collect();
            if !rows.is_empty() {
                out.push(MeasureSection { unit: child, rows });
            }
        }
        Ok(out)
    }

    /// Council-wide: each unit's indicator breakdown (units reporting
    /// indicators this period, in name order). `rows` are the council-wide
    /// rows: a unit's rows are those of its members (an indicator's row
    /// does not depend on the scope asked for), and its breakdown is the
    /// domain's over their dashboard lines, as the unit's own dashboard
    /// counts them (one row per indicator it reports).
    fn pack_unit_overview(&self, s: Seq, rows: &[Placed]) -> R<Vec<UnitOverview>> {
        let mut names: Vec<String> = self
            .units(AsOf::Seq(s))?
            .into_iter()
            .map(|u| u.name)
            .collect();
        names.sort();
        names.dedup();
        let by_unit = self.members_by_unit(EntityKind::Indicator, s)?;
        let by_id: BTreeMap<Uuid, &Placed> = rows.iter().map(|p| (p.order.1, p)).collect();
        let mut out = Vec::new();
        for name in names {
            let key = normalise_key(&name).into_bytes();
            let mine: Vec<&Placed> = by_unit
                .get(&key)
                .into_iter()
                .flatten()
                .filter_map(|id| by_id.get(id).copied())
                .collect();
            if mine.is_empty() {
                continue;
            }
            let lines: Vec<DashboardLine> = mine.iter().map(|p| dashboard_line(&p.line)).collect();
            out.push(UnitOverview {
                unit: name,
                breakdown: breakdown(&lines),
                sources: union(mine.iter().map(|p| &p.line.sources)),
            });
        }
        Ok(out)
    }
}

/// The dashboard's line of a pack row (what the dashboard counts).
fn dashboard_line(l: &IndicatorLine) -> DashboardLine {
    DashboardLine {
        indicator_type: l.indicator_type,
        rag: l.rag,
        monitor: l.monitor,
        direction: l.direction_long,
    }
}

fn target_cell(rec: &FactRecord) -> Option<TargetCell> {
    match &rec.body {
        EventBody::TargetSet { period, target }
        | EventBody::TargetRevised { period, target, .. } => Some(TargetCell {
            period: *period,
            text: render::target(target),
            value: target.value().and_then(|v| v.display_value()).map(Num),
            target: target.clone(),
        }),
        _ => None,
    }
}

fn result_cell(rec: &FactRecord) -> Option<ResultCell> {
    match &rec.body {
        EventBody::ResultRecorded { period, entry }
        | EventBody::ResultRestated { period, entry, .. } => Some(ResultCell {
            period: *period,
            text: render::result(&entry.result),
            value: entry
                .result
                .value()
                .and_then(|v| v.display_value())
                .map(Num),
            result: entry.result.clone(),
        }),
        _ => None,
    }
}

/// `153/159` → 96 (whole %, the dashboard's customer-experience rounding).
fn measure_percent(r: &ResultValue) -> Option<Num> {
    match r.value()? {
        perfledger_domain::indicator::Value::Fraction {
            numerator,
            denominator,
        } => perfledger_domain::rounding::percent_whole_fixed(*numerator, *denominator).map(Num),
        _ => None,
    }
}

/// `London 41% (Autumn 2014, RPS)`.
fn benchmark_text(b: &Benchmark) -> String {
    let mut s = format!("{} {}", b.group, render::value(&b.value));
    let tail: Vec<&str> = [b.as_of.as_ref(), b.source.as_ref()]
        .into_iter()
        .flatten()
        .map(|t| t.as_str())
        .collect();
    if !tail.is_empty() {
        s.push_str(&format!(" ({})", tail.join(", ")));
    }
    s
}

/// Groups in order of their first row; rows keep their order.
fn group_by_theme(placed: Vec<Placed>) -> Vec<IndicatorGroup> {
    let mut groups: Vec<IndicatorGroup> = Vec::new();
    let mut index: BTreeMap<Option<String>, usize> = BTreeMap::new();
    for p in placed {
        let i = *index.entry(p.theme.clone()).or_insert_with(|| {
            groups.push(IndicatorGroup {
                theme: p.theme.clone(),
                rows: Vec::new(),
            });
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(i) {
            g.rows.push(p.line);
        }
    }
    groups
}

/// Rated rows that are not Green, in table order.
fn off_target(placed: &[Placed]) -> Vec<OffTarget> {
    placed
        .iter()
        .filter_map(|p| {
            let rag = p.line.rag.filter(|r| *r != Rag::Green)?;
            Some(OffTarget {
                theme: p.theme.clone(),
                reference: p.line.reference.clone(),
                title: p.line.title.clone(),
                rag,
                commentary: p.line.commentary.clone(),
                intervention: p.line.intervention,
                sources: p.line.sources.clone(),
            })
        })
        .collect()
}

fn overview_by_type(d: &Dashboard, lines: &[&IndicatorLine]) -> Vec<TypeOverview> {
    d.indicators_by_type
        .iter()
        .map(|(t, b)| TypeOverview {
            indicator_type: *t,
            breakdown: b.clone(),
            sources: union(
                lines
                    .iter()
                    .filter(|l| l.indicator_type == *t)
                    .map(|l| &l.sources),
            ),
        })
        .collect()
}

fn pack_dashboard(d: &Dashboard, digest: String, sources: Vec<Seq>) -> PackDashboard {
    PackDashboard {
        digest,
        revenue_variance: Num(d.revenue.variance),
        revenue_variance_percent_1dp: d.revenue.variance_percent_1dp.map(Num),
        capital_variance: Num(d.capital.variance),
        capital_slippage_percent: d.capital.slippage_percent.map(Num),
        savings_achieved: Num(d.savings.achieved),
        savings_achieved_percent_1dp: d.savings.achieved_percent_1dp.map(Num),
        indicators: d.indicators.clone(),
        actions_total: d.actions.total,
        actions: d
            .actions
            .counts
            .iter()
            .map(|(st, n)| StatusCount {
                status: *st,
                count: *n,
                percent: d.actions.percent.get(st).copied().flatten(),
            })
            .collect(),
        risks_escalated: d.risks.escalated,
        sources,
    }
}
