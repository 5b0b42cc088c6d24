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
//! slots' own.
//!
//! Record layout: `entity(16) status(1) commented(1)`, the status as its
//! index in [`ActionStatus::ALL`] (whose order is fixed: it is also the
//! events' wire order).

use perfledger_domain::action::ActionStatus;
use perfledger_domain::period::Period;
use perfledger_log::Seq;
use uuid::Uuid;

use crate::keys;
use crate::versions;
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

fn decode(key: &[u8], record: &[u8]) -> Result<(Uuid, ActionStatus, bool), ReadModelError> {
    let corrupt = |detail: &str| ReadModelError::Corrupt {
        key: hex::encode(key),
        detail: format!("action-status roll record: {detail}"),
    };
    if record.len() != RECORD_LEN {
        return Err(corrupt("not 18 bytes"));
    }
    let entity = Uuid::from_slice(&record[..16]).map_err(|_| corrupt("entity"))?;
    let status = ActionStatus::ALL
        .get(usize::from(record[16]))
        .copied()
        .ok_or_else(|| corrupt("unknown status"))?;
    let commented = match record[17] {
        0 => false,
        1 => true,
        _ => return Err(corrupt("commented is neither 0 nor 1")),
    };
    Ok((entity, status, commented))
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
        let mut all = Vec::new();
        for r in self.tree.scan_prefix(keys::action_roll_prefix(pk)) {
            let (k, value) = r?;
            // Versions of one part are in (period, seq, index) order.
            for v in versions::iter(&k, &value) {
                let v = v?;
                if v.seq > s {
                    break;
                }
                if v.period != pk {
                    return Err(ReadModelError::Corrupt {
                        key: hex::encode(&k),
                        detail: "a roll version of another period".to_string(),
                    });
                }
                let (entity, status, commented) = decode(&k, v.record)?;
                let rolled = RolledStatus {
                    status,
                    seq: v.seq,
                    commented,
                };
                all.push((entity, rolled));
            }
        }
        // A stable sort by action keeps each action's versions in sequence
        // order; the last of each run is its latest at or below s.
        all.sort_by_key(|(entity, _)| *entity);
        let mut latest: Vec<(Uuid, RolledStatus)> = Vec::with_capacity(all.len());
        for (entity, rolled) in all {
            match latest.last_mut() {
                Some(last) if last.0 == entity => last.1 = rolled,
                _ => latest.push((entity, rolled)),
            }
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
                assert_eq!(decode(b"k", &r).unwrap(), (id, status, commented));
            }
        }
        let mut bad = record(id, ActionStatus::Red, false);
        bad[16] = 5;
        assert!(decode(b"k", &bad).is_err());
        bad[16] = 0;
        bad[17] = 2;
        assert!(decode(b"k", &bad).is_err());
        assert!(decode(b"k", &bad[..17]).is_err());
    }
}
