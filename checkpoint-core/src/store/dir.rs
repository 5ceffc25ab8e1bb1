//! A store in a local directory: the default.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::{PendingValue, Store, StoreError, ValueReader};

/// Temporary files start with this; `list` never shows them.
const TEMP_PREFIX: &str = ".tmp-";
/// Temporary files older than this are leftovers of a crash and removed on open.
const STALE_TEMP_AGE: Duration = Duration::from_secs(600);

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A [`Store`] that keeps each key as a file under a directory; keys with
/// `/` live in subdirectories.
///
/// A write is durable and create-if-absent, as tempfile's
/// `persist_noclobber`: the bytes go to a temporary file in the same
/// directory, which is synced, then hard-linked to the key's name (which
/// fails if the name exists, so two processes never overwrite each other),
/// then removed, and the directory is synced. A crash at any instant leaves
/// the key complete or absent; a leftover temporary file is ignored, and
/// removed by a later [`DirStore::open`].
///
/// # Examples
///
/// ```
/// use checkpoint_core::{DirStore, Store};
///
/// let dir = std::env::temp_dir().join(format!("checkpoint-doc-dirstore-{}", std::process::id()));
/// let store = DirStore::open(&dir)?;
/// store.put_if_absent("runs/a", b"1")?;
/// assert_eq!(store.list("runs/")?, ["runs/a"]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), checkpoint_core::StoreError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
    /// Subdirectories whose entries this process has already made durable.
    durable_dirs: Arc<Mutex<HashSet<PathBuf>>>,
}

impl DirStore {
    /// The store in `dir`, created if absent.
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
        };
        store.remove_stale_temp_files(&store.root);
        Ok(store)
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str, operation: &'static str) -> Result<PathBuf, StoreError> {
        let valid = !key.is_empty()
            && key.split('/').all(|part| {
                !part.is_empty() && !part.starts_with('.') && !part.contains(['\\', '\0'])
            });
        if !valid {
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

    fn remove_stale_temp_files(&self, dir: &Path) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                self.remove_stale_temp_files(&entry.path());
            } else if name.to_string_lossy().starts_with(TEMP_PREFIX) {
                let stale = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age > STALE_TEMP_AGE);
                if stale {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
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

    fn walk(&self, dir: &Path, rel: &str, out: &mut Vec<String>) -> io::Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let key = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if entry.file_type()?.is_dir() {
                self.walk(&entry.path(), &key, out)?;
            } else {
                out.push(key);
            }
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Creates each directory of `levels` (outermost first) that is missing,
/// then syncs its parent, so the entry naming it survives a crash. The
/// parent is synced whether this call or another process created the
/// directory: a file is only durable once every directory on its path is.
fn create_levels_durably<'a>(levels: impl IntoIterator<Item = &'a Path>) -> io::Result<()> {
    for level in levels {
        match fs::create_dir(level) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && level.is_dir() => {}
            Err(e) => return Err(e),
        }
        if let Some(parent) = level.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Creates the store's root and its missing ancestors durably. The parent of
/// a root that already existed is synced too (another process may have
/// created it without syncing), but only as well as permissions allow:
/// opening an existing store must not need to read its parent.
fn create_root_durably(root: &Path) -> io::Result<()> {
    if root.is_dir() {
        if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = sync_dir(parent);
        }
        return Ok(());
    }
    let missing: Vec<&Path> = root
        .ancestors()
        .filter(|level| !level.as_os_str().is_empty())
        .take_while(|level| !level.is_dir())
        .collect();
    create_levels_durably(missing.into_iter().rev())
}

fn write_temp(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::options().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Links the synced temporary file `temp` to `path` if `path` does not
/// exist, removes `temp`, and syncs the directory.
fn link_temp(temp: &Path, path: &Path, dir: &Path) -> Result<(), StoreError> {
    let location = path.display().to_string();
    let linked = fs::hard_link(temp, path);
    let _ = fs::remove_file(temp);
    match linked {
        Ok(()) => sync_dir(dir).map_err(|e| StoreError::io("write", location, e)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(StoreError::AlreadyExists { location })
        }
        Err(e) => Err(StoreError::io("write", location, e)),
    }
}

/// A value being written to a temporary file of a [`DirStore`].
#[derive(Debug)]
struct DirPending {
    file: io::BufWriter<File>,
    temp: PathBuf,
    path: PathBuf,
    dir: PathBuf,
    persisted: bool,
}

impl Write for DirPending {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl io::Seek for DirPending {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

impl PendingValue for DirPending {
    fn restart(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().set_len(0)?;
        io::Seek::rewind(&mut self.file)
    }

    fn persist(mut self: Box<Self>) -> Result<(), StoreError> {
        let location = self.path.display().to_string();
        let synced = self
            .file
            .flush()
            .and_then(|()| self.file.get_ref().sync_all());
        // Linked or not, the temporary file is gone after this.
        self.persisted = true;
        if let Err(e) = synced {
            let _ = fs::remove_file(&self.temp);
            return Err(StoreError::io("write", location, e));
        }
        link_temp(&self.temp, &self.path, &self.dir)
    }
}

impl Drop for DirPending {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

impl DirStore {
    /// Where a temporary file for `key` goes, after making its directory
    /// exist: (temporary path, key's path, directory).
    fn temp_for(&self, key: &str) -> Result<(PathBuf, PathBuf, PathBuf), StoreError> {
        let path = self.path(key, "write")?;
        let dir = path.parent().unwrap_or(&self.root).to_owned();
        self.ensure_dir(&dir)
            .map_err(|e| StoreError::io("write", path.display().to_string(), e))?;
        let temp = dir.join(format!(
            "{TEMP_PREFIX}{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        Ok((temp, path, dir))
    }
}

impl Store for DirStore {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let (temp, path, dir) = self.temp_for(key)?;
        if let Err(e) = write_temp(&temp, bytes) {
            let _ = fs::remove_file(&temp);
            return Err(StoreError::io("write", path.display().to_string(), e));
        }
        link_temp(&temp, &path, &dir)
    }

    fn create_streamed(&self, key: &str) -> Result<Option<Box<dyn PendingValue>>, StoreError> {
        let (temp, path, dir) = self.temp_for(key)?;
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| StoreError::io("write", path.display().to_string(), e))?;
        Ok(Some(Box::new(DirPending {
            file: io::BufWriter::with_capacity(256 << 10, file),
            temp,
            path,
            dir,
            persisted: false,
        })))
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(key, "read")?;
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("read", path.display().to_string(), e)),
        }
    }

    fn get_reader(&self, key: &str) -> Result<Option<ValueReader>, StoreError> {
        let path = self.path(key, "read")?;
        let io_err = |e| StoreError::io("read", path.display().to_string(), e);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(e)),
        };
        let len = file.metadata().map_err(io_err)?.len();
        Ok(Some(ValueReader::new(
            len,
            io::BufReader::with_capacity(64 << 10, file),
        )))
    }

    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(key, "read")?;
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io("read", path.display().to_string(), e)),
        };
        let mut bytes = Vec::new();
        file.take(len as u64)
            .read_to_end(&mut bytes)
            .map_err(|e| StoreError::io("read", path.display().to_string(), e))?;
        Ok(Some(bytes))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        self.walk(&self.root, "", &mut keys)
            .map_err(|e| StoreError::io("list", self.root.display().to_string(), e))?;
        keys.retain(|k| k.starts_with(prefix));
        keys.sort_unstable();
        Ok(keys)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key, "delete")?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("delete", path.display().to_string(), e)),
        }
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
