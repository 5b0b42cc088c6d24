//! perfledger-web: the HTTP front end of the read model.
//!
//! * Server-rendered HTML pages a committee member can read without
//!   JavaScript: home, the unit/quarter dashboard, indicators (with an
//!   inline SVG trend chart and the audit trail), the risk register with its
//!   5×5 heat maps, finance tables and any entity's audit trail. Every page
//!   has an as-of selector (a plain GET form: log sequence or date/time).
//! * A JSON API of the read model's views (`/api/...`), same parameters.
//!
//! Every request resolves its `as_of` to ONE log sequence first and answers
//! every query of the page at that sequence, so a page is consistent even
//! while the projector's follow loop advances the checkpoint.
//!
//! Bad query parameters answer 400 naming the parameter and value (JSON on
//! `/api`, HTML elsewhere); unknown entities 404. All text is HTML-escaped
//! by [`html::esc`]. Read-model queries (sled, synchronous) run on the
//! blocking pool.
#![forbid(unsafe_code)]

// The tests' shared fixtures (tests/support) name this crate by its name.
#[cfg(test)]
extern crate self as perfledger_web;

mod answers;
mod api;
mod changes_page;
pub mod html;
mod http_cache;
pub mod pack_html;
mod pack_page;
mod pages;
mod params;
mod svg;
mod verdicts;

/// The integration tests' fixtures (a small council, the sample council),
/// reused by unit tests rather than copied.
#[cfg(test)]
#[path = "../tests/support/mod.rs"]
mod test_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use perfledger_domain::period::Period;
use perfledger_readmodel::{ReadModel, ReadModelError};

use http_cache::Pin;

pub use params::{parse_as_of, parse_period};

/// What the web server serves.
#[derive(Clone)]
pub struct WebState {
    /// The read model (the CLI's follow loop keeps it current).
    pub readmodel: Arc<ReadModel>,
    /// Title shown on every page (the council's name).
    pub title: String,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState")
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

/// Errors of [`serve`].
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Accepting or serving connections failed.
    #[error("http server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Periods known at a checkpoint.
type PeriodCache = Arc<Mutex<Option<(u64, Vec<Period>)>>>;

/// Shared state of the router: the caller's [`WebState`] plus a cache of
/// the periods known at a checkpoint (for selectors).
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) web: WebState,
    periods: PeriodCache,
    verdicts: Arc<verdicts::VerdictCache>,
    answers: Arc<answers::AnswerCache>,
}

impl App {
    pub(crate) fn new(web: WebState) -> Self {
        App {
            web,
            periods: Arc::new(Mutex::new(None)),
            verdicts: Arc::default(),
            answers: Arc::default(),
        }
    }

    pub(crate) fn rm(&self) -> &ReadModel {
        &self.web.readmodel
    }

    /// Periods with indicator results or seals as of the checkpoint,
    /// chronologically (cached per checkpoint).
    pub(crate) fn periods(&self) -> Result<Vec<Period>, AppError> {
        let cp = self.rm().checkpoint()?;
        if let Ok(guard) = self.periods.lock() {
            if let Some((seq, ps)) = guard.as_ref() {
                if *seq == cp {
                    return Ok(ps.clone());
                }
            }
        }
        let ps = pages::known_periods(self.rm(), cp)?;
        if let Ok(mut guard) = self.periods.lock() {
            *guard = Some((cp, ps.clone()));
        }
        Ok(ps)
    }

    /// The verdict of a seal at the current checkpoint (cached per seal and
    /// checkpoint: see [`verdicts`]).
    pub(crate) fn seal_verdict(
        &self,
        rec: &perfledger_readmodel::SealRecord,
    ) -> Result<Arc<perfledger_readmodel::SealVerdict>, AppError> {
        Ok(self.verdicts.verdict(self.rm(), rec)?)
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AppError {
    /// A query or path parameter that cannot be used.
    BadParam {
        param: &'static str,
        value: String,
        reason: String,
    },
    /// No such entity.
    NotFound(String),
    /// Anything else (storage, corrupt values).
    Internal(String),
}

/// Longest value (a key, a parameter, a path) quoted back in an error.
const MAX_QUOTED: usize = 200;
/// Longest error message (a hostile 60 KB key is never echoed whole).
const MAX_MESSAGE: usize = 600;

/// `s` cut to at most `max` characters, with `…` when cut.
pub(crate) fn capped(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

impl AppError {
    pub(crate) fn bad(param: &'static str, value: &str, reason: impl Into<String>) -> Self {
        AppError::BadParam {
            param,
            value: value.chars().take(MAX_QUOTED).collect(),
            reason: capped(&reason.into(), MAX_MESSAGE),
        }
    }

    /// A 404 naming what was not found; `what` is quoted, capped.
    pub(crate) fn not_found(prefix: &str, what: &str, suffix: &str) -> Self {
        AppError::NotFound(capped(
            &format!("{prefix}{:?}{suffix}", capped(what, MAX_QUOTED)),
            MAX_MESSAGE,
        ))
    }

    fn status(&self) -> StatusCode {
        match self {
            AppError::BadParam { .. } => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> String {
        match self {
            AppError::BadParam {
                param,
                value,
                reason,
            } => format!("bad parameter {param} = {value:?}: {reason}"),
            AppError::NotFound(m) => capped(m, MAX_MESSAGE),
            AppError::Internal(m) => format!("internal error: {}", capped(m, MAX_MESSAGE)),
        }
    }

    fn json(&self) -> Response {
        let mut body = serde_json::Map::new();
        let kind = match self {
            AppError::BadParam { .. } => "bad_request",
            AppError::NotFound(_) => "not_found",
            AppError::Internal(_) => "internal",
        };
        body.insert("error".into(), kind.into());
        if let AppError::BadParam { param, value, .. } = self {
            body.insert("parameter".into(), (*param).into());
            body.insert("value".into(), value.clone().into());
        }
        body.insert("message".into(), self.message().into());
        (self.status(), Json(serde_json::Value::Object(body))).into_response()
    }

    fn html(&self, title: &str) -> Response {
        let heading = match self {
            AppError::BadParam { .. } => "Bad request",
            AppError::NotFound(_) => "Not found",
            AppError::Internal(_) => "Something went wrong",
        };
        let mut body = format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            html::esc(&self.message())
        );
        if let AppError::BadParam { param, value, .. } = self {
            body.push_str(&format!(
                "<p>Parameter <code>{}</code> had the value <code>{}</code>.</p>",
                html::esc(param),
                html::esc(value)
            ));
        }
        body.push_str("<p><a href=\"/\">Back to the home page</a></p>");
        let page = html::layout(title, heading, "", None, &body);
        (self.status(), html_response(page)).into_response()
    }
}

impl From<ReadModelError> for AppError {
    fn from(e: ReadModelError) -> Self {
        match e {
            ReadModelError::NotFound { kind, ref key } => {
                AppError::not_found(&format!("no {kind} named "), key, "")
            }
            ReadModelError::Ambiguous { ref key, .. } => {
                let key = key.clone();
                AppError::bad("key", &key, e.to_string())
            }
            ReadModelError::BeyondCheckpoint { requested, .. } => {
                AppError::bad("as_of", &requested.to_string(), e.to_string())
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

fn html_response(page: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response()
}

type Q = Result<Query<BTreeMap<String, String>>, QueryRejection>;

fn query_map(q: Q) -> Result<BTreeMap<String, String>, AppError> {
    match q {
        Ok(Query(m)) => Ok(m),
        Err(e) => Err(AppError::bad("query", "", e.body_text())),
    }
}

#[derive(Clone, Copy)]
enum Fmt {
    Html,
    Json,
}

/// How a request is answered: the format of its errors, whether its route
/// can be pinned to a sequence ([`http_cache`]), and the request's headers
/// (for `If-None-Match`).
struct Answer {
    fmt: Fmt,
    pin: Pin,
    headers: HeaderMap,
    /// The request's URI as sent: with the head, the key of its stored
    /// answer ([`answers`]).
    uri: Uri,
}

/// What the blocking pool gives back: a stored answer, or a fresh response
/// with the key and head to store it under.
enum Rendered {
    Stored(Arc<answers::Stored>),
    Fresh(Response, answers::Key, u64),
}

/// Run a page or API function on the blocking pool and turn its outcome
/// into a response (errors in the page's format; a success tagged and, when
/// pinned, marked immutable by [`http_cache::finish`]).
async fn run<F>(app: App, a: Answer, q: Q, f: F) -> Response
where
    F: FnOnce(&App, &BTreeMap<String, String>) -> Result<Response, AppError> + Send + 'static,
{
    let title = app.web.title.clone();
    let fmt = a.fmt;
    let mut pinned = false;
    let mut flight = None;
    let cache = app.answers.clone();
    let rm = app.web.readmodel.clone();
    let outcome = match query_map(q) {
        Err(e) => Err(e),
        Ok(map) => {
            pinned = a.pin.pinned(&map);
            match app.rm().checkpoint() {
                Err(e) => Err(e.into()),
                Ok(head) => {
                    let key = (a.uri.to_string(), (!pinned).then_some(head));
                    // One render per key at a time ([`answers`]): held until
                    // the answer is filed below, so those queued behind it
                    // find it in the cache.
                    flight = Some(cache.flight(&key).lock_owned().await);
                    let render = move || -> Result<Rendered, AppError> {
                        if let Some(hit) = app.answers.get(&key) {
                            return Ok(Rendered::Stored(hit));
                        }
                        Ok(Rendered::Fresh(f(&app, &map)?, key, head))
                    };
                    match tokio::task::spawn_blocking(render).await {
                        Ok(r) => r,
                        Err(e) => Err(AppError::Internal(format!("request task failed: {e}"))),
                    }
                }
            }
        }
    };
    let outcome = match outcome {
        Ok(Rendered::Stored(s)) => Ok(s),
        Ok(Rendered::Fresh(r, key, head)) => match http_cache::store(r).await {
            Ok(s) => {
                let s = Arc::new(s);
                // Filed only if nothing moved while it was rendered.
                if rm.checkpoint().ok() == Some(head) {
                    cache.put(key, s.clone());
                }
                Ok(s)
            }
            Err(other) => return other,
        },
        Err(e) => Err(e),
    };
    drop(flight);
    match outcome {
        Ok(s) => http_cache::finish(&s, pinned, &a.headers),
        Err(e) => {
            if matches!(e, AppError::Internal(_)) {
                tracing::error!(error = %e.message(), "request failed");
            }
            match fmt {
                Fmt::Html => e.html(&title),
                Fmt::Json => e.json(),
            }
        }
    }
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> Result<Response, AppError> {
    let body = serde_json::to_vec(v).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

pub(crate) fn page(body: String) -> Result<Response, AppError> {
    Ok(html_response(body))
}

macro_rules! handler {
    ($name:ident, $fmt:expr, $pin:expr, $f:path) => {
        async fn $name(State(app): State<App>, uri: Uri, headers: HeaderMap, q: Q) -> Response {
            let a = Answer {
                fmt: $fmt,
                pin: $pin,
                headers,
                uri,
            };
            run(app, a, q, |app, m| $f(app, m)).await
        }
    };
}

/// A path parameter, or the error naming it (e.g. invalid UTF-8).
fn path_param<T>(p: Result<Path<T>, PathRejection>, name: &'static str) -> Result<T, AppError> {
    p.map(|Path(v)| v)
        .map_err(|e| AppError::bad(name, "", e.body_text()))
}

fn reject(app: &App, fmt: Fmt, e: AppError) -> Response {
    match fmt {
        Fmt::Html => e.html(&app.web.title),
        Fmt::Json => e.json(),
    }
}

macro_rules! keyed_handler {
    ($name:ident, $fmt:expr, $pin:expr, $f:path) => {
        async fn $name(
            State(app): State<App>,
            uri: Uri,
            headers: HeaderMap,
            key: Result<Path<String>, PathRejection>,
            q: Q,
        ) -> Response {
            let a = Answer {
                fmt: $fmt,
                pin: $pin,
                headers,
                uri,
            };
            match path_param(key, "key") {
                Ok(key) => run(app, a, q, move |app, m| $f(app, &key, m)).await,
                Err(e) => reject(&app, $fmt, e),
            }
        }
    };
}

handler!(home, Fmt::Html, Pin::Never, pages::home);
handler!(dashboard, Fmt::Html, Pin::Never, pages::dashboard);
handler!(indicator_list, Fmt::Html, Pin::Never, pages::indicators);
keyed_handler!(indicator_page, Fmt::Html, Pin::Never, pages::indicator);
handler!(risks_page, Fmt::Html, Pin::Never, pages::risks);
handler!(finance_page, Fmt::Html, Pin::Never, pages::finance);
handler!(api_units, Fmt::Json, Pin::Seq, api::units);
handler!(api_periods, Fmt::Json, Pin::Never, api::periods);
handler!(api_dashboard, Fmt::Json, Pin::SeqAndPeriod, api::dashboard);
handler!(api_indicators, Fmt::Json, Pin::Seq, api::indicators);
keyed_handler!(api_indicator, Fmt::Json, Pin::Seq, api::indicator);
handler!(api_risks, Fmt::Json, Pin::Seq, api::risks);
handler!(api_heatmap, Fmt::Json, Pin::Seq, api::heatmap);
handler!(api_finance, Fmt::Json, Pin::SeqAndPeriod, api::finance);
handler!(api_seals, Fmt::Json, Pin::Never, api::seals);
handler!(pack_page, Fmt::Html, Pin::Never, pack_page::pack_page);
handler!(api_pack, Fmt::Json, Pin::Never, pack_page::api_pack);
handler!(changes, Fmt::Html, Pin::Never, changes_page::changes_page);
handler!(
    api_changes,
    Fmt::Json,
    Pin::Never,
    changes_page::api_changes
);

async fn audit_page(
    State(app): State<App>,
    uri: Uri,
    headers: HeaderMap,
    p: Result<Path<(String, String)>, PathRejection>,
    q: Q,
) -> Response {
    let a = Answer {
        fmt: Fmt::Html,
        pin: Pin::Never,
        headers,
        uri,
    };
    match path_param(p, "key") {
        Ok((kind, key)) => run(app, a, q, move |app, m| pages::audit(app, &kind, &key, m)).await,
        Err(e) => reject(&app, Fmt::Html, e),
    }
}

async fn api_audit(
    State(app): State<App>,
    uri: Uri,
    headers: HeaderMap,
    p: Result<Path<(String, String)>, PathRejection>,
    q: Q,
) -> Response {
    let a = Answer {
        fmt: Fmt::Json,
        pin: Pin::Seq,
        headers,
        uri,
    };
    match path_param(p, "key") {
        Ok((kind, key)) => run(app, a, q, move |app, m| api::audit(app, &kind, &key, m)).await,
        Err(e) => reject(&app, Fmt::Json, e),
    }
}

async fn not_found(State(app): State<App>, uri: axum::http::Uri) -> Response {
    let e = AppError::not_found("no page at ", uri.path(), "");
    if uri.path().starts_with("/api/") {
        e.json()
    } else {
        e.html(&app.web.title)
    }
}

/// The routes (HTML pages and the JSON API) over a read model.
///
/// | route | answers |
/// |---|---|
/// | `/` | home: units, periods, latest seals |
/// | `/dashboard?unit=&period=&as_of=` | the unit/quarter (or council-wide) dashboard |
/// | `/indicators?unit=&as_of=` | indicator list |
/// | `/indicators/{key}?as_of=` | one indicator: periods, trend chart, audit trail |
/// | `/risks?unit=&as_of=` | risk register and heat maps |
/// | `/finance?unit=&period=&as_of=` | revenue, capital and savings tables |
/// | `/audit/{kind}/{key}?as_of=` | any entity's audit trail |
/// | `/pack?unit=&period=&as_of=` or `?seal=ID`, `/api/pack` | the committee pack (printable HTML; JSON with its digest and anchor) |
/// | `/changes?seal=&as_of=`, `/api/changes` | what changed in a sealed pack since its seal, with the events and the counts they moved |
/// | `/api/units`, `/api/periods`, `/api/dashboard`, `/api/indicators`, `/api/indicators/{key}`, `/api/audit/{kind}/{key}`, `/api/risks`, `/api/heatmap`, `/api/finance`, `/api/seals` | JSON views |
///
/// Keys may contain `/` (`CG/S24`), written plainly or as `%2F`.
pub fn router(state: WebState) -> Router {
    routes(App::new(state))
}

/// [`router`] over an [`App`] (tests keep a handle on its caches).
fn routes(app: App) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/dashboard", get(dashboard))
        .route("/indicators", get(indicator_list))
        .route("/indicators/{*key}", get(indicator_page))
        .route("/risks", get(risks_page))
        .route("/finance", get(finance_page))
        .route("/pack", get(pack_page))
        .route("/audit/{kind}/{*key}", get(audit_page))
        .route("/api/units", get(api_units))
        .route("/api/periods", get(api_periods))
        .route("/api/dashboard", get(api_dashboard))
        .route("/api/indicators", get(api_indicators))
        .route("/api/indicators/{*key}", get(api_indicator))
        .route("/api/audit/{kind}/{*key}", get(api_audit))
        .route("/api/risks", get(api_risks))
        .route("/api/heatmap", get(api_heatmap))
        .route("/api/finance", get(api_finance))
        .route("/api/seals", get(api_seals))
        .route("/api/pack", get(api_pack))
        .route("/changes", get(changes))
        .route("/api/changes", get(api_changes))
        .fallback(not_found)
        .with_state(app)
}

/// Limits of the HTTP server: how long a client may take to send a
/// request head, and how many connections may be open at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeConfig {
    /// Time allowed to receive a complete request head, counted from the
    /// connection opening or, on a keep-alive connection, from the end of
    /// the previous request (so it is also the idle keep-alive timeout).
    /// A connection that has not sent a whole head by then is closed:
    /// silent connections and slow "one header byte at a time" clients
    /// cannot hold a connection open.
    pub header_timeout: std::time::Duration,
    /// Most connections open at once. A connection accepted over the cap
    /// is answered `503 Service Unavailable` and closed at once.
    pub max_connections: usize,
}

impl Default for ServeConfig {
    /// 10 s to send a request head (and idle keep-alive), 256 connections.
    fn default() -> Self {
        ServeConfig {
            header_timeout: std::time::Duration::from_secs(10),
            max_connections: 256,
        }
    }
}

/// Serve [`router`] on a bound listener with the default [`ServeConfig`]
/// until the task is cancelled or accepting fails.
pub async fn serve(state: WebState, listener: tokio::net::TcpListener) -> Result<(), WebError> {
    serve_with_config(
        state,
        listener,
        ServeConfig::default(),
        std::future::pending(),
    )
    .await
}

/// [`serve`] until `shutdown` completes (e.g. Ctrl-C), then finish the
/// requests in flight and return.
pub async fn serve_with_shutdown<F>(
    state: WebState,
    listener: tokio::net::TcpListener,
    shutdown: F,
) -> Result<(), WebError>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    serve_with_config(state, listener, ServeConfig::default(), shutdown).await
}

/// The answer to a connection over [`ServeConfig::max_connections`].
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\
retry-after: 1\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 25\r\n\r\n\
too many open connections";

/// [`serve_with_shutdown`] with explicit limits: HTTP/1.1 connections
/// with a request-head (and keep-alive idle) timeout, at most
/// `max_connections` open at once. When `shutdown` completes the server
/// stops accepting, closes idle connections, lets requests in flight
/// finish, and returns.
pub async fn serve_with_config<F>(
    state: WebState,
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    shutdown: F,
) -> Result<(), WebError>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let app = router(state);
    let permits = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                // Per-connection failures (the peer reset before accept,
                // out of descriptors for a moment) do not stop the server.
                Err(e) if is_transient(&e) => {
                    tracing::warn!(error = %e, "accept failed");
                    if out_of_descriptors(&e) {
                        // Back off (not a synchronisation): accepting again
                        // at once would spin until a descriptor is freed.
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = config.max_connections, "connection refused: at the cap");
            // Best effort, never blocking the accept loop.
            let _ = stream.try_write(OVER_CAPACITY);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection closed");
            }
            drop(permit);
        });
    }
    graceful.shutdown().await;
    Ok(())
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::ConnectionRefused | K::Interrupted
    ) || out_of_descriptors(e)
}

/// EMFILE or ENFILE.
fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}
