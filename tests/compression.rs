//! zstd-compressed checkpoints: they restore whatever the current setting,
//! plain ones restore beside them, and damage or hostile sizes are errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use checkpoint::format::{self, PREFIX_LEN};
use checkpoint::{inspect, Checkpoint, Checkpointer, Compression, Error, MemStore, Store};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Line {
    at: u64,
    text: String,
}

#[derive(Debug, PartialEq, Checkpoint)]
struct Log {
    lines: Vec<Line>,
    totals: BTreeMap<String, u64>,
    #[derived(from = lines.len())]
    len: usize,
}

#[derive(Debug, PartialEq, Checkpoint)]
enum Stage {
    Idle,
    Busy { log: Vec<String>, step: u32 },
}

fn log(n: u64) -> Log {
    let lines: Vec<Line> = (0..n)
        .map(|at| Line {
            at,
            text: format!("request {} handled by worker {}", at, at % 4),
        })
        .collect();
    Log {
        len: lines.len(),
        lines,
        totals: BTreeMap::from([("ok".into(), n), ("failed".into(), 0)]),
    }
}

fn zstd(store: &Arc<MemStore>) -> Checkpointer {
    Checkpointer::new(Arc::clone(store))
        .unwrap()
        .compression(Compression::zstd(3))
}

fn stored(store: &MemStore, seq: u64) -> Vec<u8> {
    store.get(&format!("{seq:020}.ckpt")).unwrap().unwrap()
}

/// Replaces checkpoint `seq` with `bytes`, its trailing checksum resealed so
/// only what the test changed differs.
fn replace_sealed(store: &MemStore, seq: u64, mut bytes: Vec<u8>) {
    let end = bytes.len() - 4;
    let crc = format::checksum(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
    let key = format!("{seq:020}.ckpt");
    store.delete(&key).unwrap();
    store.put_if_absent(&key, &bytes).unwrap();
}

/// Where the value of the body's first frame starts.
fn first_value(bytes: &[u8]) -> usize {
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let body = PREFIX_LEN + header_len + 4;
    let name_len = u32::from_le_bytes(bytes[body..body + 4].try_into().unwrap()) as usize;
    body + 4 + name_len + 8
}

#[test]
fn compressed_checkpoints_restore_equal_and_smaller() {
    let store = Arc::new(MemStore::new());
    let plain = Checkpointer::new(Arc::clone(&store)).unwrap();
    let a = plain.save(&log(2000)).unwrap();
    let small = zstd(&store);
    let b = small.save(&log(2000)).unwrap();
    assert!(b.size * 4 < a.size, "{} vs {}", b.size, a.size);
    let (header, _) = format::decode(&stored(&store, b.seq), b.seq, "x").unwrap();
    assert_eq!((header.version, header.flags), (4, format::FLAG_ZSTD));
    let (header, _) = format::decode(&stored(&store, a.seq), a.seq, "x").unwrap();
    assert_eq!((header.version, header.flags), (3, 0));

    // Either setting reads both.
    for ckpt in [&plain, &small] {
        assert_eq!(ckpt.restore::<Log>(a.seq).unwrap().state, log(2000));
        assert_eq!(ckpt.restore::<Log>(b.seq).unwrap().state, log(2000));
    }
    let latest = plain.restore_latest::<Log>().unwrap().unwrap();
    assert_eq!((latest.meta.seq, latest.meta.size), (b.seq, b.size));
}

#[test]
fn enums_and_empty_values_round_trip_compressed() {
    let store = Arc::new(MemStore::new());
    let ckpt = zstd(&store);
    for stage in [
        Stage::Idle,
        Stage::Busy {
            log: vec![],
            step: 0,
        },
        Stage::Busy {
            log: vec!["a".into(); 50],
            step: 9,
        },
    ] {
        let meta = ckpt.save(&stage).unwrap();
        assert_eq!(ckpt.restore::<Stage>(meta.seq).unwrap().state, stage);
    }
    let meta = ckpt.save(&log(0)).unwrap();
    assert_eq!(ckpt.restore::<Log>(meta.seq).unwrap().state, log(0));
}

#[test]
fn every_flipped_bit_of_a_compressed_checkpoint_is_damage() {
    let store = Arc::new(MemStore::new());
    let ckpt = zstd(&store);
    ckpt.save(&log(3)).unwrap();
    let bytes = stored(&store, 1);
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            let err = format::decode(&b, 1, "x").unwrap_err();
            assert!(err.is_damage(), "{i}:{bit}: {err}");
        }
    }
}

#[test]
fn a_damaged_compressed_value_is_found_before_decompression() {
    let store = Arc::new(MemStore::new());
    let ckpt = zstd(&store);
    ckpt.save(&log(100)).unwrap();
    ckpt.save(&log(200)).unwrap();
    let mut bytes = stored(&store, 2);
    // Past the value's codec, length and checksum: inside the zstd bytes.
    let at = first_value(&bytes) + 13 + 5;
    bytes[at] ^= 0x10;
    // Sealed again, so only the value's own checksum can tell.
    replace_sealed(&store, 2, bytes);
    let err = ckpt.restore::<Log>(2).unwrap_err();
    assert!(matches!(err, Error::Corrupt { seq: 2, .. }), "{err}");
    let latest = ckpt.restore_latest::<Log>().unwrap().unwrap();
    assert_eq!((latest.meta.seq, latest.state), (1, log(100)));
    assert_eq!(latest.meta.skipped[0].seq, 2);
}

#[test]
fn a_hostile_decompressed_size_is_an_error_not_an_allocation() {
    let store = Arc::new(MemStore::new());
    let ckpt = zstd(&store);
    ckpt.save(&log(100)).unwrap();
    for claim in [u64::MAX, 1 << 40, 3] {
        let mut bytes = stored(&store, 1);
        let at = first_value(&bytes);
        assert_eq!(bytes[at], 1, "zstd");
        bytes[at + 1..at + 9].copy_from_slice(&claim.to_le_bytes());
        let store = Arc::new(MemStore::new());
        replace_sealed(&store, 1, bytes);
        let err = zstd(&store).restore::<Log>(1).unwrap_err();
        assert!(
            matches!(&err, Error::Malformed { reason, .. } if reason.contains("field `lines`")),
            "{claim}: {err}"
        );
        assert!(err.is_damage());
        // `inspect` (and so `checkpoint verify`) finds it too.
        let found = inspect::inspect(&stored(&store, 1), 1, "x");
        assert_eq!(found.status(), inspect::Status::Malformed, "{claim}");
    }
}

#[test]
fn a_truncated_compressed_checkpoint_is_truncated() {
    let store = Arc::new(MemStore::new());
    let ckpt = zstd(&store);
    ckpt.save(&log(100)).unwrap();
    let bytes = stored(&store, 1);
    for cut in [bytes.len() - 1, bytes.len() / 2, 40] {
        let err = format::decode(&bytes[..cut], 1, "x").unwrap_err();
        assert!(matches!(err, Error::Truncated { .. }), "{cut}: {err}");
    }
}

#[test]
fn flags_this_version_does_not_define_are_refused() {
    let store = Arc::new(MemStore::new());
    let ckpt = zstd(&store);
    ckpt.save(&log(1)).unwrap();
    let mut bytes = stored(&store, 1);
    bytes[10..12].copy_from_slice(&0x8001u16.to_le_bytes());
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let end = PREFIX_LEN + header_len;
    let crc = format::checksum(&bytes[..end]);
    bytes[end..end + 4].copy_from_slice(&crc.to_le_bytes());
    replace_sealed(&store, 1, bytes);
    let err = ckpt.restore::<Log>(1).unwrap_err();
    assert!(
        matches!(&err, Error::Malformed { reason, .. } if reason.contains("flags")),
        "{err}"
    );
}

#[test]
fn inspect_shows_stored_and_uncompressed_sizes() {
    let store = Arc::new(MemStore::new());
    zstd(&store).save(&log(500)).unwrap();
    let found = inspect::inspect(&stored(&store, 1), 1, "x");
    assert_eq!(found.status(), inspect::Status::Ok);
    assert!(found.header.as_ref().unwrap().compressed());
    let lines = found.frame("lines").unwrap();
    let raw = lines.raw_len.unwrap();
    assert_eq!(
        raw,
        postcard::to_allocvec(&log(500).lines).unwrap().len() as u64
    );
    assert!(lines.len * 4 < raw, "{} of {raw}", lines.len);

    let plain = Arc::new(MemStore::new());
    Checkpointer::new(Arc::clone(&plain))
        .unwrap()
        .save(&log(5))
        .unwrap();
    let found = inspect::inspect(&stored(&plain, 1), 1, "x");
    assert_eq!(found.frame("lines").unwrap().raw_len, None);
}
