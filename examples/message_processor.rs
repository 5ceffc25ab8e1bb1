//! A message processor whose state outlives the process.
//!
//! The classic bug: the index over the log is "recomputable", so it is left
//! out of the checkpoint, and after a restart nothing recomputes it; the
//! time of the last message is forgotten the same way. Here every field is
//! saved unless it says how it is rebuilt: `index` is
//! `#[derived(from = build_index(&log))]`, and `last_message_time` is saved.
//!
//! ```text
//! cargo run --example message_processor [-- DIR] [--fresh] [--missing-field]
//! ```
//!
//! Each run processes three messages and checkpoints after each one into
//! `DIR` (default `checkpoint-demo`, created on the first run). The next run
//! resumes from the newest checkpoint and its sequence numbers continue.
//! `--fresh` deletes the checkpoints in `DIR` first.
//!
//! `--missing-field` shows a restore failing as it does after a deploy: the
//! newest checkpoint in `DIR`, written by `MessageProcessor` as it is here,
//! is restored into the next version of the struct, which gained a field
//! (`next::MessageProcessor`). The restore fails and the error names the
//! checkpoint, the struct, the missing field and the fix; then the same
//! checkpoint restores into the version that applies the fix
//! (`fixed::MessageProcessor`). Nothing is written in this mode.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use checkpoint::{Checkpoint, Checkpointer};

/// Where checkpoints go unless the command line names a directory.
const DEFAULT_DIR: &str = "checkpoint-demo";

/// Messages processed by one run.
const PER_RUN: u64 = 3;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Message {
    id: u64,
    time: u64,
    body: String,
}

#[derive(Debug, Checkpoint)]
struct MessageProcessor {
    processed_messages: u64,
    last_message_time: u64,
    log: Vec<Message>,
    #[derived(from = build_index(&log))]
    index: HashMap<u64, usize>,
}

fn build_index(log: &[Message]) -> HashMap<u64, usize> {
    log.iter().enumerate().map(|(at, m)| (m.id, at)).collect()
}

impl MessageProcessor {
    fn new() -> Self {
        MessageProcessor {
            processed_messages: 0,
            last_message_time: 0,
            log: Vec::new(),
            index: HashMap::new(),
        }
    }

    fn process(&mut self, message: Message) {
        self.processed_messages += 1;
        self.last_message_time = message.time;
        self.index.insert(message.id, self.log.len());
        self.log.push(message);
    }

    fn body_of(&self, id: u64) -> Option<&str> {
        self.index.get(&id).map(|&at| self.log[at].body.as_str())
    }
}

/// The next version of the struct: it gained `total_bytes`, and nothing says
/// what the field holds in a checkpoint written before it existed.
mod next {
    use std::collections::HashMap;

    use checkpoint::Checkpoint;

    use super::{build_index, Message};

    #[derive(Checkpoint)]
    #[allow(dead_code)] // never built: restoring it fails
    pub struct MessageProcessor {
        pub processed_messages: u64,
        pub last_message_time: u64,
        pub log: Vec<Message>,
        #[derived(from = build_index(&log))]
        pub index: HashMap<u64, usize>,
        pub total_bytes: u64,
    }
}

/// The next version with the fix the error asks for: older checkpoints get
/// `total_bytes` computed from their saved log.
mod fixed {
    use std::collections::HashMap;

    use checkpoint::Checkpoint;

    use super::{build_index, Message};

    #[derive(Debug, Checkpoint)]
    pub struct MessageProcessor {
        pub processed_messages: u64,
        pub last_message_time: u64,
        pub log: Vec<Message>,
        #[derived(from = build_index(&log))]
        pub index: HashMap<u64, usize>,
        #[checkpoint(default = log.iter().map(|m| m.body.len() as u64).sum())]
        pub total_bytes: u64,
    }
}

fn incoming(from: u64, to: u64) -> impl Iterator<Item = Message> {
    (from..to).map(|n| Message {
        id: 1001 + n,
        time: 1_700_000_000 + n * 60,
        body: format!("message {}", n + 1),
    })
}

struct Args {
    dir: PathBuf,
    fresh: bool,
    missing_field: bool,
}

const USAGE: &str =
    "usage: cargo run --example message_processor -- [DIR] [--fresh] [--missing-field]";

/// The command line, or `Err` with what to print and the exit code.
fn parse_args() -> Result<Args, (String, i32)> {
    let mut args = Args {
        dir: PathBuf::from(DEFAULT_DIR),
        fresh: false,
        missing_field: false,
    };
    let mut dir = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--fresh" => args.fresh = true,
            "--missing-field" => args.missing_field = true,
            "-h" | "--help" => return Err((USAGE.to_owned(), 0)),
            _ if arg.starts_with('-') => {
                return Err((format!("unknown option `{arg}`\n{USAGE}"), 2))
            }
            _ if dir.is_some() => return Err((format!("one directory only\n{USAGE}"), 2)),
            _ => dir = Some(PathBuf::from(arg)),
        }
    }
    if let Some(dir) = dir {
        args.dir = dir;
    }
    Ok(args)
}

/// The directory as a shell word, for commands the user can paste.
fn shell_word(dir: &Path) -> String {
    let s = dir.display().to_string();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,@%".contains(c));
    if plain {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Opens the store in `dir`, saying where it is.
fn open(dir: &Path, fresh: bool) -> Result<Checkpointer, checkpoint::Error> {
    let how = if dir.is_dir() { "" } else { " (created now)" };
    let ckpt = Checkpointer::open(dir)?;
    println!("checkpoints in {}{how}", dir.display());
    if !fresh {
        return Ok(ckpt);
    }
    // Only the checkpoint files (`{seq:020}.ckpt`): anything else stays.
    let store = ckpt.store();
    let keys = store.list("")?;
    let old: Vec<_> = keys
        .iter()
        .filter(|k| k.ends_with(".ckpt") && !k.contains('/'))
        .collect();
    for key in &old {
        store.delete(key)?;
    }
    println!("--fresh: deleted {} checkpoints", old.len());
    // Reopened, it numbers from #1 again.
    Checkpointer::open(dir)
}

/// One run: resume from the newest checkpoint (or start), process the next
/// messages, checkpoint after each.
fn run(ckpt: &Checkpointer) -> Result<u64, checkpoint::Error> {
    let mut p = match ckpt.restore_latest::<MessageProcessor>()? {
        Some(r) => {
            for skipped in &r.meta.skipped {
                println!("skipped checkpoint #{}: {}", skipped.seq, skipped.reason);
            }
            let p = r.state;
            println!(
                "resumed at checkpoint #{} with {} messages, the last at t={}",
                r.meta.seq, p.processed_messages, p.last_message_time
            );
            // The index was not saved: it was rebuilt from the saved log.
            if let Some(first) = p.log.first() {
                println!(
                    "index rebuilt from the log: message {} is {:?}",
                    first.id,
                    p.body_of(first.id).unwrap_or_default()
                );
            }
            p
        }
        None => {
            println!("no checkpoint yet: starting from nothing");
            MessageProcessor::new()
        }
    };
    let mut newest = 0;
    let from = p.processed_messages;
    for message in incoming(from, from + PER_RUN) {
        let id = message.id;
        p.process(message);
        let meta = ckpt.save(&p)?;
        newest = meta.seq;
        println!(
            "processed message {id} and saved checkpoint #{} ({} bytes)",
            meta.seq, meta.size
        );
    }
    Ok(newest)
}

/// Restores the newest checkpoint into the next version of the struct, then
/// into the fixed one.
fn missing_field(ckpt: &Checkpointer, dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if ckpt.list()?.is_empty() {
        println!("no checkpoint yet: writing some with the current struct first");
        run(ckpt)?;
    }
    println!();
    println!("the next version of `MessageProcessor` gains a field, `total_bytes: u64`.");
    println!(
        "restoring the newest checkpoint in {} into it:",
        dir.display()
    );
    match ckpt.restore_latest::<next::MessageProcessor>() {
        Err(e) => println!("  error: {e}"),
        Ok(_) => return Err("the next version restored without the fix".into()),
    }
    println!();
    println!(
        "with the fix, `#[checkpoint(default = log.iter().map(|m| m.body.len() as u64).sum())]` \
         on `total_bytes` (see `mod fixed` in examples/message_processor.rs):"
    );
    let Some(r) = ckpt.restore_latest::<fixed::MessageProcessor>()? else {
        return Err("the checkpoints are gone".into());
    };
    let p = r.state;
    println!(
        "  restored checkpoint #{}: {} messages, the last at t={}, {} indexed, total_bytes = {}",
        r.meta.seq,
        p.processed_messages,
        p.last_message_time,
        p.index.len(),
        p.total_bytes
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = match parse_args() {
        Ok(args) => args,
        Err((usage, 0)) => {
            println!("{usage}");
            return Ok(());
        }
        Err((usage, code)) => {
            eprintln!("{usage}");
            std::process::exit(code);
        }
    };
    let ckpt = open(&args.dir, args.fresh)?;
    if args.missing_field {
        return missing_field(&ckpt, &args.dir);
    }
    let newest = run(&ckpt)?;

    // Commands to paste, with the directory as it was given.
    let dir = shell_word(&args.dir);
    let (example, missing) = if args.dir == Path::new(DEFAULT_DIR) {
        let example = "cargo run --example message_processor".to_owned();
        let missing = format!("{example} -- --missing-field");
        (example, missing)
    } else {
        let example = format!("cargo run --example message_processor -- {dir}");
        let missing = format!("{example} --missing-field");
        (example, missing)
    };
    let next = [
        (example, format!("resume from checkpoint #{newest}")),
        (
            format!("checkpoint list {dir}"),
            "look inside; `inspect` and `verify` too".to_owned(),
        ),
        (missing, "a restore failing, explained".to_owned()),
    ];
    let width = next
        .iter()
        .map(|(command, _)| command.len())
        .max()
        .unwrap_or(0);
    println!();
    println!("next:");
    for (command, what) in &next {
        println!("  {command:width$}  # {what}");
    }
    println!(
        "`cargo install --path checkpoint-cli` installs the `checkpoint` command \
         (or: cargo run -p checkpoint-cli -- list {dir})"
    );
    Ok(())
}
