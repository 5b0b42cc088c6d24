//! One quarter of reporting, queued when the previous one has been
//! consumed: results and targets, restatements (post-close ones with their
//! marker), revisions, moves, retirements, statuses, assessments, budgets,
//! forecasts, savings, seals and period closes. Every random draw happens
//! in a fixed order, so a seed gives the same log byte for byte.

use perfledger_domain::action::ActionStatus;
use perfledger_domain::command::{CALENDAR_KEY, COUNCIL_SCOPE, SCHEME_KEY};
use perfledger_domain::event::{ResultEntry, Seal};
use perfledger_domain::ids::composite_key;
use perfledger_domain::indicator::{Comparator, ResultValue, Target};
use perfledger_domain::period::{FinancialYear, Period};
use perfledger_domain::rag::ToleranceScheme;
use perfledger_domain::risk::Assessment;
use perfledger_domain::{Date, EntityKind, EventBody};

use super::{indicator_ref, k, pct, risk_id, text, unit_name, Generator};

impl Generator {
    pub(super) fn result_entry(&mut self) -> ResultEntry {
        let r = self.rng.below(100);
        let result = if r < 3 {
            ResultValue::NotAvailable {
                note: text("Not available"),
            }
        } else if r < 6 {
            ResultValue::Measured {
                value: pct(500 + self.rng.below(500)),
                source_rag: Some(perfledger_domain::rag::Rag::Amber),
                label: None,
            }
        } else {
            ResultValue::Measured {
                value: pct(500 + self.rng.below(500)),
                source_rag: None,
                label: None,
            }
        };
        ResultEntry {
            result,
            commentary: if self.rng.per_mille(200) {
                Some(text("Performance is being monitored closely."))
            } else {
                None
            },
            intervention: None,
            benchmarks: Vec::new(),
        }
    }

    pub(super) fn target(&mut self) -> Target {
        match self.rng.below(20) {
            0 => Target::Monitor,
            1 => Target::Increase,
            _ => Target::Numeric {
                comparator: Comparator::Plain,
                value: pct(600 + self.rng.below(350)),
                note: None,
            },
        }
    }

    pub(super) fn is_closed(&self, p: Period) -> bool {
        self.closed.iter().any(|c| c.contains(p))
    }

    /// Queue the commits of one quarter: a possible scheme change, every
    /// indicator's targets and results, then actions, risks, budget lines,
    /// savings, a possible seal and the closing of the quarter before last
    /// (in this order: the random stream depends on it).
    pub(super) fn quarter(&mut self, q: Period) {
        self.scheme_change(q);
        let months: Vec<Period> = (0..3)
            .filter_map(|m| {
                q.start_date().and_then(|d| {
                    let idx = i64::from(d.year) * 12 + i64::from(d.month) - 1 + m;
                    let y = i32::try_from(idx.div_euclid(12)).ok()?;
                    let mo = u8::try_from(idx.rem_euclid(12) + 1).ok()?;
                    Some(Period::Month(y, mo))
                })
            })
            .collect();
        for i in 0..self.inds.len() {
            self.indicator_quarter(i, q, &months);
        }
        let report_periods: Vec<Period> = if self.shape.monthly_reports {
            months.clone()
        } else {
            vec![q]
        };
        self.action_statuses(q);
        self.risk_assessments(&report_periods);
        self.revenue_reports(q, &report_periods);
        self.capital_reports(q, &report_periods);
        self.saving_reports(&report_periods);
        self.seal_now_and_then(q);
        self.close_quarter_before_last(q);
    }

    /// A scheme change decided during the year, effective next year.
    pub(super) fn scheme_change(&mut self, q: Period) {
        let fy = q.financial_year();
        if matches!(q, Period::Quarter(_, 3)) && self.rng.per_mille(400) {
            let scheme = if self.rng.per_mille(500) {
                ToleranceScheme::three_level_10pc()
            } else {
                ToleranceScheme::direction_dependent_10pc()
            };
            self.push(
                EntityKind::Scheme,
                SCHEME_KEY,
                EventBody::ToleranceSchemeAdopted {
                    name: text(&format!("scheme from {}", FinancialYear(fy.0 + 1))),
                    effective_from: FinancialYear(fy.0 + 1),
                    scheme,
                },
                None,
            );
        }
    }

    /// Indicator `i`'s commits of quarter `q` (of its months if monthly):
    /// targets, results, restatements, revisions, moves and retirement.
    pub(super) fn indicator_quarter(&mut self, i: usize, q: Period, months: &[Period]) {
        let fy = q.financial_year();
        let first_q = matches!(q, Period::Quarter(_, 1));
        if self.inds[i].retired {
            return;
        }
        let key = indicator_ref(i);
        if first_q {
            let target = self.target();
            self.push(
                EntityKind::Indicator,
                &key,
                EventBody::TargetSet {
                    period: Period::Year(fy),
                    target,
                },
                None,
            );
        }
        let periods = if self.inds[i].monthly {
            months.to_vec()
        } else {
            vec![q]
        };
        for p in periods {
            if self.inds[i].monthly {
                let target = self.target();
                self.push(
                    EntityKind::Indicator,
                    &key,
                    EventBody::TargetSet { period: p, target },
                    None,
                );
            }
            let entry = self.result_entry();
            self.push(
                EntityKind::Indicator,
                &key,
                EventBody::ResultRecorded { period: p, entry },
                None,
            );
            self.inds[i].recorded.push(p);
            self.maybe_restate(i, &key);
        }
        if self.rng.per_mille(30) {
            let target = self.target();
            self.push(
                EntityKind::Indicator,
                &key,
                EventBody::TargetRevised {
                    period: Period::Year(fy),
                    target,
                    reason: text("revised at mid-year review"),
                },
                Some("revised at mid-year review"),
            );
        }
        if self.rng.per_mille(4) && self.shape.units > 1 {
            let unit = (self.inds[i].unit + 1) % self.shape.units;
            self.inds[i].unit = unit;
            let spec = self.ind_spec(i, unit);
            self.push(
                EntityKind::Indicator,
                &key,
                EventBody::IndicatorAmended {
                    spec,
                    reason: text("moved to another unit"),
                },
                Some("moved to another unit"),
            );
        } else if self.rng.per_mille(2) {
            self.inds[i].retired = true;
            self.push(
                EntityKind::Indicator,
                &key,
                EventBody::IndicatorRetired {
                    reason: text("no longer reported"),
                },
                Some("no longer reported"),
            );
        }
    }

    /// Now and then restate one of indicator `i`'s last six results (after
    /// its period closed: with a post-close marker in the same commit).
    pub(super) fn maybe_restate(&mut self, i: usize, key: &str) {
        if self.rng.per_mille(self.shape.restate_per_mille) {
            let n = self.inds[i].recorded.len() as u64;
            let from = n.saturating_sub(6);
            let idx = usize::try_from(from + self.rng.below(n - from)).unwrap_or(0);
            let p = self.inds[i].recorded[idx];
            let entry = self.result_entry();
            let body = EventBody::ResultRestated {
                period: p,
                entry,
                reason: text("late data from the provider"),
            };
            if self.is_closed(p) {
                let mut marker = self.envelope(
                    EntityKind::Indicator,
                    key,
                    EventBody::PostCloseRestatement {
                        period: p,
                        reason: text("audit correction after close"),
                    },
                    Some("audit correction after close"),
                );
                let ev = self.envelope(
                    EntityKind::Indicator,
                    key,
                    body,
                    Some("audit correction after close"),
                );
                marker.command_id = ev.command_id;
                self.queue.push_back(vec![marker, ev]);
            } else {
                self.push(
                    EntityKind::Indicator,
                    key,
                    body,
                    Some("late data from the provider"),
                );
            }
        }
    }

    /// Key-action statuses for the quarter (re-reported monthly if so).
    pub(super) fn action_statuses(&mut self, q: Period) {
        let status_reports = if self.shape.monthly_reports { 3 } else { 1 };
        for a in 0..self.shape.actions {
            let unit = unit_name(a % self.shape.units.max(1));
            let key = composite_key(&[&unit, &format!("ACT{a:04}")]);
            for _ in 0..status_reports {
                let status = ActionStatus::ALL[usize::try_from(self.rng.below(5)).unwrap_or(0)];
                self.push(
                    EntityKind::Action,
                    &key,
                    EventBody::ActionStatusReported {
                        period: q,
                        status,
                        comment: None,
                    },
                    None,
                );
            }
        }
    }

    /// Assessments of open risks; now and then a risk closes.
    pub(super) fn risk_assessments(&mut self, report_periods: &[Period]) {
        for r in 0..self.shape.risks {
            if self.risk_closed[r] {
                continue;
            }
            for rp in report_periods.iter().copied() {
                let cur = Assessment {
                    impact: 1 + u8::try_from(self.rng.below(5)).unwrap_or(0),
                    probability: 1 + u8::try_from(self.rng.below(5)).unwrap_or(0),
                };
                let tgt = Assessment {
                    impact: 1 + u8::try_from(self.rng.below(cur.impact.into())).unwrap_or(0),
                    probability: 1 + u8::try_from(self.rng.below(cur.probability.into()))
                        .unwrap_or(0),
                };
                self.push(
                    EntityKind::Risk,
                    &risk_id(r),
                    EventBody::RiskAssessed {
                        period: rp,
                        current: cur,
                        target: Some(tgt),
                        comment: None,
                    },
                    None,
                );
            }
            if self.rng.per_mille(8) {
                self.risk_closed[r] = true;
                self.push(
                    EntityKind::Risk,
                    &risk_id(r),
                    EventBody::RiskClosed {
                        reason: text("risk no longer applies"),
                    },
                    Some("risk no longer applies"),
                );
            }
        }
    }

    /// Revenue budgets (first quarter), forecasts, and now and then a
    /// revision in the second quarter.
    pub(super) fn revenue_reports(&mut self, q: Period, report_periods: &[Period]) {
        let fy = q.financial_year();
        let first_q = matches!(q, Period::Quarter(_, 1));
        for l in 0..self.shape.revenue_lines {
            let unit = unit_name(l % self.shape.units.max(1));
            let key = composite_key(&[&unit, &format!("Revenue {l:03}")]);
            let base = 500 + i64::try_from(l % 50).unwrap_or(0) * 40;
            if first_q {
                self.push(
                    EntityKind::RevenueLine,
                    &key,
                    EventBody::BudgetSet {
                        year: fy,
                        original: k(base),
                        revised: k(base + 20),
                    },
                    None,
                );
            }
            for rp in report_periods.iter().copied() {
                let delta = i64::try_from(self.rng.below(200)).unwrap_or(0) - 100;
                self.push(
                    EntityKind::RevenueLine,
                    &key,
                    EventBody::RevenueForecastSubmitted {
                        period: rp,
                        forecast: k(base + delta),
                        comment: None,
                    },
                    None,
                );
            }
            if matches!(q, Period::Quarter(_, 2)) && self.rng.per_mille(100) {
                self.push(
                    EntityKind::RevenueLine,
                    &key,
                    EventBody::BudgetRevised {
                        year: fy,
                        original: k(base),
                        revised: k(base + 60),
                        reason: text("virement"),
                    },
                    Some("virement"),
                );
            }
        }
    }

    /// Capital budgets (first quarter) and forecasts.
    pub(super) fn capital_reports(&mut self, q: Period, report_periods: &[Period]) {
        let fy = q.financial_year();
        let first_q = matches!(q, Period::Quarter(_, 1));
        for l in 0..self.shape.capital_lines {
            let unit = unit_name(l % self.shape.units.max(1));
            let key = composite_key(&[&unit, &format!("Capital {l:03}")]);
            let base = 2000 + i64::try_from(l % 30).unwrap_or(0) * 100;
            if first_q {
                self.push(
                    EntityKind::CapitalLine,
                    &key,
                    EventBody::CapitalBudgetSet {
                        year: fy,
                        approved: k(base),
                    },
                    None,
                );
            }
            for rp in report_periods.iter().copied() {
                let slip = -i64::try_from(self.rng.below(400)).unwrap_or(0);
                self.push(
                    EntityKind::CapitalLine,
                    &key,
                    EventBody::CapitalForecastSubmitted {
                        period: rp,
                        additions: k(0),
                        slippage: k(slip),
                        forecast: k(base + slip),
                        comment: None,
                    },
                    None,
                );
            }
        }
    }

    /// Savings delivery reports.
    pub(super) fn saving_reports(&mut self, report_periods: &[Period]) {
        for s in 0..self.shape.savings {
            for rp in report_periods.iter().copied() {
                let achieved = k(i64::try_from(self.rng.below(60)).unwrap_or(0));
                self.push(
                    EntityKind::Saving,
                    &format!("SAV{s:03}"),
                    EventBody::SavingDeliveryReported {
                        period: rp,
                        achieved,
                        comment: None,
                    },
                    None,
                );
            }
        }
    }

    /// Seal the council dashboard now and then (digest is a placeholder:
    /// verification of generated seals is not the point here).
    pub(super) fn seal_now_and_then(&mut self, q: Period) {
        if self.rng.per_mille(300) {
            let seal = Seal {
                unit: None,
                period: q,
                committee: text("Policy & Resources"),
                meeting_date: q.end_date().unwrap_or(Date {
                    year: 2016,
                    month: 1,
                    day: 1,
                }),
                seq: 0,
                digest: [0; 32],
            };
            let key = composite_key(&[COUNCIL_SCOPE, &q.to_string()]);
            self.push(
                EntityKind::Seal,
                &key,
                EventBody::DashboardSealed { seal },
                None,
            );
        }
    }

    /// Close the quarter before last.
    pub(super) fn close_quarter_before_last(&mut self, q: Period) {
        if let Some(prev) = q.previous().and_then(Period::previous) {
            if !self.is_closed(prev) && self.step >= 2 {
                self.closed.push(prev);
                self.push(
                    EntityKind::Calendar,
                    CALENDAR_KEY,
                    EventBody::PeriodClosed { period: prev },
                    None,
                );
            }
        }
    }
}
