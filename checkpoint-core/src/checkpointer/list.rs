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
            let mut bytes = match self.store.get_prefix(&key, format::HEADER_PROBE_LEN) {
                Ok(Some(bytes)) => bytes,
                Ok(None) | Err(StoreError::Unreadable { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            if incremental::is_manifest(&bytes) {
                let header = match incremental::header_of(&self.store, &key, seq, &location) {
                    Ok(Some(header)) => header,
                    Err(e @ Error::Store(StoreError::Io { .. })) => return Err(e),
                    Ok(None) | Err(_) => continue,
                };
                metas.push(Meta {
                    seq,
                    time: header.time,
                    size: header.total_len(),
                    type_name: header.type_name,
                    key,
                    location,
                    skipped: Vec::new(),
                });
                continue;
            }
            let mut header = format::decode_header(&bytes, seq, &location);
            if let Err(Error::Truncated { .. }) = header {
                // A header longer than the probe: its length is in the
                // prefix, so read exactly the header, never the body.
                let need = format::header_section_len(&bytes)
                    .filter(|need| bytes.len() == format::HEADER_PROBE_LEN && *need > bytes.len());
                if let Some(need) = need {
                    match self.store.get_prefix(&key, need) {
                        Ok(Some(more)) => bytes = more,
                        Ok(None) | Err(StoreError::Unreadable { .. }) => continue,
                        Err(e) => return Err(e.into()),
                    }
                    header = format::decode_header(&bytes, seq, &location);
                }
            }
            if let Ok(header) = header {
                metas.push(Meta {
                    seq,
                    time: header.time,
                    size: header.total_len(),
                    type_name: header.type_name,
                    key,
                    location,
                    skipped: Vec::new(),
                });
            }
        }
        Ok(metas)
    }
}
