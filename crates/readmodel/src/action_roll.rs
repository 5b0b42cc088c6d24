//! The action-status roll: every key-action status reported for a period,
//! kept together so that a dashboard (which counts them) and a pack (which
//! prints them) read a period's statuses in a few gets instead of one per
//! action.
//!
//! Invariant: the roll of period P holds exactly one version per
//! `ActionStatusReported` event for P, at the event's (seq, index), whose
//! record names the action, the status and whether the event carried a
//! comment. It is written by the projector beside the action's own
//! `ACTION_STATUS` slot, from the same event in the same batch, so the
//! latest roll version of an action at or below S is the status its slot
//! gives at S. The roll is split in 16 parts by the first byte of the
//! action's id ([`keys::action_roll_key`]); each part is a slot in the
//! `versions` layout, so the projector's staging, crash recovery (versions
//! above the checkpoint dropped on load) and corruption checks are the
//! slots' own; its parts are read with the fact rolls' reader
//! ([`ReadModel::latest_by_entity`]).
//!
//! Record layout: `entity(16) status(1) commented(1)`, the status as its
//! index in [`ActionStatus::ALL`] (whose order is fixed: it is also the
//! events' wire order).

use perfledger_domain::action::ActionStatus;
use perfledger_domain::period::Period;
use perfledger_log::Seq;
use uuid::Uuid;

use crate::keys;
use crate::{ReadModel, ReadModelError};

const RECORD_LEN: usize = 16 + 1 + 1;

/// The roll record of one status event.
pub(crate) fn record(entity: Uuid, status: ActionStatus, commented: bool) -> Vec<u8> {
    let index = ActionStatus::ALL
        .iter()
        .position(|s| *s == status)
        .expect("every ActionStatus is in ActionStatus::ALL");
    let mut out = Vec::with_capacity(RECORD_LEN);
    out.extend_from_slice(entity.as_bytes());
    out.push(u8::try_from(index).expect("five statuses fit a byte"));
    out.push(u8::from(commented));
    out
}

/// An action's latest status for a period as of some position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RolledStatus {
    pub status: ActionStatus,
    /// The status event's sequence.
    pub seq: Seq,
    /// The event carried a comment (read it from the action's slot).
    pub commented: bool,
}

/// The status and comment flag of a roll record, after its entity id.
fn decode(key: &[u8], after_id: &[u8]) -> Result<(ActionStatus, bool), ReadModelError> {
    let corrupt = |detail: &str| ReadModelError::Corrupt {
        key: hex::encode(key),
        detail: format!("action-status roll record: {detail}"),
    };
    let &[status, commented] = after_id else {
        return Err(corrupt("not 18 bytes"));
    };
    let status = ActionStatus::ALL
        .get(usize::from(status))
        .copied()
        .ok_or_else(|| corrupt("unknown status"))?;
    let commented = match commented {
        0 => false,
        1 => true,
        _ => return Err(corrupt("commented is neither 0 nor 1")),
    };
    Ok((status, commented))
}

/// Every action's latest status for a period as of a position.
pub(crate) struct Roll {
    /// By action id, one entry each.
    latest: Vec<(Uuid, RolledStatus)>,
}

impl Roll {
    /// The action's latest status, if it reported one.
    pub fn get(&self, id: &Uuid) -> Option<&RolledStatus> {
        self.latest
            .binary_search_by(|(e, _)| e.cmp(id))
            .ok()
            .map(|i| &self.latest[i].1)
    }
}

impl ReadModel {
    /// Every action's latest status for `period` as of s.
    pub(crate) fn action_roll(&self, period: Period, s: Seq) -> Result<Roll, ReadModelError> {
        let pk = keys::period_bytes(period);
        let rolled = self.latest_by_entity(&keys::action_roll_prefix(pk), pk, s)?;
        let mut latest = Vec::with_capacity(rolled.len());
        for (l, after_id) in rolled.iter() {
            let (status, commented) = decode(rolled.key_of(l), after_id)?;
            let rolled = RolledStatus {
                status,
                seq: l.seq,
                commented,
            };
            latest.push((l.entity, rolled));
        }
        Ok(Roll { latest })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_garbage() {
        let id = Uuid::from_u128(7);
        for status in ActionStatus::ALL {
            for commented in [false, true] {
                let r = record(id, status, commented);
                assert_eq!(r[..16], *id.as_bytes());
                assert_eq!(decode(b"k", &r[16..]).unwrap(), (status, commented));
            }
        }
        let mut bad = record(id, ActionStatus::Red, false);
        bad[16] = 5;
        assert!(decode(b"k", &bad[16..]).is_err());
        bad[16] = 0;
        bad[17] = 2;
        assert!(decode(b"k", &bad[16..]).is_err());
        assert!(decode(b"k", &bad[16..17]).is_err());
    }
}
