//! The manifest of an incremental checkpoint: the checkpoint's prefix and
//! checksums around a list of chunks and where each is stored
//! (`docs/FORMAT.md`, "Incremental checkpoints").
//!
//! Version 6, written since chunks are packed:
//!
//! ```text
//! prefix  magic[8] version:u16=6 flags:u16=0 header_len:u32=24 body_len:u64 seq:u64
//! header  total_len:u64 chunk_count:u64 blob_count:u64
//!         header_crc:u32
//! body    blob_count  x (hash[32] len:u64 kind:u8)       kind 0: one chunk, 1: a pack
//!         chunk_count x (hash[32] len:u32 blob:u32 offset:u32)
//!         crc:u32
//! ```
//!
//! Version 5, still read, lists chunks each stored alone:
//!
//! ```text
//! prefix  magic[8] version:u16=5 flags:u16=0 header_len:u32=16 body_len:u64 seq:u64
//! header  total_len:u64 chunk_count:u64
//!         header_crc:u32
//! body    chunk_count x (hash[32] len:u32)
//!         crc:u32
//! ```

use crate::format::{Prefix, MAGIC, PREFIX_LEN};
use crate::{Error, Result};

/// The format version of a manifest whose chunks are each stored alone.
pub(crate) const VERSION_ALONE: u16 = 5;
/// The format version of a manifest that says where each chunk is stored:
/// alone or in a pack. Every manifest is written so.
pub(crate) const VERSION: u16 = 6;
/// The length of a chunk's hash (BLAKE3-256).
pub(crate) const HASH_LEN: usize = 32;
/// One chunk entry of version 5: hash and length.
const ENTRY_LEN_ALONE: usize = HASH_LEN + 4;
/// One chunk entry of version 6: hash, length, blob and offset.
const ENTRY_LEN: usize = HASH_LEN + 12;
/// One blob entry of version 6: hash, length and kind.
const BLOB_LEN: usize = HASH_LEN + 9;
/// The header of version 5: total length and chunk count.
const HEADER_LEN_ALONE: usize = 16;
/// The header of version 6: total length, chunk count and blob count.
const HEADER_LEN: usize = 24;
/// A longer chunk is refused: a reader holds one chunk in memory at a time.
pub(crate) const MAX_CHUNK_LEN: u32 = 16 << 20;
/// A longer pack is refused.
pub(crate) const MAX_PACK_LEN: u64 = 64 << 20;
/// A longer manifest is refused before it is read: enough chunks for
/// hundreds of gigabytes.
pub(crate) const MAX_MANIFEST_LEN: u64 = 256 << 20;

/// One chunk a manifest lists: what its bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ChunkRef {
    /// BLAKE3 of the chunk's bytes: its name.
    pub hash: [u8; HASH_LEN],
    /// Its length in bytes.
    pub len: u32,
}

impl ChunkRef {
    /// The reference of `bytes` as a chunk.
    pub(crate) fn of(bytes: &[u8]) -> Self {
        ChunkRef {
            hash: *blake3::hash(bytes).as_bytes(),
            len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        }
    }

    /// The hash in lowercase hex.
    pub(crate) fn hex(&self) -> String {
        hex(&self.hash)
    }

    /// Its key in a store when it is stored alone:
    /// `chunks/<first two hex digits>/<hex>`.
    pub(crate) fn key(&self) -> String {
        crate::keys::chunk(&self.hex())
    }
}

/// `hash` in lowercase hex.
pub(crate) fn hex(hash: &[u8; HASH_LEN]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// A value in the store that holds chunks: one chunk stored alone (named
/// by the chunk's hash), or a pack of chunks (named by the hash of its
/// bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Blob {
    pub hash: [u8; HASH_LEN],
    /// Its length in bytes.
    pub len: u64,
    /// Whether it is a pack.
    pub packed: bool,
}

impl Blob {
    /// The value holding `chunk` stored alone.
    pub(crate) fn alone(chunk: &ChunkRef) -> Blob {
        Blob {
            hash: chunk.hash,
            len: u64::from(chunk.len),
            packed: false,
        }
    }

    /// Its key: `chunks/<2 hex>/<hex>`, with `.pack` for a pack.
    pub(crate) fn key(&self) -> String {
        let key = crate::keys::chunk(&hex(&self.hash));
        if self.packed {
            key + crate::keys::PACK_SUFFIX
        } else {
            key
        }
    }
}

/// A chunk and where its bytes lie: in which of the manifest's blobs, from
/// which byte on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placed {
    pub chunk: ChunkRef,
    /// The index of its blob in [`Manifest::blobs`].
    pub blob: u32,
    pub offset: u32,
}

/// An incremental checkpoint: the chunks whose concatenation is an
/// ordinary checkpoint of `total_len` bytes, and the blobs that hold them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub seq: u64,
    pub total_len: u64,
    pub blobs: Vec<Blob>,
    pub chunks: Vec<Placed>,
}

/// Whether `prefix` starts like a manifest (whatever its checksums say).
pub(crate) fn is_manifest(prefix: &[u8]) -> bool {
    prefix.get(..Prefix::VERSION_AT) == Some(&MAGIC[..])
        && [VERSION, VERSION_ALONE].iter().any(|version| {
            prefix.get(Prefix::VERSION_AT..Prefix::FLAGS_AT) == Some(&version.to_le_bytes()[..])
        })
}

/// The whole length a manifest's prefix declares, `None` when it is not
/// one or declares more than a reader accepts.
pub(crate) fn declared_len(prefix: &[u8]) -> Option<u64> {
    if !is_manifest(prefix) {
        return None;
    }
    let total = Prefix::read(prefix)?.total_len()?;
    (total <= MAX_MANIFEST_LEN).then_some(total)
}

impl Manifest {
    /// The blob holding `chunk`.
    pub(crate) fn blob_of(&self, chunk: &Placed) -> &Blob {
        &self.blobs[chunk.blob as usize]
    }

    /// The keys of the blobs it lists: what a sweep keeps for it.
    pub(crate) fn blob_keys(&self) -> impl Iterator<Item = String> + '_ {
        self.blobs.iter().map(Blob::key)
    }

    /// Its bytes, in version 6.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let body_len = self.blobs.len() * BLOB_LEN + self.chunks.len() * ENTRY_LEN;
        let mut out = Vec::with_capacity(PREFIX_LEN + HEADER_LEN + 8 + body_len);
        Prefix {
            version: VERSION,
            flags: 0,
            header_len: HEADER_LEN as u32,
            body_len: body_len as u64,
            seq: self.seq,
        }
        .write(&mut out);
        out.extend_from_slice(&self.total_len.to_le_bytes());
        out.extend_from_slice(&(self.chunks.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.blobs.len() as u64).to_le_bytes());
        let header_crc = crc32c::crc32c(&out);
        out.extend_from_slice(&header_crc.to_le_bytes());
        for blob in &self.blobs {
            out.extend_from_slice(&blob.hash);
            out.extend_from_slice(&blob.len.to_le_bytes());
            out.push(u8::from(blob.packed));
        }
        for placed in &self.chunks {
            out.extend_from_slice(&placed.chunk.hash);
            out.extend_from_slice(&placed.chunk.len.to_le_bytes());
            out.extend_from_slice(&placed.blob.to_le_bytes());
            out.extend_from_slice(&placed.offset.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads the manifest in `bytes`, stored under `key_seq` at `location`,
    /// checking it as a checkpoint is checked: length, then checksums, then
    /// content.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`], [`Error::Corrupt`] or [`Error::Malformed`].
    pub(crate) fn decode(bytes: &[u8], key_seq: u64, location: &str) -> Result<Manifest> {
        let malformed = |reason: String| Error::Malformed {
            seq: key_seq,
            location: location.to_owned(),
            reason,
        };
        let truncated = |expected: u64| Error::Truncated {
            seq: key_seq,
            location: location.to_owned(),
            expected,
            found: bytes.len() as u64,
        };
        if bytes.len() < PREFIX_LEN {
            return Err(truncated(PREFIX_LEN as u64));
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4]));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
        let prefix = match Prefix::read(bytes) {
            Some(prefix) if is_manifest(bytes) => prefix,
            _ => return Err(malformed("it does not start like a manifest".into())),
        };
        let Some(total) = declared_len(bytes) else {
            return Err(malformed("its manifest declares more than 256 MiB".into()));
        };
        let len = bytes.len() as u64;
        if len < total {
            return Err(truncated(total));
        }
        if len > total {
            return Err(malformed(format!(
                "it is {len} bytes long but its manifest header says {total}"
            )));
        }
        let end = crate::format::verified(bytes, key_seq, location)?.len();
        let packed = prefix.version == VERSION;
        let expected_header = if packed { HEADER_LEN } else { HEADER_LEN_ALONE };
        let header_len = prefix.header_len as usize;
        if header_len != expected_header {
            return Err(malformed(format!(
                "its manifest header is {header_len} bytes, not {expected_header}"
            )));
        }
        let header_end = prefix.header_end();
        let (expected, found) = (u32_at(header_end), crc32c::crc32c(&bytes[..header_end]));
        if expected != found {
            return Err(Error::Corrupt {
                seq: key_seq,
                location: location.to_owned(),
                expected,
                found,
            });
        }
        let flags = prefix.flags;
        if flags != 0 {
            return Err(malformed(format!(
                "its manifest has unknown flags {flags:#06x}"
            )));
        }
        let seq = prefix.seq;
        if seq != key_seq {
            return Err(malformed(format!(
                "its prefix says checkpoint #{seq}, its name #{key_seq}"
            )));
        }
        let total_len = u64_at(PREFIX_LEN);
        let count = u64_at(PREFIX_LEN + 8);
        let blob_count = if packed { u64_at(PREFIX_LEN + 16) } else { 0 };
        let body = &bytes[header_end + 4..end];
        let entry_len = if packed { ENTRY_LEN } else { ENTRY_LEN_ALONE };
        let listed =
            u128::from(blob_count) * BLOB_LEN as u128 + u128::from(count) * entry_len as u128;
        if listed != body.len() as u128 {
            return Err(malformed(format!(
                "its manifest lists {} bytes of entries for {count} chunks and {blob_count} blobs",
                body.len()
            )));
        }
        let (blob_bytes, entries) = body.split_at(blob_count as usize * BLOB_LEN);
        let mut blobs = Vec::with_capacity(blob_count as usize);
        for entry in blob_bytes.chunks_exact(BLOB_LEN) {
            let hash = hash_at(entry);
            let len =
                u64::from_le_bytes(entry[HASH_LEN..HASH_LEN + 8].try_into().unwrap_or([0; 8]));
            let packed = match entry[HASH_LEN + 8] {
                0 => false,
                1 => true,
                kind => {
                    return Err(malformed(format!(
                        "its manifest lists a blob of kind {kind}"
                    )))
                }
            };
            if len == 0
                || len
                    > if packed {
                        MAX_PACK_LEN
                    } else {
                        u64::from(MAX_CHUNK_LEN)
                    }
            {
                return Err(malformed(format!(
                    "its manifest lists a blob of {len} bytes"
                )));
            }
            blobs.push(Blob { hash, len, packed });
        }
        let mut chunks = Vec::with_capacity(entries.len() / entry_len);
        let mut sum = 0u64;
        for entry in entries.chunks_exact(entry_len) {
            let u32_in =
                |at: usize| u32::from_le_bytes(entry[at..at + 4].try_into().unwrap_or([0; 4]));
            let chunk = ChunkRef {
                hash: hash_at(entry),
                len: u32_in(HASH_LEN),
            };
            if chunk.len == 0 || chunk.len > MAX_CHUNK_LEN {
                return Err(malformed(format!(
                    "its manifest lists a chunk of {} bytes",
                    chunk.len
                )));
            }
            let placed = if packed {
                let placed = Placed {
                    chunk,
                    blob: u32_in(HASH_LEN + 4),
                    offset: u32_in(HASH_LEN + 8),
                };
                if let Some(reason) = misplaced(&placed, &blobs) {
                    return Err(malformed(format!(
                        "its manifest places chunk {} {reason}",
                        chunk.hex()
                    )));
                }
                placed
            } else {
                // Version 5: each chunk is a blob of its own.
                blobs.push(Blob {
                    hash: chunk.hash,
                    len: u64::from(chunk.len),
                    packed: false,
                });
                Placed {
                    chunk,
                    blob: (blobs.len() - 1) as u32,
                    offset: 0,
                }
            };
            sum += u64::from(chunk.len);
            chunks.push(placed);
        }
        if sum != total_len {
            return Err(malformed(format!(
                "its chunks hold {sum} bytes but its manifest says {total_len}"
            )));
        }
        Ok(Manifest {
            seq,
            total_len,
            blobs,
            chunks,
        })
    }
}

/// What is wrong with where `placed` says its chunk lies, if anything.
fn misplaced(placed: &Placed, blobs: &[Blob]) -> Option<String> {
    let Some(blob) = blobs.get(placed.blob as usize) else {
        return Some(format!("in blob {} of {}", placed.blob, blobs.len()));
    };
    let end = u64::from(placed.offset) + u64::from(placed.chunk.len);
    if end > blob.len {
        return Some(format!(
            "at bytes {}..{end} of a blob of {} bytes",
            placed.offset, blob.len
        ));
    }
    if !blob.packed && (placed.offset != 0 || blob.hash != placed.chunk.hash || end != blob.len) {
        return Some("in a blob stored alone for another chunk".to_owned());
    }
    None
}

fn hash_at(entry: &[u8]) -> [u8; HASH_LEN] {
    let mut hash = [0; HASH_LEN];
    hash.copy_from_slice(&entry[..HASH_LEN]);
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let (a, b) = (ChunkRef::of(&[1; 10]), ChunkRef::of(&[2; 20]));
        Manifest {
            seq: 7,
            total_len: 40,
            blobs: vec![
                Blob {
                    hash: a.hash,
                    len: 10,
                    packed: false,
                },
                Blob {
                    hash: [9; HASH_LEN],
                    len: 100,
                    packed: true,
                },
            ],
            chunks: vec![
                Placed {
                    chunk: a,
                    blob: 0,
                    offset: 0,
                },
                Placed {
                    chunk: b,
                    blob: 1,
                    offset: 60,
                },
                Placed {
                    chunk: a,
                    blob: 0,
                    offset: 0,
                },
            ],
        }
    }

    #[test]
    fn a_manifest_reads_back() {
        let bytes = sample().encode();
        assert!(is_manifest(&bytes));
        assert_eq!(declared_len(&bytes), Some(bytes.len() as u64));
        assert_eq!(Manifest::decode(&bytes, 7, "here").unwrap(), sample());
    }

    #[test]
    fn damage_is_found() {
        let bytes = sample().encode();
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(Manifest::decode(&bad, 7, "here").is_err(), "byte {at}");
        }
        for len in 0..bytes.len() {
            let err = Manifest::decode(&bytes[..len], 7, "here").unwrap_err();
            assert!(matches!(err, Error::Truncated { .. }), "{len}: {err}");
        }
        assert!(matches!(
            Manifest::decode(&bytes, 8, "here"),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn a_chunk_placed_outside_its_blob_is_refused() {
        type Change = fn(&mut Manifest);
        let cases: [(&str, Change); 4] = [
            ("past the pack's end", |m| m.chunks[1].offset = 81),
            ("in a blob that is not listed", |m| m.chunks[1].blob = 2),
            ("in another chunk's blob", |m| m.chunks[1].blob = 0),
            ("inside a chunk stored alone", |m| {
                m.blobs[0].len = 20;
            }),
        ];
        for (what, change) in cases {
            let mut manifest = sample();
            change(&mut manifest);
            let err = Manifest::decode(&manifest.encode(), 7, "here").unwrap_err();
            assert!(
                matches!(&err, Error::Malformed { reason, .. } if reason.contains("places chunk")),
                "{what}: {err}"
            );
        }
    }
}
