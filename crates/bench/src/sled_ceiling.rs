//! sled's ceiling for a read model's keys (`readmodel_bench`): bulk writes
//! into a fresh sled with the read model's configuration
//! ([`perfledger_readmodel::sled_config`]), timing only what sled does:
//! (a) the final keys and values of a rebuilt read model, the floor of any
//! rebuild producing it; (b) the projector's own write stream, recorded
//! through [`perfledger_readmodel::Projector::with_write_tap`] and replayed
//! call for call (the same batches, plain inserts and flushes), with no
//! projection work, a commit's plain inserts on one thread or spread over
//! several (sled takes concurrent inserts); (c) the floor of a rebuild
//! whose projection cost nothing: (b) on two threads while the log is read
//! as a rebuild must read it, on the same cores. (a) writes in batches:
//! for keys in order into a fresh tree they beat plain inserts (1M:
//! 1.15-1.22 s against 1.38-1.50 s). The stream is loaded into memory
//! before (b) and (c) start, so neither pays for reading it.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use perfledger_readmodel::{SledWrite, WriteTap, CACHE_BYTES, TREE, WRITE_CHUNK};

type BoxError = Box<dyn std::error::Error>;

/// A fresh sled at `path` (anything there first removed) configured
/// as a read model is, and its read-model tree.
fn fresh(path: &Path) -> Result<(sled::Db, sled::Tree), BoxError> {
    if path.exists() {
        std::fs::remove_dir_all(path)?;
    }
    let db = perfledger_readmodel::sled_config(path, CACHE_BYTES, false).open()?;
    let tree = db.open_tree(TREE)?;
    Ok((db, tree))
}

/// Apply `writes` as one batch, timed (building the batch included, as
/// the projector pays it too).
fn apply(
    tree: &sled::Tree,
    writes: &[(Vec<u8>, Vec<u8>)],
    remove_chain: bool,
) -> Result<Duration, BoxError> {
    let t = Instant::now();
    let mut batch = sled::Batch::default();
    if remove_chain {
        // The read model's chain-root key (`keys::META_CHAIN`).
        batch.remove(&b"mchain"[..]);
    }
    for (k, v) in writes {
        batch.insert(k.as_slice(), v.as_slice());
    }
    tree.apply_batch(batch)?;
    Ok(t.elapsed())
}

/// Insert `writes` one at a time, in order, timed.
fn insert_each(tree: &sled::Tree, writes: &[(Vec<u8>, Vec<u8>)]) -> Result<Duration, BoxError> {
    let t = Instant::now();
    for (k, v) in writes {
        tree.insert(k.as_slice(), v.as_slice())?;
    }
    Ok(t.elapsed())
}

/// Child mode (a): every key and value of `dir/readmodel`, in key
/// order, in batches of the projector's chunk size, into a fresh sled
/// at `dir/ceiling-final`, then a flush. Prints `ceiling <ms> <keys> <bytes>`.
pub fn final_keys(dir: &Path) -> Result<(), BoxError> {
    let src = perfledger_readmodel::sled_config(&dir.join("readmodel"), CACHE_BYTES, false)
        .open()?
        .open_tree(TREE)?;
    let (db, tree) = fresh(&dir.join("ceiling-final"))?;
    let (mut spent, mut keys, mut bytes) = (Duration::ZERO, 0usize, 0usize);
    let mut chunk = Vec::with_capacity(WRITE_CHUNK);
    let mut it = src.iter();
    loop {
        // Reading the source is not timed.
        chunk.clear();
        for r in it.by_ref().take(WRITE_CHUNK) {
            let (k, v) = r?;
            chunk.push((k.to_vec(), v.to_vec()));
        }
        if chunk.is_empty() {
            break;
        }
        keys += chunk.len();
        bytes += chunk.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        spent += apply(&tree, &chunk, false)?;
    }
    let t = Instant::now();
    db.flush()?;
    spent += t.elapsed();
    println!("ceiling {} {keys} {bytes}", spent.as_millis());
    drop(db);
    std::fs::remove_dir_all(dir.join("ceiling-final"))?;
    Ok(())
}

/// Writes the projector's write stream to a file: per step a tag byte,
/// 0 = batch (then remove-chain byte, count, and length-prefixed keys
/// and values), 1 = flush, 2 = plain inserts (count, keys and values as
/// for a batch); integers little-endian u32.
pub struct StreamRecorder {
    out: Arc<Mutex<(BufWriter<std::fs::File>, Option<std::io::Error>)>>,
}

impl StreamRecorder {
    /// A recorder writing to a new file at `path`.
    pub fn create(path: &Path) -> Result<Self, BoxError> {
        let f = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        Ok(StreamRecorder {
            out: Arc::new(Mutex::new((f, None))),
        })
    }

    /// The tap to hand to the projector.
    pub fn tap(&self) -> WriteTap {
        let out = self.out.clone();
        Arc::new(Mutex::new(move |w: SledWrite<'_>| {
            let mut guard = out.lock().expect("the recorder is used by one thread");
            let (f, failed) = &mut *guard;
            if failed.is_none() {
                if let Err(e) = record(f, w) {
                    *failed = Some(e);
                }
            }
        }))
    }

    /// Flush the file; the first write error, if any.
    pub fn finish(self) -> Result<(), BoxError> {
        let mut guard = self.out.lock().expect("the recorder is used by one thread");
        let (f, failed) = &mut *guard;
        if let Some(e) = failed.take() {
            return Err(e.into());
        }
        f.flush()?;
        Ok(())
    }
}

fn len32(n: usize) -> std::io::Result<[u8; 4]> {
    u32::try_from(n)
        .map(u32::to_le_bytes)
        .map_err(|_| std::io::Error::other("a write larger than 4 GB"))
}

fn record(f: &mut impl Write, w: SledWrite<'_>) -> std::io::Result<()> {
    match w {
        SledWrite::Flush => f.write_all(&[1]),
        SledWrite::Inserts { writes } => {
            f.write_all(&[2])?;
            write_pairs(f, writes)
        }
        SledWrite::Batch {
            writes,
            remove_chain,
        } => {
            f.write_all(&[0, u8::from(remove_chain)])?;
            write_pairs(f, writes)
        }
    }
}

fn write_pairs(f: &mut impl Write, writes: &[(&[u8], &[u8])]) -> std::io::Result<()> {
    f.write_all(&len32(writes.len())?)?;
    for (k, v) in writes {
        f.write_all(&len32(k.len())?)?;
        f.write_all(k)?;
        f.write_all(&len32(v.len())?)?;
        f.write_all(v)?;
    }
    Ok(())
}

fn read32(r: &mut impl Read) -> std::io::Result<usize> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b) as usize)
}

fn read_bytes(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut v = vec![0u8; read32(r)?];
    r.read_exact(&mut v)?;
    Ok(v)
}

/// One step of a recorded write stream.
enum Step {
    /// `db.flush()`.
    Flush,
    /// A commit's plain inserts, one chunk each (any order, any thread).
    Inserts(Vec<(Vec<u8>, Vec<u8>)>),
    /// A commit's atomic batch, applied once its inserts have landed.
    Batch {
        writes: Vec<(Vec<u8>, Vec<u8>)>,
        remove_chain: bool,
    },
}

/// The recorded stream `dir/stream.bin`, whole, in memory: a replay then
/// spends its time in sled alone, and a replay beside other work
/// ([`floor`]) competes for the cores with sled's work only.
fn load_stream(dir: &Path) -> Result<Vec<Step>, BoxError> {
    let mut r = BufReader::with_capacity(1 << 20, std::fs::File::open(dir.join("stream.bin"))?);
    let mut steps = Vec::new();
    loop {
        let mut tag = [0u8; 1];
        match r.read_exact(&mut tag) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        }
        if tag[0] == 1 {
            steps.push(Step::Flush);
            continue;
        }
        let mut remove = [0u8; 1];
        if tag[0] == 0 {
            r.read_exact(&mut remove)?;
        }
        let mut writes = Vec::with_capacity(WRITE_CHUNK);
        for _ in 0..read32(&mut r)? {
            let k = read_bytes(&mut r)?;
            let v = read_bytes(&mut r)?;
            writes.push((k, v));
        }
        steps.push(match tag[0] {
            0 => Step::Batch {
                writes,
                remove_chain: remove[0] == 1,
            },
            2 => Step::Inserts(writes),
            other => return Err(format!("stream.bin: unknown step tag {other}").into()),
        });
    }
    Ok(steps)
}

/// What a replay did: the time spent in sled, batches (plain-insert chunks
/// and atomic batches) and bytes written.
struct Replayed {
    spent: Duration,
    batches: usize,
    bytes: usize,
}

/// Replay `steps` into `db`'s read-model tree, call for call, a commit's
/// plain inserts spread over `threads` threads (sled takes concurrent
/// inserts; a commit's keys are distinct, and its atomic batch, the
/// checkpoint last, is applied once they have all landed, as the projector
/// does). One thread replays in the recorded order.
fn replay(
    db: &sled::Db,
    tree: &sled::Tree,
    steps: &[Step],
    threads: usize,
) -> Result<Replayed, BoxError> {
    assert!(threads >= 1, "a replay needs a thread");
    let mut done = Replayed {
        spent: Duration::ZERO,
        batches: 0,
        bytes: 0,
    };
    let size = |writes: &[(Vec<u8>, Vec<u8>)]| {
        writes.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
    };
    // The plain-insert chunks of the commit being replayed.
    let mut pending: Vec<&[(Vec<u8>, Vec<u8>)]> = Vec::new();
    for step in steps {
        match step {
            Step::Flush => {
                let t = Instant::now();
                db.flush()?;
                done.spent += t.elapsed();
            }
            Step::Inserts(writes) => {
                done.batches += 1;
                done.bytes += size(writes);
                pending.push(writes);
            }
            Step::Batch {
                writes,
                remove_chain,
            } => {
                done.batches += 1;
                done.bytes += size(writes);
                done.spent += insert_spread(tree, &pending, threads)?;
                pending.clear();
                done.spent += apply(tree, writes, *remove_chain)?;
            }
        }
    }
    assert!(pending.is_empty(), "the stream ends with a commit's batch");
    Ok(done)
}

/// Child mode (b): replay the recorded stream `dir/stream.bin` (loaded
/// first, not timed) into a fresh sled at `dir/ceiling-stream` on
/// `threads` inserting threads (a commit's plain inserts spread over
/// them, its batch after). Prints `ceiling <ms> <batches> <bytes> <cpu
/// ms>`.
pub fn replay_stream(dir: &Path, threads: usize) -> Result<(), BoxError> {
    let steps = load_stream(dir)?;
    let (db, tree) = fresh(&dir.join("ceiling-stream"))?;
    // CPU of every thread (sled's IO threads too).
    let cpu = crate::process_cpu();
    let done = replay(&db, &tree, &steps, threads)?;
    let cpu = crate::process_cpu().saturating_sub(cpu);
    println!(
        "ceiling {} {} {} {}",
        done.spent.as_millis(),
        done.batches,
        done.bytes,
        cpu.as_millis()
    );
    drop(db);
    std::fs::remove_dir_all(dir.join("ceiling-stream"))?;
    Ok(())
}

/// Child mode (c), the floor of a rebuild with a projection that costs
/// nothing: ceiling (b) on `threads` inserting threads while, at the same
/// time and on the same cores, the log `dir/log` is read as a rebuild must
/// read it (every record's frame checked, its leaf hash and the hash
/// chain checked, every commit decoded into events) and nothing is done
/// with the events. Prints `floor <ms> <replay ms> <read ms> <cpu ms>`:
/// the time until both are done, each one's own, and the process's CPU.
pub async fn floor(dir: &Path, threads: usize) -> Result<(), BoxError> {
    use futures::StreamExt;
    use perfledger_log::integrity::{ChainCheck, Hashed};
    use perfledger_log::{EventLog, Until};

    let steps = load_stream(dir)?;
    let log = perfledger_log::EmbeddedLog::open(dir.join("log")).await?;
    let (db, tree) = fresh(&dir.join("ceiling-floor"))?;
    let (t, cpu) = (Instant::now(), crate::process_cpu());
    let replaying = std::thread::spawn(move || {
        let done = replay(&db, &tree, &steps, threads).map_err(|e| e.to_string());
        (done, t.elapsed(), db)
    });
    let mut chain = ChainCheck::new();
    let mut events = 0usize;
    let mut records = log.read(1, Until::Head);
    while let Some(rec) = records.next().await {
        let rec = rec?;
        chain
            .push_hashed(&Hashed::of(&rec))
            .map_err(|(seq, problem)| format!("chain broken at {seq}: {problem}"))?;
        if !rec.subject.is_checkpoint() {
            events += perfledger_domain::decode_commit(&rec.payload)?.len();
        }
    }
    assert!(events > 0, "the log holds events");
    let read = t.elapsed();
    let (done, replay_time, db) = replaying.join().expect("the replay does not panic");
    done?;
    let replayed = (replay_time, read);
    let (all, cpu) = (t.elapsed(), crate::process_cpu().saturating_sub(cpu));
    println!(
        "floor {} {} {} {}",
        all.as_millis(),
        replayed.0.as_millis(),
        replayed.1.as_millis(),
        cpu.as_millis()
    );
    drop(db);
    std::fs::remove_dir_all(dir.join("ceiling-floor"))?;
    Ok(())
}

/// Insert a commit's plain-insert chunks on `threads` threads (each takes
/// the next chunk not yet taken; one thread inserts them in order), timed.
fn insert_spread(
    tree: &sled::Tree,
    chunks: &[&[(Vec<u8>, Vec<u8>)]],
    threads: usize,
) -> Result<Duration, BoxError> {
    let t = Instant::now();
    if threads == 1 {
        for c in chunks {
            insert_each(tree, c)?;
        }
        return Ok(t.elapsed());
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed: Mutex<Option<sled::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(c) =
                    chunks.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    for (k, v) in c.iter() {
                        if let Err(e) = tree.insert(k.as_slice(), v.as_slice()) {
                            *failed.lock().expect("no panic holds it") = Some(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    match failed.into_inner().expect("no panic held it") {
        Some(e) => Err(e.into()),
        None => Ok(t.elapsed()),
    }
}
