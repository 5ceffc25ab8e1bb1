//! Sequence numbers: assigned at capture, continued across reopening,
//! never reused, never going backwards.

mod common;

use std::sync::Arc;

use checkpoint::{Checkpointer, Error, MemStore};
use common::{file_of, temp_dir, Counter};

#[test]
fn numbers_start_at_one_and_increase() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    let seqs: Vec<u64> = (0..5)
        .map(|n| ckpt.save(&Counter::at(n)).unwrap().seq)
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
}

#[test]
fn a_reopened_store_continues_after_its_newest_checkpoint() {
    let dir = temp_dir();
    {
        let ckpt = Checkpointer::open(dir.path()).unwrap();
        for n in 0..3 {
            ckpt.save(&Counter::at(n)).unwrap();
        }
    }
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    assert_eq!(ckpt.save(&Counter::at(9)).unwrap().seq, 4);
    let restored = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!((restored.meta.seq, restored.state), (4, Counter::at(9)));
}

#[test]
fn a_corrupt_newest_checkpoint_keeps_its_number() {
    let dir = temp_dir();
    {
        let ckpt = Checkpointer::open(dir.path()).unwrap();
        ckpt.save(&Counter::at(1)).unwrap();
        ckpt.save(&Counter::at(2)).unwrap();
    }
    std::fs::write(file_of(dir.path(), 2), b"garbage").unwrap();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    assert_eq!(ckpt.save(&Counter::at(3)).unwrap().seq, 3);
}

#[test]
fn an_older_capture_committed_after_a_newer_one_is_refused() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    let older = ckpt.capture(&Counter::at(1)).unwrap();
    let newer = ckpt.capture(&Counter::at(2)).unwrap();
    assert_eq!((older.seq(), newer.seq()), (1, 2));
    ckpt.commit(newer).unwrap();
    let err = ckpt.commit(older).unwrap_err();
    assert!(
        matches!(err, Error::OlderCapture { seq: 1, newest: 2 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("#1") && err.to_string().contains("#2"));
    let latest = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!((latest.meta.seq, latest.state), (2, Counter::at(2)));
    assert_eq!(ckpt.list().unwrap().len(), 1);
}

#[test]
fn two_writers_on_one_directory_never_overwrite() {
    let dir = temp_dir();
    let a = Checkpointer::open(dir.path()).unwrap();
    let b = Checkpointer::open(dir.path()).unwrap();
    a.save(&Counter::at(10)).unwrap();
    let err = b.save(&Counter::at(20)).unwrap_err();
    assert!(
        matches!(err, Error::SequenceTaken { seq: 1, .. }),
        "{err:?}"
    );
    assert_eq!(
        a.restore::<Counter>(1).map(|r| r.state).unwrap(),
        Counter::at(10)
    );
    // b has caught up with the store and numbers after a's checkpoint.
    assert_eq!(b.save(&Counter::at(20)).unwrap().seq, 2);
}

#[test]
fn threads_sharing_one_checkpointer_get_distinct_numbers() {
    let ckpt = Arc::new(Checkpointer::new(MemStore::new()).unwrap().keep_last(1000));
    let mut handles = Vec::new();
    for t in 0..4 {
        let ckpt = Arc::clone(&ckpt);
        handles.push(std::thread::spawn(move || {
            (0..25)
                .map(|i| ckpt.save(&Counter::at(t * 100 + i)).unwrap().seq)
                .collect::<Vec<_>>()
        }));
    }
    let mut seqs: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
}

#[test]
fn checkpointer_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Checkpointer>();
    assert_send_sync::<checkpoint::Snapshot>();
    assert_send_sync::<Error>();
}

#[test]
fn list_reports_every_checkpoint_with_its_meta() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    let saved: Vec<_> = (0..3)
        .map(|n| ckpt.save(&Counter::at(n)).unwrap())
        .collect();
    let listed = ckpt.list().unwrap();
    assert_eq!(listed, saved);
    assert!(listed
        .iter()
        .all(|m| m.type_name == "Counter" && m.size > 40));
}
