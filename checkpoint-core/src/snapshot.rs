//! What a save produces and a restore returns.

use std::time::SystemTime;

use crate::Error;

/// What is known about one committed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Meta {
    /// Its sequence number: 1, 2, 3, ... per store.
    pub seq: u64,
    /// The wall-clock time of its capture.
    pub time: SystemTime,
    /// Its size in bytes, header and checksum included.
    pub size: u64,
    /// The checkpoint name of the type it holds.
    pub type_name: String,
    /// Its key in the store.
    pub key: String,
    /// Where it lives: a file path or an object URL.
    pub location: String,
}

/// A state encoded by [`Checkpointer::capture`](crate::Checkpointer::capture),
/// with its sequence number, not yet durable.
///
/// Hand it to [`Checkpointer::commit`](crate::Checkpointer::commit). It
/// owns its bytes, so the state it was captured from may change meanwhile.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(crate) meta: Meta,
    pub(crate) bytes: Vec<u8>,
}

impl Snapshot {
    /// Its sequence number.
    pub fn seq(&self) -> u64 {
        self.meta.seq
    }

    /// What it will be once committed.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The checkpoint's bytes, as they will be stored.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A restored state and the checkpoint it came from.
#[derive(Debug)]
#[non_exhaustive]
pub struct Restored<T> {
    /// The state.
    pub state: T,
    /// The checkpoint it was restored from.
    pub meta: Meta,
    /// Newer checkpoints that `restore_latest` skipped because they are
    /// damaged, newest first.
    pub skipped: Vec<Skipped>,
}

/// A damaged checkpoint that `restore_latest` skipped.
#[derive(Debug)]
#[non_exhaustive]
pub struct Skipped {
    /// Its sequence number.
    pub seq: u64,
    /// Where it lives.
    pub location: String,
    /// Why it was skipped.
    pub reason: Error,
}
