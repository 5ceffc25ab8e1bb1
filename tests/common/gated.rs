//! A store whose writes each wait for the test to release them, to force
//! interleavings without sleeping.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checkpoint::{Checkpointer, MemStore, Store, StoreError};

use super::forward_to_inner;

/// A bound on every wait, so that a failing test ends instead of hanging.
const PATIENCE: Duration = Duration::from_secs(60);

/// What the test lets a write do.
pub enum Release {
    Write,
    Fail,
    Panic,
}

/// A store whose every write reports the key it is about to write, then
/// waits for the test to say whether it succeeds.
#[derive(Debug)]
pub struct GatedStore {
    inner: Arc<MemStore>,
    entered: Mutex<Sender<String>>,
    release: Mutex<Receiver<Release>>,
}

/// The test's side of a [`GatedStore`].
pub struct Gate {
    entered: Receiver<String>,
    release: Sender<Release>,
}

impl Gate {
    /// Waits until a write of checkpoint `seq` is in progress.
    pub fn expect_write(&self, seq: u64) {
        let key = self.entered.recv_timeout(PATIENCE);
        let key = key.expect("no write started");
        assert_eq!(key, format!("{seq:020}.ckpt"), "unexpected write");
    }

    /// Waits until a write is in progress and returns its key.
    pub fn expect_key(&self) -> String {
        let key = self.entered.recv_timeout(PATIENCE);
        key.expect("no write started")
    }

    pub fn release(&self, what: Release) {
        self.release.send(what).unwrap();
    }
}

pub fn gated() -> (Checkpointer, Arc<MemStore>, Gate) {
    let (store, inner, gate) = gated_store();
    (Checkpointer::new(store).unwrap(), inner, gate)
}

/// A [`GatedStore`] over the returned `MemStore`, and its gate.
pub fn gated_store() -> (GatedStore, Arc<MemStore>, Gate) {
    let inner = Arc::new(MemStore::new());
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let store = GatedStore {
        inner: Arc::clone(&inner),
        entered: Mutex::new(entered_tx),
        release: Mutex::new(release_rx),
    };
    let gate = Gate { entered, release };
    (store, inner, gate)
}

impl Store for GatedStore {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        // The release channel is taken before the write says it started, so
        // the test's next release goes to the write it last heard of, even
        // when another write (a retry of an abandoned one) comes right after.
        let releases = self.release.lock().unwrap();
        self.entered.lock().unwrap().send(key.to_owned()).unwrap();
        let release = releases.recv_timeout(PATIENCE);
        drop(releases);
        let release = release.expect("the test never released this write");
        match release {
            Release::Write => self.inner.put_if_absent(key, bytes),
            Release::Fail => Err(StoreError::io(
                "write",
                self.location(key),
                std::io::Error::other("disk full"),
            )),
            Release::Panic => panic!("the store panicked"),
        }
    }

    forward_to_inner!(get, get_prefix, list, delete, location);
}
