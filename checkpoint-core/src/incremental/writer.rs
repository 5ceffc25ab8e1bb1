//! Writing an incremental checkpoint: cutting an encoded checkpoint into
//! content-defined chunks and storing the ones the store lacks, under the
//! saver's side of the chunk protocol.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fastcdc::v2020::FastCDC;

use super::lease::{self, Marker, INTENTS, SWEEPING};
use super::manifest::{ChunkRef, Manifest};
use super::{is_chunk_key, CHUNKS};
use crate::store::{Store, StoreError};

/// The smallest chunk FastCDC cuts (but the last).
pub(crate) const MIN_CHUNK: u32 = 16 << 10;
/// The chunk size FastCDC aims at.
pub(crate) const AVG_CHUNK: u32 = 64 << 10;
/// The largest chunk FastCDC cuts.
pub(crate) const MAX_CHUNK: u32 = 256 << 10;

/// The most chunk writes in flight at once, whatever the store asks for
/// ([`Store::concurrent_requests`]).
const MAX_PUT_THREADS: usize = 64;
/// How many chunks are written between two checks of the intent's age.
const PUT_BATCH: usize = 256;

/// How often a saver that saw a sweep looks again whether it has ended.
const POLL: Duration = Duration::from_millis(20);

/// A checkpoint's chunks are stored; its manifest is ready to commit.
#[derive(Debug)]
pub(crate) struct Prepared<'a> {
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// How many chunk bytes this save wrote (the others were stored).
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
/// the store lacks, and builds its manifest. The saver's side of the chunk
/// protocol: announce the save (an intent), then look for sweeps; when one
/// was running, wait for it to end and store again what it deleted.
///
/// # Errors
///
/// When the store fails; chunks written so far stay for a later save or
/// sweep.
pub(crate) fn prepare<'a>(
    store: &'a dyn Store,
    bytes: &[u8],
    seq: u64,
    lease_time: Duration,
) -> Result<Prepared<'a>, StoreError> {
    let mut intent = Marker::put(store, INTENTS)?;
    let mut sweeps = lease::markers(store, SWEEPING, lease_time)?.live;
    let chunks = cut(bytes);
    let mut written = 0;
    loop {
        let (more, lapsed) = put_missing(store, bytes, &chunks, &mut intent, lease_time)?;
        written += more;
        if lapsed {
            // Writing took so long between renewals that a sweep may have
            // taken this save for dead: announce it afresh, look for sweeps
            // again, and look for every chunk again once they have ended.
            intent.renew_after(Duration::ZERO)?;
            sweeps = lease::markers(store, SWEEPING, lease_time)?.live;
        } else if sweeps.is_empty() {
            break;
        }
        // A sweep that began before this save's intent may delete chunks
        // this save found stored: once it has ended (or died), every chunk
        // is looked for again.
        wait_for_sweeps(store, &sweeps, &mut intent, lease_time)?;
        sweeps.clear();
    }
    let manifest = Manifest {
        seq,
        total_len: bytes.len() as u64,
        chunks: chunks.iter().map(|(_, chunk)| *chunk).collect(),
    };
    Ok(Prepared {
        manifest: manifest.encode(),
        written,
        intent,
    })
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

/// Writes the chunks the store does not list; returns the bytes written
/// and whether the intent lapsed: went half a lease without renewal, so
/// that a sweep may have seen it as stale.
fn put_missing(
    store: &dyn Store,
    bytes: &[u8],
    chunks: &[(usize, ChunkRef)],
    intent: &mut Marker<'_>,
    lease_time: Duration,
) -> Result<(u64, bool), StoreError> {
    let mut lapsed = false;
    let mut stored = stored_chunks(store)?;
    let missing: Vec<(usize, ChunkRef, String)> = chunks
        .iter()
        .filter_map(|(offset, chunk)| {
            let key = chunk.key();
            stored.insert(key.clone()).then_some((*offset, *chunk, key))
        })
        .collect();
    // Each write waits for its sync (a file) or round trip (an object
    // store): several in flight keep the disk or the network busy. The
    // intent is renewed between batches.
    for batch in missing.chunks(PUT_BATCH) {
        lapsed |= intent.age() >= lease_time / 2;
        intent.renew_after(lease_time / 4)?;
        let next = AtomicUsize::new(0);
        let put = || -> Result<(), StoreError> {
            while let Some((offset, chunk, key)) = batch.get(next.fetch_add(1, Ordering::Relaxed)) {
                put_chunk(store, key, &bytes[*offset..*offset + chunk.len as usize])?;
            }
            Ok(())
        };
        std::thread::scope(|scope| {
            let threads = store.concurrent_requests().clamp(1, MAX_PUT_THREADS);
            let writers: Vec<_> = (1..threads.min(batch.len()))
                .map(|_| scope.spawn(put))
                .collect();
            let mine = put();
            writers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .fold(mine, Result::and)
        })?;
    }
    lapsed |= intent.age() >= lease_time / 2;
    let written = missing
        .iter()
        .map(|(_, chunk, _)| u64::from(chunk.len))
        .sum();
    Ok((written, lapsed))
}

/// Stores chunk `bytes` under `key`; a chunk already there (another save
/// stored the same bytes first) is stored.
pub(super) fn put_chunk(store: &dyn Store, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
    match store.put_if_absent(key, bytes) {
        Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The keys of every chunk in the store.
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
