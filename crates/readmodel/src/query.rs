//! As-of queries. Every query resolves its [`AsOf`] to a sequence S and reads
//! only versions with seq ≤ S (reverse range scans over versioned keys), so
//! the current view is simply as-of the checkpoint through the same code.

use std::collections::{BTreeMap, BTreeSet};

use perfledger_domain::action::ActionStatus;
use perfledger_domain::budget::{CapitalFigures, RevenueFigures};
use perfledger_domain::dashboard::{
    self, compute, Dashboard, DashboardInputs, IndicatorLine, SavingLine,
};
use perfledger_domain::direction::{direction_of_results, short_term_period, Direction};
use perfledger_domain::event::{EventBody, ResultEntry, Seal};
use perfledger_domain::ids::normalise_key;
use perfledger_domain::indicator::{IndicatorSpec, IndicatorType, Target};
use perfledger_domain::period::{FinancialYear, Period};
use perfledger_domain::rag::{rate, scheme_in_force, Rag, ToleranceScheme};
use perfledger_domain::risk::{Assessment, HeatMap};
use perfledger_domain::{Date, EntityKind, Fixed, Text, Timestamp};
use perfledger_log::Seq;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::keys::{self, field};
use crate::project::{body_unit, uuid_from};
use crate::store::{self, EntityInfo, FactRecord, Membership, UnitInfo};
use crate::versions::{self, VersionRef};
use crate::{render, sha256_hex, AsOf, AuditEntry, ReadModel, ReadModelError};

type R<T> = Result<T, ReadModelError>;

/// A dashboard as of a position, with its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardView {
    /// The sequence it was computed at.
    pub as_of: Seq,
    /// SHA-256 hex of the dashboard's canonical bytes.
    pub digest: String,
    /// The dashboard.
    pub dashboard: Dashboard,
    /// Nothing was reported for the scope and period as of this position:
    /// no indicator result, key-action status, revenue, capital or savings
    /// figure, HR or customer figure. The dashboard then shows zeros (and
    /// the latest risk assessments, which carry forward); every surface
    /// says "no data" instead of letting the zeros pass for figures.
    #[serde(default)]
    pub no_data: bool,
}

impl DashboardView {
    /// Canonical bytes of the dashboard (what seals pin).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        dashboard::canonical_bytes(&self.dashboard)
    }
}

/// An entity's audit trail as of a position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditTrail {
    /// Entity kind token.
    pub kind: String,
    /// Natural key.
    pub natural_key: String,
    /// Entity id.
    pub entity: Uuid,
    /// Sequence the trail is as of.
    pub as_of: Seq,
    /// Events in log order.
    pub entries: Vec<AuditEntry>,
}

impl AuditTrail {
    /// Canonical bytes (postcard) — `as_of` excluded so a trail compares equal
    /// across positions with the same events.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(&(&self.kind, &self.natural_key, &self.entity, &self.entries))
            .unwrap_or_default()
    }

    /// SHA-256 hex of [`AuditTrail::canonical_bytes`].
    pub fn digest_hex(&self) -> String {
        sha256_hex(&self.canonical_bytes())
    }
}

/// One period of an indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorRow {
    /// Period.
    pub period: Period,
    /// Target in force (period target, else the year's).
    pub target: Option<Target>,
    /// Target as printed.
    pub target_text: Option<String>,
    /// Result.
    pub result: Option<ResultEntry>,
    /// Result as printed.
    pub result_text: Option<String>,
    /// Restatements of the result so far.
    pub restatements: u32,
    /// RAG under the scheme in force for the period's year (as known then).
    pub rag: Option<Rag>,
    /// Short-term direction of travel.
    pub direction_short: Option<Direction>,
    /// Long-term direction of travel.
    pub direction_long: Option<Direction>,
    /// Commentary.
    pub commentary: Option<String>,
}

/// An indicator's state and history as of a position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorView {
    /// Sequence.
    pub as_of: Seq,
    /// Entity id.
    pub entity: Uuid,
    /// Natural key.
    pub natural_key: String,
    /// Definition.
    pub spec: Option<IndicatorSpec>,
    /// Retired.
    pub retired: bool,
    /// Periods with a target or result, chronologically.
    pub rows: Vec<IndicatorRow>,
    /// Every event, in log order.
    pub audit: Vec<AuditEntry>,
}

/// Indicator listing entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorSummary {
    /// Entity id.
    pub entity: Uuid,
    /// Natural key.
    pub natural_key: String,
    /// Reference.
    pub reference: Option<String>,
    /// Title.
    pub title: String,
    /// Unit.
    pub unit: String,
    /// Type.
    pub indicator_type: IndicatorType,
    /// Retired.
    pub retired: bool,
}

/// A unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRow {
    /// Name.
    pub name: String,
    /// First sequence it appeared at.
    pub first_seq: Seq,
}

/// A risk in the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskRow {
    /// Entity id.
    pub entity: Uuid,
    /// Risk id.
    pub risk_id: String,
    /// Unit.
    pub unit: String,
    /// Title.
    pub title: String,
    /// Owner.
    pub owner: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Period of the latest assessment.
    pub period: Option<Period>,
    /// Current assessment.
    pub current: Option<Assessment>,
    /// Current score.
    pub current_score: Option<u8>,
    /// Target assessment.
    pub target: Option<Assessment>,
    /// Target score.
    pub target_score: Option<u8>,
    /// Score ≥ 15.
    pub escalated: bool,
    /// Closed.
    pub closed: bool,
}

/// Current and target heat maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeatMaps {
    /// Current assessments.
    pub current: HeatMap,
    /// Target assessments.
    pub target: HeatMap,
}

/// The risk register of a unit (or the council) as of a position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskRegister {
    /// Sequence.
    pub as_of: Seq,
    /// Unit, None = council-wide.
    pub unit: Option<String>,
    /// Open risks (closed ones listed with `closed`).
    pub risks: Vec<RiskRow>,
    /// Heat maps of open risks.
    pub heat_maps: HeatMaps,
    /// Risk ids scoring 15+ (open risks).
    pub escalated: Vec<String>,
}

/// A revenue line for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueRow {
    /// Line.
    pub line: String,
    /// Unit.
    pub unit: String,
    /// Figures.
    pub figures: RevenueFigures,
    /// Variation.
    pub variation: Fixed,
    /// % of revised budget, 1dp.
    pub variation_percent_1dp: Option<Fixed>,
    /// The period of the forecast shown: the requested period, or an
    /// earlier one of the same financial year carried forward (label it
    /// "forecast as at …"); None when no forecast was submitted (the
    /// revised budget stands in for it).
    pub forecast_period: Option<Period>,
}

/// A capital line for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapitalRow {
    /// Line.
    pub line: String,
    /// Unit.
    pub unit: String,
    /// Figures.
    pub figures: CapitalFigures,
    /// Proposed = approved + additions + slippage.
    pub proposed: Fixed,
    /// Variance from approved.
    pub variance: Fixed,
    /// % slippage, whole.
    pub slippage_percent: Option<Fixed>,
    /// The period of the forecast shown (as for [`RevenueRow::forecast_period`]).
    pub forecast_period: Option<Period>,
}

/// A saving for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavingRow {
    /// Reference.
    pub reference: String,
    /// Unit.
    pub unit: String,
    /// Description.
    pub description: String,
    /// Target and achieved.
    pub line: SavingLine,
    /// Achieved % of target, 1dp.
    pub achieved_percent_1dp: Option<Fixed>,
    /// The period of the delivery report shown (earlier than the requested
    /// period when carried forward); None when none was reported.
    pub reported_period: Option<Period>,
}

/// Revenue, capital and savings with totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinanceView {
    /// Sequence.
    pub as_of: Seq,
    /// Unit (None = council).
    pub unit: Option<String>,
    /// Period.
    pub period: Period,
    /// Revenue lines.
    pub revenue: Vec<RevenueRow>,
    /// Revenue total.
    pub revenue_total: RevenueFigures,
    /// Capital lines.
    pub capital: Vec<CapitalRow>,
    /// Capital total.
    pub capital_total: CapitalFigures,
    /// Savings.
    pub savings: Vec<SavingRow>,
    /// Savings total target.
    pub savings_target: Fixed,
    /// Savings total achieved.
    pub savings_achieved: Fixed,
}

impl FinanceView {
    /// No revenue, capital or savings line has anything for the period's
    /// financial year (the totals are zeros of nothing, not zero figures).
    pub fn is_empty(&self) -> bool {
        self.revenue.is_empty() && self.capital.is_empty() && self.savings.is_empty()
    }

    /// Earlier periods whose forecasts or delivery reports are shown for
    /// this one (carried forward), chronologically.
    pub fn carried_forward(&self) -> Vec<Period> {
        let mut out: BTreeMap<(i64, i64), Period> = BTreeMap::new();
        let rows = self
            .revenue
            .iter()
            .map(|r| r.forecast_period)
            .chain(self.capital.iter().map(|r| r.forecast_period))
            .chain(self.savings.iter().map(|r| r.reported_period));
        for p in rows.flatten().filter(|p| *p != self.period) {
            out.insert(p.sort_key(), p);
        }
        out.into_values().collect()
    }
}

/// A key action's status for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRow {
    /// Reference.
    pub reference: String,
    /// Unit.
    pub unit: String,
    /// Description.
    pub description: String,
    /// Due.
    pub due: Option<String>,
    /// Status for the period.
    pub status: Option<ActionStatus>,
    /// Comment.
    pub comment: Option<String>,
}

/// A seal found in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealRecord {
    /// Sequence of the seal's commit.
    pub seq: Seq,
    /// Index in the commit.
    pub index: u16,
    /// The seal.
    pub seal: Seal,
    /// Seal id (`PCMC-2016-09-06-CG-Q1`); None for seals recorded before
    /// seals had ids (`DashboardSealed`), found by scope and period.
    pub seal_id: Option<String>,
    /// Title of the report committee received, if recorded.
    pub title: Option<String>,
    /// When it was sealed (an imported seal's own time); None for seals
    /// recorded without one (their commit's recorded time stands in).
    pub sealed_at: Option<Timestamp>,
}

/// One figure that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FigureDiff {
    /// JSON path of the figure (`indicators.counts.Green`).
    pub figure: String,
    /// Value on the left (sealed / expected).
    pub expected: Option<String>,
    /// Value on the right (re-derived / now).
    pub actual: Option<String>,
}

/// The outcome of verifying a seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealVerdict {
    /// The seal.
    pub seal: Seal,
    /// Digest in the seal.
    pub expected_digest: String,
    /// Digest of the dashboard re-derived as of the seal's position.
    pub actual_digest: String,
    /// Equal digests.
    pub matches: bool,
    /// Figures that differ from the expected dashboard, when the caller gave
    /// one ([`ReadModel::verify_seal_against`]); empty otherwise.
    pub differences: Vec<FigureDiff>,
    /// Figures that changed between the seal's position and the head (what
    /// committee saw → what is known now).
    pub changed_since: Vec<FigureDiff>,
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// Figure-level differences between two dashboards.
pub fn diff_dashboards(expected: &Dashboard, actual: &Dashboard) -> Vec<FigureDiff> {
    let mut a = BTreeMap::new();
    let mut b = BTreeMap::new();
    flatten(
        "",
        &serde_json::to_value(expected).unwrap_or_default(),
        &mut a,
    );
    flatten(
        "",
        &serde_json::to_value(actual).unwrap_or_default(),
        &mut b,
    );
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| FigureDiff {
            figure: k.clone(),
            expected: a.get(k).cloned(),
            actual: b.get(k).cloned(),
        })
        .collect()
}

pub(crate) fn fy_start_month(fy: FinancialYear) -> u32 {
    u32::try_from(i64::from(fy.0) * 12 + 3).unwrap_or(0)
}

impl ReadModel {
    /// Decode a version's stored record.
    fn decode_version(&self, key: &[u8], v: &VersionRef<'_>) -> R<FactRecord> {
        store::decode_fact(key, v.record)
    }

    /// Last version of one fact with seq ≤ s.
    pub(crate) fn fact_at(
        &self,
        entity: Uuid,
        fld: u8,
        period: Option<Period>,
        s: Seq,
    ) -> R<Option<FactRecord>> {
        let pk = versions::period_key(period);
        let key = keys::slot_key(entity, fld, pk);
        let Some(value) = self.tree.get(&key)? else {
            return Ok(None);
        };
        match versions::find_at(&key, &value, pk, s)? {
            Some(v) => Ok(Some(self.decode_version(&key, &v)?)),
            None => Ok(None),
        }
    }

    /// Every version of one fact (one period) with seq ≤ s, oldest first.
    fn fact_history(
        &self,
        entity: Uuid,
        fld: u8,
        period: Option<Period>,
        s: Seq,
    ) -> R<Vec<FactRecord>> {
        let pk = versions::period_key(period);
        let key = keys::slot_key(entity, fld, pk);
        let Some(value) = self.tree.get(&key)? else {
            return Ok(Vec::new());
        };
        versions::parse(&key, &value)?
            .iter()
            .filter(|v| v.period == pk && v.seq <= s)
            .map(|v| self.decode_version(&key, v))
            .collect()
    }

    /// The fact of the latest period ending no later than `upto` (and, if
    /// given, starting no earlier than month `min_start`), as known at s.
    pub(crate) fn fact_latest_upto(
        &self,
        entity: Uuid,
        fld: u8,
        min_start: Option<u32>,
        upto: Option<Period>,
        s: Seq,
    ) -> R<Option<FactRecord>> {
        let fp = keys::slot_field_prefix(entity, fld);
        let upto_key = upto.map(keys::period_bytes);
        let hi = match upto_key {
            Some(pk) => keys::prefix_end(&keys::slot_key(entity, fld, pk)),
            None => keys::prefix_end(&fp),
        };
        for r in self.tree.range(fp..hi).rev() {
            let (k, value) = r?;
            let slot = versions::parse(&k, &value)?;
            for v in slot.iter().rev() {
                if upto_key.is_some_and(|u| v.period > u) {
                    continue;
                }
                if let Some(ms) = min_start {
                    if v.end_month() < ms {
                        return Ok(None);
                    }
                    if v.start_month() < ms {
                        continue;
                    }
                }
                if v.seq > s {
                    continue;
                }
                return Ok(Some(self.decode_version(&k, v)?));
            }
        }
        Ok(None)
    }

    /// All versions of one field (every period) with seq ≤ s, in period order.
    fn fact_versions(&self, entity: Uuid, fld: u8, s: Seq) -> R<Vec<FactRecord>> {
        let mut out = Vec::new();
        for r in self.tree.scan_prefix(keys::slot_field_prefix(entity, fld)) {
            let (k, value) = r?;
            for v in versions::parse(&k, &value)? {
                if v.seq <= s {
                    out.push(self.decode_version(&k, &v)?);
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn schemes_at(&self, s: Seq) -> R<BTreeMap<FinancialYear, ToleranceScheme>> {
        let mut out = BTreeMap::new();
        for r in self
            .tree
            .scan_prefix(keys::global_field_prefix(field::SCHEME))
        {
            let (k, value) = r?;
            for v in versions::parse(&k, &value)? {
                if v.seq > s {
                    continue;
                }
                if let EventBody::ToleranceSchemeAdopted {
                    effective_from,
                    scheme,
                    ..
                } = self.decode_version(&k, &v)?.body
                {
                    out.insert(effective_from, scheme);
                }
            }
        }
        Ok(out)
    }

    /// Entities of `kind` in `unit` (None = all units) as of s, by id.
    pub(crate) fn members(&self, unit: Option<&str>, kind: EntityKind, s: Seq) -> R<Vec<Uuid>> {
        let prefix = match unit {
            Some(u) => {
                let mut p = keys::member_unit_prefix(&normalise_key(u));
                p.push(keys::kind_byte(kind));
                p
            }
            None => vec![keys::MEMBER],
        };
        let kb = keys::kind_byte(kind);
        // (unit bytes, entity) → present at s
        let mut last: BTreeMap<(Vec<u8>, Uuid), bool> = BTreeMap::new();
        for r in self.tree.scan_prefix(&prefix) {
            let (k, v) = r?;
            // u ++ unit ++ 0 ++ kind ++ uuid(16) ++ seq(8)
            if k.len() < 1 + 1 + 1 + 16 + 8 {
                continue;
            }
            let n = k.len();
            if k[n - 25] != kb || k[n - 26] != 0 {
                continue;
            }
            if keys::trailing_seq(&k).unwrap_or(u64::MAX) > s {
                continue;
            }
            let Some(id) = uuid_from(&k[n - 24..n - 8]) else {
                continue;
            };
            let m: Membership = store::decode(&k, &v)?;
            last.insert((k[1..n - 26].to_vec(), id), m.present);
        }
        let set: BTreeSet<Uuid> = last
            .into_iter()
            .filter(|(_, present)| *present)
            .map(|((_, id), _)| id)
            .collect();
        Ok(set.into_iter().collect())
    }

    pub(crate) fn spec_at(&self, entity: Uuid, s: Seq) -> R<Option<EventBody>> {
        Ok(self.fact_at(entity, field::SPEC, None, s)?.map(|f| f.body))
    }

    fn ended_at(&self, entity: Uuid, s: Seq) -> R<bool> {
        Ok(self.fact_at(entity, field::STATUS, None, s)?.is_some())
    }

    fn entity_info(&self, entity: Uuid) -> R<Option<EntityInfo>> {
        let k = keys::entity_key(entity);
        match self.tree.get(&k)? {
            Some(v) => Ok(Some(store::decode(&k, &v)?)),
            None => Ok(None),
        }
    }

    /// Find an entity by natural key, title/reference alias or uuid, as known at s.
    pub fn find_entity(&self, kind: EntityKind, key: &str, at: AsOf) -> R<Uuid> {
        let s = self.resolve(at)?;
        self.find_at(kind, key, s)
    }

    fn find_at(&self, kind: EntityKind, key: &str, s: Seq) -> R<Uuid> {
        let not_found = || ReadModelError::NotFound {
            kind: kind.token(),
            key: key.to_string(),
        };
        if let Ok(id) = Uuid::try_parse(key.trim()) {
            if let Some(info) = self.entity_info(id)? {
                if info.kind == kind && info.first_seq <= s {
                    return Ok(id);
                }
            }
        }
        let prefix = keys::alias_prefix(kind, &normalise_key(key));
        let mut found = BTreeSet::new();
        for r in self.tree.scan_prefix(&prefix) {
            let (k, v) = r?;
            let first = <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .unwrap_or(u64::MAX);
            if first > s || k.len() != prefix.len() + 16 {
                continue;
            }
            if let Some(id) = uuid_from(&k[prefix.len()..]) {
                found.insert(id);
            }
        }
        match found.len() {
            0 => Err(not_found()),
            1 => found.into_iter().next().ok_or_else(not_found),
            count => Err(ReadModelError::Ambiguous {
                kind: kind.token(),
                key: key.to_string(),
                count,
            }),
        }
    }

    /// The canonical name of a unit known at `s`, or `NotFound` naming it:
    /// the one check of a `unit` argument shared by the CLI, the web and
    /// the NATS query service (a typo is an error, never an empty view).
    pub fn known_unit(&self, unit: &str, at: AsOf) -> R<String> {
        let s = self.resolve(at)?;
        self.known_unit_at(unit, s)
    }

    fn known_unit_at(&self, unit: &str, s: Seq) -> R<String> {
        let k = keys::unit_key(&normalise_key(unit));
        if let Some(v) = self.tree.get(&k)? {
            let info: UnitInfo = store::decode(&k, &v)?;
            if info.first_seq <= s {
                return Ok(info.name);
            }
        }
        Err(ReadModelError::NotFound {
            kind: EntityKind::Unit.token(),
            key: unit.to_string(),
        })
    }

    /// Refuse an unknown unit (None = council-wide, always known).
    fn check_unit(&self, unit: Option<&str>, s: Seq) -> R<()> {
        match unit {
            Some(u) => self.known_unit_at(u, s).map(drop),
            None => Ok(()),
        }
    }

    pub(crate) fn unit_name(&self, unit: &str, s: Seq) -> R<String> {
        let k = keys::unit_key(&normalise_key(unit));
        if let Some(v) = self.tree.get(&k)? {
            let info: UnitInfo = store::decode(&k, &v)?;
            if info.first_seq <= s {
                return Ok(info.name);
            }
        }
        Ok(unit.trim().to_string())
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn indicator_row(
        &self,
        entity: Uuid,
        spec: &IndicatorSpec,
        period: Period,
        s: Seq,
        schemes: &BTreeMap<FinancialYear, ToleranceScheme>,
        result: Option<FactRecord>,
        detail: bool,
    ) -> R<IndicatorRow> {
        let entry = result.as_ref().and_then(|f| match &f.body {
            EventBody::ResultRecorded { entry, .. } | EventBody::ResultRestated { entry, .. } => {
                Some(entry.clone())
            }
            _ => None,
        });
        let target_of = |f: Option<FactRecord>| {
            f.and_then(|f| match f.body {
                EventBody::TargetSet { target, .. } | EventBody::TargetRevised { target, .. } => {
                    Some(target)
                }
                _ => None,
            })
        };
        let mut target = target_of(self.fact_at(entity, field::TARGET, Some(period), s)?);
        if target.is_none() && !matches!(period, Period::Year(_)) {
            target = target_of(self.fact_at(
                entity,
                field::TARGET,
                Some(Period::Year(period.financial_year())),
                s,
            )?);
        }
        let result_of = |p: Option<Period>| -> R<Option<ResultEntry>> {
            let Some(p) = p else { return Ok(None) };
            Ok(self
                .fact_at(entity, field::RESULT, Some(p), s)?
                .and_then(|f| match f.body {
                    EventBody::ResultRecorded { entry, .. }
                    | EventBody::ResultRestated { entry, .. } => Some(entry),
                    _ => None,
                }))
        };
        let mut restatements = 0u32;
        let mut rag = None;
        let mut direction_short = None;
        let mut direction_long = None;
        if let Some(e) = &entry {
            let prev_year = result_of(period.same_period_last_year())?;
            let prev_short = if detail {
                result_of(short_term_period(spec.comparison, period))?
            } else {
                None
            };
            direction_long = direction_of_results(
                spec.polarity,
                &e.result,
                prev_year.as_ref().map(|x| &x.result),
            );
            direction_short = direction_of_results(
                spec.polarity,
                &e.result,
                prev_short.as_ref().map(|x| &x.result),
            );
            let source_rag = match &e.result {
                perfledger_domain::indicator::ResultValue::Measured { source_rag, .. } => {
                    *source_rag
                }
                _ => None,
            };
            rag = match (scheme_in_force(schemes, period.financial_year()), &target) {
                (Some(scheme), Some(t)) => rate(
                    scheme,
                    spec.polarity,
                    t,
                    &e.result,
                    prev_year.as_ref().and_then(|x| x.result.value()),
                ),
                _ => source_rag,
            };
            if detail {
                for f in self.fact_history(entity, field::RESULT, Some(period), s)? {
                    if matches!(f.body, EventBody::ResultRestated { .. }) {
                        restatements = restatements.saturating_add(1);
                    }
                }
            }
        }
        Ok(IndicatorRow {
            period,
            target_text: target.as_ref().map(render::target),
            target,
            result_text: entry.as_ref().map(|e| render::result(&e.result)),
            commentary: entry
                .as_ref()
                .and_then(|e| e.commentary.as_ref().map(|c| c.to_string())),
            result: entry,
            restatements,
            rag,
            direction_short,
            direction_long,
        })
    }

    /// The inputs of a dashboard as of s: the ONE place dashboards are
    /// gathered (current, as-of, seals and verification all come here).
    fn dashboard_inputs(&self, unit: Option<&str>, period: Period, s: Seq) -> R<DashboardInputs> {
        let schemes = self.schemes_at(s)?;
        let mut indicators = Vec::new();
        for id in self.members(unit, EntityKind::Indicator, s)? {
            // Most indicators have no result for a given period: look that up first.
            let Some(result) = self.fact_at(id, field::RESULT, Some(period), s)? else {
                continue;
            };
            let Some(
                EventBody::IndicatorDefined { spec } | EventBody::IndicatorAmended { spec, .. },
            ) = self.spec_at(id, s)?
            else {
                continue;
            };
            let row = self.indicator_row(id, &spec, period, s, &schemes, Some(result), false)?;
            if row.result.is_none() {
                continue;
            }
            indicators.push(IndicatorLine {
                indicator_type: spec.indicator_type,
                rag: row.rag,
                monitor: matches!(row.target, Some(Target::Monitor)),
                direction: row.direction_long,
            });
        }
        let actions = self
            .action_rows(unit, period, s)?
            .into_iter()
            .filter_map(|a| a.status)
            .collect();
        let risks = self
            .risk_rows(unit, Some(period), s)?
            .into_iter()
            .filter(|r| !r.closed)
            .filter_map(|r| r.current)
            .collect();
        let fin = self.finance_at(unit, period, s)?;
        Ok(DashboardInputs {
            unit: match unit {
                Some(u) => Some(
                    Text::new("unit", &self.unit_name(u, s)?).map_err(ReadModelError::Domain)?,
                ),
                None => None,
            },
            period,
            revenue: fin.revenue.iter().map(|r| r.figures).collect(),
            capital: fin.capital.iter().map(|r| r.figures).collect(),
            savings: fin.savings.iter().map(|r| r.line).collect(),
            indicators,
            actions,
            risks,
            // No event carries HR or customer-experience figures yet.
            hr: None,
            customer: Vec::new(),
        })
    }

    /// The dashboard of a unit (None = council-wide) for a period, as of a position.
    /// An unknown unit is `NotFound`.
    pub fn dashboard(&self, unit: Option<&str>, period: Period, at: AsOf) -> R<DashboardView> {
        let s = self.resolve(at)?;
        self.check_unit(unit, s)?;
        self.dashboard_at(unit, period, s)
    }

    fn dashboard_at(&self, unit: Option<&str>, period: Period, s: Seq) -> R<DashboardView> {
        let inputs = self.dashboard_inputs(unit, period, s)?;
        let d = compute(&inputs)?;
        let no_data = inputs.revenue.is_empty()
            && inputs.capital.is_empty()
            && inputs.savings.is_empty()
            && inputs.indicators.is_empty()
            && inputs.actions.is_empty()
            && inputs.hr.is_none()
            && inputs.customer.is_empty();
        Ok(DashboardView {
            as_of: s,
            digest: dashboard::digest_hex(&d),
            dashboard: d,
            no_data,
        })
    }

    /// The inputs the dashboard is computed from (for inspection and tests).
    pub fn dashboard_inputs_as_of(
        &self,
        unit: Option<&str>,
        period: Period,
        at: AsOf,
    ) -> R<DashboardInputs> {
        let s = self.resolve(at)?;
        self.check_unit(unit, s)?;
        self.dashboard_inputs(unit, period, s)
    }

    fn action_rows(&self, unit: Option<&str>, period: Period, s: Seq) -> R<Vec<ActionRow>> {
        let mut out = Vec::new();
        for id in self.members(unit, EntityKind::Action, s)? {
            let Some(EventBody::ActionDefined { spec }) = self.spec_at(id, s)? else {
                continue;
            };
            let (status, comment) = match self.fact_at(id, field::ACTION_STATUS, Some(period), s)? {
                Some(FactRecord {
                    body:
                        EventBody::ActionStatusReported {
                            status, comment, ..
                        },
                    ..
                }) => (Some(status), comment.map(|c| c.to_string())),
                _ => (None, None),
            };
            out.push(ActionRow {
                reference: spec.reference.to_string(),
                unit: spec.unit.to_string(),
                description: spec.description.to_string(),
                due: spec.due.map(|d| d.to_string()),
                status,
                comment,
            });
        }
        out.sort_by(|a, b| (&a.unit, &a.reference).cmp(&(&b.unit, &b.reference)));
        Ok(out)
    }

    /// Key actions and their statuses for a period.
    pub fn actions(&self, unit: Option<&str>, period: Period, at: AsOf) -> R<Vec<ActionRow>> {
        let s = self.resolve(at)?;
        self.check_unit(unit, s)?;
        self.action_rows(unit, period, s)
    }

    pub(crate) fn risk_rows(
        &self,
        unit: Option<&str>,
        upto: Option<Period>,
        s: Seq,
    ) -> R<Vec<RiskRow>> {
        let mut out = Vec::new();
        for id in self.members(unit, EntityKind::Risk, s)? {
            let Some(EventBody::RiskRegistered { spec }) = self.spec_at(id, s)? else {
                continue;
            };
            let closed = self.ended_at(id, s)?;
            let (period, current, target) =
                match self.fact_latest_upto(id, field::ASSESSMENT, None, upto, s)? {
                    Some(FactRecord {
                        period,
                        body:
                            EventBody::RiskAssessed {
                                current, target, ..
                            },
                        ..
                    }) => (period, Some(current), target),
                    _ => (None, None, None),
                };
            out.push(RiskRow {
                entity: id,
                risk_id: spec.risk_id.to_string(),
                unit: spec.unit.to_string(),
                title: spec.title.to_string(),
                owner: spec.owner.map(|o| o.to_string()),
                category: spec.category.map(|c| c.to_string()),
                period,
                current_score: current.map(|a| a.score()),
                target_score: target.map(|a| a.score()),
                escalated: current.is_some_and(|a| a.escalated()),
                current,
                target,
                closed,
            });
        }
        out.sort_by(|a, b| a.risk_id.cmp(&b.risk_id).then(a.entity.cmp(&b.entity)));
        Ok(out)
    }

    /// The risk register (latest assessments) as of a position.
    pub fn risks(&self, unit: Option<&str>, at: AsOf) -> R<RiskRegister> {
        let s = self.resolve(at)?;
        self.check_unit(unit, s)?;
        let rows = self.risk_rows(unit, None, s)?;
        let open: Vec<&RiskRow> = rows.iter().filter(|r| !r.closed).collect();
        let heat_maps = HeatMaps {
            current: HeatMap::from_assessments(open.iter().filter_map(|r| r.current.as_ref())),
            target: HeatMap::from_assessments(open.iter().filter_map(|r| r.target.as_ref())),
        };
        let escalated = open
            .iter()
            .filter(|r| r.escalated)
            .map(|r| r.risk_id.clone())
            .collect();
        Ok(RiskRegister {
            as_of: s,
            unit: match unit {
                Some(u) => Some(self.unit_name(u, s)?),
                None => None,
            },
            risks: rows,
            heat_maps,
            escalated,
        })
    }

    /// The 5×5 heat maps (current and target) of a unit or the council.
    pub fn heat_map(&self, unit: Option<&str>, at: AsOf) -> R<HeatMaps> {
        Ok(self.risks(unit, at)?.heat_maps)
    }

    fn finance_at(&self, unit: Option<&str>, period: Period, s: Seq) -> R<FinanceView> {
        let fy = period.financial_year();
        let ms = Some(fy_start_month(fy));
        let year = Some(Period::Year(fy));
        let mut revenue = Vec::new();
        for id in self.members(unit, EntityKind::RevenueLine, s)? {
            let Some(EventBody::RevenueLineDefined { spec }) = self.spec_at(id, s)? else {
                continue;
            };
            let budget = match self.fact_at(id, field::BUDGET, year, s)? {
                Some(FactRecord {
                    body:
                        EventBody::BudgetSet {
                            original, revised, ..
                        }
                        | EventBody::BudgetRevised {
                            original, revised, ..
                        },
                    ..
                }) => Some((original, revised)),
                _ => None,
            };
            let (forecast, forecast_period) =
                match self.fact_latest_upto(id, field::FORECAST, ms, Some(period), s)? {
                    Some(FactRecord {
                        body: EventBody::RevenueForecastSubmitted { forecast, .. },
                        period: fp,
                        ..
                    }) => (Some(forecast), fp),
                    _ => (None, None),
                };
            if budget.is_none() && forecast.is_none() {
                continue;
            }
            let (original, revised) = budget.unwrap_or((Fixed::ZERO, Fixed::ZERO));
            let figures = RevenueFigures {
                original,
                revised,
                forecast: forecast.unwrap_or(revised),
            };
            revenue.push(RevenueRow {
                line: spec.name.to_string(),
                unit: spec.unit.to_string(),
                variation: figures.variation()?,
                variation_percent_1dp: figures.variation_percent_1dp()?,
                figures,
                forecast_period,
            });
        }
        let mut capital = Vec::new();
        for id in self.members(unit, EntityKind::CapitalLine, s)? {
            let Some(EventBody::CapitalLineDefined { spec }) = self.spec_at(id, s)? else {
                continue;
            };
            let approved = match self.fact_at(id, field::BUDGET, year, s)? {
                Some(FactRecord {
                    body: EventBody::CapitalBudgetSet { approved, .. },
                    ..
                }) => Some(approved),
                _ => None,
            };
            let (fc, forecast_period) =
                match self.fact_latest_upto(id, field::FORECAST, ms, Some(period), s)? {
                    Some(FactRecord {
                        body:
                            EventBody::CapitalForecastSubmitted {
                                additions,
                                slippage,
                                forecast,
                                ..
                            },
                        period: fp,
                        ..
                    }) => (Some((additions, slippage, forecast)), fp),
                    _ => (None, None),
                };
            if approved.is_none() && fc.is_none() {
                continue;
            }
            let approved = approved.unwrap_or(Fixed::ZERO);
            let (additions, slippage, forecast) =
                fc.unwrap_or((Fixed::ZERO, Fixed::ZERO, approved));
            let figures = CapitalFigures {
                approved,
                additions,
                slippage,
                forecast,
            };
            capital.push(CapitalRow {
                line: spec.name.to_string(),
                unit: spec.unit.to_string(),
                proposed: figures.proposed()?,
                variance: figures.variance()?,
                slippage_percent: figures.slippage_percent_whole(),
                figures,
                forecast_period,
            });
        }
        let mut savings = Vec::new();
        for id in self.members(unit, EntityKind::Saving, s)? {
            let Some(EventBody::SavingProposed { spec }) = self.spec_at(id, s)? else {
                continue;
            };
            let Some(target) = spec.target_for(fy) else {
                continue;
            };
            let (achieved, reported_period) =
                match self.fact_latest_upto(id, field::DELIVERY, ms, Some(period), s)? {
                    Some(FactRecord {
                        body: EventBody::SavingDeliveryReported { achieved, .. },
                        period: rp,
                        ..
                    }) => (achieved, rp),
                    _ => (Fixed::ZERO, None),
                };
            savings.push(SavingRow {
                reference: spec.reference.to_string(),
                unit: spec.unit.to_string(),
                description: spec.description.to_string(),
                line: SavingLine { target, achieved },
                achieved_percent_1dp: perfledger_domain::saving::achieved_percent_1dp(
                    achieved, target,
                ),
                reported_period,
            });
        }
        revenue.sort_by(|a, b| (&a.unit, &a.line).cmp(&(&b.unit, &b.line)));
        capital.sort_by(|a, b| (&a.unit, &a.line).cmp(&(&b.unit, &b.line)));
        savings.sort_by(|a, b| (&a.unit, &a.reference).cmp(&(&b.unit, &b.reference)));
        let revenue_total = RevenueFigures::total(revenue.iter().map(|r| &r.figures))?;
        let capital_total = CapitalFigures::total(capital.iter().map(|r| &r.figures))?;
        let savings_target = Fixed::sum(savings.iter().map(|r| r.line.target))?;
        let savings_achieved = Fixed::sum(savings.iter().map(|r| r.line.achieved))?;
        Ok(FinanceView {
            as_of: s,
            unit: match unit {
                Some(u) => Some(self.unit_name(u, s)?),
                None => None,
            },
            period,
            revenue,
            revenue_total,
            capital,
            capital_total,
            savings,
            savings_target,
            savings_achieved,
        })
    }

    /// Revenue, capital and savings per line with totals for a period (the
    /// latest forecast of the period's financial year up to the period).
    pub fn finance(&self, unit: Option<&str>, period: Period, at: AsOf) -> R<FinanceView> {
        let s = self.resolve(at)?;
        self.check_unit(unit, s)?;
        self.finance_at(unit, period, s)
    }

    fn audit_at(&self, entity: Uuid, s: Seq) -> R<Vec<AuditEntry>> {
        let mut out = Vec::new();
        for r in self.tree.scan_prefix(keys::entity_slots_prefix(entity)) {
            let (k, value) = r?;
            // Versions are sorted by (period, seq): the one before a version
            // of the same period is the one it replaced.
            let mut previous: Option<([u8; 8], EventBody)> = None;
            for v in versions::parse(&k, &value)? {
                if v.seq <= s {
                    let record = self.decode_version(&k, &v)?;
                    let entry = record.audit_entry();
                    let side = match &previous {
                        Some((period, body)) if *period == v.period => {
                            render::side_changes(body, &record.body)
                        }
                        _ => Vec::new(),
                    };
                    out.push(entry.clone());
                    for (field, before, after) in side {
                        out.push(AuditEntry {
                            field: field.to_string(),
                            before,
                            after,
                            ..entry.clone()
                        });
                    }
                    previous = Some((v.period, record.body));
                }
            }
        }
        // Stable: the extra fields of an event stay after its figure.
        out.sort_by_key(|e| (e.seq, e.index));
        Ok(out)
    }

    /// The audit trail of an entity (every event with position, time, actor,
    /// source, reason and before → after) as of a position.
    pub fn audit(&self, kind: EntityKind, key: &str, at: AsOf) -> R<AuditTrail> {
        let s = self.resolve(at)?;
        let id = self.find_at(kind, key, s)?;
        let natural_key = self
            .entity_info(id)?
            .map(|i| i.natural_key)
            .unwrap_or_default();
        Ok(AuditTrail {
            kind: kind.token().to_string(),
            natural_key,
            entity: id,
            as_of: s,
            entries: self.audit_at(id, s)?,
        })
    }

    /// The history of an indicator: its audit trail.
    pub fn history(&self, indicator: &str, at: AsOf) -> R<AuditTrail> {
        self.audit(EntityKind::Indicator, indicator, at)
    }

    /// An indicator's state and history as of a position.
    pub fn indicator(&self, key: &str, at: AsOf) -> R<IndicatorView> {
        let s = self.resolve(at)?;
        let id = self.find_at(EntityKind::Indicator, key, s)?;
        let spec = match self.spec_at(id, s)? {
            Some(
                EventBody::IndicatorDefined { spec } | EventBody::IndicatorAmended { spec, .. },
            ) => Some(spec),
            _ => None,
        };
        let schemes = self.schemes_at(s)?;
        let mut periods: BTreeMap<[u8; 8], Period> = BTreeMap::new();
        for fld in [field::TARGET, field::RESULT] {
            for f in self.fact_versions(id, fld, s)? {
                if let Some(p) = f.period {
                    periods.insert(keys::period_bytes(p), p);
                }
            }
        }
        let mut rows = Vec::new();
        if let Some(spec) = &spec {
            for p in periods.values() {
                let result = self.fact_at(id, field::RESULT, Some(*p), s)?;
                rows.push(self.indicator_row(id, spec, *p, s, &schemes, result, true)?);
            }
        }
        let natural_key = self
            .entity_info(id)?
            .map(|i| i.natural_key)
            .unwrap_or_default();
        Ok(IndicatorView {
            as_of: s,
            entity: id,
            natural_key,
            retired: self.ended_at(id, s)?,
            spec,
            rows,
            audit: self.audit_at(id, s)?,
        })
    }

    /// Indicators of a unit (None = all) as of a position, by natural key.
    pub fn indicators(&self, unit: Option<&str>, at: AsOf) -> R<Vec<IndicatorSummary>> {
        let s = self.resolve(at)?;
        self.check_unit(unit, s)?;
        let mut out = Vec::new();
        for id in self.members(unit, EntityKind::Indicator, s)? {
            if let Some(
                EventBody::IndicatorDefined { spec } | EventBody::IndicatorAmended { spec, .. },
            ) = self.spec_at(id, s)?
            {
                out.push(IndicatorSummary {
                    entity: id,
                    natural_key: spec.natural_key().to_string(),
                    reference: spec.reference.as_ref().map(|r| r.to_string()),
                    title: spec.title.to_string(),
                    unit: spec.unit.to_string(),
                    indicator_type: spec.indicator_type,
                    retired: self.ended_at(id, s)?,
                });
            }
        }
        out.sort_by(|a, b| {
            normalise_key(&a.natural_key)
                .cmp(&normalise_key(&b.natural_key))
                .then(a.entity.cmp(&b.entity))
        });
        Ok(out)
    }

    /// Units known as of a position (from unit definitions and the units
    /// named by indicators, actions, risks, lines and savings).
    pub fn units(&self, at: AsOf) -> R<Vec<UnitRow>> {
        let s = self.resolve(at)?;
        let mut out = Vec::new();
        for r in self.tree.scan_prefix([keys::UNIT]) {
            let (k, v) = r?;
            let info: UnitInfo = store::decode(&k, &v)?;
            if info.first_seq <= s {
                out.push(UnitRow {
                    name: info.name,
                    first_seq: info.first_seq,
                });
            }
        }
        Ok(out)
    }

    /// Seals in the log up to a position.
    pub fn seals(&self, at: AsOf) -> R<Vec<SealRecord>> {
        let s = self.resolve(at)?;
        let mut out = Vec::new();
        for r in self.tree.scan_prefix([keys::SEAL]) {
            let (k, v) = r?;
            let seq = if k.len() == 11 {
                let mut b = [0u8; 8];
                b.copy_from_slice(&k[1..9]);
                u64::from_be_bytes(b)
            } else {
                continue;
            };
            if seq > s {
                break;
            }
            let index = u16::from_be_bytes([k[9], k[10]]);
            let mk = keys::seal_meta_key(seq, index);
            let meta: Option<store::SealMeta> = match self.tree.get(&mk)? {
                Some(m) => Some(store::decode(&mk, &m)?),
                None => None,
            };
            out.push(SealRecord {
                seq,
                index,
                seal: store::decode(&k, &v)?,
                seal_id: meta.as_ref().map(|m| m.seal_id.clone()),
                title: meta.as_ref().and_then(|m| m.title.clone()),
                sealed_at: meta.map(|m| Timestamp(m.sealed_at)),
            });
        }
        Ok(out)
    }

    /// A seal of the dashboard as of the checkpoint (the caller appends
    /// `Command::SealDashboard { seal }`).
    pub fn seal_for(
        &self,
        unit: Option<&str>,
        period: Period,
        committee: &str,
        meeting_date: Date,
    ) -> R<Seal> {
        let s = self.checkpoint()?;
        let view = self.dashboard_at(unit, period, s)?;
        Ok(Seal {
            unit: match unit {
                Some(u) => Some(Text::new("unit", u)?),
                None => None,
            },
            period,
            committee: Text::new("committee", committee)?,
            meeting_date,
            seq: s,
            digest: dashboard::digest(&view.dashboard),
        })
    }

    /// A seal of what a committee saw: the dashboard of a known unit (None =
    /// council-wide) for a period as of position `at` (the position the
    /// meeting's papers were produced from), for a known committee. The
    /// unit and committee are stored by their canonical names.
    pub fn seal_at(
        &self,
        unit: Option<&str>,
        period: Period,
        committee: &str,
        meeting_date: Date,
        at: AsOf,
    ) -> R<Seal> {
        let s = self.resolve(at)?;
        let head = self.checkpoint()?;
        let unit = match unit {
            Some(u) => Some(self.known_unit_at(u, head)?),
            None => None,
        };
        let committee = self.known_committee(committee, AsOf::Seq(head))?;
        let view = self.dashboard_at(unit.as_deref(), period, s)?;
        Ok(Seal {
            unit: match unit {
                Some(u) => Some(Text::new("unit", &u)?),
                None => None,
            },
            period,
            committee: Text::new("committee", &committee)?,
            meeting_date,
            seq: s,
            digest: dashboard::digest(&view.dashboard),
        })
    }

    /// The code of a committee defined as of a position (by its code or
    /// natural key), or `NotFound` naming it.
    pub fn known_committee(&self, committee: &str, at: AsOf) -> R<String> {
        use perfledger_domain::organisation::OrgKind;
        let s = self.resolve(at)?;
        let key =
            perfledger_domain::ids::composite_key(&[OrgKind::Committee.token(), committee.trim()]);
        let not_found = || ReadModelError::NotFound {
            kind: "committee",
            key: committee.to_string(),
        };
        let id = match self.find_at(EntityKind::Unit, &key, s) {
            Ok(id) => id,
            Err(ReadModelError::NotFound { .. }) => return Err(not_found()),
            Err(e) => return Err(e),
        };
        match self.spec_at(id, s)? {
            Some(EventBody::CommitteeDefined { spec }) => Ok(spec.name.to_string()),
            _ => Err(not_found()),
        }
    }

    /// Re-derive the sealed dashboard as of the seal's position and compare
    /// digests; also list the figures changed since (seal position → head).
    pub fn verify_seal(&self, seal: &Seal) -> R<SealVerdict> {
        self.verify(seal, None)
    }

    /// [`ReadModel::verify_seal`] with the dashboard committee saw (e.g. an
    /// export): `differences` lists every figure that differs from it.
    pub fn verify_seal_against(&self, seal: &Seal, expected: &Dashboard) -> R<SealVerdict> {
        self.verify(seal, Some(expected))
    }

    fn verify(&self, seal: &Seal, expected: Option<&Dashboard>) -> R<SealVerdict> {
        let unit = seal.unit.as_ref().map(|u| u.as_str());
        let s = self.resolve(AsOf::Seq(seal.seq))?;
        let then = self.dashboard_at(unit, seal.period, s)?;
        let now = self.dashboard_at(unit, seal.period, self.checkpoint()?)?;
        let expected_digest = hex::encode(seal.digest);
        Ok(SealVerdict {
            seal: seal.clone(),
            matches: expected_digest == then.digest,
            actual_digest: then.digest.clone(),
            expected_digest,
            differences: expected
                .map(|e| diff_dashboards(e, &then.dashboard))
                .unwrap_or_default(),
            changed_since: diff_dashboards(&then.dashboard, &now.dashboard),
        })
    }

    /// Unit an entity belongs to as of a position (None if unknown).
    pub fn unit_of(&self, kind: EntityKind, key: &str, at: AsOf) -> R<Option<String>> {
        let s = self.resolve(at)?;
        let id = self.find_at(kind, key, s)?;
        Ok(self
            .spec_at(id, s)?
            .as_ref()
            .and_then(body_unit)
            .map(|u| u.to_string()))
    }
}
