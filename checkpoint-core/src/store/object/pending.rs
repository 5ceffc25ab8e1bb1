//! A value written to an object store piece by piece: what
//! [`ObjectStore::create_streamed`](super::Store::create_streamed) hands
//! out when the backend takes multipart uploads.
//!
//! The value is held in memory up to one part. A value that stays that
//! small is created at `persist` with one conditional put, as
//! `put_if_absent` creates it. A larger one goes to a multipart upload
//! under its key as it is written, several parts in flight, except its
//! first part, which stays in memory: the writer patches its head last
//! (`encode::ToPending` seeks back to seal it), and parts may be uploaded
//! in any order. Nothing of the upload is visible until it completes.
//!
//! A completion cannot be conditional through `object_store` (and
//! SeaweedFS's conditional completion is not atomic: `docs/DESIGN-NOTES.md`),
//! so `persist` first claims the key with a conditional put of the value's
//! first [`CLAIM_LEN`] bytes, which only one writer can win, and then
//! completes the upload over its own claim. Between the two, and after a
//! crash between them, the key holds a prefix of the value: a checkpoint
//! cut short, which every reader takes for damage and passes over.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::Arc;

use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, PutPayload};
use tokio::task::JoinHandle;

use super::{ObjectStore, StoreError};
use crate::store::{PendingValue, Store};

/// The size of every part but the last, until a value grows past
/// [`PART_SIZE`] times [`PARTS_BEFORE_GROWING`]; S3 takes parts of 5 MiB
/// and more.
const PART_SIZE: usize = 5 << 20;
/// Parts grow after this many, so that a value stays under S3's 10,000
/// parts however large it is (each thousand parts doubles them).
const PARTS_BEFORE_GROWING: usize = 1000;
/// Part uploads in flight at once, each holding its part.
const IN_FLIGHT: usize = 4;
/// How much of the value the claim writes: the checkpoint's prefix and
/// the start of its header, enough for a reader to see a checkpoint cut
/// short, and exactly what a restore takes for a claim.
const CLAIM_LEN: usize = crate::store::CLAIM_LEN as usize;

/// See the module docs.
pub(super) struct ObjectPending {
    store: ObjectStore,
    multipart: Arc<dyn MultipartStore>,
    key: String,
    path: Path,
    /// The value's first part (all of it while it fits in one part).
    first: Vec<u8>,
    /// The part being filled after the first.
    current: Vec<u8>,
    /// The value's length, and where the next write goes.
    len: u64,
    at: u64,
    upload: Option<MultipartId>,
    /// Parts uploaded, and uploading, by index (the first part is 0).
    done: BTreeMap<usize, PartId>,
    flying: Vec<(usize, JoinHandle<object_store::Result<PartId>>)>,
    next_part: usize,
}

impl fmt::Debug for ObjectPending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectPending")
            .field("key", &self.key)
            .field("len", &self.len)
            .field("parts", &(self.done.len() + self.flying.len()))
            .finish_non_exhaustive()
    }
}

impl ObjectPending {
    pub(super) fn new(
        store: ObjectStore,
        multipart: Arc<dyn MultipartStore>,
        key: &str,
        path: Path,
    ) -> Self {
        ObjectPending {
            store,
            multipart,
            key: key.to_owned(),
            path,
            first: Vec::new(),
            current: Vec::new(),
            len: 0,
            at: 0,
            upload: None,
            done: BTreeMap::new(),
            flying: Vec::new(),
            next_part: 1,
        }
    }

    fn part_size(&self) -> usize {
        let doublings = (self.next_part / PARTS_BEFORE_GROWING).min(10);
        PART_SIZE << doublings
    }

    fn failed(&self, e: impl fmt::Display) -> io::Error {
        io::Error::other(format!("{}: {e}", self.store.location(&self.key)))
    }

    /// Appends `bytes` at the end of the value, uploading each part that
    /// fills up.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let (buffer, size) =
                if self.upload.is_none() && self.current.is_empty() && self.first.len() < PART_SIZE
                {
                    (&mut self.first, PART_SIZE)
                } else {
                    let size = self.part_size();
                    (&mut self.current, size)
                };
            let n = rest.len().min(size - buffer.len());
            buffer.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.current.len() == size {
                self.send_current()?;
            }
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Starts the upload of the part being filled, waiting for the oldest
    /// one in flight when [`IN_FLIGHT`] are.
    fn send_current(&mut self) -> io::Result<()> {
        let id = match &self.upload {
            Some(id) => id.clone(),
            None => {
                let started = self.block_on(self.multipart.create_multipart(&self.path))?;
                self.upload = Some(started.clone());
                started
            }
        };
        while self.flying.len() >= IN_FLIGHT {
            let (index, handle) = self.flying.remove(0);
            let part = self.join(handle)?;
            self.done.insert(index, part);
        }
        let index = self.next_part;
        self.next_part += 1;
        let payload = PutPayload::from(std::mem::take(&mut self.current));
        let handle = self.spawn_part(&id, index, payload)?;
        self.flying.push((index, handle));
        Ok(())
    }

    fn spawn_part(
        &self,
        id: &MultipartId,
        index: usize,
        payload: PutPayload,
    ) -> io::Result<JoinHandle<object_store::Result<PartId>>> {
        let runtime = self.store.runtime.get().map_err(|e| self.failed(e))?;
        let (multipart, path, id) = (Arc::clone(&self.multipart), self.path.clone(), id.clone());
        Ok(runtime.spawn(async move { multipart.put_part(&path, &id, index, payload).await }))
    }

    fn join(&self, handle: JoinHandle<object_store::Result<PartId>>) -> io::Result<PartId> {
        match self.block_on(handle)? {
            Ok(part) => Ok(part),
            Err(e) => Err(self.failed(e)),
        }
    }

    fn block_on<F: std::future::Future<Output = Result<T, E>>, T, E: fmt::Display>(
        &self,
        future: F,
    ) -> io::Result<T> {
        match self.store.runtime.block_on(future) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.failed(e)),
            Err(why) => Err(self.failed(why)),
        }
    }

    /// Aborts the multipart upload, if any, in the background: its parts
    /// are not kept by the server once aborted.
    fn abort(&mut self) {
        for (_, handle) in self.flying.drain(..) {
            handle.abort();
        }
        self.done.clear();
        if let Some(id) = self.upload.take() {
            if let Ok(runtime) = self.store.runtime.get() {
                let (multipart, path) = (Arc::clone(&self.multipart), self.path.clone());
                runtime.spawn(async move {
                    if let Err(e) = multipart.abort_multipart(&path, &id).await {
                        tracing::debug!("could not abort a multipart upload of {path}: {e}");
                    }
                });
            }
        }
    }

    /// Uploads the last parts and the first, and completes the upload over
    /// the key once it is claimed.
    fn complete(&mut self) -> Result<(), StoreError> {
        let location = self.store.location(&self.key);
        let io = |e: io::Error| StoreError::io("write", location.clone(), e);
        if !self.current.is_empty() {
            self.send_current().map_err(io)?;
        }
        let id = self
            .upload
            .clone()
            .expect("a value past one part is uploading");
        let first = PutPayload::from(std::mem::take(&mut self.first));
        let claim = first
            .iter()
            .flat_map(|b| b.iter())
            .take(CLAIM_LEN)
            .copied()
            .collect();
        // The claim: only one writer creates the key.
        self.store
            .put_if_absent_owned(&self.key, claim)
            .map_err(|(e, _)| e)?;
        let finished = self.finish_upload(&id, first);
        if finished.is_err() {
            // The key holds this writer's claim (or its value, when only
            // the answer was lost): nobody else writes it, so it goes.
            if let Err(e) = self.store.delete(&self.key) {
                tracing::warn!("could not delete the claim of a failed upload: {e}");
            }
        }
        finished.map_err(io)
    }

    fn finish_upload(&mut self, id: &MultipartId, first: PutPayload) -> io::Result<()> {
        let handle = self.spawn_part(id, 0, first)?;
        self.flying.push((0, handle));
        for (index, handle) in std::mem::take(&mut self.flying) {
            let part = self.join(handle)?;
            self.done.insert(index, part);
        }
        let parts: Vec<PartId> = std::mem::take(&mut self.done).into_values().collect();
        let (multipart, path) = (Arc::clone(&self.multipart), self.path.clone());
        self.block_on(async move { multipart.complete_multipart(&path, id, parts).await })?;
        self.upload = None;
        Ok(())
    }
}

impl Write for ObjectPending {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.at == self.len {
            self.append(bytes)?;
            self.at = self.len;
            return Ok(bytes.len());
        }
        // Patching what was written: only the first part is still here.
        let start = usize::try_from(self.at).unwrap_or(usize::MAX);
        let end = start.saturating_add(bytes.len());
        if end > self.first.len() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{}: only the first {} bytes of a value being uploaded can be written again",
                    self.store.location(&self.key),
                    self.first.len()
                ),
            ));
        }
        self.first[start..end].copy_from_slice(bytes);
        self.at = end as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for ObjectPending {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let at = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.at.checked_add_signed(d),
        };
        match at {
            Some(at) if at <= self.len => {
                self.at = at;
                Ok(at)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a value being uploaded cannot be sought past its end",
            )),
        }
    }
}

impl PendingValue for ObjectPending {
    fn restart(&mut self) -> io::Result<()> {
        self.abort();
        self.first.clear();
        self.current.clear();
        self.len = 0;
        self.at = 0;
        self.next_part = 1;
        Ok(())
    }

    fn persist(mut self: Box<Self>) -> Result<(), StoreError> {
        if self.upload.is_none() && self.current.is_empty() {
            let first = std::mem::take(&mut self.first);
            return self
                .store
                .put_if_absent_owned(&self.key, first)
                .map_err(|(e, _)| e);
        }
        let completed = self.complete();
        if completed.is_err() {
            self.abort();
        }
        completed
    }
}

impl Drop for ObjectPending {
    fn drop(&mut self) {
        self.abort();
    }
}
