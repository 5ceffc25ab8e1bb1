//! Untyped inspection of checkpoints: what a file holds and whether it is
//! intact, read without the type that wrote it.
//!
//! This is what the `checkpoint` command-line tool is built on; use it to
//! look into any [`Store`] (a directory, an object store) from your own
//! tooling: [`checkpoints`] lists a store's checkpoints, [`inspect_key`]
//! reads one in bounded memory. [`checkpoint_files`] and [`inspect_file`]
//! do the same on a directory's files.
//!
//! # Examples
//!
//! ```
//! use checkpoint::inspect::{self, Status};
//! use checkpoint::{Checkpoint, Checkpointer};
//!
//! #[derive(Checkpoint)]
//! struct Counter { n: u64 }
//!
//! let dir = tempfile::tempdir()?;
//! Checkpointer::open(dir.path())?.save(&Counter { n: 7 })?;
//!
//! let store = checkpoint::DirStore::open(dir.path())?;
//! let keys = inspect::checkpoints(&store)?;
//! assert_eq!(keys, [(1, "00000000000000000001.ckpt".to_owned())]);
//! let found = inspect::inspect_key(&store, &keys[0].1, keys[0].0)?;
//! assert_eq!(found.status(), Status::Ok);
//! assert_eq!(found.header.as_ref().unwrap().type_name, "Counter");
//! assert_eq!(found.frames[0].name, "n");
//!
//! let files = inspect::checkpoint_files(dir.path())?;
//! let found = inspect::inspect_file(&files[0].1, files[0].0)?;
//! assert_eq!(found.status(), Status::Ok);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod chunks;
mod diff;
pub(crate) mod scan;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use self::chunks::{Chunk, Chunks, DamagedChunk};
pub use self::diff::{diff, diff_headers, shape_name, SchemaChange};
use crate::format::{self, FrameSource, Header, ShapeRecord};
use crate::store::{Store, StoreError};
use crate::Error;

/// The checkpoints of `store` (keys `{seq:020}.ckpt` at its top level), with
/// their sequence numbers, oldest first: what a restore looks at. Other
/// keys (groups, temporary files, notes) are left out; a directory store's
/// entries under a checkpoint's name that are not regular files are
/// listed, so that inspecting them reports them.
///
/// # Errors
///
/// [`Error::Store`] when the store cannot be listed.
pub fn checkpoints(store: &dyn Store) -> crate::Result<Vec<(u64, String)>> {
    crate::keys::checkpoints(store)
}

/// Inspects the checkpoint under `key` in `store`, stored under sequence
/// number `seq`: header, checksum and frames.
///
/// Streams the value through [`Store::get_reader`]: memory stays bounded
/// whatever its size when the store streams (the directory store and
/// `ObjectStore` do). Something under the key that the store cannot read
/// as a value (a directory store's FIFO, directory or symbolic link) is
/// reported with [`Status::Unreadable`].
///
/// # Errors
///
/// Only when the store fails, or the key is gone; damage is reported in the
/// result.
pub fn inspect_key(store: &dyn Store, key: &str, seq: u64) -> Result<Inspection, StoreError> {
    scan::scan_key(store, key, seq, true, &mut |_, _| {})
}

/// [`inspect_key`], calling `progress` with the bytes read so far and the
/// value's length as it reads, for a progress display.
///
/// # Errors
///
/// As [`inspect_key`].
pub fn inspect_key_with_progress(
    store: &dyn Store,
    key: &str,
    seq: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<Inspection, StoreError> {
    scan::scan_key(store, key, seq, true, &mut progress)
}

/// [`inspect_key`] of the header alone: the body is never read, so its
/// checksum is not checked and no frames are listed. A value shorter or
/// longer than its header says is still reported.
///
/// # Errors
///
/// As [`inspect_key`].
pub fn inspect_key_header(
    store: &dyn Store,
    key: &str,
    seq: u64,
) -> Result<Inspection, StoreError> {
    scan::scan_key(store, key, seq, false, &mut |_, _| {})
}

/// The checkpoint files of a directory written by the directory store
/// (`{seq:020}.ckpt`), with their sequence numbers, oldest first. Other
/// names (temporary files, notes) are not checkpoints and are left out;
/// entries under a checkpoint's name that are not regular files (a
/// directory, a FIFO, a symbolic link) are listed, so that inspecting them
/// reports them.
///
/// # Errors
///
/// When the directory cannot be read.
pub fn checkpoint_files(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(seq) = name.to_str().and_then(crate::keys::checkpoint_seq) else {
            continue;
        };
        // Whatever it is: a FIFO or a directory under a checkpoint's name
        // is what a restore trips over, so it is reported, not hidden.
        files.push((seq, entry.path()));
    }
    files.sort_unstable();
    Ok(files)
}

/// What a checkpoint file holds and whether it is intact.
#[derive(Debug)]
#[non_exhaustive]
pub struct Inspection {
    /// The sequence number its name says.
    pub seq: u64,
    /// Where it lives.
    pub location: String,
    /// Its length in bytes.
    pub len: u64,
    /// Its header, when the header is intact (its own checksum matches),
    /// even if the body is damaged.
    pub header: Option<Header>,
    /// The variant, for an enum whose first frame reads.
    pub variant: Option<String>,
    /// The field frames of the body, as far as they read. When the body is
    /// damaged these are the frames before the damage, unverified.
    pub frames: Vec<Frame>,
    /// Why the checkpoint would not restore, whatever the type: `None` when
    /// it is intact.
    pub problem: Option<Error>,
    /// For an incremental checkpoint, the chunks its manifest lists; `len`,
    /// `header` and `frames` then describe the checkpoint they make up.
    pub chunks: Option<Chunks>,
}

/// One field frame of a checkpoint's body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Frame {
    /// The field's name (the variant's name for an enum's first frame).
    pub name: String,
    /// Where the frame starts, from the start of the body.
    pub offset: u64,
    /// The length of the field's value as stored.
    pub len: u64,
    /// The length of the field's encoded value before compression, as its
    /// frame declares, when the checkpoint is compressed; `None` otherwise.
    pub raw_len: Option<u64>,
}

/// Whether a checkpoint is intact, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Intact: lengths and checksums match, header and frames read.
    Ok,
    /// The checksum does not match: bytes were changed.
    Corrupt,
    /// Shorter than its header says: a torn write.
    Truncated,
    /// Checksums match but the content does not parse.
    Malformed,
    /// Does not start with the checkpoint magic.
    NotACheckpoint,
    /// Written in a format version this release does not read.
    UnsupportedVersion,
    /// Not a regular file (a directory, a FIFO, a symbolic link) or not
    /// readable by this process: restores skip it.
    Unreadable,
}

impl Status {
    /// The status of a checkpoint that failed with `error`.
    fn of(error: &Error) -> Status {
        match error {
            Error::Corrupt { .. } | Error::DamagedChunk { .. } => Status::Corrupt,
            Error::Truncated { .. } => Status::Truncated,
            Error::NotACheckpoint { .. } => Status::NotACheckpoint,
            Error::UnsupportedVersion { .. } => Status::UnsupportedVersion,
            Error::Store(_) => Status::Unreadable,
            _ => Status::Malformed,
        }
    }

    /// Its name: `ok`, `corrupt`, `truncated`, `malformed`,
    /// `not-a-checkpoint`, `unsupported-version` or `unreadable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Corrupt => "corrupt",
            Status::Truncated => "truncated",
            Status::Malformed => "malformed",
            Status::NotACheckpoint => "not-a-checkpoint",
            Status::UnsupportedVersion => "unsupported-version",
            Status::Unreadable => "unreadable",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Inspection {
    /// Whether it is intact, in one word.
    pub fn status(&self) -> Status {
        self.problem.as_ref().map_or(Status::Ok, Status::of)
    }

    /// The frame of the field `name`, if the body holds one.
    pub fn frame(&self, name: &str) -> Option<&Frame> {
        let fields = if self.variant.is_some() {
            self.frames.get(1..).unwrap_or_default()
        } else {
            &self.frames
        };
        fields.iter().find(|f| f.name == name)
    }
}

/// Inspects the checkpoint file at `path`, stored under sequence number `seq`.
///
/// # Errors
///
/// Only when the file cannot be read; damage is reported in the result.
///
/// Reads the file in pieces: memory stays bounded whatever its size (the
/// header, one piece, and the frames' names and offsets). Like a restore,
/// it never follows a symbolic link or waits on a FIFO: an entry that is not
/// a regular file, or that this process may not read, is reported with
/// [`Status::Unreadable`].
pub fn inspect_file(path: &Path, seq: u64) -> io::Result<Inspection> {
    scan::scan_file(path, seq, true)
}

/// [`inspect_file`] of the header alone: the body is never read, so its
/// checksum is not checked and no frames are listed. A file shorter or
/// longer than its header says is still reported.
///
/// # Errors
///
/// As [`inspect_file`].
pub fn inspect_file_header(path: &Path, seq: u64) -> io::Result<Inspection> {
    scan::scan_file(path, seq, false)
}

/// Inspects the bytes of a checkpoint stored under sequence number `seq` at
/// `location`. Never fails: damage is reported in [`Inspection::problem`],
/// with as much of the header and frames as could be read. The manifest of
/// an incremental checkpoint (format version 5) is not a whole checkpoint:
/// its chunks are elsewhere in the store, so [`inspect_file`] reads it, and
/// this reports it as [`Status::UnsupportedVersion`].
pub fn inspect(bytes: &[u8], seq: u64, location: &str) -> Inspection {
    let mut inspection = Inspection {
        seq,
        location: location.to_owned(),
        len: bytes.len() as u64,
        header: None,
        variant: None,
        frames: Vec::new(),
        problem: None,
        chunks: None,
    };
    let body = match format::decode(bytes, seq, location) {
        Ok((header, body)) => {
            inspection.header = Some(header);
            body
        }
        Err(e) => {
            inspection.problem = Some(e);
            // The header has its own checksum: when it holds, show what it says
            // and the frames that precede the damage.
            match format::decode_header(bytes, seq, location) {
                Ok(header) => {
                    let start = header.body_start();
                    // A whole file ends with the checksum; a torn one ends
                    // inside the body.
                    let end = if bytes.len() as u64 >= header.total_len() {
                        bytes.len() - 4
                    } else {
                        bytes.len()
                    };
                    inspection.header = Some(header);
                    bytes.get(start..end.max(start)).unwrap_or_default()
                }
                Err(_) => return inspection,
            }
        }
    };
    // One frame more than the header allows is enough to tell: a hostile
    // body of many frames is not listed whole.
    let keep = inspection
        .header
        .as_ref()
        .map_or(usize::MAX, |h| h.schema.most_frames().saturating_add(1));
    let (mut frames, complete) = frames_of(body, keep);
    let is_enum = inspection
        .header
        .as_ref()
        .is_some_and(|h| matches!(h.schema.shape, ShapeRecord::Enum(_)));
    if inspection.header.as_ref().is_some_and(Header::compressed) {
        // An enum's variant frame is never compressed.
        for frame in frames.iter_mut().skip(usize::from(is_enum)) {
            let value = (frame.offset + frame_len(frame) - frame.len) as usize;
            let stored = body.get(value..value + frame.len as usize);
            frame.raw_len = stored.and_then(crate::compression::raw_len);
            // An intact checkpoint must also decompress, as a restore would.
            if let (None, Some(stored)) = (&inspection.problem, stored) {
                if let Err(e) = crate::compression::decompress(stored) {
                    inspection.problem = Some(Error::Malformed {
                        seq,
                        location: location.to_owned(),
                        reason: format!("field `{}`: {e}", frame.name),
                    });
                }
            }
        }
    }
    inspection.frames = frames;
    if inspection.problem.is_none() && inspection.frames.len() == keep {
        inspection.problem = Some(Error::Malformed {
            seq,
            location: location.to_owned(),
            reason: format::TOO_MANY_FRAMES.to_owned(),
        });
    }
    if inspection.problem.is_none() && !complete {
        inspection.problem = Some(Error::Malformed {
            seq,
            location: location.to_owned(),
            reason: format!(
                "the field frame at body offset {} runs past the end of the body",
                inspection
                    .frames
                    .last()
                    .map_or(0, |f| f.offset + frame_len(f))
            ),
        });
    }
    if is_enum {
        inspection.variant = inspection.frames.first().map(|f| f.name.clone());
    }
    inspection
}

/// The full length of a frame: name length, name, value length, value.
fn frame_len(frame: &Frame) -> u64 {
    4 + frame.name.len() as u64 + 8 + frame.len
}

/// The first `keep` frames of `body` that read, and whether all of it
/// did.
fn frames_of(body: &[u8], keep: usize) -> (Vec<Frame>, bool) {
    let mut frames = Vec::new();
    let mut body = format::Body::new(body, 0, "");
    loop {
        match body.frame_head() {
            Ok(None) => return (frames, true),
            Ok(Some(head)) => {
                if frames.len() < keep {
                    frames.push(Frame {
                        name: head.name.into_owned(),
                        offset: head.offset,
                        len: head.len,
                        raw_len: None,
                    });
                }
                if body.skip(head.len).is_err() {
                    return (frames, false);
                }
            }
            Err(_) => return (frames, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::schema::{FieldSchema, Schema, Shape};
    use crate::FieldWriter;

    const POINT: Schema = Schema::new(
        "Point",
        Shape::Struct(&[
            FieldSchema::serialized("x", "i32"),
            FieldSchema::serialized("tags", "Vec<String>"),
            FieldSchema::derived("norm", "f64"),
        ]),
    );

    fn point() -> Vec<u8> {
        let mut out = Vec::new();
        let start = format::begin(&mut out, 4, UNIX_EPOCH, &POINT);
        let mut w = FieldWriter::new(&mut out, "Point");
        w.field("x", &-3i32).unwrap();
        w.field("tags", &vec!["a".to_owned()]).unwrap();
        format::finish(&mut out, start);
        out
    }

    #[test]
    fn an_intact_checkpoint_shows_its_header_and_frames() {
        let found = inspect(&point(), 4, "p");
        assert_eq!(found.status(), Status::Ok);
        assert_eq!(found.header.unwrap().type_name, "Point");
        let frames: Vec<_> = found.frames.iter().map(|f| (&*f.name, f.len)).collect();
        assert_eq!(frames, [("x", 1), ("tags", 3)]);
    }

    #[test]
    fn damage_keeps_the_header_and_the_frames_before_it() {
        let mut bytes = point();
        let last = bytes.len() - 5;
        bytes[last] ^= 1;
        let found = inspect(&bytes, 4, "p");
        assert_eq!(found.status(), Status::Corrupt);
        assert!(found.header.is_some());
        assert_eq!(found.frames.len(), 2);

        let bytes = point();
        let found = inspect(&bytes[..bytes.len() - 6], 4, "p");
        assert_eq!(found.status(), Status::Truncated);
        assert_eq!(found.frames.len(), 1, "{:?}", found.frames);

        let found = inspect(b"hello", 4, "p");
        assert_eq!(found.status(), Status::NotACheckpoint);
        assert!(found.header.is_none());
    }

    #[test]
    fn every_truncation_and_flipped_byte_is_reported_without_panicking() {
        let bytes = point();
        for i in 0..bytes.len() {
            assert_ne!(inspect(&bytes[..i], 4, "p").status(), Status::Ok, "{i}");
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert_ne!(inspect(&b, 4, "p").status(), Status::Ok, "{i}");
        }
    }
}
