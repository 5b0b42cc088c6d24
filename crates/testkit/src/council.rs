//! Deterministic generator of council event logs for tests and benchmarks
//! (no `rand`: a splitmix64 stream from a seed). It walks a council through
//! its reporting periods: definitions, targets, results, restatements,
//! target revisions, tolerance-scheme changes, risk rescoring and closures,
//! budgets and forecasts, savings, key actions, period closes with
//! post-close restatements, unit moves, retirements, seals, and the odd
//! record from a writer whose clock lags.
//!
//! The generator yields commits lazily ([`Generator`] is an iterator), so a
//! million events never sit in memory at once.

use bytes::Bytes;
use perfledger_domain::action::{ActionSpec, ActionStatus};
use perfledger_domain::budget::LineSpec;
use perfledger_domain::command::{CALENDAR_KEY, COUNCIL_SCOPE, SCHEME_KEY};
use perfledger_domain::event::{EntityRef, ResultEntry, Seal};
use perfledger_domain::ids::composite_key;
use perfledger_domain::indicator::{
    Comparator, ComparisonBasis, DataType, Frequency, IndicatorSpec, IndicatorType, Polarity,
    ResultValue, Target, Value,
};
use perfledger_domain::organisation::{OrgKind, OrgSpec};
use perfledger_domain::period::{FinancialYear, Period};
use perfledger_domain::rag::ToleranceScheme;
use perfledger_domain::risk::{Assessment, RiskSpec};
use perfledger_domain::saving::SavingSpec;
use perfledger_domain::{
    encode_commit, entity_id, Date, EntityKind, Envelope, EventBody, Fixed, Tenant, Text,
    Timestamp, SCHEMA_VERSION,
};
use perfledger_log::{Commit, Expected, Subject};
use uuid::Uuid;

/// Tenant used by generated logs.
pub const TENANT: &str = "testcouncil";

/// Size and shape of a generated council.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Delivery units.
    pub units: usize,
    /// Indicators.
    pub indicators: usize,
    /// Key actions.
    pub actions: usize,
    /// Risks.
    pub risks: usize,
    /// Revenue lines.
    pub revenue_lines: usize,
    /// Capital lines.
    pub capital_lines: usize,
    /// Savings proposals.
    pub savings: usize,
    /// First financial year.
    pub first_year: i32,
    /// Years.
    pub years: i32,
    /// Per mille of indicators that report monthly (the rest quarterly).
    pub monthly_per_mille: u32,
    /// Per mille chance, per recorded result, that a recent result is restated.
    pub restate_per_mille: u32,
    /// Actions, risks, budget lines and savings report every month (action
    /// statuses are re-reported for the quarter; the rest per month).
    pub monthly_reports: bool,
}

impl Shape {
    /// A small council (property tests).
    pub fn small() -> Self {
        Shape {
            units: 2,
            indicators: 5,
            actions: 3,
            risks: 3,
            revenue_lines: 2,
            capital_lines: 1,
            savings: 2,
            first_year: 2015,
            years: 3,
            monthly_per_mille: 200,
            restate_per_mille: 250,
            monthly_reports: false,
        }
    }

    /// A large council over ten years reporting monthly (> 1M events;
    /// benchmarks).
    pub fn large() -> Self {
        Shape {
            units: 24,
            indicators: 2000,
            actions: 3000,
            risks: 300,
            revenue_lines: 400,
            capital_lines: 100,
            savings: 150,
            first_year: 2013,
            years: 10,
            monthly_per_mille: 1000,
            restate_per_mille: 250,
            monthly_reports: true,
        }
    }
}

/// splitmix64.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// From a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// Next u64.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    /// True with probability pm/1000.
    pub fn per_mille(&mut self, pm: u32) -> bool {
        self.below(1000) < u64::from(pm)
    }
}

fn text(s: &str) -> Text {
    Text::new("text", s).expect("generated strings are short and NUL-free")
}

fn pct(tenths: u64) -> Value {
    Value::Percent(Fixed::from_raw(i64::try_from(tenths).unwrap_or(0) * 1000))
}

fn k(v: i64) -> Fixed {
    Fixed::from_raw(v * Fixed::SCALE)
}

/// The unit name of unit `i`.
pub fn unit_name(i: usize) -> String {
    format!("Unit {i:02}")
}

/// The reference of indicator `i`.
pub fn indicator_ref(i: usize) -> String {
    format!("KPI/{i:04}")
}

/// The id of risk `i`.
pub fn risk_id(i: usize) -> String {
    format!("RSK{i:04}")
}

struct Ind {
    unit: usize,
    monthly: bool,
    recorded: Vec<Period>,
    retired: bool,
}

/// Lazily generated commits (one entity each), in log order.
pub struct Generator {
    shape: Shape,
    rng: Rng,
    tenant: Tenant,
    inds: Vec<Ind>,
    risk_closed: Vec<bool>,
    queue: std::collections::VecDeque<Vec<Envelope>>,
    step: usize,
    steps: Vec<Period>,
    clock: i64,
    closed: Vec<Period>,
    produced: u64,
    setup_done: bool,
}

impl Generator {
    /// A generator for a shape and seed.
    pub fn new(shape: Shape, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let inds = (0..shape.indicators)
            .map(|i| Ind {
                unit: i % shape.units.max(1),
                monthly: rng.per_mille(shape.monthly_per_mille),
                recorded: Vec::new(),
                retired: false,
            })
            .collect();
        let mut steps = Vec::new();
        for y in 0..shape.years {
            for q in 1..=4u8 {
                steps.push(Period::Quarter(FinancialYear(shape.first_year + y), q));
            }
        }
        let start = Date::new(shape.first_year, 4, 1)
            .map(|d| d.start().0)
            .unwrap_or(0);
        Generator {
            risk_closed: vec![false; shape.risks],
            tenant: Tenant::new(TENANT).expect("TENANT is a valid tenant token"),
            shape,
            rng,
            inds,
            queue: Default::default(),
            step: 0,
            steps,
            clock: start,
            closed: Vec::new(),
            produced: 0,
            setup_done: false,
        }
    }

    /// Events produced so far.
    pub fn events_produced(&self) -> u64 {
        self.produced
    }

    fn envelope(
        &mut self,
        kind: EntityKind,
        key: &str,
        body: EventBody,
        reason: Option<&str>,
    ) -> Envelope {
        let id = entity_id(&self.tenant, kind, key);
        let a = self.rng.next_u64();
        let b = self.rng.next_u64();
        let actor = if self.rng.per_mille(500) {
            "performance officer"
        } else {
            "import"
        };
        Envelope {
            event_id: Uuid::from_u64_pair(a, b),
            entity: EntityRef { kind, id },
            tenant: self.tenant.clone(),
            recorded_at: Timestamp(0),
            effective: body.period(),
            actor: text(actor),
            source: text(if actor == "import" { "import" } else { "web" }),
            reason: reason.map(text),
            correlation_id: Uuid::from_u64_pair(b, a),
            causation_id: None,
            command_id: Uuid::nil(),
            schema_version: SCHEMA_VERSION,
            body,
            command_digest: None,
            migrated_at: None,
        }
    }

    fn push(&mut self, kind: EntityKind, key: &str, body: EventBody, reason: Option<&str>) {
        let e = self.envelope(kind, key, body, reason);
        self.queue.push_back(vec![e]);
    }

    fn setup(&mut self) {
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

    fn ind_spec(&self, i: usize, unit: usize) -> IndicatorSpec {
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

    fn result_entry(&mut self) -> ResultEntry {
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

    fn target(&mut self) -> Target {
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

    fn is_closed(&self, p: Period) -> bool {
        self.closed.iter().any(|c| c.contains(p))
    }

    /// Queue the commits of one quarter.
    fn quarter(&mut self, q: Period) {
        let fy = q.financial_year();
        let first_q = matches!(q, Period::Quarter(_, 1));
        // A scheme change decided during the year, effective next year.
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
            if self.inds[i].retired {
                continue;
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
                months.clone()
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
                // Restate an earlier (or this) result.
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
                            &key,
                            EventBody::PostCloseRestatement {
                                period: p,
                                reason: text("audit correction after close"),
                            },
                            Some("audit correction after close"),
                        );
                        let ev = self.envelope(
                            EntityKind::Indicator,
                            &key,
                            body,
                            Some("audit correction after close"),
                        );
                        marker.command_id = ev.command_id;
                        self.queue.push_back(vec![marker, ev]);
                    } else {
                        self.push(
                            EntityKind::Indicator,
                            &key,
                            body,
                            Some("late data from the provider"),
                        );
                    }
                }
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
        let report_periods: Vec<Period> = if self.shape.monthly_reports {
            months.clone()
        } else {
            vec![q]
        };
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
        for r in 0..self.shape.risks {
            if self.risk_closed[r] {
                continue;
            }
            for rp in report_periods.clone() {
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
            for rp in report_periods.clone() {
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
            for rp in report_periods.clone() {
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
        for s in 0..self.shape.savings {
            for rp in report_periods.clone() {
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
        // Seal the council dashboard now and then (digest is a placeholder:
        // verification of generated seals is not the point here).
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
        // Close the quarter before last.
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

impl Iterator for Generator {
    type Item = Vec<Envelope>;

    fn next(&mut self) -> Option<Vec<Envelope>> {
        loop {
            if let Some(mut commit) = self.queue.pop_front() {
                // Recorded time: one second per commit from the period's
                // reporting date; 1 in 200 from a writer whose clock lags a day.
                self.clock += 1000;
                let mut at = self.clock;
                if self.rng.per_mille(5) {
                    at -= 86_400_000;
                }
                let cmd = Uuid::from_u64_pair(self.rng.next_u64(), self.rng.next_u64());
                for e in &mut commit {
                    e.recorded_at = Timestamp(at);
                    e.command_id = cmd;
                }
                self.produced += commit.len() as u64;
                return Some(commit);
            }
            if !self.setup_done {
                self.setup_done = true;
                self.setup();
                continue;
            }
            let q = *self.steps.get(self.step)?;
            if let Some(d) = q.end_date() {
                self.clock = self.clock.max(d.start().0 + 20 * 86_400_000);
            }
            self.quarter(q);
            self.step += 1;
        }
    }
}

/// A generated commit as a log append (subject from the entity, dedupe id
/// = command id, `Expected::Any`).
pub fn to_commit(events: &[Envelope]) -> Option<Commit> {
    let first = events.first()?;
    let subject = Subject::entity(
        "pl",
        first.tenant.as_str(),
        first.entity.kind.token(),
        first.entity.id,
    )
    .ok()?;
    let payload = encode_commit(events).ok()?;
    Some(Commit {
        subject,
        expected: Expected::Any,
        msg_id: first.command_id,
        recorded_at: first.recorded_at.0,
        payload: Bytes::from(payload),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FNV-1a over every commit as appended (subject, dedupe id, recorded
    /// time, payload) and the number of events.
    fn fingerprint(shape: Shape, seed: u64) -> (u64, u64) {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        let mut gen = Generator::new(shape, seed);
        for events in gen.by_ref() {
            let c = to_commit(&events).expect("generated commit encodes");
            eat(c.subject.as_str().as_bytes());
            eat(c.msg_id.as_bytes());
            eat(&c.recorded_at.to_be_bytes());
            eat(&c.payload);
        }
        (h, gen.events_produced())
    }

    /// Benchmarks and tests compare against figures of generated councils:
    /// the generator's output is pinned byte for byte (a change here is a
    /// change of every generated log, not a refactoring).
    #[test]
    fn generated_logs_are_pinned() {
        let monthly = Shape {
            monthly_per_mille: 500,
            monthly_reports: true,
            ..Shape::small()
        };
        let medium = Shape {
            units: 3,
            indicators: 40,
            actions: 10,
            risks: 10,
            revenue_lines: 5,
            capital_lines: 3,
            savings: 4,
            first_year: 2013,
            years: 6,
            monthly_per_mille: 300,
            restate_per_mille: 300,
            monthly_reports: false,
        };
        let got = [
            fingerprint(Shape::small(), 7),
            fingerprint(monthly, 11),
            fingerprint(medium, 2024),
        ];
        assert_eq!(
            got,
            [
                (11_275_753_615_636_348_366, 277),
                (6_404_924_209_625_636_954, 671),
                (5_182_797_737_082_021_807, 4_521),
            ]
        );
    }
}
