//! Stored values (versioned postcard).

use perfledger_domain::event::EventBody;
use perfledger_domain::EntityKind;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::ReadModelError;

/// Version byte in front of every stored postcard value.
pub(crate) const VALUE_VERSION: u8 = 1;

/// Format of the whole read-model tree: what the projector writes for a
/// given log. A read model of an older format is a cache in an older
/// layout: opening replaces it by an empty one and the projector rebuilds
/// it by replay. One of a newer format belongs to a newer release and is
/// refused, untouched. Any change to what the projector writes is a new format
/// (`tests/format.rs` pins the bytes each format writes for the golden log).
///
/// 4: membership keys put the kind before the unit (`keys` module), so a
/// council-wide view reads one kind's range instead of every membership.
/// 5: the action-status roll (`A` keys, `action_roll` module).
/// 6: fact rolls of indicators' definitions, targets and results, finance
/// lines' definitions, budgets, forecasts and deliveries, and risks'
/// definitions, closures and assessments, and actions' definitions (`R`
/// keys, `fact_roll` module).
pub const FORMAT_VERSION: u32 = 6;

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Postcard fails only on a type it cannot encode or a writer that
    // fails; stored values are plain data written into a Vec. An empty
    // value instead would be committed and only found corrupt on read.
    // `to_io` writes into the Vec a slice at a time (`to_extend` goes
    // through `Extend` a byte at a time: 7% of a rebuild).
    let mut out = Vec::with_capacity(128);
    out.push(VALUE_VERSION);
    postcard::to_io(v, out).expect("a read-model value is plain data that postcard always encodes")
}

pub(crate) fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, ReadModelError> {
    let corrupt = |detail: String| ReadModelError::Corrupt {
        key: hex::encode(key),
        detail,
    };
    match bytes.split_first() {
        Some((&VALUE_VERSION, body)) => {
            postcard::from_bytes(body).map_err(|e| corrupt(format!("undecodable value: {e}")))
        }
        Some((v, _)) => Err(corrupt(format!("unknown value version {v}"))),
        None => Err(corrupt("empty value".to_string())),
    }
}

/// One version of a fact: the event that set it, and what the audit trail
/// needs (who, when, why, the value it replaced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FactRecord {
    pub seq: u64,
    pub index: u16,
    pub recorded_at: i64,
    pub period: Option<perfledger_domain::Period>,
    pub body: EventBody,
    pub event_id: uuid::Uuid,
    pub command_id: uuid::Uuid,
    pub actor: String,
    pub source: String,
    pub reason: Option<String>,
    /// The figure this version replaced, as printed.
    pub before: Option<String>,
    /// When the ledger really appended it, for a record migrated with a
    /// claimed (historical) `recorded_at`; None for a live record. Absent
    /// from records stored before it existed ([`decode_fact`]).
    pub migrated_at: Option<i64>,
}

/// [`FactRecord`] as stored before `migrated_at` (decoded as not migrated).
#[derive(Deserialize)]
struct FactRecordV1 {
    seq: u64,
    index: u16,
    recorded_at: i64,
    period: Option<perfledger_domain::Period>,
    body: EventBody,
    event_id: uuid::Uuid,
    command_id: uuid::Uuid,
    actor: String,
    source: String,
    reason: Option<String>,
    before: Option<String>,
}

/// Decode a stored [`FactRecord`], also in its layout from before
/// `migrated_at` was appended (a read model projected then needs no rebuild).
pub(crate) fn decode_fact(key: &[u8], bytes: &[u8]) -> Result<FactRecord, ReadModelError> {
    decode::<FactRecord>(key, bytes).or_else(|e| {
        let old: FactRecordV1 = decode(key, bytes).map_err(|_| e)?;
        Ok(FactRecord {
            seq: old.seq,
            index: old.index,
            recorded_at: old.recorded_at,
            period: old.period,
            body: old.body,
            event_id: old.event_id,
            command_id: old.command_id,
            actor: old.actor,
            source: old.source,
            reason: old.reason,
            before: old.before,
            migrated_at: None,
        })
    })
}

/// [`FactRecord`] by reference, for encoding without cloning: the same
/// fields in the same order and postcard shapes (`&str` and `String`
/// serialise alike), so it encodes to the same bytes (a test checks).
#[derive(Serialize)]
pub(crate) struct FactRecordRef<'a> {
    pub seq: u64,
    pub index: u16,
    pub recorded_at: i64,
    pub period: Option<perfledger_domain::Period>,
    pub body: &'a EventBody,
    pub event_id: uuid::Uuid,
    pub command_id: uuid::Uuid,
    pub actor: &'a str,
    pub source: &'a str,
    pub reason: Option<&'a str>,
    pub before: Option<&'a str>,
    pub migrated_at: Option<i64>,
}

impl FactRecord {
    /// The audit entry of this version.
    pub fn audit_entry(&self) -> crate::AuditEntry {
        let (field, after) = crate::render::figure(&self.body);
        crate::AuditEntry {
            seq: self.seq,
            index: self.index,
            recorded_at: self.recorded_at,
            event_id: self.event_id,
            command_id: self.command_id,
            actor: self.actor.clone(),
            source: self.source.clone(),
            reason: self.reason.clone(),
            event: self.body.name().to_string(),
            period: self.body.period(),
            field: field.to_string(),
            before: self.before.clone(),
            after,
            migrated_at: self.migrated_at,
        }
    }
}

/// Membership version of an entity in a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Membership {
    pub present: bool,
}

/// A seal's id, report title and time (`CommitteeDashboardSealed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SealMeta {
    pub seal_id: String,
    pub title: Option<String>,
    pub sealed_at: i64,
}

/// A unit known to the read model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UnitInfo {
    pub name: String,
    pub first_seq: u64,
}

/// Registry entry of an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EntityInfo {
    pub kind: EntityKind,
    pub natural_key: String,
    pub first_seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfledger_domain::event::EventBody;
    use perfledger_domain::period::{FinancialYear, Period};

    #[test]
    fn fact_record_ref_encodes_like_fact_record() {
        let body = EventBody::PeriodClosed {
            period: Period::Quarter(FinancialYear(2016), 1),
        };
        for (reason, before) in [(None, None), (Some("late return"), Some("42"))] {
            let owned = FactRecord {
                seq: 9,
                index: 2,
                recorded_at: -5,
                period: Some(Period::Year(FinancialYear(2016))),
                body: body.clone(),
                event_id: uuid::Uuid::from_u128(1),
                command_id: uuid::Uuid::from_u128(2),
                actor: "j.smith".to_string(),
                source: "finance".to_string(),
                reason: reason.map(str::to_string),
                before: before.map(str::to_string),
                migrated_at: Some(7),
            };
            let by_ref = FactRecordRef {
                seq: 9,
                index: 2,
                recorded_at: -5,
                period: Some(Period::Year(FinancialYear(2016))),
                body: &body,
                event_id: uuid::Uuid::from_u128(1),
                command_id: uuid::Uuid::from_u128(2),
                actor: "j.smith",
                source: "finance",
                reason,
                before,
                migrated_at: Some(7),
            };
            assert_eq!(encode(&owned), encode(&by_ref));
        }
    }
}
