//! Reading an incremental checkpoint: its chunks in order, each checked
//! against its hash before any of its bytes are handed on, so a damaged
//! chunk is named and never decoded.

use std::io::{self, Read};
use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use super::manifest::{self, Blob, Manifest};
use crate::format::{self, Header, PREFIX_LEN};
use crate::store::{Store, StoreError, ValueReader};
use crate::{Error, Result};

/// A chunk that is not what its manifest says: missing, of another
/// length, or with bytes that do not hash to its name.
#[derive(Debug, Clone, thiserror::Error)]
#[error("chunk `{chunk}` {reason}")]
pub(crate) struct ChunkDamage {
    /// Where the chunk lives.
    pub chunk: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Why a chunk could not be read.
#[derive(Debug)]
pub(crate) enum ChunkFailure {
    /// The chunk is damaged or missing: every checkpoint listing it is.
    Damaged(ChunkDamage),
    /// The store failed; the chunk may be intact.
    Store(StoreError),
}

/// Chunks that lie one after another in one blob, read with one request.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    blob: Blob,
    /// The first byte and the length of the chunks in the blob.
    start: u64,
    len: usize,
    /// The chunks, as indices into the manifest's list.
    chunks: Range<usize>,
}

/// The most bytes a run of packed chunks spans: what one request reads.
const MAX_RUN: usize = 1 << 20;
/// The most bytes of runs the threads of one [`ChunkReader`] hold at once.
const MAX_HELD: usize = 32 << 20;

/// `manifest`'s chunks in runs: neighbours in one pack, up to [`MAX_RUN`]
/// bytes, are read together.
pub(crate) fn runs(manifest: &Manifest) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (i, placed) in manifest.chunks.iter().enumerate() {
        let blob = *manifest.blob_of(placed);
        let len = placed.chunk.len as usize;
        if let Some(run) = runs.last_mut() {
            if blob.packed
                && run.blob == blob
                && run.start + run.len as u64 == u64::from(placed.offset)
                && run.len + len <= MAX_RUN
            {
                run.len += len;
                run.chunks.end = i + 1;
                continue;
            }
        }
        runs.push(Run {
            blob,
            start: u64::from(placed.offset),
            len,
            chunks: i..i + 1,
        });
    }
    runs
}

/// The bytes of the chunks of `run`, each checked against its length and
/// hash.
pub(crate) fn fetch(
    store: &dyn Store,
    manifest: &Manifest,
    run: &Run,
) -> Result<Arc<Vec<u8>>, ChunkFailure> {
    let key = run.blob.key();
    let damaged = |reason: String| {
        ChunkFailure::Damaged(ChunkDamage {
            chunk: store.location(&key),
            reason,
        })
    };
    let chunks = &manifest.chunks[run.chunks.clone()];
    let bytes = if run.blob.packed {
        match store.get_range(&key, run.start, run.len) {
            Ok(Some(bytes)) if bytes.len() < run.len => {
                let end = run.start + bytes.len() as u64;
                return Err(damaged(format!(
                    "ends at byte {end}, before the chunks it holds at bytes {}..{} do",
                    run.start,
                    run.start + run.len as u64
                )));
            }
            Ok(Some(bytes)) => Arc::new(bytes),
            Ok(None) => return Err(damaged("is missing".to_owned())),
            Err(StoreError::Unreadable { reason, .. }) => {
                return Err(damaged(format!("cannot be read: {reason}")))
            }
            Err(e) => return Err(ChunkFailure::Store(e)),
        }
    } else {
        let wrong_len = |len: u64| damaged(format!("is {len} bytes long, not {}", run.len));
        match store.get_at_most(&key, run.len as u64) {
            Ok(Some(bytes)) if bytes.len() != run.len => return Err(wrong_len(bytes.len() as u64)),
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Err(damaged("is missing".to_owned())),
            Err(StoreError::TooLarge { len, .. }) => return Err(wrong_len(len)),
            Err(StoreError::Unreadable { reason, .. }) => {
                return Err(damaged(format!("cannot be read: {reason}")))
            }
            Err(e) => return Err(ChunkFailure::Store(e)),
        }
    };
    let mut at = 0;
    for placed in chunks {
        let len = placed.chunk.len as usize;
        if *blake3::hash(&bytes[at..at + len]).as_bytes() != placed.chunk.hash {
            return Err(damaged(if run.blob.packed {
                format!(
                    "holds chunk {} at bytes {}..{}, which does not hash to its name: its \
                     bytes were changed",
                    placed.chunk.hex(),
                    placed.offset,
                    u64::from(placed.offset) + len as u64
                )
            } else {
                "does not hash to its name: its bytes were changed".to_owned()
            }));
        }
        at += len;
    }
    Ok(bytes)
}

/// The bytes of chunk `index` of `manifest` alone, checked.
pub(crate) fn fetch_chunk(
    store: &dyn Store,
    manifest: &Manifest,
    index: usize,
) -> Result<Arc<Vec<u8>>, ChunkFailure> {
    let placed = &manifest.chunks[index];
    let run = Run {
        blob: *manifest.blob_of(placed),
        start: u64::from(placed.offset),
        len: placed.chunk.len as usize,
        chunks: index..index + 1,
    };
    fetch(store, manifest, &run)
}

/// The most threads fetching one checkpoint's chunks, whatever the store
/// asks for.
const MAX_FETCHERS: usize = 64;

/// The bytes of a checkpoint, read from its chunks in order. Threads (as
/// many as the store's [`concurrent_requests`](Store::concurrent_requests),
/// fewer when runs are long) fetch and check the next runs of chunks while
/// the current one is decoded (fetcher `k` of `n` takes runs `k`, `k + n`,
/// ...), so a restore is not held up by one request's latency (an object
/// store's round trip); at most two runs per fetcher wait in memory.
pub(crate) struct ChunkReader {
    fetched: Vec<Receiver<Result<Arc<Vec<u8>>, ChunkFailure>>>,
    /// How many runs were received, of how many.
    next: usize,
    total: usize,
    current: Arc<Vec<u8>>,
    pos: usize,
    /// A damaged chunk, or the store's failure, is reported again on every
    /// later read: never as an early end.
    damaged: Option<ChunkDamage>,
    failed: Option<Arc<StoreError>>,
}

impl ChunkReader {
    pub(crate) fn new(store: Arc<dyn Store>, manifest: Manifest) -> Self {
        let runs: Arc<[Run]> = runs(&manifest).into();
        let total = runs.len();
        let longest = runs.iter().map(|run| run.len).max().unwrap_or(1);
        let fetchers = store
            .concurrent_requests()
            .clamp(1, MAX_FETCHERS)
            .min((MAX_HELD / (2 * longest)).max(1));
        let manifest = Arc::new(manifest);
        let fetched = (0..fetchers.min(total))
            .map(|k| {
                let (send, fetched) = sync_channel(1);
                let (store, runs, manifest) =
                    (Arc::clone(&store), Arc::clone(&runs), Arc::clone(&manifest));
                std::thread::spawn(move || {
                    for run in runs.iter().skip(k).step_by(fetchers) {
                        let result = fetch(&*store, &manifest, run);
                        let failed = result.is_err();
                        // The reader was dropped, or reads no further.
                        if send.send(result).is_err() || failed {
                            return;
                        }
                    }
                });
                fetched
            })
            .collect();
        ChunkReader {
            fetched,
            next: 0,
            total,
            current: Arc::new(Vec::new()),
            pos: 0,
            damaged: None,
            failed: None,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(damage) = &self.damaged {
            return Err(io::Error::new(io::ErrorKind::InvalidData, damage.clone()));
        }
        if let Some(failed) = &self.failed {
            return Err(io::Error::other(Arc::clone(failed)));
        }
        while self.pos == self.current.len() {
            if self.next == self.total {
                return Ok(0);
            }
            let Ok(fetched) = self.fetched[self.next % self.fetched.len()].recv() else {
                return Err(io::Error::other("the thread reading chunks stopped"));
            };
            self.next += 1;
            match fetched {
                Ok(bytes) => {
                    self.current = bytes;
                    self.pos = 0;
                }
                Err(ChunkFailure::Damaged(damage)) => {
                    self.damaged = Some(damage.clone());
                    return Err(io::Error::new(io::ErrorKind::InvalidData, damage));
                }
                Err(ChunkFailure::Store(e)) => {
                    let failed = Arc::new(e);
                    self.failed = Some(Arc::clone(&failed));
                    return Err(io::Error::other(failed));
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The manifest stored at `key`, when the value there is one; `Ok(None)`
/// when it is not a manifest or is absent.
///
/// # Errors
///
/// Damage to the manifest, or [`Error::Store`].
pub(crate) fn read_manifest(
    store: &dyn Store,
    key: &str,
    seq: u64,
    location: &str,
) -> Result<Option<Manifest>> {
    let Some(mut value) = store.get_reader(key)? else {
        return Ok(None);
    };
    let head = read_head(&mut value, location)?;
    if !manifest::is_manifest(&head) {
        return Ok(None);
    }
    manifest_of(head, value, seq, location).map(Some)
}

fn read_head(value: &mut ValueReader, location: &str) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(PREFIX_LEN);
    value
        .take(PREFIX_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| read_error(location, e))?;
    Ok(head)
}

/// Reads the rest of a manifest whose first bytes are `head`.
fn manifest_of(
    mut head: Vec<u8>,
    value: ValueReader,
    seq: u64,
    location: &str,
) -> Result<Manifest> {
    let len = value.len();
    match manifest::declared_len(&head) {
        Some(total) if len > total => {
            return Err(Error::Malformed {
                seq,
                location: location.to_owned(),
                reason: format!("it is {len} bytes long but its manifest header says {total}"),
            })
        }
        Some(_) => {
            value
                .take(len)
                .read_to_end(&mut head)
                .map_err(|e| read_error(location, e))?;
        }
        // Too short to say, or declaring too much: decoding says which.
        None => {}
    }
    Manifest::decode(&head, seq, location)
}

/// The value of checkpoint `key` as a reader of the checkpoint's bytes:
/// the stored value itself, or, when it is a manifest, its chunks in order.
/// `None` when the key does not exist.
///
/// # Errors
///
/// Damage to a manifest, or [`Error::Store`].
pub(crate) fn checkpoint_reader(
    store: &Arc<dyn Store>,
    key: &str,
    seq: u64,
    location: &str,
) -> Result<Option<ValueReader>> {
    let Some(value) = store.get_reader(key)? else {
        return Ok(None);
    };
    checkpoint_value(store, value, seq, location).map(Some)
}

/// The checkpoint's bytes in `value`, read from `store` as checkpoint
/// `seq` at `location`: `value` itself, or, when it is a manifest, its
/// chunks in order.
///
/// # Errors
///
/// Damage to a manifest, or [`Error::Store`].
pub(crate) fn checkpoint_value(
    store: &Arc<dyn Store>,
    mut value: ValueReader,
    seq: u64,
    location: &str,
) -> Result<ValueReader> {
    // A value in memory stays there, to be decoded in place.
    if let Some(bytes) = value.in_memory() {
        if !manifest::is_manifest(&bytes[..bytes.len().min(PREFIX_LEN)]) {
            return Ok(value);
        }
    }
    let head = read_head(&mut value, location)?;
    if !manifest::is_manifest(&head) {
        let len = value.len();
        return Ok(ValueReader::new(len, io::Cursor::new(head).chain(value)));
    }
    let manifest = manifest_of(head, value, seq, location)?;
    let total = manifest.total_len;
    Ok(ValueReader::new(
        total,
        ChunkReader::new(Arc::clone(store), manifest),
    ))
}

/// The whole checkpoint `manifest` stands for, read from its chunks in
/// memory, each checked against its hash: for a caller that holds the
/// checkpoint whole anyway (a group part checked before its commit).
///
/// # Errors
///
/// [`Error::DamagedChunk`] naming a missing or damaged chunk, or
/// [`Error::Store`].
pub(crate) fn assemble(
    store: &Arc<dyn Store>,
    manifest: Manifest,
    seq: u64,
    location: &str,
) -> Result<Vec<u8>> {
    // Grown as chunks arrive past this: the length is the manifest's word.
    let mut out = Vec::with_capacity(manifest.total_len.min(64 << 20) as usize);
    ChunkReader::new(Arc::clone(store), manifest)
        .read_to_end(&mut out)
        .map_err(|e| damage_in(read_error(location, e), seq, location))?;
    Ok(out)
}

/// The header of the checkpoint a manifest stands for, read from its
/// first chunks.
///
/// # Errors
///
/// Damage to the manifest, its chunks or the header, or [`Error::Store`].
pub(crate) fn header_of(
    store: &Arc<dyn Store>,
    key: &str,
    seq: u64,
    location: &str,
) -> Result<Option<Header>> {
    let Some(mut value) = checkpoint_reader(store, key, seq, location)? else {
        return Ok(None);
    };
    let result = (|| {
        let mut head = read_head(&mut value, location)?;
        if let Some(need) = format::header_section_len(&head) {
            (&mut value)
                .take((need - head.len().min(need)) as u64)
                .read_to_end(&mut head)
                .map_err(|e| read_error(location, e))?;
        }
        format::decode_header(&head, seq, location)
    })();
    result.map(Some).map_err(|e| damage_in(e, seq, location))
}

fn read_error(location: &str, e: io::Error) -> Error {
    Error::Store(StoreError::io("read", location.to_owned(), e))
}

/// `error`, or the chunk damage that caused it: reading a checkpoint's
/// chunks reports damage as a read error, which this names as what it is.
pub(crate) fn damage_in(error: Error, seq: u64, location: &str) -> Error {
    match chunk_damage_of(&error) {
        Some(damage) => Error::DamagedChunk {
            seq,
            location: location.to_owned(),
            chunk: damage.chunk.clone(),
            reason: damage.reason.clone(),
        },
        None => error,
    }
}

/// The chunk damage somewhere in `error`'s chain of sources.
fn chunk_damage_of(error: &Error) -> Option<&ChunkDamage> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        let found = e.downcast_ref::<ChunkDamage>().or_else(|| {
            e.downcast_ref::<io::Error>()
                .and_then(io::Error::get_ref)
                .and_then(|inner| inner.downcast_ref::<ChunkDamage>())
        });
        if found.is_some() {
            return found;
        }
        cause = e.source();
    }
    None
}
