//! THE natural keys: how each kind of entity is named, so that a command
//! ([`crate::Command::natural_key`]) and the event that defines the entity
//! ([`crate::EventBody::natural_key`]) name it the same way, and
//! [`crate::ids::entity_id`] turns the name into the same id.
//!
//! | kind | natural key |
//! |---|---|
//! | indicator | its reference, or its title without one ([`crate::indicator::IndicatorSpec::natural_key`]) |
//! | action | unit + reference ([`action`]) |
//! | risk | risk id |
//! | revenue / capital line | unit + line name ([`line()`]) |
//! | saving | reference |
//! | tolerance scheme | [`SCHEME_KEY`] (one per tenant) |
//! | calendar | [`CALENDAR_KEY`] (one per tenant) |
//! | unit / committee | org kind token + name ([`org`]) |
//! | dashboard seal | unit (or [`COUNCIL_SCOPE`]) + period ([`dashboard_seal`]) |
//! | committee seal | seal id |
//!
//! Composite keys join their normalised parts ([`crate::ids::composite_key`]).

use crate::ids::composite_key;
use crate::period::Period;
use crate::text::Text;

/// Natural key of the tenant's single tolerance-scheme entity.
pub const SCHEME_KEY: &str = "rag";
/// Natural key of the tenant's single calendar entity.
pub const CALENDAR_KEY: &str = "calendar";
/// Seal scope name used for the council-wide dashboard.
pub const COUNCIL_SCOPE: &str = "council";

/// A key action: unit + reference.
pub fn action(unit: &Text, reference: &Text) -> String {
    composite_key(&[unit.as_str(), reference.as_str()])
}

/// A revenue or capital line: unit + line name.
pub fn line(unit: &Text, name: &Text) -> String {
    composite_key(&[unit.as_str(), name.as_str()])
}

/// A unit or committee: org kind token + name.
pub fn org(kind_token: &str, name: &Text) -> String {
    composite_key(&[kind_token, name.as_str()])
}

/// A dashboard seal: its unit (or the council) + period.
pub fn dashboard_seal(unit: Option<&Text>, period: Period) -> String {
    let scope = unit.map_or(COUNCIL_SCOPE, Text::as_str);
    composite_key(&[scope, &period.to_string()])
}
