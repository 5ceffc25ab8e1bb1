//! Encoding a state into a checkpoint: its fields framed, its writer's
//! schema recorded as they are written, the whole in memory ([`encode`])
//! or streamed to the store ([`encode_to`]).

use std::any::type_name;
use std::collections::HashMap;
use std::io::{self, SeekFrom};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use crate::deep::DeepSchema;
use crate::fields::FrameSink;
use crate::format::{self, begin_with, schema_tail, seal_head, FLAG_ZSTD, MAX_HEADER_LEN};
use crate::store::{PendingValue, StoreError};
use crate::{Checkpoint, Compression, Error, FieldWriter, Result};

/// What a process has recorded of one type's values.
struct Recording {
    /// Grows as values take new paths.
    schema: DeepSchema,
    /// The schema as of the last successful encode, to return to when one
    /// fails halfway.
    good: DeepSchema,
    /// The header after the time, for `good`.
    tail: Arc<[u8]>,
    /// An encode is under way (or panicked): `schema` may be half-grown.
    busy: bool,
}

/// Recordings, by Rust type name.
type Recordings = HashMap<&'static str, Arc<Mutex<Recording>>>;

/// Encodes `state` as checkpoint `seq` into `out` (which must be empty),
/// recording the writer's schema of its fields. When the schema grows
/// (the first value of the type in this process, or one taking a path no
/// earlier one took), the new fields' bytes are read back first, so a value
/// its type cannot restore is refused here. With `compression`, each field
/// frame's value is compressed as it is written.
///
/// # Errors
///
/// [`Error::FieldEncode`] and [`Error::Unrestorable`]; `out` is then
/// unspecified.
pub fn encode<T: Checkpoint>(
    state: &T,
    out: &mut Vec<u8>,
    seq: u64,
    time: SystemTime,
    compression: Compression,
) -> Result<()> {
    let flags = if compression.is_none() { 0 } else { FLAG_ZSTD };
    let recording = recording_of::<T>();
    let mut rec = recording.lock().unwrap_or_else(PoisonError::into_inner);
    rec.begin();
    let mut start = begin_with(out, seq, time, &rec.tail, flags);
    let before = rec.schema.generation();
    let written = state.write_fields(
        &mut FieldWriter::recording(out, T::SCHEMA.name, &mut rec.schema)
            .at_most(T::SCHEMA.most_frames())
            .compressing(compression),
    );
    if let Err(e) = written {
        rec.abandon();
        return Err(e);
    }
    if rec.schema.generation() != before {
        rec.accept::<T>()?;
        // Replace the header in place: a copy of the body would double
        // the memory a first save of a large state takes.
        let mut head = Vec::with_capacity(start + rec.tail.len());
        let new_start = begin_with(&mut head, seq, time, &rec.tail, flags);
        out.splice(..start, head);
        start = new_start;
    }
    rec.busy = false;
    drop(rec);
    format::finish(out, start);
    Ok(())
}

/// Where [`encode_to`] writes a checkpoint as it encodes it: a store's
/// pending value ([`ToPending`]), or the chunker of an incremental save.
pub(crate) trait Output {
    /// Writes the head (prefix and header) of an attempt, first.
    fn head(&mut self, head: &[u8]) -> io::Result<()>;
    /// Appends bytes of the body.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Discards everything written, to write the checkpoint again.
    fn restart(&mut self) -> io::Result<()>;
    /// Replaces the head written first with `head`, as long and now
    /// sealed, then appends `tail`, the trailing checksum.
    fn seal(&mut self, head: &[u8], tail: &[u8]) -> io::Result<()>;
}

/// A store's value being written, as an [`Output`]: the head is patched
/// in place by seeking back.
#[derive(Debug)]
pub(crate) struct ToPending<'a>(pub &'a mut dyn PendingValue);

impl Output for ToPending<'_> {
    fn head(&mut self, head: &[u8]) -> io::Result<()> {
        self.0.write_all(head)
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }

    fn restart(&mut self) -> io::Result<()> {
        self.0.restart()
    }

    fn seal(&mut self, head: &[u8], tail: &[u8]) -> io::Result<()> {
        self.0.rewind()?;
        self.0.write_all(head)?;
        self.0.seek(SeekFrom::End(0))?;
        self.0.write_all(tail)
    }
}

/// [`encode`] straight into `out`, one frame at a time, so the checkpoint
/// is never whole in memory; returns its length. The header goes first
/// with the recorded schema as it stands; when the schema grows during the
/// encode (a type's first save in a process), `out` is emptied and the
/// state encoded again, which cannot grow it further. Finally the prefix
/// is patched and the trailing checksum, combined from the head's and the
/// body's, appended.
///
/// # Errors
///
/// As [`encode`], and [`Error::Store`] when writing to `out` fails; what
/// `out` holds is then unspecified.
pub(crate) fn encode_to<T: Checkpoint>(
    state: &T,
    out: &mut dyn Output,
    location: &str,
    seq: u64,
    time: SystemTime,
    compression: Compression,
) -> Result<u64> {
    let flags = if compression.is_none() { 0 } else { FLAG_ZSTD };
    let io_err = |e| Error::Store(StoreError::io("write", location.to_owned(), e));
    let recording = recording_of::<T>();
    let mut rec = recording.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        rec.begin();
        let mut head = Vec::new();
        begin_with(&mut head, seq, time, &rec.tail, flags);
        out.head(&head).map_err(io_err)?;
        let mut body = BodySink {
            out: &mut *out,
            location,
            crc: 0,
            len: 0,
        };
        let before = rec.schema.generation();
        let mut frame = Vec::new();
        let written = state.write_fields(
            &mut FieldWriter::recording(&mut frame, T::SCHEMA.name, &mut rec.schema)
                .at_most(T::SCHEMA.most_frames())
                .compressing(compression)
                .streaming(&mut body),
        );
        let (body_crc, body_len) = (body.crc, body.len);
        if let Err(e) = written {
            rec.abandon();
            return Err(e);
        }
        if rec.schema.generation() != before {
            rec.accept::<T>()?;
            out.restart().map_err(io_err)?;
            continue;
        }
        rec.busy = false;
        drop(rec);
        let crc = crc32c::crc32c_combine(
            seal_head(&mut head, body_len),
            body_crc,
            usize::try_from(body_len).unwrap_or(usize::MAX),
        );
        out.seal(&head, &crc.to_le_bytes()).map_err(io_err)?;
        return Ok(head.len() as u64 + body_len + 4);
    }
}

/// The body of a checkpoint being streamed: frames go to the store as they
/// are finished, summed as they go.
struct BodySink<'a> {
    out: &'a mut dyn Output,
    location: &'a str,
    crc: u32,
    len: u64,
}

impl std::fmt::Debug for BodySink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodySink")
            .field("location", &self.location)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl FrameSink for BodySink<'_> {
    fn write_frame(&mut self, frame: &[u8]) -> Result<()> {
        self.out
            .append(frame)
            .map_err(|e| Error::Store(StoreError::io("write", self.location.to_owned(), e)))?;
        self.crc = crc32c::crc32c_append(self.crc, frame);
        self.len += frame.len() as u64;
        Ok(())
    }
}

/// The recording of `T`'s values in this process.
fn recording_of<T: Checkpoint>() -> Arc<Mutex<Recording>> {
    static RECORDINGS: OnceLock<Mutex<Recordings>> = OnceLock::new();
    RECORDINGS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(type_name::<T>())
        .or_insert_with(|| {
            Arc::new(Mutex::new(Recording {
                schema: DeepSchema::default(),
                good: DeepSchema::default(),
                tail: schema_tail(&T::SCHEMA, &DeepSchema::default()).into(),
                busy: false,
            }))
        })
        .clone()
}

impl Recording {
    /// Starts an encode, going back to the last good schema if the one
    /// before failed halfway.
    fn begin(&mut self) {
        if self.busy {
            self.schema = self.good.clone();
        }
        self.busy = true;
    }

    /// Ends a failed encode.
    fn abandon(&mut self) {
        self.schema = self.good.clone();
        self.busy = false;
    }

    /// Keeps the schema an encode grew, and the header tail for it.
    ///
    /// # Errors
    ///
    /// [`Error::Unrestorable`] when the header would be too long; the
    /// encode is abandoned.
    fn accept<T: Checkpoint>(&mut self) -> Result<()> {
        let tail = schema_tail(&T::SCHEMA, &self.schema);
        if tail.len() + format::TIME_LEN > MAX_HEADER_LEN as usize {
            self.abandon();
            return Err(Error::Unrestorable {
                type_name: T::SCHEMA.name.to_owned(),
                field: String::new(),
                path: T::SCHEMA.name.to_owned(),
                reason: format!(
                    "its recorded schema takes {} bytes, more than the {MAX_HEADER_LEN} a header holds",
                    tail.len()
                ),
                fix: "hold very large fixed-size arrays or tuples in a `Vec`, whose elements share \
                      one schema",
            });
        }
        self.good = self.schema.clone();
        self.tail = tail.into();
        Ok(())
    }
}
