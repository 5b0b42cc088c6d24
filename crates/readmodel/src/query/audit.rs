//! Audit trails: every event of an entity as of S in log order, each
//! with position, time, actor, source, reason and before → after; an
//! event's side changes follow its figure.

use perfledger_domain::event::EventBody;
use perfledger_domain::EntityKind;
use perfledger_log::Seq;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::R;
use crate::keys;
use crate::versions;
use crate::{render, sha256_hex, AsOf, AuditEntry, ReadModel};

/// An entity's audit trail as of a position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditTrail {
    /// Entity kind token.
    pub kind: String,
    /// Natural key.
    pub natural_key: String,
    /// Entity id.
    pub entity: Uuid,
    /// Sequence the trail is as of.
    pub as_of: Seq,
    /// Events in log order.
    pub entries: Vec<AuditEntry>,
}

impl AuditTrail {
    /// Canonical bytes (postcard) — `as_of` excluded so a trail compares equal
    /// across positions with the same events.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Empty bytes would give every trail the same digest.
        postcard::to_allocvec(&(&self.kind, &self.natural_key, &self.entity, &self.entries))
            .expect("an audit trail is plain data that postcard always encodes")
    }

    /// SHA-256 hex of [`AuditTrail::canonical_bytes`].
    pub fn digest_hex(&self) -> String {
        sha256_hex(&self.canonical_bytes())
    }
}

impl ReadModel {
    pub(super) fn audit_at(&self, entity: Uuid, s: Seq) -> R<Vec<AuditEntry>> {
        let mut out = Vec::new();
        for r in self.tree.scan_prefix(keys::entity_slots_prefix(entity)) {
            let (k, value) = r?;
            // Versions are sorted by (period, seq): the one before a version
            // of the same period is the one it replaced.
            let mut previous: Option<([u8; 8], EventBody)> = None;
            for v in versions::parse(&k, &value)? {
                if v.seq <= s {
                    let record = self.decode_version(&k, &v)?;
                    let entry = record.audit_entry();
                    let side = match &previous {
                        Some((period, body)) if *period == v.period => {
                            render::side_changes(body, &record.body)
                        }
                        _ => Vec::new(),
                    };
                    out.push(entry.clone());
                    for (field, before, after) in side {
                        out.push(AuditEntry {
                            field: field.to_string(),
                            before,
                            after,
                            ..entry.clone()
                        });
                    }
                    previous = Some((v.period, record.body));
                }
            }
        }
        // Stable: the extra fields of an event stay after its figure.
        out.sort_by_key(|e| (e.seq, e.index));
        Ok(out)
    }

    /// The audit trail of an entity (every event with position, time, actor,
    /// source, reason and before → after) as of a position.
    pub fn audit(&self, kind: EntityKind, key: &str, at: AsOf) -> R<AuditTrail> {
        let s = self.resolve(at)?;
        let id = self.find_at(kind, key, s)?;
        let natural_key = self.natural_key(id)?;
        Ok(AuditTrail {
            kind: kind.token().to_string(),
            natural_key,
            entity: id,
            as_of: s,
            entries: self.audit_at(id, s)?,
        })
    }

    /// The history of an indicator: its audit trail.
    pub fn history(&self, indicator: &str, at: AsOf) -> R<AuditTrail> {
        self.audit(EntityKind::Indicator, indicator, at)
    }
}
