//! Committee-pack benchmark (release mode; issues #13 and #12): the
//! generated large council `readmodel_bench` uses (≥ 1M events,
//! deterministic from a seed) on the embedded log.
//!
//! Prints, each figure beside a baseline measured in the same run:
//!
//! 1. pack build time p50/p99 for one unit and council-wide, for a few
//!    periods, as of the head, beside the as-of dashboard of the same scope
//!    and position (the pack contains it, so the pack can never be faster);
//!    and the council-wide pack's public parts timed alone (dashboard,
//!    finance, key actions, risks), to show where the time goes;
//!    then council-wide dashboards and packs as of scattered positions (a
//!    random quarter as of a random sequence each time, nothing warm);
//! 2. seals: packs sealed through the service's seal path
//!    ([`Service::append_seal`], which pins the pack with `pack_pin`), then
//!    verification per seal as `perfledger verify` does it
//!    ([`ReadModel::verify_pack_seal`]: re-derive under the rules the seal
//!    names and compare bit for bit), beside the chain root at the seal's
//!    position (`verify` computes the roots of the head and of every pack
//!    seal in one pass over the log, [`integrity::chain_roots_at`]).
//!
//! Every pack's digest is printed: a change that must not move pack bytes
//! is checked at scale by comparing two runs. The load average is printed
//! beside the figures, and each p50 also as this thread's CPU time (the
//! machine is shared: wall time counts waiting for a core, CPU time does
//! not, so CPU time is what compares two builds run at different loads).
//!
//! `cargo run --release -p perfledger-bench --bin pack_bench -- [--seed N] [--dir PATH] [--reps N] [--cache-mb N]`
//!
//! `--dir` keeps the log and read model between runs (generation and the
//! rebuild are skipped when present; seals already there are reused).

// jemalloc, configured as every perfledger binary's (`perfledger_alloc`).
use perfledger_alloc as _;

use std::sync::Arc;
use std::time::{Duration, Instant};

use perfledger_bench::{arg, generate_embedded, load_average, ms, pct, thread_cpu};
use perfledger_domain::event::CommitteeSeal;
use perfledger_domain::period::{FinancialYear, Period};
use perfledger_domain::{EntityKind, Text, Timestamp};
use perfledger_ledger::Ledger;
use perfledger_log::{integrity, EmbeddedLog, EventLog};
use perfledger_readmodel::pack::{
    canonical_bytes, digest_hex, PackSealRecord, Rules, RulesVersion,
};
use perfledger_readmodel::{AsOf, Projector, ReadModel, ReadModelError, SealRecord};
use perfledger_service::seal::SealCommand;
use perfledger_service::Service;
use perfledger_testkit::council::{unit_name, Rng, Shape, TENANT};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The unit whose packs are timed (one of the generator's 24).
const UNIT: usize = 7;

/// The periods timed: early, middle and the last year of the ten.
fn periods(shape: &Shape) -> Vec<Period> {
    let fy = |i: i32| FinancialYear(shape.first_year + i);
    vec![
        Period::Quarter(fy(2), 2),
        Period::Quarter(fy(5), 4),
        Period::Quarter(fy(shape.years - 1), 3),
    ]
}

fn tenant() -> perfledger_domain::Tenant {
    perfledger_domain::Tenant::new(TENANT).expect("the generator's tenant is a valid token")
}

/// Time `f` `reps` times after one untimed warm-up: wall times and this
/// thread's CPU times ([`thread_cpu`]), each sorted.
struct Timed<T> {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
    last: T,
}

fn timed<T>(reps: usize, mut f: impl FnMut() -> Res<T>) -> Res<Timed<T>> {
    let mut last = f()?;
    let mut wall = Vec::with_capacity(reps);
    let mut cpu = Vec::with_capacity(reps);
    for _ in 0..reps {
        let (t, c) = (Instant::now(), thread_cpu());
        last = f()?;
        wall.push(t.elapsed());
        cpu.push(thread_cpu().saturating_sub(c));
    }
    wall.sort();
    cpu.sort();
    Ok(Timed { wall, cpu, last })
}

/// `p50 wall (p50 CPU)`.
fn wall_cpu<T>(t: &Timed<T>) -> String {
    format!("{} ({})", ms(pct(&t.wall, 50)), ms(pct(&t.cpu, 50)))
}

fn row<A, B>(label: &str, period: Period, pack: &Timed<A>, base: &Timed<B>, digest: &str) {
    let ratio = pct(&pack.wall, 50).as_secs_f64() / pct(&base.wall, 50).as_secs_f64().max(1e-9);
    println!(
        "| {label} | {period} | {} | {} / {} | {} | {} / {} | {} | {ratio:.1}x | {} |",
        pack.wall.len(),
        ms(pct(&pack.wall, 50)),
        ms(pct(&pack.wall, 99)),
        ms(pct(&pack.cpu, 50)),
        ms(pct(&base.wall, 50)),
        ms(pct(&base.wall, 99)),
        ms(pct(&base.cpu, 50)),
        &digest[..16]
    );
}

/// 1. Pack build time beside the as-of dashboard of the same scope.
fn packs(rm: &ReadModel, shape: &Shape, reps: usize) -> Res<()> {
    let s = rm.checkpoint()?;
    let unit = unit_name(UNIT);
    println!();
    println!(
        "packs as of the head (sequence {s}); load average {}",
        load_average()
    );
    println!();
    println!("| scope | period | n | pack p50 / p99 | pack CPU p50 | as-of dashboard p50 / p99 (baseline) | dashboard CPU p50 | pack / dashboard (p50) | pack digest |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut council_all = Vec::new();
    for p in periods(shape) {
        for scope in [Some(unit.as_str()), None] {
            let n = if scope.is_some() { reps * 2 } else { reps };
            let at = AsOf::Seq(s);
            let pack = timed(n, || Ok(rm.pack(scope, p, at, RulesVersion::CURRENT)?))?;
            let base = timed(n, || Ok(rm.dashboard(scope, p, at)?))?;
            let (built, view) = (&pack.last, &base.last);
            let again = rm.pack(scope, p, at, RulesVersion::CURRENT)?;
            assert_eq!(
                canonical_bytes(built),
                canonical_bytes(&again),
                "the same pack twice is the same bytes"
            );
            assert_eq!(
                built.dashboard.digest, view.digest,
                "the pack holds the dashboard of its scope"
            );
            row(
                scope.unwrap_or("council-wide"),
                p,
                &pack,
                &base,
                &digest_hex(built),
            );
            if scope.is_none() {
                council_all.extend(pack.wall);
            }
        }
    }
    council_all.sort();
    println!(
        "council-wide pack over all periods: p50 {} p99 {} (issue #13 target: p99 < 100 ms); load average {}",
        ms(pct(&council_all, 50)),
        ms(pct(&council_all, 99)),
        load_average()
    );
    sections(rm, shape, reps, s)
}

/// The council-wide pack's public parts, timed alone (p50).
fn sections(rm: &ReadModel, shape: &Shape, reps: usize, s: u64) -> Res<()> {
    println!();
    println!("| council-wide, p50 wall (CPU) | period | pack | dashboard | finance | key actions | risks |");
    println!("|---|---|---|---|---|---|---|");
    let n = (reps / 2).max(3);
    let at = AsOf::Seq(s);
    for p in periods(shape) {
        let pack = timed(n, || Ok(rm.pack(None, p, at, RulesVersion::CURRENT)?))?;
        let dash = timed(n, || Ok(rm.dashboard(None, p, at).map(drop)?))?;
        let fin = timed(n, || Ok(rm.finance(None, p, at).map(drop)?))?;
        let act = timed(n, || Ok(rm.actions(None, p, at).map(drop)?))?;
        let risk = timed(n, || Ok(rm.risks(None, at).map(drop)?))?;
        println!(
            "| | {p} | {} | {} | {} | {} | {} |",
            wall_cpu(&pack),
            wall_cpu(&dash),
            wall_cpu(&fin),
            wall_cpu(&act),
            wall_cpu(&risk)
        );
    }
    Ok(())
}

/// 1b. Council-wide dashboards and packs as of scattered positions: each
/// query a random quarter of the ten years as of a random sequence (the
/// as-of queries of `readmodel_bench`, a different one every time, so no
/// answer is warm from the one before), wall and CPU time.
fn scattered(rm: &ReadModel, shape: &Shape, seed: u64, n: usize) -> Res<()> {
    let head = rm.checkpoint()?;
    let mut rng = Rng::new(seed ^ 0xA5_0F);
    let mut queries = Vec::with_capacity(n);
    for _ in 0..n {
        let year = shape.first_year + i32::try_from(rng.below(10))?;
        let quarter = 1 + u8::try_from(rng.below(4))?;
        let period = Period::quarter(year, quarter)?;
        queries.push((period, 1 + rng.below(head)));
    }
    let mut dash = Timed {
        wall: Vec::new(),
        cpu: Vec::new(),
        last: (),
    };
    let mut pack = Timed {
        wall: Vec::new(),
        cpu: Vec::new(),
        last: (),
    };
    for (period, s) in &queries {
        for (t, is_pack) in [(&mut dash, false), (&mut pack, true)] {
            let (w, c) = (Instant::now(), thread_cpu());
            if is_pack {
                std::hint::black_box(rm.pack(
                    None,
                    *period,
                    AsOf::Seq(*s),
                    RulesVersion::CURRENT,
                )?);
            } else {
                std::hint::black_box(rm.dashboard(None, *period, AsOf::Seq(*s))?);
            }
            t.wall.push(w.elapsed());
            t.cpu.push(thread_cpu().saturating_sub(c));
        }
    }
    println!();
    println!(
        "council-wide, as of {n} scattered (quarter, sequence) pairs; load average {}",
        load_average()
    );
    println!();
    println!("| council-wide, scattered | n | wall p50 / p99 | CPU p50 / p99 | issue target |");
    println!("|---|---|---|---|---|");
    for (label, t, target) in [
        ("as-of dashboard", &mut dash, "#12: p99 < 20 ms"),
        ("pack", &mut pack, "#13: p99 < 100 ms"),
    ] {
        t.wall.sort();
        t.cpu.sort();
        println!(
            "| {label} | {n} | {} / {} | {} / {} | {target} |",
            ms(pct(&t.wall, 50)),
            ms(pct(&t.wall, 99)),
            ms(pct(&t.cpu, 50)),
            ms(pct(&t.cpu, 99)),
        );
    }
    Ok(())
}

/// 2a. Seal the pack of each timed scope and period at the head, through
/// the service (as the CLI's `seal` and the import's seals.csv do).
/// Seals already in the log (a `--dir` rerun) are kept.
async fn seal_packs(
    service: &Service<EmbeddedLog>,
    rm: &ReadModel,
    shape: &Shape,
    seed: u64,
) -> Res<Duration> {
    let unit = unit_name(UNIT);
    let mut sealing = Duration::ZERO;
    for (i, p) in periods(shape).into_iter().enumerate() {
        for (j, scope) in [Some(unit.as_str()), None].into_iter().enumerate() {
            let id = format!("BENCH-{seed}-{p}-{}", scope.unwrap_or("COUNCIL"));
            match rm.find_entity(EntityKind::Seal, &id, AsOf::Head) {
                Ok(_) => continue,
                Err(ReadModelError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let meeting = p.end_date().ok_or("a quarter has an end date")?;
            let seal = rm.seal_for(scope, p, "Bench Committee", meeting)?;
            let at = service.head_time().await?.ok_or("the log is not empty")?;
            let cmd = SealCommand {
                seal: CommitteeSeal {
                    seal_id: Text::new("seal id", &id)?,
                    title: None,
                    sealed_at: Timestamp(at.0),
                    seal,
                },
                tenant: tenant(),
                actor: Text::new("actor", "pack_bench")?,
                source: Text::new("source", "pack_bench")?,
                command_id: uuid::Uuid::from_u128(
                    (u128::from(seed) << 64) | ((i as u128) << 8) | j as u128,
                ),
                at: Some(at),
            };
            let t = Instant::now();
            service.append_seal(rm, cmd).await?;
            sealing += t.elapsed();
            // The next seal's position sees this one.
            Projector::new(rm)
                .catch_up(service.log(), &mut |_| {})
                .await?;
        }
    }
    Ok(sealing)
}

/// 2b. Verify every bench pack seal `reps` times (re-derive, compare bit
/// for bit), beside the chain root at the seals' position.
async fn verify_seals(log: &EmbeddedLog, rm: &ReadModel, seed: u64, reps: usize) -> Res<()> {
    let rules = Rules::builtin();
    let prefix = format!("BENCH-{seed}-");
    let mut mine: Vec<(SealRecord, PackSealRecord)> = Vec::new();
    for s in rm.seals(AsOf::Head)? {
        let ours = s.seal_id.as_ref().is_some_and(|i| i.starts_with(&prefix));
        if let (true, Some(pin)) = (ours, rm.seal_pack(s.seq, s.index)?) {
            let rec = PackSealRecord::of(&s.seal, &pin);
            mine.push((s, rec));
        }
    }
    let (mut unit_t, mut council_t) = (Vec::new(), Vec::new());
    for (s, rec) in &mine {
        let t = timed(reps, || Ok(rm.verify_pack_seal(rec, &rules)?))?;
        let (times, outcome) = (t.wall, t.last);
        assert_eq!(
            outcome.name(),
            "matches",
            "seal {:?} re-derives bit for bit",
            s.seal_id
        );
        match rec.unit {
            Some(_) => unit_t.extend(times),
            None => council_t.extend(times),
        }
    }
    unit_t.sort();
    council_t.sort();
    let at = mine.first().map_or(0, |(_, r)| r.as_of);
    let t = Instant::now();
    integrity::chain_root_at(log, at).await?;
    let root = t.elapsed();
    println!();
    println!(
        "{} pack seals verified (every one matches); load average {}",
        mine.len(),
        load_average()
    );
    println!();
    println!("| seal verification (re-derive + compare bit for bit) | n | p50 | p99 |");
    println!("|---|---|---|---|");
    for (label, v) in [
        ("unit pack seal", &unit_t),
        ("council-wide pack seal", &council_t),
    ] {
        println!(
            "| {label} | {} | {} | {} |",
            v.len(),
            ms(pct(v, 50)),
            ms(pct(v, 99))
        );
    }
    println!(
        "| chain root at the seals' position {at} (one pass: `verify` computes every pack seal's root and the head's together) | 1 | {} | |",
        ms(root)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Res<()> {
    let seed: u64 = arg("--seed").and_then(|s| s.parse().ok()).unwrap_or(42);
    let reps: usize = arg("--reps").and_then(|s| s.parse().ok()).unwrap_or(20);
    let tmp = tempfile::tempdir()?;
    let base = arg("--dir")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let shape = Shape::large();
    println!(
        "pack_bench: seed {seed}, shape {shape:?}; load average {}",
        load_average()
    );

    let t = Instant::now();
    let log = Arc::new(EmbeddedLog::open(base.join("log")).await?);
    let events = generate_embedded(&log, shape.clone(), seed).await?;
    let head = log.head().await?;
    println!(
        "generated: {head} records ({events} events) in {:.1?}",
        t.elapsed()
    );

    let t = Instant::now();
    // `--cache-mb`: sled's page cache (the read model's default otherwise).
    let cache_mb: u64 = arg("--cache-mb")
        .and_then(|v| v.parse().ok())
        .unwrap_or(perfledger_readmodel::CACHE_BYTES >> 20);
    let rm = ReadModel::open_with_cache(base.join("readmodel"), &tenant(), cache_mb << 20)?;
    Projector::new(&rm).catch_up(&*log, &mut |_| {}).await?;
    println!("read model built in {:.1?}", t.elapsed());

    packs(&rm, &shape, reps)?;
    scattered(&rm, &shape, seed, reps * 2)?;

    let service = Service::new(Ledger::new(log.clone(), "pl"));
    let sealing = seal_packs(&service, &rm, &shape, seed).await?;
    println!();
    println!("sealing (pack built, chain root, seal appended, per seal): {sealing:.1?} in all");
    verify_seals(&log, &rm, seed, (reps / 4).max(3)).await
}
