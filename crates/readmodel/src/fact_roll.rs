//! Fact rolls: one period's versions of one field of every entity of a
//! kind (definitions and closures: all of them, having no period), kept
//! together, so that a council-wide view reads a period's results,
//! targets, forecasts, assessments or definitions in a few dozen gets
//! instead of three to five per entity scattered over the whole tree.
//! The price is a second copy of those records: the 1M-event read model
//! is about 1.8 times the size on disk, and a rebuild writes that much more.
//!
//! Invariant: the roll of (kind, field, period) holds exactly one version
//! per event that wrote that field and period of an entity of that kind
//! listed in [`ROLLED`], at the event's (seq, index), whose record is the
//! entity's id followed by the very record its own slot got
//! (`entity(16) ++ FactRecord`). The projector writes it beside the
//! entity's slot, from the same event, in the same batch, so the latest
//! roll version of an entity at or below S is the version `fact_at` finds
//! in its slot at S. A roll is split in 16 parts by the high four bits of
//! the entity id's first byte ([`keys::fact_roll_key`]); each part is a
//! slot in the `versions` layout (staging, crash recovery and corruption
//! checks are the slots' own).
//!
//! The action-status roll ([`crate::action_roll`]) predates this one and
//! keeps its own compact record; both read their parts with
//! [`ReadModel::latest_by_entity`].

use perfledger_domain::period::Period;
use perfledger_domain::EntityKind;
use perfledger_log::Seq;
use uuid::Uuid;

use crate::keys::{self, field};
use crate::store::{self, FactRecord};
use crate::versions;
use crate::{ReadModel, ReadModelError};

/// The (kind, field) pairs the projector rolls: what the council-wide
/// dashboard reads for every indicator, finance line and risk, and the
/// definitions of every kind it counts (which list the council's members:
/// [`ReadModel::scope_members`]).
pub(crate) const ROLLED: &[(EntityKind, u8)] = &[
    (EntityKind::Indicator, field::SPEC),
    (EntityKind::Indicator, field::TARGET),
    (EntityKind::Indicator, field::RESULT),
    (EntityKind::RevenueLine, field::SPEC),
    (EntityKind::RevenueLine, field::BUDGET),
    (EntityKind::RevenueLine, field::FORECAST),
    (EntityKind::CapitalLine, field::SPEC),
    (EntityKind::CapitalLine, field::BUDGET),
    (EntityKind::CapitalLine, field::FORECAST),
    (EntityKind::Saving, field::SPEC),
    (EntityKind::Saving, field::DELIVERY),
    (EntityKind::Risk, field::SPEC),
    (EntityKind::Risk, field::STATUS),
    (EntityKind::Risk, field::ASSESSMENT),
    (EntityKind::Action, field::SPEC),
];

/// At least this many entities of a kind in scope and a view reads the
/// period's rolls (a few dozen gets, whatever the scope) rather than each
/// entity's slots (three to five gets each).
const ROLLS_FROM_MEMBERS: usize = 100;

/// How a view gathers its entities' facts: both give the same facts (the
/// rolls' invariant; tests compare them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gather {
    /// Each entity's own slots.
    ByEntity,
    /// The period's rolls.
    Rolled,
}

impl Gather {
    /// The cheaper way for a scope of `members` entities of one kind.
    pub(crate) fn for_members(members: usize) -> Gather {
        if members >= ROLLS_FROM_MEMBERS {
            Gather::Rolled
        } else {
            Gather::ByEntity
        }
    }
}

/// Is this field of this kind rolled?
pub(crate) fn is_rolled(kind: EntityKind, fld: u8) -> bool {
    ROLLED.contains(&(kind, fld))
}

/// The roll record of a fact: the entity, then the slot's record.
pub(crate) fn record(entity: Uuid, fact_record: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + fact_record.len());
    out.extend_from_slice(entity.as_bytes());
    out.extend_from_slice(fact_record);
    out
}

/// Where one entity's latest roll version lies: in which part value and at
/// which bytes of it (the record after the entity id).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Latest {
    pub entity: Uuid,
    pub seq: Seq,
    part: usize,
    start: usize,
    end: usize,
}

/// Every entity's latest version of a roll at or below a position, in
/// entity order, borrowing the parts' values (nothing decoded until asked).
pub(crate) struct Rolled {
    parts: Vec<(sled::IVec, sled::IVec)>,
    latest: Vec<Latest>,
}

impl Rolled {
    /// The entity's latest record (after its id), if it has one.
    pub fn get(&self, id: &Uuid) -> Option<(&Latest, &[u8])> {
        let i = self.latest.binary_search_by(|l| l.entity.cmp(id)).ok()?;
        let l = &self.latest[i];
        Some((l, &self.parts[l.part].1[l.start..l.end]))
    }

    /// The key of the part an entry was read from (for errors).
    pub fn key_of(&self, l: &Latest) -> &[u8] {
        &self.parts[l.part].0
    }

    /// No entity has a version.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// How many entities have a version.
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    /// Each entity's latest record (after its id), in entity order.
    pub fn iter(&self) -> impl Iterator<Item = (&Latest, &[u8])> {
        self.latest
            .iter()
            .map(|l| (l, &self.parts[l.part].1[l.start..l.end]))
    }

    /// The entity's latest fact record, decoded.
    pub fn fact(&self, id: &Uuid) -> Result<Option<FactRecord>, ReadModelError> {
        match self.get(id) {
            Some((l, bytes)) => Ok(Some(store::decode_fact(self.key_of(l), bytes)?)),
            None => Ok(None),
        }
    }
}

/// The entities of one kind in a scope as of s, and how to gather their facts.
pub(crate) struct ScopeMembers {
    /// In id order.
    pub ids: Vec<Uuid>,
    pub gather: Gather,
    /// The kind's definition roll, when it listed the members.
    pub specs: Option<Rolled>,
}

impl ReadModel {
    /// The members of `kind` in `unit` (None: council-wide) as of s and
    /// how to gather their facts (`gather`, or the cheaper for the scope).
    ///
    /// Council-wide, rolled, the kind's definition roll lists them without
    /// reading a membership: every definition stages its entity's
    /// membership in the same event (`project::apply`, a definition always
    /// names a unit; a move leaves one unit and joins another at the same
    /// sequence), so the entities defined by s are exactly the council's
    /// members at s. Tests compare both.
    pub(crate) fn scope_members(
        &self,
        unit: Option<&str>,
        kind: EntityKind,
        s: Seq,
        gather: Option<Gather>,
    ) -> Result<ScopeMembers, ReadModelError> {
        if unit.is_none() && gather != Some(Gather::ByEntity) {
            let specs = self.fact_roll(kind, field::SPEC, None, s)?;
            if gather == Some(Gather::Rolled) || Gather::for_members(specs.len()) == Gather::Rolled
            {
                return Ok(ScopeMembers {
                    ids: specs.iter().map(|(l, _)| l.entity).collect(),
                    gather: Gather::Rolled,
                    specs: Some(specs),
                });
            }
        }
        let ids = self.members(unit, kind, s)?;
        let gather = gather.unwrap_or(Gather::for_members(ids.len()));
        Ok(ScopeMembers {
            ids,
            gather,
            specs: None,
        })
    }

    /// Every entity's latest version at or below s among the roll parts
    /// under `prefix`, whose versions are all of period `pk` and whose
    /// records start with the entity's id.
    pub(crate) fn latest_by_entity(
        &self,
        prefix: &[u8],
        pk: [u8; 8],
        s: Seq,
    ) -> Result<Rolled, ReadModelError> {
        let hi = keys::prefix_end(prefix);
        self.latest_in_rolls(prefix.to_vec()..hi, s, |key, v| {
            if v.period != pk {
                return Err(ReadModelError::Corrupt {
                    key: hex::encode(key),
                    detail: "roll version: of another period".to_string(),
                });
            }
            Ok(true)
        })
    }

    /// Every entity's greatest (period, seq, index) version at or below s
    /// that `accept`s, among the roll parts in `range` (whose records start
    /// with the entity's id).
    fn latest_in_rolls(
        &self,
        range: std::ops::Range<Vec<u8>>,
        s: Seq,
        accept: impl Fn(&[u8], &versions::VersionRef<'_>) -> Result<bool, ReadModelError>,
    ) -> Result<Rolled, ReadModelError> {
        let mut parts = Vec::new();
        let mut all = Vec::new();
        for r in self.tree.range(range) {
            let (k, value) = r?;
            let part = parts.len();
            // Versions of one part are in (period, seq, index) order; a
            // later version of a period may still be at or below s, so the
            // whole part is read.
            for v in versions::iter(&k, &value) {
                let v = v?;
                if v.seq > s || !accept(&k, &v)? {
                    continue;
                }
                let Some(id) = v.record.get(..16) else {
                    return Err(ReadModelError::Corrupt {
                        key: hex::encode(&k),
                        detail: "roll version: shorter than an entity id".to_string(),
                    });
                };
                let entity = Uuid::from_slice(id).expect("16 bytes are a uuid");
                // The record's offset in the value (`iter` borrows it from there).
                let start = v.record.as_ptr() as usize - value.as_ptr() as usize + 16;
                all.push(Latest {
                    entity,
                    seq: v.seq,
                    part,
                    start,
                    end: start + v.record.len() - 16,
                });
            }
            parts.push((k, value));
        }
        // Keys are in (period, part) order and an entity's versions are all
        // in its own part, so each entity's versions were met in (period,
        // seq, index) order; a stable sort by entity keeps that order and
        // the last of each run is the greatest.
        all.sort_by_key(|l| l.entity);
        let mut latest: Vec<Latest> = Vec::with_capacity(all.len());
        for l in all {
            match latest.last_mut() {
                Some(last) if last.entity == l.entity => *last = l,
                _ => latest.push(l),
            }
        }
        Ok(Rolled { parts, latest })
    }

    /// Every entity's latest (kind, field) fact of the latest period
    /// ending no later than `upto`, no earlier than month `from_end` and
    /// (if given) starting no earlier than month `min_start`, as of s: what
    /// [`ReadModel::fact_latest_upto`] finds in each entity's slots, for
    /// all of them at once, when the answer ends in the window (the
    /// periods' rolls from `from_end` to `upto`). Periods sort by end
    /// month first, so a version in the window is later than any before it.
    pub(crate) fn fact_roll_latest_upto(
        &self,
        kind: EntityKind,
        fld: u8,
        from_end: u32,
        min_start: Option<u32>,
        upto: Period,
        s: Seq,
    ) -> Result<Rolled, ReadModelError> {
        assert!(
            is_rolled(kind, fld),
            "fact_roll_latest_upto of a field the projector does not roll: {kind:?} {fld}"
        );
        let upto_key = keys::period_bytes(upto);
        let mut lo_period = [0u8; 8];
        lo_period[..4].copy_from_slice(&from_end.to_be_bytes());
        let lo = keys::fact_roll_prefix(kind, fld, lo_period);
        let hi = keys::prefix_end(&keys::fact_roll_prefix(kind, fld, upto_key));
        self.latest_in_rolls(lo..hi, s, |_, v| {
            Ok(v.period <= upto_key && min_start.is_none_or(|ms| v.start_month() >= ms))
        })
    }

    /// Every entity's latest (kind, field) fact for `period` (None: the
    /// field has no period, as definitions) as of s.
    pub(crate) fn fact_roll(
        &self,
        kind: EntityKind,
        fld: u8,
        period: Option<Period>,
        s: Seq,
    ) -> Result<Rolled, ReadModelError> {
        assert!(
            is_rolled(kind, fld),
            "fact_roll of a field the projector does not roll: {kind:?} {fld}"
        );
        let pk = versions::period_key(period);
        self.latest_by_entity(&keys::fact_roll_prefix(kind, fld, pk), pk, s)
    }
}

#[cfg(test)]
mod tests {
    use perfledger_domain::event::EventBody;
    use perfledger_domain::period::{FinancialYear, Period};
    use perfledger_domain::{Envelope, Fixed, Tenant};
    use perfledger_testkit::council::{unit_name, Generator, Shape, TENANT};
    use uuid::Uuid;

    use super::{field, Gather, ROLLED};
    use crate::project::tests::sequenced;
    use crate::{AsOf, Projector, ReadModel};

    /// A council of 40 indicators, 30 revenue and 12 capital lines, 20
    /// savings, 12 risks and 20 key actions over three years (restatements, revised targets, amended
    /// definitions, lines moving units), projected; with the periods it
    /// reports and a spread of positions.
    fn council() -> (ReadModel, Vec<Period>, Vec<u64>) {
        council_with(|commits| commits)
    }

    /// [`council`] with its generated commits changed by `edit` before
    /// they are projected.
    fn council_with(
        edit: impl FnOnce(Vec<Vec<Envelope>>) -> Vec<Vec<Envelope>>,
    ) -> (ReadModel, Vec<Period>, Vec<u64>) {
        let shape = Shape {
            indicators: 40,
            revenue_lines: 30,
            capital_lines: 12,
            savings: 20,
            risks: 12,
            actions: 20,
            monthly_per_mille: 300,
            ..Shape::small()
        };
        let commits = edit(Generator::new(shape.clone(), 3).collect());
        let records = sequenced(&commits);
        let rm = ReadModel::open_temporary(&Tenant::new(TENANT).unwrap()).unwrap();
        Projector::new(&rm).apply_records(&records).unwrap();
        let head = records.len() as u64;
        let mut periods = Vec::new();
        for y in shape.first_year..shape.first_year + shape.years + 1 {
            let fy = FinancialYear(y);
            periods.push(Period::Year(fy));
            periods.extend((1..=2).map(|h| Period::Half(fy, h)));
            periods.extend((1..=4).map(|q| Period::Quarter(fy, q)));
            periods.extend((1..=12).map(|m| Period::Month(y, m)));
        }
        let step = usize::try_from(head / 40).unwrap().max(1);
        let positions = (1..=head).step_by(step).chain([head]).collect();
        (rm, periods, positions)
    }

    /// The scopes at s: the council, then each unit.
    fn scopes(rm: &ReadModel, s: u64) -> Vec<Option<String>> {
        std::iter::once(None)
            .chain(
                rm.units(AsOf::Seq(s))
                    .unwrap()
                    .into_iter()
                    .map(|u| Some(u.name)),
            )
            .collect()
    }

    /// The rolls' invariant, end to end, for the dashboard's indicator
    /// lines: at every position and for every period, the lines gathered
    /// from the rolls are the lines gathered from each indicator's own
    /// slots, for the council and for each unit.
    #[test]
    fn rolled_lines_are_the_lines_of_each_indicators_slots() {
        let (rm, periods, positions) = council();
        let mut compared = 0usize;
        for &s in &positions {
            let schemes = rm.schemes_at(s).unwrap();
            for unit in scopes(&rm, s) {
                for p in &periods {
                    let gathered = |g| {
                        rm.indicator_lines_gathered(unit.as_deref(), *p, s, &schemes, Some(g))
                            .unwrap()
                    };
                    let by_entity = gathered(Gather::ByEntity);
                    assert_eq!(gathered(Gather::Rolled), by_entity, "{unit:?} {p:?} at {s}");
                    compared += by_entity.len();
                }
            }
        }
        assert!(compared > 1000, "only {compared} lines compared");
    }

    /// The finance view and provenance of `unit` for `p` as of `s`, gathered
    /// from each line's slots, after checking the rolls give the same.
    fn finance_both_ways(
        rm: &ReadModel,
        unit: Option<&str>,
        p: Period,
        s: u64,
    ) -> (crate::FinanceView, crate::query::FinanceProvenance) {
        let gathered = |g| rm.finance_facts_gathered(unit, p, s, Some(g)).unwrap();
        let by_entity = gathered(Gather::ByEntity);
        let rolled = gathered(Gather::Rolled);
        assert_eq!(rolled.0, by_entity.0, "{unit:?} {p:?} at {s}");
        assert_eq!(rolled.1, by_entity.1, "{unit:?} {p:?} at {s}");
        by_entity
    }

    /// The same for the finance view: every row, total and provenance
    /// (definition, budget and the forecast or delivery record shown,
    /// carried forward within the financial year) is the same either way.
    #[test]
    fn rolled_finance_is_the_finance_of_each_lines_slots() {
        let (rm, periods, positions) = council();
        let mut compared = 0usize;
        for &s in &positions {
            for unit in scopes(&rm, s) {
                for p in &periods {
                    let by_entity = finance_both_ways(&rm, unit.as_deref(), *p, s);
                    let v = &by_entity.0;
                    compared += v.revenue.len() + v.capital.len() + v.savings.len();
                    compared += by_entity
                        .1
                        .revenue
                        .iter()
                        .filter(|r| r.latest.is_some())
                        .count();
                }
            }
        }
        assert!(compared > 5000, "only {compared} rows compared");
    }

    /// Another period ending in a quarter's last month: that month, or
    /// (every other time, for the second and fourth quarters) the half year.
    fn other_ending_with(p: Period, nth: usize) -> Option<Period> {
        let Period::Quarter(fy, q) = p else {
            return None;
        };
        Some(match (q, nth % 2) {
            (2 | 4, 1) => Period::Half(fy, q / 2),
            (4, _) => Period::Month(fy.0 + 1, 3),
            _ => Period::Month(fy.0, 3 + 3 * q),
        })
    }

    /// Two forecasts of different lengths ending in the same month (a Q1
    /// and a monthly June, a Q2 and a first half) for one line: the rolls'
    /// period order must pick, at every period and position, the record
    /// each line's own slots pick. The generator submits one forecast per
    /// line and quarter; here every revenue and capital forecast gets a
    /// twin for another period ending in the same month, with another
    /// figure, submitted before it or after it in turn.
    #[test]
    fn rolled_finance_agrees_on_periods_ending_in_the_same_month() {
        let mut twins = 0usize;
        let (rm, periods, positions) = council_with(|commits| {
            let mut out = Vec::with_capacity(commits.len());
            for commit in commits {
                let twin = match commit.as_slice() {
                    [e] => twin_forecast(e, twins),
                    _ => None,
                };
                match twin {
                    Some(t) if twins.is_multiple_of(2) => out.extend([vec![t], commit]),
                    Some(t) => out.extend([commit, vec![t]]),
                    None => {
                        out.push(commit);
                        continue;
                    }
                }
                twins += 1;
            }
            out
        });
        assert!(twins > 100, "only {twins} twin forecasts");
        let mut shown_twins = 0usize;
        for &s in &positions {
            for unit in [None, Some(unit_name(1))] {
                for p in &periods {
                    let by_entity = finance_both_ways(&rm, unit.as_deref(), *p, s);
                    shown_twins += by_entity
                        .0
                        .revenue
                        .iter()
                        .map(|r| r.forecast_period)
                        .chain(by_entity.0.capital.iter().map(|r| r.forecast_period))
                        .filter(|fp| matches!(fp, Some(Period::Month(..) | Period::Half(..))))
                        .count();
                }
            }
        }
        assert!(shown_twins > 100, "only {shown_twins} twin forecasts shown");
    }

    /// A quarter's revenue or capital forecast's twin for another period
    /// ending in the same month ([`other_ending_with`]), its figure changed.
    fn twin_forecast(e: &Envelope, nth: usize) -> Option<Envelope> {
        let bump = |f: Fixed| Fixed::from_raw(f.raw() + 1_230_000);
        let mut twin = e.clone();
        let other = match &mut twin.body {
            EventBody::RevenueForecastSubmitted {
                period, forecast, ..
            } => {
                let other = other_ending_with(*period, nth)?;
                (*period, *forecast) = (other, bump(*forecast));
                other
            }
            EventBody::CapitalForecastSubmitted {
                period, forecast, ..
            } => {
                let other = other_ending_with(*period, nth)?;
                (*period, *forecast) = (other, bump(*forecast));
                other
            }
            _ => return None,
        };
        twin.effective = Some(other);
        let n = u64::try_from(nth).expect("a test's count fits");
        twin.event_id = Uuid::from_u64_pair(0x7717, n);
        twin.command_id = Uuid::from_u64_pair(0x0077_17c0, n);
        Some(twin)
    }

    /// The same for risk rows: definition, closure and the latest
    /// assessment up to the period (from the window's rolls, or a risk's
    /// own slots when it was not assessed within it), and for the
    /// register's "latest of all".
    #[test]
    fn rolled_risks_are_the_risks_of_each_risks_slots() {
        let (rm, periods, positions) = council();
        let mut compared = 0usize;
        for &s in &positions {
            for unit in scopes(&rm, s) {
                for p in periods.iter().copied().map(Some).chain([None]) {
                    let by_entity = rm
                        .risk_rows_gathered(unit.as_deref(), p, s, Some(Gather::ByEntity))
                        .unwrap();
                    let rolled = rm
                        .risk_rows_gathered(unit.as_deref(), p, s, Some(Gather::Rolled))
                        .unwrap();
                    assert_eq!(rolled, by_entity, "{unit:?} {p:?} at {s}");
                    compared += by_entity.iter().filter(|r| r.current.is_some()).count();
                }
            }
        }
        assert!(compared > 1000, "only {compared} assessed rows compared");
    }

    /// Council-wide, the definition rolls list exactly the entities the
    /// memberships give, for every kind that has one.
    #[test]
    fn definition_rolls_list_the_councils_members() {
        let (rm, _, positions) = council();
        for &s in &positions {
            for (kind, fld) in ROLLED {
                if *fld != field::SPEC {
                    continue;
                }
                let listed = rm
                    .scope_members(None, *kind, s, Some(Gather::Rolled))
                    .unwrap();
                assert_eq!(listed.gather, Gather::Rolled);
                let members = rm.members(None, *kind, s).unwrap();
                assert_eq!(listed.ids, members, "{kind:?} at {s}");
            }
        }
    }

    /// The same for key actions (the pack's rows): definitions from the
    /// roll or from each action's slot, every row and its provenance alike.
    #[test]
    fn rolled_action_rows_are_the_rows_of_each_actions_slots() {
        let (rm, periods, positions) = council();
        let mut compared = 0usize;
        for &s in &positions {
            for unit in scopes(&rm, s) {
                for p in &periods {
                    let gathered = |g| {
                        rm.action_facts_gathered(unit.as_deref(), *p, s, false, Some(g))
                            .unwrap()
                            .into_iter()
                            .map(|a| (a.row, a.spec_seq, a.status_seq))
                            .collect::<Vec<_>>()
                    };
                    let by_entity = gathered(Gather::ByEntity);
                    assert_eq!(gathered(Gather::Rolled), by_entity, "{unit:?} {p:?} at {s}");
                    compared += by_entity.iter().filter(|a| a.2.is_some()).count();
                }
            }
        }
        assert!(compared > 100, "only {compared} reported actions compared");
    }
}
