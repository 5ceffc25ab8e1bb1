//! The owner header that starts every group part (`docs/FORMAT.md`,
//! "Group parts"): `CKPTPRT1`, a `u32` little-endian length, the postcard
//! [`PartOwner`] (group, participant, epoch) and a `u32` little-endian
//! CRC-32C of everything before it. What follows is a checkpoint whose
//! sequence number is the epoch, or the manifest of one. Here, apart from
//! the groups that write parts, because chunk sweeps read parts too.

use serde::{Deserialize, Serialize};

pub(crate) const PART_MAGIC: &[u8; 8] = b"CKPTPRT1";

/// Whose part it is: written first in every part.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartOwner<'a> {
    pub(crate) group: &'a str,
    pub(crate) participant: &'a str,
    pub(crate) epoch: u64,
}

/// The owner header of a part of `owner`, with room for `rest` more bytes.
pub(crate) fn owner_header(owner: &PartOwner<'_>, rest: usize) -> Vec<u8> {
    let header = postcard::to_allocvec(owner).expect("strings and an integer encode");
    let mut out = Vec::with_capacity(8 + 4 + header.len() + 4 + rest);
    out.extend_from_slice(PART_MAGIC);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    seal(out)
}

/// The owner a part's intact header names and the checkpoint (or manifest)
/// after it, whichever slot the part is in; otherwise why not.
pub(crate) fn split_part(bytes: &[u8]) -> Result<(PartOwner<'_>, &[u8]), String> {
    let prefix = PART_MAGIC.len() + 4;
    if bytes.len() < prefix {
        return Err(format!("the part is truncated ({} bytes)", bytes.len()));
    }
    if &bytes[..PART_MAGIC.len()] != PART_MAGIC {
        return Err("not a group part: wrong magic bytes".to_owned());
    }
    let header_len = u32::from_le_bytes(bytes[8..12].try_into().expect("four bytes")) as usize;
    let end = prefix
        .checked_add(header_len)
        .and_then(|n| n.checked_add(4))
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| format!("the part is truncated ({} bytes)", bytes.len()))?;
    let (header, rest) = bytes.split_at(end);
    unseal(header, PART_MAGIC, "part's owner header")?;
    let owner: PartOwner<'_> = postcard::from_bytes(&header[prefix..end - 4])
        .map_err(|e| format!("the part's owner header does not decode: {e}"))?;
    Ok((owner, rest))
}

/// `out` followed by its CRC-32C, little-endian.
pub(crate) fn seal(mut out: Vec<u8>) -> Vec<u8> {
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The content of `bytes` (magic included) and its CRC-32C, once the magic is
/// `magic` and the trailing CRC-32C matches; otherwise why not, naming
/// `what`.
pub(crate) fn unseal<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    what: &str,
) -> Result<(&'a [u8], u32), String> {
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
