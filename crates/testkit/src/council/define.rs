//! The council's definitions, queued once before the first quarter: the
//! tolerance scheme, units, indicators, key actions, risks, budget lines
//! and savings (in this order: the random stream depends on it).

use perfledger_domain::action::ActionSpec;
use perfledger_domain::budget::LineSpec;
use perfledger_domain::command::SCHEME_KEY;
use perfledger_domain::ids::composite_key;
use perfledger_domain::indicator::{
    ComparisonBasis, DataType, Frequency, IndicatorSpec, IndicatorType, Polarity,
};
use perfledger_domain::organisation::{OrgKind, OrgSpec};
use perfledger_domain::period::FinancialYear;
use perfledger_domain::rag::ToleranceScheme;
use perfledger_domain::risk::RiskSpec;
use perfledger_domain::saving::SavingSpec;
use perfledger_domain::{EntityKind, EventBody};

use super::{indicator_ref, k, risk_id, text, unit_name, Generator};

impl Generator {
    /// Define the council: tolerance scheme, units, indicators and key
    /// actions, then risks and the budget lines and savings.
    pub(super) fn setup(&mut self) {
        let fy0 = FinancialYear(self.shape.first_year);
        self.push(
            EntityKind::Scheme,
            SCHEME_KEY,
            EventBody::ToleranceSchemeAdopted {
                name: text("four-level 2013"),
                effective_from: fy0,
                scheme: ToleranceScheme::four_level(500, 1000),
            },
            None,
        );
        for u in 0..self.shape.units {
            let spec = OrgSpec {
                kind: OrgKind::Unit,
                name: text(&unit_name(u)),
                parent: None,
                lead: None,
            };
            let key = composite_key(&[OrgKind::Unit.token(), &unit_name(u)]);
            self.push(
                EntityKind::Unit,
                &key,
                EventBody::UnitDefined { spec },
                None,
            );
        }
        for i in 0..self.shape.indicators {
            let spec = self.ind_spec(i, self.inds[i].unit);
            self.push(
                EntityKind::Indicator,
                &indicator_ref(i),
                EventBody::IndicatorDefined { spec },
                None,
            );
        }
        for a in 0..self.shape.actions {
            let unit = unit_name(a % self.shape.units.max(1));
            let spec = ActionSpec {
                reference: text(&format!("ACT{a:04}")),
                unit: text(&unit),
                description: text(&format!("Key action {a}")),
                due: Some(text("March 2021")),
                lead_officer: None,
            };
            let key = composite_key(&[&unit, &format!("ACT{a:04}")]);
            self.push(
                EntityKind::Action,
                &key,
                EventBody::ActionDefined { spec },
                None,
            );
        }
        self.define_risks_and_finance();
    }

    /// Define risks, revenue and capital lines, and savings.
    pub(super) fn define_risks_and_finance(&mut self) {
        for r in 0..self.shape.risks {
            let spec = RiskSpec {
                risk_id: text(&risk_id(r)),
                unit: text(&unit_name(r % self.shape.units.max(1))),
                title: text(&format!("Risk {r}")),
                description: text("generated"),
                owner: Some(text("Director")),
                category: Some(text("Finance")),
                controls: None,
                response: None,
                assurance: None,
            };
            self.push(
                EntityKind::Risk,
                &risk_id(r),
                EventBody::RiskRegistered { spec },
                None,
            );
        }
        for l in 0..self.shape.revenue_lines {
            let unit = unit_name(l % self.shape.units.max(1));
            let spec = LineSpec {
                unit: text(&unit),
                name: text(&format!("Revenue {l:03}")),
                description: None,
            };
            let key = composite_key(&[&unit, &format!("Revenue {l:03}")]);
            self.push(
                EntityKind::RevenueLine,
                &key,
                EventBody::RevenueLineDefined { spec },
                None,
            );
        }
        for l in 0..self.shape.capital_lines {
            let unit = unit_name(l % self.shape.units.max(1));
            let spec = LineSpec {
                unit: text(&unit),
                name: text(&format!("Capital {l:03}")),
                description: None,
            };
            let key = composite_key(&[&unit, &format!("Capital {l:03}")]);
            self.push(
                EntityKind::CapitalLine,
                &key,
                EventBody::CapitalLineDefined { spec },
                None,
            );
        }
        for s in 0..self.shape.savings {
            let amounts = (0..self.shape.years)
                .map(|y| {
                    (
                        FinancialYear(self.shape.first_year + y),
                        k(-(50 + (s as i64 % 7) * 25)),
                    )
                })
                .collect();
            let spec = SavingSpec {
                reference: text(&format!("SAV{s:03}")),
                unit: text(&unit_name(s % self.shape.units.max(1))),
                description: text(&format!("Saving {s}")),
                amounts,
            };
            self.push(
                EntityKind::Saving,
                &format!("SAV{s:03}"),
                EventBody::SavingProposed { spec },
                None,
            );
        }
    }

    pub(super) fn ind_spec(&self, i: usize, unit: usize) -> IndicatorSpec {
        let types = [
            IndicatorType::Cpi,
            IndicatorType::Spi,
            IndicatorType::Mpi,
            IndicatorType::Kpi,
            IndicatorType::Outcome,
        ];
        IndicatorSpec {
            reference: Some(text(&indicator_ref(i))),
            title: text(&format!("Indicator {i}")),
            unit: text(&unit_name(unit)),
            lead_officer: None,
            indicator_type: types[i % types.len()],
            polarity: if i % 4 == 3 {
                Polarity::SmallerIsBetter
            } else {
                Polarity::BiggerIsBetter
            },
            frequency: if self.inds[i].monthly {
                Frequency::Monthly
            } else {
                Frequency::Quarterly
            },
            data_type: DataType::Percentage,
            comparison: ComparisonBasis::Sequential,
            theme: None,
            objective: None,
            committee: None,
        }
    }
}
