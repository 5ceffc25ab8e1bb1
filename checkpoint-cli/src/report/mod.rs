//! What each command reports, as serializable structs (the `--json` output,
//! whose field names are documented in `docs/CLI.md`) and as text.

use std::io::{self, Write};

use checkpoint_core::inspect::Inspection;
use serde::Serialize;

use crate::time;

mod diff;
mod inspection;
mod verify;

pub use self::diff::DiffReport;
pub use self::inspection::InspectReport;
pub use self::verify::VerifyReport;

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
