//! Shared builders for the integration tests.
#![allow(dead_code)]

pub mod strategies;

use perfledger_domain::codec::command_digest;
use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::event::{EntityRef, Envelope, EventBody, SCHEMA_VERSION};
use perfledger_domain::ids::Tenant;
use perfledger_domain::indicator::{
    ComparisonBasis, DataType, Frequency, IndicatorSpec, IndicatorType, Polarity,
};
use perfledger_domain::text::Text;
use perfledger_domain::time::Timestamp;
use uuid::Uuid;

pub fn t(s: &str) -> Text {
    Text::new("test", s).unwrap()
}

pub fn tenant() -> Tenant {
    Tenant::new("barnet").unwrap()
}

pub fn spec(reference: &str, frequency: Frequency, data_type: DataType) -> IndicatorSpec {
    IndicatorSpec {
        reference: Some(t(reference)),
        title: t("Overall satisfaction with customer services"),
        unit: t("Commissioning Group"),
        lead_officer: Some(t("Head of Customer Service and Digital")),
        indicator_type: IndicatorType::Spi,
        polarity: Polarity::BiggerIsBetter,
        frequency,
        data_type,
        comparison: ComparisonBasis::Sequential,
        theme: None,
        objective: None,
        committee: Some(t("Policy & Resources")),
    }
}

pub fn cmd(command: Command) -> CommandEnvelope {
    CommandEnvelope {
        command_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
        tenant: tenant(),
        actor: t("performance.officer"),
        source: t("test"),
        correlation_id: Uuid::from_u128(2),
        causation_id: None,
        command,
    }
}

/// Wrap event bodies as the ledger would.
pub fn envelopes(ce: &CommandEnvelope, bodies: Vec<EventBody>, at: i64) -> Vec<Envelope> {
    let (kind, id) = ce.command.entity(&ce.tenant);
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| Envelope {
            event_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + i as u128),
            entity: EntityRef { kind, id },
            tenant: ce.tenant.clone(),
            recorded_at: Timestamp(at),
            effective: body.period(),
            actor: ce.actor.clone(),
            source: ce.source.clone(),
            reason: ce.command.reason().cloned(),
            correlation_id: ce.correlation_id,
            causation_id: ce.causation_id,
            command_id: ce.command_id,
            schema_version: SCHEMA_VERSION,
            body,
            command_digest: Some(command_digest(ce).unwrap()),
            migrated_at: None,
        })
        .collect()
}
