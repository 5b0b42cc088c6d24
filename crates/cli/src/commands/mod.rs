//! One module per command group; each command is a function taking the
//! open data directory ([`crate::env::Env`]) and its parsed arguments.
//!
//! - `write`: record-result, restate-result, set-target, revise-target,
//!   assess-risk, submit-forecast, report-action, close-period
//! - `query`: dashboard, indicators, history, audit, risks, finance
//! - `import`: import (the workflow itself is `perfledger_service`'s)
//! - `seal`: seal, seals
//! - `verify`: verify
//! - `maintain`: checkpoint, rebuild
//! - `serve`: serve, demo
//!
//! (`pack` and `changes` live beside this directory, in `crate::pack` and
//! `crate::changes`.)

pub mod import;
pub mod maintain;
pub mod query;
pub mod seal;
pub mod serve;
pub mod verify;
pub mod write;
