//! Reading a value's fields back, by name, from a body in memory or from
//! a checkpoint being streamed.

use std::borrow::Cow;

use serde::de::DeserializeOwned;

use crate::compression::{self, FrameError};
use crate::deep::resolve::{self, Ctx, ResolveError, ResolveKind};
use crate::deep::DeepSchema;
use crate::format::{Body, Frame, FrameSource};
use crate::schema::{Schema, Shape};
use crate::stream::CheckpointStream;
use crate::{Error, Result};

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
    /// Frames read and not yet asked for: all of a body in memory, or
    /// those a streamed checkpoint has read past on the way to one asked
    /// for.
    frames: Vec<Frame<'de>>,
    /// Where further frames come from when the checkpoint is streamed.
    stream: Option<Box<CheckpointStream>>,
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
    /// A reader over frames written by [`FieldWriter`](crate::FieldWriter) for `type_name`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when a frame runs past the end of `body`.
    pub fn new(body: &'de [u8], type_name: &'static str) -> Result<Self> {
        Self::parse(body, type_name, 0, String::new(), None)
    }

    /// A reader whose errors name checkpoint `seq` at `location`, of a
    /// body of at most `most_frames` frames when given.
    pub(crate) fn parse(
        body: &'de [u8],
        type_name: &'static str,
        seq: u64,
        location: String,
        most_frames: Option<usize>,
    ) -> Result<Self> {
        let mut frames = Vec::new();
        let mut body = Body::new(body, seq, &location).at_most(most_frames);
        while let Some(frame) = body.next_frame()? {
            frames.push(frame);
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
            stream: Some(Box::new(stream)),
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
            Some(stream) => {
                self.frames = Vec::new();
                stream.finish()
            }
            None => Ok(()),
        }
    }

    /// `error`, unless reading the rest of a streamed checkpoint finds it
    /// damaged: then the damage, which may be why `error` happened.
    pub(crate) fn damage_or(&mut self, error: Error) -> Error {
        match &mut self.stream {
            Some(stream) => stream.damage_or(error),
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
        // The variant's frame comes first, before any field is asked for.
        let first = match self.stream.as_deref_mut() {
            Some(stream) => stream.next_frame()?,
            None if self.frames.is_empty() => None,
            None => Some(self.frames.remove(0)),
        };
        let Some((_, bytes)) = first else {
            return Err(self.missing("<variant>"));
        };
        let name = String::from_utf8_lossy(&bytes).into_owned();
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
        let Some((name, bytes)) = self.take_frame(names)? else {
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

    /// Removes the frame of the first of `names` the checkpoint has: one
    /// already read, else the next one of them a stream holds. A frame is
    /// held only from when it is read until its field is asked for, so
    /// fields asked for in written order hold one frame at a time.
    fn take_frame(&mut self, names: &[&'static str]) -> Result<Option<Taken<'de>>> {
        for name in names {
            if let Some(at) = self.frames.iter().position(|(n, _)| n == name) {
                return Ok(Some((name, self.frames.swap_remove(at).1)));
            }
        }
        let Some(stream) = self.stream.as_deref_mut() else {
            return Ok(None);
        };
        while let Some((found, value)) = stream.next_frame()? {
            if let Some(name) = names.iter().find(|n| **n == found) {
                return Ok(Some((name, value)));
            }
            self.frames.push((found, value));
        }
        Ok(None)
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
        let e = e.into_failure();
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

/// A field's name and its value, decompressed when stored compressed.
type Taken<'de> = (&'static str, Cow<'de, [u8]>);
