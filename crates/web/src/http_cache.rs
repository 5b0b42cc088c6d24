//! HTTP caching of answers: `ETag`, `Cache-Control` and `If-None-Match`.
//!
//! Grammar of what is sent, for a `200 OK` answer only (errors are never
//! tagged or cached):
//! * `ETag: "<SHA-256 of the body, 64 hex digits>"` — the answer's content
//!   digest, so equal bytes carry equal tags however they were reached;
//! * `Cache-Control: public, max-age=31536000, immutable` when the answer is
//!   *pinned*: its route's bytes are a function of the log sequence alone
//!   ([`Pin`]) and the request names that sequence explicitly
//!   (`?as_of=SEQ`, digits — a date/time is not pinned: a backdated import
//!   can move the sequence it resolves to). Events are facts and the log is
//!   append-only, so such an answer never changes;
//! * otherwise the page's own `Cache-Control` (`no-store`) is kept.
//!
//! A request whose `If-None-Match` names the answer's tag (or `*`) is
//! answered `304 Not Modified` with the same `ETag` and `Cache-Control` and
//! no body.
//!
//! HTML pages are never pinned: each page's as-of bar names the latest
//! sequence ("the latest is sequence N"), its selectors list the periods
//! known at the latest sequence, and seal boxes compare with the latest
//! position — bytes that move with the head even when `as_of` is fixed.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use perfledger_readmodel::AsOf;
use sha2::{Digest, Sha256};

use crate::answers::Stored;
use crate::params::parse_as_of;

/// `Cache-Control` of a pinned answer: a year (the longest RFC 9111
/// suggests), never revalidated.
pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Whether a route's answer, once its `as_of` is an explicit sequence, is
/// fixed for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pin {
    /// Never: the answer also depends on the latest position.
    Never,
    /// When `as_of` is a log sequence.
    Seq,
    /// When `as_of` is a log sequence and `period` is given (without it the
    /// latest period known at the head is chosen).
    SeqAndPeriod,
}

impl Pin {
    /// Is the answer to these query parameters pinned?
    pub(crate) fn pinned(self, q: &BTreeMap<String, String>) -> bool {
        let seq = || {
            q.get("as_of")
                .is_some_and(|v| matches!(parse_as_of(v), Ok(AsOf::Seq(_))))
        };
        let period = || q.get("period").is_some_and(|p| !p.trim().is_empty());
        match self {
            Pin::Never => false,
            Pin::Seq => seq(),
            Pin::SeqAndPeriod => seq() && period(),
        }
    }
}

/// The `ETag` of a body: its SHA-256, quoted.
pub(crate) fn etag(body: &[u8]) -> String {
    let d: [u8; 32] = Sha256::digest(body).into();
    format!("\"{}\"", crate::pages::hex32(&d))
}

/// Does an `If-None-Match` header name `tag`? (Weak comparison, as RFC
/// 9110 §13.1.2 asks: `W/"x"` matches `"x"`.)
pub(crate) fn none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

/// Read a `200 OK` answer into memory with its `ETag`; any other answer is
/// given back unchanged (errors are neither tagged nor stored).
pub(crate) async fn store(resp: Response) -> Result<Stored, Response> {
    if resp.status() != StatusCode::OK {
        return Err(resp);
    }
    let (parts, body) = resp.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        // Our bodies are in memory; a failure here is a bug, not input.
        Err(e) => {
            tracing::error!(error = %e, "cannot read an answer's body");
            return Err((StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response());
        }
    };
    let etag = HeaderValue::from_str(&etag(&body)).expect("a quoted hex digest is a header value");
    Ok(Stored {
        headers: parts.headers,
        body,
        etag,
    })
}

/// The response for a stored answer: tagged, marked immutable when
/// `pinned`, and `304 Not Modified` when the request already holds it.
pub(crate) fn finish(answer: &Stored, pinned: bool, request: &HeaderMap) -> Response {
    let mut headers = answer.headers.clone();
    headers.insert(header::ETAG, answer.etag.clone());
    if pinned {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    }
    let tag = answer.etag.to_str().expect("an ETag we made is ASCII");
    let (status, body) = if none_match(request, tag) {
        // A 304 carries the validators, not the body's description.
        let mut kept = HeaderMap::new();
        for name in [header::ETAG, header::CACHE_CONTROL] {
            if let Some(v) = headers.get(&name) {
                kept.insert(name, v.clone());
            }
        }
        headers = kept;
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else {
        (StatusCode::OK, Body::from(answer.body.clone()))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pinned_only_by_an_explicit_sequence() {
        assert!(Pin::Seq.pinned(&q(&[("as_of", "42")])));
        assert!(Pin::Seq.pinned(&q(&[("as_of", " 42 ")])));
        for not in ["", "head", "2016-09-06", "2016-09-06T10:00:00Z", "x"] {
            assert!(!Pin::Seq.pinned(&q(&[("as_of", not)])), "{not}");
        }
        assert!(!Pin::Seq.pinned(&q(&[])));
        assert!(!Pin::Never.pinned(&q(&[("as_of", "42")])));
        assert!(!Pin::SeqAndPeriod.pinned(&q(&[("as_of", "42")])));
        assert!(!Pin::SeqAndPeriod.pinned(&q(&[("as_of", "42"), ("period", " ")])));
        assert!(Pin::SeqAndPeriod.pinned(&q(&[("as_of", "42"), ("period", "2016/17 Q1")])));
    }

    #[test]
    fn if_none_match_lists() {
        let tag = etag(b"x");
        assert_eq!(tag.len(), 66);
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            m
        };
        assert!(none_match(&h(&tag), &tag));
        assert!(none_match(&h(&format!("\"a\", W/{tag}")), &tag));
        assert!(none_match(&h("*"), &tag));
        assert!(!none_match(&h("\"a\""), &tag));
        assert!(!none_match(&HeaderMap::new(), &tag));
    }
}
