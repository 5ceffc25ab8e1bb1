//! The bytes of one part and of one commit record.
//!
//! A part is a full checkpoint in the format of `docs/FORMAT.md`, its
//! sequence number being the epoch: it records type, schema and time, and
//! ends with a CRC-32C over all of it. A commit record is `CKPTCMT1`, the
//! postcard [`CommitRecord`], and a `u32` little-endian CRC-32C of everything
//! before it.

use std::time::SystemTime;

use super::{CommitRecord, Epoch};
use crate::{format, Checkpoint, FieldWriter};

const COMMIT_MAGIC: &[u8; 8] = b"CKPTCMT1";

pub(crate) fn encode_part<T: Checkpoint>(
    epoch: Epoch,
    state: &T,
) -> Result<Vec<u8>, Box<crate::Error>> {
    let mut out = Vec::new();
    let body_start = format::begin(&mut out, epoch, SystemTime::now(), &T::SCHEMA);
    state.write_fields(&mut FieldWriter::new(&mut out, T::SCHEMA.name))?;
    format::finish(&mut out, body_start);
    Ok(out)
}

/// The checksum sealing a whole part: its last four bytes, which
/// `format::decode` checks against the content.
pub(crate) fn part_checksum(bytes: &[u8]) -> u32 {
    bytes
        .len()
        .checked_sub(4)
        .and_then(|at| bytes[at..].try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

pub(crate) fn encode_commit(record: &CommitRecord) -> Vec<u8> {
    let body = postcard::to_allocvec(record).expect("a record of strings and integers encodes");
    let mut out = Vec::with_capacity(8 + body.len() + 4);
    out.extend_from_slice(COMMIT_MAGIC);
    out.extend_from_slice(&body);
    seal(out)
}

pub(crate) fn decode_commit(bytes: &[u8]) -> Result<CommitRecord, String> {
    let (content, _) = unseal(bytes, COMMIT_MAGIC, "commit record")?;
    postcard::from_bytes(&content[COMMIT_MAGIC.len()..])
        .map_err(|e| format!("the commit record does not decode: {e}"))
}

fn seal(mut out: Vec<u8>) -> Vec<u8> {
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn unseal<'a>(bytes: &'a [u8], magic: &[u8; 8], what: &str) -> Result<(&'a [u8], u32), String> {
    if bytes.len() < magic.len() + 4 {
        return Err(format!("the {what} is truncated ({} bytes)", bytes.len()));
    }
    if &bytes[..magic.len()] != magic {
        return Err(format!("not a {what}: wrong magic bytes"));
    }
    let (content, trailer) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes(trailer.try_into().expect("four bytes"));
    let computed = crc32c::crc32c(content);
    if stored != computed {
        return Err(format!(
            "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
        ));
    }
    Ok((content, stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_record_round_trips_and_any_flipped_byte_is_caught() {
        let record = CommitRecord {
            group: "g".into(),
            epoch: 7,
            parts: vec![super::super::PartInfo {
                participant: "a".into(),
                epoch: 7,
                len: 10,
                checksum: 0xdead_beef,
            }],
        };
        let bytes = encode_commit(&record);
        assert_eq!(decode_commit(&bytes).unwrap(), record);
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            assert!(decode_commit(&bad).is_err(), "flip at {at} went unnoticed");
        }
        assert!(decode_commit(&bytes[..bytes.len() - 1]).is_err());
    }
}
