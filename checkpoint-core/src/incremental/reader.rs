//! Reading an incremental checkpoint: its chunks in order, each checked
//! against its hash before any of its bytes are handed on, so a damaged
//! chunk is named and never decoded.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use super::manifest::{self, Blob, Manifest, HASH_LEN};
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
    /// The chunks the damage takes from the checkpoint: the one whose
    /// bytes changed, or every chunk it lists in a value that is missing
    /// or cut short. A later save stores them anew ([`super::Heal`]).
    pub hashes: Vec<[u8; HASH_LEN]>,
}

/// Why a chunk could not be read.
#[derive(Debug)]
pub(crate) enum ChunkFailure {
    /// The chunk is damaged or missing: every checkpoint listing it is.
    Damaged(ChunkDamage),
    /// The store failed; the chunk may be intact.
    Store(StoreError),
}

/// A range of one blob read with one request, and the chunks it serves.
/// Its chunks are read in order but may be used between other units'
/// chunks: a unit of an old pack spans the chunks a checkpoint still lists
/// there, and the dead ones between them (up to [`MAX_GAP`] bytes each)
/// are read and skipped, which costs less than a request per stretch.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    blob: Blob,
    /// The first byte and the length of the range in the blob.
    start: u64,
    len: usize,
    /// The chunks it serves: their index in the manifest and where they
    /// start in the range.
    chunks: Vec<(usize, usize)>,
}

/// The most bytes one request reads.
const MAX_UNIT: usize = 2 << 20;
/// The most dead bytes a unit reads between two chunks it serves.
const MAX_GAP: usize = 256 << 10;
/// How many units a plan keeps open to extend at once; as many are held in
/// memory at most, beside those fetched ahead.
const MAX_OPEN: usize = 4;
/// The most bytes of units the threads of one [`ChunkReader`] hold at once.
const MAX_HELD: usize = 40 << 20;

/// How a checkpoint's chunks are read: the units, in the order the
/// reader first needs them, and for each chunk its unit and where it
/// starts there.
#[derive(Debug)]
pub(crate) struct Plan {
    units: Vec<Unit>,
    of_chunk: Vec<(usize, usize)>,
    /// For each unit, the index of the last chunk it serves.
    last_use: Vec<usize>,
}

/// Plans the reads of `manifest`'s chunks: chunks of a pack that follow
/// one another there (dead bytes of at most [`MAX_GAP`] between them) go
/// into one unit of at most [`MAX_UNIT`] bytes, even when other units'
/// chunks come between them in the checkpoint; a chunk stored alone is a
/// unit of its own.
pub(crate) fn plan(manifest: &Manifest) -> Plan {
    let mut units: Vec<Unit> = Vec::new();
    let mut of_chunk = Vec::with_capacity(manifest.chunks.len());
    // The units that may still grow, most recently used last.
    let mut open: Vec<usize> = Vec::with_capacity(MAX_OPEN + 1);
    for (i, placed) in manifest.chunks.iter().enumerate() {
        let blob = *manifest.blob_of(placed);
        let (offset, len) = (u64::from(placed.offset), placed.chunk.len as usize);
        let found = blob
            .packed
            .then(|| open.iter().position(|&u| units[u].blob == blob))
            .flatten();
        if let Some(at) = found {
            let u = open.remove(at);
            let unit = &mut units[u];
            let end = unit.start + unit.len as u64;
            let within = offset >= unit.start && offset + len as u64 <= end;
            let follows = offset >= end
                && offset - end <= MAX_GAP as u64
                && offset + len as u64 - unit.start <= MAX_UNIT as u64;
            if within || follows {
                if follows {
                    unit.len = (offset + len as u64 - unit.start) as usize;
                }
                let at_in_unit = (offset - unit.start) as usize;
                unit.chunks.push((i, at_in_unit));
                of_chunk.push((u, at_in_unit));
                open.push(u);
                continue;
            }
        }
        units.push(Unit {
            blob,
            start: offset,
            len,
            chunks: vec![(i, 0)],
        });
        of_chunk.push((units.len() - 1, 0));
        if blob.packed {
            open.push(units.len() - 1);
            if open.len() > MAX_OPEN {
                open.remove(0);
            }
        }
    }
    let mut last_use = vec![0; units.len()];
    for (i, (u, _)) in of_chunk.iter().enumerate() {
        last_use[*u] = i;
    }
    Plan {
        units,
        of_chunk,
        last_use,
    }
}

/// The bytes of `unit`, each of its chunks checked against its length and
/// hash.
pub(crate) fn fetch(
    store: &dyn Store,
    manifest: &Manifest,
    unit: &Unit,
) -> Result<Arc<Vec<u8>>, ChunkFailure> {
    let key = unit.blob.key();
    // Every chunk the manifest lists in the unit's value: a value missing
    // or cut short loses them all.
    let damaged = |reason: String| {
        ChunkFailure::Damaged(ChunkDamage {
            chunk: store.location(&key),
            reason,
            hashes: manifest
                .chunks
                .iter()
                .filter(|placed| *manifest.blob_of(placed) == unit.blob)
                .map(|placed| placed.chunk.hash)
                .collect(),
        })
    };
    let bytes = if unit.blob.packed {
        match store.get_range(&key, unit.start, unit.len) {
            Ok(Some(bytes)) if bytes.len() < unit.len => {
                let end = unit.start + bytes.len() as u64;
                return Err(damaged(format!(
                    "ends at byte {end}, before the chunks it holds at bytes {}..{} do",
                    unit.start,
                    unit.start + unit.len as u64
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
        let wrong_len = |len: u64| damaged(format!("is {len} bytes long, not {}", unit.len));
        match store.get_at_most(&key, unit.len as u64) {
            Ok(Some(bytes)) if bytes.len() != unit.len => {
                return Err(wrong_len(bytes.len() as u64))
            }
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Err(damaged("is missing".to_owned())),
            Err(StoreError::TooLarge { len, .. }) => return Err(wrong_len(len)),
            Err(StoreError::Unreadable { reason, .. }) => {
                return Err(damaged(format!("cannot be read: {reason}")))
            }
            Err(e) => return Err(ChunkFailure::Store(e)),
        }
    };
    for &(index, at) in &unit.chunks {
        let chunk = manifest.chunks[index].chunk;
        let len = chunk.len as usize;
        if *blake3::hash(&bytes[at..at + len]).as_bytes() != chunk.hash {
            let reason = if unit.blob.packed {
                let start = unit.start + at as u64;
                format!(
                    "holds chunk {} at bytes {start}..{}, which does not hash to its name: its \
                     bytes were changed",
                    chunk.hex(),
                    start + len as u64
                )
            } else {
                "does not hash to its name: its bytes were changed".to_owned()
            };
            return Err(ChunkFailure::Damaged(ChunkDamage {
                chunk: store.location(&key),
                reason,
                hashes: vec![chunk.hash],
            }));
        }
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
    let unit = Unit {
        blob: *manifest.blob_of(placed),
        start: u64::from(placed.offset),
        len: placed.chunk.len as usize,
        chunks: vec![(index, 0)],
    };
    fetch(store, manifest, &unit)
}

/// The most threads fetching one checkpoint's chunks, whatever the store
/// asks for.
const MAX_FETCHERS: usize = 64;

/// The bytes of a checkpoint, read from its chunks in order. Threads (as
/// many as the store's [`concurrent_requests`](Store::concurrent_requests),
/// fewer when units are long) fetch and check the next units while the
/// current chunks are decoded (fetcher `k` of `n` takes units `k`,
/// `k + n`, ...), so a restore is not held up by one request's latency (an
/// object store's round trip). At most two units per fetcher wait in
/// memory, and [`MAX_OPEN`] are held while their chunks are used.
pub(crate) struct ChunkReader {
    fetched: Vec<Receiver<Result<Arc<Vec<u8>>, ChunkFailure>>>,
    plan: Plan,
    manifest: Arc<Manifest>,
    /// The units received and still to be used, by index.
    held: Vec<Option<Arc<Vec<u8>>>>,
    /// How many units were received.
    received: usize,
    /// The chunk being read (`None` before the first), the unit holding
    /// it, and where its bytes are there.
    chunk: Option<usize>,
    current: Arc<Vec<u8>>,
    pos: usize,
    end: usize,
    /// A damaged chunk, or the store's failure, is reported again on every
    /// later read: never as an early end.
    damaged: Option<ChunkDamage>,
    failed: Option<Arc<StoreError>>,
}

impl ChunkReader {
    pub(crate) fn new(store: Arc<dyn Store>, manifest: Manifest) -> Self {
        let plan = plan(&manifest);
        let units: Arc<[Unit]> = plan.units.clone().into();
        let total = units.len();
        let longest = units.iter().map(|unit| unit.len).max().unwrap_or(1);
        let room = (MAX_HELD.saturating_sub(MAX_OPEN * longest) / (2 * longest)).max(1);
        let fetchers = store.concurrent_requests().clamp(1, MAX_FETCHERS).min(room);
        let manifest = Arc::new(manifest);
        let fetched = (0..fetchers.min(total))
            .map(|k| {
                let (send, fetched) = sync_channel(1);
                let (store, units, manifest) = (
                    Arc::clone(&store),
                    Arc::clone(&units),
                    Arc::clone(&manifest),
                );
                std::thread::spawn(move || {
                    for unit in units.iter().skip(k).step_by(fetchers) {
                        let result = fetch(&*store, &manifest, unit);
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
            held: vec![None; total],
            plan,
            manifest,
            received: 0,
            chunk: None,
            current: Arc::new(Vec::new()),
            pos: 0,
            end: 0,
            damaged: None,
            failed: None,
        }
    }

    /// Moves on to the next chunk, receiving its unit if it is the next
    /// one and letting go of the last chunk's once it is done with;
    /// `Ok(false)` at the end.
    fn next_chunk(&mut self) -> io::Result<bool> {
        if let Some(done) = self.chunk {
            let (u, _) = self.plan.of_chunk[done];
            if self.plan.last_use[u] == done {
                self.held[u] = None;
            }
        }
        let next = self.chunk.map_or(0, |c| c + 1);
        if next == self.plan.of_chunk.len() {
            self.current = Arc::new(Vec::new());
            self.pos = 0;
            self.end = 0;
            return Ok(false);
        }
        let (u, at) = self.plan.of_chunk[next];
        // Units are numbered in the order their first chunk comes: the one
        // a chunk needs was received, or is the next.
        while self.received <= u {
            let Ok(fetched) = self.fetched[self.received % self.fetched.len()].recv() else {
                return Err(io::Error::other("the thread reading chunks stopped"));
            };
            match fetched {
                Ok(bytes) => self.held[self.received] = Some(bytes),
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
            self.received += 1;
        }
        let Some(bytes) = &self.held[u] else {
            return Err(io::Error::other(
                "a unit of chunks was let go before its last chunk",
            ));
        };
        self.current = Arc::clone(bytes);
        self.chunk = Some(next);
        self.pos = at;
        self.end = at + self.manifest.chunks[next].chunk.len as usize;
        Ok(true)
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
        while self.pos == self.end {
            if !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.end - self.pos);
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
pub(crate) fn chunk_damage_of(error: &Error) -> Option<&ChunkDamage> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incremental::manifest::{ChunkRef, Placed};
    use crate::store::MemStore;

    /// A pack of `count` chunks of `len` bytes, each filled with its number
    /// plus `seed`, stored in `store`.
    fn pack(store: &MemStore, seed: u8, count: u8, len: usize) -> (Blob, Vec<ChunkRef>) {
        let chunks: Vec<Vec<u8>> = (0..count).map(|i| vec![seed + i; len]).collect();
        let bytes = chunks.concat();
        let blob = Blob {
            hash: *blake3::hash(&bytes).as_bytes(),
            len: bytes.len() as u64,
            packed: true,
        };
        store.put_if_absent(&blob.key(), &bytes).unwrap();
        (blob, chunks.iter().map(|c| ChunkRef::of(c)).collect())
    }

    #[test]
    fn interleaved_packs_are_read_in_few_units_and_in_order() {
        let store = Arc::new(MemStore::new());
        let len = 64 << 10;
        let (old, old_chunks) = pack(&store, 0, 40, len);
        let (new, new_chunks) = pack(&store, 100, 6, len);
        let blobs = vec![old, new];
        // The old pack's chunks in order, every fifth replaced by one of
        // the new pack's (its old version a dead gap), and one repeated.
        let mut chunks = Vec::new();
        let mut expected = Vec::new();
        for i in 0..40u8 {
            let (blob, chunk, fill) = if i % 5 == 2 && i / 5 < 6 {
                (1, new_chunks[usize::from(i / 5)], 100 + i / 5)
            } else {
                (0, old_chunks[usize::from(i)], i)
            };
            let offset = if blob == 0 {
                u32::from(i)
            } else {
                u32::from(i / 5)
            } * len as u32;
            chunks.push(Placed {
                chunk,
                blob,
                offset,
            });
            expected.extend(vec![fill; len]);
        }
        chunks.push(chunks[3]);
        expected.extend(vec![3; len]);
        let manifest = Manifest {
            seq: 1,
            total_len: expected.len() as u64,
            blobs,
            chunks,
        };
        let plan = plan(&manifest);
        // 40 chunks of 64 KiB of the old pack in units as long as allowed,
        // with the dead gaps, the new pack's six in one, and the repeat.
        let old_units = (40 * len).div_ceil(MAX_UNIT);
        assert!(old_units < 40);
        assert_eq!(plan.units.len(), old_units + 1 + 1, "{:?}", plan.units);
        assert!(plan.units.iter().all(|u| u.len <= MAX_UNIT));
        let mut read = Vec::new();
        ChunkReader::new(store.clone(), manifest.clone())
            .read_to_end(&mut read)
            .unwrap();
        assert!(read == expected);

        // A flipped byte in a dead gap is not read as damage; in a chunk
        // it is, naming the pack and the chunk.
        let mut bytes = store.get(&old.key()).unwrap().unwrap();
        bytes[2 * len + 10] ^= 1;
        store.delete(&old.key()).unwrap();
        store.put_if_absent(&old.key(), &bytes).unwrap();
        let mut read = Vec::new();
        ChunkReader::new(store.clone(), manifest.clone())
            .read_to_end(&mut read)
            .unwrap();
        assert!(read == expected);
        bytes[len + 10] ^= 1;
        store.delete(&old.key()).unwrap();
        store.put_if_absent(&old.key(), &bytes).unwrap();
        let err = ChunkReader::new(store.clone(), manifest)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        let damage = err
            .get_ref()
            .unwrap()
            .downcast_ref::<ChunkDamage>()
            .unwrap();
        assert!(damage.chunk.ends_with(&old.key()), "{damage}");
        assert!(damage.reason.contains(&old_chunks[1].hex()), "{damage}");
    }
}
