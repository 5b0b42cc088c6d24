//! Look-ups the pack needs that the query module does not offer: the log
//! sequences of fact versions (provenance), the tolerance scheme versions
//! with their sequences, and a unit's child units. All as of a sequence S,
//! reading only versions with seq ≤ S, like every other query.

use std::collections::{BTreeMap, BTreeSet};

use perfledger_domain::event::EventBody;
use perfledger_domain::ids::composite_key;
use perfledger_domain::organisation::OrgKind;
use perfledger_domain::period::FinancialYear;
use perfledger_domain::rag::{scheme_in_force, ToleranceScheme};
use perfledger_domain::EntityKind;
use perfledger_log::Seq;

use crate::keys::{self, field};
use crate::store::{self, FactRecord};
use crate::{versions, AsOf, ReadModel, ReadModelError};

type R<T> = Result<T, ReadModelError>;

/// Collects the sequences a row was derived from; sorted and deduplicated
/// by construction (a `BTreeSet`).
#[derive(Debug, Default, Clone)]
pub(super) struct Sources(BTreeSet<Seq>);

impl Sources {
    /// Add the sequence of a fact version, if there is one.
    pub fn fact(&mut self, f: Option<&FactRecord>) -> &mut Self {
        if let Some(f) = f {
            self.0.insert(f.seq);
        }
        self
    }

    /// Add a sequence.
    pub fn seq(&mut self, s: Option<Seq>) -> &mut Self {
        if let Some(s) = s {
            self.0.insert(s);
        }
        self
    }

    /// Add every sequence of a list.
    pub fn all(&mut self, seqs: &[Seq]) -> &mut Self {
        self.0.extend(seqs.iter().copied());
        self
    }

    /// The sorted list.
    pub fn list(&self) -> Vec<Seq> {
        self.0.iter().copied().collect()
    }
}

/// Union of several rows' sources.
pub(super) fn union<'a, I: IntoIterator<Item = &'a Vec<Seq>>>(lists: I) -> Vec<Seq> {
    let mut s = Sources::default();
    for l in lists {
        s.all(l);
    }
    s.list()
}

/// The tolerance schemes as of s with the sequence of each adoption.
pub(super) struct Schemes {
    /// By effective year (what `rag::scheme_in_force` reads).
    pub schemes: BTreeMap<FinancialYear, ToleranceScheme>,
    seqs: BTreeMap<FinancialYear, Seq>,
}

impl Schemes {
    /// The sequence of the scheme in force for a year, found through the
    /// domain's own `scheme_in_force` (never a second copy of that rule).
    pub fn seq_in_force(&self, fy: FinancialYear) -> Option<Seq> {
        let chosen = scheme_in_force(&self.schemes, fy)?;
        self.schemes
            .iter()
            .find(|(_, s)| std::ptr::eq(*s, chosen))
            .and_then(|(y, _)| self.seqs.get(y).copied())
    }
}

impl ReadModel {
    /// Tolerance schemes as of s, with their adoption sequences (the last
    /// adoption per effective year wins, as in the query module).
    pub(super) fn pack_schemes(&self, s: Seq) -> R<Schemes> {
        let schemes = self.schemes_at(s)?;
        let mut seqs = BTreeMap::new();
        for r in self
            .tree
            .scan_prefix(keys::global_field_prefix(field::SCHEME))
        {
            let (k, value) = r?;
            for v in versions::parse(&k, &value)? {
                if v.seq > s {
                    continue;
                }
                let rec: FactRecord = store::decode(&k, v.record)?;
                if let EventBody::ToleranceSchemeAdopted { effective_from, .. } = rec.body {
                    let e = seqs.entry(effective_from).or_insert(rec.seq);
                    *e = (*e).max(rec.seq);
                }
            }
        }
        Ok(Schemes { schemes, seqs })
    }

    /// Names of the units whose parent is `unit` (as of s), in name order.
    pub(super) fn child_units(&self, unit: &str, s: Seq) -> R<Vec<String>> {
        let parent = perfledger_domain::ids::normalise_key(unit);
        let mut out = Vec::new();
        for u in self.units(AsOf::Seq(s))? {
            let key = composite_key(&[OrgKind::Unit.token(), &u.name]);
            let id = match self.find_entity(EntityKind::Unit, &key, AsOf::Seq(s)) {
                Ok(id) => id,
                // Units only named by other entities have no definition.
                Err(ReadModelError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            if let Some(EventBody::UnitDefined { spec }) = self.spec_at(id, s)? {
                if spec
                    .parent
                    .as_ref()
                    .is_some_and(|p| perfledger_domain::ids::normalise_key(p.as_str()) == parent)
                {
                    out.push(spec.name.to_string());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The version of the definition of an entity in force at s.
    pub(super) fn spec_record(&self, entity: uuid::Uuid, s: Seq) -> R<Option<FactRecord>> {
        self.fact_at(entity, field::SPEC, None, s)
    }
}
