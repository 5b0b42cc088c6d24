//! Querying read models over NATS request/reply: `{prefix}.q.{tenant}.{view}`.
//!
//! Requests and answers are JSON (`proto/services.md`): the request body is
//! a JSON object of parameters (e.g. `{"as_of": 1470000000000}`); the reply
//! is `{"Answer": <view>}` or `{"Refused": <ServiceError>}`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::wire::{self, Encoding, ServiceError};
use crate::ClientError;

/// A query service reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QueryReply {
    /// The view (JSON).
    Answer(serde_json::Value),
    /// Refused.
    Refused(ServiceError),
}

/// Asks the query service.
#[derive(Debug, Clone)]
pub struct QueryClient {
    client: async_nats::Client,
    prefix: String,
    timeout: Duration,
}

impl QueryClient {
    /// A query client with prefix `pl` and a 10 s timeout.
    pub fn new(client: async_nats::Client) -> Self {
        QueryClient {
            client,
            prefix: "pl".into(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Another subject prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Another timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Ask `view` of `tenant` with JSON parameters.
    pub async fn query(
        &self,
        tenant: &str,
        view: &str,
        params: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let subject = wire::query_subject(&self.prefix, tenant, view);
        let body = serde_json::to_vec(params).map_err(|e| ClientError::Decode(e.to_string()))?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(wire::ENCODING_HEADER, Encoding::Json.header_value());
        let req = async_nats::Request::new()
            .payload(body.into())
            .headers(headers)
            .timeout(Some(self.timeout));
        let msg = self
            .client
            .send_request(subject.clone(), req)
            .await
            .map_err(|e| match e.kind() {
                async_nats::RequestErrorKind::TimedOut => ClientError::Timeout {
                    attempts: 1,
                    command_id: uuid::Uuid::nil(),
                },
                async_nats::RequestErrorKind::NoResponders => ClientError::NoResponders {
                    subject,
                    attempts: 1,
                },
                _ => ClientError::Nats(e.to_string()),
            })?;
        match wire::decode_reply::<QueryReply>(Encoding::Json, &msg.payload)
            .map_err(ClientError::Decode)?
        {
            QueryReply::Answer(v) => Ok(v),
            QueryReply::Refused(e) => Err(ClientError::Refused(e)),
        }
    }
}
