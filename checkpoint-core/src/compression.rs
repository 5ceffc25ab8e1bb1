//! Compression of field frames (`docs/FORMAT.md`, version 4).
//!
//! Each field's value is compressed on its own, so a restore decodes one
//! frame at a time and never needs the whole body decompressed. A value is
//! stored as
//!
//! ```text
//! 0: u8 | the value                                    (compression did not pay)
//! 1: u8 | raw_len: u64 | crc: u32 (CRC-32C of the zstd bytes) | zstd frame
//! ```
//!
//! The CRC covers the stored (compressed) bytes, so damage is found before
//! any of them reach the decompressor, and `raw_len` bounds what the
//! decompressor may produce.

use std::borrow::Cow;
use std::fmt;

/// How a [`Checkpointer`](crate::Checkpointer) compresses what it saves.
///
/// The default is no compression. A restore reads compressed and plain
/// checkpoints alike, whatever the setting.
///
/// # Examples
///
/// ```
/// use checkpoint::{Checkpointer, Compression, MemStore};
///
/// assert_eq!(Compression::default(), Compression::none());
/// assert_eq!(Compression::zstd(3).zstd_level(), Some(3));
/// let ckpt = Checkpointer::new(MemStore::new())?.compression(Compression::zstd(3));
/// # Ok::<(), checkpoint::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Compression {
    /// The zstd level; `None` for no compression.
    zstd: Option<i32>,
}

impl Compression {
    /// No compression: checkpoints are written in format version 3, which
    /// releases that do not know compression also read.
    pub const fn none() -> Self {
        Compression { zstd: None }
    }

    /// zstd at `level`: 1 (fastest) to 19 are the usual range, 3 is zstd's
    /// default; levels outside what the linked zstd accepts are clamped to it.
    /// Checkpoints are written in format version 4.
    #[cfg(feature = "zstd")]
    pub fn zstd(level: i32) -> Self {
        let range = zstd::compression_level_range();
        Compression {
            zstd: Some(level.clamp(*range.start(), *range.end())),
        }
    }

    /// The zstd level, `None` when not compressing.
    pub const fn zstd_level(&self) -> Option<i32> {
        self.zstd
    }

    /// Whether checkpoints are compressed.
    pub const fn is_none(&self) -> bool {
        self.zstd.is_none()
    }
}

impl fmt::Debug for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.zstd {
            None => f.write_str("Compression::none()"),
            Some(level) => write!(f, "Compression::zstd({level})"),
        }
    }
}

/// Codec byte: the value follows as written.
const PLAIN: u8 = 0;
/// Codec byte: the value is zstd-compressed.
const ZSTD: u8 = 1;
/// Length of what precedes the zstd bytes in a compressed value.
pub(crate) const FRAME_HEAD_LEN: usize = 13;

/// Compresses `out[start..]` in place into the stored form above; a value
/// that compression would not make smaller is stored plain.
///
/// # Errors
///
/// What zstd says, when it fails (it does not for in-memory buffers short
/// of running out of memory).
#[cfg(feature = "zstd")]
pub(crate) fn compress_tail(
    out: &mut Vec<u8>,
    start: usize,
    level: i32,
    scratch: &mut Vec<u8>,
) -> Result<(), String> {
    let raw = &out[start..];
    scratch.clear();
    scratch.resize(
        FRAME_HEAD_LEN + zstd::zstd_safe::compress_bound(raw.len()),
        0,
    );
    let written = zstd::bulk::compress_to_buffer(raw, &mut scratch[FRAME_HEAD_LEN..], level)
        .map_err(|e| e.to_string())?;
    let raw_len = raw.len() as u64;
    if FRAME_HEAD_LEN + written > raw.len() {
        out.insert(start, PLAIN);
        return Ok(());
    }
    scratch.truncate(FRAME_HEAD_LEN + written);
    let crc = crc32c::crc32c(&scratch[FRAME_HEAD_LEN..]);
    scratch[0] = ZSTD;
    scratch[1..9].copy_from_slice(&raw_len.to_le_bytes());
    scratch[9..13].copy_from_slice(&crc.to_le_bytes());
    out.truncate(start);
    out.extend_from_slice(scratch);
    Ok(())
}

#[cfg(not(feature = "zstd"))]
pub(crate) fn compress_tail(
    _: &mut Vec<u8>,
    _: usize,
    _: i32,
    _: &mut Vec<u8>,
) -> Result<(), String> {
    Err("this build lacks the `zstd` feature".into())
}

/// Why a stored value did not decompress.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The CRC of the stored bytes does not match: damage.
    Corrupt { expected: u32, found: u32 },
    /// The CRC matches but the content is not what the format says.
    Malformed(String),
    /// This build cannot decompress zstd.
    #[cfg_attr(feature = "zstd", allow(dead_code))]
    Unavailable,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Corrupt { expected, found } => write!(
                f,
                "its checksum is {expected:#010x} but its bytes sum to {found:#010x}"
            ),
            FrameError::Malformed(reason) => f.write_str(reason),
            FrameError::Unavailable => {
                f.write_str("it is compressed with zstd, which this build cannot read")
            }
        }
    }
}

/// The length of a stored value before compression, as its head declares.
pub(crate) fn raw_len(stored: &[u8]) -> Option<u64> {
    raw_len_of(stored, stored.len() as u64)
}

/// [`raw_len`] of a stored value of `stored_len` bytes of which `head` holds
/// the first (at least 9, or all of them): for a reader that streams the
/// value past without keeping it.
pub(crate) fn raw_len_of(head: &[u8], stored_len: u64) -> Option<u64> {
    match *head.first()? {
        PLAIN => Some(stored_len - 1),
        ZSTD => Some(u64::from_le_bytes(head.get(1..9)?.try_into().ok()?)),
        _ => None,
    }
}

/// Checks and decompresses one stored value. Memory grows with the bytes
/// the decompressor actually produces, never with the declared length, and
/// stops at it: a value declaring more than it holds, or holding more than
/// it declares, is malformed.
pub(crate) fn decompress(stored: &[u8]) -> Result<Cow<'_, [u8]>, FrameError> {
    match stored.first() {
        Some(&PLAIN) => return Ok(Cow::Borrowed(&stored[1..])),
        Some(&ZSTD) => {}
        Some(codec) => {
            return Err(FrameError::Malformed(format!(
                "a stored value has codec {codec}, which this format version does not define"
            )))
        }
        None => return Err(FrameError::Malformed("a stored value has no codec".into())),
    }
    if stored.len() < FRAME_HEAD_LEN {
        return Err(FrameError::Malformed(format!(
            "a compressed value of {} bytes is shorter than its {FRAME_HEAD_LEN}-byte head",
            stored.len()
        )));
    }
    let raw_len = raw_len(stored).unwrap_or_default();
    let expected = u32::from_le_bytes(stored[9..13].try_into().unwrap_or([0; 4]));
    let data = &stored[FRAME_HEAD_LEN..];
    let found = crc32c::crc32c(data);
    if expected != found {
        return Err(FrameError::Corrupt { expected, found });
    }
    inflate(data, raw_len).map(Cow::Owned)
}

/// [`decompress`] of a value read into its own buffer, which a value stored
/// plain becomes without a copy.
pub(crate) fn decompress_owned(mut stored: Vec<u8>) -> Result<Cow<'static, [u8]>, FrameError> {
    if stored.first() == Some(&PLAIN) {
        stored.remove(0);
        return Ok(Cow::Owned(stored));
    }
    decompress(&stored).map(|raw| Cow::Owned(raw.into_owned()))
}

#[cfg(feature = "zstd")]
fn inflate(data: &[u8], raw_len: u64) -> Result<Vec<u8>, FrameError> {
    use std::io::Read;

    let malformed = |e: std::io::Error| FrameError::Malformed(format!("zstd: {e}"));
    // Reserve for what the data could plausibly hold, not for what it
    // claims: the buffer grows only as bytes are actually produced.
    let cap = (data.len() as u64).saturating_mul(64).saturating_add(4096);
    let mut out = Vec::with_capacity(usize::try_from(raw_len.min(cap)).unwrap_or(0));
    let mut decoder = zstd::stream::read::Decoder::with_buffer(data).map_err(malformed)?;
    (&mut decoder)
        .take(raw_len)
        .read_to_end(&mut out)
        .map_err(malformed)?;
    if (out.len() as u64) < raw_len {
        return Err(FrameError::Malformed(format!(
            "a compressed value declares {raw_len} bytes but holds {}",
            out.len()
        )));
    }
    let mut extra = [0u8; 1];
    if decoder.read(&mut extra).map_err(malformed)? != 0 {
        return Err(FrameError::Malformed(format!(
            "a compressed value holds more than the {raw_len} bytes it declares"
        )));
    }
    Ok(out)
}

#[cfg(not(feature = "zstd"))]
fn inflate(_: &[u8], _: u64) -> Result<Vec<u8>, FrameError> {
    Err(FrameError::Unavailable)
}

#[cfg(all(test, feature = "zstd"))]
mod tests {
    use super::*;

    fn stored(raw: &[u8]) -> Vec<u8> {
        let mut out = raw.to_vec();
        compress_tail(&mut out, 0, 3, &mut Vec::new()).unwrap();
        out
    }

    #[test]
    fn round_trip() {
        let raw = b"abcabcabcabcabcabcabcabc".repeat(100);
        let s = stored(&raw);
        assert!(s.len() < raw.len() / 10);
        assert_eq!(s[0], ZSTD);
        assert_eq!(raw_len(&s), Some(raw.len() as u64));
        assert_eq!(*decompress(&s).unwrap(), raw);
        // Too small to gain: stored plain behind one byte.
        assert_eq!(stored(b"ab"), b"\0ab");
        assert_eq!(*decompress(b"\0ab").unwrap(), *b"ab");
        assert_eq!(raw_len(b"\0ab"), Some(2));
        assert_eq!(*decompress(&stored(b"")).unwrap(), *b"");
    }

    #[test]
    fn every_flipped_bit_is_found_before_decompression() {
        let s = stored(&b"hello, checkpoint ".repeat(20));
        for i in 9..s.len() {
            for bit in 0..8 {
                let mut b = s.clone();
                b[i] ^= 1 << bit;
                assert!(
                    matches!(decompress(&b), Err(FrameError::Corrupt { .. })),
                    "{i}:{bit}"
                );
            }
        }
    }

    #[test]
    fn a_wrong_declared_length_is_malformed_not_an_allocation() {
        let raw = vec![7u8; 1 << 16];
        let mut s = stored(&raw);
        s[1..9].copy_from_slice(&u64::MAX.to_le_bytes());
        let err = decompress(&s).unwrap_err();
        assert!(
            matches!(&err, FrameError::Malformed(m) if m.contains("declares")),
            "{err:?}"
        );
        s[1..9].copy_from_slice(&100u64.to_le_bytes());
        let err = decompress(&s).unwrap_err();
        assert!(
            matches!(&err, FrameError::Malformed(m) if m.contains("more than")),
            "{err:?}"
        );
        for cut in [0, 1, 5] {
            assert!(matches!(
                decompress(&s[..cut]),
                Err(FrameError::Malformed(_))
            ));
        }
        assert!(matches!(decompress(b"\x07"), Err(FrameError::Malformed(_))));
    }

    #[test]
    fn bytes_that_are_not_zstd_are_malformed() {
        let mut s = vec![ZSTD; FRAME_HEAD_LEN];
        s.extend_from_slice(b"not zstd at all");
        s[1..9].copy_from_slice(&10u64.to_le_bytes());
        let crc = crc32c::crc32c(&s[FRAME_HEAD_LEN..]);
        s[9..13].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(decompress(&s), Err(FrameError::Malformed(_))));
    }
}

#[cfg(all(test, not(feature = "zstd")))]
mod without_zstd {
    use super::*;

    #[test]
    fn a_compressed_value_is_unavailable_and_a_plain_one_reads() {
        let mut s = vec![ZSTD; FRAME_HEAD_LEN];
        s.extend_from_slice(b"zstd bytes");
        let crc = crc32c::crc32c(&s[FRAME_HEAD_LEN..]);
        s[9..13].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decompress(&s), Err(FrameError::Unavailable));
        assert_eq!(*decompress(b"\0ab").unwrap(), *b"ab");
    }
}
