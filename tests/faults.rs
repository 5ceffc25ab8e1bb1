//! Every store operation failing in turn, with ENOSPC and with EIO, before
//! or after it takes effect: each failure is an error (never a panic),
//! nothing committed is lost, the next save works and numbers higher, and
//! no temporary file is left behind.

mod common;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checkpoint::group::Group;
use checkpoint::{Checkpointer, DirStore, Error, Store, StoreError};
use common::group::NodeState;
use common::{temp_dir, Counter};

/// How an injected failure happens.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// The operation fails and changes nothing.
    Before(i32),
    /// The operation takes effect, then reports the failure (a write whose
    /// answer was lost).
    After(i32),
}

/// A store whose operation number `fail_at` (counting from 0 once armed)
/// fails as `fault`.
#[derive(Debug)]
struct Faulty {
    inner: DirStore,
    count: AtomicUsize,
    fail_at: AtomicUsize,
    armed: AtomicBool,
    fault: std::sync::Mutex<Fault>,
    fired: AtomicBool,
}

impl Faulty {
    fn new(inner: DirStore) -> Self {
        Faulty {
            inner,
            count: AtomicUsize::new(0),
            fail_at: AtomicUsize::new(usize::MAX),
            armed: AtomicBool::new(false),
            fault: std::sync::Mutex::new(Fault::Before(libc_enospc())),
            fired: AtomicBool::new(false),
        }
    }

    fn arm(&self, at: usize, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
        self.count.store(0, Ordering::SeqCst);
        self.fail_at.store(at, Ordering::SeqCst);
        self.fired.store(false, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    fn disarm(&self) -> bool {
        self.armed.store(false, Ordering::SeqCst);
        self.fired.load(Ordering::SeqCst)
    }

    /// Runs `op`, failing it when its turn has come.
    fn run<T>(
        &self,
        operation: &'static str,
        key: &str,
        op: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let turn = self.armed.load(Ordering::SeqCst)
            && self.count.fetch_add(1, Ordering::SeqCst) == self.fail_at.load(Ordering::SeqCst);
        if !turn {
            return op();
        }
        self.fired.store(true, Ordering::SeqCst);
        let fault = *self.fault.lock().unwrap();
        let errno = match fault {
            Fault::Before(errno) => errno,
            Fault::After(errno) => {
                let _ = op();
                errno
            }
        };
        Err(StoreError::io(
            operation,
            self.inner.location(key),
            io::Error::from_raw_os_error(errno),
        ))
    }
}

impl Store for Faulty {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.run("write", key, || self.inner.put_if_absent(key, bytes))
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.run("read", key, || self.inner.get(key))
    }
    fn get_at_most(&self, key: &str, limit: u64) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        self.run("read", key, || self.inner.get_at_most(key, limit))
    }
    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.run("read", key, || self.inner.get_prefix(key, len))
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.run("list", prefix, || self.inner.list(prefix))
    }
    fn list_level(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.run("list", prefix, || self.inner.list_level(prefix))
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.run("delete", key, || self.inner.delete(key))
    }
    fn location(&self, key: &str) -> String {
        self.inner.location(key)
    }
}

fn libc_enospc() -> i32 {
    28
}

const EIO: i32 = 5;

fn faults() -> [Fault; 4] {
    [
        Fault::Before(libc_enospc()),
        Fault::Before(EIO),
        Fault::After(libc_enospc()),
        Fault::After(EIO),
    ]
}

/// Temporary files anywhere under `dir`.
fn temp_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(level) = stack.pop() {
        for entry in std::fs::read_dir(&level).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                found.push(entry.path().display().to_string());
            }
        }
    }
    found
}

/// One cycle a running application goes through: save, restore, list.
fn cycle(ckpt: &Checkpointer, n: u64) -> Result<u64, Error> {
    let seq = ckpt.save(&Counter::at(n))?.seq;
    ckpt.restore_latest::<Counter>()?;
    ckpt.list()?;
    Ok(seq)
}

#[test]
fn every_checkpoint_operation_failing_in_turn_loses_nothing() {
    let dir = temp_dir();
    let store = Arc::new(Faulty::new(DirStore::open(dir.path()).unwrap()));
    let ckpt = Checkpointer::new(store.clone()).unwrap().keep_last(3);
    let mut newest = cycle(&ckpt, 1).unwrap();
    let mut injected = 0;
    for fault in faults() {
        for at in 0.. {
            store.arm(at, fault);
            let result = cycle(&ckpt, newest + 1);
            if !store.disarm() {
                // The cycle has fewer operations than `at`: all were tried.
                newest = result.unwrap();
                break;
            }
            injected += 1;
            let context = format!("{fault:?} at operation {at}: {result:?}");
            match result {
                Ok(seq) => newest = newest.max(seq),
                Err(e) => {
                    // A retry of what the error hands back either commits
                    // or says why it never will.
                    if let Some(snapshot) = e.into_snapshot() {
                        let seq = snapshot.seq();
                        match ckpt.commit(snapshot) {
                            Ok(meta) => newest = newest.max(meta.seq),
                            Err(e) => assert!(
                                matches!(e, Error::OlderCapture { .. }),
                                "{context}: retry of #{seq}: {e}"
                            ),
                        }
                    }
                }
            }
            // Nothing committed is lost: the newest committed checkpoint
            // (and what retention keeps below it) restores.
            let restored = ckpt.restore_latest::<Counter>().unwrap().unwrap();
            assert!(
                restored.meta.seq >= newest,
                "{context}: restored #{}",
                restored.meta.seq
            );
            assert_eq!(restored.state, Counter::at(restored.meta.seq), "{context}");
            newest = restored.meta.seq;
            // The next save works and numbers higher.
            let next = ckpt.save(&Counter::at(newest + 1)).unwrap();
            assert!(next.seq > newest, "{context}: next save #{}", next.seq);
            newest = next.seq;
            assert_eq!(
                ckpt.restore_latest::<Counter>().unwrap().unwrap().meta.seq,
                newest,
                "{context}"
            );
            assert_eq!(temp_files(dir.path()), Vec::<String>::new(), "{context}");
        }
    }
    assert!(injected >= 20, "only {injected} faults injected");
    eprintln!("{injected} faults injected into save / restore / list cycles");
    // A reopened store agrees.
    let reopened = Checkpointer::open(dir.path()).unwrap();
    assert_eq!(
        reopened
            .restore_latest::<Counter>()
            .unwrap()
            .unwrap()
            .meta
            .seq,
        newest
    );
    assert!(reopened.save(&Counter::at(0)).unwrap().seq > newest);
}

/// One group round: both parts, the commit, a restore, a collection.
fn group_round(group: &Group, epoch: u64) -> Result<(), checkpoint::group::GroupError> {
    let parts = [
        group.save_part(epoch, "a", &NodeState::at("a", epoch))?,
        group.save_part(epoch, "b", &NodeState::at("b", epoch))?,
    ];
    group.commit(epoch, &["a", "b"], &parts)?;
    group.restore_latest::<NodeState>("a")?;
    group.collect_garbage(2)?;
    Ok(())
}

#[test]
fn every_group_operation_failing_in_turn_loses_no_committed_epoch() {
    group_operations_failing_in_turn(false);
}

#[test]
fn every_incremental_group_operation_failing_in_turn_loses_no_committed_epoch() {
    group_operations_failing_in_turn(true);
}

/// Group rounds, with whole or incremental parts, each store operation
/// failing in turn.
fn group_operations_failing_in_turn(incremental: bool) {
    let dir = temp_dir();
    let store = Arc::new(Faulty::new(DirStore::open(dir.path()).unwrap()));
    // A sweep marker a failed delete leaves makes the next saves wait for
    // it to go stale: a short lease keeps that wait short.
    let group = Group::from_shared(store.clone(), "g")
        .unwrap()
        .incremental(incremental)
        .chunk_lease(Duration::from_secs(1));
    group_round(&group, 1).unwrap();
    let mut epoch = 1;
    let mut committed = 1;
    let mut injected = 0;
    for fault in faults() {
        for at in 0.. {
            epoch += 1;
            store.arm(at, fault);
            let result = group_round(&group, epoch);
            let fired = store.disarm();
            let context = format!("{fault:?} at operation {at} of epoch {epoch}: {result:?}");
            let latest = group.latest_committed_epoch().unwrap().unwrap();
            assert!(latest >= committed, "{context}: newest committed {latest}");
            committed = latest;
            let restored = group.restore_latest::<NodeState>("b").unwrap().unwrap();
            assert_eq!(
                (restored.epoch, restored.state),
                (committed, NodeState::at("b", committed)),
                "{context}"
            );
            // The next epoch commits.
            epoch += 1;
            group_round(&group, epoch).unwrap();
            committed = epoch;
            assert_eq!(temp_files(dir.path()), Vec::<String>::new(), "{context}");
            if !fired {
                break;
            }
            injected += 1;
        }
    }
    assert!(injected >= 20, "only {injected} faults injected");
    eprintln!("{injected} faults injected into group rounds");
}

/// Retention deleting while readers restore: no restore may return `None`
/// or a checkpoint older than one committed before it began.
fn retention_against_readers(store: impl Store + 'static, for_how_long: Duration) -> usize {
    let store: Arc<dyn Store> = Arc::new(store);
    let writer = Checkpointer::new(store.clone()).unwrap().keep_last(3);
    writer.save(&Counter::at(1)).unwrap();
    let committed = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, committed, stop) = (store.clone(), committed.clone(), stop.clone());
            std::thread::spawn(move || {
                let reader = Checkpointer::new(store).unwrap();
                let mut restores = 0;
                while !stop.load(Ordering::SeqCst) {
                    let before = committed.load(Ordering::SeqCst);
                    let restored = reader
                        .restore_latest::<Counter>()
                        .unwrap()
                        .expect("checkpoints exist: a restore returned none");
                    assert!(
                        restored.meta.seq >= before,
                        "restored #{} although #{before} was committed before the restore",
                        restored.meta.seq
                    );
                    assert_eq!(restored.state, Counter::at(restored.meta.seq));
                    restores += 1;
                }
                restores
            })
        })
        .collect();
    let start = Instant::now();
    let mut n = 1;
    while start.elapsed() < for_how_long {
        n += 1;
        let seq = writer.save(&Counter::at(n)).unwrap().seq;
        assert_eq!(seq, n);
        committed.store(seq, Ordering::SeqCst);
    }
    stop.store(true, Ordering::SeqCst);
    readers.into_iter().map(|r| r.join().unwrap()).sum()
}

#[test]
fn retention_against_readers_on_the_directory_store() {
    let dir = temp_dir();
    let restores =
        retention_against_readers(DirStore::open(dir.path()).unwrap(), Duration::from_secs(2));
    assert!(restores > 10, "only {restores} restores ran");
    eprintln!("{restores} restores against retention on the directory store");
}

#[test]
fn retention_against_readers_on_s3() {
    let Some(store) = common::group::s3_store("retention_against_readers_on_s3") else {
        return;
    };
    let restores = retention_against_readers(store, Duration::from_secs(3));
    assert!(restores > 5, "only {restores} restores ran");
    eprintln!("{restores} restores against retention on S3");
}

#[test]
#[ignore = "long: 10 minutes of retention against readers; run with --ignored"]
fn retention_against_readers_long_run() {
    let dir = temp_dir();
    let restores = retention_against_readers(
        DirStore::open(dir.path()).unwrap(),
        Duration::from_secs(600),
    );
    eprintln!("{restores} restores, none returned none or an older checkpoint");
}
