//! `checkpoint`: list, inspect, diff and verify the checkpoints of a
//! directory written by the `checkpoint` crate's directory store.
//!
//! Exit codes: 0 success, 1 `verify` found a damaged checkpoint, 2 usage or
//! I/O error. See `docs/CLI.md`.

mod report;
mod time;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use checkpoint_core::inspect::{self, Inspection};
use clap::{Parser, Subcommand};

use report::{CheckpointLine, DiffReport, InspectReport, VerifyReport};

/// Look into a directory of checkpoints written by the `checkpoint` crate.
#[derive(Debug, Parser)]
#[command(name = "checkpoint", version, about)]
struct Cli {
    /// Print JSON for scripts instead of text (fields in docs/CLI.md).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// One line per checkpoint: sequence number, time (UTC), size, type, status.
    List {
        /// The checkpoint directory.
        dir: PathBuf,
    },
    /// Header, schema, per-field sizes and checksum status of one checkpoint.
    Inspect {
        /// The checkpoint directory.
        dir: PathBuf,
        /// The checkpoint's sequence number; the newest when left out.
        seq: Option<u64>,
    },
    /// The schema difference between checkpoints A (older) and B (newer).
    Diff {
        /// The checkpoint directory.
        dir: PathBuf,
        /// Sequence number of the first checkpoint.
        a: u64,
        /// Sequence number of the second checkpoint.
        b: u64,
    },
    /// Check every checkpoint; exit 1 if any is damaged.
    Verify {
        /// The checkpoint directory.
        dir: PathBuf,
    },
}

/// A failure that ends the command with exit code 2.
struct Failure(String);

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(Failure(message)) => {
            eprintln!("checkpoint: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> Result<ExitCode, Failure> {
    let mut out = io::stdout().lock();
    let code = match &cli.command {
        Command::List { dir } => {
            let lines: Vec<CheckpointLine> = files(dir)?
                .iter()
                .map(|(seq, path)| read_header_only(path, *seq).map(|i| CheckpointLine::of(&i)))
                .collect::<Result<_, _>>()?;
            if cli.json {
                print_json(&mut out, &report::ListReport::new(dir, lines))?;
            } else {
                report::write_list(&mut out, dir, &lines)?;
            }
            ExitCode::SUCCESS
        }
        Command::Inspect { dir, seq } => {
            let files = files(dir)?;
            let (seq, path) = match seq {
                Some(seq) => find(dir, &files, *seq)?,
                None => files
                    .last()
                    .cloned()
                    .ok_or_else(|| Failure(format!("{} holds no checkpoint", dir.display())))?,
            };
            let inspection = read(&path, seq)?;
            let mut report = InspectReport::of(&inspection);
            // An incremental checkpoint is compared with the one before it.
            if let Some((prev, prev_path)) = files.iter().rev().find(|(s, _)| *s < seq) {
                if inspection.chunks.is_some() {
                    report =
                        report.with_previous(&inspection, &read_header_only(prev_path, *prev)?);
                }
            }
            if cli.json {
                print_json(&mut out, &report)?;
            } else {
                report.write(&mut out)?;
            }
            ExitCode::SUCCESS
        }
        Command::Diff { dir, a, b } => {
            let files = files(dir)?;
            let older = read_header(dir, &files, *a)?;
            let newer = read_header(dir, &files, *b)?;
            let report = DiffReport::of(&older, &newer);
            if cli.json {
                print_json(&mut out, &report)?;
            } else {
                report.write(&mut out)?;
            }
            ExitCode::SUCCESS
        }
        Command::Verify { dir } => {
            let report = VerifyReport::of(dir, &inspect_all(dir)?);
            if cli.json {
                print_json(&mut out, &report)?;
            } else {
                report.write(&mut out)?;
            }
            if report.problems == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    };
    out.flush()?;
    Ok(code)
}

fn files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, Failure> {
    inspect::checkpoint_files(dir)
        .map_err(|e| Failure(format!("cannot read directory {}: {e}", dir.display())))
}

fn find(dir: &Path, files: &[(u64, PathBuf)], seq: u64) -> Result<(u64, PathBuf), Failure> {
    files
        .iter()
        .find(|(s, _)| *s == seq)
        .cloned()
        .ok_or_else(|| Failure(format!("{} holds no checkpoint #{seq}", dir.display())))
}

fn read(path: &Path, seq: u64) -> Result<Inspection, Failure> {
    inspect::inspect_file(path, seq)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))
}

/// The header alone: `list` and `diff` never read a body.
fn read_header_only(path: &Path, seq: u64) -> Result<Inspection, Failure> {
    inspect::inspect_file_header(path, seq)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))
}

fn inspect_all(dir: &Path) -> Result<Vec<Inspection>, Failure> {
    files(dir)?
        .iter()
        .map(|(seq, path)| read(path, *seq))
        .collect()
}

/// Checkpoint `seq`, which must have a readable header.
fn read_header(dir: &Path, files: &[(u64, PathBuf)], seq: u64) -> Result<Inspection, Failure> {
    let (seq, path) = find(dir, files, seq)?;
    let inspection = read(&path, seq)?;
    if inspection.header.is_none() {
        let why = inspection
            .problem
            .as_ref()
            .map_or_else(String::new, ToString::to_string);
        return Err(Failure(format!(
            "cannot read the schema of checkpoint #{seq}: {why}"
        )));
    }
    Ok(inspection)
}

fn print_json(out: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}
