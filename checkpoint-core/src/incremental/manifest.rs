//! The manifest of an incremental checkpoint: format version 5, the
//! checkpoint's prefix and checksums around a list of chunks
//! (`docs/FORMAT.md`, "Incremental checkpoints (version 5)").
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

/// The format version of a manifest.
pub(crate) const VERSION: u16 = 5;
/// The length of a chunk's hash (BLAKE3-256).
pub(crate) const HASH_LEN: usize = 32;
/// One chunk entry: hash and length.
const ENTRY_LEN: usize = HASH_LEN + 4;
/// The manifest's header: total length and chunk count.
const HEADER_LEN: usize = 16;
/// A longer chunk is refused: a reader holds one chunk in memory at a time.
pub(crate) const MAX_CHUNK_LEN: u32 = 16 << 20;
/// A longer manifest is refused before it is read: enough chunks for
/// hundreds of gigabytes.
pub(crate) const MAX_MANIFEST_LEN: u64 = 256 << 20;

/// One chunk a manifest lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ChunkRef {
    /// BLAKE3 of the chunk's bytes: its name in the store.
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
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Its key in a store: `chunks/<first two hex digits>/<hex>`.
    pub(crate) fn key(&self) -> String {
        crate::keys::chunk(&self.hex())
    }
}

/// An incremental checkpoint: the chunks whose concatenation is an
/// ordinary checkpoint of `total_len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub seq: u64,
    pub total_len: u64,
    pub chunks: Vec<ChunkRef>,
}

/// Whether `prefix` starts like a manifest (whatever its checksums say).
pub(crate) fn is_manifest(prefix: &[u8]) -> bool {
    prefix.get(..Prefix::VERSION_AT) == Some(&MAGIC[..])
        && prefix.get(Prefix::VERSION_AT..Prefix::FLAGS_AT) == Some(&VERSION.to_le_bytes()[..])
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
    /// Its bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let body_len = self.chunks.len() * ENTRY_LEN;
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
        let header_crc = crc32c::crc32c(&out);
        out.extend_from_slice(&header_crc.to_le_bytes());
        for chunk in &self.chunks {
            out.extend_from_slice(&chunk.hash);
            out.extend_from_slice(&chunk.len.to_le_bytes());
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
        let header_len = prefix.header_len as usize;
        if header_len != HEADER_LEN {
            return Err(malformed(format!(
                "its manifest header is {header_len} bytes, not {HEADER_LEN}"
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
        let body = &bytes[header_end + 4..end];
        if body.len() % ENTRY_LEN != 0 || (body.len() / ENTRY_LEN) as u64 != count {
            return Err(malformed(format!(
                "its manifest lists {} bytes of chunks for {count} chunks",
                body.len()
            )));
        }
        let mut chunks = Vec::with_capacity(body.len() / ENTRY_LEN);
        let mut sum = 0u64;
        for entry in body.chunks_exact(ENTRY_LEN) {
            let mut hash = [0; HASH_LEN];
            hash.copy_from_slice(&entry[..HASH_LEN]);
            let len = u32::from_le_bytes(entry[HASH_LEN..].try_into().unwrap_or([0; 4]));
            if len == 0 || len > MAX_CHUNK_LEN {
                return Err(malformed(format!(
                    "its manifest lists a chunk of {len} bytes"
                )));
            }
            sum += u64::from(len);
            chunks.push(ChunkRef { hash, len });
        }
        if sum != total_len {
            return Err(malformed(format!(
                "its chunks hold {sum} bytes but its manifest says {total_len}"
            )));
        }
        Ok(Manifest {
            seq,
            total_len,
            chunks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            seq: 7,
            total_len: 30,
            chunks: vec![ChunkRef::of(&[1; 10]), ChunkRef::of(&[2; 20])],
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
}
