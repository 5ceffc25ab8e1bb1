//! What each command reports, as serializable structs (the `--json` output,
//! whose field names are documented in `docs/CLI.md`) and as text.

use std::io::{self, Write};

use checkpoint_core::format::{FieldRecord, SchemaRecord, ShapeRecord, MAGIC};
use checkpoint_core::inspect::{self, Frame, Inspection, SchemaChange};
use checkpoint_core::schema::DeepChangeKind;
use serde::Serialize;

use crate::time;

/// One checkpoint in `list`.
#[derive(Debug, Serialize)]
pub struct CheckpointLine {
    seq: u64,
    file: String,
    /// RFC 3339, UTC; `None` when the header does not read.
    time: Option<String>,
    #[serde(skip)]
    short_time: Option<String>,
    size: u64,
    #[serde(rename = "type")]
    type_name: Option<String>,
    status: &'static str,
    problem: Option<String>,
}

impl CheckpointLine {
    pub fn of(inspection: &Inspection) -> Self {
        let header = inspection.header.as_ref();
        CheckpointLine {
            seq: inspection.seq,
            file: inspection.location.clone(),
            time: header.map(|h| time::rfc3339(h.time)),
            short_time: header.map(|h| time::short(h.time)),
            size: inspection.len,
            type_name: header.map(|h| h.type_name.clone()),
            status: inspection.status().as_str(),
            problem: inspection.problem.as_ref().map(ToString::to_string),
        }
    }
}

/// `list --json`.
#[derive(Debug, Serialize)]
pub struct ListReport {
    dir: String,
    checkpoints: Vec<CheckpointLine>,
}

impl ListReport {
    pub fn new(dir: &str, checkpoints: Vec<CheckpointLine>) -> Self {
        ListReport {
            dir: dir.to_owned(),
            checkpoints,
        }
    }
}

pub fn write_list(out: &mut impl Write, dir: &str, lines: &[CheckpointLine]) -> io::Result<()> {
    if lines.is_empty() {
        return writeln!(out, "no checkpoints in {dir}");
    }
    let unknown = "?".to_owned();
    let rows: Vec<[String; 5]> = lines
        .iter()
        .map(|l| {
            [
                l.seq.to_string(),
                l.short_time.clone().unwrap_or_else(|| unknown.clone()),
                l.size.to_string(),
                l.type_name.clone().unwrap_or_else(|| unknown.clone()),
                l.status.to_owned(),
            ]
        })
        .collect();
    let head = ["SEQ", "TIME (UTC)", "SIZE", "TYPE", "STATUS"].map(str::to_owned);
    let mut widths = [0; 5];
    for row in std::iter::once(&head).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in std::iter::once(&head).chain(&rows) {
        let [seq, time, size, ty, status] = row;
        let [ws, wt, wz, wy, _] = widths;
        writeln!(
            out,
            "{seq:>ws$}  {time:<wt$}  {size:>wz$}  {ty:<wy$}  {status}"
        )?;
    }
    Ok(())
}

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
            Some(_) => writeln!(
                out,
                "version   {} (stored as chunks: a version 5 manifest)",
                h.version
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

/// `diff --json`.
#[derive(Debug, Serialize)]
pub struct DiffReport {
    from: DiffSide,
    to: DiffSide,
    changes: Vec<ChangeReport>,
}

#[derive(Debug, Serialize)]
struct DiffSide {
    seq: u64,
    file: String,
    #[serde(rename = "type")]
    type_name: String,
}

#[derive(Debug, Serialize)]
struct ChangeReport {
    /// `field-added`, `field-removed`, ...: see `SchemaChange::kind`.
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    ty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    derived: Option<bool>,
    /// The change as one line of text.
    text: String,
}

impl ChangeReport {
    fn of(change: &SchemaChange) -> Self {
        let mut report = ChangeReport {
            kind: change.kind(),
            path: None,
            ty: None,
            from: None,
            to: None,
            derived: None,
            text: change.to_string(),
        };
        match change {
            SchemaChange::TypeRenamed { from, to } | SchemaChange::FieldRenamed { from, to } => {
                report.from = Some(from.clone());
                report.to = Some(to.clone());
            }
            SchemaChange::ShapeChanged { path, from, to } => {
                report.path = Some(path.clone());
                report.from = Some((*from).to_owned());
                report.to = Some((*to).to_owned());
            }
            SchemaChange::FieldAdded { path, ty } | SchemaChange::FieldRemoved { path, ty } => {
                report.path = Some(path.clone());
                report.ty = Some(ty.clone());
            }
            SchemaChange::FieldTypeChanged { path, from, to } => {
                report.path = Some(path.clone());
                report.from = Some(from.clone());
                report.to = Some(to.clone());
            }
            SchemaChange::FieldDerivedChanged { path, derived } => {
                report.path = Some(path.clone());
                report.derived = Some(*derived);
            }
            SchemaChange::VariantAdded { name } | SchemaChange::VariantRemoved { name } => {
                report.path = Some(name.clone());
            }
            SchemaChange::NestedTypeChanged { change, .. } => {
                report.path = Some(change.path().to_owned());
                if let DeepChangeKind::TypeChanged { from, to } = change.kind() {
                    report.from = Some(from.clone());
                    report.to = Some(to.clone());
                }
            }
            _ => {}
        }
        report
    }
}

impl DiffReport {
    /// Both inspections must have a header.
    pub fn of(older: &Inspection, newer: &Inspection) -> Self {
        let side = |i: &Inspection| DiffSide {
            seq: i.seq,
            file: i.location.clone(),
            type_name: i
                .header
                .as_ref()
                .map(|h| h.type_name.clone())
                .unwrap_or_default(),
        };
        let changes = match (&older.header, &newer.header) {
            (Some(a), Some(b)) => inspect::diff_headers(a, b),
            _ => Vec::new(),
        };
        DiffReport {
            from: side(older),
            to: side(newer),
            changes: changes.iter().map(ChangeReport::of).collect(),
        }
    }

    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let (a, b) = (&self.from, &self.to);
        write!(
            out,
            "#{} ({}) -> #{} ({}): ",
            a.seq, a.type_name, b.seq, b.type_name
        )?;
        match self.changes.len() {
            0 => return writeln!(out, "same schema"),
            1 => writeln!(out, "1 change")?,
            n => writeln!(out, "{n} changes")?,
        }
        for change in &self.changes {
            writeln!(out, "  {}", change.text)?;
        }
        Ok(())
    }
}

/// `verify --json`.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    dir: String,
    checked: usize,
    /// How many checkpoints are damaged; the exit code is 1 when above 0.
    pub problems: usize,
    checkpoints: Vec<VerifyLine>,
    /// Each damaged or missing chunk, with the checkpoints that list it.
    damaged_chunks: Vec<DamagedChunkLine>,
}

#[derive(Debug, Serialize)]
struct DamagedChunkLine {
    chunk: String,
    reason: String,
    checkpoints: Vec<u64>,
}

#[derive(Debug, Serialize)]
struct VerifyLine {
    seq: u64,
    file: String,
    status: &'static str,
    problem: Option<String>,
}

impl VerifyReport {
    pub fn of(dir: &str, inspections: &[Inspection]) -> Self {
        let checkpoints: Vec<VerifyLine> = inspections
            .iter()
            .map(|i| VerifyLine {
                seq: i.seq,
                file: i.location.clone(),
                status: i.status().as_str(),
                problem: i.problem.as_ref().map(ToString::to_string),
            })
            .collect();
        let mut damaged_chunks: Vec<DamagedChunkLine> = Vec::new();
        for i in inspections {
            for d in i.chunks.iter().flat_map(|c| &c.damaged) {
                match damaged_chunks.iter_mut().find(|l| l.chunk == d.location) {
                    Some(line) => line.checkpoints.push(i.seq),
                    None => damaged_chunks.push(DamagedChunkLine {
                        chunk: d.location.clone(),
                        reason: d.reason.clone(),
                        checkpoints: vec![i.seq],
                    }),
                }
            }
        }
        VerifyReport {
            dir: dir.to_owned(),
            checked: checkpoints.len(),
            problems: checkpoints.iter().filter(|c| c.problem.is_some()).count(),
            checkpoints,
            damaged_chunks,
        }
    }

    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        for c in &self.checkpoints {
            match &c.problem {
                None => writeln!(out, "ok         #{} {}", c.seq, c.file)?,
                Some(problem) => {
                    writeln!(out, "{:<10} #{} {problem}", c.status.to_uppercase(), c.seq)?
                }
            }
        }
        for d in &self.damaged_chunks {
            let seqs: Vec<String> = d.checkpoints.iter().map(|s| format!("#{s}")).collect();
            writeln!(
                out,
                "DAMAGED    chunk {} {}: affects {}",
                d.chunk,
                d.reason,
                seqs.join(", ")
            )?;
        }
        let plural = if self.checked == 1 { "" } else { "s" };
        if self.problems == 0 {
            writeln!(
                out,
                "{} checkpoint{plural} in {}: all ok",
                self.checked, self.dir
            )
        } else {
            writeln!(
                out,
                "{} checkpoint{plural} in {}: {} damaged",
                self.checked, self.dir, self.problems
            )
        }
    }
}
