//! The read-model query service: `{prefix}.q.{tenant}.{view}`, JSON
//! request/reply over one tenant's [`perfledger_readmodel::ReadModel`] kept
//! up to date by a projector following the log. Read only: nothing here
//! writes to the log.
//!
//! Views (parameters are a JSON object; `as_of` is optional everywhere:
//! `"Head"`, `{"Seq": n}`, `{"Time": ms}` or a string in the as-of grammar
//! of [`perfledger_domain::asof`] (`"541"`, `"2016-09-06T10:00:00Z"`); `min_seq` makes the service wait,
//! bounded, until the read model has projected that sequence, so a publisher
//! can read its own write):
//!
//! | view | parameters | answer (`perfledger_readmodel::views`, docs/json.md) |
//! |---|---|---|
//! | `dashboard` | `period`, `unit`? | `DashboardJson` (with digest) |
//! | `indicator` | `indicator` | `HistoryJson` (the CLI's `history`) |
//! | `history` | `indicator` | `AuditJson` of the indicator |
//! | `indicators` | `unit`? | `IndicatorsJson` |
//! | `audit` | `kind`, `key` | `AuditJson` (with digest) |
//! | `risks` | `unit`? | `RisksJson` |
//! | `finance` | `period`, `unit`? | `FinanceJson` |
//! | `seals` | — | `SealsJson` (each seal re-derived) |
//! | `status` | — | `{"checkpoint": n}` |
//!
//! An answer is the view's JSON text as the CLI and the web print it: the
//! wire reply is `{"Answer":<view>}` written around those bytes, so its
//! numbers are the exact decimals (no float on the way).
//!
//! Tenancy: the service answers only `{prefix}.q.{tenant}.*` of its read
//! model's tenant (the read model records it and projects only that
//! tenant's records); one service per tenant.
//!
//! Capacity (why waiting cannot starve other queries): a query whose
//! `min_seq` the read model has already reached is answered at once. One
//! that must wait is first checked against the log's head: a `min_seq`
//! beyond it is refused `bad_query` at once (nothing will ever assign that
//! sequence within the wait). A query that may wait takes a permit of a
//! separate, bounded pool of waiters ([`QueryConfig::max_waiting`] in all
//! and [`QueryConfig::max_waiting_per_client`] per client) or is refused
//! `unavailable` at once; the serving loop admits `max_in_flight +
//! max_waiting` requests, so at least `max_in_flight` slots always remain
//! for queries that do not wait. NATS carries no authenticated client id on
//! a request: "client" is the reply subject without its last token, which
//! is one connection's inbox prefix for the official clients. A caller can
//! forge reply subjects, so the per-client bound is fairness between
//! well-behaved clients; the total bound is the guarantee.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use perfledger_client::query::QueryReply;
use perfledger_client::wire::{Encoding, ServiceError};
use perfledger_domain::{EntityKind, Period};
use perfledger_log::{EventLog, LogError, Seq};
use perfledger_readmodel::views::{
    self, AuditJson, DashboardJson, FinanceJson, HistoryJson, IndicatorsJson, RisksJson, SealsJson,
};
use perfledger_readmodel::{AsOf, Projector, ReadModel, ReadModelError};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::GatewayError;
use crate::serve::{serve_requests, Reply};

/// Views served, in the order of the table above.
pub const VIEWS: [&str; 9] = [
    "dashboard",
    "indicator",
    "history",
    "indicators",
    "audit",
    "risks",
    "finance",
    "seals",
    "status",
];

/// Largest query body.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// Options of the query service (its tenant is its read model's).
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// Subject prefix (default `pl`).
    pub prefix: String,
    /// Queue group (default `perfledger-query`).
    pub queue_group: String,
    /// Queries that do not wait, answered at once (default 16).
    pub max_in_flight: usize,
    /// Queries waiting for `min_seq` at once, in all (default 64); more are
    /// refused `unavailable`.
    pub max_waiting: usize,
    /// Queries waiting for `min_seq` at once per client (default 8).
    pub max_waiting_per_client: usize,
    /// Longest wait for `min_seq` (default 10 s).
    pub max_wait: Duration,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            prefix: "pl".into(),
            queue_group: "perfledger-query".into(),
            max_in_flight: 16,
            max_waiting: 64,
            max_waiting_per_client: 8,
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

/// The log's current head, asked when a query would wait.
type HeadFn = Arc<dyn Fn() -> BoxFuture<'static, Result<Seq, LogError>> + Send + Sync>;

/// Waiting queries per client key.
type Waiters = Arc<Mutex<BTreeMap<String, usize>>>;

/// A waiting query's place in the pool of waiters (given back on drop).
struct WaitPermit {
    _total: OwnedSemaphorePermit,
    client: Option<String>,
    waiters: Waiters,
}

impl Drop for WaitPermit {
    fn drop(&mut self) {
        if let Some(c) = &self.client {
            if let Ok(mut m) = self.waiters.lock() {
                if let Some(n) = m.get_mut(c) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        m.remove(c);
                    }
                }
            }
        }
    }
}

/// The query service of one tenant.
pub struct QueryService {
    rm: ReadModel,
    cfg: QueryConfig,
    head: HeadFn,
    waiting: Arc<Semaphore>,
    waiters: Waiters,
}

impl QueryService {
    /// A service over `rm` (its tenant's), whose projector follows `log`
    /// (the log is also asked its head before a query waits).
    pub fn new<L: EventLog>(rm: ReadModel, log: Arc<L>, mut cfg: QueryConfig) -> Self {
        cfg.max_in_flight = cfg.max_in_flight.max(1);
        cfg.max_waiting_per_client = cfg.max_waiting_per_client.max(1);
        let head: HeadFn = Arc::new(move || {
            let log = log.clone();
            async move { log.head().await }.boxed()
        });
        QueryService {
            rm,
            waiting: Arc::new(Semaphore::new(cfg.max_waiting)),
            cfg,
            head,
            waiters: Arc::default(),
        }
    }

    /// The read model.
    pub fn read_model(&self) -> &ReadModel {
        &self.rm
    }

    /// Queries waiting for `min_seq` now.
    pub fn waiting(&self) -> usize {
        self.cfg
            .max_waiting
            .saturating_sub(self.waiting.available_permits())
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

    /// Answer one query (no client identity: only the total bound on
    /// waiting applies).
    pub async fn handle(&self, subject: &str, body: &[u8]) -> QueryReply {
        self.handle_from(None, subject, body).await
    }

    /// Answer one query from `client` (see the module docs for what
    /// identifies a client), parsed into a [`QueryReply`] (its
    /// `serde_json::Value` holds decimals as floats; the wire reply,
    /// [`QueryService::reply_bytes`], is exact).
    pub async fn handle_from(
        &self,
        client: Option<&str>,
        subject: &str,
        body: &[u8],
    ) -> QueryReply {
        match self.answer(client, subject, body).await {
            Ok(text) => QueryReply::Answer(
                serde_json::from_str(&text).expect("a view's JSON text parses back"),
            ),
            Err(e) => QueryReply::Refused(e),
        }
    }

    /// The reply as sent on the wire, `{"Answer":<view>}` around the
    /// view's JSON text or `{"Refused":<error>}`, with its status.
    pub async fn reply_bytes(
        &self,
        client: Option<&str>,
        subject: &str,
        body: &[u8],
    ) -> (Vec<u8>, &'static str) {
        match self.answer(client, subject, body).await {
            Ok(text) => {
                let mut out = Vec::with_capacity(text.len() + 12);
                out.extend_from_slice(b"{\"Answer\":");
                out.extend_from_slice(text.as_bytes());
                out.push(b'}');
                (out, "ok")
            }
            Err(e) => {
                let code = e.code();
                let body = serde_json::to_vec(&QueryReply::Refused(e)).unwrap_or_else(|_| {
                    br#"{"Refused":{"Internal":{"detail":"encode"}}}"#.to_vec()
                });
                (body, code)
            }
        }
    }

    /// The view's JSON text, or the refusal.
    async fn answer(
        &self,
        client: Option<&str>,
        subject: &str,
        body: &[u8],
    ) -> Result<String, ServiceError> {
        let tenant = self.rm.tenant().as_str();
        let mut t = subject.split('.');
        let view = match (t.next(), t.next(), t.next(), t.next(), t.next()) {
            (Some(p), Some("q"), Some(asked), Some(view), None) if p == self.cfg.prefix => {
                if asked != tenant {
                    return Err(ServiceError::NotPermitted {
                        field: "tenant".into(),
                        subject_value: asked.chars().take(64).collect(),
                        command_value: tenant.into(),
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
            if min > self.checkpoint()? {
                let head = (self.head)().await.map_err(|e| ServiceError::Unavailable {
                    detail: format!("cannot read the log's head: {e}"),
                })?;
                if min > head {
                    return Err(bad(format!(
                        "min_seq {min} is beyond the log's head {head}: only a sequence the log has assigned can be waited for"
                    )));
                }
                let _place = self.admit_waiter(client)?;
                self.wait_for(min).await?;
            }
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

    fn checkpoint(&self) -> Result<Seq, ServiceError> {
        self.rm.checkpoint().map_err(|e| ServiceError::Internal {
            detail: e.to_string(),
        })
    }

    /// A place among the waiters, or an immediate refusal.
    fn admit_waiter(&self, client: Option<&str>) -> Result<WaitPermit, ServiceError> {
        let full = |detail: String| ServiceError::Unavailable { detail };
        let total = self.waiting.clone().try_acquire_owned().map_err(|_| {
            full(format!(
                "{} queries are already waiting for min_seq (the limit); retry later",
                self.cfg.max_waiting
            ))
        })?;
        let client = client.map(|c| c.chars().take(128).collect::<String>());
        if let Some(c) = &client {
            let mut m = self.waiters.lock().map_err(|_| ServiceError::Internal {
                detail: "waiter table poisoned".into(),
            })?;
            let n = m.entry(c.clone()).or_insert(0);
            if *n >= self.cfg.max_waiting_per_client {
                return Err(full(format!(
                    "this client already has {} queries waiting for min_seq (the limit); retry later",
                    self.cfg.max_waiting_per_client
                )));
            }
            *n += 1;
        }
        Ok(WaitPermit {
            _total: total,
            client,
            waiters: self.waiters.clone(),
        })
    }

    async fn wait_for(&self, min: u64) -> Result<(), ServiceError> {
        let deadline = tokio::time::Instant::now() + self.cfg.max_wait;
        let mut pause = Duration::from_millis(5);
        loop {
            let cp = self.checkpoint()?;
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
        let subject = format!("{}.q.{}.*", self.cfg.prefix, self.rm.tenant().as_str());
        let queue = self.cfg.queue_group.clone();
        // Waiters never hold more than `max_waiting` of these slots.
        let limit = self.cfg.max_in_flight + self.cfg.max_waiting;
        serve_requests(client, vec![subject], queue, limit, shutdown, move |msg| {
            let svc = self.clone();
            async move {
                // The reply inbox without its last token: one connection's
                // inbox prefix for the official clients.
                let from = msg
                    .reply
                    .as_ref()
                    .map(|r| r.as_str().rsplit_once('.').map_or(r.as_str(), |(p, _)| p));
                let (body, status) = svc
                    .reply_bytes(from, msg.subject.as_str(), &msg.payload)
                    .await;
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

fn json<T: serde::Serialize>(v: &T) -> Result<String, Fail> {
    Ok(views::to_json(v, false))
}

fn need<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, Fail> {
    v.as_deref()
        .ok_or_else(|| Fail::Bad(format!("missing parameter `{name}`")))
}

fn period(v: &Option<String>) -> Result<Period, Fail> {
    let p = need(v, "period")?;
    Period::parse(p).map_err(|e| Fail::Bad(format!("parameter `period`: {e}")))
}

fn run_view(rm: &ReadModel, view: &str, p: Params) -> Result<String, Fail> {
    let at = p.as_of.unwrap_or(AsOf::Head);
    let unit = p.unit.as_deref();
    match view {
        "dashboard" => json(&DashboardJson::from(&rm.dashboard(
            unit,
            period(&p.period)?,
            at,
        )?)),
        "indicator" => json(&HistoryJson::from(
            &rm.indicator(need(&p.indicator, "indicator")?, at)?,
        )),
        "history" => json(&AuditJson::from(
            &rm.history(need(&p.indicator, "indicator")?, at)?,
        )),
        "indicators" => {
            let seq = rm.resolve(at)?;
            let list = rm.indicators(unit, AsOf::Seq(seq))?;
            json(&IndicatorsJson::new(seq, unit, &list))
        }
        "audit" => {
            let kind = EntityKind::from_token(need(&p.kind, "kind")?)
                .map_err(|e| Fail::Bad(format!("parameter `kind`: {e}")))?;
            json(&AuditJson::from(&rm.audit(
                kind,
                need(&p.key, "key")?,
                at,
            )?))
        }
        "risks" => json(&RisksJson::from(&rm.risks(unit, at)?)),
        "finance" => json(&FinanceJson::from(&rm.finance(
            unit,
            period(&p.period)?,
            at,
        )?)),
        "seals" => {
            let seq = rm.resolve(at)?;
            let mut rows = Vec::new();
            for r in rm.seals(AsOf::Seq(seq))? {
                let verdict = rm.verify_seal(&r.seal)?;
                rows.push((r, verdict));
            }
            json(&SealsJson::new(seq, &rows))
        }
        "status" => json(&serde_json::json!({ "checkpoint": rm.checkpoint()? })),
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
