//! One log record → staged writes. A record on another tenant's subject is
//! skipped undecoded; every record, applied or skipped, advances the
//! checkpoint and the time index by its sequence. An event writes: its
//! entity's registry entry and aliases (first seen wins), a new version of
//! its figure's slot with the audit "before" of the version it replaces,
//! a key-action status also in its period's roll (`action_roll`), a rolled
//! field also in its (kind, field, period) roll (`fact_roll`), unit
//! membership when a definition moves it, and the seal keys.

use perfledger_domain::event::EventBody;
use perfledger_domain::ids::normalise_key;
use perfledger_domain::organisation::OrgKind;
use perfledger_domain::{decode_commit, Envelope};
use perfledger_log::{LogRecord, Seq};

use super::batch::Batcher;
use super::entity::{body_names, body_unit, fact_slot};
use crate::keys::{self, field};
use crate::store::{self, EntityInfo, FactRecord, Membership, UnitInfo};
use crate::versions::{self, Version};
use crate::{action_roll, fact_roll, render, ProjectError};

/// Stage the writes of one event (see the module docs).
fn apply_event(
    b: &mut Batcher,
    seq: Seq,
    index: u16,
    recorded_at: i64,
    env: &Envelope,
) -> Result<(), ProjectError> {
    check_envelope(b, seq, index, env)?;
    register(b, seq, env)?;
    let previous = stage_fact(b, seq, index, recorded_at, env)?;
    if let EventBody::ActionStatusReported {
        period,
        status,
        comment,
    } = &env.body
    {
        // The period's roll, beside the action's own slot (`action_roll`).
        let period = keys::period_bytes(*period);
        b.add_version(
            keys::action_roll_key(period, env.entity.id),
            Version {
                period,
                seq,
                index,
                record: action_roll::record(env.entity.id, *status, comment.is_some()),
            },
        );
    }
    if let Some(new_unit) = body_unit(&env.body) {
        let old_unit = previous.as_ref().and_then(|prev| body_unit(&prev.body));
        stage_membership(b, seq, env, new_unit, old_unit)?;
    }
    if let EventBody::UnitDefined { spec } = &env.body {
        if spec.kind == OrgKind::Unit {
            b.put_if_absent(
                keys::unit_key(&normalise_key(spec.name.as_str())),
                store::encode(&UnitInfo {
                    name: spec.name.as_str().trim().to_string(),
                    first_seq: seq,
                }),
            )?;
        }
    }
    stage_seal(b, seq, index, &env.body);
    Ok(())
}

/// Refuse an event the ledger never writes: another tenant's on this
/// tenant's subject, or one whose envelope names another entity kind than
/// its body belongs to.
fn check_envelope(b: &Batcher, seq: Seq, index: u16, env: &Envelope) -> Result<(), ProjectError> {
    let apply_err = |reason: String| ProjectError::Apply { seq, index, reason };
    if env.tenant.as_str() != b.tenant {
        return Err(apply_err(format!(
            "event of tenant {:?} on a subject of tenant {:?}",
            env.tenant.as_str(),
            b.tenant
        )));
    }
    let kind = env.entity.kind;
    // A post-close marker has no kind of its own: it travels with the
    // entity it changes.
    match env.body.entity_kind() {
        Some(bk) if bk != kind => Err(apply_err(format!(
            "event {} belongs to a {} but the envelope names a {}",
            env.body.name(),
            bk.token(),
            kind.token()
        ))),
        _ => Ok(()),
    }
}

/// The entity's registry entry (first event wins) and the names it can be
/// found by.
fn register(b: &mut Batcher, seq: Seq, env: &Envelope) -> Result<(), ProjectError> {
    let entity = env.entity.id;
    let kind = env.entity.kind;
    let names = body_names(&env.body);
    if !b.entities.contains(&entity) {
        let natural_key = names.as_ref().map(|(k, _)| k.clone()).unwrap_or_default();
        b.put_if_absent(
            keys::entity_key(entity),
            store::encode(&EntityInfo {
                kind,
                natural_key,
                first_seq: seq,
            }),
        )?;
        b.entities.insert(entity);
    }
    if let Some((natural_key, aliases)) = &names {
        // Definitions and amendments are rare: read-checked.
        let mut all = aliases.clone();
        all.push(normalise_key(natural_key));
        for alias in all {
            let mut k = keys::alias_prefix(kind, &alias);
            k.extend_from_slice(entity.as_bytes());
            b.put_if_absent(k, seq.to_be_bytes().to_vec())?;
        }
    }
    Ok(())
}

/// The figure: a new version of its slot, carrying the audit "before" of
/// the version it replaces. Returns that previous version.
fn stage_fact(
    b: &mut Batcher,
    seq: Seq,
    index: u16,
    recorded_at: i64,
    env: &Envelope,
) -> Result<Option<FactRecord>, ProjectError> {
    let (fld, period, global) = fact_slot(&env.body).unwrap_or((field::EVENT, None, false));
    let period_key = versions::period_key(period);
    let slot = keys::slot_key(env.entity.id, fld, period_key);
    let previous = b.previous(&slot, period_key)?;
    let before = previous
        .as_ref()
        .and_then(|prev| render::figure(&prev.body).1);
    let rec = store::encode(&store::FactRecordRef {
        seq,
        index,
        recorded_at,
        period,
        body: &env.body,
        event_id: env.event_id,
        command_id: env.command_id,
        actor: env.actor.as_str(),
        source: env.source.as_str(),
        reason: env
            .reason
            .as_ref()
            .or(env.body.reason())
            .map(|r| r.as_str()),
        before: before.as_deref(),
        migrated_at: env.migrated_at.map(|t| t.0),
    });
    let version = Version {
        period: period_key,
        seq,
        index,
        record: rec,
    };
    if global {
        b.add_version(keys::global_slot_key(fld, period_key), version.clone());
    }
    let (kind, entity) = (env.entity.kind, env.entity.id);
    if fact_roll::is_rolled(kind, fld) {
        // The roll, beside the entity's own slot (`fact_roll`).
        b.add_version(
            keys::fact_roll_key(kind, fld, period_key, entity),
            Version {
                record: fact_roll::record(entity, &version.record),
                ..version.clone()
            },
        );
    }
    b.add_version(slot, version);
    Ok(previous)
}

/// Unit membership follows the definition: leaving the old unit and
/// joining the new one at `seq`; the unit becomes known.
fn stage_membership(
    b: &mut Batcher,
    seq: Seq,
    env: &Envelope,
    new_unit: &str,
    old_unit: Option<&str>,
) -> Result<(), ProjectError> {
    let (kind, entity) = (env.entity.kind, env.entity.id);
    let new_norm = normalise_key(new_unit);
    let old_norm = old_unit.map(normalise_key);
    if old_norm.as_deref() != Some(new_norm.as_str()) {
        if let Some(old) = &old_norm {
            b.put(
                keys::member_key(old, kind, entity, seq),
                store::encode(&Membership { present: false }),
            );
        }
        b.put(
            keys::member_key(&new_norm, kind, entity, seq),
            store::encode(&Membership { present: true }),
        );
    }
    b.put_if_absent(
        keys::unit_key(&new_norm),
        store::encode(&UnitInfo {
            name: new_unit.trim().to_string(),
            first_seq: seq,
        }),
    )?;
    Ok(())
}

/// A seal is kept under its position, every kind alike (listed and
/// verified the same way), with its id, title and time beside it and a
/// pack seal's pin.
fn stage_seal(b: &mut Batcher, seq: Seq, index: u16, body: &EventBody) {
    match body {
        EventBody::DashboardSealed { seal } => {
            b.put(keys::seal_key(seq, index), store::encode(seal));
        }
        EventBody::CommitteeDashboardSealed { seal }
        | EventBody::CommitteePackSealed { seal, .. } => {
            b.put(keys::seal_key(seq, index), store::encode(&seal.seal));
            b.put(
                keys::seal_meta_key(seq, index),
                store::encode(&store::SealMeta {
                    seal_id: seal.seal_id.to_string(),
                    title: seal.title.as_ref().map(|t| t.to_string()),
                    sealed_at: seal.sealed_at.0,
                }),
            );
            if let EventBody::CommitteePackSealed { pack, .. } = body {
                b.put(keys::seal_pack_key(seq, index), store::encode(pack));
            }
        }
        _ => {}
    }
}

pub(super) fn apply_record(b: &mut Batcher, rec: &LogRecord) -> Result<bool, ProjectError> {
    if rec.seq <= b.checkpoint {
        return Ok(false);
    }
    let expected = b.checkpoint + 1;
    if rec.seq != expected {
        return Err(ProjectError::Gap {
            expected,
            got: rec.seq,
        });
    }
    let maxrec = b.maxrec.max(rec.recorded_at);
    if !rec.subject.is_checkpoint()
        && subject_tenant(rec.subject.as_str()) == Some(b.tenant.as_str())
    {
        let events = decode_commit(&rec.payload).map_err(|source| ProjectError::Decode {
            seq: rec.seq,
            source,
        })?;
        for (i, env) in events.iter().enumerate() {
            let index = u16::try_from(i).map_err(|_| ProjectError::Apply {
                seq: rec.seq,
                index: u16::MAX,
                reason: "more than 65535 events in one commit".to_string(),
            })?;
            apply_event(b, rec.seq, index, rec.recorded_at, env)?;
        }
    }
    b.advance(rec.seq, maxrec);
    b.commit_record()?;
    Ok(true)
}

/// The tenant token of an entity subject `{prefix}.ev.{tenant}.{kind}.{entity}`.
fn subject_tenant(subject: &str) -> Option<&str> {
    let mut t = subject.split('.');
    match (t.next(), t.next(), t.next()) {
        (Some(_), Some("ev"), Some(tenant)) => Some(tenant),
        _ => None,
    }
}
