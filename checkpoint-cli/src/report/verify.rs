//! What `checkpoint verify` reports.

use std::io::{self, Write};

use checkpoint_core::inspect::Inspection;
use serde::Serialize;

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
