//! Writing an incremental checkpoint: cutting an encoded checkpoint into
//! content-defined chunks and storing the ones the store lacks, under the
//! saver's side of the chunk protocol.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fastcdc::v2020::FastCDC;

use super::lease::{self, Marker, INTENTS, SWEEPING};
use super::manifest::{ChunkRef, HASH_LEN};
use super::pack::{Packer, Placement, Sealed};
use super::stored::{Earlier, Stored};
use super::{is_chunk_key, CHUNKS};
use crate::store::{Store, StoreError};

/// The smallest chunk FastCDC cuts (but the last).
pub(crate) const MIN_CHUNK: u32 = 16 << 10;
/// The chunk size FastCDC aims at.
pub(crate) const AVG_CHUNK: u32 = 64 << 10;
/// The largest chunk FastCDC cuts.
pub(crate) const MAX_CHUNK: u32 = 256 << 10;

/// The most pack writes in flight at once, whatever the store asks for
/// ([`Store::concurrent_requests`]): each holds a pack in memory. Two keep
/// a save within its largest field's frame and about 20 MiB of packs
/// beyond the state (four held 10 MiB more), and saved as fast as four on
/// a local disk and on a local S3 server (`docs/PERFORMANCE.md`).
pub(crate) const MAX_PUT_THREADS: usize = 2;

/// How often a saver that saw a sweep looks again whether it has ended.
const POLL: Duration = Duration::from_millis(20);

/// A checkpoint's chunks are stored; its manifest is ready to commit.
#[derive(Debug)]
pub(crate) struct Prepared<'a> {
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// How many bytes of packs this save wrote (its other chunks were
    /// stored).
    pub written: u64,
    /// The saver's intent: keep it until the manifest is committed.
    pub intent: Marker<'a>,
}

/// The chunks of `bytes`, each with where it lies in `bytes`.
pub(crate) fn cut(bytes: &[u8]) -> Vec<(usize, ChunkRef)> {
    FastCDC::new(
        bytes,
        MIN_CHUNK as usize,
        AVG_CHUNK as usize,
        MAX_CHUNK as usize,
    )
    .map(|c| {
        (
            c.offset,
            ChunkRef::of(&bytes[c.offset..c.offset + c.length]),
        )
    })
    .collect()
}

/// Stores the chunks of checkpoint `seq`, whose bytes are `bytes`, that
/// the store lacks, packed, and builds its manifest. The saver's side of
/// the chunk protocol: announce the save (an intent), then look for sweeps;
/// when one was running, wait for it to end and store again what it
/// deleted. Chunks in `damaged` (known damaged on the store) are stored
/// anew.
///
/// # Errors
///
/// When the store fails; packs written so far stay for a later save or
/// sweep.
pub(crate) fn prepare<'a>(
    store: &'a dyn Store,
    bytes: &[u8],
    seq: u64,
    lease_time: Duration,
    earlier: Earlier<'_>,
    damaged: &HashSet<[u8; HASH_LEN]>,
) -> Result<Prepared<'a>, StoreError> {
    let mut intent = Marker::put(store, INTENTS)?;
    let mut sweeps = lease::markers(store, SWEEPING, lease_time)?.live;
    let chunks = cut(bytes);
    let mut written = 0;
    // What earlier passes stored, for the next to find.
    let mut carried = Vec::new();
    loop {
        let mut stored = Stored::read(store, earlier, seq, &carried)?;
        stored.forget(damaged);
        let mut packer = Packer::new(stored);
        let (placed, lapsed) = put_missing(
            store,
            bytes,
            &chunks,
            seq,
            &mut intent,
            lease_time,
            &mut packer,
        )?;
        written += packer.written;
        carried.extend(packer.stored_now());
        if lapsed {
            // Writing took so long between renewals that a sweep may have
            // taken this save for dead: announce it afresh, look for sweeps
            // again, and look for every chunk again once they have ended.
            intent.renew_after(Duration::ZERO)?;
            sweeps = lease::markers(store, SWEEPING, lease_time)?.live;
        } else if sweeps.is_empty() {
            let manifest = packer.manifest(seq, bytes.len() as u64, &placed);
            return Ok(Prepared {
                manifest: manifest.encode(),
                written,
                intent,
            });
        }
        // A sweep that began before this save's intent may delete chunks
        // this save found stored: once it has ended (or died), every chunk
        // is looked for again.
        wait_for_sweeps(store, &sweeps, &mut intent, lease_time)?;
        sweeps.clear();
    }
}

/// Waits until each of the sweep markers `sweeps` is gone or stale.
pub(super) fn wait_for_sweeps(
    store: &dyn Store,
    sweeps: &[String],
    intent: &mut Marker<'_>,
    lease_time: Duration,
) -> Result<(), StoreError> {
    while !sweeps.is_empty() {
        let live = lease::markers(store, SWEEPING, lease_time)?.live;
        if !live.iter().any(|key| sweeps.contains(key)) {
            break;
        }
        intent.renew_after(lease_time / 4)?;
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// Packs and writes the chunks the store does not hold, or holds damaged
/// ([`Packer::damaged_stored`]); returns where each chunk lies and whether the
/// intent lapsed: went half a lease without renewal, so that a sweep may
/// have seen it as stale.
fn put_missing(
    store: &dyn Store,
    bytes: &[u8],
    chunks: &[(usize, ChunkRef)],
    seq: u64,
    intent: &mut Marker<'_>,
    lease_time: Duration,
    packer: &mut Packer,
) -> Result<(Vec<(ChunkRef, Placement)>, bool), StoreError> {
    let mut lapsed = false;
    let threads = store.concurrent_requests().clamp(1, MAX_PUT_THREADS);
    let mut placed = Vec::with_capacity(chunks.len());
    let mut sealed = Vec::new();
    for (i, (offset, chunk)) in chunks.iter().enumerate() {
        let chunk_bytes = &bytes[*offset..*offset + chunk.len as usize];
        // The first chunk, which holds the header, alone.
        let (placement, full) = if i == 0 {
            packer.add_alone(*chunk, chunk_bytes)
        } else {
            packer.add(*chunk, chunk_bytes)
        };
        placed.push((*chunk, placement));
        sealed.extend(full);
        if sealed.len() == threads {
            lapsed |= put_packs(store, std::mem::take(&mut sealed), intent, lease_time)?;
        }
    }
    // Stored chunks that do not read back intact are stored anew.
    let damaged = packer.damaged_stored(store, seq, &placed, &mut || {
        lapsed |= intent.age() >= lease_time / 2;
        intent.renew_after(lease_time / 4)
    })?;
    for ((chunk, placement), (offset, _)) in placed.iter_mut().zip(chunks) {
        if damaged.contains(&chunk.hash) {
            let (new, full) = packer.add_new(*chunk, &bytes[*offset..*offset + chunk.len as usize]);
            *placement = new;
            sealed.extend(full);
        }
    }
    packer.repack(store, &mut placed, &mut |full| {
        sealed.push(full);
        Ok(())
    })?;
    sealed.extend(packer.seal());
    lapsed |= put_packs(store, sealed, intent, lease_time)?;
    lapsed |= intent.age() >= lease_time / 2;
    Ok((placed, lapsed))
}

/// Writes `packs`, each waiting for its sync (a file) or round trip (an
/// object store), several in flight; renews the intent first, and returns
/// whether it had lapsed.
fn put_packs(
    store: &dyn Store,
    packs: Vec<Sealed>,
    intent: &mut Marker<'_>,
    lease_time: Duration,
) -> Result<bool, StoreError> {
    if packs.is_empty() {
        return Ok(false);
    }
    let lapsed = intent.age() >= lease_time / 2;
    intent.renew_after(lease_time / 4)?;
    let next = AtomicUsize::new(0);
    let put = || -> Result<(), StoreError> {
        while let Some((key, bytes)) = packs.get(next.fetch_add(1, Ordering::Relaxed)) {
            put_chunk(store, key, bytes)?;
        }
        Ok(())
    };
    std::thread::scope(|scope| {
        let writers: Vec<_> = (1..packs.len()).map(|_| scope.spawn(put)).collect();
        let mine = put();
        writers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .fold(mine, Result::and)
    })?;
    Ok(lapsed)
}

/// How many times a chunk write replaces a damaged value under its key
/// before it gives up (another writer replacing it at the same time).
const REPLACE_TRIES: usize = 3;

/// Stores a chunk or pack `bytes` under `key`. A value already there holds
/// the same bytes (its name is their hash: another save stored them
/// first), unless it was damaged on the store: then it is replaced, so
/// that a save storing damaged chunks anew heals them even when it packs
/// them exactly as they were (a pack of one chunk, say), and so do the
/// checkpoints listing the old value.
pub(super) fn put_chunk(store: &dyn Store, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
    for _ in 0..REPLACE_TRIES {
        match store.put_if_absent(key, bytes) {
            Ok(()) => return Ok(()),
            Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
        match store.get_at_most(key, bytes.len() as u64) {
            Ok(Some(stored)) if stored.as_slice() == bytes => return Ok(()),
            // Deleted since: created again.
            Ok(None) => {}
            Ok(Some(_)) | Err(StoreError::TooLarge { .. } | StoreError::Unreadable { .. }) => {
                tracing::warn!(
                    chunk = %store.location(key),
                    "a stored chunk does not hold its bytes: storing it anew"
                );
                if let Err(e) = store.delete(key) {
                    return Err(StoreError::io(
                        "write",
                        store.location(key),
                        std::io::Error::other(format!(
                            "the value under this chunk's name does not hold its bytes and \
                             cannot be replaced ({e}): remove it"
                        )),
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::io(
        "write",
        store.location(key),
        std::io::Error::other(format!(
            "the value stored under its name changed {REPLACE_TRIES} times while this save \
             replaced it"
        )),
    ))
}

/// The keys of every chunk stored alone and every pack in the store.
pub(crate) fn stored_chunks(store: &dyn Store) -> Result<HashSet<String>, StoreError> {
    Ok(store
        .list(CHUNKS)?
        .into_iter()
        .filter(|key| is_chunk_key(key))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    #[test]
    fn a_chunk_name_taken_by_the_same_bytes_is_kept_and_by_others_replaced() {
        let store = MemStore::new();
        let key = "chunks/ab/abcd.pack";
        let bytes = b"the bytes of a pack".as_slice();
        put_chunk(&store, key, bytes).unwrap();
        put_chunk(&store, key, bytes).unwrap();
        assert_eq!(store.get(key).unwrap().as_deref(), Some(bytes));
        // Damaged on the store: a flipped bit, a value cut short, one
        // grown longer.
        for damaged in [
            b"the bytes of a pacK".as_slice(),
            b"the bytes".as_slice(),
            b"the bytes of a pack, and more".as_slice(),
        ] {
            store.delete(key).unwrap();
            store.put_if_absent(key, damaged).unwrap();
            put_chunk(&store, key, bytes).unwrap();
            assert_eq!(store.get(key).unwrap().as_deref(), Some(bytes));
        }
    }

    #[test]
    fn chunks_cover_the_bytes_within_their_bounds() {
        let bytes: Vec<u8> = (0..3_000_000u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect();
        let chunks = cut(&bytes);
        let mut at = 0;
        for (i, (offset, chunk)) in chunks.iter().enumerate() {
            assert_eq!(*offset, at);
            assert!(chunk.len <= MAX_CHUNK);
            assert!(chunk.len >= MIN_CHUNK || i == chunks.len() - 1);
            at += chunk.len as usize;
        }
        assert_eq!(at, bytes.len());
    }
}
