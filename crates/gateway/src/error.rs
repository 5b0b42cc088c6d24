//! The error that stops a service (the command gateway or the query
//! service), shared by both and by the request loop in `serve`.
//!
//! It lives in its own module so the dependencies go one way: `command`
//! and `query` use `serve`, and all three use `error`; `serve` knows
//! neither service. A request never causes one: requests are answered with
//! a typed [`perfledger_client::wire::ServiceError`] instead.

/// Errors that stop the gateway (never caused by a request).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Subscribing failed.
    #[error("cannot subscribe to {subject}: {detail}")]
    Subscribe {
        /// Subject.
        subject: String,
        /// Detail.
        detail: String,
    },
}
