//! What [`inspect`](super) shows of an incremental checkpoint: its
//! manifest's chunks, which of them are damaged, and the checkpoint they
//! make up, inspected like any other.

use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::Arc;

use super::scan::Progress;
use super::Inspection;
use crate::incremental::manifest::{Manifest, MAX_MANIFEST_LEN};
use crate::incremental::reader::{fetch_chunk, ChunkDamage, ChunkFailure};
use crate::store::Store;
use crate::Error;

/// The chunks of an incremental checkpoint (format version 5 or 6), as its
/// manifest lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Chunks {
    /// The manifest's own length in bytes.
    pub manifest_len: u64,
    /// The manifest's format version: 6, whose chunks may be packed, or
    /// 5, whose chunks are each stored alone.
    pub manifest_version: u16,
    /// The chunks, in the order their bytes make up the checkpoint.
    pub chunks: Vec<Chunk>,
    /// The chunks found missing or damaged, each once. Inspecting a whole
    /// checkpoint checks every chunk; inspecting its header only the first.
    pub damaged: Vec<DamagedChunk>,
}

/// One chunk a manifest lists.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Chunk {
    /// The BLAKE3 hash of its bytes, in hex: what it is.
    pub hash: String,
    /// The key of the value in the store that holds it: the chunk alone,
    /// `chunks/<2 hex>/<its hash>`, or a pack of chunks,
    /// `chunks/<2 hex>/<the pack's hash>.pack`.
    pub key: String,
    /// Where its bytes start in that value.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
}

/// A chunk that is missing, of the wrong length, or whose bytes do not hash
/// to its name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DamagedChunk {
    /// Where it lives.
    pub location: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Chunks {
    /// How many of this checkpoint's distinct chunks `other` lists too.
    pub fn shared_with(&self, other: &Chunks) -> usize {
        let theirs: HashSet<&str> = other.chunks.iter().map(|c| c.hash.as_str()).collect();
        self.distinct()
            .filter(|c| theirs.contains(c.hash.as_str()))
            .count()
    }

    /// The bytes of this checkpoint's distinct chunks that `other` does not
    /// list: what storing it added to a store holding `other`.
    pub fn bytes_not_in(&self, other: &Chunks) -> u64 {
        let theirs: HashSet<&str> = other.chunks.iter().map(|c| c.hash.as_str()).collect();
        self.distinct()
            .filter(|c| !theirs.contains(c.hash.as_str()))
            .map(|c| c.len)
            .sum()
    }

    /// The bytes of its distinct chunks and its manifest: what it takes in
    /// a store holding nothing else.
    pub fn stored_len(&self) -> u64 {
        self.manifest_len + self.distinct().map(|c| c.len).sum::<u64>()
    }

    fn distinct(&self) -> impl Iterator<Item = &Chunk> {
        let mut seen = HashSet::new();
        self.chunks.iter().filter(move |c| seen.insert(&c.hash))
    }
}

/// Inspects the manifest whose first bytes are `head` and whose others
/// `rest` reads, and the checkpoint its chunks in `store` make up.
/// `inspection.len` is the manifest's stored length.
pub(crate) fn scan_manifest(
    store: &dyn Store,
    mut inspection: Inspection,
    mut head: Vec<u8>,
    rest: impl Read,
    body: bool,
    progress: Progress<'_>,
) -> io::Result<Inspection> {
    let (seq, location) = (inspection.seq, inspection.location.clone());
    let stored = inspection.len;
    if stored > MAX_MANIFEST_LEN {
        inspection.problem = Some(Error::Malformed {
            seq,
            location,
            reason: format!("it is a manifest of {stored} bytes, more than 256 MiB"),
        });
        return Ok(inspection);
    }
    rest.take(stored).read_to_end(&mut head)?;
    let manifest = match Manifest::decode(&head, seq, &location) {
        Ok(manifest) => manifest,
        Err(e) => {
            inspection.problem = Some(e);
            return Ok(inspection);
        }
    };
    let mut chunks = Chunks {
        manifest_len: stored,
        manifest_version: u16::from_le_bytes([head[8], head[9]]),
        chunks: manifest
            .chunks
            .iter()
            .map(|c| Chunk {
                hash: c.chunk.hex(),
                key: manifest.blob_of(c).key(),
                offset: u64::from(c.offset),
                len: u64::from(c.chunk.len),
            })
            .collect(),
        damaged: Vec::new(),
    };
    let total = manifest.total_len;
    let mut lenient = Lenient {
        inner: InOrder {
            store,
            manifest: &manifest,
            next: 0,
            current: Arc::new(Vec::new()),
            pos: 0,
        },
        failure: None,
    };
    let mut inspection =
        crate::inspect::scan::scan(&mut lenient, total, inspection, body, progress)?;
    let mut damaged: Vec<ChunkDamage> = Vec::new();
    match lenient.failure {
        None => {}
        Some(e) => match e.get_ref().and_then(|e| e.downcast_ref::<ChunkDamage>()) {
            Some(damage) => damaged.push(damage.clone()),
            None => return Err(e),
        },
    }
    if body {
        for index in lenient.inner.next..manifest.chunks.len() {
            match fetch_chunk(store, &manifest, index) {
                Ok(_) => {}
                Err(ChunkFailure::Damaged(damage)) => damaged.push(damage),
                Err(ChunkFailure::Store(e)) => return Err(io::Error::other(e)),
            }
        }
    }
    let mut seen = HashSet::new();
    damaged.retain(|d| seen.insert(d.chunk.clone()));
    if let Some(first) = damaged.first() {
        inspection.problem = Some(Error::DamagedChunk {
            seq,
            location,
            chunk: first.chunk.clone(),
            reason: first.reason.clone(),
        });
    }
    chunks.damaged = damaged
        .into_iter()
        .map(|d| DamagedChunk {
            location: d.chunk,
            reason: d.reason,
        })
        .collect();
    inspection.chunks = Some(chunks);
    Ok(inspection)
}

/// A checkpoint's bytes read from its chunks one after another, each
/// checked before it is handed on: for inspection, which needs no speed
/// and borrows its store.
struct InOrder<'a> {
    store: &'a dyn Store,
    manifest: &'a Manifest,
    /// How many chunks were read whole (or found damaged).
    next: usize,
    current: Arc<Vec<u8>>,
    pos: usize,
}

impl Read for InOrder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.next == self.manifest.chunks.len() {
                return Ok(0);
            }
            self.next += 1;
            self.current = match fetch_chunk(self.store, self.manifest, self.next - 1) {
                Ok(bytes) => bytes,
                Err(ChunkFailure::Damaged(damage)) => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, damage))
                }
                Err(ChunkFailure::Store(e)) => return Err(io::Error::other(e)),
            };
            self.pos = 0;
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A reader that ends where its inner reader fails, keeping the failure:
/// the checkpoint before a damaged chunk is still inspected.
struct Lenient<R> {
    inner: R,
    failure: Option<io::Error>,
}

impl<R: Read> Read for Lenient<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Ok(n) => Ok(n),
            Err(e) => {
                self.failure = Some(e);
                Ok(0)
            }
        }
    }
}
