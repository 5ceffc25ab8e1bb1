//! `Background`: coalescing, error delivery, close and drop, numbering.
//!
//! Interleavings are forced by a store whose writes each wait for the test
//! to release them ([`gated`]), never by sleeping.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Barrier, Mutex};
use std::thread;

use checkpoint::{Checkpointer, Error, MemStore, Snapshot, Store};
use common::gated::{gated, Release};
use common::{Counter, Journal};

fn capture(ckpt: &Checkpointer, n: u64) -> Snapshot {
    ckpt.capture(&Counter::at(n)).unwrap()
}

fn stored_seqs(store: &MemStore) -> Vec<String> {
    store.list("").unwrap()
}

fn key(seq: u64) -> String {
    format!("{seq:020}.ckpt")
}

#[test]
fn a_snapshot_waiting_is_replaced_by_a_newer_one() {
    let (ckpt, store, gate) = gated();
    let bg = ckpt.background();
    bg.submit(capture(&ckpt, 1)).unwrap();
    gate.expect_write(1);
    // #1 is being written: #2 waits, then #3 and #4 replace it in turn.
    for n in 2..=4 {
        bg.submit(capture(&ckpt, n)).unwrap();
    }
    assert_eq!(bg.replaced(), 2);
    gate.release(Release::Write);
    gate.expect_write(4);
    gate.release(Release::Write);
    let newest = bg.flush().unwrap().unwrap();
    assert_eq!(newest.seq, 4);
    assert_eq!(stored_seqs(&store), [key(1), key(4)]);
    let restored = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!((restored.state, restored.meta.seq), (Counter::at(4), 4));
    assert_eq!(bg.failed(), 0);
}

#[test]
fn a_snapshot_older_than_one_submitted_is_dropped() {
    let (ckpt, store, gate) = gated();
    let bg = ckpt.background();
    let older = capture(&ckpt, 1);
    let newer = capture(&ckpt, 2);
    bg.submit(newer).unwrap();
    gate.expect_write(2);
    // Captured before #2: it could never become the latest.
    bg.submit(older).unwrap();
    assert_eq!(bg.replaced(), 1);
    gate.release(Release::Write);
    assert_eq!(bg.flush().unwrap().unwrap().seq, 2);
    assert_eq!(stored_seqs(&store), [key(2)]);
}

#[test]
fn a_failed_commit_comes_back_from_flush_with_its_snapshot() {
    let (ckpt, store, gate) = gated();
    let bg = ckpt.background();
    bg.submit(capture(&ckpt, 1)).unwrap();
    gate.expect_write(1);
    gate.release(Release::Fail);
    let err = bg.flush().unwrap_err();
    assert!(matches!(err, Error::Commit { .. }), "{err:?}");
    assert!(err.to_string().contains("disk full"), "{err}");
    // Returned once: the next flush is clean, and nothing was committed.
    assert_eq!(bg.flush().unwrap(), None);
    assert!(stored_seqs(&store).is_empty());

    // The snapshot handed back commits on a retry.
    let snapshot = err.into_snapshot().unwrap();
    bg.submit(snapshot).unwrap();
    gate.expect_write(1);
    gate.release(Release::Write);
    assert_eq!(bg.flush().unwrap().unwrap().seq, 1);
    assert_eq!(bg.failed(), 1);
}

#[test]
fn a_failed_commit_comes_back_from_the_next_submit() {
    let (ckpt, _store, gate) = gated();
    let bg = ckpt.background();
    bg.submit(capture(&ckpt, 1)).unwrap();
    gate.expect_write(1);
    bg.submit(capture(&ckpt, 2)).unwrap();
    gate.release(Release::Fail);
    // The worker records #1's failure before it starts #2.
    gate.expect_write(2);
    let err = bg.submit(capture(&ckpt, 3)).unwrap_err();
    assert_eq!(err.into_snapshot().map(|s| s.seq()), Some(1));
    // #3 was queued all the same.
    gate.release(Release::Write);
    gate.expect_write(3);
    gate.release(Release::Write);
    assert_eq!(bg.flush().unwrap().unwrap().seq, 3);
}

#[test]
fn the_first_of_several_failures_is_returned_and_all_are_counted() {
    let (ckpt, _store, gate) = gated();
    let bg = ckpt.background();
    bg.submit(capture(&ckpt, 1)).unwrap();
    gate.expect_write(1);
    bg.submit(capture(&ckpt, 2)).unwrap();
    gate.release(Release::Fail);
    gate.expect_write(2);
    gate.release(Release::Fail);
    let err = bg.flush().unwrap_err();
    assert_eq!(err.into_snapshot().map(|s| s.seq()), Some(1));
    assert_eq!(bg.failed(), 2);
    assert_eq!(bg.flush().unwrap(), None);
}

#[test]
fn close_finishes_the_pending_commit_and_returns_it() {
    let (ckpt, store, gate) = gated();
    let bg = ckpt.background();
    bg.submit(capture(&ckpt, 1)).unwrap();
    gate.expect_write(1);
    bg.submit(capture(&ckpt, 2)).unwrap();
    gate.release(Release::Write);
    gate.release(Release::Write);
    assert_eq!(bg.close().unwrap().unwrap().seq, 2);
    assert_eq!(stored_seqs(&store), [key(1), key(2)]);
}

#[test]
fn close_returns_the_failure_of_the_pending_commit() {
    let (ckpt, store, gate) = gated();
    let bg = ckpt.background();
    bg.submit(capture(&ckpt, 1)).unwrap();
    gate.expect_write(1);
    gate.release(Release::Fail);
    let err = bg.close().unwrap_err();
    assert_eq!(err.into_snapshot().map(|s| s.seq()), Some(1));
    assert!(stored_seqs(&store).is_empty());
}

#[test]
fn close_with_nothing_submitted_returns_none() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    assert_eq!(ckpt.background().close().unwrap(), None);
}

#[test]
fn drop_finishes_the_pending_commit() {
    let (ckpt, store, gate) = gated();
    let bg = ckpt.background();
    bg.submit(capture(&ckpt, 1)).unwrap();
    gate.expect_write(1);
    bg.submit(capture(&ckpt, 2)).unwrap();
    gate.release(Release::Write);
    gate.release(Release::Write);
    drop(bg);
    assert_eq!(stored_seqs(&store), [key(1), key(2)]);
    assert_eq!(
        ckpt.restore_latest::<Counter>().unwrap().unwrap().meta.seq,
        2
    );
}

#[test]
fn a_panic_in_the_store_is_resumed_by_flush() {
    let (ckpt, _store, gate) = gated();
    let bg = ckpt.background();
    bg.submit(capture(&ckpt, 1)).unwrap();
    gate.expect_write(1);
    gate.release(Release::Panic);
    let caught = panic::catch_unwind(AssertUnwindSafe(|| bg.flush()));
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"the store panicked"));
    // The handle still works.
    bg.submit(capture(&ckpt, 2)).unwrap();
    gate.expect_write(2);
    gate.release(Release::Write);
    assert_eq!(bg.close().unwrap().unwrap().seq, 2);
}

#[test]
fn an_older_capture_never_becomes_latest() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    let bg = ckpt.background();
    let older = capture(&ckpt, 1);
    ckpt.commit(capture(&ckpt, 2)).unwrap();
    bg.submit(older).unwrap();
    let err = bg.flush().unwrap_err();
    assert!(
        matches!(err, Error::OlderCapture { seq: 1, newest: 2 }),
        "{err:?}"
    );
    assert_eq!(
        ckpt.restore_latest::<Counter>().unwrap().unwrap().meta.seq,
        2
    );
}

#[test]
fn commits_of_the_checkpointer_and_the_handle_share_numbering() {
    let dir = common::temp_dir();
    let ckpt = Checkpointer::open(dir.path()).unwrap().keep_last(100);
    let bg = ckpt.background();
    bg.submit(capture(&ckpt, 1)).unwrap();
    assert_eq!(bg.flush().unwrap().unwrap().seq, 1);
    assert_eq!(ckpt.save(&Counter::at(2)).unwrap().seq, 2);
    bg.submit(capture(&ckpt, 3)).unwrap();
    assert_eq!(bg.close().unwrap().unwrap().seq, 3);
    drop(ckpt);

    // A reopened store continues after the background's newest commit.
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    assert_eq!(ckpt.save(&Counter::at(4)).unwrap().seq, 4);
    let seqs: Vec<u64> = ckpt.list().unwrap().iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
}

#[test]
fn threads_submitting_together_commit_the_newest_capture() {
    const THREADS: usize = 4;
    const EACH: u64 = 50;
    let ckpt = Checkpointer::new(MemStore::new())
        .unwrap()
        .keep_last(usize::MAX);
    let bg = ckpt.background();
    let state = Mutex::new(0u64);
    let start = Barrier::new(THREADS);
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                start.wait();
                for _ in 0..EACH {
                    let snapshot = {
                        let mut n = state.lock().unwrap();
                        *n += 1;
                        ckpt.capture(&Counter::at(*n)).unwrap()
                    };
                    bg.submit(snapshot).unwrap();
                }
            });
        }
    });
    let total = THREADS as u64 * EACH;
    let newest = bg.flush().unwrap().unwrap();
    assert_eq!(newest.seq, total);
    let restored = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!(restored.state, Counter::at(total));
    // Every capture is either committed or counted as replaced.
    let committed = ckpt.list().unwrap();
    assert_eq!(committed.len() as u64 + bg.replaced(), total);
    assert!(committed.windows(2).all(|w| w[0].seq < w[1].seq));
    bg.close().unwrap();
}

const CHILD_ENV: &str = "CHECKPOINT_BACKGROUND_CHILD_DIR";

/// The child: resumes from the store, then submits snapshots forever,
/// printing what a flush reports committed every few. Does nothing when run
/// as an ordinary test.
#[test]
fn child_commits_in_the_background() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let ckpt = Checkpointer::open(dir).unwrap().keep_last(3);
    let mut state = ckpt
        .restore_latest::<Journal>()
        .unwrap()
        .map(|r| r.state)
        .unwrap_or_default();
    let bg = ckpt.background();
    for i in 1u64.. {
        state = state.next();
        bg.submit(ckpt.capture(&state).unwrap()).unwrap();
        if i % 8 == 0 {
            let meta = bg.flush().unwrap().unwrap();
            println!("committed {} {}", meta.seq, state.count);
        }
    }
}

/// SIGKILL while background commits run: what a flush reported committed is
/// never lost, and no torn checkpoint is restored. The kill comes after the
/// child reports progress, not after a sleep.
#[cfg(unix)]
#[test]
fn a_process_killed_during_background_commits_keeps_what_was_committed() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = common::temp_dir();
    let (mut reported_seq, mut reported_count) = (0, 0);
    for kill in 0..12 {
        let mut child = common::spawn_test_child(
            "child_commits_in_the_background",
            CHILD_ENV,
            dir.path(),
            Stdio::piped(),
        );
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut reports = lines.map(Result::unwrap).filter_map(|line| {
            let mut words = line.strip_prefix("committed ")?.split(' ');
            let seq: u64 = words.next()?.parse().ok()?;
            Some((seq, words.next()?.parse::<u64>().ok()?))
        });
        for _ in 0..1 + kill % 4 {
            (reported_seq, reported_count) = reports.next().expect("the child stopped");
        }
        child.kill().unwrap(); // SIGKILL, with later snapshots in flight
        child.wait().unwrap();

        let ckpt = Checkpointer::open(dir.path()).unwrap();
        let restored = ckpt.restore_latest::<Journal>().unwrap().unwrap();
        assert!(restored.state.is_consistent(), "kill {kill}: torn state");
        assert!(
            restored.meta.skipped.is_empty(),
            "kill {kill}: {:?}",
            restored.meta.skipped
        );
        assert!(
            restored.meta.seq >= reported_seq,
            "kill {kill}: lost a commit"
        );
        assert!(
            restored.state.count >= reported_count,
            "kill {kill}: lost a commit"
        );
    }
}
