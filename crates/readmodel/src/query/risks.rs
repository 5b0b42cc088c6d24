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

impl ReadModel {
    pub(crate) fn risk_rows(
        &self,
        unit: Option<&str>,
        upto: Option<Period>,
        s: Seq,
    ) -> R<Vec<RiskRow>> {
        let mut out = Vec::new();
        for id in self.members(unit, EntityKind::Risk, s)? {
            let Some(EventBody::RiskRegistered { spec }) = self.spec_at(id, s)? else {
                continue;
            };
            let closed = self.ended_at(id, s)?;
            let (period, current, target) =
                match self.fact_latest_upto(id, field::ASSESSMENT, None, upto, s)? {
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
