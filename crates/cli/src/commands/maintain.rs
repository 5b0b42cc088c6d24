//! Maintenance: `checkpoint` (append an integrity checkpoint over the
//! records since the last one) and `rebuild` (the read model from the log).

use perfledger_log::{integrity, EventLog};
use perfledger_readmodel::ProjectError;

use crate::args::Format;
use crate::env::{bar, Env, PREFIX};
use crate::error::Res;

/// `checkpoint`.
pub async fn checkpoint(env: &Env) -> Res<()> {
    let c = integrity::checkpoint(&*env.log, PREFIX).await?;
    match (env.g.format, c) {
        (Format::Json, Some(c)) => out!(
            "{}",
            serde_json::json!({"checkpoint_seq": c.seq, "upto": c.upto, "root": hex::encode(c.root)})
        ),
        (Format::Json, None) => out!("{}", serde_json::json!({"checkpoint_seq": null})),
        (_, Some(c)) => out!(
            "checkpoint at sequence {} covers 1..={} (root {})",
            c.seq,
            c.upto,
            hex::encode(c.root)
        ),
        (_, None) => out!("nothing new since the last checkpoint"),
    }
    Ok(())
}

/// `rebuild`: beside the live read model, swapped in when complete
/// ([`perfledger_readmodel::rebuild_beside`]).
pub async fn rebuild(env: &Env) -> Res<()> {
    let head = env.log.head().await?;
    let pb = bar(head, "rebuilding");
    let seq = perfledger_readmodel::rebuild_beside(
        &env.readmodel_dir(),
        &env.tenant()?,
        env.cache_bytes(),
        &*env.log,
        &mut |p| pb.set_position(p.applied),
    )
    .await
    .map_err(|e| match e {
        ProjectError::ReadModel(e) => env.read_model_error(e),
        other => other.into(),
    })?;
    pb.finish_and_clear();
    out!("read model rebuilt up to sequence {seq}");
    Ok(())
}
