//! The `checkpoint` binary, run end to end on a directory, and on an S3
//! prefix, holding good, corrupt, truncated, foreign and old-schema
//! checkpoints, and on group checkpoints.
//!
//! The S3 tests need a server: `scripts/seaweedfs.sh start`, then
//! `eval "$(scripts/seaweedfs.sh env)"`; without one they say so and pass,
//! unless `CHECKPOINT_REQUIRE_S3=1`.

#[path = "../../tests/common/group.rs"]
mod group_common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use checkpoint::group::Group;
use checkpoint::{Checkpoint, Checkpointer, DirStore, Store};
use group_common::{overwrite, s3_endpoint, s3_store_at, unique, NodeState};
use serde_json::Value;

/// The first version of the state.
#[derive(Checkpoint)]
#[checkpoint(name = "Processor")]
struct ProcessorV1 {
    processed: u64,
    log: Vec<String>,
}

/// The same state after a field was added and a derived one introduced.
#[derive(Checkpoint)]
#[allow(dead_code)]
#[checkpoint(name = "Processor")]
struct ProcessorV2 {
    processed: u64,
    log: Vec<String>,
    last_time: u64,
    #[derived(from = log.len())]
    count: usize,
}

fn v2(processed: u64) -> ProcessorV2 {
    ProcessorV2 {
        processed,
        log: vec!["hello".into(); 3],
        last_time: 1_700_000_000,
        count: 3,
    }
}

fn file(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.ckpt"))
}

/// #1 old schema, #2 good, #3 corrupt, #4 truncated, #5 good, plus files
/// that are not checkpoints by name and are ignored.
fn mixed_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = Checkpointer::open(dir.path()).unwrap().keep_last(100);
    ckpt.save(&ProcessorV1 {
        processed: 1,
        log: vec!["a".into()],
    })
    .unwrap();
    for n in 2..=5 {
        ckpt.save(&v2(n)).unwrap();
    }
    let mut bytes = fs::read(file(dir.path(), 3)).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0x01;
    fs::write(file(dir.path(), 3), bytes).unwrap();
    let bytes = fs::read(file(dir.path(), 4)).unwrap();
    fs::write(file(dir.path(), 4), &bytes[..bytes.len() - 7]).unwrap();
    fs::write(dir.path().join("notes.txt"), "not a checkpoint").unwrap();
    fs::write(dir.path().join(".tmp-1-0"), "half written").unwrap();
    dir
}

fn good_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    ckpt.save(&v2(1)).unwrap();
    ckpt.save(&v2(2)).unwrap();
    dir
}

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_checkpoint"))
        .args(args.iter().map(|a| match *a {
            "DIR" => dir.as_os_str().to_owned(),
            a => a.into(),
        }))
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[test]
fn list_shows_one_line_per_checkpoint_with_its_status() {
    let dir = mixed_dir();
    let out = run(&["list", "DIR"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(
        lines[0].contains("SEQ") && lines[0].contains("STATUS"),
        "{text}"
    );
    let statuses: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    // `list` reads headers only: #3's flipped body byte is for `verify`.
    assert_eq!(statuses, ["ok", "ok", "ok", "truncated", "ok"]);
    assert!(lines[1].trim_start().starts_with("1 ") && lines[1].contains("Processor"));
    assert!(!text.contains("notes") && !text.contains("tmp"), "{text}");
}

#[test]
fn list_json_has_stable_fields() {
    let dir = mixed_dir();
    let out = run(&["list", "DIR", "--json"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    let cps = v["checkpoints"].as_array().unwrap();
    assert_eq!(cps.len(), 5);
    assert_eq!(cps[0]["seq"], 1);
    assert_eq!(cps[0]["type"], "Processor");
    assert_eq!(cps[0]["status"], "ok");
    assert!(cps[0]["problem"].is_null());
    assert!(cps[0]["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        cps[0]["size"].as_u64().unwrap(),
        fs::metadata(file(dir.path(), 1)).unwrap().len()
    );
    assert_eq!(cps[2]["status"], "ok", "list reads no body");
    assert_eq!(cps[3]["status"], "truncated");
}

/// Runs the command and fails if it takes more than 20 s.
#[cfg(unix)]
fn run_within_time(args: &[&str], dir: &Path) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_checkpoint"))
        .args(args.iter().map(|a| match *a {
            "DIR" => dir.as_os_str().to_owned(),
            a => a.into(),
        }))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(20)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            panic!("`checkpoint {}` did not finish within 20 s", args.join(" "));
        }
    }
}

/// What a restore trips over, `verify` reports: entries under checkpoint
/// names that are not regular files, and files far longer than their
/// header says, read in bounded memory and time.
#[cfg(unix)]
#[test]
fn verify_reports_every_entry_a_restore_would_trip_on() {
    let dir = good_dir();
    // #3: a FIFO; #4: a directory; #5: a symbolic link to /dev/zero; #6: a
    // real checkpoint followed by 64 GiB of holes; #7: 64 GiB of holes.
    let fifo = std::ffi::CString::new(file(dir.path(), 3).to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    fs::create_dir(file(dir.path(), 4)).unwrap();
    std::os::unix::fs::symlink("/dev/zero", file(dir.path(), 5)).unwrap();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    let sixth = ckpt.save(&v2(6)).unwrap();
    assert_eq!(sixth.seq, 6);
    let grown = fs::File::options()
        .write(true)
        .open(file(dir.path(), 6))
        .unwrap();
    grown.set_len(64 << 30).unwrap();
    fs::File::create(file(dir.path(), 7))
        .unwrap()
        .set_len(64 << 30)
        .unwrap();

    let out = run_within_time(&["verify", "DIR", "--json"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    for (seq, status) in [
        (3, "unreadable"),
        (4, "unreadable"),
        (5, "unreadable"),
        (6, "malformed"),
        (7, "not-a-checkpoint"),
    ] {
        assert!(
            text.contains(&format!("\"seq\": {seq}")) && text.contains(status),
            "#{seq} {status}: {text}"
        );
    }
    let out = run_within_time(&["list", "DIR"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run_within_time(&["inspect", "DIR", "6"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("malformed"), "{}", stdout(&out));
}

#[test]
fn inspect_shows_header_schema_frame_sizes_and_checksum() {
    let dir = mixed_dir();
    let out = run(&["inspect", "DIR"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "magic     89 43 4b 50 54 0d 0a 1a (ok)",
        "version   3",
        "seq       5",
        "type      Processor",
        "checksum  ok",
        "schema    struct Processor",
        "  processed: u64    1 bytes\n  log: Vec<String>  19 bytes\n    []: String\n  \
         last_time: u64    5 bytes\n  count: usize      derived\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    let out = run(&["inspect", "DIR", "1", "--json"], dir.path());
    let v = json(&out);
    assert_eq!(v["seq"], 1);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["header"]["version"], 3);
    assert_eq!(v["schema"]["fields"][1]["shape"], "Vec<String>");
    assert_eq!(v["header"]["magic"], "89434b50540d0a1a");
    assert_eq!(v["schema"]["shape"], "struct");
    let fields: Vec<&str> = v["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["processed", "log"]);
    assert_eq!(v["schema"]["fields"][1]["type"], "Vec<String>");
    assert_eq!(v["schema"]["fields"][1]["frame_len"], 3);
    assert_eq!(v["frames"][0]["name"], "processed");
}

#[test]
fn inspect_reports_damage_and_what_still_reads() {
    let dir = mixed_dir();
    let out = run(&["inspect", "DIR", "3"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("checksum  mismatch (corrupt)"), "{text}");
    assert!(text.contains("type      Processor"), "{text}");

    let out = run(&["inspect", "DIR", "4", "--json"], dir.path());
    let v = json(&out);
    assert_eq!(v["status"], "truncated");
    assert!(v["problem"].as_str().unwrap().contains("truncated"));
    // The last frame is torn off; the ones before it still read.
    assert_eq!(v["frames"].as_array().unwrap().len(), 2);
}

#[test]
fn inspect_of_a_missing_checkpoint_is_an_error() {
    let dir = mixed_dir();
    let out = run(&["inspect", "DIR", "99"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("holds no checkpoint #99"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn diff_names_the_schema_changes() {
    let dir = mixed_dir();
    let out = run(&["diff", "DIR", "1", "5"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "#1 (Processor) -> #5 (Processor): 2 changes\n  + field `last_time: u64`\n  + field \
         `count: usize`\n"
    );

    let out = run(&["diff", "DIR", "2", "5"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "#2 (Processor) -> #5 (Processor): same schema\n"
    );

    let out = run(&["--json", "diff", "DIR", "5", "1"], dir.path());
    let v = json(&out);
    assert_eq!(v["from"]["seq"], 5);
    assert_eq!(v["to"]["type"], "Processor");
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0]["kind"], "field-removed");
    assert_eq!(changes[0]["path"], "last_time");
    assert_eq!(changes[0]["type"], "u64");
}

#[test]
fn diff_reads_a_corrupt_body_but_not_a_missing_header() {
    let dir = mixed_dir();
    // The flipped byte is in the body: the header, and so the schema, still reads.
    let out = run(&["diff", "DIR", "3", "5"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    fs::write(file(dir.path(), 6), b"garbage").unwrap();
    let out = run(&["diff", "DIR", "1", "6"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read the schema of checkpoint #6"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn verify_fails_on_any_damaged_checkpoint_and_names_each() {
    let dir = mixed_dir();
    fs::write(file(dir.path(), 6), b"garbage").unwrap();
    let out = run(&["verify", "DIR"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("CORRUPT    #3 checkpoint #3"), "{text}");
    assert!(text.contains("TRUNCATED  #4 checkpoint #4"), "{text}");
    assert!(text.contains("NOT-A-CHECKPOINT #6"), "{text}");
    let summary = format!("6 checkpoints in {}: 3 damaged\n", dir.path().display());
    assert!(text.ends_with(&summary), "{text}");

    let out = run(&["verify", "DIR", "--json"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(
        (v["checked"].as_u64(), v["problems"].as_u64()),
        (Some(6), Some(3))
    );
    assert_eq!(v["checkpoints"][2]["status"], "corrupt");
    assert_eq!(v["checkpoints"][5]["status"], "not-a-checkpoint");
}

#[test]
fn verify_passes_a_good_directory() {
    let dir = good_dir();
    let out = run(&["verify", "DIR"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).ends_with(": all ok\n"));
    let out = run(&["verify", "--json", "DIR"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["problems"], 0);
}

#[test]
fn a_missing_directory_and_bad_usage_exit_with_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    for cmd in ["list", "verify", "inspect"] {
        let out = run(&[cmd, "DIR"], &missing);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = stderr(&out);
        assert!(
            err.starts_with("checkpoint: cannot read directory"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert!(!missing.exists(), "reading must not create the directory");
    let out = run(&["inspect", "DIR"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("holds no checkpoint"));
    assert_eq!(run(&["frobnicate"], dir.path()).status.code(), Some(2));
    assert_eq!(
        run(&["diff", "DIR", "x", "1"], dir.path()).status.code(),
        Some(2)
    );
}

#[test]
fn an_empty_directory_lists_and_verifies_clean() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["list", "DIR"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("no checkpoints in"));
    let out = run(&["verify", "DIR"], dir.path());
    assert_eq!(out.status.code(), Some(0));
}

mod v1 {
    #[derive(serde::Serialize, serde::Deserialize)]
    pub struct Message {
        pub id: u64,
        pub sender: u32,
    }
}

mod v2 {
    #[derive(serde::Serialize, serde::Deserialize)]
    pub struct Message {
        pub id: u64,
        pub sender: String,
    }
}

#[derive(Checkpoint)]
#[checkpoint(name = "Inbox")]
struct InboxV1 {
    log: Vec<v1::Message>,
}

/// The field's written type is the same; a field inside it changed.
#[derive(Checkpoint)]
#[checkpoint(name = "Inbox")]
struct InboxV2 {
    log: Vec<v2::Message>,
}

#[test]
fn inspect_shows_nested_shapes_and_diff_names_a_nested_change_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    ckpt.save(&InboxV1 {
        log: vec![v1::Message { id: 1, sender: 2 }],
    })
    .unwrap();
    ckpt.save(&InboxV2 {
        log: vec![v2::Message {
            id: 1,
            sender: "ann".into(),
        }],
    })
    .unwrap();

    let out = run(&["inspect", "DIR", "1"], dir.path());
    let text = stdout(&out);
    assert!(
        text.contains("  log: Vec<Message>  3 bytes\n    []: struct Message\n      id: u64\n      sender: u32\n"),
        "{text}"
    );

    let out = run(&["diff", "DIR", "1", "2"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "#1 (Inbox) -> #2 (Inbox): 1 change\n  ~ `log[].sender`: type changed from `u32` to `String`\n"
    );
    let v = json(&run(&["diff", "DIR", "1", "2", "--json"], dir.path()));
    assert_eq!(v["changes"][0]["kind"], "nested-type-changed");
    assert_eq!(v["changes"][0]["path"], "log[].sender");
    assert_eq!(
        (&v["changes"][0]["from"], &v["changes"][0]["to"]),
        (&"u32".into(), &"String".into())
    );
}

#[test]
fn inspect_shows_compressed_and_stored_sizes() {
    let dir = tempfile::tempdir().unwrap();
    Checkpointer::open(dir.path())
        .unwrap()
        .compression(checkpoint::Compression::zstd(3))
        .save(&ProcessorV2 {
            log: vec!["the same line again".into(); 200],
            ..v2(7)
        })
        .unwrap();
    let out = run(&["inspect", "DIR", "1"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("version   4\n"), "{text}");
    assert!(
        text.contains("compress  zstd: field values ") && text.contains(" uncompressed\n"),
        "{text}"
    );
    let log = text
        .lines()
        .find(|l| l.trim_start().starts_with("log:"))
        .unwrap();
    assert!(log.ends_with(" uncompressed)"), "{log}");

    let v = json(&run(&["inspect", "DIR", "1", "--json"], dir.path()));
    assert_eq!(v["header"]["compression"], "zstd");
    let log = &v["schema"]["fields"][1];
    assert_eq!(log["name"], "log");
    let (stored, raw) = (
        log["frame_len"].as_u64().unwrap(),
        log["raw_len"].as_u64().unwrap(),
    );
    assert!(stored * 10 < raw, "{stored} of {raw}");
    assert_eq!(v["frames"][1]["raw_len"], raw);
    assert_eq!(run(&["verify", "DIR"], dir.path()).status.code(), Some(0));
}

#[test]
fn incremental_checkpoints_show_their_chunks_and_verify_names_a_damaged_one() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = Checkpointer::open(dir.path()).unwrap().incremental(true);
    let mut state = ProcessorV2 {
        log: (0..20_000)
            .map(|i| format!("message {i} of the log"))
            .collect(),
        ..v2(7)
    };
    ckpt.save(&state).unwrap();
    state.log[10_000] = "changed".into();
    ckpt.save(&state).unwrap();

    let out = run(&["inspect", "DIR", "2"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text.lines().find(|l| l.starts_with("chunks ")).unwrap();
    assert!(
        line.starts_with("chunks    incremental, ") && line.contains(" shared with #1, "),
        "{line}"
    );
    let v = json(&run(&["inspect", "DIR", "2", "--json"], dir.path()));
    let inc = &v["incremental"];
    let chunks = inc["chunks"].as_u64().unwrap();
    let shared = inc["shared_with_previous"].as_u64().unwrap();
    assert!(
        chunks > 3 && shared + 3 >= chunks && shared < chunks,
        "{inc}"
    );
    assert_eq!(inc["previous"], 1);
    assert_eq!(v["status"], "ok");

    // Damage a chunk both list: verify names it and both checkpoints.
    let first = json(&run(&["inspect", "DIR", "1", "--json"], dir.path()));
    assert_eq!(first["incremental"]["chunks"].as_u64().unwrap(), chunks);
    let chunk_dir = dir.path().join("chunks");
    let mut shared_chunk = None;
    for sub in fs::read_dir(&chunk_dir).unwrap() {
        let sub = sub.unwrap().path();
        if !sub.is_dir() || sub.file_name().unwrap().len() != 2 {
            continue;
        }
        for f in fs::read_dir(&sub).unwrap() {
            let path = f.unwrap().path();
            let original = fs::read(&path).unwrap();
            fs::write(&path, b"swapped").unwrap();
            let out = run(&["verify", "DIR"], dir.path());
            if stdout(&out).contains("affects #1, #2") {
                shared_chunk = Some((path, out));
                break;
            }
            fs::write(&path, original).unwrap();
        }
        if shared_chunk.is_some() {
            break;
        }
    }
    let (path, out) = shared_chunk.expect("a chunk both checkpoints list");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("DAMAGED    chunk ") && l.contains(name)),
        "{text}"
    );
    let v = json(&run(&["verify", "DIR", "--json"], dir.path()));
    assert_eq!(v["damaged_chunks"].as_array().unwrap().len(), 1);
    let damaged = &v["damaged_chunks"][0];
    assert!(
        damaged["chunk"].as_str().unwrap().ends_with(name),
        "{damaged}"
    );
    assert_eq!(damaged["checkpoints"], serde_json::json!([1, 2]));
}

/// Checkpoints written the way `mixed_dir` writes them, into `store`:
/// #1 old schema, #2 good, #3 corrupt, #4 truncated, #5 good.
fn write_mixed(store: impl Store + 'static) {
    let ckpt = Checkpointer::new(store).unwrap().keep_last(100);
    ckpt.save(&ProcessorV1 {
        processed: 1,
        log: vec!["a".into()],
    })
    .unwrap();
    for n in 2..=5 {
        ckpt.save(&v2(n)).unwrap();
    }
}

/// The `s3://` URL of `prefix` in the test bucket.
fn s3_url(prefix: &str) -> String {
    let bucket = std::env::var("CHECKPOINT_S3_BUCKET").unwrap_or_else(|_| "checkpoint-test".into());
    format!("s3://{bucket}/{prefix}")
}

/// Runs the command against the test server, with its credentials in the
/// usual AWS variables and nothing else of the caller's AWS settings.
fn run_s3(args: &[&str], endpoint: &str) -> Output {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| "checkpoint".to_owned());
    let mut command = Command::new(env!("CARGO_BIN_EXE_checkpoint"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("AWS_")) {
        command.env_remove(name);
    }
    command
        .args(args)
        .args(["--endpoint", endpoint])
        .env("AWS_ACCESS_KEY_ID", var("CHECKPOINT_S3_ACCESS_KEY_ID"))
        .env(
            "AWS_SECRET_ACCESS_KEY",
            var("CHECKPOINT_S3_SECRET_ACCESS_KEY"),
        )
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap()
}

#[test]
fn list_inspect_diff_and_verify_read_an_s3_prefix() {
    let prefix = unique("cli");
    let Some(store) = s3_store_at("cli_on_s3", &prefix) else {
        return;
    };
    let endpoint = s3_endpoint("cli_on_s3").unwrap();
    write_mixed(store);
    // Damage #3 and #4 as `mixed_dir` does, through the store.
    let store = s3_store_at("cli_on_s3", &prefix).unwrap();
    let key = |seq: u64| format!("{seq:020}.ckpt");
    let mut bytes = store.get(&key(3)).unwrap().unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0x01;
    overwrite(&store, &key(3), &bytes);
    let bytes = store.get(&key(4)).unwrap().unwrap();
    overwrite(&store, &key(4), &bytes[..bytes.len() - 7]);
    store
        .put_if_absent("notes.txt", b"not a checkpoint")
        .unwrap();
    let url = s3_url(&prefix);

    let out = run_s3(&["list", &url], &endpoint);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let statuses: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "ok", "ok", "truncated", "ok"], "{text}");
    let v = json(&run_s3(&["list", &url, "--json"], &endpoint));
    assert_eq!(v["dir"], url.as_str());
    assert_eq!(v["checkpoints"][0]["file"], format!("{url}/{}", key(1)));
    assert_eq!(v["checkpoints"][0]["type"], "Processor");

    let out = run_s3(&["inspect", &url], &endpoint);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("seq       5\n"), "{text}");
    assert!(text.contains("checksum  ok\n"), "{text}");
    assert!(
        text.contains(&format!("file      {url}/{}", key(5))),
        "{text}"
    );
    let v = json(&run_s3(&["inspect", &url, "4", "--json"], &endpoint));
    assert_eq!(v["status"], "truncated");
    assert_eq!(v["frames"].as_array().unwrap().len(), 2);

    let out = run_s3(&["diff", &url, "1", "5"], &endpoint);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "#1 (Processor) -> #5 (Processor): 2 changes\n  + field `last_time: u64`\n  + field \
         `count: usize`\n"
    );

    let out = run_s3(&["verify", &url], &endpoint);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("CORRUPT    #3 checkpoint #3"), "{text}");
    assert!(text.contains("TRUNCATED  #4 checkpoint #4"), "{text}");
    assert!(
        text.ends_with(&format!("5 checkpoints in {url}: 2 damaged\n")),
        "{text}"
    );
    assert!(
        out.stderr.is_empty(),
        "no progress bar off a terminal: {}",
        stderr(&out)
    );
    let v = json(&run_s3(&["verify", &url, "--json"], &endpoint));
    assert_eq!(
        (v["checked"].as_u64(), v["problems"].as_u64()),
        (Some(5), Some(2))
    );
    assert_eq!(v["checkpoints"][2]["status"], "corrupt");

    let out = run_s3(&["inspect", &url, "9"], &endpoint);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!("checkpoint: {url} holds no checkpoint #9\n")
    );
}

#[test]
fn an_intact_s3_prefix_verifies_clean_and_an_empty_one_lists_empty() {
    let prefix = unique("cli-good");
    let Some(store) = s3_store_at("cli_s3_good", &prefix) else {
        return;
    };
    let endpoint = s3_endpoint("cli_s3_good").unwrap();
    let ckpt = Checkpointer::new(store).unwrap();
    ckpt.save(&v2(1)).unwrap();
    ckpt.save(&v2(2)).unwrap();
    let out = run_s3(&["verify", &s3_url(&prefix)], &endpoint);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).ends_with(": all ok\n"), "{}", stdout(&out));

    let empty = s3_url(&unique("cli-empty"));
    let out = run_s3(&["list", &empty], &endpoint);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("no checkpoints in {empty}\n"));
}

#[test]
fn a_bad_url_or_a_missing_bucket_exits_with_2_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    for (url, says) in [
        ("s3://", "names no bucket"),
        ("s3:///prefix", "names no bucket"),
        (
            "gs://bucket/prefix",
            "neither a directory nor an `s3://BUCKET/PREFIX` URL",
        ),
    ] {
        let out = run(&["list", url], dir.path());
        assert_eq!(out.status.code(), Some(2), "{url}");
        let err = stderr(&out);
        assert!(
            err.starts_with("checkpoint: ") && err.contains(says),
            "{url}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let out = run(
        &[
            "list",
            "s3://bucket/p",
            "--endpoint",
            "http://192.0.2.1:9000",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("plain http to another machine"),
        "{}",
        stderr(&out)
    );

    let Some(endpoint) = s3_endpoint("cli_missing_bucket") else {
        return;
    };
    let missing = format!("s3://{}/prefix", unique("no-such-bucket"));
    for cmd in ["list", "verify", "inspect"] {
        let out = run_s3(&[cmd, &missing], &endpoint);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("checkpoint: cannot list {missing}: NoSuchBucket")),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(out.stdout.is_empty());
    }
    let out = run_s3(&["group", "list", &missing], &endpoint);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("NoSuchBucket"), "{}", stderr(&out));
}

/// Group `orders`: epoch 1 committed with parts `a` and `b`, epoch 2 with
/// part `a` only, not committed.
fn write_groups(store: impl Store + 'static) {
    let group = Group::new(store, "orders").unwrap();
    let parts = ["a", "b"].map(|id| group.save_part(1, id, &NodeState::at(id, 1)).unwrap());
    group.commit(1, &["a", "b"], &parts).unwrap();
    group.save_part(2, "a", &NodeState::at("a", 2)).unwrap();
}

fn check_group_list(text: Output, json_out: Output) {
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    assert_eq!(
        stdout(&text),
        "GROUP   EPOCH  COMMITTED  PARTS\n\
         orders      1  yes        a, b\n\
         orders      2  no         a\n"
    );
    assert_eq!(json_out.status.code(), Some(0), "{}", stderr(&json_out));
    let v = json(&json_out);
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["name"], "orders");
    let epochs = groups[0]["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 2);
    assert_eq!(
        (
            &epochs[0]["epoch"],
            &epochs[0]["committed"],
            &epochs[0]["parts"]
        ),
        (&1.into(), &true.into(), &serde_json::json!(["a", "b"]))
    );
    assert_eq!(
        (
            &epochs[1]["epoch"],
            &epochs[1]["committed"],
            &epochs[1]["parts"]
        ),
        (&2.into(), &false.into(), &serde_json::json!(["a"]))
    );
}

#[test]
fn group_list_shows_each_epoch_its_parts_and_whether_committed() {
    let dir = tempfile::tempdir().unwrap();
    write_groups(DirStore::open(dir.path()).unwrap());
    // Plain checkpoints beside the group are not part of it.
    Checkpointer::open(dir.path())
        .unwrap()
        .save(&v2(1))
        .unwrap();
    check_group_list(
        run(&["group", "list", "DIR"], dir.path()),
        run(&["group", "list", "DIR", "--json"], dir.path()),
    );

    let empty = tempfile::tempdir().unwrap();
    let out = run(&["group", "list", "DIR"], empty.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("no groups in "),
        "{}",
        stdout(&out)
    );
    let out = run(&["group", "list", "DIR"], &empty.path().join("nope"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("checkpoint: cannot read directory"));
}

#[test]
fn group_list_reads_an_s3_prefix() {
    let prefix = unique("cli-group");
    let Some(store) = s3_store_at("cli_group_s3", &prefix) else {
        return;
    };
    let endpoint = s3_endpoint("cli_group_s3").unwrap();
    write_groups(store);
    let url = s3_url(&prefix);
    check_group_list(
        run_s3(&["group", "list", &url], &endpoint),
        run_s3(&["group", "list", &url, "--json"], &endpoint),
    );
    // `verify` reads every part there too.
    let out = run_s3(&["verify", &url], &endpoint);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("ok         group `orders` epoch 2 part `a`\n")
            && text.ends_with(&format!(
                "0 checkpoints and 3 group parts in {url}: all ok\n"
            )),
        "{text}"
    );
}

/// On a terminal `verify` draws its progress bar on stderr, then clears it;
/// off a terminal (every other test) stderr stays empty.
#[cfg(unix)]
#[test]
fn verify_draws_a_progress_bar_on_a_terminal_only() {
    let dir = good_dir();
    let out = run(&["verify", "DIR"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));

    // `script` runs the command on a pseudo-terminal.
    let command = format!(
        "{} verify {}",
        env!("CARGO_BIN_EXE_checkpoint"),
        dir.path().display()
    );
    let Ok(out) = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
    else {
        eprintln!("skipping: no `script` to run the command on a terminal");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("verifying #1 (1 of 2)"), "{text:?}");
    assert!(text.contains("2 checkpoints in"), "{text:?}");
}

/// `verify` reads every group part as a commit checks it: a damaged whole
/// part, a missing part its commit record lists, and a damaged chunk of an
/// incremental part are each named, with the part a chunk affects.
#[test]
fn verify_checks_every_group_part_and_names_the_damaged_ones() {
    let dir = tempfile::tempdir().unwrap();
    write_groups(DirStore::open(dir.path()).unwrap());
    let big = Group::new(DirStore::open(dir.path()).unwrap(), "big")
        .unwrap()
        .incremental(true);
    let state = ProcessorV2 {
        log: (0..20_000)
            .map(|i| format!("message {i} of the log"))
            .collect(),
        ..v2(7)
    };
    let part = big.save_part(1, "a", &state).unwrap();
    big.commit(1, &["a"], &[part]).unwrap();

    let out = run(&["verify", "DIR"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    for part in [
        "group `big` epoch 1 part `a`",
        "group `orders` epoch 1 part `a`",
        "group `orders` epoch 1 part `b`",
        "group `orders` epoch 2 part `a`",
    ] {
        assert!(text.contains(&format!("ok         {part}\n")), "{text}");
    }
    assert!(
        text.contains("\n0 checkpoints and 4 group parts in ") && text.ends_with(": all ok\n"),
        "{text}"
    );

    // A flipped byte in a whole part, and a part of a committed epoch gone.
    let parts = dir
        .path()
        .join("group/orders/parts")
        .join(format!("{:020}", 1));
    let b = parts.join("b");
    let mut bytes = fs::read(&b).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0x20;
    fs::write(&b, bytes).unwrap();
    fs::remove_file(parts.join("a")).unwrap();
    // One chunk of the incremental part swapped for other bytes.
    let chunk = fs::read_dir(dir.path().join("chunks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.file_name().unwrap().len() == 2)
        .flat_map(|sub| fs::read_dir(sub).unwrap().map(|e| e.unwrap().path()))
        .next()
        .expect("the incremental part's chunks");
    fs::write(&chunk, b"swapped").unwrap();

    let out = run(&["verify", "DIR"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{text}"))
    };
    assert!(
        line("DAMAGED    group `orders` epoch 1 part `b`: ").contains("damaged"),
        "{text}"
    );
    assert!(
        line("DAMAGED    group `orders` epoch 1 part `a`: ").contains("missing"),
        "{text}"
    );
    let name = chunk.file_name().unwrap().to_str().unwrap();
    assert!(
        line("DAMAGED    group `big` epoch 1 part `a`: ").contains(name),
        "{text}"
    );
    let damaged = line("DAMAGED    chunk ");
    assert!(
        damaged.contains(name) && damaged.ends_with("affects group `big` epoch 1 part `a`"),
        "{text}"
    );
    line("ok         group `orders` epoch 2 part `a`");
    assert!(
        text.ends_with(" damaged\n") && text.contains(": 3 damaged"),
        "{text}"
    );

    let v = json(&run(&["verify", "DIR", "--json"], dir.path()));
    assert_eq!(v["problems"], 3);
    let parts = v["group_parts"].as_array().unwrap();
    assert_eq!(parts.len(), 4);
    let bad: Vec<(&str, u64, &str, bool)> = parts
        .iter()
        .filter(|p| !p["problem"].is_null())
        .map(|p| {
            (
                p["group"].as_str().unwrap(),
                p["epoch"].as_u64().unwrap(),
                p["participant"].as_str().unwrap(),
                p["committed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        bad,
        [
            ("big", 1, "a", true),
            ("orders", 1, "b", true),
            ("orders", 1, "a", true)
        ]
    );
    let chunks = v["damaged_chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), 1);
    assert!(chunks[0]["chunk"].as_str().unwrap().ends_with(name));
    assert_eq!(chunks[0]["checkpoints"], serde_json::json!([]));
    assert_eq!(
        chunks[0]["group_parts"],
        serde_json::json!([{"group": "big", "epoch": 1, "participant": "a"}])
    );
}
