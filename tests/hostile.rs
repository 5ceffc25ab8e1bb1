//! Entries a directory store did not write, placed under checkpoint names:
//! each is skipped with a reason, in bounded time and memory, and never
//! stops the store from saving or restoring the others.
#![cfg(unix)]

mod common;

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use checkpoint::{Checkpointer, Error, Store, StoreError};
use common::{file_of, temp_dir, Counter};

/// A store holding checkpoints 1 to `n`.
fn store_with(n: u64) -> tempfile::TempDir {
    let dir = temp_dir();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    for i in 1..=n {
        ckpt.save(&Counter::at(i)).unwrap();
    }
    dir
}

fn mkfifo(path: &Path) {
    let name = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
}

/// Runs `f` on a thread and fails the test if it takes longer than 20 s:
/// a hang is a failure, not a stuck suite.
fn within_time<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the call did not return within 20 s")
}

fn restore_latest_seq(dir: &Path) -> (u64, Vec<(u64, String)>) {
    let path = dir.to_path_buf();
    within_time(move || {
        let ckpt = Checkpointer::open(&path).unwrap();
        let restored = ckpt.restore_latest::<Counter>().unwrap().unwrap();
        assert_eq!(restored.state, Counter::at(restored.meta.seq));
        let skipped = restored
            .meta
            .skipped
            .iter()
            .map(|s| (s.seq, s.reason.clone()))
            .collect();
        (restored.meta.seq, skipped)
    })
}

fn list_seqs(dir: &Path) -> Vec<u64> {
    let path = dir.to_path_buf();
    within_time(move || {
        let ckpt = Checkpointer::open(&path).unwrap();
        ckpt.list().unwrap().iter().map(|m| m.seq).collect()
    })
}

#[test]
fn a_fifo_named_like_the_newest_checkpoint_is_skipped_without_blocking() {
    let dir = store_with(3);
    mkfifo(&file_of(dir.path(), 4));
    assert_eq!(list_seqs(dir.path()), [1, 2, 3]);
    let (seq, skipped) = restore_latest_seq(dir.path());
    assert_eq!(seq, 3);
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].0, 4);
    assert!(skipped[0].1.contains("FIFO"), "{}", skipped[0].1);
}

#[test]
fn a_symbolic_link_to_dev_zero_is_never_followed() {
    let dir = store_with(3);
    symlink("/dev/zero", file_of(dir.path(), 4)).unwrap();
    assert_eq!(list_seqs(dir.path()), [1, 2, 3]);
    let (seq, skipped) = restore_latest_seq(dir.path());
    assert_eq!(seq, 3);
    assert!(skipped[0].1.contains("symbolic link"), "{}", skipped[0].1);
    let store = checkpoint::DirStore::open(dir.path()).unwrap();
    let key = format!("{:020}.ckpt", 4);
    assert!(matches!(
        store.get(&key),
        Err(StoreError::Unreadable { .. })
    ));
}

#[test]
fn a_huge_sparse_file_is_refused_before_it_is_read() {
    let dir = store_with(3);
    // A real checkpoint's bytes, then 64 GiB of holes: the prefix declares
    // a small checkpoint, the file is far longer.
    let real = fs::read(file_of(dir.path(), 3)).unwrap();
    let path = file_of(dir.path(), 3);
    fs::remove_file(&path).unwrap();
    fs::write(&path, &real).unwrap();
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    // And one whose prefix is not a checkpoint's at all.
    let junk = file_of(dir.path(), 4);
    fs::File::create(&junk).unwrap().set_len(64 << 30).unwrap();

    let (seq, skipped) = restore_latest_seq(dir.path());
    assert_eq!(seq, 2);
    let reasons: Vec<u64> = skipped.iter().map(|s| s.0).collect();
    assert_eq!(reasons, [4, 3]);
    assert!(
        skipped[1].1.contains("68719476736 bytes long"),
        "{}",
        skipped[1].1
    );
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    let err = ckpt.restore::<Counter>(3).unwrap_err();
    assert!(matches!(err, Error::Malformed { seq: 3, .. }), "{err:?}");
}

#[test]
fn one_unreadable_entry_never_blocks_the_others() {
    let dir = store_with(3);
    // A checkpoint this process may not read, and a symbolic link to a
    // directory above it.
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    assert_eq!(ckpt.save(&Counter::at(4)).unwrap().seq, 4);
    fs::set_permissions(file_of(dir.path(), 4), fs::Permissions::from_mode(0o000)).unwrap();
    let denied = fs::read(file_of(dir.path(), 4)).is_err();
    let elsewhere = temp_dir();
    symlink(elsewhere.path(), file_of(dir.path(), 5)).unwrap();

    let (seq, skipped) = restore_latest_seq(dir.path());
    let skipped_seqs: Vec<u64> = skipped.iter().map(|s| s.0).collect();
    if denied {
        assert_eq!((seq, skipped_seqs), (3, vec![5, 4]));
        assert!(
            skipped[1].1.contains("permission denied"),
            "{}",
            skipped[1].1
        );
        assert_eq!(list_seqs(dir.path()), [1, 2, 3]);
    } else {
        // Running as a user who reads everything: only the link is skipped.
        assert_eq!((seq, skipped_seqs), (4, vec![5]));
        assert_eq!(list_seqs(dir.path()), [1, 2, 3, 4]);
    }
    assert!(skipped.iter().any(|s| s.1.contains("symbolic link")));
    fs::set_permissions(file_of(dir.path(), 4), fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn an_empty_file_named_with_the_largest_number_never_stops_saving() {
    let dir = store_with(2);
    fs::write(file_of(dir.path(), u64::MAX), b"").unwrap();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    for expected in 3..6 {
        assert_eq!(ckpt.save(&Counter::at(expected)).unwrap().seq, expected);
    }
    let (seq, skipped) = restore_latest_seq(dir.path());
    assert_eq!(seq, 5);
    assert_eq!(skipped[0].0, u64::MAX);
    assert_eq!(fs::read(file_of(dir.path(), u64::MAX)).unwrap(), b"");
}

#[test]
fn a_directory_named_like_the_next_number_is_passed_over_or_named() {
    let dir = store_with(2);
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    // Made after the store was opened, so numbering meets it at commit.
    fs::create_dir(file_of(dir.path(), 3)).unwrap();
    let snapshot = ckpt.capture(&Counter::at(3)).unwrap();
    assert_eq!(snapshot.seq(), 3);
    let err = ckpt.commit(snapshot).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, Error::SequenceOccupied { seq: 3, .. }),
        "{err:?}"
    );
    assert!(
        message.contains(&file_of(dir.path(), 3).display().to_string())
            && message.contains("directory")
            && message.contains("capture the state again"),
        "{message}"
    );
    // Capturing again numbers past it.
    let snapshot = ckpt.capture(&Counter::at(4)).unwrap();
    assert_eq!(ckpt.commit(snapshot).unwrap().seq, 4);
    // `save` captures again by itself.
    fs::create_dir(file_of(dir.path(), 5)).unwrap();
    assert_eq!(ckpt.save(&Counter::at(6)).unwrap().seq, 6);
    assert!(file_of(dir.path(), 5).is_dir());
    // A reopened store numbers past it too.
    fs::create_dir(file_of(dir.path(), 7)).unwrap();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    assert_eq!(ckpt.save(&Counter::at(8)).unwrap().seq, 8);
}

#[test]
fn a_missing_store_directory_is_an_error_not_an_empty_store() {
    let parent = temp_dir();
    let dir = parent.path().join("store");
    let ckpt = Checkpointer::open(&dir).unwrap();
    ckpt.save(&Counter::at(1)).unwrap();
    fs::rename(&dir, parent.path().join("moved")).unwrap();
    let err = ckpt.restore_latest::<Counter>().unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(ckpt.list().is_err());
}

#[test]
fn a_missing_group_store_directory_is_an_error_not_an_empty_group() {
    let parent = temp_dir();
    let dir = parent.path().join("store");
    let group =
        checkpoint::group::Group::new(checkpoint::DirStore::open(&dir).unwrap(), "g").unwrap();
    let part = group.save_part(1, "a", &Counter::at(1)).unwrap();
    group.commit(1, &["a"], &[part]).unwrap();
    fs::rename(&dir, parent.path().join("moved")).unwrap();
    let err = group.restore_latest::<Counter>("a").unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

/// Takes the advisory lock a writer holds on its temporary file.
fn hold_like_a_writer(path: &Path) -> fs::File {
    use std::os::unix::io::AsRawFd;
    let file = fs::File::open(path).unwrap();
    // SAFETY: flock on a descriptor `file` owns.
    assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) }, 0);
    file
}

#[test]
fn leftover_temporary_files_are_reclaimed_but_never_one_a_live_writer_holds() {
    let dir = store_with(1);
    // A crash after the link leaves a second name of a committed checkpoint;
    // a crash before it, a partial file; both in nested levels too.
    let linked = dir.path().join(".tmp-4000000-1");
    fs::hard_link(file_of(dir.path(), 1), &linked).unwrap();
    let partial = dir.path().join(".tmp-4000000-2");
    fs::write(&partial, b"\x89CKPT").unwrap();
    fs::create_dir_all(dir.path().join("group/g/parts/1")).unwrap();
    let nested = dir.path().join("group/g/parts/1/.tmp-4000000-3");
    fs::write(&nested, b"x").unwrap();
    // A writer (here, this test) is still using this one.
    let busy = dir.path().join(".tmp-4000000-4");
    fs::write(&busy, b"in use").unwrap();
    let held = hold_like_a_writer(&busy);

    let store = checkpoint::DirStore::open(dir.path()).unwrap();
    assert!(!linked.exists() && !partial.exists() && !nested.exists());
    assert!(busy.exists(), "a temporary file a writer holds was removed");
    assert_eq!(store.list("").unwrap(), [format!("{:020}.ckpt", 1)]);

    drop(held);
    checkpoint::DirStore::open(dir.path()).unwrap();
    assert!(!busy.exists());
}
