//! `perfledger pack`: the committee pack of a unit (or the council) for a
//! period, as of a position, written to a file as HTML, PDF, JSON or CSV.
//!
//! The format is the extension of `--out` (`.html`, `.pdf`, `.json`,
//! `.csv`); with `--out -` (stdout) the global `--format json|csv` chooses,
//! HTML otherwise (the global `--format` flag is shared by every command, so
//! the pack cannot define a second one). JSON is the pack itself (serde,
//! fixed-point figures as numbers) with its digest; CSV is the indicator
//! table; HTML is `perfledger_web::pack_html`; PDF prints that HTML with
//! headless Chromium (`chromium --headless --print-to-pdf`).
//!
//! The figures are a pure function of (log prefix, scope, period, rules):
//! the digest printed on stderr is the SHA-256 of the pack's canonical
//! bytes, the same on every run. Every format carries the anchor (`SEQ:ROOT`,
//! the chain root at the pack's position, computed from the log).
//!
//! `--seal ID` renders the pack that seal pinned from its stored canonical
//! bytes (never re-derived), so it prints what committee read under the
//! rules of its day; header, footer and JSON carry the seal id, the sealed
//! digest and the anchor the seal pinned.

use std::path::{Path, PathBuf};

use clap::Args;
use perfledger_readmodel::pack::{self, Pack, RulesVersion};
use perfledger_web::pack_html::{json_value, render_running, Anchor, Running};

use super::{as_of, period, CliError, Env, Format, Res};

#[derive(Debug, Args)]
pub struct PackArgs {
    /// Unit (omit for the council-wide pack with its per-unit overview)
    #[arg(long, conflicts_with = "seal")]
    unit: Option<String>,
    /// Period (`2016/17 Q1`)
    #[arg(long, required_unless_present = "seal", conflicts_with = "seal")]
    period: Option<String>,
    /// As of: a log sequence or an RFC 3339 time (default: the latest)
    #[arg(long, conflicts_with = "seal")]
    as_of: Option<String>,
    /// The pack a seal pinned (its id, as `perfledger seals` lists it),
    /// rendered from the seal's stored bytes; header and footer carry the
    /// seal id, the sealed digest and the anchor the seal pinned
    #[arg(long)]
    seal: Option<String>,
    /// Output file; its extension picks the format: .html, .pdf, .json, .csv
    /// (`-` = stdout, as the global --format json|csv, else HTML)
    #[arg(long)]
    out: PathBuf,
    /// Council name printed in the running header
    #[arg(long, default_value = "perfledger")]
    council: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Html,
    Pdf,
    Json,
    Csv,
}

fn kind(out: &Path, global: Format) -> Res<Kind> {
    if out.as_os_str() == "-" {
        return Ok(match global {
            Format::Json => Kind::Json,
            Format::Csv => Kind::Csv,
            Format::Table => Kind::Html,
        });
    }
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html" | "htm") => Ok(Kind::Html),
        Some("pdf") => Ok(Kind::Pdf),
        Some("json") => Ok(Kind::Json),
        Some("csv") => Ok(Kind::Csv),
        _ => Err(CliError::Usage(format!(
            "--out {}: name a .html, .pdf, .json or .csv file (or - for stdout)",
            out.display()
        ))),
    }
}

/// Run `perfledger pack`.
pub async fn run(env: &Env, a: PackArgs) -> Res<()> {
    let k = kind(&a.out, env.g.format)?;
    let rm = env.caught_up().await?;
    let (p, digest, anchor, seal) = match (&a.seal, &a.period) {
        (Some(id), _) => {
            let s = rm.sealed_pack(id)?;
            (s.pack, s.digest, s.anchor, Some(s.seal_id))
        }
        (None, Some(per)) => {
            let p = rm.pack(
                a.unit.as_deref(),
                period(per)?,
                as_of(a.as_of.as_deref())?,
                RulesVersion::CURRENT,
            )?;
            let root = perfledger_log::integrity::chain_root_at(&*env.log, p.as_of).await?;
            let anchor = pack::anchor_text(p.as_of, &root);
            let digest = pack::digest_hex(&p);
            (p, digest, anchor, None)
        }
        // clap requires one of them; said plainly should that ever change.
        (None, None) => return Err(CliError::Usage("pack: give --period or --seal".into())),
    };
    let running = Running {
        council: &a.council,
        digest: &digest,
        anchor: Anchor::Root(&anchor),
        seal: seal.as_deref(),
    };
    let bytes = render(&p, &running, k)?;
    match k {
        Kind::Pdf => pdf(&bytes, &a.out)?,
        _ if a.out.as_os_str() == "-" => {
            use std::io::Write as _;
            if let Err(e) = std::io::stdout().lock().write_all(&bytes) {
                crate::stdout_failed(e);
            }
        }
        _ => std::fs::write(&a.out, &bytes)?,
    }
    let sealed = seal
        .map(|id| format!(" sealed by {id}"))
        .unwrap_or_default();
    // The digest stays the last word printed: scripts read it from there.
    eprintln!("anchor (the log up to the pack's position; check with verify --anchor): {anchor}");
    eprintln!(
        "pack {} {} as of sequence {} (rules {}){sealed}: digest {digest}",
        p.unit.as_deref().unwrap_or("council-wide"),
        p.period,
        p.as_of,
        p.rules_version.name()
    );
    Ok(())
}

/// The bytes of a pack in one format (PDF: the HTML it prints). A pure
/// function of the pack and its running line: the golden history pins them.
fn render(p: &Pack, running: &Running, k: Kind) -> Res<Vec<u8>> {
    match k {
        Kind::Html | Kind::Pdf => Ok(render_running(p, running).into_bytes()),
        Kind::Json => {
            let v = json_value(p, running);
            let mut out =
                serde_json::to_vec_pretty(&v).map_err(|e| CliError::Usage(e.to_string()))?;
            out.push(b'\n');
            Ok(out)
        }
        Kind::Csv => csv(p),
    }
}

/// The indicator table, one row per indicator, in the pack's order.
fn csv(p: &Pack) -> Res<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let err = |e: ::csv::Error| CliError::Usage(e.to_string());
    w.write_record([
        "theme",
        "ref",
        "indicator",
        "annual_target",
        "period_target",
        "result",
        "rag",
        "rag_printed",
        "previous_result",
        "dot_short",
        "last_year_result",
        "dot_long",
        "benchmark",
        "sources",
    ])
    .map_err(err)?;
    let dot = |d: Option<perfledger_domain::direction::Direction>| {
        d.map(|d| format!("{d:?}")).unwrap_or_default()
    };
    for g in &p.indicators {
        for r in &g.rows {
            let text = |c: &Option<pack::ResultCell>| {
                c.as_ref().map(|c| c.text.clone()).unwrap_or_default()
            };
            let target = |c: &Option<pack::TargetCell>| {
                c.as_ref().map(|c| c.text.clone()).unwrap_or_default()
            };
            let sources: Vec<String> = r.sources.iter().map(u64::to_string).collect();
            w.write_record([
                g.theme.clone().unwrap_or_default(),
                r.reference.clone().unwrap_or_default(),
                r.title.clone(),
                target(&r.annual_target),
                target(&r.period_target),
                text(&r.result),
                r.rag.map(|x| x.name().to_string()).unwrap_or_default(),
                r.rag_printed
                    .map(|x| x.name().to_string())
                    .unwrap_or_default(),
                text(&r.previous),
                dot(r.direction_short),
                text(&r.last_year),
                dot(r.direction_long),
                r.benchmarks.join("; "),
                sources.join(" "),
            ])
            .map_err(err)?;
        }
    }
    w.into_inner().map_err(|e| CliError::Usage(e.to_string()))
}

/// Print HTML to PDF with headless Chromium (the browser the tests use).
fn pdf(html: &[u8], out: &Path) -> Res<()> {
    let tmp = out.with_extension("print.html");
    // A stale file must not pass for a fresh print.
    let _ = std::fs::remove_file(out);
    std::fs::write(&tmp, html)?;
    let abs = std::fs::canonicalize(&tmp)?;
    let browser = std::env::var("PERFLEDGER_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let status = std::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--print-to-pdf={}", out.display()))
        .arg(format!("file://{}", abs.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    let _ = std::fs::remove_file(&tmp);
    match status {
        Ok(s) if s.success() && out.exists() => Ok(()),
        Ok(s) => Err(CliError::Usage(format!(
            "{browser} could not print the pack to {} ({s})",
            out.display()
        ))),
        Err(e) => Err(CliError::Usage(format!(
            "cannot run {browser} to print the PDF: {e} (set PERFLEDGER_CHROMIUM to its path)"
        ))),
    }
}
