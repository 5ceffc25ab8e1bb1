//! What `checkpoint inspect` reports.

use std::io::{self, Write};

use checkpoint_core::format::{FieldRecord, SchemaRecord, ShapeRecord, MAGIC};
use checkpoint_core::inspect::{Frame, Inspection};
use serde::Serialize;

use crate::time;

/// `inspect --json`.
#[derive(Debug, Serialize)]
pub struct InspectReport {
    file: String,
    seq: u64,
    size: u64,
    status: &'static str,
    problem: Option<String>,
    header: Option<HeaderReport>,
    schema: Option<SchemaReport>,
    variant: Option<String>,
    frames: Vec<FrameReport>,
    /// For an incremental checkpoint (a manifest of chunks); `None` otherwise.
    incremental: Option<IncrementalReport>,
}

/// The chunks of an incremental checkpoint.
#[derive(Debug, Serialize)]
struct IncrementalReport {
    chunks: usize,
    manifest_len: u64,
    /// The manifest's format version.
    manifest_version: u16,
    /// Bytes of its distinct chunks plus its manifest.
    stored: u64,
    /// The checkpoint before it, when that one is incremental too.
    previous: Option<u64>,
    /// How many of its distinct chunks the previous checkpoint lists too.
    shared_with_previous: Option<usize>,
    /// Bytes of its chunks the previous checkpoint does not list.
    new_bytes: Option<u64>,
    damaged_chunks: Vec<DamagedChunkReport>,
}

#[derive(Debug, Serialize)]
struct DamagedChunkReport {
    chunk: String,
    reason: String,
}

#[derive(Debug, Serialize)]
struct HeaderReport {
    magic: String,
    version: u16,
    seq: u64,
    time: String,
    #[serde(rename = "type")]
    type_name: String,
    header_len: u32,
    body_len: u64,
    /// `none` or `zstd`.
    compression: &'static str,
}

#[derive(Debug, Serialize)]
struct SchemaReport {
    name: String,
    /// `struct`, `tuple`, `unit` or `enum`.
    shape: &'static str,
    fields: Vec<FieldReport>,
    variants: Vec<VariantReport>,
    removed: Vec<String>,
}

#[derive(Debug, Serialize)]
struct VariantReport {
    name: String,
    /// `struct`, `tuple` or `unit`.
    kind: &'static str,
    fields: Vec<FieldReport>,
}

#[derive(Debug, Serialize)]
struct FieldReport {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    derived: bool,
    aliases: Vec<String>,
    has_default: bool,
    /// Bytes of the field's encoded value; `None` when the body has no
    /// frame for it (derived, another variant, or damage). Compressed
    /// when the checkpoint is.
    frame_len: Option<u64>,
    /// Bytes of the field's encoded value before compression, when the
    /// checkpoint is compressed.
    raw_len: Option<u64>,
    /// The writer's schema of the field's type on one line (format
    /// versions 2 and 3).
    shape: Option<String>,
    /// The writer's schema as an indented tree, one line per nested field,
    /// variant, element and leaf (format versions 2 and 3).
    shape_tree: Option<String>,
}

#[derive(Debug, Serialize)]
struct FrameReport {
    name: String,
    offset: u64,
    len: u64,
    raw_len: Option<u64>,
}

impl InspectReport {
    pub fn of(inspection: &Inspection) -> Self {
        let header = inspection.header.as_ref();
        InspectReport {
            file: inspection.location.clone(),
            seq: inspection.seq,
            size: inspection.len,
            status: inspection.status().as_str(),
            problem: inspection.problem.as_ref().map(ToString::to_string),
            header: header.map(|h| HeaderReport {
                magic: MAGIC.iter().map(|b| format!("{b:02x}")).collect(),
                version: h.version,
                seq: h.seq,
                time: time::rfc3339(h.time),
                type_name: h.type_name.clone(),
                header_len: h.header_len,
                body_len: h.body_len,
                compression: if h.compressed() { "zstd" } else { "none" },
            }),
            schema: header.map(|h| schema_report(&h.schema, inspection)),
            variant: inspection.variant.clone(),
            frames: inspection
                .frames
                .iter()
                .map(
                    |Frame {
                         name,
                         offset,
                         len,
                         raw_len,
                         ..
                     }| FrameReport {
                        name: name.clone(),
                        offset: *offset,
                        len: *len,
                        raw_len: *raw_len,
                    },
                )
                .collect(),
            incremental: inspection.chunks.as_ref().map(|c| IncrementalReport {
                chunks: c.chunks.len(),
                manifest_len: c.manifest_len,
                manifest_version: c.manifest_version,
                stored: c.stored_len(),
                previous: None,
                shared_with_previous: None,
                new_bytes: None,
                damaged_chunks: c
                    .damaged
                    .iter()
                    .map(|d| DamagedChunkReport {
                        chunk: d.location.clone(),
                        reason: d.reason.clone(),
                    })
                    .collect(),
            }),
        }
    }

    /// Adds what this checkpoint shares with `previous`, the one before it.
    pub fn with_previous(mut self, current: &Inspection, previous: &Inspection) -> Self {
        if let (Some(report), Some(chunks), Some(theirs)) = (
            self.incremental.as_mut(),
            current.chunks.as_ref(),
            previous.chunks.as_ref(),
        ) {
            report.previous = Some(previous.seq);
            report.shared_with_previous = Some(chunks.shared_with(theirs));
            report.new_bytes = Some(chunks.bytes_not_in(theirs));
        }
        self
    }

    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "file      {}", self.file)?;
        let Some(h) = &self.header else {
            writeln!(out, "size      {} bytes", self.size)?;
            writeln!(out, "status    {}", self.status)?;
            if let Some(problem) = &self.problem {
                writeln!(out, "problem   {problem}")?;
            }
            return writeln!(out, "header    unreadable");
        };
        writeln!(out, "magic     {} (ok)", spaced_hex(&h.magic))?;
        match &self.incremental {
            Some(inc) => writeln!(
                out,
                "version   {} (stored as chunks: a version {} manifest)",
                h.version, inc.manifest_version
            )?,
            None => writeln!(out, "version   {}", h.version)?,
        }
        writeln!(out, "seq       {}", h.seq)?;
        writeln!(out, "time      {}", h.time)?;
        writeln!(out, "type      {}", h.type_name)?;
        writeln!(
            out,
            "size      {} bytes (header {}, body {})",
            self.size, h.header_len, h.body_len
        )?;
        if h.compression != "none" {
            let stored: u64 = self
                .frames
                .iter()
                .filter_map(|f| f.raw_len.map(|_| f.len))
                .sum();
            let raw: u64 = self.frames.iter().filter_map(|f| f.raw_len).sum();
            writeln!(
                out,
                "compress  {}: field values {stored} bytes stored, {raw} uncompressed",
                h.compression
            )?;
        }
        if let Some(inc) = &self.incremental {
            write!(
                out,
                "chunks    incremental, {} chunks, {} bytes stored (manifest {})",
                inc.chunks, inc.stored, inc.manifest_len
            )?;
            match (inc.previous, inc.shared_with_previous, inc.new_bytes) {
                (Some(prev), Some(shared), Some(new)) => {
                    writeln!(out, "; {shared} shared with #{prev}, {new} bytes new")?
                }
                _ => writeln!(out)?,
            }
            for d in &inc.damaged_chunks {
                writeln!(out, "damaged   chunk {} {}", d.chunk, d.reason)?;
            }
        }
        match &self.problem {
            None => writeln!(out, "checksum  ok")?,
            Some(problem) => {
                match self.status {
                    "corrupt" => writeln!(out, "checksum  mismatch (corrupt)")?,
                    status => writeln!(out, "status    {status}")?,
                }
                writeln!(out, "problem   {problem}")?;
                writeln!(
                    out,
                    "frames    unverified: sizes below are read up to the damage"
                )?;
            }
        }
        if let Some(schema) = &self.schema {
            schema.write(out, self.variant.as_deref())?;
        }
        Ok(())
    }
}

fn spaced_hex(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn schema_report(schema: &SchemaRecord, inspection: &Inspection) -> SchemaReport {
    let frame_len = |name: &str| inspection.frame(name).map(|f| f.len);
    let raw_len = |name: &str| inspection.frame(name).and_then(|f| f.raw_len);
    let deep = inspection.header.as_ref().map(|h| &h.deep);
    let shape = |name: &str| deep.and_then(|d| Some((d, d.root(name)?)));
    let fields = |prefix: &str, fields: &[FieldRecord], frames: bool| -> Vec<FieldReport> {
        fields
            .iter()
            .map(|f| FieldReport {
                shape: shape(&format!("{prefix}{}", f.name)).map(|(d, id)| d.type_name(id)),
                shape_tree: shape(&format!("{prefix}{}", f.name)).map(|(d, id)| d.field_tree(id)),
                name: f.name.clone(),
                ty: f.ty.clone(),
                derived: f.derived,
                aliases: f.aliases.clone(),
                has_default: f.has_default,
                frame_len: (frames && !f.derived).then(|| frame_len(&f.name)).flatten(),
                raw_len: (frames && !f.derived).then(|| raw_len(&f.name)).flatten(),
            })
            .collect()
    };
    let (shape, top, variants) = match &schema.shape {
        ShapeRecord::Struct(f) => ("struct", fields("", f, true), Vec::new()),
        ShapeRecord::Tuple(f) => ("tuple", fields("", f, true), Vec::new()),
        ShapeRecord::Unit => ("unit", Vec::new(), Vec::new()),
        ShapeRecord::Enum(vs) => (
            "enum",
            Vec::new(),
            vs.iter()
                .map(|v| VariantReport {
                    name: v.name.clone(),
                    kind: match v.kind {
                        0 => "struct",
                        1 => "tuple",
                        _ => "unit",
                    },
                    fields: fields(
                        &format!("{}::", v.name),
                        &v.fields,
                        inspection.variant.as_deref() == Some(&v.name),
                    ),
                })
                .collect(),
        ),
    };
    SchemaReport {
        name: schema.name.clone(),
        shape,
        fields: top,
        variants,
        removed: schema.removed.clone(),
    }
}

impl SchemaReport {
    fn write(&self, out: &mut impl Write, held: Option<&str>) -> io::Result<()> {
        match held {
            Some(v) if self.shape == "enum" => {
                writeln!(out, "schema    enum {} (holds `{v}`)", self.name)?
            }
            _ => writeln!(out, "schema    {} {}", self.shape, self.name)?,
        }
        write_fields(out, "  ", &self.fields)?;
        for v in &self.variants {
            writeln!(out, "  {} ({})", v.name, v.kind)?;
            write_fields(out, "    ", &v.fields)?;
        }
        if !self.removed.is_empty() {
            writeln!(out, "  removed: {}", self.removed.join(", "))?;
        }
        Ok(())
    }
}

fn write_fields(out: &mut impl Write, indent: &str, fields: &[FieldReport]) -> io::Result<()> {
    let decl: Vec<String> = fields
        .iter()
        .map(|f| format!("{}: {}", f.name, f.ty))
        .collect();
    let width = decl.iter().map(String::len).max().unwrap_or(0);
    for (f, decl) in fields.iter().zip(&decl) {
        let mut notes = Vec::new();
        match f.frame_len {
            Some(len) => match f.raw_len {
                Some(raw) => notes.push(format!("{len} bytes ({raw} uncompressed)")),
                None => notes.push(format!("{len} bytes")),
            },
            None if f.derived => notes.push("derived".to_owned()),
            None => {}
        }
        if f.has_default {
            notes.push("has default".to_owned());
        }
        if !f.aliases.is_empty() {
            notes.push(format!("aliases: {}", f.aliases.join(", ")));
        }
        let line = format!("{indent}{decl:<width$}  {}", notes.join(", "));
        writeln!(out, "{}", line.trim_end())?;
        // The tree's first line is the field's type, already shown.
        for nested in f.shape_tree.iter().flat_map(|t| t.lines().skip(1)) {
            writeln!(out, "{indent}{nested}")?;
        }
    }
    Ok(())
}
