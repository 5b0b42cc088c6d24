//! The risk register: each risk's latest assessment up to a period, as of
//! S; heat maps and escalations count open risks only.

use perfledger_domain::event::EventBody;
use perfledger_domain::period::Period;
use perfledger_domain::risk::{Assessment, HeatMap};
use perfledger_domain::EntityKind;
use perfledger_log::Seq;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::R;
use crate::fact_roll::{Gather, Rolled, ScopeMembers};
use crate::keys::field;
use crate::store::FactRecord;
use crate::{AsOf, ReadModel};

/// A risk in the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskRow {
    /// Entity id.
    pub entity: Uuid,
    /// Risk id.
    pub risk_id: String,
    /// Unit.
    pub unit: String,
    /// Title.
    pub title: String,
    /// Owner.
    pub owner: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Period of the latest assessment.
    pub period: Option<Period>,
    /// Current assessment.
    pub current: Option<Assessment>,
    /// Current score.
    pub current_score: Option<u8>,
    /// Target assessment.
    pub target: Option<Assessment>,
    /// Target score.
    pub target_score: Option<u8>,
    /// Score ≥ 15.
    pub escalated: bool,
    /// Closed.
    pub closed: bool,
}

/// Current and target heat maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeatMaps {
    /// Current assessments.
    pub current: HeatMap,
    /// Target assessments.
    pub target: HeatMap,
}

/// The risk register of a unit (or the council) as of a position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskRegister {
    /// Sequence.
    pub as_of: Seq,
    /// Unit, None = council-wide.
    pub unit: Option<String>,
    /// Open risks (closed ones listed with `closed`).
    pub risks: Vec<RiskRow>,
    /// Heat maps of open risks.
    pub heat_maps: HeatMaps,
    /// Risk ids scoring 15+ (open risks).
    pub escalated: Vec<String>,
}

/// How far back (months before the period's end) the assessment rolls are
/// read for a risk's latest assessment; a risk not assessed within it is
/// looked up in its own slots.
const ASSESSMENT_WINDOW_MONTHS: u32 = 24;

/// Where risk rows read each risk's definition, closure and latest
/// assessment up to the period: from each risk's slots, or for a large
/// scope from the rolls ([`crate::fact_roll`]) — the assessments of the
/// last [`ASSESSMENT_WINDOW_MONTHS`], a risk assessed earlier (or never)
/// falling back to its own slots.
struct RiskFacts<'a> {
    rm: &'a ReadModel,
    upto: Option<Period>,
    s: Seq,
    /// The spec, status and windowed assessment rolls, when gathered rolled.
    rolled: Option<(Rolled, Rolled, Option<Rolled>)>,
}

impl<'a> RiskFacts<'a> {
    /// (`specs`: the definition roll if the scope's members were read from it.)
    fn new(
        rm: &'a ReadModel,
        gather: Gather,
        specs: Option<Rolled>,
        upto: Option<Period>,
        s: Seq,
    ) -> R<Self> {
        let roll = |fld| rm.fact_roll(EntityKind::Risk, fld, None, s);
        let rolled = match gather {
            Gather::ByEntity => None,
            Gather::Rolled => {
                let assessments = match upto {
                    Some(p) => {
                        let end = u32::try_from(p.months().last.0)
                            .expect("a period is validated to years 1900-9999, after month 0");
                        let from_end = end.saturating_sub(ASSESSMENT_WINDOW_MONTHS);
                        Some(rm.fact_roll_latest_upto(
                            EntityKind::Risk,
                            field::ASSESSMENT,
                            from_end,
                            None,
                            p,
                            s,
                        )?)
                    }
                    // No period: the latest of all, which no window bounds.
                    None => None,
                };
                let specs = match specs {
                    Some(specs) => specs,
                    None => roll(field::SPEC)?,
                };
                Some((specs, roll(field::STATUS)?, assessments))
            }
        };
        Ok(RiskFacts {
            rm,
            upto,
            s,
            rolled,
        })
    }

    fn spec(&self, id: Uuid) -> R<Option<FactRecord>> {
        match &self.rolled {
            Some((spec, _, _)) => spec.fact(&id),
            None => self.rm.fact_at(id, field::SPEC, None, self.s),
        }
    }

    /// Closed (retired) as of s.
    fn closed(&self, id: Uuid) -> R<bool> {
        match &self.rolled {
            Some((_, status, _)) => Ok(status.get(&id).is_some()),
            None => self.rm.ended_at(id, self.s),
        }
    }

    fn latest_assessment(&self, id: Uuid) -> R<Option<FactRecord>> {
        if let Some((_, _, Some(window))) = &self.rolled {
            if let Some(found) = window.fact(&id)? {
                return Ok(Some(found));
            }
        }
        self.rm
            .fact_latest_upto(id, field::ASSESSMENT, None, self.upto, self.s)
    }
}

impl ReadModel {
    pub(crate) fn risk_rows(
        &self,
        unit: Option<&str>,
        upto: Option<Period>,
        s: Seq,
    ) -> R<Vec<RiskRow>> {
        self.risk_rows_gathered(unit, upto, s, None)
    }

    /// [`ReadModel::risk_rows`], gathered one way (None: the cheaper for
    /// the scope, [`ReadModel::scope_members`]).
    pub(crate) fn risk_rows_gathered(
        &self,
        unit: Option<&str>,
        upto: Option<Period>,
        s: Seq,
        gather: Option<Gather>,
    ) -> R<Vec<RiskRow>> {
        let ScopeMembers { ids, gather, specs } =
            self.scope_members(unit, EntityKind::Risk, s, gather)?;
        let facts = RiskFacts::new(self, gather, specs, upto, s)?;
        let mut out = Vec::new();
        for id in ids {
            let Some(EventBody::RiskRegistered { spec }) = facts.spec(id)?.map(|f| f.body) else {
                continue;
            };
            let closed = facts.closed(id)?;
            let (period, current, target) = match facts.latest_assessment(id)? {
                Some(FactRecord {
                    period,
                    body:
                        EventBody::RiskAssessed {
                            current, target, ..
                        },
                    ..
                }) => (period, Some(current), target),
                _ => (None, None, None),
            };
            out.push(RiskRow {
                entity: id,
                risk_id: spec.risk_id.to_string(),
                unit: spec.unit.to_string(),
                title: spec.title.to_string(),
                owner: spec.owner.map(|o| o.to_string()),
                category: spec.category.map(|c| c.to_string()),
                period,
                current_score: current.map(|a| a.score()),
                target_score: target.map(|a| a.score()),
                escalated: current.is_some_and(|a| a.escalated()),
                current,
                target,
                closed,
            });
        }
        out.sort_by(|a, b| a.risk_id.cmp(&b.risk_id).then(a.entity.cmp(&b.entity)));
        Ok(out)
    }

    /// The risk register (latest assessments) as of a position.
    pub fn risks(&self, unit: Option<&str>, at: AsOf) -> R<RiskRegister> {
        let s = self.resolve(at)?;
        self.check_unit(unit, s)?;
        let rows = self.risk_rows(unit, None, s)?;
        let open: Vec<&RiskRow> = rows.iter().filter(|r| !r.closed).collect();
        let heat_maps = HeatMaps {
            current: HeatMap::from_assessments(open.iter().filter_map(|r| r.current.as_ref())),
            target: HeatMap::from_assessments(open.iter().filter_map(|r| r.target.as_ref())),
        };
        let escalated = open
            .iter()
            .filter(|r| r.escalated)
            .map(|r| r.risk_id.clone())
            .collect();
        Ok(RiskRegister {
            as_of: s,
            unit: match unit {
                Some(u) => Some(self.unit_name(u, s)?),
                None => None,
            },
            risks: rows,
            heat_maps,
            escalated,
        })
    }

    /// The 5×5 heat maps (current and target) of a unit or the council.
    pub fn heat_map(&self, unit: Option<&str>, at: AsOf) -> R<HeatMaps> {
        Ok(self.risks(unit, at)?.heat_maps)
    }
}
