//! Writing an incremental checkpoint as it is encoded: the encoder's
//! output is cut into chunks as it comes, and each chunk the store lacks is
//! handed to a few writers at once, so the checkpoint is never whole in
//! memory. The chunks are the ones [`cut`](super::writer::cut) finds in
//! the whole checkpoint.
//!
//! Two facts make that possible:
//! - FastCDC cuts a chunk from the bytes after the previous cut alone, and
//!   once [`MAX_CHUNK`] of them are at hand, how many more follow does not
//!   matter: a chunk is final as soon as that many bytes are buffered;
//! - FastCDC never looks at a chunk's first [`MIN_CHUNK`] bytes, so the
//!   head, sealed (its lengths and checksum patched) only when the body is
//!   written, cuts the same before and after, as long as it fits in them.
//!   The first chunk is held back until then; a head too long for that
//!   (a very large recorded schema) makes the caller cut the checkpoint
//!   whole in memory instead.
//!
//! The saver's side of the chunk protocol changes in one way: a sweep
//! already running when the intent is written is waited for *before* the
//! store's chunks are listed, since chunks streamed away cannot be written
//! again afterwards. A sweep that starts later sees the intent and deletes
//! nothing. An intent that lapsed (a pause of half a lease between two
//! chunks) makes the save list and encode again.

use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use fastcdc::v2020::FastCDC;

use super::lease::{self, Marker, INTENTS, SWEEPING};
use super::manifest::{ChunkRef, Manifest, HASH_LEN};
use super::pack::{Packer, Placement, Sealed};
use super::stored::{Earlier, Stored};
use super::writer::{put_chunk, wait_for_sweeps, AVG_CHUNK, MAX_CHUNK, MAX_PUT_THREADS, MIN_CHUNK};
use crate::encode::{encode_to, Output};
use crate::store::{Store, StoreError};
use crate::{Checkpoint, Compression, Error, Result};

/// How many times a save encodes again after its intent lapsed.
const LAPSES: usize = 3;

/// An incremental checkpoint's chunks are stored; its manifest is ready to
/// commit.
#[derive(Debug)]
pub(crate) struct Streamed<'a> {
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// The checkpoint's length.
    pub total_len: u64,
    /// How many bytes of chunks and packs this save wrote, over all its
    /// passes (its other chunks were stored).
    pub written: u64,
    /// The saver's intent: keep it until the manifest is committed.
    pub intent: Marker<'a>,
}

/// Encodes `state` as checkpoint `seq`, storing the chunks the store
/// lacks as they are cut, and builds its manifest. `None` when the
/// checkpoint's head is too long to stream (see the module docs): cut it
/// whole instead.
///
/// # Errors
///
/// As [`encode_to`]; [`Error::Store`] when the store fails. Chunks written
/// so far stay for a later save or sweep.
pub(crate) fn write_chunks<'a, T: Checkpoint>(
    store: &'a dyn Store,
    state: &T,
    plan: &Plan<'_>,
    location: &str,
) -> Result<Option<Streamed<'a>>> {
    let Plan {
        seq,
        time,
        compression,
        lease_time,
        earlier,
        damaged: known_damaged,
    } = *plan;
    let mut intent = Marker::put(store, INTENTS)?;
    // What the passes so far stored, for the next to find, and the stored
    // chunks they found damaged, for the next to store anew.
    let mut carried = Vec::new();
    let mut damaged = known_damaged.clone();
    let (mut lapses, mut written) = (0, 0);
    while lapses < LAPSES {
        let sweeps = lease::markers(store, SWEEPING, lease_time)?.live;
        wait_for_sweeps(store, &sweeps, &mut intent, lease_time)?;
        let mut stored = Stored::read(store, earlier, seq, &carried)?;
        stored.forget(&damaged);
        let attempt = Attempt {
            store,
            intent: Mutex::new(&mut intent),
            lease_time,
            lapsed: AtomicBool::new(false),
        };
        let Some(pass) = attempt.encode(state, stored, seq, time, compression, location)? else {
            return Ok(None);
        };
        let Pass {
            manifest,
            packer,
            damaged: found,
        } = pass;
        written += packer.written;
        let lapsed = attempt.lapsed.into_inner() || intent.age() >= lease_time / 2;
        if lapsed {
            // A sweep may have taken this save for dead and deleted chunks
            // it found stored: announce it afresh and store them again.
            intent.renew_after(Duration::ZERO)?;
            carried.extend(packer.stored_now());
            lapses += 1;
            continue;
        }
        if !found.is_empty() {
            // Each pass stores anew what the passes before found damaged,
            // so this ends: a chunk is found damaged once.
            damaged.extend(found);
            carried.extend(packer.stored_now());
            continue;
        }
        return Ok(Some(Streamed {
            total_len: manifest.total_len,
            manifest: manifest.encode(),
            written,
            intent,
        }));
    }
    Err(Error::Store(StoreError::io(
        "write",
        location.to_owned(),
        io::Error::other(format!(
            "the save paused for more than half the chunk lease ({lease_time:?}) {LAPSES} times; \
             give `chunk_lease` a longer lease"
        )),
    )))
}

/// What an incremental save writes, and how.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan<'e> {
    /// The checkpoint's sequence number (a part's epoch).
    pub seq: u64,
    /// Its capture time.
    pub time: SystemTime,
    pub compression: Compression,
    /// How long a marker of the chunk protocol counts as live.
    pub lease_time: Duration,
    /// Where to find the chunks the store holds.
    pub earlier: Earlier<'e>,
    /// Stored chunks known damaged (a restore found them so): stored anew.
    pub damaged: &'e HashSet<[u8; HASH_LEN]>,
}

/// What one pass of encoding and storing chunks made.
struct Pass {
    /// The checkpoint's manifest.
    manifest: Manifest,
    /// What the pass wrote.
    packer: Packer,
    /// Chunks it found stored that did not read back intact: the manifest
    /// lists them as stored, so the save must pass again, storing them.
    damaged: HashSet<[u8; HASH_LEN]>,
}

/// One pass of encoding and storing chunks.
struct Attempt<'s, 'm> {
    store: &'s dyn Store,
    /// Renewed as each chunk is cut and before it is written, by whichever
    /// thread does so.
    intent: Mutex<&'m mut Marker<'s>>,
    lease_time: Duration,
    /// The intent went half a lease without renewal.
    lapsed: AtomicBool,
}

impl Attempt<'_, '_> {
    /// Stores one pack, renewing the intent first.
    fn store_pack(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.renew()?;
        put_chunk(self.store, key, bytes)
    }

    /// Renews the intent when a quarter lease old, noting whether it
    /// lapsed first.
    fn renew(&self) -> Result<(), StoreError> {
        let mut intent = self.intent.lock().unwrap_or_else(PoisonError::into_inner);
        if intent.age() >= self.lease_time / 2 {
            self.lapsed.store(true, Ordering::Relaxed);
        }
        intent.renew_after(self.lease_time / 4)
    }

    /// Encodes and stores the chunks not in `stored`, packed, and reads
    /// back a few of those in `stored` ([`Packer::damaged_stored`]); `None` when
    /// the head is too long.
    fn encode<T: Checkpoint>(
        &self,
        state: &T,
        stored: Stored,
        seq: u64,
        time: SystemTime,
        compression: Compression,
        location: &str,
    ) -> Result<Option<Pass>> {
        let failed = AtomicBool::new(false);
        let failure: Mutex<Option<StoreError>> = Mutex::new(None);
        // Each writer, and the one pack waiting for a writer, holds a pack.
        let writers = self.store.concurrent_requests().clamp(1, MAX_PUT_THREADS);
        let (tx, rx) = mpsc::sync_channel::<Sealed>(1);
        let rx = Mutex::new(rx);
        let write = || loop {
            let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
            let Ok((key, bytes)) = next else { break };
            if failed.load(Ordering::Relaxed) {
                continue;
            }
            if let Err(e) = self.store_pack(&key, &bytes) {
                failed.store(true, Ordering::Relaxed);
                failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(e);
            }
        };
        let (encoded, sink) = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..writers).map(|_| scope.spawn(write)).collect();
            // Owned here, so that the channel closes (and the writers end)
            // however the encode ends, a panic included.
            let mut sink = ChunkSink {
                chunker: Chunker::default(),
                chunks: Vec::new(),
                tx: Some(tx),
                packer: Packer::new(stored),
                failed: &failed,
                attempt: self,
                head_too_long: false,
            };
            let encoded = encode_to(state, &mut sink, location, seq, time, compression);
            sink.tx = None;
            for w in writers {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            }
            (
                encoded,
                (sink.chunker, sink.chunks, sink.packer, sink.head_too_long),
            )
        });
        let (chunker, mut chunks, mut packer, head_too_long) = sink;
        let failure = failure.into_inner().unwrap_or_else(PoisonError::into_inner);
        if head_too_long {
            return Ok(None);
        }
        if let Some(e) = failure {
            return Err(Error::Store(e));
        }
        let total_len = encoded?;
        // The first chunk, held back until the head was sealed, the chunks
        // of sparse packs and the last pack.
        let mut put = |(key, bytes): Sealed| self.store_pack(&key, &bytes);
        if let Some(first) = chunker.first {
            let chunk = ChunkRef::of(&first);
            let (placement, alone) = packer.add_alone(chunk, &first);
            if let Some(alone) = alone {
                put(alone)?;
            }
            chunks.insert(0, (chunk, placement));
        }
        let damaged = packer.damaged_stored(self.store, seq, &chunks, &mut || self.renew())?;
        if damaged.is_empty() {
            packer.repack(self.store, &mut chunks, &mut put)?;
        }
        if let Some(last) = packer.seal() {
            put(last)?;
        }
        let manifest = packer.manifest(seq, total_len, &chunks);
        Ok(Some(Pass {
            manifest,
            packer,
            damaged,
        }))
    }
}

/// Cuts a checkpoint into chunks as its bytes come: [`MAX_CHUNK`] bytes
/// past the last cut make the next cut final.
#[derive(Debug, Default)]
struct Chunker {
    /// Bytes after the last cut.
    pending: Vec<u8>,
    /// The first chunk once cut, held until the head is sealed.
    first: Option<Vec<u8>>,
}

impl Chunker {
    /// Takes `bytes`, handing each chunk that is final to `emit` (but the
    /// first, which is held). At most [`MAX_CHUNK`] bytes are kept: a large
    /// frame is cut where it lies, not copied.
    fn push(
        &mut self,
        mut bytes: &[u8],
        emit: &mut dyn FnMut(Vec<u8>) -> io::Result<()>,
    ) -> io::Result<()> {
        let max = MAX_CHUNK as usize;
        while !self.pending.is_empty() {
            let take = (max - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() < max {
                return Ok(());
            }
            let len = first_cut(&self.pending);
            let chunk = self.pending[..len].to_vec();
            self.pending.drain(..len);
            self.take(chunk, emit)?;
        }
        while bytes.len() >= max {
            let len = first_cut(bytes);
            self.take(bytes[..len].to_vec(), emit)?;
            bytes = &bytes[len..];
        }
        self.pending.extend_from_slice(bytes);
        Ok(())
    }

    /// Cuts everything left, the end being reached.
    fn finish(&mut self, emit: &mut dyn FnMut(Vec<u8>) -> io::Result<()>) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let mut start = 0;
        while start < pending.len() {
            let len = first_cut(&pending[start..]);
            self.take(pending[start..start + len].to_vec(), emit)?;
            start += len;
        }
        Ok(())
    }

    /// Holds `chunk` if it is the first, hands it to `emit` otherwise.
    fn take(
        &mut self,
        chunk: Vec<u8>,
        emit: &mut dyn FnMut(Vec<u8>) -> io::Result<()>,
    ) -> io::Result<()> {
        if self.first.is_none() {
            self.first = Some(chunk);
            Ok(())
        } else {
            emit(chunk)
        }
    }

    /// Writes `head` over the checkpoint's first bytes, which the first
    /// chunk (or, before the first cut, the pending bytes) still holds.
    fn patch_head(&mut self, head: &[u8]) -> io::Result<()> {
        let held = match &mut self.first {
            Some(first) => first,
            None => &mut self.pending,
        };
        match held.get_mut(..head.len()) {
            Some(start) => {
                start.copy_from_slice(head);
                Ok(())
            }
            None => Err(io::Error::other("the head is longer than the first chunk")),
        }
    }
}

/// The length of the first chunk FastCDC cuts from `bytes` (not empty).
fn first_cut(bytes: &[u8]) -> usize {
    FastCDC::new(
        bytes,
        MIN_CHUNK as usize,
        AVG_CHUNK as usize,
        MAX_CHUNK as usize,
    )
    .next()
    .map_or(bytes.len(), |c| c.length)
}

/// The encoder's [`Output`] during an incremental save: cuts, packs the
/// chunks the store lacks, and hands each full pack to the writers.
struct ChunkSink<'a, 's, 'm> {
    chunker: Chunker,
    /// The chunks after the first, in order, and where each goes.
    chunks: Vec<(ChunkRef, Placement)>,
    tx: Option<mpsc::SyncSender<Sealed>>,
    packer: Packer,
    failed: &'a AtomicBool,
    attempt: &'a Attempt<'s, 'm>,
    head_too_long: bool,
}

impl ChunkSink<'_, '_, '_> {
    /// Runs `f` on the chunker with the function that stores a chunk.
    fn with_emit(
        &mut self,
        f: impl FnOnce(&mut Chunker, &mut dyn FnMut(Vec<u8>) -> io::Result<()>) -> io::Result<()>,
    ) -> io::Result<()> {
        let ChunkSink {
            chunker,
            chunks,
            tx,
            packer,
            failed,
            attempt,
            ..
        } = self;
        let mut emit = |chunk: Vec<u8>| -> io::Result<()> {
            if failed.load(Ordering::Relaxed) {
                return Err(io::Error::other("a chunk write failed"));
            }
            // Cutting and hashing take time too, chunks stored or not.
            attempt.renew().map_err(io::Error::other)?;
            let chunk_ref = ChunkRef::of(&chunk);
            let (placement, full) = packer.add(chunk_ref, &chunk);
            chunks.push((chunk_ref, placement));
            if let Some(full) = full {
                let sent = tx.as_ref().map(|tx| tx.send(full));
                if !matches!(sent, Some(Ok(()))) {
                    return Err(io::Error::other("the pack writers stopped"));
                }
            }
            Ok(())
        };
        f(chunker, &mut emit)
    }
}

impl Output for ChunkSink<'_, '_, '_> {
    fn head(&mut self, head: &[u8]) -> io::Result<()> {
        if head.len() > MIN_CHUNK as usize {
            self.head_too_long = true;
            return Err(io::Error::other("the head is too long to stream in chunks"));
        }
        self.append(head)
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.with_emit(|chunker, emit| chunker.push(bytes, emit))
    }

    fn restart(&mut self) -> io::Result<()> {
        // Packs already handed on stay stored, for this save or a later
        // sweep.
        self.chunker = Chunker::default();
        self.chunks.clear();
        self.packer.restart();
        Ok(())
    }

    fn seal(&mut self, head: &[u8], tail: &[u8]) -> io::Result<()> {
        self.chunker.patch_head(head)?;
        self.with_emit(|chunker, emit| {
            chunker.push(tail, emit)?;
            chunker.finish(emit)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::writer::cut;
    use super::*;

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        (0..len as u64)
            .map(|i| ((i ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect()
    }

    /// Streams `bytes` in pieces of `piece` bytes with a head of
    /// `head_len` bytes written as zeros and patched at the end; returns
    /// the chunks in order.
    fn streamed(bytes: &[u8], piece: usize, head_len: usize) -> Vec<ChunkRef> {
        let mut chunker = Chunker::default();
        let mut chunks = Vec::new();
        let mut emit = |c: Vec<u8>| {
            chunks.push(ChunkRef::of(&c));
            Ok(())
        };
        let mut unsealed = bytes.to_vec();
        unsealed[..head_len].fill(0);
        let (body, tail) = unsealed.split_at(unsealed.len() - 4);
        for p in body.chunks(piece) {
            chunker.push(p, &mut emit).unwrap();
        }
        chunker.patch_head(&bytes[..head_len]).unwrap();
        chunker.push(tail, &mut emit).unwrap();
        chunker.finish(&mut emit).unwrap();
        let mut all = vec![ChunkRef::of(chunker.first.as_ref().unwrap())];
        all.extend(chunks);
        all
    }

    #[test]
    fn streamed_chunks_are_the_whole_checkpoints_chunks() {
        for (len, piece, head_len) in [
            (20, 3, 8),
            (MIN_CHUNK as usize - 1, 1000, 32),
            (MAX_CHUNK as usize, 4096, 200),
            (MAX_CHUNK as usize + 1, 7, 64),
            (3_000_000, 65_536, 1000),
            (3_000_000, 5_000_000, MIN_CHUNK as usize),
            (5_000_001, 300_001, 4096),
        ] {
            let bytes = noise(len, len as u64);
            let whole: Vec<ChunkRef> = cut(&bytes).into_iter().map(|(_, c)| c).collect();
            assert_eq!(
                streamed(&bytes, piece, head_len),
                whole,
                "{len} bytes in pieces of {piece}, head of {head_len}"
            );
        }
    }

    #[test]
    fn a_head_longer_than_the_held_bytes_is_refused() {
        let mut chunker = Chunker::default();
        chunker.push(b"short", &mut |_| Ok(())).unwrap();
        assert!(chunker.patch_head(b"longer than that").is_err());
    }
}
