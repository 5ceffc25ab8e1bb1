//! The byte format of one checkpoint (documented in `docs/FORMAT.md`).
//!
//! ```text
//! prefix  magic[8] version:u16 flags:u16 header_len:u32 body_len:u64 seq:u64   (32 bytes)
//! header  time_secs:u64 time_nanos:u32 type_name:str schema:postcard           (header_len)
//!         deep schema:postcard (version 3) | field_shapes:postcard (version 2)
//!         header_crc:u32   CRC-32C of prefix + header
//! body    field frames                                                         (body_len)
//!         crc:u32          CRC-32C of everything before it
//! ```
//!
//! All integers are little-endian. The header is readable alone, so listing
//! checkpoints never reads their bodies.

use std::any::type_name;
use std::collections::HashMap;
use std::io::SeekFrom;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::deep::{from_field_shapes, DeepSchema};
use crate::fields::{split_u32, split_u64, FrameSink};
use crate::schema::{FieldSchema, Schema, Shape};
use crate::shape::{decode_field_shapes, FieldShapes};
use crate::store::{PendingValue, StoreError};
use crate::{Checkpoint, Compression, Error, FieldWriter, Result, TypeShape};

/// The first eight bytes of every checkpoint.
pub const MAGIC: [u8; 8] = *b"\x89CKPT\r\n\x1a";
/// The newest format version this release reads, and the one it writes
/// compressed checkpoints in.
pub const VERSION: u16 = 4;
/// The format version of checkpoints written without compression: version
/// 4 adds nothing else, so plain checkpoints stay readable by releases that
/// read version 3.
pub const PLAIN_VERSION: u16 = 3;
/// Header flag (version 4): every field frame's value is zstd-compressed.
pub const FLAG_ZSTD: u16 = 1;
/// The oldest format version this release reads.
pub const OLDEST_VERSION: u16 = 1;
/// Length of the fixed prefix.
pub const PREFIX_LEN: usize = 32;
/// A header longer than this is refused as malformed: no type's schema is
/// that large, and a hostile length must not drive an allocation.
pub const MAX_HEADER_LEN: u32 = 1 << 20;
/// How many bytes `list` reads first; enough for the header of most types.
pub const HEADER_PROBE_LEN: usize = 4096;

/// The schema a checkpoint was written with, as stored in its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaRecord {
    /// The type's checkpoint name.
    pub name: String,
    /// Its shape.
    pub shape: ShapeRecord,
    /// Fields declared removed.
    pub removed: Vec<String>,
}

/// The shape of a stored type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShapeRecord {
    /// Named fields.
    Struct(Vec<FieldRecord>),
    /// Positional fields.
    Tuple(Vec<FieldRecord>),
    /// No fields.
    Unit,
    /// An enum.
    Enum(Vec<VariantRecord>),
}

/// One variant of a stored enum. Its shape cannot be an enum, which keeps
/// decoding free of recursion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantRecord {
    /// The variant's name.
    pub name: String,
    /// Its kind: 0 struct, 1 tuple, 2 unit.
    pub kind: u8,
    /// Its fields.
    pub fields: Vec<FieldRecord>,
}

/// One stored field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRecord {
    /// Its name.
    pub name: String,
    /// Its type as written.
    pub ty: String,
    /// Whether it is rebuilt on restore rather than stored.
    pub derived: bool,
    /// Its former names.
    pub aliases: Vec<String>,
    /// Whether a default fills it when missing.
    pub has_default: bool,
}

impl SchemaRecord {
    /// The stored form of `schema`.
    pub fn of(schema: &Schema) -> Self {
        let shape = match schema.shape {
            Shape::Struct(f) => ShapeRecord::Struct(fields(f)),
            Shape::Tuple(f) => ShapeRecord::Tuple(fields(f)),
            Shape::Unit => ShapeRecord::Unit,
            Shape::Enum(vs) => ShapeRecord::Enum(
                vs.iter()
                    .map(|v| VariantRecord {
                        name: v.name.to_owned(),
                        kind: match v.shape {
                            Shape::Struct(_) => 0,
                            Shape::Tuple(_) => 1,
                            _ => 2,
                        },
                        fields: fields(v.shape.fields()),
                    })
                    .collect(),
            ),
        };
        SchemaRecord {
            name: schema.name.to_owned(),
            shape,
            removed: schema.removed.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

fn fields(fields: &[FieldSchema]) -> Vec<FieldRecord> {
    fields
        .iter()
        .map(|f| FieldRecord {
            name: f.name.to_owned(),
            ty: f.ty.to_owned(),
            derived: f.derived,
            aliases: f.aliases.iter().map(|s| (*s).to_owned()).collect(),
            has_default: f.has_default,
        })
        .collect()
}

/// The decoded header of a checkpoint.
#[derive(Debug, Clone)]
pub struct Header {
    /// Format version.
    pub version: u16,
    /// Flags ([`FLAG_ZSTD`]); 0 before version 4.
    pub flags: u16,
    /// Sequence number.
    pub seq: u64,
    /// Wall-clock time of the capture.
    pub time: SystemTime,
    /// The type's checkpoint name.
    pub type_name: String,
    /// The schema it was written with.
    pub schema: SchemaRecord,
    /// The deep shape of each serialized field's type, by field name
    /// (`Variant::field` in an enum), as version 2 stored it; empty in
    /// other versions.
    pub field_shapes: Vec<(String, TypeShape)>,
    /// The writer's schema of each stored field, down to the leaves: as
    /// recorded (version 3) or read from the field shapes (version 2);
    /// empty in version 1.
    pub deep: DeepSchema,
    /// Length of the header section.
    pub header_len: u32,
    /// Length of the body.
    pub body_len: u64,
}

impl Header {
    /// Whether the field frames' values are zstd-compressed.
    pub fn compressed(&self) -> bool {
        self.flags & FLAG_ZSTD != 0
    }

    /// The whole checkpoint's length in bytes.
    pub fn total_len(&self) -> u64 {
        total_len(self.header_len, self.body_len).unwrap_or(u64::MAX)
    }

    fn body_start(&self) -> usize {
        PREFIX_LEN + self.header_len as usize + 4
    }
}

fn total_len(header_len: u32, body_len: u64) -> Option<u64> {
    (PREFIX_LEN as u64 + 8 + u64::from(header_len)).checked_add(body_len)
}

/// Writes the prefix and header of a checkpoint of `schema` into `out`
/// (which must be empty), with an empty writer's schema; returns where the
/// body starts. Finish with [`finish`] once the body is appended.
pub fn begin(out: &mut Vec<u8>, seq: u64, time: SystemTime, schema: &Schema) -> usize {
    begin_with(
        out,
        seq,
        time,
        &schema_tail(schema, &DeepSchema::default()),
        0,
    )
}

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
        &mut FieldWriter::recording(out, T::SCHEMA.name, &mut rec.schema).compressing(compression),
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
    finish(out, start);
    Ok(())
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
    out: &mut dyn PendingValue,
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
        let body_start = begin_with(&mut head, seq, time, &rec.tail, flags);
        out.write_all(&head).map_err(io_err)?;
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
        head[16..24].copy_from_slice(&body_len.to_le_bytes());
        let header_crc = crc32c::crc32c(&head[..body_start - 4]);
        head[body_start - 4..body_start].copy_from_slice(&header_crc.to_le_bytes());
        let crc = crc32c::crc32c_combine(
            crc32c::crc32c(&head),
            body_crc,
            usize::try_from(body_len).unwrap_or(usize::MAX),
        );
        out.rewind().map_err(io_err)?;
        out.write_all(&head).map_err(io_err)?;
        out.seek(SeekFrom::End(0)).map_err(io_err)?;
        out.write_all(&crc.to_le_bytes()).map_err(io_err)?;
        return Ok(head.len() as u64 + body_len + 4);
    }
}

/// The body of a checkpoint being streamed: frames go to the store as they
/// are finished, summed as they go.
#[derive(Debug)]
struct BodySink<'a> {
    out: &'a mut dyn PendingValue,
    location: &'a str,
    crc: u32,
    len: u64,
}

impl FrameSink for BodySink<'_> {
    fn write_frame(&mut self, frame: &[u8]) -> Result<()> {
        self.out
            .write_all(frame)
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
        // The time before the tail takes 12 bytes of the header.
        if tail.len() + 12 > MAX_HEADER_LEN as usize {
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

/// The header after the time: type name, schema record, writer's schema.
fn schema_tail(schema: &Schema, deep: &DeepSchema) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(schema.name.len() as u32).to_le_bytes());
    out.extend_from_slice(schema.name.as_bytes());
    // Encoding owned values into a Vec cannot fail.
    let record = postcard::to_allocvec(&SchemaRecord::of(schema)).unwrap_or_default();
    out.extend_from_slice(&record);
    let deep = postcard::to_allocvec(deep).unwrap_or_default();
    out.extend_from_slice(&deep);
    out
}

fn begin_with(out: &mut Vec<u8>, seq: u64, time: SystemTime, tail: &[u8], flags: u16) -> usize {
    let version = if flags == 0 { PLAIN_VERSION } else { VERSION };
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // header_len, patched below
    out.extend_from_slice(&[0; 8]); // body_len, patched by `finish`
    out.extend_from_slice(&seq.to_le_bytes());
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    out.extend_from_slice(&since.as_secs().to_le_bytes());
    out.extend_from_slice(&since.subsec_nanos().to_le_bytes());
    out.extend_from_slice(tail);
    let header_len = (out.len() - PREFIX_LEN) as u32;
    out[12..16].copy_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // header_crc, written by `finish`
    out.len()
}

/// The checksum the format uses: CRC-32C.
pub fn checksum(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// Patches the body length, then appends the checksums.
pub fn finish(out: &mut Vec<u8>, body_start: usize) {
    let body_len = (out.len() - body_start) as u64;
    out[16..24].copy_from_slice(&body_len.to_le_bytes());
    let header_crc = crc32c::crc32c(&out[..body_start - 4]);
    out[body_start - 4..body_start].copy_from_slice(&header_crc.to_le_bytes());
    let crc = crc32c::crc32c(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Reads the header of a checkpoint from its first bytes. `key_seq` is the
/// sequence number its key says, used in errors until the header is read.
///
/// # Errors
///
/// [`Error::NotACheckpoint`], [`Error::UnsupportedVersion`],
/// [`Error::Truncated`] when `bytes` ends inside the header (read more),
/// [`Error::Corrupt`] or [`Error::Malformed`].
pub fn decode_header(bytes: &[u8], key_seq: u64, location: &str) -> Result<Header> {
    let truncated = |expected: u64| Error::Truncated {
        seq: key_seq,
        location: location.to_owned(),
        expected,
        found: bytes.len() as u64,
    };
    let malformed = |reason: String| Error::Malformed {
        seq: key_seq,
        location: location.to_owned(),
        reason,
    };
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(Error::NotACheckpoint {
            location: location.to_owned(),
        });
    }
    if bytes.len() < PREFIX_LEN {
        return Err(truncated(0));
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if !(OLDEST_VERSION..=VERSION).contains(&version) {
        return Err(unknown_version(bytes, key_seq, location, version));
    }
    let (header_len, _) = split_u32(&bytes[12..]).ok_or_else(|| truncated(0))?;
    let (body_len, _) = split_u64(&bytes[16..]).ok_or_else(|| truncated(0))?;
    let (seq, _) = split_u64(&bytes[24..]).ok_or_else(|| truncated(0))?;
    if header_len > MAX_HEADER_LEN {
        return Err(malformed(format!(
            "its header claims {header_len} bytes, more than the {MAX_HEADER_LEN} allowed"
        )));
    }
    let Some(total) = total_len(header_len, body_len) else {
        return Err(malformed(format!("its body claims {body_len} bytes")));
    };
    let header_end = PREFIX_LEN + header_len as usize;
    if bytes.len() < header_end + 4 {
        return Err(truncated(total));
    }
    let stored = u32::from_le_bytes(
        bytes[header_end..header_end + 4]
            .try_into()
            .unwrap_or([0; 4]),
    );
    let found = crc32c::crc32c(&bytes[..header_end]);
    if stored != found {
        return Err(Error::Corrupt {
            seq: key_seq,
            location: location.to_owned(),
            expected: stored,
            found,
        });
    }
    if seq != key_seq {
        return Err(malformed(format!(
            "its header says #{seq} but it is stored as #{key_seq}"
        )));
    }
    // Before version 4 the flags were reserved and readers ignored them.
    let flags = match version {
        1..=3 => 0,
        _ => u16::from_le_bytes([bytes[10], bytes[11]]),
    };
    if flags & !FLAG_ZSTD != 0 {
        return Err(malformed(format!(
            "its flags {flags:#06x} include ones this format version does not define"
        )));
    }
    let header = &bytes[PREFIX_LEN..header_end];
    let (secs, rest) = split_u64(header).ok_or_else(|| malformed("no time".into()))?;
    let (nanos, rest) = split_u32(rest).ok_or_else(|| malformed("no time".into()))?;
    let time = (nanos < 1_000_000_000)
        .then(|| UNIX_EPOCH.checked_add(Duration::new(secs, nanos)))
        .flatten()
        .ok_or_else(|| malformed(format!("its time {secs}.{nanos:09} is out of range")))?;
    let (name_len, rest) = split_u32(rest).ok_or_else(|| malformed("no type name".into()))?;
    let name_len = name_len as usize;
    if rest.len() < name_len {
        return Err(malformed("its type name runs past the header".into()));
    }
    let type_name = std::str::from_utf8(&rest[..name_len])
        .map_err(|_| malformed("its type name is not UTF-8".into()))?
        .to_owned();
    let (schema, rest): (SchemaRecord, _) = postcard::take_from_bytes(&rest[name_len..])
        .map_err(|e| malformed(format!("its schema does not decode: {e}")))?;
    let (field_shapes, deep, rest) = match version {
        1 => (FieldShapes::new(), DeepSchema::default(), rest),
        2 => {
            let (shapes, rest) = decode_field_shapes(rest)
                .map_err(|e| malformed(format!("its field shapes do not decode: {e}")))?;
            let deep = from_field_shapes(&shapes);
            (shapes, deep, rest)
        }
        _ => {
            let (deep, rest): (DeepSchema, _) = postcard::take_from_bytes(rest)
                .map_err(|e| malformed(format!("its recorded schema does not decode: {e}")))?;
            deep.validate()
                .map_err(|e| malformed(format!("its recorded schema is invalid: {e}")))?;
            (FieldShapes::new(), deep, rest)
        }
    };
    if !rest.is_empty() {
        return Err(malformed("bytes follow its schema".into()));
    }
    Ok(Header {
        version,
        flags,
        seq,
        time,
        type_name,
        schema,
        field_shapes,
        deep,
        header_len,
        body_len,
    })
}

/// The sequence number in a checkpoint's prefix, `None` when `prefix` does
/// not start like a checkpoint (of any version).
pub fn prefix_seq(prefix: &[u8]) -> Option<u64> {
    if prefix.len() < PREFIX_LEN || prefix[..MAGIC.len()] != MAGIC {
        return None;
    }
    split_u64(&prefix[24..]).map(|(seq, _)| seq)
}

/// The whole length a checkpoint's prefix declares, `None` when the prefix
/// is not one of a version this release reads: a reader allocates no more.
pub fn declared_len(prefix: &[u8]) -> Option<u64> {
    prefix_seq(prefix)?;
    let version = u16::from_le_bytes([prefix[8], prefix[9]]);
    if !(OLDEST_VERSION..=VERSION).contains(&version) {
        return None;
    }
    let (header_len, _) = split_u32(&prefix[12..])?;
    let (body_len, _) = split_u64(&prefix[16..])?;
    (header_len <= MAX_HEADER_LEN).then(|| total_len(header_len, body_len))?
}

/// How many leading bytes hold the prefix, header and header checksum,
/// read from the prefix in `bytes`; `None` when `bytes` is shorter than the
/// prefix or the header claims more than [`MAX_HEADER_LEN`].
pub fn header_section_len(bytes: &[u8]) -> Option<usize> {
    let (header_len, _) = split_u32(bytes.get(12..PREFIX_LEN)?)?;
    (header_len <= MAX_HEADER_LEN).then(|| PREFIX_LEN + header_len as usize + 4)
}

/// The error for a version this release does not read. A newer format keeps
/// the prefix and the checksums where they are, so a version whose checksum
/// validates is a newer format; one whose checksum does not is a flipped
/// bit, which is damage.
fn unknown_version(bytes: &[u8], key_seq: u64, location: &str, version: u16) -> Error {
    let stored_and_found = |end: usize| {
        let crc = bytes.get(end..end + 4)?;
        let stored = u32::from_le_bytes(crc.try_into().ok()?);
        Some((stored, crc32c::crc32c(&bytes[..end])))
    };
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap_or([0; 4]));
    let header_end = usize::try_from(header_len)
        .ok()
        .and_then(|h| h.checked_add(PREFIX_LEN));
    let (expected, found) = header_end
        .and_then(stored_and_found)
        .unwrap_or((0, crc32c::crc32c(bytes)));
    if expected == found {
        return Error::UnsupportedVersion {
            seq: key_seq,
            location: location.to_owned(),
            found: version,
            supported: VERSION,
        };
    }
    Error::Corrupt {
        seq: key_seq,
        location: location.to_owned(),
        expected,
        found,
    }
}

/// Checks a whole checkpoint and returns its header and body.
///
/// # Errors
///
/// As [`decode_header`], plus [`Error::Truncated`] when the bytes are
/// shorter than the header says and [`Error::Corrupt`] when the checksum
/// does not match.
pub fn decode<'b>(bytes: &'b [u8], key_seq: u64, location: &str) -> Result<(Header, &'b [u8])> {
    // The whole checksum comes first: a torn or flipped header must read as
    // damage, not as a schema error. Only another version's layout is
    // reported before it, as what it is.
    if bytes.len() >= PREFIX_LEN
        && bytes[..8] == MAGIC
        && (OLDEST_VERSION..=VERSION).contains(&u16::from_le_bytes([bytes[8], bytes[9]]))
    {
        let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap_or([0; 4]));
        let body_len = u64::from_le_bytes(bytes[16..24].try_into().unwrap_or([0; 8]));
        if let Some(total) = total_len(header_len, body_len) {
            if (bytes.len() as u64) < total {
                return Err(Error::Truncated {
                    seq: key_seq,
                    location: location.to_owned(),
                    expected: total,
                    found: bytes.len() as u64,
                });
            }
            if bytes.len() as u64 == total {
                let (content, crc) = bytes.split_at(bytes.len() - 4);
                let expected = u32::from_le_bytes(crc.try_into().unwrap_or([0; 4]));
                let found = crc32c::crc32c(content);
                if expected != found {
                    return Err(Error::Corrupt {
                        seq: key_seq,
                        location: location.to_owned(),
                        expected,
                        found,
                    });
                }
            }
        }
    }
    let header = decode_header(bytes, key_seq, location)?;
    let total = header.total_len();
    if bytes.len() as u64 != total {
        return Err(Error::Malformed {
            seq: key_seq,
            location: location.to_owned(),
            reason: format!(
                "it is {} bytes long but its header says {total}",
                bytes.len()
            ),
        });
    }
    let body = &bytes[header.body_start()..bytes.len() - 4];
    Ok((header, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: Schema = Schema::new(
        "Point",
        Shape::Struct(&[
            FieldSchema::serialized("x", "i32"),
            FieldSchema::derived("norm", "f64"),
        ]),
    );

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        let start = begin(&mut out, 3, UNIX_EPOCH + Duration::new(5, 6), &SCHEMA);
        out.extend_from_slice(b"body");
        finish(&mut out, start);
        out
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let (h, body) = decode(&bytes, 3, "x").unwrap();
        assert_eq!(body, b"body");
        assert_eq!((h.seq, h.type_name.as_str()), (3, "Point"));
        assert_eq!(h.time, UNIX_EPOCH + Duration::new(5, 6));
        assert_eq!(h.schema, SchemaRecord::of(&SCHEMA));
        assert_eq!(h.total_len(), bytes.len() as u64);
    }

    #[test]
    fn every_flipped_bit_and_every_truncation_is_an_error() {
        let bytes = sample();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let err = decode(&b, 3, "x").unwrap_err();
                assert!(err.is_damage(), "{i}:{bit}: {err}");
            }
            assert!(decode(&bytes[..i], 3, "x").unwrap_err().is_damage());
        }
    }

    #[test]
    fn hostile_lengths_do_not_allocate() {
        let mut b = sample();
        b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&b, 3, "x").unwrap_err().is_damage());
        let mut b = sample();
        b[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&b, 3, "x").unwrap_err().is_damage());
    }
}
