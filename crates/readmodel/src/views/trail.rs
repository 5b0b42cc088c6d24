//! The indicator list, an indicator's history and an entity's audit trail
//! as JSON (grammar in [`super`]).

use super::*;

/// An indicator of view `indicators`.
#[derive(Debug, Serialize)]
pub struct IndicatorItemJson {
    pub key: String,
    pub reference: Option<String>,
    pub title: String,
    pub unit: String,
    /// Type label (`CPI`).
    #[serde(rename = "type")]
    pub indicator_type: &'static str,
    pub retired: bool,
    pub entity: Uuid,
}

/// View `indicators`.
#[derive(Debug, Serialize)]
pub struct IndicatorsJson {
    pub format: &'static str,
    pub view: &'static str,
    pub unit: Option<String>,
    pub as_of: u64,
    pub indicators: Vec<IndicatorItemJson>,
}

impl IndicatorsJson {
    /// The list read at `as_of`, of `unit` (None = all).
    pub fn new(as_of: u64, unit: Option<&str>, list: &[IndicatorSummary]) -> Self {
        IndicatorsJson {
            format: FORMAT,
            view: "indicators",
            unit: unit.map(str::to_string),
            as_of,
            indicators: list
                .iter()
                .map(|i| IndicatorItemJson {
                    key: i.natural_key.clone(),
                    reference: i.reference.clone(),
                    title: i.title.clone(),
                    unit: i.unit.clone(),
                    indicator_type: i.indicator_type.label(),
                    retired: i.retired,
                    entity: i.entity,
                })
                .collect(),
        }
    }
}

/// One audit entry (who, when, why, before and after).
#[derive(Debug, Serialize)]
pub struct AuditEntryJson {
    pub seq: u64,
    pub index: u16,
    /// Claimed time (the report's for a migrated record).
    pub recorded_at: String,
    /// When the ledger appended a migrated record (null when live).
    pub migrated_at: Option<String>,
    pub event: String,
    pub period: Option<String>,
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub actor: String,
    pub reason: Option<String>,
    pub source: String,
    pub command_id: Uuid,
    pub event_id: Uuid,
}

impl From<&AuditEntry> for AuditEntryJson {
    fn from(e: &AuditEntry) -> Self {
        AuditEntryJson {
            seq: e.seq,
            index: e.index,
            recorded_at: time(e.recorded_at),
            migrated_at: e.migrated_at.map(time),
            event: e.event.clone(),
            period: e.period.map(|p| p.to_string()),
            field: e.field.clone(),
            before: e.before.clone(),
            after: e.after.clone(),
            actor: e.actor.clone(),
            reason: e.reason.clone(),
            source: e.source.clone(),
            command_id: e.command_id,
            event_id: e.event_id,
        }
    }
}

/// An indicator's figures for one period.
#[derive(Debug, Serialize)]
pub struct HistoryRowJson {
    pub period: String,
    /// As printed (`≥ 70%`); its kind varies by indicator.
    pub target: Option<String>,
    /// As printed (`70%`, `965,000`, `Not yet due`).
    pub result: Option<String>,
    /// Full rating name.
    pub rag: Option<&'static str>,
    pub direction_short: Option<&'static str>,
    pub direction_long: Option<&'static str>,
    pub restatements: u32,
    pub commentary: Option<String>,
}

/// View `history`: an indicator's figures by period and its audit trail.
#[derive(Debug, Serialize)]
pub struct HistoryJson {
    pub format: &'static str,
    pub view: &'static str,
    pub key: String,
    pub entity: Uuid,
    pub as_of: u64,
    pub title: Option<String>,
    pub unit: Option<String>,
    #[serde(rename = "type")]
    pub indicator_type: Option<&'static str>,
    pub retired: bool,
    pub rows: Vec<HistoryRowJson>,
    pub audit: Vec<AuditEntryJson>,
}

impl From<&IndicatorView> for HistoryJson {
    fn from(v: &IndicatorView) -> Self {
        HistoryJson {
            format: FORMAT,
            view: "history",
            key: v.natural_key.clone(),
            entity: v.entity,
            as_of: v.as_of,
            title: v.spec.as_ref().map(|s| s.title.to_string()),
            unit: v.spec.as_ref().map(|s| s.unit.to_string()),
            indicator_type: v.spec.as_ref().map(|s| s.indicator_type.label()),
            retired: v.retired,
            rows: v
                .rows
                .iter()
                .map(|r| HistoryRowJson {
                    period: r.period.to_string(),
                    target: r.target_text.clone(),
                    result: r.result_text.clone(),
                    rag: r.rag.map(printed::rag_name),
                    direction_short: r.direction_short.map(printed::direction),
                    direction_long: r.direction_long.map(printed::direction),
                    restatements: r.restatements,
                    commentary: r.commentary.clone(),
                })
                .collect(),
            audit: v.audit.iter().map(AuditEntryJson::from).collect(),
        }
    }
}

/// View `audit`: an entity's audit trail.
#[derive(Debug, Serialize)]
pub struct AuditJson {
    pub format: &'static str,
    pub view: &'static str,
    /// Entity kind token (`indicator`, `revenue_line`).
    pub kind: String,
    pub key: String,
    pub entity: Uuid,
    pub as_of: u64,
    /// SHA-256 of the trail's canonical bytes.
    pub digest: String,
    pub entries: Vec<AuditEntryJson>,
}

impl From<&AuditTrail> for AuditJson {
    fn from(t: &AuditTrail) -> Self {
        AuditJson {
            format: FORMAT,
            view: "audit",
            kind: t.kind.clone(),
            key: t.natural_key.clone(),
            entity: t.entity,
            as_of: t.as_of,
            digest: t.digest_hex(),
            entries: t.entries.iter().map(AuditEntryJson::from).collect(),
        }
    }
}
