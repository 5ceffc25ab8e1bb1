//! Field-by-field framing of a checkpoint body.
//!
//! Every serialized field is its own frame, so a restore can tell which
//! field is missing, unexpected, or fails to decode. A frame is
//! `name_len: u32 LE | name: UTF-8 | len: u64 LE | postcard bytes`
//! (see `docs/FORMAT.md`).

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
        let len_at = self.frame_head(name);
        self.buf.extend_from_slice(name.as_bytes());
        self.patch_len(len_at);
        Ok(())
    }

    /// Writes one serialized field, encoding it straight into the output.
    ///
    /// # Errors
    ///
    /// [`Error::FieldEncode`] when the field's `Serialize` implementation
    /// fails; the output then holds no part of the field.
    pub fn field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<()> {
        let start = self.buf.len();
        let len_at = self.frame_head(name);
        if let Err(e) = postcard::serialize_with_flavor(value, VecTail(self.buf)) {
            self.buf.truncate(start);
            return Err(Error::FieldEncode {
                type_name: self.type_name.to_owned(),
                field: name.to_owned(),
                reason: e.to_string(),
            });
        }
        self.patch_len(len_at);
        Ok(())
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
        self.0.extend_from_slice(data);
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

/// Reads the serialized fields of one value.
#[derive(Debug)]
pub struct FieldReader<'de> {
    frames: Vec<(&'de str, &'de [u8])>,
    /// Fields (`field`, or `Variant::field`) the checkpoint stores as their
    /// `#[checkpoint(was = ...)]` type.
    stored_as_was: Vec<String>,
    type_name: &'static str,
    seq: u64,
    location: String,
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
            stored_as_was: Vec::new(),
            type_name,
            seq,
            location,
        })
    }

    /// Declares the fields the checkpoint stores as their former type.
    pub(crate) fn set_stored_as_was(&mut self, fields: Vec<String>) {
        self.stored_as_was = fields;
    }

    /// Whether the checkpoint stores `field` (`Variant::field` in an enum)
    /// as the type its `#[checkpoint(was = ...)]` names, so it must be read
    /// as that type and converted.
    pub fn stored_as_was(&self, field: &str) -> bool {
        self.stored_as_was.iter().any(|f| f == field)
    }

    /// Reads a field declared `#[checkpoint(was = O, convert = ...)]` by the
    /// first of `names` the checkpoint has: as `T`, or as `O` converted,
    /// whichever it was stored as; `None` when it has none. `key` is the
    /// field's name (`Variant::field` in an enum).
    ///
    /// # Errors
    ///
    /// [`Error::FieldDecode`] when its bytes do not decode as the type it
    /// was stored as.
    #[doc(hidden)]
    pub fn field_or_was<T: DeserializeOwned, O: DeserializeOwned>(
        &mut self,
        names: &[&'static str],
        key: &str,
        convert: fn(O) -> T,
    ) -> Result<Option<T>> {
        if self.stored_as_was(key) {
            Ok(self.field_any::<O>(names)?.map(convert))
        } else {
            self.field_any(names)
        }
    }

    /// Reads one serialized field by the first of `names` (its name, then
    /// its former names) the checkpoint has; `None` when it has none.
    ///
    /// # Errors
    ///
    /// [`Error::FieldDecode`] when its bytes do not decode as `T`.
    pub fn field_any<T: DeserializeOwned>(&mut self, names: &[&'static str]) -> Result<Option<T>> {
        for name in names {
            if let Some(value) = self.field_opt(name)? {
                return Ok(Some(value));
            }
        }
        Ok(None)
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
        if self.frames.is_empty() {
            return Err(self.missing("<variant>"));
        }
        let (_, bytes) = self.frames.remove(0);
        Ok(String::from_utf8_lossy(bytes).into_owned())
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
        let Some(at) = self.frames.iter().position(|(n, _)| *n == name) else {
            return Ok(None);
        };
        let (_, bytes) = self.frames.swap_remove(at);
        let decode_error = |reason: String| Error::FieldDecode {
            seq: self.seq,
            location: self.location.clone(),
            type_name: self.type_name.to_owned(),
            field: name.to_owned(),
            reason,
        };
        match postcard::take_from_bytes(bytes) {
            Ok((value, [])) => Ok(Some(value)),
            Ok((_, rest)) => Err(decode_error(format!(
                "{} bytes are left over after the value",
                rest.len()
            ))),
            Err(e) => Err(decode_error(e.to_string())),
        }
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
