//! What the group API hands back: commit records, part descriptions,
//! restored states, collection reports and the stored epochs.

use serde::{Deserialize, Serialize};

use super::Epoch;

/// The commit record of an epoch: which participants it holds, and the
/// checksum and length of each one's part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CommitRecord {
    /// The group's name.
    pub group: String,
    /// The committed epoch.
    pub epoch: Epoch,
    /// One entry per participant, sorted by participant id.
    pub parts: Vec<PartInfo>,
    /// Written before parts' checksums covered every byte (`CKPTCMT1`):
    /// its checksums are each part's trailing CRC-32C.
    #[serde(skip)]
    pub(crate) legacy: bool,
}

/// One part as saved: whose it is, its length and its CRC-32C checksum.
///
/// [`Group::save_part`](super::Group::save_part) returns it once the part
/// is durable; handing every participant's `PartInfo` to
/// [`Group::commit`](super::Group::commit) commits the epoch without
/// reading any part back. It is a serde type, so participants in other
/// processes can send it to the coordinator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartInfo {
    /// The participant that saved the part.
    pub participant: String,
    /// The epoch it belongs to.
    pub epoch: Epoch,
    /// Its length in bytes.
    pub len: u64,
    /// The CRC-32C of every byte of the part except its three embedded
    /// checksums (owner header, checkpoint header, checkpoint), so that it
    /// changes with any byte of the part: see `docs/GROUP.md`.
    pub checksum: u32,
}

/// A participant's restored state and the epoch it comes from.
#[derive(Debug)]
#[non_exhaustive]
pub struct GroupRestored<T> {
    /// The committed epoch the state comes from.
    pub epoch: Epoch,
    /// The participant's state.
    pub state: T,
}

/// What [`Group::collect_garbage`](super::Group::collect_garbage) removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GarbageReport {
    /// Committed epochs whose record and parts were removed.
    pub committed_epochs: Vec<Epoch>,
    /// Uncommitted epochs whose parts were removed.
    pub uncommitted_epochs: Vec<Epoch>,
    /// Keys removed in all (chunks not included).
    pub keys: usize,
    /// Values holding chunks of incremental parts (packs, or chunks stored
    /// alone) deleted because no part or checkpoint left in the store lists
    /// any chunk in them (0 when the sweep was postponed: a later
    /// collection or retention deletes them).
    pub chunks: usize,
}

/// One epoch of a group as its store holds it: what
/// [`Group::epochs`](super::Group::epochs) lists.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredEpoch {
    /// The epoch.
    pub epoch: Epoch,
    /// The participants whose part of the epoch is stored, sorted.
    pub parts: Vec<String>,
    /// Whether the epoch's commit record exists: only then may a restore
    /// read its parts.
    pub committed: bool,
}
