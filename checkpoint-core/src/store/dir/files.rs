//! The file-system work behind [`DirStore`](super::DirStore): durable
//! creates, temporary files and their locks, and opening entries safely.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::TEMP_PREFIX;
use crate::store::{PendingValue, StoreError};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

pub(super) fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .split('/')
            .all(|part| !part.is_empty() && !part.starts_with('.') && !part.contains(['\\', '\0']))
}

/// Opens `path` for reading without following a final symbolic link and
/// without blocking on a FIFO.
pub(crate) fn open_no_follow(path: &Path) -> io::Result<File> {
    let mut options = File::options();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Why an open failed because of what is at `path`, not because the store
/// fails: such an entry is skipped, the others still read.
pub(crate) fn unreadable_reason(e: &io::Error) -> Option<String> {
    if e.kind() == io::ErrorKind::PermissionDenied {
        return Some("this process may not read it (permission denied)".to_owned());
    }
    #[cfg(unix)]
    match e.raw_os_error() {
        Some(libc::ELOOP) => {
            return Some("it is a symbolic link, which the store never follows".to_owned())
        }
        Some(libc::ENXIO) => {
            return Some("it is a socket or a device, not a regular file".to_owned())
        }
        Some(libc::EISDIR) => return Some("it is a directory, not a regular file".to_owned()),
        _ => {}
    }
    None
}

pub(crate) fn kind_of(meta: &fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else if meta.file_type().is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Reads all of `file`, `len` bytes long by its metadata, never more.
pub(super) fn read_exactly(file: File, len: u64, path: &Path) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len)
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::io("read", path.display().to_string(), e))?;
    Ok(bytes)
}

pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
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
pub(super) fn create_levels_durably<'a>(
    levels: impl IntoIterator<Item = &'a Path>,
) -> io::Result<()> {
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
pub(super) fn create_root_durably(root: &Path) -> io::Result<()> {
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

/// Takes the advisory lock that marks a temporary file as in use; `false`
/// when another holds it (and `wait` is false).
pub(super) fn lock_temp(file: &File, wait: bool) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        let mode = if wait {
            libc::LOCK_EX
        } else {
            libc::LOCK_EX | libc::LOCK_NB
        };
        loop {
            // SAFETY: `flock` on a file descriptor owned by `file`, which
            // outlives the call.
            if unsafe { libc::flock(file.as_raw_fd(), mode) } == 0 {
                return Ok(true);
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EWOULDBLOCK) => return Ok(false),
                _ => return Err(e),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, wait);
        Ok(true)
    }
}

/// Removes the temporary file at `path` when no writer holds its lock. The
/// lock is held across the removal, so a writer that created the file just
/// before sees, once it has the lock, that its file is gone and starts over.
pub(super) fn remove_if_abandoned(path: &Path) {
    #[cfg(unix)]
    {
        let Ok(file) = open_no_follow(path) else {
            return;
        };
        if let Ok(true) = lock_temp(&file, false) {
            let _ = fs::remove_file(path);
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
    }
}

/// Creates a new temporary file in `dir` and takes its lock.
pub(super) fn create_temp(dir: &Path) -> io::Result<(PathBuf, File)> {
    loop {
        let temp = dir.join(format!(
            "{TEMP_PREFIX}{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::options().write(true).create_new(true).open(&temp)?;
        // A reclaimer that locked the file between its creation and our
        // lock has removed it: the name no longer leads to this file.
        match lock_temp(&file, true).and_then(|_| has_links(&file)) {
            Ok(true) => return Ok((temp, file)),
            Ok(false) => {}
            Err(e) => {
                let _ = fs::remove_file(&temp);
                return Err(e);
            }
        }
    }
}

pub(super) fn has_links(file: &File) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok(file.metadata()?.nlink() > 0)
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        Ok(true)
    }
}

/// Removes the temporary file `temp`; one that cannot be removed now is
/// remembered in `leaked` and removed by a later write.
pub(super) fn remove_temp(temp: PathBuf, leaked: &Mutex<Vec<PathBuf>>) {
    if let Err(e) = fs::remove_file(&temp) {
        if e.kind() != io::ErrorKind::NotFound {
            leaked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(temp);
        }
    }
}

/// Links the synced temporary file `temp` to `path` if `path` does not
/// exist, removes `temp`, and syncs the directory.
pub(super) fn link_temp(
    temp: &Path,
    path: &Path,
    dir: &Path,
    leaked: &Mutex<Vec<PathBuf>>,
) -> Result<(), StoreError> {
    let location = path.display().to_string();
    let linked = fs::hard_link(temp, path);
    remove_temp(temp.to_owned(), leaked);
    match linked {
        Ok(()) => sync_dir(dir).map_err(|e| StoreError::io("write", location, e)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(StoreError::AlreadyExists { location })
        }
        Err(e) => Err(StoreError::io("write", location, e)),
    }
}

impl DirPending {
    /// A value being written to `temp` (locked, open as `file`) in `dir`,
    /// to be linked to `path` when persisted; `leaked` collects temporary
    /// files a drop failed to remove.
    pub(super) fn new(
        file: File,
        temp: PathBuf,
        path: PathBuf,
        dir: PathBuf,
        leaked: Arc<Mutex<Vec<PathBuf>>>,
    ) -> Self {
        DirPending {
            file: io::BufWriter::with_capacity(256 << 10, file),
            temp,
            path,
            dir,
            leaked,
            persisted: false,
        }
    }
}

/// A value being written to a temporary file of a
/// [`DirStore`](super::DirStore).
#[derive(Debug)]
pub(super) struct DirPending {
    file: io::BufWriter<File>,
    temp: PathBuf,
    path: PathBuf,
    dir: PathBuf,
    leaked: Arc<Mutex<Vec<PathBuf>>>,
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
            remove_temp(self.temp.clone(), &self.leaked);
            return Err(StoreError::io("write", location, e));
        }
        link_temp(&self.temp, &self.path, &self.dir, &self.leaked)
    }
}

impl Drop for DirPending {
    fn drop(&mut self) {
        if !self.persisted {
            remove_temp(self.temp.clone(), &self.leaked);
        }
    }
}
