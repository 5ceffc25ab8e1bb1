//! Listing: the checkpoints a store holds, from their headers alone.

use super::*;

impl Checkpointer {
    /// The checkpoint keys in the store with their sequence numbers, oldest first.
    pub(crate) fn keys(&self) -> Result<Vec<(u64, String)>> {
        keys::checkpoints(&*self.store)
    }

    /// Every checkpoint in the store whose header reads, oldest first. Reads
    /// headers only, never bodies (of an incremental checkpoint, its
    /// manifest and the chunks that hold the header); a checkpoint whose
    /// header is damaged is left out (restoring it reports why).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails.
    pub fn list(&self) -> Result<Vec<Meta>> {
        let mut metas = Vec::new();
        for (seq, key) in self.keys()? {
            let location = self.store.location(&key);
            // An entry that cannot be read (a directory, a FIFO) is no
            // checkpoint to list; restoring it says why.
            let first = |len| match self.store.get_prefix(&key, len) {
                Ok(bytes) => Ok(bytes),
                Err(StoreError::Unreadable { .. }) => Ok(None),
                Err(e) => Err(e),
            };
            let Some(bytes) = first(format::HEADER_PROBE_LEN)? else {
                continue;
            };
            let probed = match Probe::of(&bytes, seq, &location) {
                Probe::ReadMore(need) => match first(need)? {
                    Some(bytes) => Probe::of(&bytes, seq, &location),
                    None => continue,
                },
                probed => probed,
            };
            let header = match probed {
                Probe::Header(header) => *header,
                Probe::Manifest => {
                    match listed(incremental::header_of(&self.store, &key, seq, &location))? {
                        Some(header) => header,
                        None => continue,
                    }
                }
                Probe::ReadMore(_) | Probe::Damaged => continue,
            };
            metas.push(Meta::of_header(seq, key, location, header));
        }
        Ok(metas)
    }
}

/// What the first bytes of a stored checkpoint tell a listing.
pub(crate) enum Probe {
    /// Its header.
    Header(Box<format::Header>),
    /// Its header is longer than the bytes read: read this many and probe
    /// again.
    ReadMore(usize),
    /// An incremental checkpoint's manifest: the header is in its first
    /// chunks ([`incremental::header_of`]).
    Manifest,
    /// Its header is damaged: not listed (restoring it says why).
    Damaged,
}

impl Probe {
    /// Probes `bytes`, the first bytes of checkpoint `seq` at `location`
    /// ([`format::HEADER_PROBE_LEN`] of them, or all a [`Probe::ReadMore`]
    /// asked for).
    pub(crate) fn of(bytes: &[u8], seq: u64, location: &str) -> Probe {
        if incremental::is_manifest(bytes) {
            return Probe::Manifest;
        }
        match format::decode_header(bytes, seq, location) {
            Ok(header) => Probe::Header(Box::new(header)),
            Err(Error::Truncated { .. }) => format::header_section_len(bytes)
                .filter(|&need| bytes.len() == format::HEADER_PROBE_LEN && need > bytes.len())
                .map_or(Probe::Damaged, Probe::ReadMore),
            Err(_) => Probe::Damaged,
        }
    }
}

/// A manifest's header as a listing takes it: the store failing is an
/// error; damage leaves the checkpoint out.
pub(crate) fn listed(header: Result<Option<format::Header>>) -> Result<Option<format::Header>> {
    match header {
        Ok(header) => Ok(header),
        Err(e @ Error::Store(StoreError::Io { .. })) => Err(e),
        Err(_) => Ok(None),
    }
}
