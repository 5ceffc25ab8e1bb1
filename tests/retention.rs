//! Retention keeps the newest K checkpoints.

mod common;

use checkpoint::{Checkpointer, MemStore};
use common::{temp_dir, Counter};

#[test]
fn only_the_newest_k_are_kept() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap().keep_last(3);
    for n in 0..7 {
        ckpt.save(&Counter::at(n)).unwrap();
    }
    let seqs: Vec<u64> = ckpt.list().unwrap().iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [5, 6, 7]);
    assert!(ckpt.restore::<Counter>(4).is_err());
}

#[test]
fn the_default_keeps_ten() {
    let dir = temp_dir();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    for n in 0..12 {
        ckpt.save(&Counter::at(n)).unwrap();
    }
    assert_eq!(ckpt.list().unwrap().len(), Checkpointer::DEFAULT_KEEP);
    assert_eq!(ckpt.list().unwrap()[0].seq, 3);
}

#[test]
fn keeping_zero_still_keeps_the_newest() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap().keep_last(0);
    ckpt.save(&Counter::at(1)).unwrap();
    ckpt.save(&Counter::at(2)).unwrap();
    let latest = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!((latest.meta.seq, latest.state), (2, Counter::at(2)));
}
