//! The store's requests as futures, which the [`Store`] methods block on
//! and `AsyncCheckpointer` awaits, and the reader that downloads a value
//! piece by piece.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::runtime::OwnRuntime;
use super::{io_error, ObjectStore};
use crate::store::{Store, StoreError};

/// A value downloaded piece by piece as it is read: what
/// [`ObjectStore::get_reader`](Store::get_reader) hands out.
pub(super) struct ObjectReader {
    pub(super) runtime: Arc<OwnRuntime>,
    pub(super) stream: BoxStream<'static, object_store::Result<Bytes>>,
    pub(super) piece: Bytes,
}

impl io::Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.piece.is_empty() {
            match self.runtime.block_on(self.stream.next()) {
                Ok(Some(Ok(piece))) => self.piece = piece,
                Ok(Some(Err(e))) => return Err(io::Error::other(e)),
                Ok(None) => return Ok(0),
                Err(why) => return Err(io::Error::other(why)),
            }
        }
        let n = buf.len().min(self.piece.len());
        buf[..n].copy_from_slice(&self.piece[..n]);
        self.piece = self.piece.slice(n..);
        Ok(n)
    }
}

/// The store's operations as futures, for `AsyncCheckpointer` to await in
/// the caller's runtime; the [`Store`] methods block on them.
impl ObjectStore {
    pub(crate) async fn put_if_absent_async(
        &self,
        key: &str,
        bytes: Vec<u8>,
    ) -> Result<(), (StoreError, Vec<u8>)> {
        let path = match self.path(key) {
            Ok(path) => path,
            Err(e) => return Err((e, bytes)),
        };
        let bytes = Bytes::from(bytes);
        let payload = PutPayload::from(bytes.clone());
        let options = PutOptions::from(PutMode::Create);
        match self.inner.put_opts(&path, payload, options).await {
            Ok(_) => Ok(()),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Err((
                StoreError::AlreadyExists {
                    location: self.location(key),
                },
                bytes.into(),
            )),
            Err(e) => Err((io_error("write", &self.location(key), e), bytes.into())),
        }
    }

    pub(crate) async fn get_async(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(key)?;
        let read = async {
            let result = self.inner.get(&path).await?;
            result.bytes().await
        };
        match read.await {
            Ok(bytes) => Ok(Some(bytes.into())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_error("read", &self.location(key), e)),
        }
    }

    /// The value of `key` as its length and a stream of its bytes, read
    /// as the stream is polled; `None` when it does not exist.
    pub(crate) async fn get_stream_async(
        &self,
        key: &str,
    ) -> Result<Option<(u64, BoxStream<'static, object_store::Result<Bytes>>)>, StoreError> {
        let path = self.path(key)?;
        match self.inner.get(&path).await {
            Ok(result) => Ok(Some((result.meta.size, result.into_stream()))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_error("read", &self.location(key), e)),
        }
    }

    pub(crate) async fn get_at_most_async(
        &self,
        key: &str,
        limit: u64,
    ) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        let path = self.path(key)?;
        // The size comes with the response's headers: a longer object is
        // refused before its body is read.
        let read = async {
            let result = self.inner.get(&path).await?;
            let size = result.meta.size;
            if size > limit {
                return Ok(Err(size));
            }
            result.bytes().await.map(Ok)
        };
        match read.await {
            Ok(Ok(bytes)) => Ok(Some(Arc::new(bytes.into()))),
            Ok(Err(len)) => Err(StoreError::TooLarge {
                location: self.location(key),
                len,
                limit,
            }),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_error("read", &self.location(key), e)),
        }
    }

    pub(crate) async fn get_prefix_async(
        &self,
        key: &str,
        len: usize,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_range_async(key, 0, len).await
    }

    pub(crate) async fn get_range_async(
        &self,
        key: &str,
        start: u64,
        len: usize,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(key)?;
        if len == 0 {
            return match self.inner.head(&path).await {
                Ok(_) => Ok(Some(Vec::new())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(io_error("read", &self.location(key), e)),
            };
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(start..start.saturating_add(len as u64))),
            ..GetOptions::default()
        };
        let read = async {
            let result = self.inner.get_opts(&path, options).await?;
            result.bytes().await
        };
        match read.await {
            Ok(bytes) => Ok(Some(bytes.into())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            // A range that starts at or past the end is refused, which each
            // backend reports as an error of its own: the object's size
            // tells that apart from a failure, which is returned.
            Err(e) => match self.inner.head(&path).await {
                Ok(meta) if meta.size <= start => Ok(Some(Vec::new())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                _ => Err(io_error("read", &self.location(key), e)),
            },
        }
    }

    /// The directory a listing of `prefix` reads: object_store lists whole
    /// path segments.
    fn listed_dir(&self, prefix: &str) -> Result<Option<Path>, StoreError> {
        let dir = match prefix.rfind('/') {
            Some(at) => &prefix[..at],
            None => "",
        };
        let full_dir = self.full_key(dir);
        if full_dir.is_empty() {
            return Ok(None);
        }
        Path::parse(&full_dir)
            .map(Some)
            .map_err(|e| io_error("list", &self.location(prefix), e))
    }

    /// The keys (or names) of `paths` under this store's prefix that start
    /// with `prefix`, sorted, without repeats.
    fn keys_of<'a>(&self, paths: impl Iterator<Item = &'a Path>, prefix: &str) -> Vec<String> {
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut keys: Vec<String> = paths
            .filter_map(|path| {
                path.as_ref()
                    .strip_prefix(strip.as_str())
                    .map(str::to_owned)
            })
            .filter(|key| key.starts_with(prefix))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    pub(crate) async fn list_async(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        // List the enclosing directory and keep the keys that start with
        // `prefix`.
        let dir = self.listed_dir(prefix)?;
        let metas = self
            .inner
            .list(dir.as_ref())
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| io_error("list", &self.location(prefix), e))?;
        Ok(self.keys_of(metas.iter().map(|meta| &meta.location), prefix))
    }

    pub(crate) async fn list_level_async(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let dir = self.listed_dir(prefix)?;
        let listed = self
            .inner
            .list_with_delimiter(dir.as_ref())
            .await
            .map_err(|e| io_error("list", &self.location(prefix), e))?;
        let paths = listed
            .objects
            .iter()
            .map(|meta| &meta.location)
            .chain(&listed.common_prefixes);
        Ok(self.keys_of(paths, prefix))
    }

    pub(crate) async fn delete_async(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        match self.inner.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_error("delete", &self.location(key), e)),
        }
    }
}
