//! The bytes of one part and of one commit record, each sealed by a CRC-32C.
//!
//! A part: `CKPTPRT1`, a `u32` little-endian header length, the postcard
//! header ([`PartHeader`]), the field frames of the state, and a `u32`
//! little-endian CRC-32C of everything before it. A commit record: `CKPTCMT1`,
//! the postcard [`CommitRecord`], and the same CRC-32C trailer.

use serde::{Deserialize, Serialize};

use super::CommitRecord;

const PART_MAGIC: &[u8; 8] = b"CKPTPRT1";
const COMMIT_MAGIC: &[u8; 8] = b"CKPTCMT1";

/// What a part says about itself, checked on commit and on restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartHeader {
    pub group: String,
    pub epoch: u64,
    pub participant: String,
    pub type_name: String,
}

/// A part that passed its own checksum.
#[derive(Debug)]
pub(crate) struct DecodedPart<'a> {
    pub header: PartHeader,
    pub body: &'a [u8],
    pub checksum: u32,
}

pub(crate) fn encode_part(header: &PartHeader, body: &[u8]) -> Vec<u8> {
    let header = postcard::to_allocvec(header).expect("a header of strings and integers encodes");
    let mut out = Vec::with_capacity(8 + 4 + header.len() + body.len() + 4);
    out.extend_from_slice(PART_MAGIC);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    seal(out)
}

pub(crate) fn decode_part(bytes: &[u8]) -> Result<DecodedPart<'_>, String> {
    let (content, checksum) = unseal(bytes, PART_MAGIC, "part")?;
    let rest = &content[PART_MAGIC.len()..];
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or("the part is truncated inside its header")?;
    let len = u32::from_le_bytes(*len) as usize;
    if rest.len() < len {
        return Err("the part is truncated inside its header".to_owned());
    }
    let (header, body) = rest.split_at(len);
    let header: PartHeader = postcard::from_bytes(header)
        .map_err(|e| format!("the part header does not decode: {e}"))?;
    Ok(DecodedPart {
        header,
        body,
        checksum,
    })
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

    fn header() -> PartHeader {
        PartHeader {
            group: "g".into(),
            epoch: 7,
            participant: "a".into(),
            type_name: "T".into(),
        }
    }

    #[test]
    fn part_round_trips_and_any_flipped_byte_is_caught() {
        let bytes = encode_part(&header(), b"body");
        let part = decode_part(&bytes).unwrap();
        assert_eq!(part.header, header());
        assert_eq!(part.body, b"body");
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            assert!(decode_part(&bad).is_err(), "flip at {at} went unnoticed");
        }
        assert!(decode_part(&bytes[..bytes.len() - 1]).is_err());
    }
}
