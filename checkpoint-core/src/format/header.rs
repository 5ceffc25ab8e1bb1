//! The header: what a checkpoint holds, readable without its body.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::prefix::{split_u32, split_u64, total_len, Prefix};
use super::v2::from_field_shapes;
use super::v2::V2Type;
use super::{FLAG_ZSTD, MAGIC, MAX_HEADER_LEN, VERSION};
use crate::deep::DeepSchema;
use crate::format::v2::{decode_field_shapes, V2FieldTypes};
use crate::schema::{FieldSchema, Schema, Shape};
use crate::{Error, Result};

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

impl ShapeRecord {
    /// What the shape is, in words: "a struct", "an enum", ...
    pub fn describe(&self) -> &'static str {
        match self {
            ShapeRecord::Struct(_) => "a struct",
            ShapeRecord::Tuple(_) => "a tuple struct",
            ShapeRecord::Unit => "a unit struct",
            ShapeRecord::Enum(_) => "an enum",
        }
    }
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
    /// The most field frames a body written with this schema holds: one
    /// per stored field, and an enum's variant frame. A body with more is
    /// malformed, and a reader never needs to hold more.
    pub(crate) fn most_frames(&self) -> usize {
        let stored = |f: &[FieldRecord]| f.iter().filter(|f| !f.derived).count();
        match &self.shape {
            ShapeRecord::Struct(f) | ShapeRecord::Tuple(f) => stored(f),
            ShapeRecord::Unit => 0,
            ShapeRecord::Enum(vs) => 1 + vs.iter().map(|v| stored(&v.fields)).max().unwrap_or(0),
        }
    }

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
    pub field_shapes: Vec<(String, V2Type)>,
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

    /// Where the body starts: after the prefix, the header and its
    /// checksum.
    pub fn body_start(&self) -> usize {
        Prefix::LEN + self.header_len as usize + 4
    }
}

/// The header after the time: type name, schema record, writer's schema.
pub(crate) fn schema_tail(schema: &Schema, deep: &DeepSchema) -> Vec<u8> {
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
    let Some(prefix) = Prefix::read(bytes) else {
        return Err(truncated(0));
    };
    if !prefix.known() {
        return Err(unknown_version(bytes, &prefix, key_seq, location));
    }
    let Prefix {
        version,
        header_len,
        body_len,
        seq,
        ..
    } = prefix;
    if !prefix.header_len_allowed() {
        return Err(malformed(format!(
            "its header claims {header_len} bytes, more than the {MAX_HEADER_LEN} allowed"
        )));
    }
    let Some(total) = prefix.total_len() else {
        return Err(malformed(format!("its body claims {body_len} bytes")));
    };
    let header_end = prefix.header_end();
    let Some((stored, _)) = bytes.get(header_end..).and_then(split_u32) else {
        return Err(truncated(total));
    };
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
        _ => prefix.flags,
    };
    if flags & !FLAG_ZSTD != 0 {
        return Err(malformed(format!(
            "its flags {flags:#06x} include ones this format version does not define"
        )));
    }
    let header = &bytes[Prefix::LEN..header_end];
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
        1 => (V2FieldTypes::new(), DeepSchema::default(), rest),
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
            (V2FieldTypes::new(), deep, rest)
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

/// The error for a version this release does not read. A newer format keeps
/// the prefix and the checksums where they are, so a version whose checksum
/// validates is a newer format; one whose checksum does not is a flipped
/// bit, which is damage.
fn unknown_version(bytes: &[u8], prefix: &Prefix, key_seq: u64, location: &str) -> Error {
    let stored_and_found = |end: usize| {
        let crc = bytes.get(end..end + 4)?;
        let stored = u32::from_le_bytes(crc.try_into().ok()?);
        Some((stored, crc32c::crc32c(&bytes[..end])))
    };
    let header_end = usize::try_from(prefix.header_len)
        .ok()
        .and_then(|h| h.checked_add(Prefix::LEN));
    let (expected, found) = header_end
        .and_then(stored_and_found)
        .unwrap_or((0, crc32c::crc32c(bytes)));
    if expected == found {
        return Error::UnsupportedVersion {
            seq: key_seq,
            location: location.to_owned(),
            found: prefix.version,
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
