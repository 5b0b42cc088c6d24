//! Key actions and their status for a period, as of S.

use perfledger_domain::action::ActionStatus;
use perfledger_domain::event::EventBody;
use perfledger_domain::period::Period;
use perfledger_domain::EntityKind;
use perfledger_log::Seq;
use serde::{Deserialize, Serialize};

use super::R;
use crate::keys::field;
use crate::store::FactRecord;
use crate::{AsOf, ReadModel};

/// A key action's status for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRow {
    /// Reference.
    pub reference: String,
    /// Unit.
    pub unit: String,
    /// Description.
    pub description: String,
    /// Due.
    pub due: Option<String>,
    /// Status for the period.
    pub status: Option<ActionStatus>,
    /// Comment.
    pub comment: Option<String>,
}

impl ReadModel {
    pub(super) fn action_rows(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
    ) -> R<Vec<ActionRow>> {
        let mut out = Vec::new();
        for id in self.members(unit, EntityKind::Action, s)? {
            let Some(EventBody::ActionDefined { spec }) = self.spec_at(id, s)? else {
                continue;
            };
            let (status, comment) = match self.fact_at(id, field::ACTION_STATUS, Some(period), s)? {
                Some(FactRecord {
                    body:
                        EventBody::ActionStatusReported {
                            status, comment, ..
                        },
                    ..
                }) => (Some(status), comment.map(|c| c.to_string())),
                _ => (None, None),
            };
            out.push(ActionRow {
                reference: spec.reference.to_string(),
                unit: spec.unit.to_string(),
                description: spec.description.to_string(),
                due: spec.due.map(|d| d.to_string()),
                status,
                comment,
            });
        }
        out.sort_by(|a, b| (&a.unit, &a.reference).cmp(&(&b.unit, &b.reference)));
        Ok(out)
    }

    /// Key actions and their statuses for a period.
    pub fn actions(&self, unit: Option<&str>, period: Period, at: AsOf) -> R<Vec<ActionRow>> {
        let s = self.resolve(at)?;
        self.check_unit(unit, s)?;
        self.action_rows(unit, period, s)
    }
}
