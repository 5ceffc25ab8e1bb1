//! [`Blocks`]: a state of incompressible blocks, each a pure function of
//! its index and version, for the tests of incremental checkpoints and
//! parts: a change to one block changes the chunks around it only, and a
//! restore can be checked block by block; and [`Counting`], a store that
//! counts the chunk bytes written.

use checkpoint::StoreError;

use super::{forward_to_inner, state};

state!(Blocks as "Blocks" { versions: Vec<u64>, blocks: Vec<Vec<u8>> });

/// The bytes of block `i` at `version`: incompressible, and a pure
/// function of both, so a restore can be checked.
pub fn block(i: usize, version: u64, len: usize) -> Vec<u8> {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ version.wrapping_mul(31);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

impl Blocks {
    /// `count` blocks of `len` bytes, all at version 0.
    pub fn new(count: usize, len: usize) -> Self {
        Self::seeded(0, count, len)
    }

    /// `count` blocks of `len` bytes that no other `seed` has.
    pub fn seeded(seed: u64, count: usize, len: usize) -> Self {
        Blocks {
            versions: vec![seed * 1000; count],
            blocks: (0..count).map(|i| block(i, seed * 1000, len)).collect(),
        }
    }

    /// Block `i` rewritten at a new version.
    pub fn change(&mut self, i: usize) {
        self.versions[i] += 1;
        let len = self.blocks[i].len();
        self.blocks[i] = block(i, self.versions[i], len);
    }

    /// Whether every block is the one its version says.
    pub fn is_consistent(&self) -> bool {
        self.blocks
            .iter()
            .zip(&self.versions)
            .enumerate()
            .all(|(i, (b, v))| *b == block(i, *v, b.len()))
    }
}

/// A memory store that counts the chunk bytes written through it (not the
/// chunk protocol's markers).
#[derive(Debug, Default)]
pub struct Counting {
    pub inner: checkpoint::MemStore,
    pub chunk_bytes: std::sync::atomic::AtomicU64,
}

impl checkpoint::Store for Counting {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_if_absent(key, bytes)?;
        let marker = key.starts_with("chunks/intents/") || key.starts_with("chunks/sweeping/");
        if key.starts_with("chunks/") && !marker {
            self.chunk_bytes
                .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }
    forward_to_inner!(get, get_prefix, get_at_most, list, delete, location);
}

/// The keys of the chunks in `store` (not the protocol's markers).
pub fn chunk_keys(store: &dyn checkpoint::Store) -> std::collections::BTreeSet<String> {
    store
        .list("chunks/")
        .unwrap()
        .into_iter()
        .filter(|k| !k.starts_with("chunks/intents/") && !k.starts_with("chunks/sweeping/"))
        .collect()
}

/// The keys of the values holding chunks (packs, or chunks stored alone)
/// that `manifest` (format version 5 or 6) lists, each once, in the order
/// its chunks first list them.
pub fn manifest_blobs(manifest: &[u8]) -> Vec<String> {
    let u64_at = |at: usize| u64::from_le_bytes(manifest[at..at + 8].try_into().unwrap()) as usize;
    let key = |hash: &[u8], packed: bool| {
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let end = if packed { ".pack" } else { "" };
        format!("chunks/{}/{hex}{end}", &hex[..2])
    };
    let mut keys: Vec<String> = match u16::from_le_bytes([manifest[8], manifest[9]]) {
        5 => (0..u64_at(40))
            .map(|i| key(&manifest[52 + 36 * i..][..32], false))
            .collect(),
        6 => (0..u64_at(48))
            .map(|i| {
                let entry = &manifest[60 + 41 * i..][..41];
                key(&entry[..32], entry[40] == 1)
            })
            .collect(),
        version => panic!("not a manifest: version {version}"),
    };
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    keys
}

/// [`manifest_blobs`] of the manifest stored at `key`.
pub fn listed_blobs(store: &dyn checkpoint::Store, key: &str) -> Vec<String> {
    manifest_blobs(&store.get(key).unwrap().expect("a manifest"))
}
