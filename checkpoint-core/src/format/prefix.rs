//! The 32 bytes every checkpoint starts with, and the little-endian
//! integers the format is made of.

use super::{MAGIC, MAX_HEADER_LEN, OLDEST_VERSION, VERSION};

/// The fixed-size start of a checkpoint: what it is, its version and flags,
/// and how long its header and body are.
///
/// ```text
/// offset  0  magic[8]
///         8  version:u16
///        10  flags:u16
///        12  header_len:u32
///        16  body_len:u64
///        24  seq:u64
///        32  (header)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// Format version.
    pub version: u16,
    /// Flags; reserved (and ignored by readers) before version 4.
    pub flags: u16,
    /// Length of the header, between the prefix and the header checksum.
    pub header_len: u32,
    /// Length of the body, between the header checksum and the checkpoint's
    /// trailing checksum.
    pub body_len: u64,
    /// Sequence number.
    pub seq: u64,
}

impl Prefix {
    /// The prefix's length in bytes.
    pub const LEN: usize = 32;
    /// Where the version starts.
    pub const VERSION_AT: usize = 8;
    /// Where the flags start.
    pub const FLAGS_AT: usize = 10;
    /// Where the header length starts.
    pub const HEADER_LEN_AT: usize = 12;
    /// Where the body length starts.
    pub const BODY_LEN_AT: usize = 16;
    /// Where the sequence number starts.
    pub const SEQ_AT: usize = 24;

    /// Reads the prefix at the start of `bytes`; `None` when `bytes` is
    /// shorter than a prefix or does not start with [`MAGIC`]. Any version
    /// is read: [`Prefix::known`] says whether this release reads it.
    pub fn read(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < Self::LEN || bytes[..MAGIC.len()] != MAGIC {
            return None;
        }
        Some(Prefix {
            version: u16_at(bytes, Self::VERSION_AT)?,
            flags: u16_at(bytes, Self::FLAGS_AT)?,
            header_len: u32_at(bytes, Self::HEADER_LEN_AT)?,
            body_len: u64_at(bytes, Self::BODY_LEN_AT)?,
            seq: u64_at(bytes, Self::SEQ_AT)?,
        })
    }

    /// Appends the prefix to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.header_len.to_le_bytes());
        out.extend_from_slice(&self.body_len.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
    }

    /// Overwrites the body length in a checkpoint's first bytes.
    pub(crate) fn patch_body_len(checkpoint: &mut [u8], body_len: u64) {
        checkpoint[Self::BODY_LEN_AT..Self::SEQ_AT].copy_from_slice(&body_len.to_le_bytes());
    }

    /// Whether this release reads the prefix's version.
    pub fn known(&self) -> bool {
        (OLDEST_VERSION..=VERSION).contains(&self.version)
    }

    /// Where the header ends and its checksum starts.
    pub fn header_end(&self) -> usize {
        Self::LEN + self.header_len as usize
    }

    /// Where the body starts: after the header and its checksum.
    pub fn body_start(&self) -> usize {
        self.header_end() + 4
    }

    /// Whether the header length is within [`MAX_HEADER_LEN`].
    pub fn header_len_allowed(&self) -> bool {
        self.header_len <= MAX_HEADER_LEN
    }

    /// The whole checkpoint's length, `None` when it overflows.
    pub fn total_len(&self) -> Option<u64> {
        total_len(self.header_len, self.body_len)
    }
}

/// A checkpoint's length from its header's and body's: prefix, header,
/// header checksum, body, checksum.
pub(crate) fn total_len(header_len: u32, body_len: u64) -> Option<u64> {
    (Prefix::LEN as u64 + 8 + u64::from(header_len)).checked_add(body_len)
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn split_at(bytes: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (bytes.len() >= n).then(|| bytes.split_at(n))
}

/// Splits a little-endian `u32` off the front of `bytes`.
pub(crate) fn split_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, tail) = split_at(bytes, 4)?;
    Some((u32_at(head, 0)?, tail))
}

/// Splits a little-endian `u64` off the front of `bytes`.
pub(super) fn split_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, tail) = split_at(bytes, 8)?;
    Some((u64_at(head, 0)?, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: Prefix = Prefix {
        version: 3,
        flags: 0x0102,
        header_len: 0x0304_0506,
        body_len: 0x0708_090a_0b0c_0d0e,
        seq: 42,
    };

    #[test]
    fn a_prefix_reads_back_as_written_at_its_named_offsets() {
        let mut bytes = Vec::new();
        PREFIX.write(&mut bytes);
        assert_eq!(bytes.len(), Prefix::LEN);
        assert_eq!(bytes[..MAGIC.len()], MAGIC);
        assert_eq!(
            bytes[Prefix::VERSION_AT..Prefix::FLAGS_AT],
            3u16.to_le_bytes()
        );
        assert_eq!(bytes[Prefix::SEQ_AT..], 42u64.to_le_bytes());
        assert_eq!(Prefix::read(&bytes), Some(PREFIX));
        Prefix::patch_body_len(&mut bytes, 7);
        assert_eq!(Prefix::read(&bytes).map(|p| p.body_len), Some(7));
    }

    #[test]
    fn anything_but_a_whole_prefix_with_the_magic_reads_as_none() {
        let mut bytes = Vec::new();
        PREFIX.write(&mut bytes);
        for len in 0..Prefix::LEN {
            assert_eq!(Prefix::read(&bytes[..len]), None, "{len} bytes");
        }
        bytes[0] ^= 1;
        assert_eq!(Prefix::read(&bytes), None);
    }

    #[test]
    fn lengths_are_checked_not_trusted() {
        let huge = Prefix {
            header_len: u32::MAX,
            body_len: u64::MAX,
            ..PREFIX
        };
        assert!(!huge.header_len_allowed());
        assert_eq!(huge.total_len(), None);
        assert!(!Prefix {
            version: 99,
            ..PREFIX
        }
        .known());
        assert_eq!(
            PREFIX.body_start(),
            Prefix::LEN + PREFIX.header_len as usize + 4
        );
    }
}
