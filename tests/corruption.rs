//! Damaged checkpoints: detected, skipped by `restore_latest`, reported by
//! `restore`, and never a panic.

mod common;

use checkpoint::{Checkpointer, Error, MemStore, Store};
use common::{file_of, temp_dir, Counter};

fn three_saved(dir: &std::path::Path) -> Checkpointer {
    let ckpt = Checkpointer::open(dir).unwrap();
    for n in 1..=3 {
        ckpt.save(&Counter::at(n)).unwrap();
    }
    ckpt
}

#[test]
fn a_truncated_newest_checkpoint_is_skipped() {
    let dir = temp_dir();
    let ckpt = three_saved(dir.path());
    let file = file_of(dir.path(), 3);
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 5)
        .unwrap();

    let restored = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!((restored.meta.seq, restored.state), (2, Counter::at(2)));
    assert_eq!(restored.meta.skipped.len(), 1);
    assert_eq!(restored.meta.skipped[0].seq, 3);
    let reason = &restored.meta.skipped[0].reason;
    assert!(
        reason.starts_with("checkpoint #3") && reason.contains("is truncated"),
        "{reason}"
    );

    let err = ckpt.restore::<Counter>(3).unwrap_err();
    assert!(matches!(err, Error::Truncated { seq: 3, .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("#3") && message.contains("truncated"),
        "{message}"
    );
    assert!(message.contains(&file.display().to_string()), "{message}");
}

#[test]
fn a_flipped_byte_in_the_newest_checkpoint_is_skipped() {
    let dir = temp_dir();
    let ckpt = three_saved(dir.path());
    let file = file_of(dir.path(), 3);
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, &bytes).unwrap();

    let restored = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!((restored.meta.seq, restored.state), (2, Counter::at(2)));
    let reason = &restored.meta.skipped[0].reason;
    assert!(
        reason.starts_with("checkpoint #3") && reason.contains("is corrupt"),
        "{reason}"
    );

    let err = ckpt.restore::<Counter>(3).unwrap_err();
    assert!(matches!(err, Error::Corrupt { seq: 3, .. }), "{err:?}");
    assert!(err.to_string().contains("corrupt"));
}

#[test]
fn several_damaged_checkpoints_are_all_skipped_and_reported() {
    let dir = temp_dir();
    let ckpt = three_saved(dir.path());
    std::fs::write(file_of(dir.path(), 3), b"").unwrap();
    std::fs::write(file_of(dir.path(), 2), b"not a checkpoint at all").unwrap();
    let restored = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!(restored.meta.seq, 1);
    let skipped: Vec<u64> = restored.meta.skipped.iter().map(|s| s.seq).collect();
    assert_eq!(skipped, [3, 2]);
    let reason = &restored.meta.skipped[1].reason;
    assert!(reason.contains("is not a checkpoint"), "{reason}");
    assert_eq!(
        restored.meta.skipped[1].location,
        file_of(dir.path(), 2).display().to_string()
    );
}

#[test]
fn when_every_checkpoint_is_damaged_the_newest_error_is_returned() {
    let dir = temp_dir();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    ckpt.save(&Counter::at(1)).unwrap();
    std::fs::write(file_of(dir.path(), 1), b"\x89CKPT").unwrap();
    let err = ckpt.restore_latest::<Counter>().unwrap_err();
    assert!(matches!(err, Error::Truncated { seq: 1, .. }), "{err:?}");
}

#[test]
fn an_empty_store_restores_nothing() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    assert!(ckpt.restore_latest::<Counter>().unwrap().is_none());
    assert!(matches!(
        ckpt.restore::<Counter>(1),
        Err(Error::NotFound { seq: 1, .. })
    ));
}

/// Every truncation and many corruptions of a real checkpoint are errors,
/// never panics, and never skipped silently.
#[test]
fn no_damage_panics_or_restores_wrong_state() {
    let store = std::sync::Arc::new(MemStore::new());
    let ckpt = Checkpointer::new(store.clone()).unwrap();
    let meta = ckpt.save(&Counter::at(16)).unwrap();
    let good = store.get(&meta.key).unwrap().unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut variants: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
    for _ in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut bad = good.clone();
        let at = (seed as usize) % bad.len();
        bad[at] = bad[at].wrapping_add((seed >> 32) as u8 | 1);
        variants.push(bad);
    }
    for bad in variants {
        let store = MemStore::new();
        store.put_if_absent(&meta.key, &bad).unwrap();
        let ckpt = Checkpointer::new(store).unwrap();
        assert!(ckpt.restore::<Counter>(1).is_err());
        let _ = ckpt.list().unwrap();
    }
}

/// Found by fuzzing: a key holding the largest sequence number overflowed
/// the next number when the store was opened. Such a key that holds no
/// checkpoint does not count for numbering (`docs/FORMAT.md`): saving goes
/// on, restores skip it and say why, and it is never written over.
#[test]
fn a_key_with_the_largest_sequence_number_is_an_error_not_a_panic() {
    let store = MemStore::new();
    let key = format!("{}.ckpt", u64::MAX);
    store.put_if_absent(&key, b"\x89CKPjunk").unwrap();
    let ckpt = Checkpointer::new(store).unwrap();
    assert!(ckpt.restore_latest::<Counter>().is_err());
    assert_eq!(ckpt.save(&Counter::at(1)).unwrap().seq, 1);
    let restored = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!(restored.meta.seq, 1);
    assert_eq!(restored.meta.skipped[0].seq, u64::MAX);
    assert_eq!(ckpt.store().get(&key).unwrap().unwrap(), b"\x89CKPjunk");
}
