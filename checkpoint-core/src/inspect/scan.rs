//! Reading a checkpoint in bounded memory, for [`crate::inspect`]: the
//! header, then (unless only the header is wanted) the body streamed
//! through the checksum and a frame parser, never held whole. The bytes
//! come from a file of a directory or from any [`Store`]'s reader.

use std::io::{self, Read};
use std::path::Path;

use crate::format::{self, ShapeRecord};
use crate::inspect::{Frame, Inspection};
use crate::store::{dir, Store, StoreError};
use crate::Error;

/// How much is read at a time.
const CHUNK: usize = 64 * 1024;
/// Frames recorded at most; a body with more still has all of them parsed.
const MAX_FRAMES: usize = 1 << 16;
/// A longer field name is damage: no field is named with 64 KiB.
const MAX_NAME: usize = 1 << 16;

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
        return crate::incremental::scan::scan_manifest(
            &store,
            inspection,
            head,
            file,
            body,
            &mut |_, _| {},
        );
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
            crate::incremental::scan::scan_manifest(store, inspection, head, reader, body, progress)
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
        let mut crc = 0u32;
        let mut trailer = Vec::with_capacity(4);
        let mut frames = FrameParser::default();
        if let Ok(header) = header.as_ref() {
            frames.compressed = header.compressed();
            // An enum's variant frame is never compressed.
            frames.plain_first = matches!(header.schema.shape, ShapeRecord::Enum(_));
        }
        let mut at;
        let mut feed = |chunk: &[u8], at: u64| {
            if whole {
                crc = crc32c::crc32c_append(crc, part(chunk, at, 0, total - 4));
                trailer.extend_from_slice(part(chunk, at, total - 4, total));
            }
            frames.feed(part(chunk, at, body_start, body_end));
        };
        let taken = head.len().min(end as usize);
        feed(&head[..taken], 0);
        // The head was read from the start, so the input stands at its
        // end; what of it lies past `end` is never fed.
        at = taken as u64;
        let mut buf = vec![0; CHUNK];
        while at < end {
            let want = ((end - at) as usize).min(CHUNK);
            let n = match input.read(&mut buf[..want]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            feed(&buf[..n], at);
            at += n as u64;
            progress(at, len);
        }
        if whole && problem.is_none() && trailer.len() == 4 {
            let expected = u32::from_le_bytes(trailer[..].try_into().unwrap_or([0; 4]));
            if expected != crc {
                problem = Some(Error::Corrupt {
                    seq,
                    location: location.clone(),
                    expected,
                    found: crc,
                });
            }
        }
        let complete = frames.complete();
        let last_end = frames
            .frames
            .last()
            .map_or(0, |f| f.offset + 12 + f.name.len() as u64 + f.len);
        inspection.frames = frames.frames;
        if header.is_ok() && !complete && problem.is_none() && len >= total {
            inspection.problem = Some(Error::Malformed {
                seq,
                location: location.clone(),
                reason: format!(
                    "the field frame at body offset {last_end} runs past the end of the body"
                ),
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

/// The bytes of `chunk` (which starts at file offset `at`) that fall in
/// the file range `[from, to)`.
fn part(chunk: &[u8], at: u64, from: u64, to: u64) -> &[u8] {
    let end = at + chunk.len() as u64;
    let from = from.clamp(at, end);
    let to = to.clamp(from, end);
    &chunk[(from - at) as usize..(to - at) as usize]
}

/// How many bytes of a compressed value tell its codec and raw length.
const CODEC_HEAD: usize = 9;

/// Parses field frames from a body fed in pieces.
#[derive(Default)]
struct FrameParser {
    frames: Vec<Frame>,
    /// Body bytes consumed.
    offset: u64,
    /// Where the frame being read starts.
    start: u64,
    state: State,
    pending: Vec<u8>,
    name: String,
    broken: bool,
    /// Whether values start with a compression codec byte.
    compressed: bool,
    /// Whether the first frame is stored plain even so.
    plain_first: bool,
    /// The first bytes of the value being read: its codec and raw length.
    head: Vec<u8>,
}

#[derive(Default, PartialEq)]
enum State {
    #[default]
    NameLen,
    Name(usize),
    ValueLen,
    Value {
        len: u64,
        left: u64,
    },
}

impl FrameParser {
    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.broken {
            match self.state {
                State::NameLen | State::ValueLen | State::Name(_) => {
                    let need = match self.state {
                        State::NameLen => 4,
                        State::ValueLen => 8,
                        State::Name(n) => n,
                        State::Value { .. } => unreachable!("handled below"),
                    };
                    let take = (need - self.pending.len()).min(bytes.len());
                    self.pending.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    self.offset += take as u64;
                    if self.pending.len() == need {
                        self.advance();
                    }
                }
                State::Value { len, left } => {
                    let take = left.min(bytes.len() as u64);
                    let keep = (CODEC_HEAD - self.head.len()).min(take as usize);
                    self.head.extend_from_slice(&bytes[..keep]);
                    bytes = &bytes[take as usize..];
                    self.offset += take;
                    self.state = State::Value {
                        len,
                        left: left - take,
                    };
                    if left == take {
                        self.finish_frame(len);
                    }
                }
            }
        }
    }

    /// Moves on once `pending` holds the field being read.
    fn advance(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        match self.state {
            State::NameLen => {
                let len = u32::from_le_bytes(pending[..].try_into().unwrap_or([0; 4])) as usize;
                if len > MAX_NAME {
                    self.broken = true;
                } else if len == 0 {
                    self.name.clear();
                    self.state = State::ValueLen;
                } else {
                    self.state = State::Name(len);
                }
            }
            State::Name(_) => match String::from_utf8(pending) {
                Ok(name) => {
                    self.name = name;
                    self.state = State::ValueLen;
                }
                Err(_) => self.broken = true,
            },
            State::ValueLen => {
                let len = u64::from_le_bytes(pending[..].try_into().unwrap_or([0; 8]));
                if len == 0 {
                    self.finish_frame(0);
                } else {
                    self.state = State::Value { len, left: len };
                }
            }
            State::Value { .. } => {}
        }
    }

    fn finish_frame(&mut self, len: u64) {
        let head = std::mem::take(&mut self.head);
        let raw_len = if self.compressed && !(self.plain_first && self.frames.is_empty()) {
            crate::compression::raw_len_of(&head, len)
        } else {
            None
        };
        if self.frames.len() < MAX_FRAMES {
            self.frames.push(Frame {
                name: std::mem::take(&mut self.name),
                offset: self.start,
                len,
                raw_len,
            });
        }
        self.start = self.offset;
        self.state = State::NameLen;
    }

    /// Whether the body ended exactly after a whole frame.
    fn complete(&self) -> bool {
        !self.broken && self.state == State::NameLen && self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::inspect;
    use crate::schema::{FieldSchema, Schema, Shape};
    use crate::FieldWriter;

    const SCHEMA: Schema = Schema::new(
        "Pair",
        Shape::Struct(&[
            FieldSchema::serialized("a", "u64"),
            FieldSchema::serialized("b", "Vec<u8>"),
        ]),
    );

    fn sample(body_len: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        let start = format::begin(&mut bytes, 7, std::time::SystemTime::now(), &SCHEMA);
        let mut out = FieldWriter::new(&mut bytes, "Pair");
        out.field("a", &42u64).unwrap();
        out.field("b", &vec![5u8; body_len]).unwrap();
        format::finish(&mut bytes, start);
        bytes
    }

    /// What a streamed read finds is what a read of the whole finds, for a
    /// checkpoint larger than one piece, every truncation of a small one,
    /// and a flipped byte anywhere.
    #[test]
    fn streaming_agrees_with_reading_the_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ckpt");
        let dir_store = crate::DirStore::open_existing(dir.path()).unwrap();
        let mem_store = crate::MemStore::new();
        #[cfg(feature = "object-store")]
        let object_store = crate::store::ObjectStore::from_object_store(
            std::sync::Arc::new(object_store::memory::InMemory::new()),
            "p",
        )
        .unwrap();
        let stores: Vec<&dyn Store> = vec![
            &dir_store,
            &mem_store,
            #[cfg(feature = "object-store")]
            &object_store,
        ];
        let check = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            let case = (bytes.len(), bytes.iter().map(|b| *b as u64).sum::<u64>());
            let same = |streamed: Inspection, whole: Inspection| {
                assert_eq!(
                    streamed.status(),
                    whole.status(),
                    "{case:?} {:?}",
                    whole.problem
                );
                assert_eq!(streamed.frames, whole.frames);
                assert_eq!(streamed.len, whole.len);
                assert_eq!(
                    streamed.problem.map(|e| e.to_string()),
                    whole.problem.map(|e| e.to_string()),
                    "{case:?}"
                );
            };
            let whole = inspect(bytes, 7, &path.display().to_string());
            same(scan_file(&path, 7, true).unwrap(), whole);
            for store in &stores {
                if !std::ptr::addr_eq(*store, &dir_store) {
                    store.delete("x.ckpt").unwrap();
                    store.put_if_absent("x.ckpt", bytes).unwrap();
                }
                let mut read = 0;
                let streamed = scan_key(*store, "x.ckpt", 7, true, &mut |done, len| {
                    assert!(done >= read && done <= len, "{done} of {len}");
                    read = done;
                })
                .unwrap();
                same(streamed, inspect(bytes, 7, &store.location("x.ckpt")));
            }
        };
        let large = sample(3 * CHUNK + 17);
        check(&large);
        let mut flipped = large.clone();
        flipped[2 * CHUNK] ^= 1;
        check(&flipped);
        let small = sample(40);
        for len in 0..=small.len() {
            check(&small[..len]);
        }
        for at in 0..small.len() {
            let mut bad = small.clone();
            bad[at] ^= 0x40;
            check(&bad);
        }
        let mut longer = small.clone();
        longer.extend_from_slice(b"tail");
        check(&longer);
    }
}
