//! sled's ceiling for a read model's keys (`readmodel_bench`): bulk writes
//! into a fresh sled with the read model's configuration
//! ([`perfledger_readmodel::sled_config`]), timing only what sled does:
//! (a) the final keys and values of a rebuilt read model, the floor of any
//! rebuild producing it; (b) the projector's own write stream, recorded
//! through [`perfledger_readmodel::Projector::with_write_tap`] and replayed
//! call for call (the same batches, plain inserts and flushes), with no
//! projection work, a commit's plain inserts on one thread or spread over
//! several (sled takes concurrent inserts). (a) writes in batches: for keys in order into a fresh
//! tree they beat plain inserts (1M: 1.15-1.22 s against 1.38-1.50 s).

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

/// Child mode (b): replay the recorded stream `dir/stream.bin` into a
/// fresh sled at `dir/ceiling-stream`, call for call, a commit's plain
/// inserts spread over `threads` threads (sled takes concurrent inserts;
/// a commit's keys are distinct, and its atomic batch, the checkpoint
/// last, is applied once they have all landed, as the projector does).
/// One thread replays in the recorded order. Prints `ceiling <ms>
/// <batches> <bytes> <cpu ms>`.
pub fn replay_stream(dir: &Path, threads: usize) -> Result<(), BoxError> {
    assert!(threads >= 1, "a replay needs a thread");
    let (db, tree) = fresh(&dir.join("ceiling-stream"))?;
    let mut r = BufReader::with_capacity(1 << 20, std::fs::File::open(dir.join("stream.bin"))?);
    let (mut spent, mut batches, mut bytes) = (Duration::ZERO, 0usize, 0usize);
    // The plain-insert chunks of the commit being read.
    let mut pending: Vec<Vec<(Vec<u8>, Vec<u8>)>> = Vec::new();
    let cpu = crate::process_cpu();
    loop {
        let mut tag = [0u8; 1];
        match r.read_exact(&mut tag) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        }
        if tag[0] == 1 {
            let t = Instant::now();
            db.flush()?;
            spent += t.elapsed();
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
            bytes += k.len() + v.len();
            writes.push((k, v));
        }
        batches += 1;
        if tag[0] == 2 {
            pending.push(writes);
            continue;
        }
        spent += insert_spread(&tree, &pending, threads)?;
        pending.clear();
        spent += apply(&tree, &writes, remove[0] == 1)?;
    }
    assert!(pending.is_empty(), "the stream ends with a commit's batch");
    // CPU of every thread (sled's IO threads too), reading the recorded
    // file included.
    let cpu = crate::process_cpu().saturating_sub(cpu);
    println!(
        "ceiling {} {batches} {bytes} {}",
        spent.as_millis(),
        cpu.as_millis()
    );
    drop(db);
    std::fs::remove_dir_all(dir.join("ceiling-stream"))?;
    Ok(())
}

/// Insert a commit's plain-insert chunks on `threads` threads (each takes
/// the next chunk not yet taken; one thread inserts them in order), timed.
fn insert_spread(
    tree: &sled::Tree,
    chunks: &[Vec<(Vec<u8>, Vec<u8>)>],
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
                    for (k, v) in c {
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
