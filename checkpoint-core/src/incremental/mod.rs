//! Incremental checkpoints ([`Checkpointer::incremental`]): a checkpoint
//! encoded as usual is cut into content-defined chunks, each stored once
//! per store under its hash, and committed as a manifest listing them.
//!
//! - [`manifest`]: the manifest's bytes (format version 5);
//! - [`writer`]: cutting and storing chunks, the saver's side of the chunk
//!   protocol;
//! - [`stream`]: the same as the checkpoint is encoded, so that it is
//!   never whole in memory;
//! - [`reader`]: reading a checkpoint back from its chunks, each checked
//!   against its hash;
//! - [`sweep`]: deleting chunks no checkpoint lists, the sweeper's side;
//! - [`lease`]: the markers both sides write;
//! - [`heal`]: the chunks a restore found damaged, which the next save
//!   stores anew.
//!
//! What `inspect` and the command-line tool show of chunks is in
//! `inspect/chunks.rs`.
//!
//! The format and the protocol, with why it is safe, are in
//! `docs/FORMAT.md`.
//!
//! [`Checkpointer::incremental`]: crate::Checkpointer::incremental

mod heal;
mod lease;
pub(crate) mod manifest;
pub(crate) mod pack;
pub(crate) mod reader;
pub(crate) mod stored;
pub(crate) mod stream;
pub(crate) mod sweep;
pub(crate) mod writer;

use std::time::Duration;

pub(crate) use heal::Heal;
pub(crate) use manifest::is_manifest;
pub(crate) use reader::{assemble, checkpoint_value, damage_in, header_of};

pub(crate) use crate::keys::CHUNKS;

/// How long an intent or sweep marker counts as its writer's, unless
/// [`Checkpointer::chunk_lease`](crate::Checkpointer::chunk_lease) says
/// otherwise.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// Whether `key` names a chunk: `chunks/<2 hex>/<64 hex>`.
pub(crate) fn is_chunk_key(key: &str) -> bool {
    crate::keys::is_chunk(key, manifest::HASH_LEN)
}

/// How a checkpointer writes checkpoints: whole, or as chunks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunking {
    /// Whether checkpoints are written as chunks and a manifest.
    pub on: bool,
    /// How long a marker of the chunk protocol counts as live.
    pub lease: Duration,
}

impl Default for Chunking {
    fn default() -> Self {
        Chunking {
            on: false,
            lease: DEFAULT_LEASE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_keys_are_told_from_markers() {
        let chunk = manifest::ChunkRef::of(b"x");
        assert!(is_chunk_key(&chunk.key()));
        assert!(!is_chunk_key("chunks/intents/123"));
        assert!(!is_chunk_key("chunks/sweeping/123"));
        assert!(!is_chunk_key("00000000000000000001.ckpt"));
    }
}
