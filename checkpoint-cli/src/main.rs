//! `checkpoint`: list, inspect, diff and verify the checkpoints written by
//! the `checkpoint` crate, in a directory or under an `s3://` URL, and list
//! the epochs of group checkpoints.
//!
//! Exit codes: 0 success, 1 `verify` found a damaged checkpoint, 2 usage or
//! I/O error. See `docs/CLI.md`.

mod group;
mod progress;
mod report;
mod store;
mod time;

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use checkpoint_core::inspect::{self, Inspection};
use checkpoint_core::StoreError;
use clap::{Parser, Subcommand};

use group::GroupListReport;
use progress::VerifyProgress;
use report::{CheckpointLine, DiffReport, InspectReport, VerifyReport};
use store::Opened;

/// Look into the checkpoints written by the `checkpoint` crate, in a
/// directory or an S3 bucket (`s3://BUCKET/PREFIX`).
#[derive(Debug, Parser)]
#[command(name = "checkpoint", version, about)]
struct Cli {
    /// Print JSON for scripts instead of text (fields in docs/CLI.md).
    #[arg(long, global = true)]
    json: bool,
    /// The S3 endpoint of an `s3://` URL, for S3-compatible servers
    /// (default: AWS_ENDPOINT_URL, else AWS). Credentials come from
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the region from
    /// AWS_REGION; plain `http://` is allowed to this machine only.
    #[arg(long, global = true, value_name = "URL")]
    endpoint: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// One line per checkpoint: sequence number, time (UTC), size, type, status.
    List {
        /// The checkpoint directory, or `s3://BUCKET/PREFIX`.
        #[arg(value_name = "DIR|URL")]
        store: OsString,
    },
    /// Header, schema, per-field sizes and checksum status of one checkpoint.
    Inspect {
        /// The checkpoint directory, or `s3://BUCKET/PREFIX`.
        #[arg(value_name = "DIR|URL")]
        store: OsString,
        /// The checkpoint's sequence number; the newest when left out.
        seq: Option<u64>,
    },
    /// The schema difference between checkpoints A (older) and B (newer).
    Diff {
        /// The checkpoint directory, or `s3://BUCKET/PREFIX`.
        #[arg(value_name = "DIR|URL")]
        store: OsString,
        /// Sequence number of the first checkpoint.
        a: u64,
        /// Sequence number of the second checkpoint.
        b: u64,
    },
    /// Check every checkpoint and every group part; exit 1 if any is damaged.
    Verify {
        /// The checkpoint directory, or `s3://BUCKET/PREFIX`.
        #[arg(value_name = "DIR|URL")]
        store: OsString,
    },
    /// Group checkpoints: epochs, their parts and commits (docs/GROUP.md).
    Group {
        #[command(subcommand)]
        command: GroupCommand,
    },
}

#[derive(Debug, Subcommand)]
enum GroupCommand {
    /// One line per epoch of each group: its stored parts and whether it is committed.
    List {
        /// The store's directory, or `s3://BUCKET/PREFIX`.
        #[arg(value_name = "DIR|URL")]
        store: OsString,
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
            // One line, whatever a server's error holds.
            let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("checkpoint: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> Result<ExitCode, Failure> {
    let open = |store: &OsString| Opened::open(store, cli.endpoint.as_deref());
    let mut out = io::stdout().lock();
    let code = match &cli.command {
        Command::List { store } => {
            let opened = open(store)?;
            let lines: Vec<CheckpointLine> = opened
                .checkpoints()?
                .iter()
                .map(|(seq, key)| {
                    read_header_only(&opened, key, *seq).map(|i| CheckpointLine::of(&i))
                })
                .collect::<Result<_, _>>()?;
            if cli.json {
                print_json(&mut out, &report::ListReport::new(&opened.name, lines))?;
            } else {
                report::write_list(&mut out, &opened.name, &lines)?;
            }
            ExitCode::SUCCESS
        }
        Command::Inspect { store, seq } => {
            let opened = open(store)?;
            let keys = opened.checkpoints()?;
            let (seq, key) = match seq {
                Some(seq) => find(&opened, &keys, *seq)?,
                None => keys
                    .last()
                    .cloned()
                    .ok_or_else(|| Failure(format!("{} holds no checkpoint", opened.name)))?,
            };
            let inspection = read(&opened, &key, seq)?;
            let mut report = InspectReport::of(&inspection);
            // An incremental checkpoint is compared with the one before it.
            if let Some((prev, prev_key)) = keys.iter().rev().find(|(s, _)| *s < seq) {
                if inspection.chunks.is_some() {
                    report = report
                        .with_previous(&inspection, &read_header_only(&opened, prev_key, *prev)?);
                }
            }
            if cli.json {
                print_json(&mut out, &report)?;
            } else {
                report.write(&mut out)?;
            }
            ExitCode::SUCCESS
        }
        Command::Diff { store, a, b } => {
            let opened = open(store)?;
            let keys = opened.checkpoints()?;
            let older = read_header(&opened, &keys, *a)?;
            let newer = read_header(&opened, &keys, *b)?;
            let report = DiffReport::of(&older, &newer);
            if cli.json {
                print_json(&mut out, &report)?;
            } else {
                report.write(&mut out)?;
            }
            ExitCode::SUCCESS
        }
        Command::Verify { store } => {
            let opened = open(store)?;
            let checkpoints = verify_all(&opened)?;
            let parts = group::verify_parts(&opened)?;
            let report = VerifyReport::of(&opened.name, &checkpoints, parts);
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
        Command::Group {
            command: GroupCommand::List { store },
        } => {
            let report = GroupListReport::of(&open(store)?)?;
            if cli.json {
                print_json(&mut out, &report)?;
            } else {
                report.write(&mut out)?;
            }
            ExitCode::SUCCESS
        }
    };
    out.flush()?;
    Ok(code)
}

fn find(opened: &Opened, keys: &[(u64, String)], seq: u64) -> Result<(u64, String), Failure> {
    keys.iter()
        .find(|(s, _)| *s == seq)
        .cloned()
        .ok_or_else(|| Failure(format!("{} holds no checkpoint #{seq}", opened.name)))
}

fn unread(opened: &Opened, key: &str, e: StoreError) -> Failure {
    match e {
        StoreError::Io { source, .. } => Failure(format!(
            "cannot read {}: {source}",
            opened.store.location(key)
        )),
        e => Failure(e.to_string()),
    }
}

fn read(opened: &Opened, key: &str, seq: u64) -> Result<Inspection, Failure> {
    inspect::inspect_key(&*opened.store, key, seq).map_err(|e| unread(opened, key, e))
}

/// The header alone: `list` and `diff` never read a body.
fn read_header_only(opened: &Opened, key: &str, seq: u64) -> Result<Inspection, Failure> {
    inspect::inspect_key_header(&*opened.store, key, seq).map_err(|e| unread(opened, key, e))
}

/// Every checkpoint read whole, one at a time, with a progress bar on a
/// terminal.
fn verify_all(opened: &Opened) -> Result<Vec<Inspection>, Failure> {
    let keys = opened.checkpoints()?;
    let mut progress = VerifyProgress::new(keys.len());
    let mut inspections = Vec::with_capacity(keys.len());
    for (index, (seq, key)) in keys.iter().enumerate() {
        progress.start(index, *seq);
        let inspection =
            inspect::inspect_key_with_progress(&*opened.store, key, *seq, |done, len| {
                progress.read(done, len)
            })
            .map_err(|e| unread(opened, key, e))?;
        inspections.push(inspection);
    }
    progress.finish();
    Ok(inspections)
}

/// Checkpoint `seq`, which must have a readable header.
fn read_header(opened: &Opened, keys: &[(u64, String)], seq: u64) -> Result<Inspection, Failure> {
    let (seq, key) = find(opened, keys, seq)?;
    let inspection = read(opened, &key, seq)?;
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
