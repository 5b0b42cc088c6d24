//! Rendered answers, kept so the same request at the same position is
//! rendered once.
//!
//! Invariant: an answer is stored under `(request URI, head)` — the URI as
//! sent (path and query), and the read model's checkpoint while it was
//! rendered — and is the `200 OK` that request gets at that checkpoint.
//! Every page and view is a function of its parameters and the read model
//! at its checkpoint (the title is fixed per router), so a stored answer is
//! exactly what rendering again would give. An answer is stored only if
//! the checkpoint was the same before and after rendering (one rendered
//! while the projector advanced is sent once, never filed). A *pinned*
//! answer ([`crate::http_cache::Pin`]: an explicit sequence on a route whose
//! bytes depend on nothing else) is stored with no head: it holds for ever.
//! Errors are never stored.
//!
//! Memory is bounded: at most [`MAX_BYTES`] of bodies, no single answer
//! over [`MAX_ONE`], oldest first out; answers at a head older than the
//! newest seen are dropped when the head moves (no request can hit them).
//!
//! Single flight: requests for the same key render one at a time
//! ([`AnswerCache::flight`]): the first renders and files the answer, the
//! ones waiting behind it find it filed. Without this, sixteen clients
//! opening a page at a new head rendered it sixteen times at once (53–56 s
//! each for the home page at 1M events, against 1.6 s for one alone).
//! The in-flight table holds one entry per key being rendered, dropped when
//! its last request is done.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};

/// Most bytes of answers kept.
pub(crate) const MAX_BYTES: usize = 64 << 20;
/// Largest answer kept.
pub(crate) const MAX_ONE: usize = 8 << 20;

/// A rendered `200 OK`: its headers, body and `ETag`.
pub(crate) struct Stored {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) etag: HeaderValue,
}

/// Request URI, and the head it was rendered at (None: pinned).
pub(crate) type Key = (String, Option<u64>);

/// The lock one key's renders queue on.
pub(crate) type Flight = Arc<tokio::sync::Mutex<()>>;

#[derive(Default)]
struct Inner {
    answers: BTreeMap<Key, Arc<Stored>>,
    order: VecDeque<Key>,
    bytes: usize,
    newest_head: u64,
    /// Keys being rendered now (weak: the entry dies with its last request).
    in_flight: BTreeMap<Key, std::sync::Weak<tokio::sync::Mutex<()>>>,
}

/// The cache (shared by every request of one router).
#[derive(Default)]
pub(crate) struct AnswerCache {
    inner: Mutex<Inner>,
    hits: AtomicU64,
}

impl AnswerCache {
    pub(crate) fn get(&self, key: &Key) -> Option<Arc<Stored>> {
        let hit = self.lock().answers.get(key).cloned();
        if hit.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// The lock that requests for `key` take while they look it up and,
    /// on a miss, render and file it: one render per key at a time.
    pub(crate) fn flight(&self, key: &Key) -> Flight {
        let mut inner = self.lock();
        if let Some(live) = inner.in_flight.get(key).and_then(|w| w.upgrade()) {
            return live;
        }
        // Keys whose requests are all done go before a new one comes in, so
        // the table never holds more than the requests in progress.
        inner.in_flight.retain(|_, w| w.strong_count() > 0);
        let flight = Flight::default();
        inner.in_flight.insert(key.clone(), Arc::downgrade(&flight));
        flight
    }

    pub(crate) fn put(&self, key: Key, answer: Arc<Stored>) {
        let size = answer.body.len();
        if size > MAX_ONE {
            return;
        }
        let mut inner = self.lock();
        if let Some(head) = key.1 {
            if head < inner.newest_head {
                return; // rendered at a head no request will ask for again
            }
            if head > inner.newest_head {
                inner.newest_head = head;
                let Inner {
                    answers,
                    order,
                    bytes,
                    ..
                } = &mut *inner;
                order.retain(|k| match k.1 {
                    Some(h) if h < head => {
                        if let Some(old) = answers.remove(k) {
                            *bytes -= old.body.len();
                        }
                        false
                    }
                    _ => true,
                });
            }
        }
        if let Some(old) = inner.answers.insert(key.clone(), answer) {
            inner.bytes -= old.body.len();
        } else {
            inner.order.push_back(key);
        }
        inner.bytes += size;
        while inner.bytes > MAX_BYTES {
            let Some(k) = inner.order.pop_front() else {
                break;
            };
            if let Some(old) = inner.answers.remove(&k) {
                inner.bytes -= old.body.len();
            }
        }
    }

    /// Answers served from the cache so far.
    #[cfg(test)]
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every mutation keeps the map, the order and the byte count in
        // step before anything can panic: a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support as support;
    use tower::ServiceExt;

    async fn get(app: &axum::Router, uri: &str) -> (axum::http::StatusCode, Bytes) {
        let req = axum::http::Request::get(uri)
            .body(axum::body::Body::empty())
            .expect("a request");
        let res = app.clone().oneshot(req).await.expect("an answer");
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("a body");
        (status, body)
    }

    #[tokio::test]
    async fn the_same_request_at_the_same_head_is_rendered_once() {
        let council = support::council().await;
        let app = crate::App::new(council.state());
        let router = crate::routes(app.clone());
        let pinned = format!("/api/units?as_of={}", council.seal_seq);
        for (uri, hits) in [
            ("/", 0),
            ("/", 1),
            ("/?as_of=", 1), // another URI: rendered, not served from "/"
            (pinned.as_str(), 1),
            (pinned.as_str(), 2),
            ("/api/units?as_of=999999", 2), // an error: never stored
            ("/api/units?as_of=999999", 2),
        ] {
            let first = get(&router, uri).await;
            assert_eq!(app.answers.hits(), hits, "{uri}");
            if first.0 == axum::http::StatusCode::OK {
                // Served again from the cache: the same bytes.
                assert_eq!(get(&router, uri).await, first, "{uri}");
                assert_eq!(app.answers.hits(), hits + 1, "{uri}");
                app.answers.hits.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn answer(len: usize) -> Arc<Stored> {
        Arc::new(Stored {
            headers: HeaderMap::new(),
            body: Bytes::from(vec![b'x'; len]),
            etag: HeaderValue::from_static("\"x\""),
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_requests_for_one_key_render_it_once() {
        let council = support::council().await;
        let app = crate::App::new(council.state());
        let router = crate::routes(app.clone());
        let requests: Vec<_> = (0..8)
            .map(|_| {
                let router = router.clone();
                tokio::spawn(async move { get(&router, "/").await })
            })
            .collect();
        let mut bodies = Vec::new();
        for r in requests {
            bodies.push(r.await.expect("a request task"));
        }
        assert!(bodies.iter().all(|b| b == &bodies[0]), "one answer for all");
        // One rendered it; the seven queued behind it were served the answer
        // it filed (without single flight all eight rendered: 0 hits).
        assert_eq!(app.answers.hits(), 7);
        assert!(app
            .answers
            .lock()
            .in_flight
            .values()
            .all(|w| w.strong_count() == 0));
    }

    #[test]
    fn keyed_by_uri_and_head_bounded_and_old_heads_dropped() {
        let c = AnswerCache::default();
        c.put(("/".into(), Some(5)), answer(10));
        c.put(("/api/units?as_of=3".into(), None), answer(10));
        assert!(c.get(&("/".into(), Some(5))).is_some());
        assert!(c.get(&("/".into(), Some(6))).is_none());
        // The head moves: answers at older heads go, pinned ones stay.
        c.put(("/".into(), Some(6)), answer(10));
        assert!(c.get(&("/".into(), Some(5))).is_none());
        assert!(c.get(&("/api/units?as_of=3".into(), None)).is_some());
        c.put(("/late".into(), Some(5)), answer(10));
        assert!(c.get(&("/late".into(), Some(5))).is_none(), "never filed");
        assert_eq!(c.bytes(), 20);
        // Too big for one answer; the total stays under the cap.
        c.put(("/big".into(), None), answer(MAX_ONE + 1));
        assert!(c.get(&("/big".into(), None)).is_none());
        for i in 0..20 {
            c.put((format!("/p{i}"), None), answer(MAX_ONE));
        }
        assert!(c.bytes() <= MAX_BYTES);
        assert!(c.get(&("/p19".into(), None)).is_some());
        assert!(c.get(&("/p0".into(), None)).is_none(), "oldest out first");
    }
}
