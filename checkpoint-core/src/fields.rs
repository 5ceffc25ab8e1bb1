//! Field-by-field framing of a checkpoint body.
//!
//! Every serialized field is its own frame, so a restore can tell which
//! field is missing, unexpected, or fails to decode.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, Result};

/// Writes the serialized fields of one value, one frame each.
///
/// Generated code calls [`FieldWriter::field`] once per serialized field, in
/// declaration order (after [`FieldWriter::variant`] for an enum).
#[derive(Debug)]
pub struct FieldWriter<'a> {
    buf: &'a mut Vec<u8>,
    type_name: &'static str,
}

impl<'a> FieldWriter<'a> {
    /// A writer appending frames of a value of `type_name` to `buf`.
    pub fn new(buf: &'a mut Vec<u8>, type_name: &'static str) -> Self {
        FieldWriter { buf, type_name }
    }

    /// Writes the variant of an enum; comes before the variant's fields.
    ///
    /// # Errors
    ///
    /// Never fails today; returns `Result` so the format can grow.
    pub fn variant(&mut self, name: &'static str) -> Result<()> {
        self.frame(name, name.as_bytes());
        Ok(())
    }

    /// Writes one serialized field.
    ///
    /// # Errors
    ///
    /// [`Error::FieldEncode`] when the field's `Serialize` implementation fails.
    pub fn field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<()> {
        let bytes = postcard::to_allocvec(value).map_err(|e| Error::FieldEncode {
            type_name: self.type_name.to_owned(),
            field: name.to_owned(),
            reason: e.to_string(),
        })?;
        self.frame(name, &bytes);
        Ok(())
    }

    fn frame(&mut self, name: &str, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&(name.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(name.as_bytes());
        self.buf
            .extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.buf.extend_from_slice(bytes);
    }
}

/// Reads the serialized fields of one value.
#[derive(Debug)]
pub struct FieldReader<'de> {
    frames: Vec<(&'de str, &'de [u8])>,
    type_name: &'static str,
}

impl<'de> FieldReader<'de> {
    /// A reader over frames written by [`FieldWriter`] for `type_name`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when a frame runs past the end of `body`.
    pub fn new(body: &'de [u8], type_name: &'static str) -> Result<Self> {
        let truncated = || Error::Truncated {
            type_name: type_name.to_owned(),
        };
        let mut frames = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            let (len, tail) = split_u32(rest).ok_or_else(truncated)?;
            let (name, tail) = split_at(tail, len as usize).ok_or_else(truncated)?;
            let name = core::str::from_utf8(name).map_err(|_| truncated())?;
            let (len, tail) = split_u64(tail).ok_or_else(truncated)?;
            let len = usize::try_from(len).map_err(|_| truncated())?;
            let (bytes, tail) = split_at(tail, len).ok_or_else(truncated)?;
            frames.push((name, bytes));
            rest = tail;
        }
        Ok(FieldReader { frames, type_name })
    }

    /// Reads the variant of an enum.
    ///
    /// # Errors
    ///
    /// [`Error::MissingField`] when the body holds no variant.
    pub fn variant(&mut self) -> Result<String> {
        if self.frames.is_empty() {
            return Err(self.missing("<variant>"));
        }
        let (_, bytes) = self.frames.remove(0);
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    /// The error for a variant this type does not have.
    pub fn unknown_variant(&self, name: &str) -> Error {
        Error::UnknownVariant {
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
        let Some(at) = self.frames.iter().position(|(n, _)| *n == name) else {
            return Ok(None);
        };
        let (_, bytes) = self.frames.remove(at);
        let decode_error = |reason: String| Error::FieldDecode {
            type_name: self.type_name.to_owned(),
            field: name.to_owned(),
            reason,
        };
        match postcard::take_from_bytes(bytes) {
            Ok((value, [])) => Ok(Some(value)),
            Ok((_, rest)) => Err(decode_error(format!("{} bytes left over", rest.len()))),
            Err(e) => Err(decode_error(e.to_string())),
        }
    }

    fn missing(&self, field: &str) -> Error {
        Error::MissingField {
            type_name: self.type_name.to_owned(),
            field: field.to_owned(),
        }
    }
}

fn split_at(bytes: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (bytes.len() >= n).then(|| bytes.split_at(n))
}

fn split_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, tail) = split_at(bytes, 4)?;
    Some((u32::from_le_bytes(head.try_into().ok()?), tail))
}

fn split_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, tail) = split_at(bytes, 8)?;
    Some((u64::from_le_bytes(head.try_into().ok()?), tail))
}
