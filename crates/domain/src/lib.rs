//! perfledger-domain: the pure domain model of perfledger.
//!
//! Periods, indicators, targets, results, RAG, direction of travel, risks,
//! finance, key actions, savings and organisation; the event catalogue,
//! commands, aggregates (`handle`/`apply`); the versioned postcard codec; and
//! parsers of the forms officers print (`(4,331)`, `82% (A)`,
//! `Remain at or above 85%`).
//!
//! Rules that hold in this crate: no I/O, no async, no clock, no randomness,
//! no floating point, no `HashMap` in outputs, nothing panics on input.
//! One rule lives in one module: rounding ([`rounding`]), the calendar
//! ([`Period::months`] in [`period`]), RAG ([`rag`]; the rating itself in
//! [`rating`]), direction of travel ([`direction`]), risk score and band
//! ([`risk`]), finance arithmetic ([`budget`]), dashboard percentages
//! ([`dashboard`]), printed forms ([`printed`], read back by [`parse`]),
//! as-of positions ([`asof`]), natural keys ([`keys`]), the closed-period
//! rule ([`Command::closed_period`]), the entity kind of an event
//! ([`EventBody::entity_kind`]). Each entity kind's aggregate has its own
//! file under [`aggregate`].
//!
//! # API map (for the ledger, read model, import, gateway)
//!
//! * Identity: [`ids::entity_id`], [`Command::entity`], [`EntityKind::token`].
//! * Deciding: [`new_state`] → [`apply`] each stored [`Envelope`] →
//!   [`handle`]`(&state, &CommandEnvelope, &Context)` → `Vec<EventBody>` →
//!   [`event::build_envelopes`] (event ids and recorded time passed in) →
//!   [`encode_commit`] → one log record. [`Context`] carries the calendar's
//!   closed periods ([`Context::from_calendar`]).
//! * Reading: [`decode_commit`] → envelopes; [`dashboard::indicator_line`],
//!   [`dashboard::compute`], [`dashboard::canonical_bytes`], [`dashboard::digest`].
//! * Wire: [`encode_command`]/[`decode_command`] (postcard),
//!   [`codec::encode_command_json`]/[`codec::decode_command_json`];
//!   subjects in `proto/subjects.md`, [`CommandEnvelope::subject`].
//! * Input: [`parse`] for printed forms, [`Period::parse`], [`Timestamp::parse`],
//!   [`AsOf::parse`].
//! * Output: [`printed`] for every printed figure.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod action;
pub mod aggregate;
pub mod amount;
pub mod asof;
pub mod budget;
pub mod codec;
pub mod command;
pub mod dashboard;
pub mod direction;
pub mod error;
pub mod event;
pub mod fit;
pub mod ids;
pub mod indicator;
pub mod keys;
pub mod organisation;
pub mod parse;
pub mod payload;
pub mod period;
pub mod printed;
pub mod rag;
pub mod rating;
pub mod risk;
pub mod rounding;
pub mod saving;
pub mod text;
pub mod time;

pub use aggregate::{apply, handle, new_state, AggregateState, Context};
pub use amount::Fixed;
pub use asof::AsOf;
pub use codec::{
    command_digest, decode_command, decode_commit, encode_command, encode_commit, CodecError,
};
pub use command::{Command, CommandEnvelope};
pub use error::DomainError;
pub use event::{EntityRef, Envelope, EventBody, SCHEMA_VERSION};
pub use ids::{entity_id, EntityKind, Tenant};
pub use period::{FinancialYear, Period};
pub use text::Text;
pub use time::{Date, Timestamp};
