//! The object-store tests' server never reaches beyond this machine:
//! `scripts/seaweedfs.sh check PID` passes only for a process that runs with
//! SeaweedFS telemetry off and listens on 127.0.0.1 alone, and `status`
//! applies it to the running server.
#![cfg(target_os = "linux")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/seaweedfs.sh");

/// Runs the script that started the server the tests use (its `env` names
/// itself), else this checkout's.
fn script(args: &[&str]) -> Output {
    let script = std::env::var("CHECKPOINT_SEAWEEDFS_SCRIPT").unwrap_or_else(|_| SCRIPT.into());
    Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("run scripts/seaweedfs.sh")
}

/// A process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process that listens on `host` and whose command line holds `args`.
fn listener(host: &str, args: &[&str]) -> Process {
    let program = format!(
        "import socket, time\n\
         s = socket.socket()\n\
         s.bind(('{host}', 0))\n\
         s.listen()\n\
         print('ready', flush=True)\n\
         time.sleep(60)\n"
    );
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(program)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/seaweedfs.sh needs it too)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    Process(child)
}

fn check(process: &Process) -> Output {
    script(&["check", &process.0.id().to_string()])
}

#[test]
fn check_accepts_telemetry_off_on_loopback() {
    let process = listener("127.0.0.1", &["-master.telemetry=false"]);
    let out = check(&process);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_rejects_a_server_without_the_telemetry_switch() {
    let process = listener("127.0.0.1", &["-master.telemetry=true"]);
    let out = check(&process);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("without -master.telemetry=false"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_rejects_a_listener_beyond_127_0_0_1() {
    let process = listener("127.0.0.2", &["-master.telemetry=false"]);
    let out = check(&process);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("non-loopback address"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn running_server_has_telemetry_off_and_listens_on_loopback_only() {
    if common::group::s3_endpoint("running_server_has_telemetry_off").is_none() {
        return;
    }
    let out = script(&["check"]);
    assert!(
        out.status.success(),
        "the running SeaweedFS fails the check: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_without_a_pid_fails_instead_of_reading_the_kernels_command_line() {
    // With no server started (no pid file), the check once ran on an empty
    // pid, read `/proc//cmdline` (the kernel's command line) and reported
    // on it as if it were the server.
    let nothing_started = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(SCRIPT)
        .arg("check")
        .env("CHECKPOINT_SEAWEEDFS_DIR", nothing_started.path())
        .output()
        .expect("run scripts/seaweedfs.sh");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no server started by this script"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
