//! [`ObjectStore`]: checkpoints in an S3-compatible object store (or any
//! backend of the `object_store` crate).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

mod pending;
mod requests;
mod runtime;

use self::requests::ObjectReader;
#[cfg(feature = "tokio")]
pub(crate) use self::runtime::on_blocking_pool;
use self::runtime::OwnRuntime;
use super::{PendingValue, Store, StoreError, ValueReader};

/// A [`Store`] over an object store: S3 and S3-compatible servers (MinIO,
/// SeaweedFS, R2, ...), or any `object_store::ObjectStore`.
///
/// [`put_if_absent`](Store::put_if_absent) is a conditional create
/// (`PutMode::Create`, an `If-None-Match: *` request on S3): of two writers
/// creating one key, exactly one succeeds and the other gets
/// [`StoreError::AlreadyExists`]. That is what fences two processes writing
/// under one prefix, and what makes a group commit atomic.
///
/// The [`Store`] API is synchronous and needs no async runtime of the
/// caller's: the store starts a small tokio runtime of its own (one worker
/// thread) on its first blocking call, and blocks on it. From async code,
/// use it through `AsyncCheckpointer` (feature `tokio`), which awaits the
/// `object_store` client's futures in the caller's runtime: no blocking and
/// no runtime of the store's own. Called from a thread of a tokio runtime
/// (an async worker, or a `spawn_blocking` closure of your own, which this
/// store cannot tell apart from a worker), the synchronous API returns an
/// error instead of blocking the executor.
///
/// The HTTP client keeps connections open for reuse, each driven by the
/// runtime it was opened in. [`ObjectStore::s3`] therefore gives the
/// blocking calls a client (and pool of connections) of their own, driven
/// by the store's runtime, which always runs: they work whatever the
/// caller's runtime does, even while a current-thread runtime in which
/// `AsyncCheckpointer` opened connections sits idle. A store built from a
/// client of yours has that one client: there, a connection opened by
/// `AsyncCheckpointer` in a current-thread runtime serves a later blocking
/// call only while that runtime runs, so make the blocking calls of a
/// store an `AsyncCheckpointer` also uses (its `checkpointer()`,
/// `background()`) while the runtime runs, as from `spawn_blocking`, or
/// use a multi-thread runtime.
///
/// ```no_run
/// # fn main() -> Result<(), checkpoint::StoreError> {
/// use checkpoint::store::ObjectStore;
/// use checkpoint::Store;
///
/// let store = ObjectStore::s3(
///     "http://127.0.0.1:8333",
///     "checkpoints",
///     "service-a",
///     "access-key-id",
///     "secret-access-key",
/// )?;
/// store.put_if_absent("hello", b"world")?;
/// assert_eq!(store.get("hello")?.as_deref(), Some(&b"world"[..]));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ObjectStore {
    inner: Arc<dyn object_store::ObjectStore>,
    /// The same backend, when it takes multipart uploads part by part:
    /// large values are then written as they come.
    multipart: Option<Arc<dyn MultipartStore>>,
    /// The same store over a client of its own, for the blocking calls:
    /// its connections are never ones a caller's runtime drives.
    blocking: Option<Arc<ObjectStore>>,
    prefix: String,
    description: String,
    runtime: Arc<OwnRuntime>,
}

impl ObjectStore {
    /// A store under `prefix` of `bucket` on the S3-compatible server at
    /// `endpoint` (`http://` is allowed), with path-style requests and static
    /// credentials.
    ///
    /// Requests are retried briefly (a few attempts within seconds), so a
    /// server that is down makes an operation fail rather than hang. A
    /// checkpoint larger than 5 MiB is uploaded in parts while it is
    /// encoded ([`ObjectStore::from_multipart_store`] says how).
    /// For other settings build an `object_store` client yourself and pass it
    /// to [`ObjectStore::from_multipart_store`] or
    /// [`ObjectStore::from_object_store`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the configuration is invalid or the runtime
    /// cannot start.
    pub fn s3(
        endpoint: &str,
        bucket: &str,
        prefix: &str,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> Result<Self, StoreError> {
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(500),
                base: 2.0,
            },
            max_retries: 3,
            retry_timeout: Duration::from_secs(5),
        };
        let client = ClientOptions::new()
            .with_allow_http(endpoint.starts_with("http://"))
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(30));
        let build = || {
            AmazonS3Builder::new()
                .with_endpoint(endpoint)
                .with_bucket_name(bucket)
                .with_region("us-east-1")
                .with_access_key_id(access_key_id)
                .with_secret_access_key(secret_access_key)
                .with_virtual_hosted_style_request(false)
                .with_client_options(client.clone())
                .with_retry(retry.clone())
                .build()
                .map(Arc::new)
                .map_err(|e| io_error("configure", &format!("{endpoint}/{bucket}"), e))
        };
        let description = format!("{}/{bucket}", endpoint.trim_end_matches('/'));
        let mut blocking = Self::from_multipart_store(build()?, prefix)?;
        blocking.description.clone_from(&description);
        let mut store = Self::from_multipart_store(build()?, prefix)?;
        store.description = description;
        blocking.runtime = Arc::clone(&store.runtime);
        store.blocking = Some(Arc::new(blocking));
        Ok(store)
    }

    /// A store under `prefix` of any `object_store` backend.
    ///
    /// The backend must support `PutMode::Create`; S3, GCS, Azure, the local
    /// file system and the in-memory store do.
    ///
    /// # Errors
    ///
    /// None today: the store's runtime starts on first use, and a failure
    /// to start it is the error of that call.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), checkpoint::StoreError> {
    /// use std::sync::Arc;
    /// use checkpoint::store::ObjectStore;
    /// use checkpoint::{Store, StoreError};
    ///
    /// let memory = Arc::new(object_store::memory::InMemory::new());
    /// let store = ObjectStore::from_object_store(memory, "app")?;
    /// store.put_if_absent("a", b"1")?;
    /// assert!(matches!(store.put_if_absent("a", b"2"), Err(StoreError::AlreadyExists { .. })));
    /// # Ok(()) }
    /// ```
    pub fn from_object_store(
        inner: Arc<dyn object_store::ObjectStore>,
        prefix: &str,
    ) -> Result<Self, StoreError> {
        Ok(ObjectStore {
            description: inner.to_string(),
            inner,
            multipart: None,
            blocking: None,
            prefix: prefix.trim_matches('/').to_owned(),
            runtime: Arc::new(OwnRuntime::new()),
        })
    }

    /// [`ObjectStore::from_object_store`] for a backend that also takes
    /// multipart uploads part by part (S3, GCS, Azure and the in-memory
    /// store do): a `save` then writes a checkpoint larger than one part
    /// (5 MiB) as it encodes it, a multipart upload with a few parts in
    /// flight, instead of building it in memory. [`ObjectStore::s3`]
    /// builds its store so.
    ///
    /// The checkpoint's key is still created only if absent: the save
    /// claims it with a conditional create of the checkpoint's first 4 KiB
    /// before it completes the upload over its claim. Until then, and
    /// for good if the process dies in between, the key holds that
    /// prefix, which restores pass over as a checkpoint cut short
    /// (`docs/FORMAT.md`, "Writing in bounded memory"). Abandoned
    /// uploads keep their parts on the server until aborted: give the
    /// bucket a lifecycle rule that aborts incomplete multipart uploads.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::from_object_store`].
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), checkpoint::Error> {
    /// use std::sync::Arc;
    /// use checkpoint::store::ObjectStore;
    /// use checkpoint::{Checkpoint, Checkpointer};
    ///
    /// #[derive(Checkpoint)]
    /// struct Log {
    ///     lines: Vec<String>,
    /// }
    ///
    /// let memory = Arc::new(object_store::memory::InMemory::new());
    /// let store = ObjectStore::from_multipart_store(memory, "app")?;
    /// let ckpt = Checkpointer::new(store)?;
    /// let log = Log { lines: (0..1_000_000).map(|i| format!("line {i}")).collect() };
    /// ckpt.save(&log)?; // about 12 MB, uploaded in parts as it is encoded
    /// let back = ckpt.restore_latest::<Log>()?.expect("saved").state;
    /// assert_eq!(back.lines, log.lines);
    /// # Ok(()) }
    /// ```
    pub fn from_multipart_store<S>(inner: Arc<S>, prefix: &str) -> Result<Self, StoreError>
    where
        S: object_store::ObjectStore + MultipartStore,
    {
        let mut store = Self::from_object_store(Arc::clone(&inner) as _, prefix)?;
        store.multipart = Some(inner);
        Ok(store)
    }

    /// Names the store in messages: a key's location becomes
    /// `{description}/{prefix}/{key}`, e.g. `s3://bucket/prefix/key` for
    /// the description `s3://bucket`. By default it is the backend's own
    /// description ([`ObjectStore::s3`]: the endpoint and the bucket).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), checkpoint::StoreError> {
    /// use std::sync::Arc;
    /// use checkpoint::store::ObjectStore;
    /// use checkpoint::Store;
    ///
    /// let memory = Arc::new(object_store::memory::InMemory::new());
    /// let store = ObjectStore::from_object_store(memory, "app")?.described_as("mem://test");
    /// assert_eq!(store.location("a"), "mem://test/app/a");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn described_as(mut self, description: &str) -> Self {
        description
            .trim_end_matches('/')
            .clone_into(&mut self.description);
        if let Some(blocking) = &mut self.blocking {
            description
                .trim_end_matches('/')
                .clone_into(&mut Arc::make_mut(blocking).description);
        }
        self
    }

    fn path(&self, key: &str) -> Result<Path, StoreError> {
        let full = self.full_key(key);
        Path::parse(&full).map_err(|e| io_error("name", &self.location(key), e))
    }

    fn full_key(&self, key: &str) -> String {
        match (self.prefix.is_empty(), key.is_empty()) {
            (true, _) => key.to_owned(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{key}", self.prefix),
        }
    }

    /// The store the blocking calls go through: over a client of its own
    /// when this store has one.
    fn for_blocking(&self) -> &ObjectStore {
        self.blocking.as_deref().unwrap_or(self)
    }

    fn block_on<F: Future>(
        &self,
        operation: &'static str,
        key: &str,
        future: F,
    ) -> Result<F::Output, StoreError> {
        self.runtime
            .block_on(future)
            .map_err(|why| io_error(operation, &self.location(key), why))
    }
}

impl Store for ObjectStore {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.put_if_absent_owned(key, bytes.to_vec())
            .map_err(|(e, _)| e)
    }

    fn put_if_absent_owned(&self, key: &str, bytes: Vec<u8>) -> Result<(), (StoreError, Vec<u8>)> {
        let s = self.for_blocking();
        match s.runtime.get() {
            Ok(runtime) => runtime.block_on(s.put_if_absent_async(key, bytes)),
            Err(why) => Err((io_error("write", &self.location(key), why), bytes)),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let s = self.for_blocking();
        s.block_on("read", key, s.get_async(key))?
    }

    fn get_at_most(&self, key: &str, limit: u64) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        let s = self.for_blocking();
        s.block_on("read", key, s.get_at_most_async(key, limit))?
    }

    fn get_reader(&self, key: &str) -> Result<Option<ValueReader>, StoreError> {
        // The response's headers give the size; the body is read as the
        // reader is, so memory stays bounded whatever the object's size.
        let s = self.for_blocking();
        let Some((len, stream)) = s.block_on("read", key, s.get_stream_async(key))?? else {
            return Ok(None);
        };
        let reader = ObjectReader {
            runtime: Arc::clone(&self.runtime),
            stream,
            piece: Bytes::new(),
        };
        Ok(Some(ValueReader::new(len, reader)))
    }

    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        let s = self.for_blocking();
        s.block_on("read", key, s.get_prefix_async(key, len))?
    }

    fn get_range(&self, key: &str, start: u64, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        let s = self.for_blocking();
        s.block_on("read", key, s.get_range_async(key, start, len))?
    }

    fn create_streamed(&self, key: &str) -> Result<Option<Box<dyn PendingValue>>, StoreError> {
        let store = self.for_blocking();
        let Some(multipart) = &store.multipart else {
            return Ok(None);
        };
        let path = store.path(key)?;
        Ok(Some(Box::new(pending::ObjectPending::new(
            store.clone(),
            Arc::clone(multipart),
            key,
            path,
        ))))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let s = self.for_blocking();
        s.block_on("list", prefix, s.list_async(prefix))?
    }

    fn list_level(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let s = self.for_blocking();
        s.block_on("list", prefix, s.list_level_async(prefix))?
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let s = self.for_blocking();
        s.block_on("delete", key, s.delete_async(key))?
    }

    fn location(&self, key: &str) -> String {
        format!("{}/{}", self.description, self.full_key(key))
    }

    /// A chunk read or write is a round trip (tens of milliseconds to a
    /// remote service): many in flight keep the connection busy.
    fn concurrent_requests(&self) -> usize {
        32
    }

    fn as_object_store(&self) -> Option<&ObjectStore> {
        Some(self)
    }
}

impl fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStore")
            .field("store", &self.description)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn io_error(
    operation: &'static str,
    location: &str,
    source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
) -> StoreError {
    StoreError::Io {
        operation,
        location: location.to_owned(),
        source: source.into(),
    }
}
