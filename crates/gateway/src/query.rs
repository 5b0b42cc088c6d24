//! The read-model query service: `{prefix}.q.{tenant}.{view}`, JSON
//! request/reply over a [`perfledger_readmodel::ReadModel`] kept up to date
//! by a projector following the log. Read only: nothing here writes to the
//! log.
//!
//! Views (parameters are a JSON object; `as_of` is optional everywhere:
//! `"Head"`, `{"Seq": n}` or `{"Time": ms}`; `min_seq` makes the service wait,
//! bounded, until the read model has projected that sequence, so a publisher
//! can read its own write):
//!
//! | view | parameters | answer |
//! |---|---|---|
//! | `dashboard` | `period`, `unit`? | `DashboardView` (with digest) |
//! | `indicator` | `indicator` | `IndicatorView` |
//! | `history` | `indicator` | `AuditTrail` of the indicator |
//! | `indicators` | `unit`? | `[IndicatorSummary]` |
//! | `audit` | `kind`, `key` | `AuditTrail` (with digest) |
//! | `risks` | `unit`? | `RiskRegister` |
//! | `finance` | `period`, `unit`? | `FinanceView` |
//! | `status` | — | `{"checkpoint": n}` |
//!
//! One read model serves one tenant (a readmodel v1 limitation): the
//! service answers only `{prefix}.q.{its tenant}.*`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use perfledger_client::query::QueryReply;
use perfledger_client::wire::{Encoding, ServiceError};
use perfledger_domain::{EntityKind, Period};
use perfledger_log::EventLog;
use perfledger_readmodel::{AsOf, Projector, ReadModel, ReadModelError};
use serde::Deserialize;
use serde_json::Value;

use crate::command::GatewayError;
use crate::serve::{serve_requests, Reply};

/// Views served, in the order of the table above.
pub const VIEWS: [&str; 8] = [
    "dashboard",
    "indicator",
    "history",
    "indicators",
    "audit",
    "risks",
    "finance",
    "status",
];

/// Largest query body.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// Options of the query service.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// Subject prefix (default `pl`).
    pub prefix: String,
    /// The tenant this read model serves.
    pub tenant: String,
    /// Queue group (default `perfledger-query`).
    pub queue_group: String,
    /// Queries answered at once (default 16).
    pub max_in_flight: usize,
    /// Longest wait for `min_seq` (default 10 s).
    pub max_wait: Duration,
}

impl QueryConfig {
    /// Defaults for a tenant.
    pub fn new(tenant: impl Into<String>) -> Self {
        QueryConfig {
            prefix: "pl".into(),
            tenant: tenant.into(),
            queue_group: "perfledger-query".into(),
            max_in_flight: 16,
            max_wait: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    as_of: Option<AsOf>,
    min_seq: Option<u64>,
    unit: Option<String>,
    period: Option<String>,
    indicator: Option<String>,
    kind: Option<String>,
    key: Option<String>,
}

/// The query service.
pub struct QueryService {
    rm: ReadModel,
    cfg: QueryConfig,
}

impl QueryService {
    /// A service over a read model.
    pub fn new(rm: ReadModel, mut cfg: QueryConfig) -> Self {
        cfg.max_in_flight = cfg.max_in_flight.max(1);
        QueryService { rm, cfg }
    }

    /// The read model.
    pub fn read_model(&self) -> &ReadModel {
        &self.rm
    }

    /// Keep the read model following `log` until `shutdown`; errors (a node
    /// down, a reconnect) are logged and the projector restarts from its
    /// checkpoint after a backoff.
    pub async fn project<L: EventLog>(&self, log: Arc<L>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(100);
        loop {
            let run = Projector::new(&self.rm);
            let mut progress = |_| {};
            tokio::select! {
                _ = &mut shutdown => return,
                r = run.follow(log.as_ref(), &mut progress) => match r {
                    Ok(seq) => tracing::info!(seq, "projector: log stream ended; restarting"),
                    Err(e) => tracing::warn!(error = %e, "projector stopped; restarting"),
                },
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Answer one query.
    pub async fn handle(&self, subject: &str, body: &[u8]) -> QueryReply {
        match self.answer(subject, body).await {
            Ok(v) => QueryReply::Answer(v),
            Err(e) => QueryReply::Refused(e),
        }
    }

    async fn answer(&self, subject: &str, body: &[u8]) -> Result<Value, ServiceError> {
        let mut t = subject.split('.');
        let view = match (t.next(), t.next(), t.next(), t.next(), t.next()) {
            (Some(p), Some("q"), Some(tenant), Some(view), None) if p == self.cfg.prefix => {
                if tenant != self.cfg.tenant {
                    return Err(ServiceError::NotPermitted {
                        field: "tenant".into(),
                        subject_value: tenant.into(),
                        command_value: self.cfg.tenant.clone(),
                    });
                }
                view
            }
            _ => {
                return Err(ServiceError::NotPermitted {
                    field: "subject".into(),
                    subject_value: subject.chars().take(256).collect(),
                    command_value: format!("{}.q.{{tenant}}.{{view}}", self.cfg.prefix),
                })
            }
        };
        let bad = |detail: String| ServiceError::BadQuery {
            view: view.chars().take(64).collect(),
            detail,
        };
        if !VIEWS.contains(&view) {
            return Err(bad(format!("unknown view; one of {}", VIEWS.join(", "))));
        }
        if body.len() > MAX_QUERY_BYTES {
            return Err(ServiceError::TooLarge {
                len: body.len() as u64,
                max: MAX_QUERY_BYTES as u64,
            });
        }
        let params: Params = if body.iter().all(|b| b.is_ascii_whitespace()) {
            Params::default()
        } else {
            serde_json::from_slice(body).map_err(|e| ServiceError::Malformed {
                encoding: "json".into(),
                detail: e.to_string(),
            })?
        };
        if let Some(min) = params.min_seq {
            self.wait_for(min).await?;
        }
        let rm = self.rm.clone();
        let view_owned = view.to_string();
        tokio::task::spawn_blocking(move || run_view(&rm, &view_owned, params))
            .await
            .map_err(|e| ServiceError::Internal {
                detail: e.to_string(),
            })?
            .map_err(|e| match e {
                Fail::Bad(d) => bad(d),
                Fail::Rm(e) => map_rm_error(view, e),
            })
    }

    async fn wait_for(&self, min: u64) -> Result<(), ServiceError> {
        let deadline = tokio::time::Instant::now() + self.cfg.max_wait;
        let mut pause = Duration::from_millis(5);
        loop {
            let cp = self.rm.checkpoint().map_err(|e| ServiceError::Internal {
                detail: e.to_string(),
            })?;
            if cp >= min {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ServiceError::Unavailable {
                    detail: format!(
                        "read model at sequence {cp} has not reached min_seq {min} within {:?}",
                        self.cfg.max_wait
                    ),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// Serve queries until `shutdown`.
    pub async fn serve(
        self: Arc<Self>,
        client: async_nats::Client,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), GatewayError> {
        let subject = format!("{}.q.{}.*", self.cfg.prefix, self.cfg.tenant);
        let queue = self.cfg.queue_group.clone();
        let limit = self.cfg.max_in_flight;
        serve_requests(client, subject, queue, limit, shutdown, move |msg| {
            let svc = self.clone();
            async move {
                let reply = svc.handle(msg.subject.as_str(), &msg.payload).await;
                let status = match &reply {
                    QueryReply::Answer(_) => "ok",
                    QueryReply::Refused(e) => e.code(),
                };
                let body = serde_json::to_vec(&reply).unwrap_or_else(|_| {
                    br#"{"Refused":{"Internal":{"detail":"encode"}}}"#.to_vec()
                });
                Reply {
                    encoding: Encoding::Json,
                    status,
                    body,
                }
            }
        })
        .await
    }
}

enum Fail {
    Bad(String),
    Rm(ReadModelError),
}

impl From<ReadModelError> for Fail {
    fn from(e: ReadModelError) -> Self {
        Fail::Rm(e)
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<Value, Fail> {
    serde_json::to_value(v).map_err(|e| Fail::Bad(format!("cannot render answer: {e}")))
}

fn need<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, Fail> {
    v.as_deref()
        .ok_or_else(|| Fail::Bad(format!("missing parameter `{name}`")))
}

fn period(v: &Option<String>) -> Result<Period, Fail> {
    let p = need(v, "period")?;
    Period::parse(p).map_err(|e| Fail::Bad(format!("parameter `period`: {e}")))
}

fn run_view(rm: &ReadModel, view: &str, p: Params) -> Result<Value, Fail> {
    let at = p.as_of.unwrap_or(AsOf::Head);
    let unit = p.unit.as_deref();
    match view {
        "dashboard" => json(&rm.dashboard(unit, period(&p.period)?, at)?),
        "indicator" => json(&rm.indicator(need(&p.indicator, "indicator")?, at)?),
        "history" => json(&rm.history(need(&p.indicator, "indicator")?, at)?),
        "indicators" => json(&rm.indicators(unit, at)?),
        "audit" => {
            let kind = EntityKind::from_token(need(&p.kind, "kind")?)
                .map_err(|e| Fail::Bad(format!("parameter `kind`: {e}")))?;
            let trail = rm.audit(kind, need(&p.key, "key")?, at)?;
            let mut v = json(&trail)?;
            if let Value::Object(m) = &mut v {
                m.insert("digest".into(), Value::String(trail.digest_hex()));
            }
            Ok(v)
        }
        "risks" => json(&rm.risks(unit, at)?),
        "finance" => json(&rm.finance(unit, period(&p.period)?, at)?),
        "status" => Ok(serde_json::json!({ "checkpoint": rm.checkpoint()? })),
        other => Err(Fail::Bad(format!("unknown view {other:?}"))),
    }
}

fn map_rm_error(view: &str, e: ReadModelError) -> ServiceError {
    match e {
        e @ (ReadModelError::NotFound { .. }
        | ReadModelError::Ambiguous { .. }
        | ReadModelError::BeyondCheckpoint { .. }) => ServiceError::BadQuery {
            view: view.into(),
            detail: e.to_string(),
        },
        other => ServiceError::Internal {
            detail: other.to_string(),
        },
    }
}
