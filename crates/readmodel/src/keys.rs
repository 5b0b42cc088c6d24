//! Key layout of the single read-model tree.
//!
//! Every key starts with one prefix byte naming the model; all multi-byte
//! integers are big-endian so that byte order is numeric order.
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `m` | `m` ++ name | meta: `checkpoint` (u64), `maxrec` (i64), `format` (u32) |
//! | `T` | `T` ++ block(8) | time index: running max recorded_at (i64) of each of 256 records |
//! | `f` | `f` ++ entity(16) ++ field(1) ++ bucket(4) | slot: every version (valid period × recorded seq) of one field for the periods ending in one calendar year, each with its stored record: body, who/when/why and the value it replaced (see the `versions` module); an entity's `f` range is its audit trail |
//! | `g` | `g` ++ field(1) ++ bucket(4) | slot of tenant-wide facts (tolerance schemes, closed periods) |
//! | `u` | `u` ++ kind(1) ++ unit ++ 0 ++ entity(16) ++ seq(8) | membership version (`true` = in unit); kind first, so the council-wide members of one kind are one contiguous range |
//! | `U` | `U` ++ unit ++ 0 | unit name and first sequence |
//! | `n` | `n` ++ kind(1) ++ alias ++ 0 ++ entity(16) | first sequence (natural key / title aliases) |
//! | `E` | `E` ++ entity(16) | entity kind, natural key, first sequence |
//! | `s` | `s` ++ seq(8) ++ index(2) | seal |
//! | `S` | `S` ++ seq(8) ++ index(2) | the seal's id, report title and time (seals recorded by `CommitteeDashboardSealed`) |
//! | `P` | `P` ++ seq(8) ++ index(2) | the pack a pack seal pins (`CommitteePackSealed`: chain root, format, rules, digest, canonical bytes) |
//! | `R` | `R` ++ kind(1) ++ field(1) ++ period(8) ++ part(1) | fact roll: a slot (the `versions` layout) holding every version of one field for one period (definitions: eight zero bytes) of the entities of one kind whose id's first byte is in `part` (its high four bits), each version's record the entity(16) then the very record its own `f` slot holds; only the (kind, field) pairs `fact_roll::ROLLED` names, so a council-wide view reads a period's figures in 16 gets instead of one per entity |
//! | `A` | `A` ++ period(8) ++ part(1) | action-status roll: a slot (the `versions` layout) holding every key-action status reported for the period by the actions whose id's first byte is in `part` (its high four bits), each version's record `entity(16) status(1) commented(1)`; a copy of what the actions' own `f` slots hold, so a dashboard reads the period's statuses in 16 gets instead of one per action |
//!
//! `period(8)` is the period's last month index then its first month index
//! (months since year 0, u32 each), so periods sort chronologically by end;
//! facts without a period use eight zero bytes and bucket 0. Units and aliases are
//! normalised ([`perfledger_domain::ids::normalise_key`]), which can never
//! contain a NUL byte (Text refuses them).

use perfledger_domain::period::Period;
use perfledger_domain::EntityKind;
use uuid::Uuid;

pub(crate) const TIME: u8 = b'T';
pub(crate) const FACT: u8 = b'f';
pub(crate) const GLOBAL: u8 = b'g';
pub(crate) const MEMBER: u8 = b'u';
pub(crate) const UNIT: u8 = b'U';
pub(crate) const ALIAS: u8 = b'n';
pub(crate) const ENTITY: u8 = b'E';
pub(crate) const SEAL: u8 = b's';
pub(crate) const SEAL_META: u8 = b'S';
pub(crate) const SEAL_PACK: u8 = b'P';
pub(crate) const ACTION_ROLL: u8 = b'A';
pub(crate) const FACT_ROLL: u8 = b'R';

pub(crate) const META_CHECKPOINT: &[u8] = b"mcheckpoint";
pub(crate) const META_MAXREC: &[u8] = b"mmaxrec";
pub(crate) const META_FORMAT: &[u8] = b"mformat";
/// The tenant the read model belongs to (recorded when it is created).
pub(crate) const META_TENANT: &[u8] = b"mtenant";
/// The log's hash-chain root after the checkpoint (32 bytes), written with it.
pub(crate) const META_CHAIN: &[u8] = b"mchain";

/// Fact fields.
pub(crate) mod field {
    pub const SPEC: u8 = 0;
    pub const STATUS: u8 = 1;
    pub const TARGET: u8 = 2;
    pub const RESULT: u8 = 3;
    pub const ACTION_STATUS: u8 = 4;
    pub const ASSESSMENT: u8 = 5;
    pub const BUDGET: u8 = 6;
    pub const FORECAST: u8 = 7;
    pub const DELIVERY: u8 = 8;
    pub const SCHEME: u8 = 9;
    pub const CLOSED: u8 = 10;
    /// Events that set no figure (seals, post-close markers): audit only.
    pub const EVENT: u8 = 11;
}

pub(crate) const NO_PERIOD: [u8; 8] = [0; 8];

/// Chronological period bytes: end month, then start month, as the
/// domain's calendar gives them ([`Period::months`]).
pub(crate) fn period_bytes(p: Period) -> [u8; 8] {
    let index = |m: perfledger_domain::period::MonthIndex| {
        u32::try_from(m.0).expect("a period is validated to years 1900-9999, after month 0")
    };
    let months = p.months();
    let (end, start) = (index(months.last), index(months.first));
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&end.to_be_bytes());
    out[4..].copy_from_slice(&start.to_be_bytes());
    out
}

pub(crate) fn kind_byte(kind: EntityKind) -> u8 {
    EntityKind::ALL
        .iter()
        .position(|k| *k == kind)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(u8::MAX)
}

#[cfg(test)]
pub(crate) fn kind_from_byte(b: u8) -> Option<EntityKind> {
    EntityKind::ALL.get(usize::from(b)).copied()
}

/// Order-preserving i64 → u64.
#[cfg(test)]
pub(crate) fn flip(v: i64) -> u64 {
    (v as u64) ^ (1u64 << 63)
}

/// Records per time-index block.
pub(crate) const TIME_BLOCK: u64 = 256;

/// `T` ++ block: the running max recorded time (i64 BE each) of the
/// records `block*TIME_BLOCK+1 ..`, one entry per record.
pub(crate) fn time_block_key(block: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(TIME);
    k.extend_from_slice(&block.to_be_bytes());
    k
}

/// Slot bucket of a period: the calendar year of its end month (0 for no
/// period). Monotone in [`period_bytes`], so slots of one field in key order
/// hold versions in period order.
pub(crate) fn bucket(period: [u8; 8]) -> u32 {
    u32::from_be_bytes([period[0], period[1], period[2], period[3]]) / 12
}

/// `f` ++ entity ++ field: every slot of one field.
pub(crate) fn slot_field_prefix(entity: Uuid, fld: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(22);
    k.push(FACT);
    k.extend_from_slice(entity.as_bytes());
    k.push(fld);
    k
}

/// `f` ++ entity ++ field ++ bucket: the slot holding `period`'s versions.
pub(crate) fn slot_key(entity: Uuid, fld: u8, period: [u8; 8]) -> Vec<u8> {
    slot_key_in_bucket(entity, fld, bucket(period))
}

/// `f` ++ entity ++ field ++ bucket: the slot of one calendar year ([`bucket`]).
pub(crate) fn slot_key_in_bucket(entity: Uuid, fld: u8, bucket: u32) -> Vec<u8> {
    let mut k = slot_field_prefix(entity, fld);
    k.extend_from_slice(&bucket.to_be_bytes());
    k
}

/// `g` ++ field: every tenant-wide slot of one field.
pub(crate) fn global_field_prefix(fld: u8) -> Vec<u8> {
    vec![GLOBAL, fld]
}

/// `g` ++ field ++ bucket: a tenant-wide slot.
pub(crate) fn global_slot_key(fld: u8, period: [u8; 8]) -> Vec<u8> {
    let mut k = global_field_prefix(fld);
    k.extend_from_slice(&bucket(period).to_be_bytes());
    k
}

/// `f` ++ entity: every slot of one entity (its audit trail).
pub(crate) fn entity_slots_prefix(entity: Uuid) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(FACT);
    k.extend_from_slice(entity.as_bytes());
    k
}

/// `u` ++ kind: every membership version of one kind, all units.
pub(crate) fn member_kind_prefix(kind: EntityKind) -> Vec<u8> {
    vec![MEMBER, kind_byte(kind)]
}

/// `u` ++ kind ++ unit ++ 0: the membership versions of one kind in one unit.
pub(crate) fn member_unit_prefix(kind: EntityKind, unit_norm: &str) -> Vec<u8> {
    let mut k = member_kind_prefix(kind);
    k.extend_from_slice(unit_norm.as_bytes());
    k.push(0);
    k
}

pub(crate) fn member_key(unit_norm: &str, kind: EntityKind, entity: Uuid, seq: u64) -> Vec<u8> {
    let mut k = member_unit_prefix(kind, unit_norm);
    k.extend_from_slice(entity.as_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// `A` ++ period: every part of one period's action-status roll.
pub(crate) fn action_roll_prefix(period: [u8; 8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(10);
    k.push(ACTION_ROLL);
    k.extend_from_slice(&period);
    k
}

/// `A` ++ period ++ part: the part of the roll holding `entity`'s statuses
/// (16 parts, so one status rewrites a sixteenth of the period's roll).
pub(crate) fn action_roll_key(period: [u8; 8], entity: Uuid) -> Vec<u8> {
    let mut k = action_roll_prefix(period);
    k.push(entity.as_bytes()[0] >> 4);
    k
}

/// `R` ++ kind ++ field ++ period: every part of one fact roll.
pub(crate) fn fact_roll_prefix(kind: EntityKind, fld: u8, period: [u8; 8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(12);
    k.push(FACT_ROLL);
    k.push(kind_byte(kind));
    k.push(fld);
    k.extend_from_slice(&period);
    k
}

/// `R` ++ kind ++ field ++ period ++ part: the part of a fact roll holding
/// `entity`'s versions (16 parts, as [`action_roll_key`]).
pub(crate) fn fact_roll_key(kind: EntityKind, fld: u8, period: [u8; 8], entity: Uuid) -> Vec<u8> {
    let mut k = fact_roll_prefix(kind, fld, period);
    k.push(entity.as_bytes()[0] >> 4);
    k
}

pub(crate) fn unit_key(unit_norm: &str) -> Vec<u8> {
    let mut k = vec![UNIT];
    k.extend_from_slice(unit_norm.as_bytes());
    k.push(0);
    k
}

pub(crate) fn alias_prefix(kind: EntityKind, alias_norm: &str) -> Vec<u8> {
    let mut k = vec![ALIAS, kind_byte(kind)];
    k.extend_from_slice(alias_norm.as_bytes());
    k.push(0);
    k
}

pub(crate) fn entity_key(entity: Uuid) -> Vec<u8> {
    let mut k = vec![ENTITY];
    k.extend_from_slice(entity.as_bytes());
    k
}

pub(crate) fn seal_key(seq: u64, index: u16) -> Vec<u8> {
    let mut k = vec![SEAL];
    k.extend_from_slice(&seq.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

pub(crate) fn seal_meta_key(seq: u64, index: u16) -> Vec<u8> {
    let mut k = vec![SEAL_META];
    k.extend_from_slice(&seq.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

pub(crate) fn seal_pack_key(seq: u64, index: u16) -> Vec<u8> {
    let mut k = vec![SEAL_PACK];
    k.extend_from_slice(&seq.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// The trailing big-endian u64 of a key (its seq), if long enough.
pub(crate) fn trailing_seq(key: &[u8]) -> Option<u64> {
    let n = key.len();
    if n < 8 {
        return None;
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[n - 8..]);
    Some(u64::from_be_bytes(b))
}

/// Smallest key greater than every key starting with `prefix`.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    vec![u8::MAX; prefix.len() + 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_sort_chronologically_by_end() {
        let q1 = Period::parse("2016/17 Q1").unwrap();
        let q4 = Period::parse("2016/17 Q4").unwrap();
        let y = Period::parse("2016/17").unwrap();
        let prev_q4 = Period::parse("2015/16 Q4").unwrap();
        let jun = Period::parse("Jun 2016").unwrap();
        assert!(period_bytes(prev_q4) < period_bytes(q1));
        assert!(period_bytes(q1) < period_bytes(q4));
        assert!(period_bytes(y) < period_bytes(q4), "same end: longer first");
        assert!(period_bytes(q1) < period_bytes(jun));
        assert!(period_bytes(jun) < period_bytes(q4));
    }

    #[test]
    fn flip_preserves_order() {
        let vals = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for w in vals.windows(2) {
            assert!(flip(w[0]).to_be_bytes() < flip(w[1]).to_be_bytes());
        }
    }

    #[test]
    fn kind_bytes_round_trip() {
        for k in EntityKind::ALL {
            assert_eq!(kind_from_byte(kind_byte(k)), Some(k));
        }
        assert_eq!(prefix_end(&[1, 255]), vec![2]);
        assert_eq!(
            trailing_seq(&member_key("u", EntityKind::Risk, Uuid::nil(), 42)),
            Some(42)
        );
        let q4 = period_bytes(Period::parse("2016/17 Q4").unwrap());
        let y = period_bytes(Period::parse("2016/17").unwrap());
        let q1 = period_bytes(Period::parse("2016/17 Q1").unwrap());
        assert_eq!(bucket(NO_PERIOD), 0);
        assert_eq!((bucket(q1), bucket(q4), bucket(y)), (2016, 2017, 2017));
    }
}
