//! What `checkpoint diff` reports.

use std::io::{self, Write};

use checkpoint_core::inspect::{self, Inspection, SchemaChange};
use checkpoint_core::schema::DeepChangeKind;
use serde::Serialize;

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
