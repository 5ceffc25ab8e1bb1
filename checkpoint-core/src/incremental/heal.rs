//! Chunks a restore found damaged, for the next save of the same
//! checkpointer (or group) to store anew instead of listing them again.
//!
//! A save reuses the chunks an earlier manifest lists without reading
//! them, and reads back only a few stored values per save
//! ([`Packer::damaged_stored`](super::pack::Packer::damaged_stored)): for
//! a large state, a damaged chunk whose records never change could stay in
//! the newest checkpoints for many saves. A restore that meets the damage
//! knows exactly which chunks are lost; the process that restores is the
//! one that saves next, so the first save after it heals them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use super::manifest::HASH_LEN;
use super::reader::chunk_damage_of;
use crate::Error;

/// The most chunks remembered: a store damaged everywhere must not make
/// the set grow without bound (the read-back of saves still heals the
/// rest).
const MOST: usize = 1 << 16;

/// The chunks found damaged and not yet stored anew, shared by the clones
/// of one checkpointer or group.
#[derive(Debug, Clone, Default)]
pub(crate) struct Heal(Arc<Mutex<HashSet<[u8; HASH_LEN]>>>);

impl Heal {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; HASH_LEN]>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers the chunks `error` found damaged, if it is chunk damage.
    pub(crate) fn note(&self, error: &Error) {
        if let Some(damage) = chunk_damage_of(error) {
            let mut found = self.lock();
            let room = MOST.saturating_sub(found.len());
            found.extend(damage.hashes.iter().take(room));
        }
    }

    /// The chunks to store anew: what a save begins with.
    pub(crate) fn pending(&self) -> HashSet<[u8; HASH_LEN]> {
        self.lock().clone()
    }

    /// Forgets `stored`, which a committed save stored anew (or no longer
    /// lists).
    pub(crate) fn healed(&self, stored: &HashSet<[u8; HASH_LEN]>) {
        if !stored.is_empty() {
            self.lock().retain(|hash| !stored.contains(hash));
        }
    }
}
