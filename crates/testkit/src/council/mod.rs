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
use perfledger_domain::event::EntityRef;
use perfledger_domain::indicator::Value;
use perfledger_domain::period::{FinancialYear, Period};
use perfledger_domain::{
    encode_commit, entity_id, Date, EntityKind, Envelope, EventBody, Fixed, Tenant, Text,
    Timestamp, SCHEMA_VERSION,
};
use perfledger_log::{Commit, Expected, Subject};
use uuid::Uuid;

mod define;
mod quarter;
#[cfg(test)]
mod tests;

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
