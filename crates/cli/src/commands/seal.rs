//! `seal` and `seals`: sealing the dashboard (and committee pack) a
//! committee saw at a meeting, and listing the seals in the log, each
//! re-derived. Seal completion (the position a seal pins, the seal command
//! that pins the pack there) is the application layer's
//! (`perfledger_service::seal`); this module supplies the arguments, the
//! seal id, the actor and the time, and prints the anchor.

use perfledger_domain::event::CommitteeSeal;
use perfledger_domain::{Date, Text};
use perfledger_log::integrity;
use perfledger_readmodel::AsOf;
use perfledger_service::seal::{seal_position, SealCommand};

use crate::args::{as_of, period, SealArgs, SealsArgs};
use crate::env::{Env, PREFIX};
use crate::error::Res;
use crate::format;

/// `seal`: checks the meeting and the position (see [`seal_position`]),
/// appends the seal, checkpoints and prints the anchor of the sealed
/// position.
pub async fn seal(env: &Env, a: SealArgs) -> Res<()> {
    let SealArgs {
        unit,
        period: p,
        committee,
        date,
        as_of: at,
        id,
        title,
    } = a;
    let rm = env.caught_up().await?;
    let meeting = Date::parse(&date)?;
    let p = period(&p)?;
    let at = at.as_deref().map(|a| as_of(Some(a))).transpose()?;
    let seal = seal_position(&rm, unit.as_deref(), p, &committee, meeting, at)?;
    let seal_id = match id {
        Some(id) => id,
        None => format!(
            "{}-{}-{}-{}",
            seal.committee,
            seal.meeting_date,
            seal.unit.as_ref().map_or("COUNCIL", |u| u.as_str()),
            seal.period.to_string().replace(['/', ' '], "-")
        ),
    };
    let seal = CommitteeSeal {
        seal_id: Text::new("seal id", &seal_id)?,
        title: title.map(|t| Text::new("title", &t)).transpose()?,
        sealed_at: perfledger_ledger::Clock::now(&perfledger_ledger::SystemClock),
        seal,
    };
    let cmd = SealCommand {
        seal,
        tenant: env.tenant()?,
        actor: env.actor()?,
        source: Text::new("source", "perfledger-cli")?,
        command_id: env.ledger.ids().next_id(),
        at: None,
    };
    let (seq, seal) = env.service().append_seal(&rm, cmd).await?;
    integrity::checkpoint(&*env.log, PREFIX).await?;
    // The chain root at the sealed position: an anchor anyone can
    // keep with the printed papers and check with verify --anchor.
    let root = integrity::chain_root_at(&*env.log, seal.seal.seq).await?;
    format::seal(env.g.format, &seal, seq, &root)
}

/// `seals`: every seal up to the position, each re-derived.
pub async fn seals(env: &Env, a: SealsArgs) -> Res<()> {
    let rm = env.caught_up().await?;
    let at = rm.resolve(as_of(a.as_of.as_deref())?)?;
    let mut rows = Vec::new();
    for r in rm.seals(AsOf::Seq(at))? {
        let verdict = rm.verify_seal(&r.seal)?;
        rows.push((r, verdict));
    }
    format::seals(env.g.format, at, &rows)
}
