//! Checkpoints written by earlier releases of the format still restore.
//!
//! `tests/golden/v<N>/` holds checkpoints written once, with
//! `CHECKPOINT_BLESS=1 cargo test --test format_golden`, and committed.
//! A change that breaks them fails here: bump the format version and keep
//! reading the old one instead of re-blessing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use checkpoint::{Checkpoint, Checkpointer, Compression, DirStore, Error, MemStore, Store};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Entry {
    id: u64,
    text: String,
}

#[derive(Debug, PartialEq, Checkpoint)]
struct Journal {
    last_seq: u64,
    entries: Vec<Entry>,
    tags: BTreeMap<String, i32>,
    #[derived(from = entries.len())]
    len: usize,
}

#[derive(Debug, PartialEq, Checkpoint)]
struct Pair(u32, Option<String>);

#[derive(Debug, PartialEq, Checkpoint)]
enum Phase {
    Idle,
    Running { step: u64, note: String },
    Done(i64),
}

fn journal() -> Journal {
    Journal {
        last_seq: 3,
        entries: vec![
            Entry {
                id: 1,
                text: "open".into(),
            },
            Entry {
                id: 2,
                text: "deposit 40".into(),
            },
        ],
        tags: BTreeMap::from([("branch".into(), 7), ("tier".into(), -1)]),
        len: 2,
    }
}

/// A journal long enough that compression pays: version 4's sample.
fn long_journal() -> Journal {
    let mut journal = journal();
    journal.entries = (0..40)
        .map(|id| Entry {
            id,
            text: format!("deposit {} into account {}", id * 10, id % 3),
        })
        .collect();
    journal.len = journal.entries.len();
    journal
}

/// A journal of a few chunks: the sample of versions 5 and 6.
fn chunked_journal() -> Journal {
    let mut journal = journal();
    journal.entries = (0..3000)
        .map(|id| Entry {
            id,
            text: format!("deposit {} into account {}", id * 10, id % 97),
        })
        .collect();
    journal.len = journal.entries.len();
    journal
}

fn golden(version: u32) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/v{version}"))
}

/// Writes the samples the golden files hold: plain ones in version 3,
/// compressed ones in version 4.
fn write_samples(dir: &std::path::Path, compression: Compression, journal: &Journal) {
    write_samples_as(dir, compression, false, journal);
}

/// [`write_samples`], incremental ones (version 6) when `incremental`.
fn write_samples_as(
    dir: &std::path::Path,
    compression: Compression,
    incremental: bool,
    journal: &Journal,
) {
    let _ = std::fs::remove_dir_all(dir);
    let ckpt = Checkpointer::open(dir)
        .unwrap()
        .compression(compression)
        .incremental(incremental);
    ckpt.save(journal).unwrap();
    ckpt.save(&Pair(9, Some("nine".into()))).unwrap();
    ckpt.save(&Phase::Idle).unwrap();
    ckpt.save(&Phase::Running {
        step: 12,
        note: "warm".into(),
    })
    .unwrap();
    ckpt.save(&Phase::Done(-5)).unwrap();
}

#[test]
fn version_1_checkpoints_restore() {
    // Version 1 is no longer written: its files are never re-blessed.
    restores_samples(&golden(1));
}

#[test]
fn version_2_checkpoints_restore() {
    // Version 2 is no longer written: its files are never re-blessed. Its
    // traced field shapes are read as the writer's schema.
    let dir = golden(2);
    restores_samples(&dir);
    let bytes = std::fs::read(dir.join("00000000000000000001.ckpt")).unwrap();
    let (header, _) = checkpoint::format::decode(&bytes, 1, "golden").unwrap();
    assert_eq!(header.version, 2);
    let shapes: Vec<String> = header
        .field_shapes
        .iter()
        .map(|(field, shape)| format!("{field}: {shape}"))
        .collect();
    assert_eq!(
        shapes,
        [
            "last_seq: u64",
            "entries: Vec<Entry>",
            "tags: Map<String, i32>"
        ]
    );
    let deep: Vec<String> = header
        .deep
        .roots()
        .iter()
        .map(|(field, id)| format!("{field}: {}", header.deep.type_name(*id)))
        .collect();
    assert_eq!(
        deep,
        [
            "last_seq: u64",
            "entries: Vec<Entry>",
            "tags: Map<String, i32>"
        ]
    );
}

#[test]
fn version_3_checkpoints_restore() {
    let dir = golden(3);
    if std::env::var_os("CHECKPOINT_BLESS").is_some() {
        write_samples(&dir, Compression::none(), &journal());
    }
    restores_samples(&dir);
    let bytes = std::fs::read(dir.join("00000000000000000001.ckpt")).unwrap();
    let (header, _) = checkpoint::format::decode(&bytes, 1, "golden").unwrap();
    assert_eq!((header.version, header.flags), (3, 0));
    assert_eq!(
        header.deep.display_tree(),
        "last_seq: u64\n\
         entries: Vec<Entry>\n\
         \x20 []: struct Entry\n\
         \x20   id: u64\n\
         \x20   text: String\n\
         tags: Map<String, i32>\n\
         \x20 {key}: String\n\
         \x20 {value}: i32\n"
    );
}

#[test]
fn version_4_compressed_checkpoints_restore() {
    let dir = golden(4);
    if std::env::var_os("CHECKPOINT_BLESS").is_some() {
        write_samples(&dir, Compression::zstd(3), &long_journal());
    }
    restores_samples_with(&dir, &long_journal());
    for seq in 1..=5 {
        let path = dir.join(format!("{seq:020}.ckpt"));
        let bytes = std::fs::read(path).unwrap();
        let (header, _) = checkpoint::format::decode(&bytes, seq, "golden").unwrap();
        assert_eq!((header.version, header.flags), (4, 1), "#{seq}");
        assert!(header.compressed());
    }
    // A plain reader setting reads them too.
    let plain = Checkpointer::new(DirStore::open(&dir).unwrap()).unwrap();
    assert_eq!(plain.restore::<Journal>(1).unwrap().state, long_journal());
    // Its entries are stored compressed, its other fields plain.
    let found = checkpoint::inspect::inspect_file(&dir.join(format!("{:020}.ckpt", 1)), 1).unwrap();
    let entries = found.frame("entries").unwrap();
    assert!(entries.len * 2 < entries.raw_len.unwrap(), "{entries:?}");
    let last_seq = found.frame("last_seq").unwrap();
    assert_eq!(last_seq.len, last_seq.raw_len.unwrap() + 1);
}

#[test]
fn version_5_incremental_checkpoints_restore() {
    // Version 5 (every chunk stored alone) is no longer written: its files
    // are never re-blessed.
    let dir = golden(5);
    restores_samples_with(&dir, &chunked_journal());
    incremental_samples_inspect(&dir, 5);
}

#[test]
fn version_6_packed_incremental_checkpoints_restore() {
    let dir = golden(6);
    if std::env::var_os("CHECKPOINT_BLESS").is_some() {
        write_samples_as(&dir, Compression::none(), true, &chunked_journal());
    }
    restores_samples_with(&dir, &chunked_journal());
    incremental_samples_inspect(&dir, 6);
    // The journal's chunks after the first are in a pack; each first chunk
    // is stored alone.
    let chunks = checkpoint::inspect::inspect_file(&dir.join(format!("{:020}.ckpt", 1)), 1)
        .unwrap()
        .chunks
        .unwrap()
        .chunks;
    assert!(!chunks[0].key.ends_with(".pack"), "{chunks:?}");
    assert!(
        chunks[1..].iter().all(|c| c.key.ends_with(".pack")),
        "{chunks:?}"
    );
}

/// Checks that the samples in `dir` are manifests of `version` that
/// inspect intact and make up plain version 3 checkpoints.
fn incremental_samples_inspect(dir: &std::path::Path, version: u16) {
    for seq in 1..=5 {
        let path = dir.join(format!("{seq:020}.ckpt"));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[8..10], &version.to_le_bytes(), "#{seq}");
        let found = checkpoint::inspect::inspect_file(&path, seq).unwrap();
        assert_eq!(
            found.status(),
            checkpoint::inspect::Status::Ok,
            "#{seq}: {:?}",
            found.problem
        );
        let chunks = found.chunks.unwrap();
        assert_eq!(chunks.manifest_len, bytes.len() as u64);
        assert_eq!(chunks.manifest_version, version);
        // The chunks make up a plain version 3 checkpoint.
        assert_eq!(found.header.unwrap().version, 3);
        if seq == 1 {
            assert!(chunks.chunks.len() > 1, "{chunks:?}");
        }
    }
}

fn restores_samples(dir: &std::path::Path) {
    restores_samples_with(dir, &journal());
}

fn restores_samples_with(dir: &std::path::Path, journal: &Journal) {
    // A read-only view: restoring must not write. Streamed from the files,
    // and decoded in place from a store that holds them in memory.
    restores_samples_from(
        &Checkpointer::new(DirStore::open(dir).unwrap()).unwrap(),
        journal,
    );
    restores_samples_from(&Checkpointer::new(in_memory(dir)).unwrap(), journal);
}

/// A `MemStore` holding every file under `dir`, keyed by its path there.
fn in_memory(dir: &std::path::Path) -> MemStore {
    fn copy(store: &MemStore, dir: &std::path::Path, prefix: &str) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let key = format!("{prefix}{}", entry.file_name().to_str().unwrap());
            if entry.file_type().unwrap().is_dir() {
                copy(store, &entry.path(), &format!("{key}/"));
            } else {
                let bytes = std::fs::read(entry.path()).unwrap();
                store.put_if_absent(&key, &bytes).unwrap();
            }
        }
    }
    let store = MemStore::new();
    copy(&store, dir, "");
    store
}

fn restores_samples_from(ckpt: &Checkpointer, journal: &Journal) {
    let restored = ckpt.restore::<Journal>(1).unwrap();
    assert_eq!(&restored.state, journal);
    assert_eq!(restored.meta.type_name, "Journal");
    assert!(restored.meta.time > UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    assert_eq!(
        ckpt.restore::<Pair>(2).unwrap().state,
        Pair(9, Some("nine".into()))
    );
    assert_eq!(ckpt.restore::<Phase>(3).unwrap().state, Phase::Idle);
    assert_eq!(
        ckpt.restore::<Phase>(4).unwrap().state,
        Phase::Running {
            step: 12,
            note: "warm".into()
        }
    );
    let latest = ckpt.restore_latest::<Phase>().unwrap().unwrap();
    assert_eq!((latest.meta.seq, latest.state), (5, Phase::Done(-5)));
    let sizes: Vec<u64> = ckpt.list().unwrap().iter().map(|m| m.size).collect();
    assert_eq!(sizes.len(), 5);
    assert!(matches!(
        ckpt.restore::<Pair>(1),
        Err(Error::WrongType { .. })
    ));
}

/// A copy of the version 1 goldens in a fresh directory.
fn copy_of_v1() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(golden(1)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

#[test]
fn a_flipped_version_bit_is_corruption_and_skipped() {
    let dir = copy_of_v1();
    let newest = dir.path().join("00000000000000000005.ckpt");
    let mut bytes = std::fs::read(&newest).unwrap();
    bytes[9] ^= 0x80; // version 1 -> 32769
    std::fs::write(&newest, &bytes).unwrap();
    let ckpt = Checkpointer::new(DirStore::open(dir.path()).unwrap()).unwrap();
    assert!(matches!(
        ckpt.restore::<Phase>(5),
        Err(Error::Corrupt { seq: 5, .. })
    ));
    let latest = ckpt.restore_latest::<Phase>().unwrap().unwrap();
    assert_eq!(latest.meta.seq, 4);
    let reason = &latest.meta.skipped[0].reason;
    assert!(
        reason.starts_with("checkpoint #5") && reason.contains("is corrupt"),
        "{reason}"
    );
}

#[test]
fn a_newer_format_with_valid_checksums_is_unsupported_not_corrupt() {
    let dir = copy_of_v1();
    let newest = dir.path().join("00000000000000000005.ckpt");
    let mut bytes = std::fs::read(&newest).unwrap();
    bytes[8..10].copy_from_slice(&7u16.to_le_bytes());
    // a newer writer seals its bytes with the same checksums
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let header_end = checkpoint::format::PREFIX_LEN + header_len;
    let header_crc = checkpoint::format::checksum(&bytes[..header_end]);
    bytes[header_end..header_end + 4].copy_from_slice(&header_crc.to_le_bytes());
    let end = bytes.len() - 4;
    let crc = checkpoint::format::checksum(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&newest, &bytes).unwrap();
    let ckpt = Checkpointer::new(DirStore::open(dir.path()).unwrap()).unwrap();
    let err = ckpt.restore_latest::<Phase>().unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnsupportedVersion {
                found: 7,
                supported: 4,
                ..
            }
        ),
        "{err:?}"
    );
}
