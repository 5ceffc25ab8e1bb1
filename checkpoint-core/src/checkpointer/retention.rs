//! Retention: the checkpoints beyond the newest `keep_last`, deleted after
//! a commit, and the chunks no kept checkpoint references.

use super::*;

impl Checkpointer {
    /// The known checkpoints beyond the newest `keep`, taken out of the set.
    pub(super) fn retention_victims(&self, committed: &mut Committed) -> Vec<u64> {
        let excess = committed.known.len().saturating_sub(self.keep);
        (0..excess)
            .filter_map(|_| committed.known.pop_first())
            .collect()
    }

    pub(super) fn delete_old(&self, victims: Vec<u64>) {
        // The save is durable already: a failed cleanup is worth a warning,
        // not an error.
        let mut sweep = self.chunking.on && !victims.is_empty();
        for seq in victims {
            let key = keys::checkpoint(seq);
            // Incremental checkpoints written with other settings leave
            // chunks too.
            sweep = sweep
                || matches!(self.store.get_prefix(&key, format::PREFIX_LEN),
                    Ok(Some(prefix)) if incremental::is_manifest(&prefix));
            if let Err(e) = self.store.delete(&key) {
                tracing::warn!("checkpoint retention could not delete an old checkpoint: {e}");
            }
        }
        if sweep {
            match incremental::sweep::sweep(&*self.store, self.chunking.lease) {
                Ok(Swept::Done { deleted }) => {
                    tracing::debug!(deleted, "chunks no checkpoint lists deleted");
                }
                Ok(Swept::Postponed(reason)) => {
                    tracing::debug!("chunk sweep postponed to a later retention: {reason}");
                }
                Err(e) => tracing::warn!("checkpoint retention could not sweep chunks: {e}"),
            }
        }
    }
}
