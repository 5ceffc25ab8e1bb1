//! Field-by-field framing of a checkpoint body.
//!
//! Every serialized field is its own frame, so a restore can tell which
//! field is missing, unexpected, or fails to decode. A frame is
//! `name_len: u32 LE | name: UTF-8 | len: u64 LE | postcard bytes`
//! (see `docs/FORMAT.md`).

use serde::de::DeserializeOwned;
use serde::Serialize;

use std::borrow::Cow;

use crate::compression::{self, FrameError};
use crate::deep::record::{RecordError, RecordErrorKind, Recorder};
use crate::deep::resolve::{self, Ctx, ResolveError, ResolveKind};
use crate::deep::{DeepSchema, NodeId};
use crate::schema::{Schema, Shape};
use crate::stream::CheckpointStream;
use crate::{Compression, Error, Result};

/// Writes the serialized fields of one value, one frame each.
///
/// Generated code calls [`FieldWriter::field`] once per serialized field, in
/// declaration order (after [`FieldWriter::variant`] for an enum). A writer
/// made by a [`Checkpointer`](crate::Checkpointer) also records the writer's
/// schema of every field, down to the leaves.
#[derive(Debug)]
pub struct FieldWriter<'a> {
    buf: &'a mut Vec<u8>,
    type_name: &'static str,
    schema: Option<&'a mut DeepSchema>,
    variant: Option<&'static str>,
    compression: Compression,
    /// Reused for each compressed frame.
    scratch: Vec<u8>,
    /// Where each finished frame goes, when streaming: `buf` then holds
    /// one frame at a time.
    sink: Option<&'a mut dyn FrameSink>,
    /// The recorded schema's generation when streaming started.
    generation: u64,
}

/// Where a streaming [`FieldWriter`] sends each finished frame.
pub(crate) trait FrameSink: std::fmt::Debug {
    /// Takes one whole frame.
    fn write_frame(&mut self, frame: &[u8]) -> Result<()>;
}

impl<'a> FieldWriter<'a> {
    /// A writer appending frames of a value of `type_name` to `buf`.
    pub fn new(buf: &'a mut Vec<u8>, type_name: &'static str) -> Self {
        FieldWriter {
            buf,
            type_name,
            schema: None,
            variant: None,
            compression: Compression::none(),
            scratch: Vec::new(),
            sink: None,
            generation: 0,
        }
    }

    /// A writer that also records what it writes into `schema`.
    pub(crate) fn recording(
        buf: &'a mut Vec<u8>,
        type_name: &'static str,
        schema: &'a mut DeepSchema,
    ) -> Self {
        FieldWriter {
            buf,
            type_name,
            schema: Some(schema),
            variant: None,
            compression: Compression::none(),
            scratch: Vec::new(),
            sink: None,
            generation: 0,
        }
    }

    /// Sends each frame to `sink` once written instead of keeping it in
    /// the buffer (which must be empty).
    pub(crate) fn streaming(mut self, sink: &'a mut dyn FrameSink) -> Self {
        self.generation = self.schema.as_deref().map_or(0, DeepSchema::generation);
        self.sink = Some(sink);
        self
    }

    /// Whether frames are dropped instead of sent: the recorded schema grew
    /// while streaming, so the header already written is stale and the
    /// value will be encoded again. Its remaining fields are still encoded,
    /// to record their schema, but neither compressed nor written.
    fn discarding(&self) -> bool {
        self.sink.is_some()
            && self
                .schema
                .as_deref()
                .is_some_and(|s| s.generation() != self.generation)
    }

    /// Hands the finished frame to the sink, when streaming.
    fn frame_done(&mut self) -> Result<()> {
        if self.discarding() {
            self.buf.clear();
        } else if let Some(sink) = self.sink.as_deref_mut() {
            sink.write_frame(self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Compresses every field frame's value written from now on (the
    /// header must say so: `format::FLAG_ZSTD`).
    pub(crate) fn compressing(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Writes the variant of an enum; comes before the variant's fields.
    ///
    /// # Errors
    ///
    /// Never fails today; returns `Result` so the format can grow.
    pub fn variant(&mut self, name: &'static str) -> Result<()> {
        let len_at = self.frame_head(name);
        self.buf.extend_from_slice(name.as_bytes());
        self.patch_len(len_at);
        self.variant = Some(name);
        self.frame_done()
    }

    /// Writes one serialized field, encoding it straight into the output.
    ///
    /// # Errors
    ///
    /// [`Error::FieldEncode`] when the field's `Serialize` implementation
    /// fails; the output then holds no part of the field.
    /// [`Error::Unrestorable`] when its values write different things at
    /// one place (a field skipped for some values).
    pub fn field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<()> {
        let (start, _) = self.write(name, value)?;
        self.finish_field(name, start)
    }

    /// [`field`](Self::field), and when the field's recorded schema grew,
    /// reads the new bytes back as `T` first: a value its own type cannot
    /// read back is refused before anything is saved.
    ///
    /// # Errors
    ///
    /// As [`field`](Self::field), and [`Error::Unrestorable`] when the bytes
    /// do not read back as the same value.
    #[doc(hidden)]
    pub fn field_checked<T: Serialize + DeserializeOwned>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<()> {
        let (start, recorded) = self.write(name, value)?;
        if let Some((at, true)) = recorded {
            if let Err(e) = self.read_back::<T>(name, start, at) {
                // The frame's head: name length, name, value length.
                self.buf.truncate(start - 12 - name.len());
                return Err(e);
            }
        }
        self.finish_field(name, start)
    }

    /// Finishes the field whose value was written from `start`: compresses
    /// it when compressing (patching its frame's length), and hands the
    /// frame to the sink when streaming.
    fn finish_field(&mut self, name: &str, start: usize) -> Result<()> {
        let Some(level) = self.compression.zstd_level().filter(|_| !self.discarding()) else {
            return self.frame_done();
        };
        if let Err(reason) = compression::compress_tail(self.buf, start, level, &mut self.scratch) {
            self.buf.truncate(start - 12 - name.len());
            return Err(self.encode_error(name, reason));
        }
        self.patch_len(start - 8);
        self.frame_done()
    }

    /// Writes a frame; returns where the value starts and, with a schema,
    /// its node and whether the schema grew.
    fn write<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(usize, Option<(NodeId, bool)>)> {
        let start = self.buf.len();
        let len_at = self.frame_head(name);
        let outcome = match self.schema.as_deref_mut() {
            None => postcard::serialize_with_flavor(value, VecTail(self.buf))
                .map(|()| (len_at + 8, None))
                .map_err(|e| self.encode_error(name, e.to_string())),
            Some(schema) => {
                let at = schema.root_for(self.variant, name);
                let before = schema.generation();
                let mut out = postcard::Serializer {
                    output: VecTail(self.buf),
                };
                let recorded = value.serialize(Recorder {
                    out: &mut out,
                    schema,
                    at,
                });
                let grew = schema.generation() != before;
                recorded
                    .map(|()| (len_at + 8, Some((at, grew))))
                    .map_err(|e| self.record_error(name, e))
            }
        };
        match outcome {
            Ok(found) => {
                self.patch_len(len_at);
                Ok(found)
            }
            Err(e) => {
                self.buf.truncate(start);
                Err(e)
            }
        }
    }

    fn read_back<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
        value_start: usize,
        at: NodeId,
    ) -> Result<()> {
        let Some(schema) = self.schema.as_deref() else {
            return Ok(());
        };
        let bytes = &self.buf[value_start..];
        let cx = Ctx::new(schema);
        let again: T = match resolve::from_bytes(bytes, &cx, at) {
            Ok(v) => v,
            Err(e) => return Err(self.unreadable(name, &e)),
        };
        let mut encoded = Vec::with_capacity(bytes.len());
        let same = postcard::serialize_with_flavor(&again, VecTail(&mut encoded)).is_ok()
            && encoded == bytes;
        if same {
            return Ok(());
        }
        Err(Error::Unrestorable {
            type_name: self.type_name.to_owned(),
            path: self.path(name, ""),
            field: name.to_owned(),
            reason: "it reads back as a different value".into(),
            fix: "make its `Serialize` and `Deserialize` agree: every field written is read, \
                  every field read is written",
        })
    }

    fn path(&self, field: &str, inner: &str) -> String {
        match self.variant {
            Some(v) => format!("{}::{v}.{field}{inner}", self.type_name),
            None => format!("{}.{field}{inner}", self.type_name),
        }
    }

    fn encode_error(&self, field: &str, reason: String) -> Error {
        Error::FieldEncode {
            type_name: self.type_name.to_owned(),
            field: field.to_owned(),
            reason,
        }
    }

    fn record_error(&self, field: &str, e: RecordError) -> Error {
        let e = e.into_inner();
        let inner = e.path.to_string();
        match e.kind {
            RecordErrorKind::Encode(reason) => self.encode_error(field, reason),
            RecordErrorKind::Skipped { field: skipped, ty } => Error::Unrestorable {
                type_name: self.type_name.to_owned(),
                field: field.to_owned(),
                path: self.path(field, &format!("{inner}.{skipped}")),
                reason: format!(
                    "`{ty}` skips field `{skipped}` when writing (`skip_serializing_if`), so the \
                     checkpoint would not hold it"
                ),
                fix: "remove `skip_serializing_if` from it: a checkpoint writes every field its \
                      type reads",
            },
            RecordErrorKind::Conflict { before, now } => {
                let fields = before.starts_with("struct ") && now.starts_with("struct ");
                Error::Unrestorable {
                    type_name: self.type_name.to_owned(),
                    field: field.to_owned(),
                    path: self.path(field, &inner),
                    reason: format!("values here are written as `{before}` and as `{now}`"),
                    fix: if fields {
                        "make its `Serialize` write the same fields for every value"
                    } else {
                        "a value that is written as different types needs a self-describing \
                         format: store it as a `String` (e.g. `serde_json::to_string`) or mark \
                         the field `#[derived(from = ...)]`"
                    },
                }
            }
        }
    }

    fn unreadable(&self, field: &str, e: &ResolveError) -> Error {
        let path = self.path(field, &e.path.to_string());
        let (reason, fix) = match &e.kind {
            ResolveKind::MissingField { field: missing, ty } => (
                format!(
                    "`{}` does not write field `{missing}` that it reads (`skip_serializing`, or \
                     a hand-written `Serialize`)",
                    ty.as_deref().unwrap_or("its type")
                ),
                "make its `Serialize` write every field its `Deserialize` reads",
            ),
            ResolveKind::SelfDescribing => (e.change(), e.fix()),
            _ => (
                format!("it does not read back: {}", e.change()),
                "make its `Serialize` and `Deserialize` agree",
            ),
        };
        Error::Unrestorable {
            type_name: self.type_name.to_owned(),
            field: field.to_owned(),
            path,
            reason,
            fix,
        }
    }

    /// Writes the frame's name and a placeholder length; returns where the
    /// length goes.
    fn frame_head(&mut self, name: &str) -> usize {
        // Names are identifiers, far below u32::MAX bytes.
        self.buf
            .extend_from_slice(&(name.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(name.as_bytes());
        let len_at = self.buf.len();
        self.buf.extend_from_slice(&[0; 8]);
        len_at
    }

    fn patch_len(&mut self, len_at: usize) {
        let len = (self.buf.len() - len_at - 8) as u64;
        self.buf[len_at..len_at + 8].copy_from_slice(&len.to_le_bytes());
    }
}

/// A postcard output that appends to a borrowed `Vec`.
struct VecTail<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for VecTail<'_> {
    type Output = ();

    #[inline(always)]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        // Most writes are varints of one to ten bytes: copied in line rather
        // than through a call to `memcpy`, which costs more than the copy.
        if data.len() <= 16 {
            self.0.reserve(data.len());
            for &b in data {
                self.0.push(b);
            }
        } else {
            self.0.extend_from_slice(data);
        }
        Ok(())
    }

    #[inline(always)]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// How a field declared `#[checkpoint(was = ...)]` is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// As its current type.
    Current,
    /// As its former type.
    Was,
    /// The type names do not tell: try the current type, then the former.
    Either,
}

/// Reads the serialized fields of one value.
#[derive(Debug)]
pub struct FieldReader<'de> {
    frames: Vec<(&'de str, &'de [u8])>,
    /// Where frames come from when read from a stream instead of `frames`.
    stream: Option<Box<StreamFrames>>,
    /// How fields (`field`, or `Variant::field`) with a former type are
    /// stored.
    stored: Vec<(String, Stored)>,
    type_name: &'static str,
    seq: u64,
    location: String,
    /// The writer's schema, when the checkpoint records one.
    deep: Option<Ctx<'de>>,
    /// The type's schema, for naming field types in errors.
    current: Option<&'static Schema>,
    variant: Option<String>,
    /// Field values are compressed (format version 4, `FLAG_ZSTD`).
    compressed: bool,
}

impl<'de> FieldReader<'de> {
    /// A reader over frames written by [`FieldWriter`] for `type_name`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when a frame runs past the end of `body`.
    pub fn new(body: &'de [u8], type_name: &'static str) -> Result<Self> {
        Self::parse(body, type_name, 0, String::new())
    }

    /// A reader whose errors name checkpoint `seq` at `location`.
    pub(crate) fn parse(
        body: &'de [u8],
        type_name: &'static str,
        seq: u64,
        location: String,
    ) -> Result<Self> {
        let mut frames = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            let Some(frame) = split_frame(rest) else {
                return Err(Error::Malformed {
                    seq,
                    location,
                    reason: format!(
                        "the field frame at body offset {} runs past the end of the body",
                        body.len() - rest.len()
                    ),
                });
            };
            let (name, bytes, tail) = frame;
            frames.push((name, bytes));
            rest = tail;
        }
        Ok(FieldReader {
            frames,
            stream: None,
            stored: Vec::new(),
            type_name,
            seq,
            location,
            deep: None,
            current: None,
            variant: None,
            compressed: false,
        })
    }

    /// A reader taking frames from `stream` as fields are asked for: a
    /// frame is held only from when it is read until its field is, so
    /// fields asked for in written order hold one frame at a time.
    pub(crate) fn streaming(
        stream: CheckpointStream,
        type_name: &'static str,
        seq: u64,
        location: String,
    ) -> Self {
        FieldReader {
            frames: Vec::new(),
            stream: Some(Box::new(StreamFrames {
                stream,
                pending: Vec::new(),
            })),
            stored: Vec::new(),
            type_name,
            seq,
            location,
            deep: None,
            current: None,
            variant: None,
            compressed: false,
        }
    }

    /// Called once every stored field is read, before derived fields are
    /// built from them: a reader that streams the checkpoint reads the rest
    /// and verifies its checksum here, so derived fields are only ever
    /// built from verified bytes. Does nothing for a reader over bytes
    /// already verified.
    ///
    /// # Errors
    ///
    /// A damage error ([`Error::Corrupt`], ...) when the checkpoint is
    /// damaged.
    #[doc(hidden)]
    pub fn fields_read(&mut self) -> Result<()> {
        match &mut self.stream {
            Some(s) => {
                s.pending = Vec::new();
                s.stream.finish()
            }
            None => Ok(()),
        }
    }

    /// `error`, unless reading the rest of a streamed checkpoint finds it
    /// damaged: then the damage, which may be why `error` happened.
    pub(crate) fn damage_or(&mut self, error: Error) -> Error {
        match &mut self.stream {
            Some(s) => s.stream.damage_or(error),
            None => error,
        }
    }

    /// Reads fields through the writer's schema `deep`, as `current`.
    pub(crate) fn resolving(&mut self, deep: &'de DeepSchema, current: &'static Schema) {
        self.deep = Some(Ctx::new(deep));
        self.current = Some(current);
    }

    /// Declares that field values are compressed.
    pub(crate) fn set_compressed(&mut self, compressed: bool) {
        self.compressed = compressed;
    }

    /// Declares how fields with a former type are stored.
    pub(crate) fn set_stored(&mut self, stored: Vec<(String, Stored)>) {
        self.stored = stored;
    }

    fn stored(&self, key: &str) -> Stored {
        self.stored
            .iter()
            .find(|(k, _)| k == key)
            .map_or(Stored::Current, |(_, s)| *s)
    }

    /// Whether the checkpoint stores `field` (`Variant::field` in an enum)
    /// as the type its `#[checkpoint(was = ...)]` names, so it must be read
    /// as that type and converted.
    pub fn stored_as_was(&self, field: &str) -> bool {
        self.stored(field) == Stored::Was
    }

    /// Reads a field declared `#[checkpoint(was = O, convert = ...)]` by the
    /// first of `names` the checkpoint has: as `T`, or as `O` converted,
    /// whichever it was stored as; `None` when it has none. `key` is the
    /// field's name (`Variant::field` in an enum).
    ///
    /// # Errors
    ///
    /// [`Error::FieldDecode`] (or a schema error) when its bytes read as
    /// neither; the error is the one for `T`.
    #[doc(hidden)]
    pub fn field_or_was<T: DeserializeOwned, O: DeserializeOwned>(
        &mut self,
        names: &[&'static str],
        key: &str,
        convert: fn(O) -> T,
    ) -> Result<Option<T>> {
        match self.stored(key) {
            Stored::Current => self.field_any(names),
            Stored::Was => Ok(self.field_any::<O>(names)?.map(convert)),
            Stored::Either => {
                let Some((name, bytes)) = self.take(names)? else {
                    return Ok(None);
                };
                match self.decode::<T>(name, &bytes) {
                    Ok(v) => Ok(Some(v)),
                    Err(e) => self
                        .decode::<O>(name, &bytes)
                        .map(|o| Some(convert(o)))
                        .map_err(|_| e),
                }
            }
        }
    }

    /// Reads one serialized field by the first of `names` (its name, then
    /// its former names) the checkpoint has; `None` when it has none.
    ///
    /// # Errors
    ///
    /// [`Error::FieldDecode`] when its bytes do not decode as `T`.
    pub fn field_any<T: DeserializeOwned>(&mut self, names: &[&'static str]) -> Result<Option<T>> {
        match self.take(names)? {
            Some((name, bytes)) => self.decode(name, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The error for a field the checkpoint lacks.
    pub fn missing_field(&self, field: &str) -> Error {
        self.missing(field)
    }

    /// Reads the variant of an enum.
    ///
    /// # Errors
    ///
    /// [`Error::MissingField`] when the body holds no variant.
    pub fn variant(&mut self) -> Result<String> {
        let name = match &mut self.stream {
            Some(s) => match s.stream.next_frame()? {
                Some((_, bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
                None => return Err(self.missing("<variant>")),
            },
            None if self.frames.is_empty() => return Err(self.missing("<variant>")),
            None => String::from_utf8_lossy(self.frames.remove(0).1).into_owned(),
        };
        self.variant = Some(name.clone());
        Ok(name)
    }

    /// The error for a variant this type does not have.
    pub fn unknown_variant(&self, name: &str) -> Error {
        Error::UnknownVariant {
            seq: self.seq,
            location: self.location.clone(),
            type_name: self.type_name.to_owned(),
            variant: name.to_owned(),
        }
    }

    /// Reads one serialized field by name.
    ///
    /// # Errors
    ///
    /// [`Error::MissingField`] when the checkpoint lacks it,
    /// [`Error::FieldDecode`] when its bytes do not decode as `T`.
    pub fn field<T: DeserializeOwned>(&mut self, name: &'static str) -> Result<T> {
        self.field_opt(name)?.ok_or_else(|| self.missing(name))
    }

    /// Reads one serialized field by name, `None` when the checkpoint lacks it.
    ///
    /// # Errors
    ///
    /// [`Error::FieldDecode`] when its bytes do not decode as `T`.
    pub fn field_opt<T: DeserializeOwned>(&mut self, name: &'static str) -> Result<Option<T>> {
        self.field_any(&[name])
    }

    /// Removes the frame of the first of `names` the checkpoint has and
    /// returns its value, decompressed.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] when a compressed value's checksum does not match,
    /// [`Error::Malformed`] when it does not decompress.
    fn take(&mut self, names: &[&'static str]) -> Result<Option<Taken<'de>>> {
        let found = match &mut self.stream {
            Some(s) => s.take(names)?.map(|(n, v)| (n, Cow::Owned(v))),
            None => names.iter().find_map(|name| {
                let at = self.frames.iter().position(|(n, _)| n == name)?;
                let (_, bytes) = self.frames.swap_remove(at);
                Some((*name, Cow::Borrowed(bytes)))
            }),
        };
        let Some((name, bytes)) = found else {
            return Ok(None);
        };
        if !self.compressed {
            return Ok(Some((name, bytes)));
        }
        let raw = match bytes {
            Cow::Borrowed(b) => compression::decompress(b),
            Cow::Owned(b) => compression::decompress_owned(b),
        };
        match raw {
            Ok(raw) => Ok(Some((name, raw))),
            Err(FrameError::Corrupt { expected, found }) => Err(Error::Corrupt {
                seq: self.seq,
                location: self.location.clone(),
                expected,
                found,
            }),
            Err(FrameError::Malformed(reason)) => Err(Error::Malformed {
                seq: self.seq,
                location: self.location.clone(),
                reason: format!("field `{name}`: {reason}"),
            }),
            Err(FrameError::Unavailable) => Err(Error::CompressionUnavailable {
                seq: self.seq,
                location: self.location.clone(),
            }),
        }
    }

    fn decode<T: DeserializeOwned>(&self, name: &str, bytes: &[u8]) -> Result<T> {
        if let Some(cx) = &self.deep {
            let root = match &self.variant {
                None => cx.schema.root(name),
                Some(v) => cx.schema.root(&format!("{v}::{name}")),
            };
            if let Some(at) = root {
                return resolve::from_bytes(bytes, cx, at).map_err(|e| self.resolve_error(name, e));
            }
        }
        match postcard::take_from_bytes(bytes) {
            Ok((value, [])) => Ok(value),
            Ok((_, rest)) => Err(self.decode_error(
                name,
                format!("{} bytes are left over after the value", rest.len()),
            )),
            Err(e) => Err(self.decode_error(name, e.to_string())),
        }
    }

    fn decode_error(&self, field: &str, reason: String) -> Error {
        Error::FieldDecode {
            seq: self.seq,
            location: self.location.clone(),
            type_name: self.type_name.to_owned(),
            field: field.to_owned(),
            reason,
        }
    }

    fn resolve_error(&self, field: &str, e: ResolveError) -> Error {
        let key = match &self.variant {
            None => field.to_owned(),
            Some(v) => format!("{v}::{field}"),
        };
        let inner = e.path.to_string();
        let path = match &self.variant {
            None => format!("{}.{field}{inner}", self.type_name),
            Some(v) => format!("{}::{v}.{field}{inner}", self.type_name),
        };
        if e.is_type_change() {
            if let (true, Some(expected)) = (inner.is_empty(), self.current_type(&key)) {
                let ResolveKind::TypeChanged { from, .. } = &e.kind else {
                    unreachable!("a type change")
                };
                return Error::FieldTypeChanged {
                    seq: self.seq,
                    location: self.location.clone(),
                    type_name: self.type_name.to_owned(),
                    field: key,
                    expected,
                    found: from.clone(),
                };
            }
            return Error::NestedTypeChanged {
                seq: self.seq,
                location: self.location.clone(),
                type_name: self.type_name.to_owned(),
                field: key,
                change: format!("`{path}`: {}", e.change()),
            };
        }
        Error::NestedChange {
            seq: self.seq,
            location: self.location.clone(),
            path,
            change: e.change(),
            fix: e.fix(),
        }
    }

    /// The current type of field `key` as written in the source.
    fn current_type(&self, key: &str) -> Option<&'static str> {
        let schema = self.current?;
        let (variant, field) = match key.split_once("::") {
            Some((v, f)) => (Some(v), f),
            None => (None, key),
        };
        let fields = match (schema.shape, variant) {
            (Shape::Struct(fs) | Shape::Tuple(fs), None) => fs,
            (Shape::Enum(vs), Some(v)) => vs.iter().find(|x| x.name == v)?.shape.fields(),
            _ => return None,
        };
        fields.iter().find(|f| f.name == field).map(|f| f.ty)
    }

    fn missing(&self, field: &str) -> Error {
        Error::MissingField {
            seq: self.seq,
            location: self.location.clone(),
            type_name: self.type_name.to_owned(),
            field: field.to_owned(),
        }
    }
}

/// The frames of a checkpoint being streamed.
#[derive(Debug)]
struct StreamFrames {
    stream: CheckpointStream,
    /// Frames read past on the way to one asked for, in written order.
    pending: Vec<(String, Vec<u8>)>,
}

impl StreamFrames {
    /// The value of the first of `names` held or met next; `None` when the
    /// body ends without one.
    fn take(&mut self, names: &[&'static str]) -> Result<Option<(&'static str, Vec<u8>)>> {
        for name in names {
            if let Some(at) = self.pending.iter().position(|(n, _)| n == name) {
                return Ok(Some((name, self.pending.remove(at).1)));
            }
        }
        while let Some((found, value)) = self.stream.next_frame()? {
            if let Some(name) = names.iter().find(|n| **n == found) {
                return Ok(Some((name, value)));
            }
            self.pending.push((found, value));
        }
        Ok(None)
    }
}

/// A field's name and its value, decompressed when stored compressed.
type Taken<'de> = (&'static str, Cow<'de, [u8]>);

/// Splits one frame off `bytes`: its name, its value bytes, the rest.
/// `None` when a length runs past the end or the name is not UTF-8.
pub(crate) fn split_frame(bytes: &[u8]) -> Option<(&str, &[u8], &[u8])> {
    let (len, tail) = split_u32(bytes)?;
    let (name, tail) = split_at(tail, usize::try_from(len).ok()?)?;
    let name = core::str::from_utf8(name).ok()?;
    let (len, tail) = split_u64(tail)?;
    let (value, tail) = split_at(tail, usize::try_from(len).ok()?)?;
    Some((name, value, tail))
}

fn split_at(bytes: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (bytes.len() >= n).then(|| bytes.split_at(n))
}

pub(crate) fn split_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, tail) = split_at(bytes, 4)?;
    Some((u32::from_le_bytes(head.try_into().ok()?), tail))
}

pub(crate) fn split_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, tail) = split_at(bytes, 8)?;
    Some((u64::from_le_bytes(head.try_into().ok()?), tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_by_name_in_any_order() {
        let mut buf = Vec::new();
        let mut w = FieldWriter::new(&mut buf, "T");
        w.field("a", &7u64).unwrap();
        w.field("b", "hello").unwrap();
        let mut r = FieldReader::new(&buf, "T").unwrap();
        assert_eq!(r.field::<String>("b").unwrap(), "hello");
        assert_eq!(r.field::<u64>("a").unwrap(), 7);
        assert!(
            matches!(r.field::<u64>("c"), Err(Error::MissingField { field, .. }) if field == "c")
        );
    }

    #[test]
    fn hostile_lengths_are_errors_not_allocations() {
        let mut body = Vec::new();
        body.extend_from_slice(&1u32.to_le_bytes());
        body.push(b'a');
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            FieldReader::new(&body, "T"),
            Err(Error::Malformed { .. })
        ));
        let body = u32::MAX.to_le_bytes();
        assert!(matches!(
            FieldReader::new(&body, "T"),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn a_field_of_another_type_names_the_field() {
        let mut buf = Vec::new();
        FieldWriter::new(&mut buf, "T").field("a", &300u64).unwrap();
        let mut r = FieldReader::new(&buf, "T").unwrap();
        let err = r.field::<bool>("a").unwrap_err();
        assert!(
            matches!(err, Error::FieldDecode { ref field, .. } if field == "a"),
            "{err}"
        );
    }
}
