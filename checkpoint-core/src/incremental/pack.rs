//! Packs: the chunks one save stores, several to a value, so that a
//! restore reads a few large values rather than one per chunk
//! (`docs/FORMAT.md`, "Packs").
//!
//! A pack is the chunks' bytes one after another, nothing else, named by
//! the BLAKE3 hash of those bytes; the manifests that list its chunks say
//! where each lies. So every byte of a pack belongs to a chunk, and damage
//! anywhere in it is found by the hash check of the chunk it falls in.
//!
//! A chunk the store holds ([`Stored`]) is listed again rather than
//! stored; any other is packed anew.

use std::collections::{HashMap, HashSet};

use super::manifest::{Blob, ChunkRef, Manifest, Placed, HASH_LEN};
use super::stored::{Place, Stored};
use super::writer::MAX_CHUNK;
use crate::store::{Store, StoreError};

/// A save closes its pack once the pack holds this many bytes.
pub(crate) const PACK_TARGET: usize = 4 << 20;
/// A save stores again the chunks it lists from a pack of which it lists
/// less than one part in this many bytes.
const SPARSE: u64 = 4;
/// How many of the values it lists chunks from without storing them a
/// save reads back, on average: each is read once in every so many saves
/// ([`Packer::damaged_stored`]).
const CHECKED: u64 = 2;

/// Where a save puts one of its chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Where the store holds it already.
    Stored(Place),
    /// In this save's pack number `pack`, `at` bytes after its head.
    New { pack: u32, at: u32 },
}

/// A pack ready to write: its key and bytes.
pub(crate) type Sealed = (String, Vec<u8>);

/// Places a save's chunks: where the store holds them already, or in the
/// save's own packs, closed and handed back to write as they fill.
#[derive(Debug)]
pub(crate) struct Packer {
    stored: Stored,
    /// The chunks this save packed, and where.
    new: HashMap<[u8; HASH_LEN], (u32, u32)>,
    /// The pack being filled: its chunks and their bytes.
    chunks: Vec<ChunkRef>,
    data: Vec<u8>,
    /// The packs closed, in order.
    packs: Vec<Blob>,
    /// The chunks handed back to be stored alone.
    alone: Vec<[u8; HASH_LEN]>,
    /// The bytes of the packs closed.
    pub written: u64,
}

impl Packer {
    pub(crate) fn new(stored: Stored) -> Self {
        Packer {
            stored,
            new: HashMap::new(),
            chunks: Vec::new(),
            data: Vec::new(),
            packs: Vec::new(),
            alone: Vec::new(),
            written: 0,
        }
    }

    /// Places `chunk`, whose bytes are `bytes`; returns the pack it closed,
    /// if it filled one.
    pub(crate) fn add(&mut self, chunk: ChunkRef, bytes: &[u8]) -> (Placement, Option<Sealed>) {
        if let Some(place) = self.stored.place(&chunk) {
            return (Placement::Stored(place), None);
        }
        self.add_new(chunk, bytes)
    }

    /// Places the first chunk of a checkpoint, which holds its header and
    /// so differs for every checkpoint: alone, so that no pack is kept for
    /// the sake of a chunk only one checkpoint lists. Returns it to write
    /// unless the store holds it.
    pub(crate) fn add_alone(
        &mut self,
        chunk: ChunkRef,
        bytes: &[u8],
    ) -> (Placement, Option<Sealed>) {
        let placement = Placement::Stored(Place::Alone);
        if self.stored.place(&chunk) == Some(Place::Alone) {
            return (placement, None);
        }
        self.written += bytes.len() as u64;
        self.alone.push(chunk.hash);
        (placement, Some((chunk.key(), bytes.to_vec())))
    }

    /// Places `chunk` in this save's packs, wherever the store holds it.
    pub(crate) fn add_new(&mut self, chunk: ChunkRef, bytes: &[u8]) -> (Placement, Option<Sealed>) {
        if let Some(&(pack, at)) = self.new.get(&chunk.hash) {
            return (Placement::New { pack, at }, None);
        }
        let (pack, at) = (self.packs.len() as u32, self.data.len() as u32);
        self.new.insert(chunk.hash, (pack, at));
        self.chunks.push(chunk);
        if self.data.capacity() == 0 {
            // A pack closes past its target by less than a chunk: held at
            // its size from the start, it is never grown by copying.
            self.data.reserve_exact(PACK_TARGET + MAX_CHUNK as usize);
        }
        self.data.extend_from_slice(bytes);
        let sealed = (self.data.len() >= PACK_TARGET)
            .then(|| self.seal())
            .flatten();
        (Placement::New { pack, at }, sealed)
    }

    /// Closes the pack being filled; `None` when it holds nothing.
    pub(crate) fn seal(&mut self) -> Option<Sealed> {
        if self.chunks.is_empty() {
            return None;
        }
        let bytes = std::mem::take(&mut self.data);
        let pack = Blob {
            hash: *blake3::hash(&bytes).as_bytes(),
            len: bytes.len() as u64,
            packed: true,
        };
        self.packs.push(pack);
        self.written += pack.len;
        self.chunks.clear();
        Some((pack.key(), bytes))
    }

    /// Where the chunks this save handed back to be stored lie: in the
    /// packs it closed, or alone. A save that must start over (its intent
    /// lapsed, a sweep ran) carries them into [`Stored::read`], so that it
    /// does not store them again.
    pub(crate) fn stored_now(&self) -> Vec<([u8; HASH_LEN], Place)> {
        let closed = self.packs.len() as u32;
        let packed =
            self.new
                .iter()
                .filter(|(_, (pack, _))| *pack < closed)
                .map(|(hash, &(pack, at))| {
                    let place = Place::Packed {
                        pack: self.packs[pack as usize],
                        offset: at,
                    };
                    (*hash, place)
                });
        self.alone
            .iter()
            .map(|hash| (*hash, Place::Alone))
            .chain(packed)
            .collect()
    }

    /// Forgets the pack being filled: the save starts over, and the packs
    /// already closed (handed on to be written) may still be used.
    pub(crate) fn restart(&mut self) {
        let open = self.packs.len() as u32;
        self.new.retain(|_, (pack, _)| *pack < open);
        self.chunks.clear();
        self.data.clear();
    }

    /// The chunks among `placed` found stored that do not read back intact,
    /// of the values (packs, or chunks stored alone) this save checks: about
    /// [`CHECKED`] of those it lists chunks from without storing them, each
    /// chosen once in every `n / CHECKED` saves when it lists `n` (a value's
    /// hash and the save's `seq` choose).
    ///
    /// A save lists a stored chunk on the word of an earlier manifest, without
    /// reading it: a chunk damaged on the store would otherwise stay in every
    /// later checkpoint while the state around it does not change, each
    /// committed and none restorable. So every save reads a few values back,
    /// and a chunk found damaged or missing is stored anew
    /// (`docs/FORMAT.md`, "Packs").
    ///
    /// `renew` runs before each read: the save's intent must stay live.
    ///
    /// # Errors
    ///
    /// When the store fails otherwise than by an unreadable value, or `renew`
    /// fails.
    pub(crate) fn damaged_stored(
        &self,
        store: &dyn Store,
        seq: u64,
        placed: &[(ChunkRef, Placement)],
        renew: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<HashSet<[u8; HASH_LEN]>, StoreError> {
        let mut listed: HashMap<Blob, Vec<(ChunkRef, u32)>> = HashMap::new();
        let mut seen = HashSet::new();
        for (chunk, placement) in placed {
            let (blob, offset) = match *placement {
                Placement::Stored(Place::Packed { pack, offset }) => (pack, offset),
                // The first chunk, when this save stored it.
                Placement::Stored(Place::Alone) if self.alone.contains(&chunk.hash) => continue,
                Placement::Stored(Place::Alone) => (Blob::alone(chunk), 0),
                Placement::New { .. } => continue,
            };
            if !self.stored.is_own(&chunk.hash) && seen.insert(chunk.hash) {
                listed.entry(blob).or_default().push((*chunk, offset));
            }
        }
        let period = (listed.len() as u64).div_ceil(CHECKED).max(1);
        let mut damaged = HashSet::new();
        for (blob, chunks) in listed {
            let turn = u64::from_le_bytes(blob.hash[..8].try_into().expect("8 bytes"));
            if turn.wrapping_add(seq) % period != 0 {
                continue;
            }
            renew()?;
            let bytes = match store.get(&blob.key()) {
                Ok(bytes) => bytes.unwrap_or_default(),
                Err(StoreError::Unreadable { .. }) => Vec::new(),
                Err(e) => return Err(e),
            };
            for (chunk, offset) in chunks {
                let start = offset as usize;
                let intact = bytes
                    .get(start..start + chunk.len as usize)
                    .is_some_and(|held| ChunkRef::of(held) == chunk);
                if !intact {
                    tracing::warn!(
                        "chunk {} in `{}` does not read back intact: stored anew",
                        chunk.hex(),
                        store.location(&blob.key())
                    );
                    damaged.insert(chunk.hash);
                }
            }
        }
        Ok(damaged)
    }

    /// Stores again, in this save's packs, the chunks `placed` lists in a
    /// pack of which it uses less than a quarter: once the checkpoints
    /// listing the rest are gone, retention deletes the pack, so that the
    /// bytes of chunks no kept checkpoint lists stay a bounded share of the
    /// store. The sparsest packs go first, and a save copies at most as
    /// many bytes as it wrote otherwise (or one pack's worth), so that no
    /// single save pays for all the packs that thinned out.
    /// Hands each pack it closes to `put`. A chunk that does not read back
    /// intact keeps its place (every checkpoint listing it is damaged
    /// already).
    ///
    /// # Errors
    ///
    /// When the store or `put` fails.
    pub(crate) fn repack(
        &mut self,
        store: &dyn Store,
        placed: &mut [(ChunkRef, Placement)],
        put: &mut dyn FnMut(Sealed) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // Each pack's distinct chunks this save lists, and their bytes.
        let mut used: HashMap<Blob, (u64, Vec<(ChunkRef, u32)>)> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for (chunk, placement) in placed.iter() {
            if let Placement::Stored(Place::Packed { pack, offset }) = placement {
                if seen.insert(chunk.hash) {
                    let entry = used.entry(*pack).or_default();
                    entry.0 += u64::from(chunk.len);
                    entry.1.push((*chunk, *offset));
                }
            }
        }
        let mut sparse: Vec<_> = used
            .into_iter()
            .filter(|(pack, (bytes, _))| bytes * SPARSE < pack.len)
            .collect();
        sparse.sort_unstable_by_key(|(pack, (bytes, _))| (*bytes * 1024 / pack.len, pack.hash));
        let mut budget = self.written.max(PACK_TARGET as u64);
        let mut moved: HashMap<[u8; HASH_LEN], Placement> = HashMap::new();
        for (pack, (bytes, chunks)) in sparse {
            if bytes > budget {
                break;
            }
            budget -= bytes;
            let key = pack.key();
            for (chunk, offset) in chunks {
                let bytes = match store.get_range(&key, u64::from(offset), chunk.len as usize) {
                    Ok(Some(bytes)) if ChunkRef::of(&bytes) == chunk => bytes,
                    Ok(_) | Err(StoreError::Unreadable { .. }) => continue,
                    Err(e) => return Err(e),
                };
                let (placement, full) = self.add_new(chunk, &bytes);
                moved.insert(chunk.hash, placement);
                if let Some(full) = full {
                    put(full)?;
                }
            }
        }
        for (chunk, placement) in placed.iter_mut() {
            if let Some(new) = moved.get(&chunk.hash) {
                *placement = *new;
            }
        }
        Ok(())
    }

    /// The manifest of checkpoint `seq` of `total_len` bytes, whose chunks
    /// are `placed`, in order; every pack must be closed.
    pub(crate) fn manifest(
        &self,
        seq: u64,
        total_len: u64,
        placed: &[(ChunkRef, Placement)],
    ) -> Manifest {
        debug_assert!(self.chunks.is_empty(), "a pack is still open");
        let mut blobs = Vec::new();
        let mut index: HashMap<Blob, u32> = HashMap::new();
        let mut blob_index = |blob: Blob| {
            *index.entry(blob).or_insert_with(|| {
                blobs.push(blob);
                (blobs.len() - 1) as u32
            })
        };
        let chunks = placed
            .iter()
            .map(|&(chunk, placement)| {
                let (blob, offset) = match placement {
                    Placement::Stored(Place::Alone) => (Blob::alone(&chunk), 0),
                    Placement::Stored(Place::Packed { pack, offset }) => (pack, offset),
                    Placement::New { pack, at } => (self.packs[pack as usize], at),
                };
                Placed {
                    chunk,
                    blob: blob_index(blob),
                    offset,
                }
            })
            .collect();
        Manifest {
            seq,
            total_len,
            blobs,
            chunks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::stored::Earlier;
    use super::super::writer::stored_chunks;
    use super::*;
    use crate::keys;
    use crate::store::MemStore;

    fn chunk(n: u8, len: usize) -> (ChunkRef, Vec<u8>) {
        let bytes = vec![n; len];
        (ChunkRef::of(&bytes), bytes)
    }

    /// What a save whose earlier manifest is `manifest` finds stored.
    fn stored(store: &dyn Store, manifest: &Manifest) -> Stored {
        Stored::from_manifest(manifest, &stored_chunks(store).unwrap())
    }

    /// Saves `chunks` (the first alone) as checkpoint `seq` with `packer`,
    /// writing what it closes; returns the manifest.
    fn save(
        store: &dyn Store,
        mut packer: Packer,
        seq: u64,
        chunks: &[&(ChunkRef, Vec<u8>)],
    ) -> Manifest {
        let mut put = |(key, bytes): Sealed| store.put_if_absent(&key, &bytes);
        let mut placed = Vec::new();
        for (i, (chunk, bytes)) in chunks.iter().enumerate() {
            let (placement, full) = if i == 0 {
                packer.add_alone(*chunk, bytes)
            } else {
                packer.add(*chunk, bytes)
            };
            placed.push((*chunk, placement));
            if let Some(full) = full {
                put(full).unwrap();
            }
        }
        packer.repack(store, &mut placed, &mut put).unwrap();
        if let Some(last) = packer.seal() {
            put(last).unwrap();
        }
        let total = chunks.iter().map(|(c, _)| u64::from(c.len)).sum();
        packer.manifest(seq, total, &placed)
    }

    /// The bytes `manifest` says its chunks are, read from `store`.
    fn read_back(store: &dyn Store, manifest: &Manifest) -> Vec<u8> {
        let mut out = Vec::new();
        for placed in &manifest.chunks {
            let blob = manifest.blob_of(placed);
            let bytes = store
                .get_range(
                    &blob.key(),
                    u64::from(placed.offset),
                    placed.chunk.len as usize,
                )
                .unwrap()
                .unwrap();
            assert_eq!(ChunkRef::of(&bytes), placed.chunk);
            out.extend(bytes);
        }
        out
    }

    #[test]
    fn a_save_lists_what_an_earlier_manifest_holds_and_packs_the_rest() {
        let store = MemStore::new();
        let (head, a, b) = (chunk(1, 50), chunk(2, 100), chunk(3, 200));
        let first = save(&store, Packer::new(Stored::default()), 1, &[&head, &a, &a]);
        // The first chunk alone, `a` once in a pack of its own bytes only.
        assert_eq!(first.blobs.len(), 2);
        assert!(!first.blobs[0].packed && first.blobs[1].packed);
        assert_eq!(first.blobs[1].len, 100);
        assert_eq!(first.chunks[1], first.chunks[2]);
        assert_eq!(
            read_back(&store, &first),
            [&head.1[..], &a.1, &a.1].concat()
        );

        let mut second = Packer::new(stored(&store, &first));
        assert!(matches!(
            second.add(a.0, &a.1).0,
            Placement::Stored(Place::Packed { offset: 0, .. })
        ));
        assert_eq!(second.add(b.0, &b.1).0, Placement::New { pack: 0, at: 0 });
        assert_eq!(second.seal().unwrap().1, b.1);

        // A pack the store no longer lists is not listed again.
        store.delete(&first.blobs[1].key()).unwrap();
        let mut third = Packer::new(stored(&store, &first));
        assert_eq!(third.add(a.0, &a.1).0, Placement::New { pack: 0, at: 0 });
    }

    #[test]
    fn the_earlier_manifest_is_the_newest_that_reads() {
        let store = MemStore::new();
        let (head, a) = (chunk(1, 50), chunk(2, 100));
        let first = save(&store, Packer::new(Stored::default()), 1, &[&head, &a]);
        store
            .put_if_absent(&keys::checkpoint(1), &first.encode())
            .unwrap();
        // A newer checkpoint that is not a manifest, and one that does not
        // read.
        store
            .put_if_absent(&keys::checkpoint(2), b"a whole checkpoint")
            .unwrap();
        let mut damaged = first.clone();
        damaged.seq = 3;
        let mut bytes = damaged.encode();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        store.put_if_absent(&keys::checkpoint(3), &bytes).unwrap();
        let found = Earlier::Checkpoint.manifest(&store, 4).unwrap();
        assert_eq!(found, Some(first.clone()));
        assert_eq!(Earlier::Checkpoint.manifest(&store, 1).unwrap(), None);
        let stored = Stored::read(&store, Earlier::Checkpoint, 4, &[]).unwrap();
        assert!(matches!(stored.place(&a.0), Some(Place::Packed { .. })));
        assert_eq!(stored.place(&head.0), Some(Place::Alone));
    }

    #[test]
    fn a_full_pack_is_closed_and_a_restart_forgets_the_open_one() {
        let mut packer = Packer::new(Stored::default());
        let (big, big_bytes) = chunk(3, PACK_TARGET);
        let (small, small_bytes) = chunk(4, 10);
        assert!(packer.add(big, &big_bytes).1.is_some());
        packer.add(small, &small_bytes);
        packer.restart();
        assert_eq!(packer.seal(), None);
        assert_eq!(
            packer.add(big, &big_bytes).0,
            Placement::New { pack: 0, at: 0 }
        );
        assert_eq!(
            packer.add(small, &small_bytes).0,
            Placement::New { pack: 1, at: 0 }
        );
    }

    #[test]
    fn chunks_of_a_pack_used_less_than_a_quarter_are_packed_again() {
        let store = MemStore::new();
        let (head, a, b) = (chunk(4, 10), chunk(5, 100), chunk(6, 1000));
        let first = save(&store, Packer::new(Stored::default()), 1, &[&head, &a, &b]);
        let old_pack = first.blobs[1];

        // Only the small chunk is used: it moves to the save's own pack.
        let sparse = save(&store, Packer::new(stored(&store, &first)), 2, &[&head, &a]);
        assert_ne!(sparse.blob_of(&sparse.chunks[1]).hash, old_pack.hash);
        assert_eq!(read_back(&store, &sparse), [&head.1[..], &a.1].concat());

        // Most of the pack is used: it stays where it is.
        let dense = save(&store, Packer::new(stored(&store, &first)), 3, &[&head, &b]);
        assert_eq!(dense.blob_of(&dense.chunks[1]), &old_pack);
    }

    #[test]
    fn a_save_copies_no_more_than_it_writes_or_one_pack() {
        let store = MemStore::new();
        // Eight packs of six chunks of 800 KiB; a later save lists one
        // chunk of each, and writes nothing new but its first chunk.
        let head = chunk(1, 10);
        let chunks: Vec<_> = (0..48u8).map(|i| chunk(10 + i, 800 << 10)).collect();
        let mut all = vec![&head];
        all.extend(&chunks);
        let first = save(&store, Packer::new(Stored::default()), 1, &all);
        assert_eq!(first.blobs.len(), 9);
        let mut used = vec![&head];
        used.extend(chunks.iter().step_by(6));
        let second = save(&store, Packer::new(stored(&store, &first)), 2, &used);
        // Every pack is sparse; one pack's worth (4 MiB) of copies is five
        // chunks.
        let moved = second
            .chunks
            .iter()
            .skip(1)
            .filter(|c| !first.blobs.contains(second.blob_of(c)))
            .count();
        assert_eq!(moved, 5);
        let expected: Vec<u8> = used.iter().flat_map(|(_, b)| b.clone()).collect();
        assert_eq!(read_back(&store, &second), expected);
    }

    #[test]
    fn the_first_chunk_is_stored_alone() {
        let store = MemStore::new();
        let (a, a_bytes) = chunk(7, 100);
        let mut packer = Packer::new(Stored::default());
        let (placement, alone) = packer.add_alone(a, &a_bytes);
        assert_eq!(placement, Placement::Stored(Place::Alone));
        let (key, bytes) = alone.unwrap();
        assert_eq!((key.as_str(), &bytes[..]), (a.key().as_str(), &a_bytes[..]));
        store.put_if_absent(&key, &bytes).unwrap();
        let manifest = packer.manifest(1, 100, &[(a, placement)]);
        assert_eq!(manifest.blob_keys().collect::<Vec<_>>(), [key]);
        let mut again = Packer::new(stored(&store, &manifest));
        assert_eq!(again.add_alone(a, &a_bytes).1, None);
    }

    #[test]
    fn each_stored_value_is_read_back_once_in_a_round_of_saves() {
        // Six packs of two chunks each, none in the (empty) store: every
        // chunk of a pack read back is found missing.
        let placed: Vec<(ChunkRef, Placement)> = (0..12u8)
            .map(|i| {
                let pack = Blob {
                    hash: *blake3::hash(&[i / 2]).as_bytes(),
                    len: 2,
                    packed: true,
                };
                let place = Place::Packed {
                    pack,
                    offset: u32::from(i % 2),
                };
                (ChunkRef::of(&[i]), Placement::Stored(place))
            })
            .collect();
        let store = MemStore::new();
        let mut seen = HashSet::new();
        // Six packs, two read per save: each once in three saves.
        for seq in 40..43 {
            let damaged = Packer::new(Stored::default())
                .damaged_stored(&store, seq, &placed, &mut || Ok(()))
                .unwrap();
            assert_eq!(damaged.len() % 2, 0, "a pack read back in part");
            for hash in damaged {
                assert!(seen.insert(hash), "#{seq} read a pack again");
            }
        }
        assert_eq!(seen.len(), 12);
        // New chunks are never read back, and an intact pack has no damage.
        let (chunk, bytes) = chunk(7, 100);
        store
            .put_if_absent(&keys::chunk(&chunk.hex()), &bytes)
            .unwrap();
        let mut intact = vec![(chunk, Placement::Stored(Place::Alone))];
        intact.push((ChunkRef::of(b"x"), Placement::New { pack: 0, at: 0 }));
        assert!(Packer::new(Stored::default())
            .damaged_stored(&store, 1, &intact, &mut || Ok(()))
            .unwrap()
            .is_empty());
        // A flipped byte is found.
        let mut flipped = bytes.clone();
        flipped[50] ^= 1;
        let other = MemStore::new();
        other
            .put_if_absent(&keys::chunk(&chunk.hex()), &flipped)
            .unwrap();
        let found = Packer::new(Stored::default())
            .damaged_stored(&other, 1, &intact, &mut || Ok(()))
            .unwrap();
        assert_eq!(found, HashSet::from([chunk.hash]));
    }

    #[test]
    fn what_a_save_stores_itself_is_not_read_back() {
        let store = MemStore::new();
        let (first, first_bytes) = chunk(1, 100);
        let (other, other_bytes) = chunk(2, 100);
        // Stored by an earlier attempt of the same save.
        store
            .put_if_absent(&keys::chunk(&other.hex()), &other_bytes)
            .unwrap();
        let carried = [(other.hash, Place::Alone)];
        let mut packer =
            Packer::new(Stored::read(&store, Earlier::Checkpoint, 1, &carried).unwrap());
        // The first chunk, to be written: not in the store yet.
        let (placement, written) = packer.add_alone(first, &first_bytes);
        assert!(written.is_some());
        let (again, _) = packer.add(other, &other_bytes);
        assert_eq!(again, Placement::Stored(Place::Alone));
        let placed = [(first, placement), (other, again)];
        // Nothing to read back: neither reads as damaged, whatever the
        // save's number.
        for seq in 0..4 {
            let damaged = packer
                .damaged_stored(&store, seq, &placed, &mut || Ok(()))
                .unwrap();
            assert!(damaged.is_empty(), "#{seq}");
        }
    }
}
