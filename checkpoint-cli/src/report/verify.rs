//! What `checkpoint verify` reports.

use std::io::{self, Write};

use checkpoint_core::inspect::Inspection;
use serde::Serialize;

use crate::group::PartCheck;

/// `verify --json`.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    dir: String,
    checked: usize,
    /// How many checkpoints and group parts are damaged (or missing); the
    /// exit code is 1 when above 0.
    pub problems: usize,
    checkpoints: Vec<VerifyLine>,
    /// Every stored part of every group, and every part a commit record
    /// lists but the store lacks.
    group_parts: Vec<PartCheck>,
    /// Each damaged or missing chunk, with the checkpoints and group parts
    /// that list it.
    damaged_chunks: Vec<DamagedChunkLine>,
}

#[derive(Debug, Serialize)]
struct DamagedChunkLine {
    chunk: String,
    reason: String,
    checkpoints: Vec<u64>,
    group_parts: Vec<PartName>,
}

/// A group part, as `verify --json` names it.
#[derive(Debug, Clone, Serialize)]
struct PartName {
    group: String,
    epoch: u64,
    participant: String,
}

impl PartName {
    fn of(p: &PartCheck) -> Self {
        PartName {
            group: p.group.clone(),
            epoch: p.epoch,
            participant: p.participant.clone(),
        }
    }
}

impl std::fmt::Display for PartName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "group `{}` epoch {} part `{}`",
            self.group, self.epoch, self.participant
        )
    }
}

impl DamagedChunkLine {
    fn new(chunk: &str, reason: &str) -> Self {
        DamagedChunkLine {
            chunk: chunk.to_owned(),
            reason: reason.to_owned(),
            checkpoints: Vec::new(),
            group_parts: Vec::new(),
        }
    }
}

/// The line for `chunk` in `lines`, added when it is not there yet.
fn line_for<'l>(
    lines: &'l mut Vec<DamagedChunkLine>,
    chunk: &str,
    reason: &str,
) -> &'l mut DamagedChunkLine {
    match lines.iter().position(|l| l.chunk == chunk) {
        Some(at) => &mut lines[at],
        None => {
            lines.push(DamagedChunkLine::new(chunk, reason));
            lines.last_mut().expect("just pushed")
        }
    }
}

#[derive(Debug, Serialize)]
struct VerifyLine {
    seq: u64,
    file: String,
    status: &'static str,
    problem: Option<String>,
}

impl VerifyReport {
    pub fn of(dir: &str, inspections: &[Inspection], group_parts: Vec<PartCheck>) -> Self {
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
                line_for(&mut damaged_chunks, &d.location, &d.reason)
                    .checkpoints
                    .push(i.seq);
            }
        }
        for p in &group_parts {
            if let Some((chunk, reason)) = &p.damaged_chunk {
                line_for(&mut damaged_chunks, chunk, reason)
                    .group_parts
                    .push(PartName::of(p));
            }
        }
        let problems = checkpoints.iter().filter(|c| c.problem.is_some()).count()
            + group_parts.iter().filter(|p| p.problem.is_some()).count();
        VerifyReport {
            dir: dir.to_owned(),
            checked: checkpoints.len(),
            problems,
            checkpoints,
            group_parts,
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
        for p in &self.group_parts {
            let name = PartName::of(p);
            match &p.problem {
                None => writeln!(out, "ok         {name}")?,
                Some(problem) => writeln!(out, "DAMAGED    {name}: {problem}")?,
            }
        }
        for d in &self.damaged_chunks {
            let affected: Vec<String> = d
                .checkpoints
                .iter()
                .map(|s| format!("#{s}"))
                .chain(d.group_parts.iter().map(ToString::to_string))
                .collect();
            writeln!(
                out,
                "DAMAGED    chunk {} {}: affects {}",
                d.chunk,
                d.reason,
                affected.join(", ")
            )?;
        }
        let plural = if self.checked == 1 { "" } else { "s" };
        let parts = match self.group_parts.len() {
            0 => String::new(),
            1 => " and 1 group part".to_owned(),
            n => format!(" and {n} group parts"),
        };
        if self.problems == 0 {
            writeln!(
                out,
                "{} checkpoint{plural}{parts} in {}: all ok",
                self.checked, self.dir
            )
        } else {
            writeln!(
                out,
                "{} checkpoint{plural}{parts} in {}: {} damaged",
                self.checked, self.dir, self.problems
            )
        }
    }
}
