//! Seal verdicts, computed once per (seal, read-model head) instead of once
//! per request.
//!
//! Invariant: an entry keyed `(seal position, head)` holds the verdict the
//! read model gives for that seal while its checkpoint is `head` — and only
//! that. A verdict re-derives the sealed dashboard at the seal's position
//! (fixed for ever) and compares it with the dashboard at the head (which
//! moves), so it is a function of exactly those two. The head is read once,
//! before the verdict, and the head's dashboard is taken as of it, so a
//! verdict computed while the projector advances is still the verdict at
//! that head, and is filed under it (never under an older head than the
//! newest seen).
//!
//! A verdict is made of two dashboards. The one re-derived at the seal's
//! position ([`ReadModel::sealed_dashboard`]) depends on the seal and the
//! log up to that position only: it is kept across heads, so when the head
//! moves each verdict costs one dashboard (at the new head), not two. The
//! dashboard at the head is computed for the head read before the verdict
//! (an as-of query), and seals of one scope and period share it.
//!
//! Memory is bounded: only verdicts and head dashboards at the newest head
//! seen are kept (a newer head makes older ones useless), at most
//! [`MAX_VERDICTS`] of each, and at most [`MAX_VERDICTS`] sealed
//! dashboards; the oldest entry is evicted first.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use perfledger_domain::period::Period;
use perfledger_readmodel::{
    seal_verdict, AsOf, DashboardView, ReadModel, ReadModelError, SealRecord, SealVerdict,
};

/// Most verdicts kept (each holds the seal and the figures changed since;
/// a few KB).
pub(crate) const MAX_VERDICTS: usize = 4096;

/// Where a seal was recorded (its commit's sequence and its index in the
/// commit): unique for every seal, with or without a seal id.
type SealPos = (u64, u16);

/// A dashboard's scope and period: the unit's name as sealed (None =
/// council-wide) and the period.
type Scope = (Option<String>, Period);

#[derive(Default)]
struct Entries {
    /// The head the verdicts and head dashboards were computed at.
    head: u64,
    verdicts: Bounded<SealPos, Arc<SealVerdict>>,
    /// Dashboards at `head`, by scope and period.
    now: Bounded<Scope, Arc<DashboardView>>,
    /// Dashboards re-derived at each seal's position (any head).
    sealed: Bounded<SealPos, Arc<DashboardView>>,
}

/// A map of at most [`MAX_VERDICTS`] entries, the oldest evicted first.
struct Bounded<K, V> {
    map: BTreeMap<K, V>,
    order: VecDeque<K>,
}

impl<K, V> Default for Bounded<K, V> {
    fn default() -> Self {
        Bounded {
            map: BTreeMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<K: Ord + Clone, V: Clone> Bounded<K, V> {
    fn get(&self, k: &K) -> Option<V> {
        self.map.get(k).cloned()
    }

    fn insert(&mut self, k: K, v: V) {
        if self.map.insert(k.clone(), v).is_none() {
            self.order.push_back(k);
        }
        while self.order.len() > MAX_VERDICTS {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.map.remove(&old);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

/// The cache (shared by every request of one router).
#[derive(Default)]
pub(crate) struct VerdictCache {
    entries: Mutex<Entries>,
    /// Verdicts computed (misses), for tests and diagnostics.
    computed: AtomicU64,
    /// Dashboards computed for verdicts (sealed or at a head).
    dashboards: AtomicU64,
}

impl Entries {
    /// Whether what was computed at `head` may be filed: not for a head
    /// older than the newest seen (a slower request); a newer head starts
    /// the per-head maps afresh (sealed dashboards hold at every head).
    fn at(&mut self, head: u64) -> bool {
        if head < self.head {
            return false;
        }
        if head > self.head {
            self.head = head;
            self.verdicts = Bounded::default();
            self.now = Bounded::default();
        }
        true
    }
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
        let then = self.sealed(rm, pos, rec)?;
        let now = self.now(rm, head, rec)?;
        let v = Arc::new(seal_verdict(&rec.seal, &then, &now, None));
        self.computed.fetch_add(1, Ordering::Relaxed);
        self.put(head, pos, v.clone());
        Ok(v)
    }

    /// The seal's dashboard re-derived at its position (kept across heads).
    fn sealed(
        &self,
        rm: &ReadModel,
        pos: SealPos,
        rec: &SealRecord,
    ) -> Result<Arc<DashboardView>, ReadModelError> {
        if let Some(d) = self.lock().sealed.get(&pos) {
            return Ok(d);
        }
        let d = Arc::new(rm.sealed_dashboard(&rec.seal)?);
        self.dashboards.fetch_add(1, Ordering::Relaxed);
        self.lock().sealed.insert(pos, d.clone());
        Ok(d)
    }

    /// The dashboard of the seal's scope and period at `head` (as of it,
    /// so it is exact even while the projector moves the checkpoint on).
    fn now(
        &self,
        rm: &ReadModel,
        head: u64,
        rec: &SealRecord,
    ) -> Result<Arc<DashboardView>, ReadModelError> {
        let unit = rec.seal.unit.as_ref().map(|u| u.as_str().to_string());
        let scope = (unit, rec.seal.period);
        {
            let e = self.lock();
            if e.head == head {
                if let Some(d) = e.now.get(&scope) {
                    return Ok(d);
                }
            }
        }
        let d = Arc::new(rm.dashboard(scope.0.as_deref(), scope.1, AsOf::Seq(head))?);
        self.dashboards.fetch_add(1, Ordering::Relaxed);
        let mut e = self.lock();
        if e.at(head) {
            e.now.insert(scope, d.clone());
        }
        Ok(d)
    }

    fn get(&self, head: u64, pos: SealPos) -> Option<Arc<SealVerdict>> {
        let e = self.lock();
        (e.head == head).then(|| e.verdicts.get(&pos))?
    }

    fn put(&self, head: u64, pos: SealPos, v: Arc<SealVerdict>) {
        let mut e = self.lock();
        if e.at(head) {
            e.verdicts.insert(pos, v);
        }
    }

    /// Entries held (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().verdicts.len()
    }

    /// Dashboards computed for verdicts so far (for tests).
    #[cfg(test)]
    pub(crate) fn dashboards(&self) -> u64 {
        self.dashboards.load(Ordering::Relaxed)
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

    #[tokio::test]
    async fn a_moved_head_recomputes_one_dashboard_per_verdict() {
        let council = support::council().await;
        let rm = &council.rm;
        let seals = rm.seals(perfledger_readmodel::AsOf::Head).expect("seals");
        let rec = seals.first().expect("the council has a seal");
        let c = VerdictCache::default();
        let first = c.verdict(rm, rec).expect("verdict");
        assert_eq!(c.dashboards(), 2, "the sealed dashboard and the head's");
        assert_eq!(*first, rm.verify_seal(&rec.seal).expect("verify"));
        // The head moves on (as a later record would move it): the verdict
        // is computed again, from the kept sealed dashboard and a new one
        // at the head.
        let head = rm.checkpoint().expect("checkpoint");
        assert!(c.lock().at(head + 1));
        let again = c.verdict(rm, rec).expect("verdict");
        assert_eq!(c.computed(), 2);
        assert_eq!(c.dashboards(), 3, "only the head's dashboard is new");
        assert_eq!(again, first);
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
