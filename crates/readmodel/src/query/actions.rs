//! Key actions and their status for a period, as of S.

use perfledger_domain::action::ActionStatus;
use perfledger_domain::event::EventBody;
use perfledger_domain::period::Period;
use perfledger_domain::EntityKind;
use perfledger_log::Seq;
use serde::{Deserialize, Serialize};

use super::R;
use crate::fact_roll::{Gather, ScopeMembers};
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

/// An [`ActionRow`] with the log sequences it was read from: the action's
/// definition in force and, when it has one, its status for the period (the
/// committee pack's provenance of the row).
#[derive(Debug, Clone)]
pub(crate) struct ActionFacts {
    pub row: ActionRow,
    pub spec_seq: Seq,
    pub status_seq: Option<Seq>,
}

impl ReadModel {
    pub(super) fn action_rows(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
    ) -> R<Vec<ActionRow>> {
        Ok(self
            .action_facts(unit, period, s, false)?
            .into_iter()
            .map(|a| a.row)
            .collect())
    }

    /// The statuses the scope's key actions report for the period as of s,
    /// in entity order: what a dashboard counts. Read from the period's
    /// roll ([`crate::action_roll`]); definitions are not read: a
    /// membership is staged from its definition (`project::apply`), so
    /// every member at s has one; the rows that print them come from
    /// [`ReadModel::action_facts`].
    pub(crate) fn action_statuses(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
    ) -> R<Vec<ActionStatus>> {
        let roll = self.action_roll(period, s)?;
        Ok(self
            .scope_members(unit, EntityKind::Action, s, None)?
            .ids
            .into_iter()
            .filter_map(|id| roll.get(&id).map(|r| r.status))
            .collect())
    }

    /// The key actions of the scope as of s in (unit, reference) order,
    /// each with its status for the period; with `reported_only`, only those
    /// with a status (the ones the dashboard counts and the pack prints),
    /// whose definitions are then the only ones read.
    pub(crate) fn action_facts(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
        reported_only: bool,
    ) -> R<Vec<ActionFacts>> {
        self.action_facts_gathered(unit, period, s, reported_only, None)
    }

    /// [`ReadModel::action_facts`], gathered one way (None: the cheaper for
    /// the scope, [`ReadModel::scope_members`]): the definitions from each
    /// action's slot or from the definition roll.
    pub(crate) fn action_facts_gathered(
        &self,
        unit: Option<&str>,
        period: Period,
        s: Seq,
        reported_only: bool,
        gather: Option<Gather>,
    ) -> R<Vec<ActionFacts>> {
        let mut out = Vec::new();
        let roll = self.action_roll(period, s)?;
        let ScopeMembers { ids, gather, specs } =
            self.scope_members(unit, EntityKind::Action, s, gather)?;
        let specs = match (gather, specs) {
            (Gather::ByEntity, _) => None,
            (Gather::Rolled, Some(specs)) => Some(specs),
            (Gather::Rolled, None) => {
                Some(self.fact_roll(EntityKind::Action, field::SPEC, None, s)?)
            }
        };
        for id in ids {
            let rolled = roll.get(&id);
            if reported_only && rolled.is_none() {
                continue;
            }
            let spec_record = match &specs {
                Some(specs) => specs.fact(&id)?,
                None => self.fact_at(id, field::SPEC, None, s)?,
            };
            let Some(FactRecord {
                body: EventBody::ActionDefined { spec },
                seq: spec_seq,
                ..
            }) = spec_record
            else {
                continue;
            };
            let comment = match rolled {
                // The comment is only in the action's own slot: the same
                // version the roll found (see `action_roll`).
                Some(r) if r.commented => self.status_comment(id, period, s, r.seq)?,
                _ => None,
            };
            let (status, status_seq) = match rolled {
                Some(r) => (Some(r.status), Some(r.seq)),
                None => (None, None),
            };
            out.push(ActionFacts {
                row: ActionRow {
                    reference: spec.reference.to_string(),
                    unit: spec.unit.to_string(),
                    description: spec.description.to_string(),
                    due: spec.due.map(|d| d.to_string()),
                    status,
                    comment,
                },
                spec_seq,
                status_seq,
            });
        }
        out.sort_by(|a, b| (&a.row.unit, &a.row.reference).cmp(&(&b.row.unit, &b.row.reference)));
        Ok(out)
    }

    /// The comment of the status version at `seq` in the action's slot: the
    /// version the roll gave, or the read model is corrupt.
    fn status_comment(
        &self,
        id: uuid::Uuid,
        period: Period,
        s: Seq,
        seq: Seq,
    ) -> R<Option<String>> {
        match self.fact_at(id, field::ACTION_STATUS, Some(period), s)? {
            Some(FactRecord {
                body: EventBody::ActionStatusReported { comment, .. },
                seq: found,
                ..
            }) if found == seq => Ok(comment.map(|c| c.to_string())),
            _ => Err(crate::ReadModelError::Corrupt {
                key: hex::encode(crate::keys::slot_key(
                    id,
                    field::ACTION_STATUS,
                    crate::keys::period_bytes(period),
                )),
                detail: format!(
                    "the action-status roll names the status at sequence {seq}, the action's slot does not"
                ),
            }),
        }
    }

    /// Key actions and their statuses for a period.
    pub fn actions(&self, unit: Option<&str>, period: Period, at: AsOf) -> R<Vec<ActionRow>> {
        let s = self.resolve(at)?;
        self.check_unit(unit, s)?;
        self.action_rows(unit, period, s)
    }
}
