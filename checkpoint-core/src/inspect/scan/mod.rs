//! Reading a checkpoint in bounded memory, for [`crate::inspect`]: the
//! header, then (unless only the header is wanted) the body streamed
//! through the checksum and a frame parser, never held whole. The bytes
//! come from a file of a directory or from any [`Store`]'s reader.

use std::borrow::Cow;
use std::io::{self, Read};
use std::path::Path;

use crate::format::{self, FrameSource, ShapeRecord, TOO_MANY_FRAMES};
use crate::inspect::{Frame, Inspection};
use crate::store::{dir, Store, StoreError};
use crate::Error;

/// How much is read at a time.
const CHUNK: usize = 64 * 1024;
/// Frames recorded at most; a body with more still has all of them parsed.
const MAX_FRAMES: usize = 1 << 16;

/// Told how far a scan has read: bytes read so far, and the value's length.
pub(crate) type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// An inspection that has read nothing yet.
fn blank(seq: u64, location: String) -> Inspection {
    Inspection {
        seq,
        location,
        len: 0,
        header: None,
        variant: None,
        frames: Vec::new(),
        problem: None,
        chunks: None,
    }
}

fn unreadable(location: &str, reason: String) -> Error {
    Error::Store(StoreError::Unreadable {
        location: location.to_owned(),
        reason,
    })
}

/// Inspects the file at `path` (stored under `seq`): its header always,
/// its body (checksum and frames) when `body`.
pub(crate) fn scan_file(path: &Path, seq: u64, body: bool) -> io::Result<Inspection> {
    let location = path.display().to_string();
    let mut inspection = blank(seq, location.clone());
    let file = match dir::open_no_follow(path) {
        Ok(file) => file,
        Err(e) => {
            let Some(reason) = dir::unreadable_reason(&e) else {
                return Err(e);
            };
            inspection.problem = Some(unreadable(&location, reason));
            return Ok(inspection);
        }
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        inspection.problem = Some(unreadable(
            &location,
            format!("it is {}, not a regular file", dir::kind_of(&meta)),
        ));
        return Ok(inspection);
    }
    let len = meta.len();
    let mut file = file;
    let head = read_up_to(&mut file, format::HEADER_PROBE_LEN as u64)?;
    if crate::incremental::is_manifest(&head) {
        // Its chunks are stored beside it.
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let store = crate::DirStore::open_existing(dir).map_err(io::Error::other)?;
        inspection.len = len;
        return super::chunks::scan_manifest(&store, inspection, head, file, body, &mut |_, _| {});
    }
    scan(
        io::Cursor::new(head).chain(file),
        len,
        inspection,
        body,
        &mut |_, _| {},
    )
}

/// Inspects the value of `key` in `store` (stored under `seq`): its header
/// always, its body when `body`, telling `progress` how far it has read.
/// Something under the key that the store cannot read as a value (a
/// directory store's FIFO or directory) is reported, not an error.
pub(crate) fn scan_key(
    store: &dyn Store,
    key: &str,
    seq: u64,
    body: bool,
    progress: Progress<'_>,
) -> Result<Inspection, StoreError> {
    let location = store.location(key);
    let mut inspection = blank(seq, location.clone());
    let reader = match store.get_reader(key) {
        Ok(Some(reader)) => reader,
        Ok(None) => {
            return Err(StoreError::io(
                "read",
                location,
                io::Error::new(io::ErrorKind::NotFound, "it was removed while being read"),
            ))
        }
        Err(e @ StoreError::Unreadable { .. }) => {
            inspection.problem = Some(Error::Store(e));
            return Ok(inspection);
        }
        Err(e) => return Err(e),
    };
    let len = reader.len();
    let mut reader = reader;
    let scanned = read_up_to(&mut reader, format::HEADER_PROBE_LEN as u64).and_then(|head| {
        if crate::incremental::is_manifest(&head) {
            inspection.len = len;
            super::chunks::scan_manifest(store, inspection, head, reader, body, progress)
        } else {
            scan(
                io::Cursor::new(head).chain(reader),
                len,
                inspection,
                body,
                progress,
            )
        }
    });
    scanned.map_err(|e| StoreError::io("read", location, e))
}

/// Reads `input`, a checkpoint `len` bytes long, into `inspection`.
pub(crate) fn scan(
    mut input: impl Read,
    len: u64,
    mut inspection: Inspection,
    body: bool,
    progress: Progress<'_>,
) -> io::Result<Inspection> {
    let seq = inspection.seq;
    let location = inspection.location.clone();
    inspection.len = len;

    let mut head = read_up_to(&mut input, format::HEADER_PROBE_LEN as u64)?;
    if let Some(need) = format::header_section_len(&head).filter(|&need| need > head.len()) {
        let more = read_up_to(&mut input, (need - head.len()) as u64)?;
        head.extend_from_slice(&more);
    }
    progress(head.len() as u64, len);
    let declared = declared_total(&head);
    let header = format::decode_header(&head, seq, &location);
    let mut problem = None;
    if let Some(total) = declared.filter(|&total| len < total) {
        problem = Some(Error::Truncated {
            seq,
            location: location.clone(),
            expected: total,
            found: len,
        });
    }

    if let (true, Some(total)) = (body, declared) {
        // One pass over [0, min(len, total)): the checksum over all but the
        // last four bytes of a whole checkpoint, the frames over the body
        // when the header reads.
        let whole = len == total;
        let end = len.min(total);
        let body_start = match header.as_ref() {
            Ok(header) => header.body_start() as u64,
            Err(_) => end,
        };
        let body_end = if whole { total - 4 } else { end }.max(body_start);
        let taken = head.len().min(end as usize);
        let mut bytes = Summed {
            // The head was read from the start, so the input stands at its
            // end; what of it lies past `end` is never read.
            input: io::Cursor::new(&head[..taken]).chain(input).take(end),
            at: 0,
            crc: 0,
            crc_end: if whole { total - 4 } else { 0 },
            trailer: Vec::with_capacity(4),
            len,
            shown: head.len() as u64,
            progress,
        };
        bytes.pass(body_start)?;
        let mut frames = Walk {
            bytes: &mut bytes,
            body_len: body_end - body_start,
            left: body_end - body_start,
            failed: None,
        };
        let (found, complete) = match header.as_ref() {
            Ok(header) => walk_frames(&mut frames, header)?,
            Err(_) => (Vec::new(), false),
        };
        bytes.pass(end)?;
        if whole && problem.is_none() && bytes.trailer.len() == 4 {
            let expected = u32::from_le_bytes(bytes.trailer[..].try_into().unwrap_or([0; 4]));
            if expected != bytes.crc {
                problem = Some(Error::Corrupt {
                    seq,
                    location: location.clone(),
                    expected,
                    found: bytes.crc,
                });
            }
        }
        let last_end = found
            .last()
            .map_or(0, |f| f.offset + 12 + f.name.len() as u64 + f.len);
        inspection.frames = found;
        if header.is_ok() && !complete && problem.is_none() && len >= total {
            inspection.problem = Some(Error::Malformed {
                seq,
                location: location.clone(),
                reason: format!(
                    "the field frame at body offset {last_end} runs past the end of the body"
                ),
            });
        }
        let most = header.as_ref().map(|h| h.schema.most_frames());
        if matches!(most, Ok(most) if inspection.frames.len() > most) && problem.is_none() {
            inspection.problem = Some(Error::Malformed {
                seq,
                location: location.clone(),
                reason: TOO_MANY_FRAMES.to_owned(),
            });
        }
    }

    match header {
        Ok(header) => {
            if problem.is_none() && len > header.total_len() {
                problem = Some(Error::Malformed {
                    seq,
                    location: location.clone(),
                    reason: format!(
                        "it is {len} bytes long but its header says {}",
                        header.total_len()
                    ),
                });
            }
            if matches!(header.schema.shape, ShapeRecord::Enum(_)) {
                inspection.variant = inspection.frames.first().map(|f| f.name.clone());
            }
            inspection.header = Some(header);
        }
        Err(e) => {
            problem.get_or_insert(e);
        }
    }
    if problem.is_some() {
        inspection.problem = problem;
    }
    Ok(inspection)
}

/// The whole length the prefix declares, as `format::decode` judges a
/// length by (a header longer than allowed is judged by its header check):
/// the body is streamed, so no length here drives an allocation.
fn declared_total(head: &[u8]) -> Option<u64> {
    format::Prefix::read(head)
        .filter(format::Prefix::known)?
        .total_len()
}

fn read_up_to(input: &mut impl Read, n: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    input.by_ref().take(n).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// How many bytes of a compressed value tell its codec and raw length.
const CODEC_HEAD: usize = 9;

/// The checkpoint being scanned, read once from its start: summed into the
/// checksum up to `crc_end`, its last four bytes kept as the trailer.
struct Summed<'p, R> {
    input: R,
    /// Bytes read so far.
    at: u64,
    crc: u32,
    crc_end: u64,
    trailer: Vec<u8>,
    /// The value's length, for `progress`.
    len: u64,
    /// How far `progress` was told: it never goes back.
    shown: u64,
    progress: Progress<'p>,
}

impl<R: Read> Summed<'_, R> {
    /// Reads `buf.len()` bytes, or fewer where the input ends.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let n = match self.input.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let chunk = &buf[filled..filled + n];
            let summed = self.crc_end.saturating_sub(self.at).min(n as u64) as usize;
            self.crc = crc32c::crc32c_append(self.crc, &chunk[..summed]);
            if self.crc_end > 0 {
                self.trailer.extend_from_slice(&chunk[summed..]);
            }
            self.at += n as u64;
            filled += n;
            if self.at > self.shown {
                self.shown = self.at;
                (self.progress)(self.at, self.len);
            }
        }
        Ok(filled)
    }

    /// Reads on, keeping nothing, until `to` (or the input's end).
    fn pass(&mut self, to: u64) -> io::Result<()> {
        let mut buf = vec![0; CHUNK];
        while self.at < to {
            let want = ((to - self.at) as usize).min(CHUNK);
            if self.read(&mut buf[..want])? == 0 {
                break;
            }
        }
        Ok(())
    }
}

/// The body of the checkpoint being scanned, as a [`FrameSource`]: frames
/// are read with the same checks as a restore reads them.
struct Walk<'s, 'p, R> {
    bytes: &'s mut Summed<'p, R>,
    body_len: u64,
    left: u64,
    /// Reading failed: the scan fails with it, not with a frame error.
    failed: Option<io::Error>,
}

impl<R: Read> FrameSource<'static> for Walk<'_, '_, R> {
    fn body_len(&self) -> u64 {
        self.body_len
    }

    fn body_left(&self) -> u64 {
        self.left
    }

    fn take(&mut self, n: u64) -> crate::Result<Cow<'static, [u8]>> {
        let mut bytes = vec![0; usize::try_from(n).unwrap_or(usize::MAX)];
        match self.bytes.read(&mut bytes) {
            Ok(got) if got == bytes.len() => {
                self.left -= n;
                Ok(Cow::Owned(bytes))
            }
            // The stored value is shorter than the body: a truncation.
            Ok(_) => Err(self.malformed("it ends inside the body".to_owned())),
            Err(e) => {
                self.failed = Some(e);
                Err(self.malformed("reading failed".to_owned()))
            }
        }
    }

    fn skip(&mut self, n: u64) -> crate::Result<()> {
        let to = self.bytes.at + n;
        if let Err(e) = self.bytes.pass(to) {
            self.failed = Some(e);
            return Err(self.malformed("reading failed".to_owned()));
        }
        if self.bytes.at < to {
            return Err(self.malformed("it ends inside the body".to_owned()));
        }
        self.left -= n;
        Ok(())
    }

    fn malformed(&self, reason: String) -> Error {
        Error::Malformed {
            seq: 0,
            location: String::new(),
            reason,
        }
    }
}

/// The frames of the body `walk` reads (at most [`MAX_FRAMES`] kept), each
/// with its raw length when compressed, and whether the body ended exactly
/// after a whole frame.
fn walk_frames<R: Read>(
    walk: &mut Walk<'_, '_, R>,
    header: &format::Header,
) -> io::Result<(Vec<Frame>, bool)> {
    let mut frames = Vec::new();
    // An enum's variant frame is never compressed.
    let plain_first = matches!(header.schema.shape, ShapeRecord::Enum(_));
    let mut first = true;
    let complete = loop {
        let head = match walk.frame_head() {
            Ok(Some(head)) => head,
            Ok(None) => break true,
            Err(_) => break false,
        };
        let compressed = header.compressed() && !(plain_first && first);
        first = false;
        let read = if compressed {
            let codec = head.len.min(CODEC_HEAD as u64);
            walk.take_part(codec, "value").and_then(|codec_head| {
                walk.skip(head.len - codec)?;
                Ok(crate::compression::raw_len_of(&codec_head, head.len))
            })
        } else {
            walk.skip(head.len).map(|()| None)
        };
        let Ok(raw_len) = read else {
            break false;
        };
        if frames.len() < MAX_FRAMES {
            frames.push(Frame {
                name: head.name.into_owned(),
                offset: head.offset,
                len: head.len,
                raw_len,
            });
        }
    };
    match walk.failed.take() {
        Some(e) => Err(e),
        None => Ok((frames, complete)),
    }
}

#[cfg(test)]
mod tests;
