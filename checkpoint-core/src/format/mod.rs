//! The byte format of one checkpoint (documented in `docs/FORMAT.md`),
//! for tools that read checkpoints without their types: [`decode`] checks
//! a whole checkpoint, [`decode_header`] reads its header alone, [`Prefix`]
//! names the fixed first bytes.
//!
//! ```text
//! prefix  magic[8] version:u16 flags:u16 header_len:u32 body_len:u64 seq:u64   (32 bytes)
//! header  time_secs:u64 time_nanos:u32 type_name:str schema:postcard           (header_len)
//!         deep schema:postcard (version 3) | field_shapes:postcard (version 2)
//!         header_crc:u32   CRC-32C of prefix + header
//! body    field frames                                                         (body_len)
//!         crc:u32          CRC-32C of everything before it
//! ```
//!
//! All integers are little-endian. The header is readable alone, so listing
//! checkpoints never reads their bodies.

mod frames;
mod header;
pub(crate) mod part;
mod prefix;
pub mod v2;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::deep::DeepSchema;
use crate::schema::Schema;
use crate::{Error, Result};

pub(crate) use frames::{begin_frame, end_frame, Body, Frame, FrameSource, TOO_MANY_FRAMES};
pub(crate) use header::schema_tail;
pub use header::{decode_header, FieldRecord, Header, SchemaRecord, ShapeRecord, VariantRecord};
pub(crate) use prefix::split_u32;
pub use prefix::Prefix;

/// The first eight bytes of every checkpoint.
pub const MAGIC: [u8; 8] = *b"\x89CKPT\r\n\x1a";
/// The newest format version this release reads, and the one it writes
/// compressed checkpoints in.
pub const VERSION: u16 = 4;
/// The format version of checkpoints written without compression: version
/// 4 adds nothing else, so plain checkpoints stay readable by releases that
/// read version 3.
pub const PLAIN_VERSION: u16 = 3;
/// Header flag (version 4): every field frame's value is zstd-compressed.
pub const FLAG_ZSTD: u16 = 1;
/// The oldest format version this release reads.
pub const OLDEST_VERSION: u16 = 1;
/// Length of the fixed prefix.
pub const PREFIX_LEN: usize = Prefix::LEN;
/// Where the header's first item, the capture time (`secs:u64 nanos:u32`),
/// starts.
pub(crate) const TIME_AT: usize = Prefix::LEN;
/// The capture time's length.
pub(crate) const TIME_LEN: usize = 12;
/// A header longer than this is refused as malformed: no type's schema is
/// that large, and a hostile length must not drive an allocation.
pub const MAX_HEADER_LEN: u32 = 1 << 20;
/// How many bytes `list` reads first; enough for the header of most types.
pub const HEADER_PROBE_LEN: usize = 4096;

/// Writes the prefix and header of a checkpoint of `schema` into `out`
/// (which must be empty), with an empty writer's schema; returns where the
/// body starts. Finish with [`finish`] once the body is appended.
pub fn begin(out: &mut Vec<u8>, seq: u64, time: SystemTime, schema: &Schema) -> usize {
    begin_with(
        out,
        seq,
        time,
        &schema_tail(schema, &DeepSchema::default()),
        0,
    )
}

/// Writes the prefix and header of checkpoint `seq` into `out` (which must
/// be empty): the time, then `tail` (from [`schema_tail`]); returns where
/// the body starts. Plain checkpoints are written as [`PLAIN_VERSION`].
pub(crate) fn begin_with(
    out: &mut Vec<u8>,
    seq: u64,
    time: SystemTime,
    tail: &[u8],
    flags: u16,
) -> usize {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let prefix = Prefix {
        version: if flags == 0 { PLAIN_VERSION } else { VERSION },
        flags,
        // No schema tail comes near u32::MAX bytes.
        header_len: (TIME_LEN + tail.len()) as u32,
        body_len: 0, // patched by `finish`
        seq,
    };
    prefix.write(out);
    out.extend_from_slice(&since.as_secs().to_le_bytes());
    out.extend_from_slice(&since.subsec_nanos().to_le_bytes());
    out.extend_from_slice(tail);
    out.extend_from_slice(&[0; 4]); // header_crc, written by `finish`
    out.len()
}

/// The checksum the format uses: CRC-32C.
pub fn checksum(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// What precedes the trailing checksum of `bytes`, a whole stored value
/// of checkpoint `seq` at `location`, once the checksum matches it.
///
/// # Errors
///
/// [`Error::Corrupt`] when it does not match, or `bytes` is too short to
/// hold one.
pub(crate) fn verified<'b>(bytes: &'b [u8], seq: u64, location: &str) -> Result<&'b [u8]> {
    let split = bytes.len().saturating_sub(4);
    let (content, stored) = bytes.split_at(split);
    let expected = stored.try_into().map(u32::from_le_bytes);
    let found = checksum(content);
    match expected {
        Ok(expected) if expected == found => Ok(content),
        expected => Err(Error::Corrupt {
            seq,
            location: location.to_owned(),
            expected: expected.unwrap_or(0),
            found,
        }),
    }
}

/// Patches the body length and the header checksum into `head` (the
/// prefix and header, `body_len` bytes of body to follow); returns the
/// checksum of `head` as patched.
pub(crate) fn seal_head(head: &mut [u8], body_len: u64) -> u32 {
    let body_start = head.len();
    Prefix::patch_body_len(head, body_len);
    let header_crc = checksum(&head[..body_start - 4]);
    head[body_start - 4..].copy_from_slice(&header_crc.to_le_bytes());
    checksum(head)
}

/// Patches the body length, then appends the checksums.
pub fn finish(out: &mut Vec<u8>, body_start: usize) {
    let body_len = (out.len() - body_start) as u64;
    seal_head(&mut out[..body_start], body_len);
    let crc = checksum(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// The sequence number in a checkpoint's prefix, `None` when `prefix` does
/// not start like a checkpoint (of any version).
pub fn prefix_seq(prefix: &[u8]) -> Option<u64> {
    Prefix::read(prefix).map(|p| p.seq)
}

/// The whole length a checkpoint's prefix declares, `None` when the prefix
/// is not one of a version this release reads: a reader allocates no more.
pub fn declared_len(prefix: &[u8]) -> Option<u64> {
    let prefix = Prefix::read(prefix).filter(|p| p.known() && p.header_len_allowed())?;
    prefix.total_len()
}

/// How many leading bytes hold the prefix, header and header checksum,
/// read from the prefix in `bytes`; `None` when `bytes` is shorter than the
/// prefix or the header claims more than [`MAX_HEADER_LEN`].
pub fn header_section_len(bytes: &[u8]) -> Option<usize> {
    let (header_len, _) = split_u32(bytes.get(Prefix::HEADER_LEN_AT..PREFIX_LEN)?)?;
    (header_len <= MAX_HEADER_LEN).then(|| PREFIX_LEN + header_len as usize + 4)
}

/// Checks a whole checkpoint and returns its header and body.
///
/// # Errors
///
/// As [`decode_header`], plus [`Error::Truncated`] when the bytes are
/// shorter than the header says and [`Error::Corrupt`] when the checksum
/// does not match.
pub fn decode<'b>(bytes: &'b [u8], key_seq: u64, location: &str) -> Result<(Header, &'b [u8])> {
    // The whole checksum comes first: a torn or flipped header must read as
    // damage, not as a schema error. Only another version's layout is
    // reported before it, as what it is.
    let total = Prefix::read(bytes)
        .filter(Prefix::known)
        .and_then(|p| p.total_len());
    if let Some(total) = total {
        if (bytes.len() as u64) < total {
            return Err(Error::Truncated {
                seq: key_seq,
                location: location.to_owned(),
                expected: total,
                found: bytes.len() as u64,
            });
        }
        if bytes.len() as u64 == total {
            verified(bytes, key_seq, location)?;
        }
    }
    let header = decode_header(bytes, key_seq, location)?;
    let total = header.total_len();
    if bytes.len() as u64 != total {
        return Err(Error::Malformed {
            seq: key_seq,
            location: location.to_owned(),
            reason: format!(
                "it is {} bytes long but its header says {total}",
                bytes.len()
            ),
        });
    }
    let body = &bytes[header.body_start()..bytes.len() - 4];
    Ok((header, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{FieldSchema, Shape, VariantSchema};

    /// A save bounds its frames by the type's schema and a restore by the
    /// record of it in the header: the two must agree.
    #[test]
    fn a_schema_and_its_record_bound_frames_alike() {
        const ENUM: Schema = Schema::new(
            "Mode",
            Shape::Enum(&[
                VariantSchema::new("Off", Shape::Unit),
                VariantSchema::new(
                    "On",
                    Shape::Struct(&[
                        FieldSchema::serialized("since", "u64"),
                        FieldSchema::derived("age", "u64"),
                        FieldSchema::serialized("by", "String"),
                    ]),
                ),
                VariantSchema::new("Raw", Shape::Tuple(&[FieldSchema::serialized("0", "u8")])),
            ]),
        );
        const UNIT: Schema = Schema::new("Tick", Shape::Unit);
        for (schema, most) in [(&SCHEMA, 1), (&ENUM, 3), (&UNIT, 0)] {
            assert_eq!(schema.most_frames(), most, "{}", schema.name);
            assert_eq!(
                SchemaRecord::of(schema).most_frames(),
                most,
                "{}",
                schema.name
            );
        }
    }

    const SCHEMA: Schema = Schema::new(
        "Point",
        Shape::Struct(&[
            FieldSchema::serialized("x", "i32"),
            FieldSchema::derived("norm", "f64"),
        ]),
    );

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        let start = begin(&mut out, 3, UNIX_EPOCH + Duration::new(5, 6), &SCHEMA);
        out.extend_from_slice(b"body");
        finish(&mut out, start);
        out
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let (h, body) = decode(&bytes, 3, "x").unwrap();
        assert_eq!(body, b"body");
        assert_eq!((h.seq, h.type_name.as_str()), (3, "Point"));
        assert_eq!(h.time, UNIX_EPOCH + Duration::new(5, 6));
        assert_eq!(h.schema, SchemaRecord::of(&SCHEMA));
        assert_eq!(h.total_len(), bytes.len() as u64);
    }

    #[test]
    fn every_flipped_bit_and_every_truncation_is_an_error() {
        let bytes = sample();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let err = decode(&b, 3, "x").unwrap_err();
                assert!(err.is_damage(), "{i}:{bit}: {err}");
            }
            assert!(decode(&bytes[..i], 3, "x").unwrap_err().is_damage());
        }
    }

    #[test]
    fn hostile_lengths_do_not_allocate() {
        let mut b = sample();
        b[Prefix::BODY_LEN_AT..Prefix::SEQ_AT].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&b, 3, "x").unwrap_err().is_damage());
        let mut b = sample();
        b[Prefix::HEADER_LEN_AT..Prefix::BODY_LEN_AT].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&b, 3, "x").unwrap_err().is_damage());
    }
}
