//! Command fixtures shared by the test suites (issue #11: one copy, not one per file).
//!
//! Invariant: every fixture is a pure function of its arguments, so a test
//! that pins ids, digests or bytes stays pinned. Command ids are
//! `0xC0DE_0000 + n`, the tenant is `barnet`, the correlation id is 7; the
//! indicator is the sample council's "Overall satisfaction with customer
//! services" (a quarterly, bigger-is-better percentage SPI) under any
//! reference. Every value is valid by construction, so a failure to build one
//! is a broken fixture and panics with a message.

use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::event::ResultEntry;
use perfledger_domain::indicator::{
    ComparisonBasis, DataType, Frequency, IndicatorSpec, IndicatorType, Polarity,
};
use perfledger_domain::parse::{parse_result, parse_target};
use perfledger_domain::{Period, Tenant, Text};
use uuid::Uuid;

/// A test text field (the field name in errors is `test`).
pub fn text(s: &str) -> Text {
    Text::new("test", s).expect("fixture text is valid")
}

/// The fixtures' tenant, `barnet`.
pub fn tenant() -> Tenant {
    Tenant::new("barnet").expect("`barnet` is a valid tenant")
}

/// `command` from the Head of Performance, with command id `0xC0DE_0000 + n`.
pub fn envelope(n: u128, command: Command) -> CommandEnvelope {
    CommandEnvelope {
        command_id: Uuid::from_u128(0xC0DE_0000 + n),
        tenant: tenant(),
        actor: text("Head of Performance"),
        source: text("test"),
        correlation_id: Uuid::from_u128(7),
        causation_id: None,
        command,
    }
}

/// The customer-satisfaction indicator under `reference`.
pub fn indicator_spec(reference: &str) -> IndicatorSpec {
    IndicatorSpec {
        reference: Some(text(reference)),
        title: text("Overall satisfaction with customer services"),
        unit: text("Commissioning Group"),
        lead_officer: None,
        indicator_type: IndicatorType::Spi,
        polarity: Polarity::BiggerIsBetter,
        frequency: Frequency::Quarterly,
        data_type: DataType::Percentage,
        comparison: ComparisonBasis::Sequential,
        theme: None,
        objective: None,
        committee: None,
    }
}

/// Command `n`: define [`indicator_spec`]`(reference)`.
pub fn define(n: u128, reference: &str) -> CommandEnvelope {
    envelope(
        n,
        Command::DefineIndicator {
            spec: indicator_spec(reference),
        },
    )
}

/// Command `n`: record `value` (a result as the importer reads it) for `period`.
pub fn record(n: u128, reference: &str, period: Period, value: &str) -> CommandEnvelope {
    envelope(
        n,
        Command::RecordResult {
            indicator: text(reference),
            period,
            entry: ResultEntry {
                result: parse_result(value).expect("fixture result parses"),
                commentary: None,
                intervention: None,
                benchmarks: Vec::new(),
            },
        },
    )
}

/// Command `n`: set target `value` for `period`.
pub fn set_target(n: u128, reference: &str, period: Period, value: &str) -> CommandEnvelope {
    envelope(
        n,
        Command::SetTarget {
            indicator: text(reference),
            period,
            target: parse_target(value).expect("fixture target parses"),
        },
    )
}
