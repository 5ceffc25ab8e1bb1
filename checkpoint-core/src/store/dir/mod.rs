//! A store in a local directory: the default.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

mod files;

use super::{PendingValue, Store, StoreError, ValueReader};

use self::files::{
    create_levels_durably, create_root_durably, create_temp, link_temp, read_exactly,
    remove_if_abandoned, remove_temp, valid_key, DirPending,
};
pub(crate) use self::files::{kind_of, open_no_follow, unreadable_reason};

/// Temporary files start with this; `list` never shows them.
const TEMP_PREFIX: &str = ".tmp-";

/// A [`Store`] that keeps each key as a file under a directory; keys with
/// `/` live in subdirectories.
///
/// A write is durable and create-if-absent, as tempfile's
/// `persist_noclobber`: the bytes go to a temporary file in the same
/// directory, which is synced, then hard-linked to the key's name (which
/// fails if the name exists, so two processes never overwrite each other),
/// then removed, and the directory is synced. A crash at any instant leaves
/// the key complete or absent.
///
/// A writer holds an advisory lock (`flock`) on its temporary file from
/// creation until it is done with it, so a temporary file nobody holds is a
/// leftover: [`DirStore::open`] removes every such file, whatever its age,
/// and never one a live writer (of any process) still needs. A temporary
/// file this process failed to remove is removed by its next write.
///
/// Reads open an entry without following symbolic links and without
/// blocking, and read regular files only: a FIFO, a directory or a symbolic
/// link under a key's name is [`StoreError::Unreadable`], never a hang or a
/// read of something outside the store. The store's directory itself must
/// exist: once it is gone, listing is an error, not an empty store.
///
/// # Examples
///
/// ```
/// use checkpoint::{DirStore, Store};
///
/// let dir = std::env::temp_dir().join(format!("checkpoint-doc-dirstore-{}", std::process::id()));
/// let store = DirStore::open(&dir)?;
/// store.put_if_absent("runs/a", b"1")?;
/// assert_eq!(store.list("runs/")?, ["runs/a"]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), checkpoint::StoreError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
    /// Subdirectories whose entries this process has already made durable.
    durable_dirs: Arc<Mutex<HashSet<PathBuf>>>,
    /// Temporary files this process could not remove; retried on each write.
    leaked: Arc<Mutex<Vec<PathBuf>>>,
}

impl DirStore {
    /// The store in `dir`, created if absent. Removes the temporary files
    /// that crashed or failed writes left and no live writer holds.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the directory cannot be created or read.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let root = dir.as_ref().to_path_buf();
        create_root_durably(&root)
            .map_err(|e| StoreError::io("create", root.display().to_string(), e))?;
        let store = DirStore {
            root,
            durable_dirs: Arc::default(),
            leaked: Arc::default(),
        };
        store.remove_abandoned_temp_files(&store.root);
        Ok(store)
    }

    /// The store in `dir`, which must already be a directory, for tools
    /// that only read: unlike [`DirStore::open`], nothing is created and no
    /// temporary file is removed.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when `dir` does not exist, is not a directory or
    /// cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// use checkpoint::DirStore;
    ///
    /// let missing = std::env::temp_dir().join("checkpoint-doc-no-such-dir");
    /// assert!(DirStore::open_existing(&missing).is_err());
    /// assert!(!missing.exists());
    /// ```
    pub fn open_existing(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let root = dir.as_ref().to_path_buf();
        let location = || root.display().to_string();
        let meta = fs::metadata(&root).map_err(|e| StoreError::io("open", location(), e))?;
        if !meta.is_dir() {
            return Err(StoreError::io(
                "open",
                location(),
                io::Error::new(io::ErrorKind::NotADirectory, "it is not a directory"),
            ));
        }
        Ok(DirStore {
            root,
            durable_dirs: Arc::default(),
            leaked: Arc::default(),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str, operation: &'static str) -> Result<PathBuf, StoreError> {
        if !valid_key(key) {
            return Err(StoreError::io(
                operation,
                self.root.join(key).display().to_string(),
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a key is `/`-separated non-empty names that do not start with `.`",
                ),
            ));
        }
        Ok(self.root.join(key))
    }

    fn remove_abandoned_temp_files(&self, dir: &Path) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                self.remove_abandoned_temp_files(&entry.path());
            } else if kind.is_file() && entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
            {
                remove_if_abandoned(&entry.path());
            }
        }
    }

    /// Retries removing the temporary files this process failed to remove.
    fn remove_leaked(&self) {
        let mut leaked = self.leaked.lock().unwrap_or_else(PoisonError::into_inner);
        leaked.retain(|path| match fs::remove_file(path) {
            Ok(()) => false,
            Err(e) => e.kind() != io::ErrorKind::NotFound,
        });
    }

    /// Makes `dir`, a directory under the root, exist durably: see
    /// [`create_levels_durably`]. Each directory costs its parent's sync once
    /// per process; later writes only check that it still exists.
    fn ensure_dir(&self, dir: &Path) -> io::Result<()> {
        if dir == self.root {
            return Ok(());
        }
        let mut known = self
            .durable_dirs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if known.contains(dir) && dir.is_dir() {
            return Ok(());
        }
        let levels: Vec<&Path> = dir
            .ancestors()
            .take_while(|level| *level != self.root)
            .collect();
        create_levels_durably(levels.into_iter().rev())?;
        known.extend(
            dir.ancestors()
                .take_while(|level| *level != self.root)
                .map(Path::to_path_buf),
        );
        Ok(())
    }

    /// Creates a locked temporary file in `dir`, creating `dir` durably
    /// first. A deletion that emptied `dir` removes it, so a writer that
    /// finds it gone between the two steps makes it again.
    fn create_temp_in(&self, dir: &Path) -> io::Result<(PathBuf, File)> {
        let mut attempts = 0;
        loop {
            self.ensure_dir(dir)?;
            match create_temp(dir) {
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 8 => {
                    attempts += 1;
                    self.durable_dirs
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(dir);
                }
                created => return created,
            }
        }
    }

    /// Opens the regular file under `key` for reading, with its length;
    /// `None` when nothing is there.
    fn open_value(&self, key: &str) -> Result<Option<(File, u64, PathBuf)>, StoreError> {
        let path = self.path(key, "read")?;
        let location = || path.display().to_string();
        let file = match open_no_follow(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(match unreadable_reason(&e) {
                    Some(reason) => StoreError::Unreadable {
                        location: location(),
                        reason,
                    },
                    None => StoreError::io("read", location(), e),
                })
            }
        };
        let meta = file
            .metadata()
            .map_err(|e| StoreError::io("read", location(), e))?;
        if !meta.is_file() {
            return Err(StoreError::Unreadable {
                location: location(),
                reason: format!("it is {}, not a regular file", kind_of(&meta)),
            });
        }
        Ok(Some((file, meta.len(), path)))
    }

    /// The names in `dir` (relative `rel`) that start with `start`, and,
    /// when `deep`, the keys in every directory among them.
    fn walk(
        &self,
        dir: &Path,
        rel: &str,
        start: &str,
        deep: bool,
        out: &mut Vec<String>,
    ) -> io::Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.root.is_dir() => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "the store's directory does not exist (moved or deleted?); an absent \
                     store is not an empty one",
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotADirectory && !rel.is_empty() => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') || !name.starts_with(start) {
                continue;
            }
            let key = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if deep && entry.file_type()?.is_dir() {
                self.walk(&entry.path(), &key, "", true, out)?;
            } else {
                out.push(key);
            }
        }
        Ok(())
    }

    /// Lists under `prefix`, reading only the directory the prefix names.
    fn list_under(&self, prefix: &str, deep: bool) -> Result<Vec<String>, StoreError> {
        let (rel, start) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        if !rel.is_empty() && !valid_key(rel) {
            return Ok(Vec::new());
        }
        let mut keys = Vec::new();
        self.walk(&self.root.join(rel), rel, start, deep, &mut keys)
            .map_err(|e| StoreError::io("list", self.location(prefix), e))?;
        keys.sort_unstable();
        Ok(keys)
    }
}

impl Store for DirStore {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(key, "write")?;
        let location = path.display().to_string();
        let io_err = |e| StoreError::io("write", location.clone(), e);
        let dir = path.parent().unwrap_or(&self.root);
        self.remove_leaked();
        let (temp, mut file) = self.create_temp_in(dir).map_err(io_err)?;
        let written = file.write_all(bytes).and_then(|()| file.sync_all());
        if let Err(e) = written {
            remove_temp(temp, &self.leaked);
            return Err(io_err(e));
        }
        let linked = link_temp(&temp, &path, dir, &self.leaked);
        // Closing releases the lock: the temporary file, if still there, is
        // needed by nobody now.
        drop(file);
        linked
    }

    fn create_streamed(&self, key: &str) -> Result<Option<Box<dyn PendingValue>>, StoreError> {
        let path = self.path(key, "write")?;
        let dir = path.parent().unwrap_or(&self.root).to_owned();
        self.remove_leaked();
        // The file keeps its lock until the pending value is persisted or
        // dropped, so no reclaimer takes it while it is written.
        let (temp, file) = self
            .create_temp_in(&dir)
            .map_err(|e| StoreError::io("write", path.display().to_string(), e))?;
        Ok(Some(Box::new(DirPending::new(
            file,
            temp,
            path,
            dir,
            Arc::clone(&self.leaked),
        ))))
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((file, len, path)) = self.open_value(key)? else {
            return Ok(None);
        };
        read_exactly(file, len, &path).map(Some)
    }

    fn get_at_most(&self, key: &str, limit: u64) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        let Some((file, len, path)) = self.open_value(key)? else {
            return Ok(None);
        };
        if len > limit {
            return Err(StoreError::TooLarge {
                location: path.display().to_string(),
                len,
                limit,
            });
        }
        read_exactly(file, len, &path).map(|bytes| Some(Arc::new(bytes)))
    }

    fn get_reader(&self, key: &str) -> Result<Option<ValueReader>, StoreError> {
        let Some((file, len, _)) = self.open_value(key)? else {
            return Ok(None);
        };
        Ok(Some(ValueReader::new(
            len,
            io::BufReader::with_capacity(64 << 10, file),
        )))
    }

    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((file, size, path)) = self.open_value(key)? else {
            return Ok(None);
        };
        read_exactly(file, size.min(len as u64), &path).map(Some)
    }

    fn get_range(&self, key: &str, start: u64, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((mut file, size, path)) = self.open_value(key)? else {
            return Ok(None);
        };
        let start = start.min(size);
        file.seek(io::SeekFrom::Start(start))
            .map_err(|e| StoreError::io("read", path.display().to_string(), e))?;
        read_exactly(file, (size - start).min(len as u64), &path).map(Some)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.list_under(prefix, true)
    }

    fn list_level(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.list_under(prefix, false)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key, "delete")?;
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io("delete", path.display().to_string(), e)),
        }
        // A level emptied by this removal goes too, so history leaves no
        // empty directories behind to slow listings; a level another writer
        // is filling is not empty, or is created again by its write.
        let mut level = path.parent();
        while let Some(dir) = level.filter(|dir| *dir != self.root && dir.starts_with(&self.root)) {
            if fs::remove_dir(dir).is_err() {
                break;
            }
            self.durable_dirs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(dir);
            level = dir.parent();
        }
        Ok(())
    }

    fn location(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_opens_under_missing_directories() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("a/b/c");
        let store = DirStore::open(&root).unwrap();
        store.put_if_absent("k", b"1").unwrap();
        assert_eq!(fs::read(root.join("k")).unwrap(), b"1");
        // Reopening an existing root works too.
        assert_eq!(DirStore::open(&root).unwrap().list("").unwrap(), ["k"]);
    }

    #[test]
    fn nested_keys_create_every_missing_level() {
        let temp = tempfile::tempdir().unwrap();
        let store = DirStore::open(temp.path()).unwrap();
        store.put_if_absent("group/g/parts/7/a", b"a").unwrap();
        store.put_if_absent("group/g/parts/7/b", b"b").unwrap();
        store.put_if_absent("group/g/commit", b"c").unwrap();
        assert_eq!(
            store.list("group/").unwrap(),
            ["group/g/commit", "group/g/parts/7/a", "group/g/parts/7/b"]
        );
        assert_eq!(store.get("group/g/parts/7/b").unwrap().unwrap(), b"b");
    }

    #[test]
    fn a_directory_created_by_another_writer_is_used() {
        let temp = tempfile::tempdir().unwrap();
        let a = DirStore::open(temp.path()).unwrap();
        let b = DirStore::open(temp.path()).unwrap();
        a.put_if_absent("x/y/one", b"1").unwrap();
        b.put_if_absent("x/y/two", b"2").unwrap();
        assert_eq!(a.list("x/").unwrap(), ["x/y/one", "x/y/two"]);
    }

    #[test]
    fn a_directory_removed_behind_the_store_is_created_again() {
        let temp = tempfile::tempdir().unwrap();
        let store = DirStore::open(temp.path()).unwrap();
        store.put_if_absent("x/y/one", b"1").unwrap();
        fs::remove_dir_all(temp.path().join("x")).unwrap();
        store.put_if_absent("x/y/two", b"2").unwrap();
        assert_eq!(store.list("").unwrap(), ["x/y/two"]);
    }

    #[test]
    fn a_file_in_the_way_of_a_directory_is_an_error() {
        let temp = tempfile::tempdir().unwrap();
        let store = DirStore::open(temp.path()).unwrap();
        store.put_if_absent("x", b"1").unwrap();
        let err = store.put_if_absent("x/y", b"2").unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Io {
                    operation: "write",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
