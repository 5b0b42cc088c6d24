//! perfledger-gateway: perfledger's NATS services.
//!
//! * [`command::CommandGateway`]: request/reply on
//!   `{prefix}.cmd.{tenant}.{family}` into [`perfledger_ledger::Ledger`]
//!   (either log backend), replying with the appended sequence or a typed
//!   error ([`perfledger_client::wire`], `proto/services.md`).
//! * [`query::QueryService`]: request/reply on `{prefix}.q.{tenant}.{view}`
//!   over a [`perfledger_readmodel::ReadModel`] kept current by a projector.
//! * [`checkpointer::keep_checkpointed`]: integrity checkpoints over what
//!   the gateway appends, every few seconds and when it stops.
//!
//! The `perfledger-gateway` binary runs both; `deploy/` has the nats-server
//! configurations, permissions and service units.

#![forbid(unsafe_code)]

pub mod checkpointer;
pub mod command;
mod error;
pub mod query;
mod serve;

pub use command::{CommandGateway, GatewayConfig};
pub use error::GatewayError;
pub use query::{QueryConfig, QueryService};
