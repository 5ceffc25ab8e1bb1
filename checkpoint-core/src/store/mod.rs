//! Where checkpoints live: the [`Store`] trait.

use std::fmt;
use std::io::{self, Cursor, Read, Seek, Write};
use std::sync::Arc;

#[cfg(feature = "conformance")]
pub mod conformance;
pub(crate) mod dir;
mod mem;

pub use dir::DirStore;
pub use mem::MemStore;

#[cfg(feature = "object-store")]
mod object;
#[cfg(all(feature = "object-store", feature = "tokio"))]
pub(crate) use object::on_blocking_pool;
#[cfg(feature = "object-store")]
pub use object::ObjectStore;

/// A place that holds checkpoints under string keys.
///
/// Keys are relative, `/`-separated names (`"00000000000000000007.ckpt"`,
/// `"group/cluster/epoch-…/part-a"`). Every store implements the same
/// contract, checked by one conformance suite:
///
/// - [`put_if_absent`](Store::put_if_absent) is the only write: it creates a
///   key durably, or fails with [`StoreError::AlreadyExists`] and changes
///   nothing. It is atomic: readers see all of the value or no key.
/// - [`list`](Store::list) returns keys in lexicographic order.
pub trait Store: Send + Sync + fmt::Debug {
    /// Creates `key` holding `bytes`, durably, only if `key` does not exist.
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when the key exists (nothing is
    /// written); [`StoreError::Io`] when the store fails.
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError>;

    /// The value of `key`, `None` when it does not exist.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the store fails.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// [`put_if_absent`](Store::put_if_absent) of an owned buffer, which a
    /// store that keeps values in memory takes without copying. On failure
    /// the buffer comes back with the error.
    ///
    /// # Errors
    ///
    /// As [`put_if_absent`](Store::put_if_absent).
    fn put_if_absent_owned(&self, key: &str, bytes: Vec<u8>) -> Result<(), (StoreError, Vec<u8>)> {
        self.put_if_absent(key, &bytes).map_err(|e| (e, bytes))
    }

    /// [`get`](Store::get) as a shared buffer, which a store that keeps
    /// values in memory hands out without copying.
    ///
    /// # Errors
    ///
    /// As [`get`](Store::get).
    fn get_shared(&self, key: &str) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        Ok(self.get(key)?.map(Arc::new))
    }

    /// A value to write to `key` piece by piece, without holding it in
    /// memory; [`PendingValue::persist`] then creates `key` with the same
    /// contract as [`put_if_absent`](Store::put_if_absent). `None` when
    /// this store takes whole values only (the default): `save` then builds
    /// the checkpoint in memory, unless it is
    /// [incremental](crate::Checkpointer::incremental), which writes chunks
    /// as it goes on any store.
    ///
    /// A store may show a prefix of the value under `key` while `persist`
    /// runs, and leave it there when the process dies: an object store
    /// claims the key with the value's first bytes before it completes a
    /// multipart upload (`docs/FORMAT.md`, "Writing in bounded memory"),
    /// which readers of checkpoints take for a checkpoint cut short.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the store fails.
    fn create_streamed(&self, key: &str) -> Result<Option<Box<dyn PendingValue>>, StoreError> {
        let _ = key;
        Ok(None)
    }

    /// The value of `key` as a reader, `None` when it does not exist. A
    /// restore reads checkpoints through this, frame by frame, so a store
    /// that can stream (a file) keeps memory bounded however large the
    /// value. The default reads the whole value with
    /// [`get_shared`](Store::get_shared).
    ///
    /// # Errors
    ///
    /// As [`get`](Store::get); errors while reading come from the reader.
    fn get_reader(&self, key: &str) -> Result<Option<ValueReader>, StoreError> {
        Ok(self.get_shared(key)?.map(ValueReader::from_shared))
    }

    /// At most the first `len` bytes of `key`, `None` when it does not exist.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the store fails.
    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError>;

    /// At most `len` bytes of `key` from byte `start` on: fewer when the
    /// value ends sooner, none when it ends before `start`; `None` when the
    /// key does not exist. Restores of incremental checkpoints read the
    /// chunks packed in one value this way. The default reads the value's
    /// first `start + len` bytes with [`get_prefix`](Store::get_prefix); a
    /// store that can seek should override it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the store fails.
    fn get_range(&self, key: &str, start: u64, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        let Ok(start_at) = usize::try_from(start) else {
            return Ok(self.get_prefix(key, 0)?.map(|_| Vec::new()));
        };
        Ok(self
            .get_prefix(key, start_at.saturating_add(len))?
            .map(|mut bytes| {
                bytes.drain(..start_at.min(bytes.len()));
                bytes
            }))
    }

    /// [`get_shared`](Store::get_shared) of a value no longer than `limit`
    /// bytes: a longer one is refused before it is read, so a hostile
    /// length never drives an allocation.
    ///
    /// # Errors
    ///
    /// [`StoreError::TooLarge`] when the value is longer than `limit`,
    /// otherwise as [`get`](Store::get).
    fn get_at_most(&self, key: &str, limit: u64) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        match self.get_shared(key)? {
            Some(value) if value.len() as u64 > limit => Err(StoreError::TooLarge {
                location: self.location(key),
                len: value.len() as u64,
                limit,
            }),
            value => Ok(value),
        }
    }

    /// Every key that starts with `prefix`, in lexicographic order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the store fails.
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// The names in use directly under `prefix`, in lexicographic order:
    /// the keys that start with `prefix` and have no `/` after it, and the
    /// names of deeper levels (without their `/`). A store that can hold
    /// other things under a key's name (a directory store's directories,
    /// FIFOs and symbolic links) lists them too, so the name is known to be
    /// taken; reading one is [`StoreError::Unreadable`]. A level whose keys
    /// were all deleted may still be listed by some stores (SeaweedFS keeps
    /// empty directories).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the store fails.
    fn list_level(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut names: Vec<String> = self
            .list(prefix)?
            .into_iter()
            .map(|key| match key[prefix.len()..].find('/') {
                Some(at) => key[..prefix.len() + at].to_owned(),
                None => key,
            })
            .collect();
        names.dedup();
        Ok(names)
    }

    /// Removes `key`; removing an absent key succeeds.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the store fails.
    fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Where `key` lives, for messages: a file path or an object URL.
    fn location(&self, key: &str) -> String;

    /// How many reads or writes of small values (the chunks of an
    /// incremental checkpoint) are worth having in flight at once: more
    /// where each waits on a network round trip than where each waits on a
    /// local disk. The default is 8; `ObjectStore` says 32. A wrapper
    /// store should pass on its inner store's.
    fn concurrent_requests(&self) -> usize {
        8
    }

    /// The [`ObjectStore`] this store is, for `AsyncCheckpointer` to await
    /// its operations instead of blocking on them. Other stores (and
    /// wrappers of an `ObjectStore`) are `None`.
    #[doc(hidden)]
    #[cfg(feature = "object-store")]
    fn as_object_store(&self) -> Option<&ObjectStore> {
        None
    }
}

/// A failure of a [`Store`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `put_if_absent` found the key already there.
    #[error("`{location}` already exists: another writer created it first")]
    AlreadyExists {
        /// Where the key lives.
        location: String,
    },
    /// The store holds something under the key that it cannot read as a
    /// value: a directory, a FIFO, a symbolic link, a file this process may
    /// not read. Other keys are unaffected.
    #[error("`{location}` cannot be read: {reason}; move it out of the store or make it readable")]
    Unreadable {
        /// Where the key lives.
        location: String,
        /// What is there instead of a readable value.
        reason: String,
    },
    /// [`get_at_most`](Store::get_at_most) found a value longer than its
    /// limit and did not read it.
    #[error(
        "`{location}` is {len} bytes long, more than the {limit} bytes expected; it was not read"
    )]
    TooLarge {
        /// Where the key lives.
        location: String,
        /// Its length.
        len: u64,
        /// The most that was to be read.
        limit: u64,
    },
    /// The store failed.
    #[error("{operation} `{location}` failed: {source}")]
    Io {
        /// What was being done (`"write"`, `"read"`, `"list"`, `"delete"`).
        operation: &'static str,
        /// Where.
        location: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl<S: Store + ?Sized> Store for Arc<S> {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        (**self).put_if_absent(key, bytes)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(key)
    }

    fn put_if_absent_owned(&self, key: &str, bytes: Vec<u8>) -> Result<(), (StoreError, Vec<u8>)> {
        (**self).put_if_absent_owned(key, bytes)
    }

    fn get_shared(&self, key: &str) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        (**self).get_shared(key)
    }

    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get_prefix(key, len)
    }

    fn get_at_most(&self, key: &str, limit: u64) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        (**self).get_at_most(key, limit)
    }

    fn get_range(&self, key: &str, start: u64, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get_range(key, start, len)
    }

    fn get_reader(&self, key: &str) -> Result<Option<ValueReader>, StoreError> {
        (**self).get_reader(key)
    }

    fn create_streamed(&self, key: &str) -> Result<Option<Box<dyn PendingValue>>, StoreError> {
        (**self).create_streamed(key)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        (**self).list(prefix)
    }

    fn list_level(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        (**self).list_level(prefix)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete(key)
    }

    fn location(&self, key: &str) -> String {
        (**self).location(key)
    }

    fn concurrent_requests(&self) -> usize {
        (**self).concurrent_requests()
    }

    #[cfg(feature = "object-store")]
    fn as_object_store(&self) -> Option<&ObjectStore> {
        (**self).as_object_store()
    }
}

/// Whether `store` is an object store: one that claims a key with a
/// streamed value's first bytes before completing the value, and that
/// writes whole values atomically otherwise.
pub(crate) fn is_object_store(store: &dyn Store) -> bool {
    #[cfg(feature = "object-store")]
    return store.as_object_store().is_some();
    #[cfg(not(feature = "object-store"))]
    {
        let _ = store;
        false
    }
}

/// How many of a streamed value's first bytes an object store writes to
/// claim its key before it completes the value's upload
/// (`docs/FORMAT.md`, "Writing in bounded memory").
pub(crate) const CLAIM_LEN: u64 = 4096;

/// A value being written by [`Store::create_streamed`], not yet visible
/// under its key. Dropping it discards what was written.
pub trait PendingValue: Write + Seek + Send + fmt::Debug {
    /// Discards what was written, to write the value again from the start.
    ///
    /// # Errors
    ///
    /// When the store fails.
    fn restart(&mut self) -> io::Result<()>;

    /// Makes what was written durable under its key, only if the key does
    /// not exist, as [`Store::put_if_absent`] does.
    ///
    /// # Errors
    ///
    /// As [`Store::put_if_absent`].
    fn persist(self: Box<Self>) -> Result<(), StoreError>;
}

/// A stored value being read, with its length: what
/// [`Store::get_reader`] returns.
pub struct ValueReader {
    len: u64,
    inner: Box<dyn Read + Send>,
    /// The value's bytes and where it starts in them, while it is held in
    /// memory and nothing has been read from it.
    shared: Option<(Arc<Vec<u8>>, usize)>,
}

impl ValueReader {
    /// A value of `len` bytes read from `inner`.
    pub fn new(len: u64, inner: impl Read + Send + 'static) -> Self {
        ValueReader {
            len,
            inner: Box::new(inner),
            shared: None,
        }
    }

    /// A value held in memory. A restore checks such a value whole and
    /// decodes it where it lies, without copying it out frame by frame.
    pub fn from_shared(bytes: Arc<Vec<u8>>) -> Self {
        Self::shared_from(bytes, 0)
    }

    /// The bytes of `bytes` from `start` on (all of them when `start` is
    /// past the end).
    pub(crate) fn shared_from(bytes: Arc<Vec<u8>>, start: usize) -> Self {
        struct Shared(Arc<Vec<u8>>);
        impl AsRef<[u8]> for Shared {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
        let start = start.min(bytes.len());
        let len = (bytes.len() - start) as u64;
        let mut cursor = Cursor::new(Shared(Arc::clone(&bytes)));
        cursor.set_position(start as u64);
        ValueReader {
            shared: Some((bytes, start)),
            ..ValueReader::new(len, cursor)
        }
    }

    /// The whole value, when the store holds it in memory and nothing has
    /// been read from it yet: a reader of it may decode it in place
    /// instead of copying it out.
    pub(crate) fn in_memory(&self) -> Option<&[u8]> {
        self.shared.as_ref().map(|(bytes, start)| &bytes[*start..])
    }

    /// The value's length in bytes, as the store knows it.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Read for ValueReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // What is left is no longer the whole value.
        self.shared = None;
        self.inner.read(buf)
    }
}

impl fmt::Debug for ValueReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValueReader")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl StoreError {
    /// An [`StoreError::Io`] from an I/O error.
    pub fn io(operation: &'static str, location: String, source: std::io::Error) -> Self {
        StoreError::Io {
            operation,
            location,
            source: Box::new(source),
        }
    }
}
