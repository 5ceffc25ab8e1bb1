//! Packs: the chunks one save stores, several to a value, so that a
//! restore reads a few large values rather than one per chunk
//! (`docs/FORMAT.md`, "Packs").
//!
//! ```text
//! pack    magic[8]="CKPTPACK" version:u16=1 flags:u16=0 count:u32
//!         count x (hash[32] len:u32)
//!         head_crc:u32
//!         the chunks' bytes, in the order listed
//! ```
//!
//! A pack is named by the BLAKE3 hash of its bytes. The manifest says
//! where each chunk lies, so a restore never reads a pack's head: only a
//! saver does, to learn which chunks the store holds already. A pack whose
//! head is damaged is therefore never used again by a save (its chunks are
//! stored anew), and restores of the checkpoints that list it check each
//! chunk they read against its hash, as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::manifest::{Blob, ChunkRef, Manifest, Placed, HASH_LEN, MAX_PACK_LEN};
use super::writer::stored_chunks;
use crate::keys::PACK_SUFFIX;
use crate::store::{Store, StoreError};

const MAGIC: [u8; 8] = *b"CKPTPACK";
const VERSION: u16 = 1;
/// Magic, version, flags and count.
const HEAD_FIXED: usize = 16;
/// One chunk of a pack's head: hash and length.
const ENTRY_LEN: usize = HASH_LEN + 4;
/// A save closes its pack once the pack holds this many bytes of chunks.
pub(crate) const PACK_TARGET: usize = 4 << 20;
/// A head listing more chunks than this is not read.
const MAX_COUNT: usize = 8192;
/// How many bytes of a pack a saver reads first: the whole head of a pack
/// of up to a hundred chunks.
const FIRST_READ: usize = 4096;
/// The most pack heads read at once, whatever the store asks for.
const MAX_READERS: usize = 64;

/// The length of the head of a pack of `count` chunks.
fn head_len(count: usize) -> usize {
    HEAD_FIXED + count * ENTRY_LEN + 4
}

/// The bytes of a pack of `chunks`, whose bytes one after another are
/// `data`.
pub(crate) fn encode(chunks: &[ChunkRef], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head_len(chunks.len()) + data.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
    for chunk in chunks {
        out.extend_from_slice(&chunk.hash);
        out.extend_from_slice(&chunk.len.to_le_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// What a pack's head says.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    /// The chunks it lists, each with its offset in the pack.
    chunks: Vec<(ChunkRef, u32)>,
    /// The pack's length.
    len: u64,
}

/// What the head at the start of `head` (a pack's first bytes) says; the
/// length it needs when they are too short to hold it, `None` when it does
/// not read.
fn decode_head(head: &[u8]) -> Result<Head, Option<usize>> {
    let fixed = head.get(..HEAD_FIXED).ok_or(None)?;
    if fixed[..8] != MAGIC || fixed[8..10] != VERSION.to_le_bytes() || fixed[10..12] != [0, 0] {
        return Err(None);
    }
    let count = u32::from_le_bytes(fixed[12..16].try_into().unwrap_or([0; 4])) as usize;
    if count == 0 || count > MAX_COUNT {
        return Err(None);
    }
    let len = head_len(count);
    let Some(whole) = head.get(..len) else {
        return Err(Some(len));
    };
    let (listed, crc) = whole.split_at(len - 4);
    if crc32c::crc32c(listed) != u32::from_le_bytes(crc.try_into().unwrap_or([0; 4])) {
        return Err(None);
    }
    let mut at = len as u64;
    let mut chunks = Vec::with_capacity(count);
    for entry in listed[HEAD_FIXED..].chunks_exact(ENTRY_LEN) {
        let mut hash = [0; HASH_LEN];
        hash.copy_from_slice(&entry[..HASH_LEN]);
        let chunk = ChunkRef {
            hash,
            len: u32::from_le_bytes(entry[HASH_LEN..].try_into().unwrap_or([0; 4])),
        };
        let offset = u32::try_from(at).map_err(|_| None)?;
        at += u64::from(chunk.len);
        chunks.push((chunk, offset));
    }
    if at > MAX_PACK_LEN {
        return Err(None);
    }
    Ok(Head { chunks, len: at })
}

/// The chunks pack `key` holds, from its head; `None` when it is gone or
/// its head cannot be read: a save then stores those chunks again.
fn read_head(store: &dyn Store, key: &str) -> Result<Option<Head>, StoreError> {
    let mut want = FIRST_READ;
    loop {
        let head = match store.get_prefix(key, want) {
            Ok(Some(head)) => head,
            Ok(None) | Err(StoreError::Unreadable { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        match decode_head(&head) {
            Ok(read) => return Ok(Some(read)),
            Err(Some(need)) if need > want && head.len() == want => want = need,
            Err(_) => return Ok(None),
        }
    }
}

/// Where the store holds a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Alone, under its own hash.
    Alone,
    /// In `pack`, from byte `offset` on.
    Packed { pack: Blob, offset: u32 },
}

/// The chunks a store holds, as the chunk protocol lets a saver see them
/// after its intent: chunks stored alone, and the chunks of each pack
/// whose head is intact.
#[derive(Debug, Default)]
pub(crate) struct Stored {
    places: HashMap<[u8; HASH_LEN], Place>,
}

impl Stored {
    /// Lists the store's chunks and packs and reads the heads of the packs.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub(crate) fn read(store: &dyn Store) -> Result<Stored, StoreError> {
        let mut places = HashMap::new();
        let mut packs = Vec::new();
        for key in stored_chunks(store)? {
            let name = key.rsplit('/').next().unwrap_or_default();
            match name.strip_suffix(PACK_SUFFIX) {
                Some(hex) => packs.push((key.clone(), parse_hex(hex))),
                None => {
                    if let Some(hash) = parse_hex(name) {
                        places.insert(hash, Place::Alone);
                    }
                }
            }
        }
        let next = AtomicUsize::new(0);
        let heads = Mutex::new(Vec::new());
        let read = || -> Result<(), StoreError> {
            while let Some((key, hash)) = packs.get(next.fetch_add(1, Ordering::Relaxed)) {
                let Some(hash) = hash else { continue };
                if let Some(head) = read_head(store, key)? {
                    heads
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((*hash, head));
                }
            }
            Ok(())
        };
        std::thread::scope(|scope| {
            let threads = store.concurrent_requests().clamp(1, MAX_READERS);
            let readers: Vec<_> = (1..threads.min(packs.len()))
                .map(|_| scope.spawn(read))
                .collect();
            let mine = read();
            readers
                .into_iter()
                .map(|r| {
                    r.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .fold(mine, Result::and)
        })?;
        let mut heads = heads
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The same chunk in two packs: either will do, the same one each
        // time.
        heads.sort_unstable_by_key(|(hash, _)| *hash);
        for (hash, head) in heads {
            let pack = Blob {
                hash,
                len: head.len,
                packed: true,
            };
            for (chunk, offset) in head.chunks {
                places
                    .entry(chunk.hash)
                    .or_insert(Place::Packed { pack, offset });
            }
        }
        Ok(Stored { places })
    }

    /// Where the store holds `chunk`, if it does.
    pub(crate) fn place(&self, chunk: &ChunkRef) -> Option<Place> {
        self.places.get(&chunk.hash).copied()
    }
}

fn parse_hex(hex: &str) -> Option<[u8; HASH_LEN]> {
    if hex.len() != 2 * HASH_LEN {
        return None;
    }
    let mut hash = [0; HASH_LEN];
    for (byte, pair) in hash.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(hash)
}

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
    /// The packs closed, in order, and the length of each one's head.
    packs: Vec<(Blob, u32)>,
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
        (placement, Some((chunk.key(), bytes.to_vec())))
    }

    /// Places `chunk` in this save's packs, wherever the store holds it.
    fn add_new(&mut self, chunk: ChunkRef, bytes: &[u8]) -> (Placement, Option<Sealed>) {
        if let Some(&(pack, at)) = self.new.get(&chunk.hash) {
            return (Placement::New { pack, at }, None);
        }
        let (pack, at) = (self.packs.len() as u32, self.data.len() as u32);
        self.new.insert(chunk.hash, (pack, at));
        self.chunks.push(chunk);
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
        let bytes = encode(&self.chunks, &self.data);
        let pack = Blob {
            hash: *blake3::hash(&bytes).as_bytes(),
            len: bytes.len() as u64,
            packed: true,
        };
        self.packs.push((pack, head_len(self.chunks.len()) as u32));
        self.written += pack.len;
        self.chunks.clear();
        self.data.clear();
        Some((pack.key(), bytes))
    }

    /// Forgets the pack being filled: the save starts over, and the packs
    /// already closed (handed on to be written) may still be used.
    pub(crate) fn restart(&mut self) {
        let open = self.packs.len() as u32;
        self.new.retain(|_, (pack, _)| *pack < open);
        self.chunks.clear();
        self.data.clear();
    }

    /// Stores again, in this save's packs, the chunks `placed` lists in a
    /// pack of which it uses less than half: once the checkpoints listing
    /// the rest are gone, retention deletes the pack, so that the bytes of
    /// chunks no kept checkpoint lists stay a bounded share of the store.
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
            .filter(|(pack, (bytes, _))| bytes * 2 < pack.len)
            .collect();
        sparse.sort_unstable_by_key(|(pack, _)| pack.hash);
        let mut moved: HashMap<[u8; HASH_LEN], Placement> = HashMap::new();
        for (pack, (_, chunks)) in sparse {
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
                    Placement::Stored(Place::Alone) => (
                        Blob {
                            hash: chunk.hash,
                            len: u64::from(chunk.len),
                            packed: false,
                        },
                        0,
                    ),
                    Placement::Stored(Place::Packed { pack, offset }) => (pack, offset),
                    Placement::New { pack, at } => {
                        let (pack, head) = self.packs[pack as usize];
                        (pack, head + at)
                    }
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
    use super::*;
    use crate::store::MemStore;

    fn chunk(n: u8, len: usize) -> (ChunkRef, Vec<u8>) {
        let bytes = vec![n; len];
        (ChunkRef::of(&bytes), bytes)
    }

    #[test]
    fn a_packs_head_reads_back_and_damage_hides_it() {
        let (a, a_bytes) = chunk(1, 10);
        let (b, b_bytes) = chunk(2, 30);
        let pack = encode(&[a, b], &[a_bytes, b_bytes].concat());
        let read = decode_head(&pack).unwrap();
        let head = head_len(2) as u32;
        assert_eq!(read.chunks, vec![(a, head), (b, head + 10)]);
        assert_eq!(read.len, pack.len() as u64);
        assert_eq!(decode_head(&pack[..20]), Err(Some(head as usize)));
        for at in 0..head as usize {
            let mut bad = pack.clone();
            bad[at] ^= 1;
            assert!(decode_head(&bad).is_err(), "byte {at}");
        }
    }

    #[test]
    fn a_save_uses_what_the_store_holds_and_packs_the_rest() {
        let store = MemStore::new();
        let (a, a_bytes) = chunk(1, 100);
        let (b, b_bytes) = chunk(2, 200);
        let mut first = Packer::new(Stored::read(&store).unwrap());
        let (placed_a, none) = first.add(a, &a_bytes);
        assert_eq!(none, None);
        assert_eq!(
            first.add(a, &a_bytes).0,
            placed_a,
            "a chunk twice is packed once"
        );
        let (key, bytes) = first.seal().unwrap();
        store.put_if_absent(&key, &bytes).unwrap();
        let manifest = first.manifest(1, 200, &[(a, placed_a), (a, placed_a)]);
        assert_eq!(manifest.blobs.len(), 1);
        let at = manifest.chunks[0].offset as usize;
        assert_eq!(&bytes[at..at + 100], &a_bytes[..]);

        let mut second = Packer::new(Stored::read(&store).unwrap());
        let (again, _) = second.add(a, &a_bytes);
        assert!(matches!(again, Placement::Stored(Place::Packed { .. })));
        let (fresh, _) = second.add(b, &b_bytes);
        assert_eq!(fresh, Placement::New { pack: 0, at: 0 });
        assert_eq!(second.seal().unwrap().1.len(), head_len(1) + 200);
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
    fn chunks_of_a_pack_used_less_than_half_are_packed_again() {
        let store = MemStore::new();
        let (a, a_bytes) = chunk(5, 100);
        let (b, b_bytes) = chunk(6, 1000);
        let mut first = Packer::new(Stored::default());
        first.add(a, &a_bytes);
        first.add(b, &b_bytes);
        let (key, bytes) = first.seal().unwrap();
        store.put_if_absent(&key, &bytes).unwrap();
        let mut put = |(key, bytes): Sealed| store.put_if_absent(&key, &bytes);

        // Only the small chunk is used: it moves to the save's own pack.
        let mut sparse = Packer::new(Stored::read(&store).unwrap());
        let mut placed = vec![(a, sparse.add(a, &a_bytes).0)];
        assert!(matches!(
            placed[0].1,
            Placement::Stored(Place::Packed { .. })
        ));
        sparse.repack(&store, &mut placed, &mut put).unwrap();
        assert_eq!(placed[0].1, Placement::New { pack: 0, at: 0 });
        let (key, bytes) = sparse.seal().unwrap();
        let manifest = sparse.manifest(2, 100, &placed);
        assert_eq!(manifest.blobs[0].key(), key);
        let at = manifest.chunks[0].offset as usize;
        assert_eq!(&bytes[at..at + 100], &a_bytes[..]);

        // Most of the pack is used: it stays where it is.
        let mut dense = Packer::new(Stored::read(&store).unwrap());
        let mut placed = vec![(b, dense.add(b, &b_bytes).0)];
        let before = placed.clone();
        dense.repack(&store, &mut placed, &mut put).unwrap();
        assert_eq!(placed, before);
        assert_eq!(dense.seal(), None);
    }

    #[test]
    fn the_first_chunk_is_stored_alone() {
        let store = MemStore::new();
        let (a, a_bytes) = chunk(7, 100);
        let mut packer = Packer::new(Stored::read(&store).unwrap());
        let (placement, alone) = packer.add_alone(a, &a_bytes);
        assert_eq!(placement, Placement::Stored(Place::Alone));
        let (key, bytes) = alone.unwrap();
        assert_eq!((key.as_str(), &bytes[..]), (a.key().as_str(), &a_bytes[..]));
        store.put_if_absent(&key, &bytes).unwrap();
        let mut again = Packer::new(Stored::read(&store).unwrap());
        assert_eq!(again.add_alone(a, &a_bytes).1, None);
        let manifest = again.manifest(1, 100, &[(a, placement)]);
        assert_eq!(manifest.blob_keys().collect::<Vec<_>>(), [key]);
    }
}
