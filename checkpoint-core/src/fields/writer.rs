//! Writing a value's fields, one frame each.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::compression;
use crate::deep::record::{RecordError, RecordErrorKind, Recorder};
use crate::deep::resolve::{self, Ctx, ResolveFailure, ResolveKind};
use crate::deep::{DeepSchema, NodeId};
use crate::format;
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
    /// How many more frames the type's schema allows.
    frames_left: usize,
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
            frames_left: usize::MAX,
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
            frames_left: usize::MAX,
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

    /// Refuses frames past the `most` a value of the type writes (its
    /// schema's stored fields, and an enum's variant): a restore would
    /// refuse the checkpoint as malformed.
    pub(crate) fn at_most(mut self, most: usize) -> Self {
        self.frames_left = most;
        self
    }

    /// Counts the frame of `name` about to be written.
    fn frame_begins(&mut self, name: &str) -> Result<()> {
        match self.frames_left.checked_sub(1) {
            Some(left) => {
                self.frames_left = left;
                Ok(())
            }
            None => Err(self.one_frame_too_many(name)),
        }
    }

    #[cold]
    fn one_frame_too_many(&self, name: &str) -> Error {
        Error::Unrestorable {
            type_name: self.type_name.to_owned(),
            field: name.to_owned(),
            path: format!("{}.{name}", self.type_name),
            reason: "it is one field frame more than the type's `SCHEMA` lists stored \
                     fields, which a restore refuses as malformed"
                .to_owned(),
            fix: "have `write_fields` write each stored field its `SCHEMA` lists, once, \
                  as `#[derive(Checkpoint)]` does",
        }
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
    /// [`Error::Unrestorable`] when, on a save, it is a frame more than
    /// the type's `SCHEMA` allows.
    pub fn variant(&mut self, name: &'static str) -> Result<()> {
        self.frame_begins(name)?;
        let len_at = format::begin_frame(self.buf, name);
        self.buf.extend_from_slice(name.as_bytes());
        format::end_frame(self.buf, len_at);
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
    /// one place (a field skipped for some values), or when, on a save, it
    /// is a frame more than the type's `SCHEMA` lists stored fields.
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
        format::end_frame(self.buf, start - 8);
        self.frame_done()
    }

    /// Writes a frame; returns where the value starts and, with a schema,
    /// its node and whether the schema grew.
    fn write<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(usize, Option<(NodeId, bool)>)> {
        self.frame_begins(name)?;
        let start = self.buf.len();
        let len_at = format::begin_frame(self.buf, name);
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
                format::end_frame(self.buf, len_at);
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
            Err(e) => return Err(self.unreadable(name, &e.into_failure())),
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

    fn unreadable(&self, field: &str, e: &ResolveFailure) -> Error {
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
