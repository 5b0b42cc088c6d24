//! `GET /pack` and `GET /api/pack`: the committee pack of
//! `?unit=&period=&as_of=` (derived under the current rules) or of
//! `?seal=ID` (the pack that seal pinned, from its stored bytes), rendered
//! by [`crate::pack_html`].
//!
//! Invariant: the anchor printed is the log's own chain root, never a
//! guess: the read model holds it at its checkpoint and at every pack
//! seal's position ([`perfledger_readmodel::ReadModel::pack_anchor`]);
//! elsewhere the page says it is not held (`perfledger pack` computes it
//! from the log).

use perfledger_readmodel::pack::{anchor_text, digest_hex, Pack, RulesVersion, SealedPack};

use crate::pack_html::{json_value, render_running, Anchor, Running};
use crate::params::{self, ctx};
use crate::{json, page, App, AppError};

type M = std::collections::BTreeMap<String, String>;

/// The pack a page asks for: `?seal=ID` (the pack that seal pinned, from
/// its pinned bytes) or `?unit=&period=&as_of=` (derived under the current
/// rules, with the anchor where the read model holds it).
enum Asked {
    Sealed(Box<SealedPack>),
    Derived {
        pack: Box<Pack>,
        digest: String,
        anchor: Option<String>,
    },
}

impl Asked {
    fn pack(&self) -> &Pack {
        match self {
            Asked::Sealed(s) => &s.pack,
            Asked::Derived { pack, .. } => pack,
        }
    }

    fn running<'a>(&'a self, council: &'a str) -> Running<'a> {
        match self {
            Asked::Sealed(s) => Running {
                council,
                digest: &s.digest,
                anchor: Anchor::Root(&s.anchor),
                seal: Some(&s.seal_id),
            },
            Asked::Derived {
                pack,
                digest,
                anchor,
            } => Running {
                council,
                digest,
                anchor: anchor
                    .as_deref()
                    .map_or(Anchor::NotHeld(pack.as_of), Anchor::Root),
                seal: None,
            },
        }
    }
}

fn pack_for(app: &App, m: &M) -> Result<Asked, AppError> {
    if let Some(id) = m.get("seal").filter(|s| !s.trim().is_empty()) {
        return Ok(Asked::Sealed(Box::new(app.rm().sealed_pack(id)?)));
    }
    let c = ctx(app.rm(), m)?;
    let known = app.periods()?;
    let period = params::period(m, &known)?
        .ok_or_else(|| AppError::bad("period", "", "no period given and none recorded yet"))?;
    let p = app
        .rm()
        .pack(c.unit(), period, c.at(), RulesVersion::CURRENT)?;
    let anchor = app
        .rm()
        .pack_anchor(p.as_of)?
        .map(|root| anchor_text(p.as_of, &root));
    Ok(Asked::Derived {
        digest: digest_hex(&p),
        pack: Box::new(p),
        anchor,
    })
}

/// `GET /pack`: the printable committee pack.
pub(crate) fn pack_page(app: &App, m: &M) -> Result<axum::response::Response, AppError> {
    let asked = pack_for(app, m)?;
    page(render_running(asked.pack(), &asked.running(&app.web.title)))
}

/// `GET /api/pack`: the pack as JSON with its digest, its anchor (when
/// held) and its seal id (when sealed).
pub(crate) fn api_pack(app: &App, m: &M) -> Result<axum::response::Response, AppError> {
    let asked = pack_for(app, m)?;
    json(&json_value(asked.pack(), &asked.running(&app.web.title)))
}
