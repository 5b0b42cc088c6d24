//! Seal completion: what a committee seal pins and the command that
//! records it.
//!
//! A seal pins the dashboard a committee saw at a meeting: a position in
//! the log (the meeting's papers), the dashboard's digest there, and the
//! committee pack at that position (its canonical bytes, format byte,
//! rules version, digest and the chain root; issue #13). The position is
//! the caller's (`--as-of`), or by default the ledger as recorded before
//! the meeting day; [`seal_position`] refuses a default that would pin
//! figures committee never saw. A seal of seals.csv is completed as of its
//! `sealed_at` ([`Service::complete_import_seal`]).

use perfledger_domain::event::{CommitteeSeal, PackPin, Seal};
use perfledger_domain::ids::EntityKind;
use perfledger_domain::{Command, CommandEnvelope, Date, Period, Tenant, Text, Timestamp};
use perfledger_import::SealRequest;
use perfledger_ledger::Submitted;
use perfledger_log::{integrity, EventLog, Seq};
use perfledger_readmodel::{AsOf, ReadModel, ReadModelError};
use uuid::Uuid;

use crate::{Result, Service, ServiceError};

/// A seal to append: the committee seal with who records it and how.
#[derive(Debug, Clone)]
pub struct SealCommand {
    /// The seal (its position and dashboard digest already pinned).
    pub seal: CommitteeSeal,
    /// The tenant.
    pub tenant: Tenant,
    /// Who seals.
    pub actor: Text,
    /// Provenance (`perfledger-cli`, or the import's row).
    pub source: Text,
    /// The command id (deterministic for an import, so a re-import is a
    /// duplicate).
    pub command_id: Uuid,
    /// The recorded time to claim (recorded no earlier than the head's, to
    /// keep the log in time order); `None` = now, by the ledger's clock.
    pub at: Option<Timestamp>,
}

/// A seal of seals.csv, completed and appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedSeal {
    /// The seal id as given.
    pub seal_id: String,
    /// The sequence of the seal record.
    pub seq: Seq,
    /// The dashboard digest sealed (64 hex digits).
    pub digest: String,
    /// The sealed position (the ledger as recorded at `sealed_at`).
    pub dashboard_as_of: Seq,
}

/// The seal of what `committee` saw on `meeting`: checked (known unit and
/// committee, a meeting not before the period began) and pinned to the
/// position of the meeting's papers.
///
/// Without `at` that position is the ledger as recorded before the meeting
/// day. If records made since then change the dashboard, sealing is
/// refused rather than pinning either today's figures (which committee
/// never saw) or the date's position silently (the papers may have been
/// produced from a later correction): the caller names the position.
pub fn seal_position(
    rm: &ReadModel,
    unit: Option<&str>,
    period: Period,
    committee: &str,
    meeting: Date,
    at: Option<AsOf>,
) -> Result<Seal> {
    let head = rm.checkpoint()?;
    let explicit = at.is_some();
    let position = match at {
        Some(a) => rm.resolve(a)?,
        None => rm.resolve(AsOf::Time(meeting.start().0))?,
    };
    let seal = rm.seal_at(unit, period, committee, meeting, AsOf::Seq(position))?;
    if let Some(start) = period.start_date() {
        if meeting < start {
            return Err(ServiceError::Refused(format!(
                "meeting date {meeting} is before {period} began ({start}): a committee cannot have seen that dashboard then"
            )));
        }
    }
    if !explicit {
        if position == 0 {
            return Err(ServiceError::Refused(format!(
                "nothing was recorded before {meeting}: pass --as-of <sequence or time> naming the position the meeting's papers showed"
            )));
        }
        if position < head {
            let now = rm.dashboard(unit, period, AsOf::Seq(head))?;
            if now.digest != hex::encode(seal.digest) {
                return Err(ServiceError::Refused(format!(
                    "records made after {meeting} (sequences {}..={head}) change this dashboard, so today's figures are not what {} saw on {meeting}; \
pass --as-of naming the position the meeting's papers showed: --as-of {position} (the ledger as recorded before {meeting}) or a later sequence or time",
                    position + 1,
                    seal.committee
                )));
            }
        }
    }
    Ok(seal)
}

impl<L: EventLog> Service<L> {
    /// Append a seal command that pins the committee pack at the seal's
    /// position; returns the sequence of the seal record and the seal.
    pub async fn append_seal(
        &self,
        rm: &ReadModel,
        cmd: SealCommand,
    ) -> Result<(Seq, CommitteeSeal)> {
        let SealCommand {
            seal,
            tenant,
            actor,
            source,
            command_id,
            at,
        } = cmd;
        let envelope = CommandEnvelope {
            command_id,
            tenant,
            actor,
            source,
            correlation_id: command_id,
            causation_id: None,
            command: Command::SealCommitteePack {
                seal: seal.clone(),
                pack: self.pack_pin(rm, &seal.seal).await?,
            },
        };
        let sub = match at {
            Some(t) => {
                let head = self.head_time().await?.unwrap_or(t);
                Submitted::at(envelope, t.max(head))
            }
            None => Submitted::new(envelope),
        };
        let out = self.ledger().execute(sub).await?;
        Ok((out.seq, seal))
    }

    /// The pack a seal pins: built under the current rules at the seal's
    /// position (its dashboard digest is the seal's by construction).
    pub async fn pack_pin(&self, rm: &ReadModel, seal: &Seal) -> Result<PackPin> {
        let rules = perfledger_readmodel::pack::Rules::builtin();
        let id = perfledger_readmodel::pack::RulesVersion::CURRENT.id();
        let unit = seal.unit.as_ref().map(|u| u.as_str());
        let record = rm
            .pack_seal_record(&rules, id, unit, seal.period, AsOf::Seq(seal.seq))?
            .ok_or_else(|| {
                ServiceError::Refused(format!("rules version {id} unknown to this build"))
            })?;
        Ok(PackPin {
            chain_root: integrity::chain_root_at(self.log(), seal.seq).await?,
            format: record.format,
            rules: record.rules,
            digest: record.digest,
            bytes: record.bytes,
        })
    }

    /// Complete one seal of seals.csv and append it: the dashboard as of
    /// its `sealed_at` (computed by the caught-up read model `rm`), its
    /// digest, the pack at that position. `None` when a seal with this id
    /// is in the ledger already (a re-import: its position as of
    /// `sealed_at` would now also cover the seal records appended after
    /// it, so it is never re-derived and re-sent). A failure names the row.
    pub async fn complete_import_seal(
        &self,
        rm: &ReadModel,
        tenant: &Tenant,
        req: &SealRequest,
    ) -> Result<Option<CompletedSeal>> {
        match rm.find_entity(EntityKind::Seal, &req.seal_id, AsOf::Head) {
            Ok(_) => return Ok(None),
            Err(ReadModelError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let view = rm.dashboard(
            req.unit.as_ref().map(|u| u.as_str()),
            req.period,
            AsOf::Time(req.sealed_at.0),
        )?;
        let at_row = |e: ServiceError| ServiceError::Rows(format!("{}: {e}", req.origin));
        let seal = CommitteeSeal {
            seal_id: Text::new("seal id", &req.seal_id).map_err(|e| at_row(e.into()))?,
            title: req.title.clone(),
            // The seal keeps its own time (the commit is recorded no
            // earlier than the head, to keep the log in time order).
            sealed_at: req.sealed_at,
            seal: Seal {
                unit: req.unit.clone(),
                period: req.period,
                committee: req.committee.clone(),
                meeting_date: req.meeting_date,
                seq: view.as_of,
                digest: perfledger_domain::dashboard::digest(&view.dashboard),
            },
        };
        let cmd = SealCommand {
            seal,
            tenant: tenant.clone(),
            actor: req.actor.clone(),
            source: req.source.clone(),
            command_id: req.command_id,
            at: Some(req.sealed_at),
        };
        let (seq, seal) = self.append_seal(rm, cmd).await.map_err(at_row)?;
        Ok(Some(CompletedSeal {
            seal_id: req.seal_id.clone(),
            seq,
            digest: hex::encode(seal.seal.digest),
            dashboard_as_of: view.as_of,
        }))
    }
}
