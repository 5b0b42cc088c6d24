//! Seal verdicts, computed once per (seal, read-model head) instead of once
//! per request.
//!
//! Invariant: an entry keyed `(seal position, head)` holds the verdict the
//! read model gives for that seal while its checkpoint is `head` — and only
//! that. A verdict re-derives the sealed dashboard at the seal's position
//! (fixed for ever) and compares it with the dashboard at the checkpoint
//! (which moves), so it is a function of exactly those two. The read model
//! reads its checkpoint itself while verifying; a verdict is stored only if
//! the checkpoint was the same before and after, so a verdict computed while
//! the projector advanced is used for that one request and never filed
//! under the wrong head.
//!
//! Memory is bounded: only verdicts at the newest head seen are kept (a
//! newer head makes older verdicts useless), at most [`MAX_VERDICTS`] of
//! them, the oldest entry evicted first.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use perfledger_readmodel::{ReadModel, ReadModelError, SealRecord, SealVerdict};

/// Most verdicts kept (each holds the seal and the figures changed since;
/// a few KB).
pub(crate) const MAX_VERDICTS: usize = 4096;

/// Where a seal was recorded (its commit's sequence and its index in the
/// commit): unique for every seal, with or without a seal id.
type SealPos = (u64, u16);

#[derive(Default)]
struct Entries {
    /// The head the verdicts were computed at.
    head: u64,
    verdicts: BTreeMap<SealPos, Arc<SealVerdict>>,
    /// Insertion order, for eviction.
    order: VecDeque<SealPos>,
}

/// The cache (shared by every request of one router).
#[derive(Default)]
pub(crate) struct VerdictCache {
    entries: Mutex<Entries>,
    /// Verdicts computed (misses), for tests and diagnostics.
    computed: AtomicU64,
}

impl VerdictCache {
    /// The verdict of `rec` at the read model's current checkpoint.
    pub(crate) fn verdict(
        &self,
        rm: &ReadModel,
        rec: &SealRecord,
    ) -> Result<Arc<SealVerdict>, ReadModelError> {
        let pos = (rec.seq, rec.index);
        let head = rm.checkpoint()?;
        if let Some(v) = self.get(head, pos) {
            return Ok(v);
        }
        let v = Arc::new(rm.verify_seal(&rec.seal)?);
        self.computed.fetch_add(1, Ordering::Relaxed);
        if rm.checkpoint()? == head {
            self.put(head, pos, v.clone());
        }
        Ok(v)
    }

    fn get(&self, head: u64, pos: SealPos) -> Option<Arc<SealVerdict>> {
        let e = self.lock();
        (e.head == head).then(|| e.verdicts.get(&pos).cloned())?
    }

    fn put(&self, head: u64, pos: SealPos, v: Arc<SealVerdict>) {
        let mut e = self.lock();
        if head < e.head {
            return; // a slower request at an older head: never file it.
        }
        if head > e.head {
            *e = Entries {
                head,
                ..Entries::default()
            };
        }
        if e.verdicts.insert(pos, v).is_none() {
            e.order.push_back(pos);
        }
        while e.order.len() > MAX_VERDICTS {
            let Some(old) = e.order.pop_front() else {
                break;
            };
            e.verdicts.remove(&old);
        }
    }

    /// Entries held (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().verdicts.len()
    }

    /// Verdicts computed so far (each a re-derivation of two dashboards).
    #[cfg(test)]
    pub(crate) fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves the map consistent (every
        // mutation is a single insert or remove): keep using it.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support as support;

    #[tokio::test]
    async fn pages_compute_each_verdict_once_per_head() {
        let council = support::council().await;
        let rm = council.rm.clone();
        let seals = rm.seals(perfledger_readmodel::AsOf::Head).expect("seals");
        let on_home = seals.len().min(10) as u64;
        assert!(on_home >= 1, "the council has a seal");
        let app = crate::App::new(crate::WebState {
            readmodel: rm.clone(),
            title: "t".into(),
        });
        let m = BTreeMap::new();
        let home = crate::pages::home(&app, &m).expect("home page");
        assert_eq!(app.verdicts.computed(), on_home);
        // The home page again and the seals API: no seal is verified twice
        // at one head.
        let again = crate::pages::home(&app, &m).expect("home page");
        assert_eq!(app.verdicts.computed(), on_home, "no verdict recomputed");
        let bytes = |r: axum::response::Response| async {
            axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .expect("body")
        };
        assert_eq!(bytes(home).await, bytes(again).await);
        crate::api::seals(&app, &m).expect("seals");
        crate::api::seals(&app, &m).expect("seals");
        assert_eq!(app.verdicts.computed(), seals.len() as u64);
        assert_eq!(app.verdicts.len(), seals.len());
    }

    fn verdict(n: u8) -> Arc<SealVerdict> {
        Arc::new(SealVerdict {
            seal: perfledger_domain::event::Seal {
                committee: perfledger_domain::Text::new("committee", "C").expect("short text"),
                meeting_date: perfledger_domain::time::Date::new(2016, 9, 6).expect("a date"),
                unit: None,
                period: perfledger_domain::period::Period::parse("2016/17 Q1").expect("a period"),
                seq: 1,
                digest: [n; 32],
            },
            expected_digest: String::new(),
            actual_digest: String::new(),
            matches: true,
            differences: vec![],
            changed_since: vec![],
        })
    }

    #[test]
    fn kept_per_head_and_bounded() {
        let c = VerdictCache::default();
        c.put(5, (1, 0), verdict(1));
        assert!(c.get(5, (1, 0)).is_some());
        assert!(
            c.get(6, (1, 0)).is_none(),
            "another head is another verdict"
        );
        // A newer head drops the older verdicts; an older one is never filed.
        c.put(6, (2, 0), verdict(2));
        assert!(c.get(5, (1, 0)).is_none());
        c.put(5, (1, 0), verdict(1));
        assert!(c.get(5, (1, 0)).is_none());
        assert_eq!(c.len(), 1);
        for i in 0..(MAX_VERDICTS as u64 + 10) {
            c.put(6, (i + 10, 0), verdict(3));
        }
        assert_eq!(c.len(), MAX_VERDICTS);
        assert!(c.get(6, (2, 0)).is_none(), "the oldest entry went first");
        assert!(c.get(6, (MAX_VERDICTS as u64 + 19, 0)).is_some());
    }
}
