//! Reading the log ahead of the projector, in a task of its own and at
//! most [`READ_AHEAD_RECORDS`] records ahead, so reading overlaps applying.
//! The task also computes each record's leaf hash for the chain check
//! (SHA-256 of the whole record: a twelfth of the projecting thread's time
//! in a rebuild when it was done there).

use futures::{FutureExt, StreamExt};
use perfledger_log::integrity::{leaf_hash, Hash};
use perfledger_log::{LogError, LogRecord};

const READ_AHEAD_RECORDS: usize = 16_384;

/// A record and its [`leaf_hash`].
pub(super) type Leafed = (LogRecord, Hash);

/// The records of `stream` with their leaf hashes, read and hashed by a
/// task of their own up to [`READ_AHEAD_RECORDS`] ahead, so that on a
/// multi-threaded runtime reading (JetStream delivery, decoding) and
/// hashing overlap applying and committing. Dropping the result stops the
/// reader.
pub(super) fn read_ahead(stream: perfledger_log::RecordStream) -> ReadAhead {
    const CHUNK: usize = 1_024;
    // Fused: `now_or_never` below may see the end, and the outer loop then
    // polls once more.
    let mut stream = stream.fuse();
    let (tx, rx) =
        tokio::sync::mpsc::channel::<Vec<Result<Leafed, LogError>>>(READ_AHEAD_RECORDS / CHUNK);
    let leafed = |item: Result<LogRecord, LogError>| {
        item.map(|rec| {
            let leaf = leaf_hash(&rec);
            (rec, leaf)
        })
    };
    let reader = tokio::spawn(async move {
        while let Some(first) = stream.next().await {
            let mut failed = first.is_err();
            let mut chunk = vec![leafed(first)];
            while !failed && chunk.len() < CHUNK {
                match stream.next().now_or_never() {
                    Some(Some(item)) => {
                        failed = item.is_err();
                        chunk.push(leafed(item));
                    }
                    _ => break,
                }
            }
            if tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    ReadAhead {
        rx,
        chunk: Vec::new().into_iter(),
        reader,
    }
}

pub(super) struct ReadAhead {
    rx: tokio::sync::mpsc::Receiver<Vec<Result<Leafed, LogError>>>,
    chunk: std::vec::IntoIter<Result<Leafed, LogError>>,
    pub(super) reader: tokio::task::JoinHandle<()>,
}

impl ReadAhead {
    pub(super) async fn next(&mut self) -> Option<Result<Leafed, LogError>> {
        loop {
            if let Some(item) = self.chunk.next() {
                return Some(item);
            }
            self.chunk = self.rx.recv().await?.into_iter();
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
