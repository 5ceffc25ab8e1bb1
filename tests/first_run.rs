//! The main example as a user meets it: two runs over one directory, as two
//! processes, the second resuming where the first stopped; then its
//! `--missing-field` mode explaining a failed restore.

use std::path::Path;
use std::process::Command;

/// Runs `cargo run --example message_processor -- ARGS` and returns its
/// output, failing on a failed run.
fn message_processor(args: &[&str]) -> String {
    let mut cargo = Command::new(env!("CARGO"));
    cargo.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "run",
        "--quiet",
        "--example",
        "message_processor",
    ]);
    // The features this test was built with, so no other build is needed.
    if cfg!(feature = "object-store") {
        cargo.args(["--features", "object-store"]);
    }
    let out = cargo.arg("--").args(args).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "message_processor {args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

fn path(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

#[test]
fn a_second_run_resumes_and_a_new_field_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");

    let first = message_processor(&[path(&dir)]);
    assert!(first.contains("(created now)"), "{first}");
    assert!(first.contains("no checkpoint yet"), "{first}");
    assert!(first.contains("saved checkpoint #3 "), "{first}");
    assert!(
        first.contains(&format!("checkpoint list {}", path(&dir))),
        "the command that looks inside: {first}"
    );
    assert!(
        first.contains(&format!(
            "cargo run --example message_processor -- {} --missing-field",
            path(&dir)
        )),
        "the command that shows a failure: {first}"
    );

    let second = message_processor(&[path(&dir)]);
    assert!(
        second.contains("resumed at checkpoint #3 with 3 messages"),
        "{second}"
    );
    assert!(
        second.contains("index rebuilt from the log: message 1001 is \"message 1\""),
        "{second}"
    );
    assert!(second.contains("saved checkpoint #4 "), "{second}");
    assert!(second.contains("saved checkpoint #6 "), "{second}");

    // The command printed for looking inside without installing works as
    // printed.
    let list = second
        .lines()
        .find_map(|line| line.split_once("(or: ")?.1.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no `checkpoint-cli` command printed: {second}"));
    let mut words = list.split_whitespace();
    assert_eq!(words.next(), Some("cargo"), "{list}");
    let out = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(words)
        .output()
        .unwrap();
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "`{list}` failed: {listed}");
    assert_eq!(
        listed.lines().count(),
        1 + 6,
        "a header and #1 to #6: {listed}"
    );
    assert!(
        listed
            .lines()
            .all(|line| line.ends_with(" ok") || line.starts_with("SEQ")),
        "{listed}"
    );

    let failure = message_processor(&[path(&dir), "--missing-field"]);
    let error = failure
        .lines()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .unwrap_or_else(|| panic!("no error printed: {failure}"));
    assert!(
        error.starts_with("checkpoint #6 (")
            && error.contains("of `MessageProcessor` has no field `total_bytes`")
            && error.ends_with("add `#[checkpoint(default = ...)]` to `total_bytes` to restore checkpoints written before it existed"),
        "{error}"
    );
    // Six messages "message 1" .. "message 6" of 9 bytes each.
    assert!(
        failure.contains("restored checkpoint #6: 6 messages")
            && failure.contains("total_bytes = 54"),
        "{failure}"
    );

    // Nothing was written by the failure mode; `--fresh` starts over.
    let fresh = message_processor(&[path(&dir), "--fresh"]);
    assert!(fresh.contains("--fresh: deleted 6 checkpoints"), "{fresh}");
    assert!(fresh.contains("saved checkpoint #1 "), "{fresh}");
}

#[test]
fn the_failure_mode_writes_checkpoints_first_in_an_empty_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = message_processor(&[path(tmp.path()), "--missing-field"]);
    assert!(out.contains("saved checkpoint #3 "), "{out}");
    assert!(out.contains("has no field `total_bytes`"), "{out}");
    assert!(out.contains("restored checkpoint #3: 3 messages"), "{out}");
}
