//! Crash tests of the group protocol with real OS processes, all on
//! loopback and bounded in time:
//!
//! - participants SIGKILLed at random moments while a coordinator commits:
//!   after every kill each participant restores the same committed epoch,
//!   holding exactly what it saved for it;
//! - a coordinator killed between the parts and the commit: the epoch stays
//!   uncommitted and is never restored;
//! - the object-store server stopped during saves: saves fail, nothing
//!   committed is lost, saving works again once it is back.
//!
//! Child processes are this test binary run again with `GROUP_FAULT_ROLE`.
//! The S3 variants need `scripts/seaweedfs.sh start` and its `env`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checkpoint::group::{Group, GroupError};
use checkpoint::{DirStore, Store};
use common::group::NodeState;

const GROUP: &str = "faults";
const IDS: [&str; 3] = ["p0", "p1", "p2"];

/// Where the children find the store: `dir:PATH` or `s3:PREFIX`.
fn open_store(spec: &str) -> Arc<dyn Store> {
    if let Some(path) = spec.strip_prefix("dir:") {
        return Arc::new(DirStore::open(path).unwrap());
    }
    if let Some(prefix) = spec.strip_prefix("s3:") {
        return Arc::new(common::group::s3_store_at("fault child", prefix).expect("S3 is up"));
    }
    panic!("unknown store `{spec}`")
}

/// Entry point of the child processes; does nothing in a normal run.
#[test]
#[ignore = "entry point of the child processes of the fault tests"]
fn fault_child() {
    let Ok(role) = std::env::var("GROUP_FAULT_ROLE") else {
        return;
    };
    let store = open_store(&std::env::var("GROUP_FAULT_STORE").unwrap());
    let group = Group::from_shared(store, GROUP).unwrap();
    match role.as_str() {
        "participant" => participant(&group, &std::env::var("GROUP_FAULT_ID").unwrap()),
        "stalled-coordinator" => stalled_coordinator(&group),
        other => panic!("unknown role {other}"),
    }
}

/// Restores, checks what it got, then saves one part per epoch forever.
fn participant(group: &Group, id: &str) -> ! {
    match group.restore_latest::<NodeState>(id) {
        Ok(Some(restored)) if restored.state != NodeState::at(id, restored.epoch) => {
            eprintln!("{id} restored the wrong state for epoch {}", restored.epoch);
            std::process::exit(3)
        }
        Ok(_) => {}
        Err(e) => {
            eprintln!("{id} failed to restore: {e}");
            std::process::exit(3)
        }
    }
    loop {
        let epoch = latest(group) + 1;
        match group.save_part(epoch, id, &NodeState::at(id, epoch)) {
            Ok(_) | Err(GroupError::PartExists { .. }) => {}
            Err(GroupError::EpochSuperseded { .. }) => continue,
            Err(e) => {
                eprintln!("{id} failed to save epoch {epoch}: {e}");
                std::process::exit(4)
            }
        }
        while latest(group) < epoch {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Saves every part of the next epoch, says so, and stalls before the commit.
fn stalled_coordinator(group: &Group) -> ! {
    let epoch = latest(group) + 1;
    for id in IDS {
        group
            .save_part(epoch, id, &NodeState::at(id, epoch))
            .unwrap();
    }
    println!("parts-saved {epoch}");
    std::thread::sleep(Duration::from_secs(60));
    group.commit_verifying(epoch, &IDS).unwrap();
    std::process::exit(0)
}

fn latest(group: &Group) -> u64 {
    group.latest_committed_epoch().unwrap().unwrap_or(0)
}

/// Children killed when the test ends, however it ends.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(role: &str, store: &str, id: &str, stdout: Stdio) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "fault_child",
            "--nocapture",
            "--quiet",
        ])
        .env("GROUP_FAULT_ROLE", role)
        .env("GROUP_FAULT_STORE", store)
        .env("GROUP_FAULT_ID", id)
        .env("RUST_BACKTRACE", "0")
        .stdout(stdout)
        .spawn()
        .unwrap()
}

/// xorshift64: enough randomness for kill timing, reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        let seed = std::env::var("GROUP_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("kill timing seed: GROUP_FAULT_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What a kill run did, printed for the record.
#[derive(Debug, Default)]
struct KillReport {
    kills: usize,
    restores_checked: usize,
    epochs_committed: u64,
    children_failed: usize,
}

fn kill_participants(
    spec: &str,
    kills: usize,
    max_pause_ms: u64,
    time_limit: Duration,
) -> KillReport {
    let group = Group::from_shared(open_store(spec), GROUP).unwrap();
    let mut children = Children(
        IDS.iter()
            .map(|id| spawn("participant", spec, id, Stdio::null()))
            .collect(),
    );
    let gate = Mutex::new(());
    let stop = AtomicBool::new(false);
    let pause = AtomicBool::new(false);
    let started = Instant::now();
    let mut rng = Rng::seeded();
    let mut report = KillReport::default();
    std::thread::scope(|s| {
        // The coordinator: commit the next epoch as soon as its parts are
        // all there, and collect garbage now and then. The parts are saved
        // by other processes, so it reads them back (`commit_verifying`).
        let coordinator = s.spawn(|| {
            let mut commits = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if pause.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
                let held = gate.lock().unwrap();
                let epoch = latest(&group) + 1;
                match group.commit_verifying(epoch, &IDS) {
                    Ok(_) => {
                        commits += 1;
                        if commits % 16 == 0 {
                            group.collect_garbage(4).unwrap();
                        }
                    }
                    Err(GroupError::PartMissing { .. }) => {
                        drop(held);
                        std::thread::sleep(Duration::from_micros(500));
                    }
                    Err(e) => panic!("commit of epoch {epoch} failed: {e}"),
                }
            }
        });
        let mut last_seen = 0;
        while report.kills < kills {
            assert!(
                started.elapsed() < time_limit,
                "took too long: {report:?} after {:?}",
                started.elapsed()
            );
            std::thread::sleep(Duration::from_millis(rng.below(max_pause_ms + 1)));
            let victim = rng.below(IDS.len() as u64) as usize;
            let child = &mut children.0[victim];
            // A participant that exited by itself failed a check.
            if let Some(status) = child.try_wait().unwrap() {
                report.children_failed += 1;
                panic!("participant {} exited by itself: {status}", IDS[victim]);
            }
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            report.kills += 1;
            {
                // Hold the coordinator still so "latest" is one answer.
                pause.store(true, Ordering::Relaxed);
                let _held = gate.lock().unwrap();
                let epoch = latest(&group);
                assert!(
                    epoch >= last_seen,
                    "committed epoch went back from {last_seen} to {epoch}"
                );
                last_seen = epoch;
                for id in IDS {
                    match group.restore_latest::<NodeState>(id).unwrap() {
                        Some(r) => {
                            assert_eq!(r.epoch, epoch, "{id} restored another epoch");
                            assert_eq!(r.state, NodeState::at(id, epoch), "{id} at epoch {epoch}");
                            report.restores_checked += 1;
                        }
                        None => assert_eq!(epoch, 0),
                    }
                }
                pause.store(false, Ordering::Relaxed);
            }
            children.0[victim] = spawn("participant", spec, IDS[victim], Stdio::null());
        }
        stop.store(true, Ordering::Relaxed);
        coordinator.join().unwrap();
    });
    for (child, id) in children.0.iter_mut().zip(IDS) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("participant {id} exited by itself: {status}");
        }
    }
    report.epochs_committed = latest(&group);
    assert!(
        report.epochs_committed >= 5,
        "epochs must be committed between kills: {report:?}"
    );
    eprintln!("{spec}: {report:?} in {:?}", started.elapsed());
    report
}

/// A directory store for a test, removed when the returned guard drops.
fn dir_spec() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("dir:{}", dir.path().display());
    (dir, spec)
}

#[test]
fn killed_participants_restore_the_same_committed_epoch_on_dir_store() {
    let (_dir, spec) = dir_spec();
    kill_participants(&spec, 100, 25, Duration::from_secs(50));
}

#[test]
#[ignore = "long: 1000 kills; run with --ignored"]
fn killed_participants_long_run_on_dir_store() {
    let (_dir, spec) = dir_spec();
    kill_participants(&spec, 1000, 40, Duration::from_secs(900));
}

fn coordinator_killed_before_commit(spec: &str) {
    let group = Group::from_shared(open_store(spec), GROUP).unwrap();
    for epoch in 1..=2 {
        for id in IDS {
            group
                .save_part(epoch, id, &NodeState::at(id, epoch))
                .unwrap();
        }
        group.commit_verifying(epoch, &IDS).unwrap();
    }
    let mut children = Children(vec![spawn("stalled-coordinator", spec, "", Stdio::piped())]);
    // The test harness of the child prints its own lines around ours.
    let line = BufReader::new(children.0[0].stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .find(|line| line.starts_with("parts-saved"));
    assert_eq!(line.as_deref(), Some("parts-saved 3"));
    children.0[0].kill().unwrap();
    children.0[0].wait().unwrap();

    assert_eq!(group.latest_committed_epoch().unwrap(), Some(2));
    for id in IDS {
        let restored = group.restore_latest::<NodeState>(id).unwrap().unwrap();
        assert_eq!((restored.epoch, restored.state), (2, NodeState::at(id, 2)));
        assert!(matches!(
            group.restore::<NodeState>(3, id),
            Err(GroupError::NotCommitted { epoch: 3, .. })
        ));
    }
    // The group moves on past the orphaned epoch, which garbage collection removes.
    for id in IDS {
        group.save_part(4, id, &NodeState::at(id, 4)).unwrap();
    }
    group.commit_verifying(4, &IDS).unwrap();
    let report = group.collect_garbage(1).unwrap();
    assert_eq!(report.uncommitted_epochs, vec![3]);
    assert_eq!(
        group
            .restore_latest::<NodeState>("p1")
            .unwrap()
            .unwrap()
            .epoch,
        4
    );
}

#[test]
fn a_coordinator_killed_before_commit_leaves_the_epoch_uncommitted_on_dir_store() {
    let (_dir, spec) = dir_spec();
    coordinator_killed_before_commit(&spec);
}

mod s3 {
    use super::*;

    /// The S3 tests share one server, and one of them stops it.
    static SERVER: Mutex<()> = Mutex::new(());

    fn spec(test: &str) -> Option<String> {
        common::group::s3_endpoint(test)?;
        Some(format!("s3:{}", common::group::unique(test)))
    }

    #[test]
    fn killed_participants_restore_the_same_committed_epoch_on_s3() {
        let _server = SERVER.lock().unwrap_or_else(|e| e.into_inner());
        let Some(spec) = spec("kills-s3") else {
            return;
        };
        kill_participants(&spec, 100, 25, Duration::from_secs(50));
    }

    #[test]
    #[ignore = "long: 1000 kills on S3; run with --ignored"]
    fn killed_participants_long_run_on_s3() {
        let _server = SERVER.lock().unwrap_or_else(|e| e.into_inner());
        let Some(spec) = spec("long-kills-s3") else {
            return;
        };
        kill_participants(&spec, 1000, 40, Duration::from_secs(900));
    }

    #[test]
    fn a_coordinator_killed_before_commit_leaves_the_epoch_uncommitted_on_s3() {
        let _server = SERVER.lock().unwrap_or_else(|e| e.into_inner());
        let Some(spec) = spec("stalled-coordinator-s3") else {
            return;
        };
        coordinator_killed_before_commit(&spec);
    }

    fn server(action: &str) {
        let script = std::env::var("CHECKPOINT_SEAWEEDFS_SCRIPT").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/seaweedfs.sh").into()
        });
        let status = Command::new(script).arg(action).status().unwrap();
        assert!(status.success(), "seaweedfs.sh {action} failed");
    }

    #[test]
    fn a_server_stopped_during_saves_loses_nothing_committed() {
        let _server = SERVER.lock().unwrap_or_else(|e| e.into_inner());
        let Some(spec) = spec("server-stop-s3") else {
            return;
        };
        let group = Group::from_shared(open_store(&spec), GROUP).unwrap();
        let saving = AtomicBool::new(true);
        let (committed, failure) = std::thread::scope(|s| {
            let saver = s.spawn(|| {
                let mut committed = 0;
                loop {
                    let epoch = committed + 1;
                    let round = IDS
                        .iter()
                        .map(|id| group.save_part(epoch, id, &NodeState::at(id, epoch)))
                        .collect::<Result<Vec<_>, _>>()
                        .and_then(|parts| group.commit(epoch, &IDS, &parts).map(drop));
                    match round {
                        Ok(()) => committed = epoch,
                        Err(e) => {
                            saving.store(false, Ordering::Relaxed);
                            return (committed, e);
                        }
                    }
                }
            });
            std::thread::sleep(Duration::from_millis(500));
            server("stop");
            saver.join().unwrap()
        });
        assert!(!saving.load(Ordering::Relaxed));
        assert!(committed > 0, "some epochs were committed before the stop");
        eprintln!("save failed with the server down, as it must: {failure}");
        server("start");
        // Every committed epoch survived; the newest restores for everyone.
        let latest = group.latest_committed_epoch().unwrap().unwrap();
        assert!(
            latest >= committed,
            "lost commits: had {committed}, now {latest}"
        );
        for id in IDS {
            let restored = group.restore_latest::<NodeState>(id).unwrap().unwrap();
            assert_eq!(
                (restored.epoch, restored.state),
                (latest, NodeState::at(id, latest))
            );
        }
        // Saving works again; a part that reached the server before the stop stands.
        let next = latest + 1;
        for id in IDS {
            match group.save_part(next, id, &NodeState::at(id, next)) {
                Ok(_) | Err(GroupError::PartExists { .. }) => {}
                Err(e) => panic!("save after restart: {e}"),
            }
        }
        group.commit_verifying(next, &IDS).unwrap();
        assert_eq!(
            group
                .restore_latest::<NodeState>("p2")
                .unwrap()
                .unwrap()
                .epoch,
            next
        );
    }
}
