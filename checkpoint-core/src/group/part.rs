//! The bytes of one part and of one commit record.
//!
//! A part is an owner header, then a full checkpoint in the format of
//! `docs/FORMAT.md` whose sequence number is the epoch (type, schema, time,
//! fields, and a CRC-32C over all of it). The owner header is `CKPTPRT1`, a
//! `u32` little-endian length, the postcard [`PartOwner`] (group, participant,
//! epoch) and a `u32` little-endian CRC-32C of everything before it: it binds
//! the part to the slot it was saved for, so a part copied into another
//! participant's slot is refused.
//!
//! A commit record is `CKPTCMT2`, the postcard [`CommitRecord`], and a `u32`
//! little-endian CRC-32C of everything before it. Its checksum of a part is
//! [`part_checksum`]: the CRC-32C of every byte of the part except the three
//! checksums embedded in it. (A CRC over bytes that end with their own CRC
//! is the same for any such bytes of one length, so a checksum that took the
//! embedded ones in would not see a header that changed with its CRC.)
//! Records written before (`CKPTCMT1`) hold each part's trailing CRC-32C and
//! still verify with it.

use std::time::SystemTime;

use super::CommitRecord;
use crate::format::part::{owner_header, seal, unseal, PART_MAGIC};
pub(crate) use crate::format::part::{split_part, PartOwner};
use crate::{format, Checkpoint, Compression};

const COMMIT_MAGIC: &[u8; 8] = b"CKPTCMT2";
/// Records whose checksums are each part's trailing CRC-32C.
const LEGACY_COMMIT_MAGIC: &[u8; 8] = b"CKPTCMT1";

pub(crate) fn encode_part<T: Checkpoint>(
    owner: &PartOwner<'_>,
    state: &T,
    compression: Compression,
) -> Result<Vec<u8>, Box<crate::Error>> {
    let mut checkpoint = Vec::new();
    crate::encode::encode(
        state,
        &mut checkpoint,
        owner.epoch,
        SystemTime::now(),
        compression,
    )?;
    // The header goes in front in place: a copy of the checkpoint would
    // double the memory a save of a large state takes. Growing a large
    // buffer by a few bytes moves its pages rather than its bytes.
    let header = owner_header(owner, 0);
    checkpoint.reserve_exact(header.len());
    checkpoint.splice(..0, header);
    Ok(checkpoint)
}

/// The checkpoint inside a part, once its owner header is intact and names
/// `expected`; otherwise why not. With incremental parts it is a manifest
/// (`incremental::is_manifest`) of the checkpoint's chunks.
pub(crate) fn open_part<'b>(bytes: &'b [u8], expected: &PartOwner<'_>) -> Result<&'b [u8], String> {
    let (owner, rest) = split_part(bytes)?;
    if &owner != expected {
        return Err(format!(
            "it was saved as the part of participant `{}` in epoch {} of group `{}`",
            owner.participant, owner.epoch, owner.group
        ));
    }
    Ok(rest)
}

/// An incremental part: the owner header of `whole`, a part made by
/// [`encode_part`], followed by `manifest`, the manifest of its checkpoint.
pub(crate) fn with_manifest(whole: &[u8], checkpoint_len: usize, manifest: &[u8]) -> Vec<u8> {
    let owner = &whole[..whole.len() - checkpoint_len];
    let mut out = Vec::with_capacity(owner.len() + manifest.len());
    out.extend_from_slice(owner);
    out.extend_from_slice(manifest);
    out
}

/// Whether `existing`, found in `owner`'s slot, is an intact part holding
/// exactly what `ours` holds: same owner, type, schema and fields. Only the
/// capture time and the checksums that cover it may differ, so a retried
/// save of the same state recognises the part an earlier attempt wrote.
pub(crate) fn same_part(existing: &[u8], ours: &[u8], owner: &PartOwner<'_>) -> bool {
    if existing.len() != ours.len() {
        return false;
    }
    let (Ok(theirs), Ok(mine)) = (open_part(existing, owner), open_part(ours, owner)) else {
        return false;
    };
    // Intact: its checksums hold, and it is the checkpoint of this epoch.
    let Ok((header, _)) = format::decode(theirs, owner.epoch, "") else {
        return false;
    };
    let owner_len = existing.len() - theirs.len();
    let time = format::TIME_AT..format::TIME_AT + format::TIME_LEN;
    let header_crc = header.body_start() - 4..header.body_start();
    let body = header_crc.end..theirs.len() - 4;
    existing[..owner_len] == ours[..owner_len]
        && theirs[..time.start] == mine[..time.start]
        && theirs.get(time.end..header_crc.start) == mine.get(time.end..header_crc.start)
        && theirs.get(body.clone()) == mine.get(body)
}

/// The checksum a commit record lists for a part: the CRC-32C of all its
/// bytes but its three embedded checksums (the owner header's, the
/// checkpoint header's and the checkpoint's trailing one), so it changes
/// with every other byte. A part too short to hold them is summed whole; it
/// fails the part's own checks anyway.
pub(crate) fn part_checksum(bytes: &[u8]) -> u32 {
    let owner_end = bytes
        .get(8..12)
        .and_then(|len| len.try_into().ok())
        .map(u32::from_le_bytes)
        .and_then(|len| (PART_MAGIC.len() + 4).checked_add(len as usize));
    let header_end = owner_end.and_then(|owner_end| {
        let checkpoint = bytes.get(owner_end + 4..)?;
        let section = format::header_section_len(checkpoint)?;
        Some(owner_end + 4 + section - 4)
    });
    match (owner_end, header_end) {
        (Some(owner_end), Some(header_end)) if header_end + 8 <= bytes.len() => {
            let crc = crc32c::crc32c(&bytes[..owner_end]);
            let crc = crc32c::crc32c_append(crc, &bytes[owner_end + 4..header_end]);
            crc32c::crc32c_append(crc, &bytes[header_end + 4..bytes.len() - 4])
        }
        _ => crc32c::crc32c(bytes),
    }
}

/// The checksum records written as `CKPTCMT1` list: the part's last four
/// bytes, the CRC-32C that `format::decode` checks against the checkpoint.
pub(crate) fn legacy_part_checksum(bytes: &[u8]) -> u32 {
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
    let legacy = bytes.starts_with(LEGACY_COMMIT_MAGIC);
    let magic = if legacy {
        LEGACY_COMMIT_MAGIC
    } else {
        COMMIT_MAGIC
    };
    let (content, _) = unseal(bytes, magic, "commit record")?;
    let mut record: CommitRecord = postcard::from_bytes(&content[magic.len()..])
        .map_err(|e| format!("the commit record does not decode: {e}"))?;
    record.legacy = legacy;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FieldWriter;

    struct Unit;

    impl Checkpoint for Unit {
        type Context = ();
        const SCHEMA: crate::Schema = crate::Schema::new("Unit", crate::Shape::Unit);
        fn write_fields(&self, _: &mut FieldWriter<'_>) -> crate::Result<()> {
            Ok(())
        }
        fn read_fields(_: &mut crate::FieldReader<'_>, _: &()) -> crate::Result<Self> {
            Ok(Unit)
        }
    }

    #[test]
    fn a_part_opens_only_in_its_own_slot_and_any_flipped_header_byte_is_caught() {
        let owner = PartOwner {
            group: "g",
            participant: "a",
            epoch: 3,
        };
        let bytes = encode_part(&owner, &Unit, Compression::none()).unwrap();
        let checkpoint = open_part(&bytes, &owner).unwrap();
        format::decode(checkpoint, 3, "here").unwrap();
        for other in [
            PartOwner {
                participant: "b",
                ..owner
            },
            PartOwner { epoch: 4, ..owner },
            PartOwner {
                group: "h",
                ..owner
            },
        ] {
            let err = open_part(&bytes, &other).unwrap_err();
            assert!(
                err.contains("participant `a` in epoch 3 of group `g`"),
                "{err}"
            );
        }
        let header_end = bytes.len() - checkpoint.len();
        for at in 0..header_end {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            assert!(
                open_part(&bad, &owner).is_err(),
                "flip at {at} went unnoticed"
            );
        }
        assert!(open_part(&bytes[..header_end - 1], &owner).is_err());
    }

    struct Count(u64);

    impl Checkpoint for Count {
        type Context = ();
        const SCHEMA: crate::Schema = crate::Schema::new(
            "Count",
            crate::Shape::Tuple(&[crate::FieldSchema::serialized("0", "u64")]),
        );
        fn write_fields(&self, out: &mut FieldWriter<'_>) -> crate::Result<()> {
            out.field("0", &self.0)
        }
        fn read_fields(input: &mut crate::FieldReader<'_>, _: &()) -> crate::Result<Self> {
            Ok(Count(input.field("0")?))
        }
    }

    #[test]
    fn the_same_state_saved_again_is_the_same_part_whatever_its_time() {
        let owner = PartOwner {
            group: "g",
            participant: "a",
            epoch: 3,
        };
        let first = encode_part(&owner, &Count(7), Compression::none()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let again = encode_part(&owner, &Count(7), Compression::none()).unwrap();
        assert_ne!(first, again, "the capture time differs");
        assert!(same_part(&first, &again, &owner));
        assert!(!same_part(
            &first,
            &encode_part(&owner, &Count(8), Compression::none()).unwrap(),
            &owner
        ));
        let other_slot = PartOwner { epoch: 4, ..owner };
        let moved = encode_part(&other_slot, &Count(7), Compression::none()).unwrap();
        assert!(!same_part(&moved, &again, &owner));
        for at in 0..first.len() {
            let mut bad = first.clone();
            bad[at] ^= 0x40;
            assert!(
                !same_part(&bad, &again, &owner),
                "flip at {at} went unnoticed"
            );
        }
    }

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
            legacy: false,
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

#[cfg(test)]
mod binding {
    use std::io::{self, Read};

    use super::super::streamed::PartStream;
    use super::super::{Group, PartInfo};
    use super::*;
    use crate::{FieldWriter, MemStore, Store};

    #[derive(Debug)]
    struct Count(u64);

    impl Checkpoint for Count {
        type Context = ();
        const SCHEMA: crate::Schema = crate::Schema::new(
            "Count",
            crate::Shape::Tuple(&[crate::FieldSchema::serialized("0", "u64")]),
        );
        fn write_fields(&self, out: &mut FieldWriter<'_>) -> crate::Result<()> {
            out.field("0", &self.0)
        }
        fn read_fields(input: &mut crate::FieldReader<'_>, _: &()) -> crate::Result<Self> {
            Ok(Count(input.field("0")?))
        }
    }

    /// Hands out at most `step` bytes a read, cycling through 1..=step.
    struct Trickle {
        bytes: Vec<u8>,
        at: usize,
        step: usize,
        n: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.n = self.n % self.step + 1;
            let n = self.n.min(buf.len()).min(self.bytes.len() - self.at);
            buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn a_streamed_part_sums_to_its_checksums_however_it_is_read() {
        let owner = PartOwner {
            group: "g",
            participant: "a",
            epoch: 3,
        };
        for count in [0, 1, 1000, 100_000] {
            let part = encode_part(&owner, &Count(count), Compression::none()).unwrap();
            for step in [1, 3, 7, 64, 1 << 20] {
                let reader = Trickle {
                    bytes: part.clone(),
                    at: 0,
                    step,
                    n: 0,
                };
                let len = part.len() as u64;
                let (head, mut value, sum) = PartStream::open(reader, len).unwrap().unwrap();
                assert_eq!(open_part(&head, &owner).unwrap(), b"");
                let mut checkpoint = Vec::new();
                // Half the checkpoint read by the restore, the rest by
                // `finish`.
                let half = value.len() as usize / 2;
                checkpoint.resize(half, 0);
                value.read_exact(&mut checkpoint).unwrap();
                assert_eq!(checkpoint, part[head.len()..head.len() + half]);
                let sums = sum.finish().unwrap();
                assert_eq!(
                    sums,
                    (part_checksum(&part), legacy_part_checksum(&part)),
                    "{count} read {step} bytes at a time"
                );
            }
            // A part that ends early is an error, not a sum.
            let reader = io::Cursor::new(part[..part.len() - 1].to_vec());
            let (_, _, sum) = PartStream::open(reader, part.len() as u64)
                .unwrap()
                .unwrap();
            assert!(sum.finish().is_err());
        }
    }

    /// Rewrites the checkpoint header's CRC and the trailing CRC of a part
    /// after an edit, as a hand edit that keeps the part valid would.
    fn reseal(part: &mut [u8]) {
        let owner_end = 12 + u32::from_le_bytes(part[8..12].try_into().unwrap()) as usize + 4;
        let section = format::header_section_len(&part[owner_end..]).unwrap();
        let header_end = owner_end + section - 4;
        let crc = crc32c::crc32c(&part[owner_end..header_end]);
        part[header_end..header_end + 4].copy_from_slice(&crc.to_le_bytes());
        let end = part.len() - 4;
        let crc = crc32c::crc32c(&part[owner_end..end]);
        part[end..].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn the_checksum_changes_with_the_header_even_when_its_crcs_are_recomputed() {
        let owner = PartOwner {
            group: "g",
            participant: "a",
            epoch: 3,
        };
        let first = encode_part(&owner, &Count(7), Compression::none()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let again = encode_part(&owner, &Count(7), Compression::none()).unwrap();
        // The flaw of the trailing CRC: the same for both captures.
        assert_eq!(legacy_part_checksum(&first), legacy_part_checksum(&again));
        assert_ne!(part_checksum(&first), part_checksum(&again));

        let owner_end = first.len() - open_part(&first, &owner).unwrap().len();
        let time = owner_end + format::TIME_AT;
        let mut edited = first.clone();
        edited[time] ^= 1;
        reseal(&mut edited);
        format::decode(open_part(&edited, &owner).unwrap(), 3, "").unwrap();
        assert_eq!(legacy_part_checksum(&edited), legacy_part_checksum(&first));
        assert_ne!(part_checksum(&edited), part_checksum(&first));
    }

    #[test]
    fn an_incremental_parts_checksum_changes_with_every_byte_but_its_crcs() {
        let store = std::sync::Arc::new(MemStore::new());
        let group = Group::from_shared(store.clone(), "g")
            .unwrap()
            .incremental(true);
        let info = group.save_part(1, "a", &Count(7)).unwrap();
        let bytes = store.get(&group.part_key(1, "a")).unwrap().unwrap();
        assert_eq!(part_checksum(&bytes), info.checksum);
        let owner = PartOwner {
            group: "g",
            participant: "a",
            epoch: 1,
        };
        let manifest_at = bytes.len() - open_part(&bytes, &owner).unwrap().len();
        assert!(crate::incremental::is_manifest(&bytes[manifest_at..]));
        // The owner header's CRC, the manifest's header CRC (after its
        // prefix and header) and its own.
        let header_crc = crate::format::header_section_len(&bytes[manifest_at..]).unwrap() - 4;
        let crcs = [manifest_at - 4, manifest_at + header_crc, bytes.len() - 4];
        for at in 0..bytes.len() {
            let mut edited = bytes.clone();
            edited[at] ^= 0x20;
            let embedded = crcs.iter().any(|&crc| (crc..crc + 4).contains(&at));
            assert_eq!(
                part_checksum(&edited) == info.checksum,
                embedded,
                "byte {at} of {}",
                bytes.len()
            );
        }
    }

    #[test]
    fn a_part_saved_again_after_the_commit_is_refused_and_old_records_still_verify() {
        let store = std::sync::Arc::new(MemStore::new());
        let group = Group::from_shared(store.clone(), "g").unwrap();
        let info = group.save_part(1, "a", &Count(7)).unwrap();
        group.commit(1, &["a"], &[info]).unwrap();
        let key = group.part_key(1, "a");

        // The same state saved again (a new capture time) in its place.
        std::thread::sleep(std::time::Duration::from_millis(2));
        let again = encode_part(
            &PartOwner {
                group: "g",
                participant: "a",
                epoch: 1,
            },
            &Count(7),
            Compression::none(),
        )
        .unwrap();
        let original = store.get(&key).unwrap().unwrap();
        store.delete(&key).unwrap();
        store.put_if_absent(&key, &again).unwrap();
        let err = group.restore::<Count>(1, "a").unwrap_err();
        assert!(
            err.to_string().contains("not the part that was committed"),
            "{err}"
        );

        // A record written as `CKPTCMT1` lists the trailing CRC, and still
        // verifies the part it was written for.
        store.delete(&key).unwrap();
        store.put_if_absent(&key, &original).unwrap();
        let legacy = CommitRecord {
            group: "g".into(),
            epoch: 1,
            parts: vec![PartInfo {
                participant: "a".into(),
                epoch: 1,
                len: original.len() as u64,
                checksum: legacy_part_checksum(&original),
            }],
            legacy: true,
        };
        let body = postcard::to_allocvec(&legacy).unwrap();
        let mut bytes = LEGACY_COMMIT_MAGIC.to_vec();
        bytes.extend_from_slice(&body);
        let bytes = seal(bytes);
        let commit_key = group.commit_key(1);
        store.delete(&commit_key).unwrap();
        store.put_if_absent(&commit_key, &bytes).unwrap();
        assert_eq!(group.commit_record(1).unwrap().unwrap(), legacy);
        assert_eq!(group.restore::<Count>(1, "a").unwrap().0, 7);
    }
}
