//! A process killed with SIGKILL at random moments during a loop of saves
//! leaves a store that restores a state it saved, numbering goes on, and
//! the next open leaves no temporary file behind; on S3, where saves larger
//! than a part stream as multipart uploads claimed by their first bytes,
//! a kill leaves at most a claim that restores pass over; incremental,
//! compressed saves to S3 killed during saves and chunk sweeps leave
//! every checkpoint whole with its chunks.
#![cfg(unix)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::collections::BTreeSet;
use std::path::Path;

use checkpoint::inspect::{self, Status};
use checkpoint::{Checkpointer, Restored, Store};
use common::blocks::{chunk_keys, Blocks};
use common::group::{s3_store_at, unique};
use common::Journal;

const CHILD_ENV: &str = "CHECKPOINT_CRASH_CHILD_DIR";
const S3_CHILD_ENV: &str = "CHECKPOINT_CRASH_CHILD_S3_PREFIX";

/// Where the kills land: a xorshift sequence seeded from the clock.
struct Moments(u64);

impl Moments {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Moments(u64::from(nanos) | 1)
    }

    /// A moment from `min` to `min + spread` milliseconds on.
    fn next(&mut self, min: u64, spread: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(min + self.0 % spread)
    }
}

/// Runs the test child `name` (with `env` set to `at`) for `after`, then
/// kills it with SIGKILL.
fn run_and_kill(name: &str, env: &str, at: &Path, after: Duration) {
    let mut child = common::spawn_test_child(name, env, at, Stdio::null());
    std::thread::sleep(after);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// The child: resumes from the store, then saves forever. Does nothing when
/// run as an ordinary test.
#[test]
fn child_saves_in_a_loop() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let ckpt = Checkpointer::open(dir).unwrap().keep_last(3);
    let mut state = ckpt
        .restore_latest::<Journal>()
        .unwrap()
        .map(|r| r.state)
        .unwrap_or_default();
    loop {
        state = state.next();
        ckpt.save(&state).unwrap();
    }
}

#[test]
fn killed_saver_leaves_a_restorable_store() {
    let dir = common::temp_dir();
    let mut moments = Moments::new();
    let started = Instant::now();
    let mut last_seq = 0;
    let mut last_count = 0;
    for kill in 0..20 {
        run_and_kill(
            "child_saves_in_a_loop",
            CHILD_ENV,
            dir.path(),
            moments.next(20, 120),
        );

        let ckpt = Checkpointer::open(dir.path()).unwrap();
        // The killed writer held no lock any more: opening reclaimed its
        // temporary file, whatever moment the kill hit.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "kill {kill}: {leftovers:?} left");
        let Some(restored) = ckpt.restore_latest::<Journal>().unwrap() else {
            continue;
        };
        assert!(restored.state.is_consistent(), "kill {kill}: torn state");
        assert!(
            restored.meta.skipped.is_empty(),
            "kill {kill}: {:?}",
            restored.meta.skipped
        );
        assert!(restored.meta.seq >= last_seq, "kill {kill}: went back");
        assert!(restored.state.count >= last_count, "kill {kill}: went back");
        last_seq = restored.meta.seq;
        last_count = restored.state.count;
        let newest_listed = ckpt.list().unwrap().last().unwrap().seq;
        assert!(newest_listed >= last_seq);
    }
    assert!(last_seq > 0, "the child never saved");
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    let next = ckpt.save(&Journal::default().next()).unwrap().seq;
    assert!(next > last_seq);
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// The child of the S3 test: resumes from the prefix, then saves 8 MiB
/// states (two parts each) forever, one block changed each time.
#[test]
fn child_saves_large_states_to_s3_in_a_loop() {
    let Ok(prefix) = std::env::var(S3_CHILD_ENV) else {
        return;
    };
    let store = s3_store_at("crash child", &prefix).expect("the parent found a server");
    let ckpt = Checkpointer::new(store).unwrap().keep_last(3);
    let mut state = ckpt
        .restore_latest::<Blocks>()
        .unwrap()
        .map_or_else(|| Blocks::new(8, 1 << 20), |r| r.state);
    for i in 0.. {
        state.change(i % 8);
        ckpt.save(&state).unwrap();
    }
}

/// Where the restore after kill `kill` stands (its number and the version
/// sum of its state, which grows by one per save), checked to be a whole
/// state at or after `last`.
fn onward(kill: usize, restored: &Restored<Blocks>, last: (u64, u64)) -> (u64, u64) {
    assert!(restored.state.is_consistent(), "kill {kill}: torn state");
    let now = (restored.meta.seq, restored.state.versions.iter().sum());
    assert!(
        now >= last,
        "kill {kill}: went back from {last:?} to {now:?}"
    );
    now
}

#[test]
fn killed_s3_saver_leaves_a_restorable_prefix() {
    let prefix = unique("crash");
    let Some(store) = s3_store_at("killed_s3_saver", &prefix) else {
        return;
    };
    let mut moments = Moments::new();
    let mut last = (0, 0);
    let mut claims_seen = 0;
    for kill in 0..8 {
        run_and_kill(
            "child_saves_large_states_to_s3_in_a_loop",
            S3_CHILD_ENV,
            Path::new(&prefix),
            moments.next(300, 700),
        );

        let ckpt = Checkpointer::new(store.clone()).unwrap();
        let Some(restored) = ckpt.restore_latest::<Blocks>().unwrap() else {
            continue;
        };
        // Passed over, if anything: a claim whose upload never completed,
        // which reads as a checkpoint cut short.
        for skipped in &restored.meta.skipped {
            assert!(skipped.seq > restored.meta.seq, "kill {kill}: {skipped:?}");
            assert!(
                skipped.reason.contains("truncated"),
                "kill {kill}: {skipped:?}"
            );
            claims_seen += 1;
        }
        last = onward(kill, &restored, last);
    }
    assert!(last.0 > 0, "the child never saved");
    let ckpt = Checkpointer::new(store.clone()).unwrap().keep_last(3);
    let mut state = ckpt.restore_latest::<Blocks>().unwrap().unwrap().state;
    // Saves go on above any claim, and retention retires the claims.
    for i in 0..4 {
        state.change(i);
        assert!(ckpt.save(&state).unwrap().seq > last.0);
    }
    let restored = ckpt.restore_latest::<Blocks>().unwrap().unwrap();
    assert!(restored.meta.skipped.is_empty());
    assert_eq!(restored.state, state);
    assert_eq!(ckpt.list().unwrap().len(), 3);
    eprintln!("{claims_seen} claims passed over");
}

const S3_INCREMENTAL_CHILD_ENV: &str = "CHECKPOINT_CRASH_CHILD_S3_INCREMENTAL_PREFIX";
const LEASE: Duration = Duration::from_millis(1500);

/// The incremental, compressed checkpointer both sides of the S3
/// incremental test use: retention deletes checkpoints and sweeps chunks.
fn incremental(store: checkpoint::store::ObjectStore) -> Checkpointer {
    Checkpointer::new(store)
        .unwrap()
        .incremental(true)
        .compression(checkpoint::Compression::zstd(1))
        .chunk_lease(LEASE)
        .keep_last(2)
}

/// The child of the S3 incremental test: resumes from the prefix, then
/// saves forever, one block of a 1 MiB state changed each time.
#[test]
fn child_saves_incrementally_to_s3_in_a_loop() {
    let Ok(prefix) = std::env::var(S3_INCREMENTAL_CHILD_ENV) else {
        return;
    };
    let store = s3_store_at("crash child", &prefix).expect("the parent found a server");
    let ckpt = incremental(store);
    let mut state = ckpt
        .restore_latest::<Blocks>()
        .unwrap()
        .map_or_else(|| Blocks::new(16, 64 << 10), |r| r.state);
    for i in 0.. {
        state.change(i % 16);
        ckpt.save(&state).unwrap();
    }
}

/// The chunks every checkpoint under the prefix lists, each checkpoint
/// inspected with its chunks and found whole.
fn listed_chunks_on(store: &checkpoint::store::ObjectStore) -> BTreeSet<String> {
    let mut listed = BTreeSet::new();
    for meta in Checkpointer::new(store.clone()).unwrap().list().unwrap() {
        let found = inspect::inspect_key(store, &meta.key, meta.seq).unwrap();
        assert_eq!(
            found.status(),
            Status::Ok,
            "#{}: {:?}",
            meta.seq,
            found.problem
        );
        let chunks = found.chunks.expect("an incremental checkpoint");
        listed.extend(chunks.chunks.into_iter().map(|c| c.key));
    }
    listed
}

/// SIGKILL during incremental, compressed saves to S3 and the chunk sweeps
/// of their retention: every checkpoint left is whole with its chunks, the
/// newest restores a state at or after the last one, and once the killed
/// processes' markers are stale a save sweeps every chunk no checkpoint
/// lists.
#[test]
fn killed_incremental_s3_saver_loses_nothing_committed() {
    let prefix = unique("crash-incremental");
    let Some(store) = s3_store_at("killed_incremental_s3_saver", &prefix) else {
        return;
    };
    let mut moments = Moments::new();
    let mut last = (0, 0);
    for kill in 0..10 {
        if kill >= 6 {
            // Killed markers are stale by now: sweeps delete rather than
            // wait, and the kill may land while they do.
            std::thread::sleep(LEASE);
        }
        run_and_kill(
            "child_saves_incrementally_to_s3_in_a_loop",
            S3_INCREMENTAL_CHILD_ENV,
            Path::new(&prefix),
            moments.next(400, 800),
        );
        // What the kill interrupted, for the log: a save (an intent left)
        // or a sweep (a marker left).
        eprintln!(
            "kill {kill}: {} intents, {} sweep markers left",
            store.list("chunks/intents/").unwrap().len(),
            store.list("chunks/sweeping/").unwrap().len(),
        );

        listed_chunks_on(&store);
        let ckpt = Checkpointer::new(store.clone()).unwrap();
        let Some(restored) = ckpt.restore_latest::<Blocks>().unwrap() else {
            continue;
        };
        assert!(
            restored.meta.skipped.is_empty(),
            "kill {kill}: {:?}",
            restored.meta.skipped
        );
        last = onward(kill, &restored, last);
    }
    assert!(last.0 > 0, "the child never saved");
    eprintln!("last restored: #{}, {} changes", last.0, last.1);
    std::thread::sleep(LEASE);
    let ckpt = incremental(store.clone());
    let mut state = ckpt.restore_latest::<Blocks>().unwrap().unwrap().state;
    state.change(0);
    ckpt.save(&state).unwrap();
    assert_eq!(chunk_keys(&store), listed_chunks_on(&store));
    assert!(store.list("chunks/intents/").unwrap().is_empty());
    assert!(store.list("chunks/sweeping/").unwrap().is_empty());
    assert_eq!(
        ckpt.restore_latest::<Blocks>().unwrap().unwrap().state,
        state
    );
}
