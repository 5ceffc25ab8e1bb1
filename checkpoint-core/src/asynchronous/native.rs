//! [`AsyncCheckpointer`](super::AsyncCheckpointer) on the object store:
//! the `object_store` client's futures awaited in the caller's runtime,
//! with no runtime of the store's own and no blocking. Decoding a restored
//! state, which is work for the CPU, runs on tokio's blocking pool, fed by
//! the download in the task.
//!
//! Each operation keeps the rules of its [`Checkpointer`] namesake: the
//! numbering, an older capture never becoming the latest, retention, the
//! fall back of `restore_latest` past damaged checkpoints. The rare commit
//! that finds its key taken (another writer, or a retry of a write that
//! landed) is resolved by `Checkpointer::commit` itself, on the blocking
//! pool.

use std::collections::BTreeSet;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::blocking;
use crate::checkpointer::list::{listed, Probe};
use crate::keys;
use crate::restore::{Fallback, Next, LISTINGS};
use crate::snapshot::{Meta, Restored, Snapshot};
use crate::store::{ObjectStore, Store, StoreError, ValueReader};
use crate::{format, Checkpoint, Checkpointer, Error, Result};

/// The object store an [`AsyncCheckpointer`](super::AsyncCheckpointer)
/// awaits: a store whose [`Store::as_object_store`] is `Some`.
#[derive(Debug, Clone)]
pub(super) struct Native {
    shared: Arc<dyn Store>,
}

impl Native {
    /// The native path to `store`, when it is an object store.
    pub(super) fn of(store: &Arc<dyn Store>) -> Option<Native> {
        store.as_object_store().map(|_| Native {
            shared: Arc::clone(store),
        })
    }

    fn store(&self) -> &ObjectStore {
        self.shared
            .as_object_store()
            .expect("a Native is made of an object store only")
    }

    /// A checkpointer over the store, numbered as [`Checkpointer::new`]
    /// numbers one: after the newest name whose prefix is a checkpoint's.
    pub(super) async fn open(&self) -> Result<Checkpointer> {
        let names: BTreeSet<u64> = self.keys().await?.into_iter().map(|(s, _)| s).collect();
        let mut newest = 0;
        for &seq in names.iter().rev() {
            let prefix = self
                .first_bytes(&keys::checkpoint(seq), format::PREFIX_LEN)
                .await?;
            if prefix.is_some_and(|p| format::prefix_seq(&p) == Some(seq)) {
                newest = seq;
                break;
            }
        }
        Ok(Checkpointer::listed(
            Arc::clone(&self.shared),
            names,
            newest,
        ))
    }

    /// The checkpoint keys with their sequence numbers, oldest first.
    async fn keys(&self) -> Result<Vec<(u64, String)>> {
        Ok(self
            .store()
            .list_level_async("")
            .await?
            .into_iter()
            .filter_map(|key| Some((keys::checkpoint_seq(&key)?, key)))
            .collect())
    }

    /// [`Checkpointer::commit`] without its span. Dropped at any await,
    /// it leaves the checkpoint complete or absent (an object is created
    /// whole or not at all) and the numbering as it was: later commits
    /// proceed.
    pub(super) async fn commit(
        &self,
        inner: &Arc<Checkpointer>,
        snapshot: Snapshot,
    ) -> Result<Meta> {
        inner.check_not_older(snapshot.seq())?;
        let Snapshot { meta, bytes } = snapshot;
        match self.store().put_if_absent_async(&meta.key, bytes).await {
            Ok(()) => {
                let victims = inner.written(meta.seq);
                self.delete_old(inner, victims).await;
                Ok(meta)
            }
            Err((StoreError::AlreadyExists { .. }, bytes)) => {
                let inner = Arc::clone(inner);
                let location = meta.location.clone();
                let snapshot = Snapshot { meta, bytes };
                blocking(location, move || inner.commit_unobserved(snapshot)).await
            }
            Err((source, bytes)) => Err(Error::Commit {
                snapshot: Box::new(Snapshot { meta, bytes }),
                source,
            }),
        }
    }

    /// Deletes the checkpoints retention let go of. A failure is a warning,
    /// as the checkpoint is committed already; those not reached when the
    /// future is dropped are left to the next commit's retention.
    async fn delete_old(&self, inner: &Checkpointer, victims: Vec<u64>) {
        struct Left<'a> {
            inner: &'a Checkpointer,
            seqs: Vec<u64>,
        }
        impl Drop for Left<'_> {
            fn drop(&mut self) {
                if !self.seqs.is_empty() {
                    self.inner.not_deleted(&self.seqs);
                }
            }
        }
        let mut left = Left {
            inner,
            seqs: victims,
        };
        left.seqs.reverse();
        while let Some(&seq) = left.seqs.last() {
            if let Err(e) = self.store().delete_async(&keys::checkpoint(seq)).await {
                tracing::warn!("checkpoint retention could not delete an old checkpoint: {e}");
            }
            left.seqs.pop();
        }
    }

    /// [`Checkpointer::list`]: each checkpoint whose header reads, from the
    /// first bytes of each.
    pub(super) async fn list(&self) -> Result<Vec<Meta>> {
        let mut metas = Vec::new();
        for (seq, key) in self.keys().await? {
            let location = self.store().location(&key);
            let Some(bytes) = self.first_bytes(&key, format::HEADER_PROBE_LEN).await? else {
                continue;
            };
            let probed = match Probe::of(&bytes, seq, &location) {
                Probe::ReadMore(need) => match self.first_bytes(&key, need).await? {
                    Some(bytes) => Probe::of(&bytes, seq, &location),
                    None => continue,
                },
                probed => probed,
            };
            let header = match probed {
                Probe::Header(header) => *header,
                Probe::Manifest => {
                    // The header is in the first chunks: read by the
                    // checkpointer's own code, on the blocking pool.
                    let (store, k, at) = (Arc::clone(&self.shared), key.clone(), location.clone());
                    let header = blocking(location.clone(), move || {
                        crate::incremental::header_of(&store, &k, seq, &at)
                    })
                    .await;
                    match listed(header)? {
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

    /// The first `len` bytes under `key`; `None` when there is none, or
    /// nothing the store can read as a value (a listing passes over it).
    async fn first_bytes(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.store().get_prefix_async(key, len).await {
            Ok(bytes) => Ok(bytes),
            Err(StoreError::Unreadable { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Restores checkpoint `seq` under `key`: the download runs in the
    /// task and hands its pieces, a few at a time, to the decoding on the
    /// blocking pool, so the two overlap and memory stays bounded. Gives
    /// `context` back beside the outcome. Dropped, the download stops and
    /// the decoding ends on its own at the missing bytes.
    async fn load<T>(
        &self,
        inner: &Arc<Checkpointer>,
        seq: u64,
        key: String,
        context: T::Context,
    ) -> Result<(Result<Restored<T>>, T::Context)>
    where
        T: Checkpoint + Send + 'static,
        T::Context: Send + 'static,
    {
        let location = self.store().location(&key);
        let Some((len, mut stream)) = self.store().get_stream_async(&key).await? else {
            return Ok((Err(Error::NotFound { seq, location }), context));
        };
        let (pieces, received) = tokio::sync::mpsc::channel(PIECES_IN_FLIGHT);
        let inner = Arc::clone(inner);
        let decode = blocking(location, move || {
            let value = ValueReader::new(len, Received::new(received));
            let restored = inner.load_value::<T>(seq, &key, value, &context);
            Ok((restored, context))
        });
        let download = async move {
            while let Some(piece) = stream.next().await {
                let failed = piece.is_err();
                // The decoding stopped reading (it found damage, or is done).
                if pieces.send(piece.map_err(io::Error::other)).await.is_err() || failed {
                    break;
                }
            }
        };
        futures_util::future::join(decode, download).await.0
    }

    /// [`Checkpointer::restore_with`] without its span.
    pub(super) async fn restore<T>(
        &self,
        inner: &Arc<Checkpointer>,
        seq: u64,
        context: T::Context,
    ) -> Result<Restored<T>>
    where
        T: Checkpoint + Send + 'static,
        T::Context: Send + 'static,
    {
        self.load(inner, seq, keys::checkpoint(seq), context)
            .await?
            .0
    }

    /// [`Checkpointer::restore_latest_with`] without its span: the newest
    /// checkpoint that restores, passing over damaged ones, listing again
    /// when one listed was deleted before it could be read.
    pub(super) async fn restore_latest<T>(
        &self,
        inner: &Arc<Checkpointer>,
        mut context: T::Context,
    ) -> Result<Option<Restored<T>>>
    where
        T: Checkpoint + Send + 'static,
        T::Context: Send + 'static,
    {
        // Only an object store comes here, and it claims keys.
        let mut fallback = Fallback::new(true);
        for _ in 0..LISTINGS {
            let mut again = false;
            for (seq, key) in self.keys().await?.into_iter().rev() {
                if fallback.tried(seq) {
                    continue;
                }
                let location = self.store().location(&key);
                let (restored, given_back) = self.load::<T>(inner, seq, key, context).await?;
                context = given_back;
                match fallback.after(seq, location, restored) {
                    Next::Done(outcome) => return outcome,
                    Next::ListAgain => {
                        again = true;
                        break;
                    }
                    Next::Older => {}
                }
            }
            if !again {
                return fallback.none_restored();
            }
        }
        Err(Error::Vanished {
            attempts: LISTINGS,
            location: self.store().location(""),
        })
    }
}

/// How many downloaded pieces wait for the decoding at most.
const PIECES_IN_FLIGHT: usize = 4;

/// The pieces of a download as a reader, on the blocking pool.
struct Received {
    pieces: mpsc::Receiver<io::Result<Bytes>>,
    piece: Bytes,
}

impl Received {
    fn new(pieces: mpsc::Receiver<io::Result<Bytes>>) -> Self {
        Received {
            pieces,
            piece: Bytes::new(),
        }
    }
}

impl io::Read for Received {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.piece.is_empty() {
            match self.pieces.blocking_recv() {
                Some(piece) => self.piece = piece?,
                // The download ended, or was dropped: what came is all.
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.piece.len());
        buf[..n].copy_from_slice(&self.piece[..n]);
        self.piece = self.piece.slice(n..);
        Ok(n)
    }
}
