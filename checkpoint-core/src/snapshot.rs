//! What a save produces and a restore returns.

use std::time::SystemTime;

/// What is known about one committed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Meta {
    /// Its sequence number: 1, 2, 3, ... per store.
    pub seq: u64,
    /// The wall-clock time of its capture.
    pub time: SystemTime,
    /// Its size in bytes, header and checksum included; for an incremental
    /// checkpoint, the size of the checkpoint its chunks make up (what a
    /// save wrote is less: the chunks the store lacked and a manifest).
    pub size: u64,
    /// The checkpoint name of the type it holds.
    pub type_name: String,
    /// Its key in the store.
    pub key: String,
    /// Where it lives: a file path or an object URL.
    pub location: String,
    /// The newer checkpoints that
    /// [`restore_latest`](crate::Checkpointer::restore_latest) skipped,
    /// because they are damaged or unreadable, to restore this one; newest
    /// first. Empty
    /// everywhere else (`save`, `commit`, `list`, `restore`).
    pub skipped: Vec<Skipped>,
}

impl Meta {
    /// What a listing knows of checkpoint `seq` under `key` from its header.
    pub(crate) fn of_header(
        seq: u64,
        key: String,
        location: String,
        header: crate::format::Header,
    ) -> Meta {
        Meta {
            seq,
            time: header.time,
            size: header.total_len(),
            type_name: header.type_name,
            key,
            location,
            skipped: Vec::new(),
        }
    }
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
///
/// ```
/// # use checkpoint::{Meta, Restored};
/// fn split<T>(restored: Restored<T>) -> (T, Meta) {
///     let Restored { state, meta } = restored;
///     (state, meta)
/// }
/// ```
#[derive(Debug)]
pub struct Restored<T> {
    /// The state.
    pub state: T,
    /// The checkpoint it was restored from, with the damaged newer ones
    /// skipped on the way in [`Meta::skipped`].
    pub meta: Meta,
}

/// A damaged checkpoint, or an entry under a checkpoint's name that cannot
/// be read, that `restore_latest` skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Skipped {
    /// Its sequence number.
    pub seq: u64,
    /// Where it lives.
    pub location: String,
    /// Why it was skipped: the message of the damage error
    /// ([`Error::Corrupt`](crate::Error::Corrupt),
    /// [`Error::Truncated`](crate::Error::Truncated), ...) that
    /// [`restore`](crate::Checkpointer::restore) of it returns, or the
    /// [`StoreError::Unreadable`](crate::StoreError::Unreadable) saying what
    /// is there instead of a checkpoint.
    pub reason: String,
}
