//! Incremental checkpoints (`Checkpointer::incremental(true)`): a manifest
//! of content-defined chunks restores as the whole checkpoint does, writes
//! little when little changed, finds and names a damaged chunk, and
//! retention deletes exactly the chunks no checkpoint lists, never one a
//! save in progress may list.
//!
//! The S3 test needs a server: see `tests/object_store.rs`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use checkpoint::inspect::{self, Status};
use checkpoint::{Checkpointer, Compression, DirStore, Error, MemStore, Store, StoreError};
use common::blocks::{block, chunk_keys, listed_blobs, Blocks, Counting};
use common::{forward_to_inner, state};

/// Whether the value at `key` is a manifest (format version 6).
fn is_manifest(store: &dyn Store, key: &str) -> bool {
    let prefix = store.get_prefix(key, 10).unwrap().unwrap();
    prefix[8..10] == 6u16.to_le_bytes()
}

/// The chunks the checkpoints of the directory store at `dir` list, each
/// checkpoint inspected whole and found intact.
fn listed_chunks(dir: &Path) -> BTreeSet<String> {
    let mut listed = BTreeSet::new();
    for (seq, path) in inspect::checkpoint_files(dir).unwrap() {
        let found = inspect::inspect_file(&path, seq).unwrap();
        assert_eq!(found.status(), Status::Ok, "#{seq}: {:?}", found.problem);
        if let Some(chunks) = found.chunks {
            listed.extend(chunks.chunks.into_iter().map(|c| c.key));
        }
    }
    listed
}

/// A marker of the chunk protocol as a process writes it, `age` ago.
fn marker(age: Duration) -> Vec<u8> {
    let since = (SystemTime::now() - age)
        .duration_since(UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09} 1\n", since.as_secs(), since.subsec_nanos()).into_bytes()
}

fn restores_like_a_whole_checkpoint(store: impl Store + 'static) {
    let state = Blocks::new(40, 10_000);
    let plain = Checkpointer::new(MemStore::new()).unwrap();
    let whole = plain.save(&state).unwrap();
    let ckpt = Checkpointer::new(store).unwrap().incremental(true);
    let meta = ckpt.save(&state).unwrap();
    assert!(is_manifest(ckpt.store(), &meta.key));
    assert_eq!(meta.size, whole.size);
    let restored = ckpt.restore::<Blocks>(meta.seq).unwrap();
    assert_eq!(restored.state, state);
    assert_eq!(restored.meta.size, whole.size);
    let latest = ckpt.restore_latest::<Blocks>().unwrap().unwrap();
    assert_eq!((latest.meta.seq, latest.state), (meta.seq, state));
    let listed = ckpt.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].size, &*listed[0].type_name),
        (whole.size, "Blocks")
    );
    // Its chunks are in a pack, but the first, which holds the header and
    // is stored alone.
    let stored = chunk_keys(ckpt.store());
    assert_eq!(
        stored,
        listed_blobs(ckpt.store(), &meta.key).into_iter().collect()
    );
    let packs = stored.iter().filter(|k| k.ends_with(".pack")).count();
    assert_eq!((stored.len(), packs), (2, 1), "{stored:?}");
}

#[test]
fn incremental_checkpoints_restore_on_a_directory() {
    let dir = common::temp_dir();
    restores_like_a_whole_checkpoint(DirStore::open(dir.path()).unwrap());
}

#[test]
fn incremental_checkpoints_restore_in_memory() {
    restores_like_a_whole_checkpoint(MemStore::new());
}

#[test]
fn incremental_checkpoints_restore_on_s3() {
    let Some(store) = common::group::s3_store("incremental_checkpoints_restore_on_s3") else {
        return;
    };
    let store = Arc::new(store);
    restores_like_a_whole_checkpoint(Arc::clone(&store));
    // Retention sweeps chunks there too.
    let ckpt = Checkpointer::new(Arc::clone(&store))
        .unwrap()
        .incremental(true)
        .keep_last(1);
    let mut state = Blocks::new(40, 10_000);
    for i in 0..3 {
        state.change(i * 10);
        ckpt.save(&state).unwrap();
    }
    let latest = ckpt.restore_latest::<Blocks>().unwrap().unwrap();
    assert_eq!(latest.state, state);
    assert_eq!(ckpt.list().unwrap().len(), 1);
    // Only what the kept checkpoint lists remains: its own first chunk,
    // and the packs holding its others.
    let kept: BTreeSet<String> = listed_blobs(&*store, &latest.meta.key)
        .into_iter()
        .collect();
    assert_eq!(chunk_keys(&*store), kept);
    assert!(store.list("chunks/intents/").unwrap().is_empty());
}

/// An incremental checkpointer on a [`Counting`] memory store.
fn counted() -> (Arc<Counting>, Checkpointer) {
    let store = Arc::new(Counting::default());
    let ckpt = Checkpointer::new(Arc::clone(&store))
        .unwrap()
        .incremental(true);
    (store, ckpt)
}

#[test]
fn a_save_after_a_small_change_writes_a_small_fraction() {
    let (store, ckpt) = counted();
    // 16 MiB in 1024 records; 1% of them (10, spread out) change.
    let mut state = Blocks::new(1024, 16 << 10);
    let first = ckpt.save(&state).unwrap();
    let full = store.chunk_bytes.swap(0, Ordering::SeqCst);
    assert!(full >= first.size - 100, "{full} of {}", first.size);
    for i in 0..10 {
        state.change(i * 100 + 7);
    }
    let second = ckpt.save(&state).unwrap();
    let written = store.chunk_bytes.load(Ordering::SeqCst);
    assert!(
        written * 100 <= second.size * 12,
        "a 1% change wrote {written} of {} bytes",
        second.size
    );
    assert_eq!(
        ckpt.restore::<Blocks>(first.seq).unwrap().state.versions[7],
        0
    );
    assert_eq!(
        ckpt.restore_latest::<Blocks>().unwrap().unwrap().state,
        state
    );
}

#[test]
fn plain_compressed_and_incremental_checkpoints_mix_in_one_store() {
    let store = Arc::new(MemStore::new());
    let mut state = Blocks::new(30, 8_000);
    // Compressible blocks too, so compression has something to do.
    state.blocks.push(vec![7; 100_000]);
    state.versions.push(0);
    let modes = [
        (false, Compression::none()),
        (true, Compression::none()),
        (true, Compression::zstd(3)),
        (false, Compression::zstd(3)),
        (true, Compression::zstd(3)),
    ];
    let mut saved = Vec::new();
    for (i, (incremental, compression)) in modes.into_iter().enumerate() {
        let ckpt = Checkpointer::new(Arc::clone(&store))
            .unwrap()
            .incremental(incremental)
            .compression(compression);
        state.change(i);
        saved.push((ckpt.save(&state).unwrap(), state.clone()));
    }
    let plain = Checkpointer::new(Arc::clone(&store)).unwrap();
    for (meta, state) in &saved {
        assert_eq!(&plain.restore::<Blocks>(meta.seq).unwrap().state, state);
    }
    let manifests: Vec<bool> = saved
        .iter()
        .map(|(meta, _)| is_manifest(&*store, &meta.key))
        .collect();
    assert_eq!(manifests, [false, true, true, false, true]);
    // Compression shrinks what the chunks hold.
    assert!(saved[2].0.size < saved[1].0.size);
    assert_eq!(plain.list().unwrap().len(), 5);
    assert_eq!(
        plain.restore_latest::<Blocks>().unwrap().unwrap().state,
        state
    );
}

/// The key of a chunk both checkpoint files list.
fn shared_chunk(dir: &Path, a: u64, b: u64) -> String {
    let chunks = |seq| {
        let found = inspect::inspect_file(&common::file_of(dir, seq), seq).unwrap();
        found.chunks.unwrap().chunks
    };
    let theirs: BTreeSet<String> = chunks(b).into_iter().map(|c| c.key).collect();
    // Not the first chunk: it holds the header, which differs.
    chunks(a)
        .into_iter()
        .skip(1)
        .map(|c| c.key)
        .find(|k| theirs.contains(k))
        .expect("a shared chunk")
}

#[test]
fn a_damaged_shared_chunk_fails_every_checkpoint_listing_it() {
    let dir = common::temp_dir();
    let mut state = Blocks::new(40, 10_000);
    let good = Checkpointer::open(dir.path())
        .unwrap()
        .save(&state)
        .unwrap();
    let ckpt = Checkpointer::open(dir.path()).unwrap().incremental(true);
    state.change(0);
    let second = ckpt.save(&state).unwrap();
    state.change(1);
    let third = ckpt.save(&state).unwrap();
    let key = shared_chunk(dir.path(), second.seq, third.seq);
    let path = dir.path().join(&key);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x04;
    std::fs::write(&path, &bytes).unwrap();

    for seq in [second.seq, third.seq] {
        let err = ckpt.restore::<Blocks>(seq).unwrap_err();
        match &err {
            Error::DamagedChunk { seq: s, chunk, .. } => {
                assert_eq!(*s, seq);
                assert!(chunk.ends_with(&key), "{chunk}");
            }
            other => panic!("#{seq}: {other:?}"),
        }
        assert!(err.to_string().contains(&key), "{err}");
        assert!(err.is_damage());
        let found = inspect::inspect_file(&common::file_of(dir.path(), seq), seq).unwrap();
        assert_eq!(found.status(), Status::Corrupt);
        let damaged = found.chunks.unwrap().damaged;
        assert_eq!(damaged.len(), 1);
        assert!(damaged[0].location.ends_with(&key));
    }
    let latest = ckpt.restore_latest::<Blocks>().unwrap().unwrap();
    assert_eq!(latest.meta.seq, good.seq);
    let skipped: Vec<u64> = latest.meta.skipped.iter().map(|s| s.seq).collect();
    assert_eq!(skipped, [third.seq, second.seq]);
    assert!(latest.meta.skipped[0].reason.contains(&key));

    // With no good checkpoint left, the newest one's damage is the error.
    std::fs::remove_file(common::file_of(dir.path(), good.seq)).unwrap();
    let err = ckpt.restore_latest::<Blocks>().unwrap_err();
    assert!(
        matches!(err, Error::DamagedChunk { seq, .. } if seq == third.seq),
        "{err:?}"
    );
    // A missing chunk is damage too.
    std::fs::remove_file(&path).unwrap();
    let err = ckpt.restore::<Blocks>(second.seq).unwrap_err();
    assert!(err.to_string().contains("is missing"), "{err}");
}

#[test]
fn later_saves_store_anew_a_chunk_damaged_on_the_store() {
    // A save lists the chunks it finds stored without reading them, so a
    // chunk damaged on the store would stay in every later checkpoint while
    // its records do not change. Each save reads a few packs back: within a
    // few saves the damaged chunk is stored anew.
    for capture in [false, true] {
        let dir = common::temp_dir();
        let ckpt = Checkpointer::open(dir.path()).unwrap().incremental(true);
        let save = |state: &Blocks| {
            if capture {
                ckpt.commit(ckpt.capture(state).unwrap()).unwrap()
            } else {
                ckpt.save(state).unwrap()
            }
        };
        // 8 MiB: the first chunk alone and two or three packs.
        let mut state = Blocks::new(512, 16 << 10);
        let first = save(&state);
        let pack = listed_blobs(ckpt.store(), &first.key)
            .into_iter()
            .find(|k| k.ends_with(".pack"))
            .unwrap();
        let path = dir.path().join(&pack);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();

        let mut healed = None;
        for round in 1..=4 {
            // Only the first block changes: the damaged chunk's records
            // never do.
            state.change(0);
            let meta = save(&state);
            match ckpt.restore::<Blocks>(meta.seq) {
                Ok(restored) => {
                    assert_eq!(restored.state, state, "capture: {capture}");
                    healed.get_or_insert(round);
                }
                Err(err) => {
                    assert!(healed.is_none(), "#{}: damaged again: {err}", meta.seq);
                    assert!(err.is_damage(), "{err:?}");
                }
            }
        }
        // Two packs listed, one read back per save on average: the
        // damaged one within two saves.
        assert!(
            healed.is_some_and(|round| round <= 2),
            "capture: {capture}: healed at {healed:?}"
        );
        let latest = ckpt.restore_latest::<Blocks>().unwrap().unwrap();
        assert_eq!(latest.state, state);
        assert!(latest.meta.skipped.is_empty());
    }
}

/// Flips one bit in the middle of the file at `path`.
fn damage(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(path, &bytes).unwrap();
}

/// Copies the directory `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_first_save_after_a_restore_met_a_damaged_chunk_stores_it_anew() {
    // A save reads back only some of the values it reuses, so in a large
    // state a damaged chunk whose records never change can outlive several
    // saves. A restore that meets it knows it is lost: the next save of the
    // same checkpointer stores it anew, whichever pack is damaged.
    let template = common::temp_dir();
    // 12 MiB: three packs and the first chunk.
    let state = Blocks::new(768, 16 << 10);
    let first = Checkpointer::open(template.path())
        .unwrap()
        .incremental(true)
        .save(&state)
        .unwrap();
    let store = DirStore::open(template.path()).unwrap();
    let packs: Vec<String> = listed_blobs(&store, &first.key)
        .into_iter()
        .filter(|k| k.ends_with(".pack"))
        .collect();
    assert!(packs.len() >= 3, "{packs:?}");
    for pack in &packs {
        let dir = common::temp_dir();
        copy_dir(template.path(), dir.path());
        damage(&dir.path().join(pack));
        // A process started anew restores, meets the damage, and saves.
        let ckpt = Checkpointer::open(dir.path()).unwrap().incremental(true);
        let err = ckpt.restore::<Blocks>(first.seq).unwrap_err();
        assert!(matches!(err, Error::DamagedChunk { .. }), "{err:?}");
        let next = ckpt.save(&state).unwrap();
        match ckpt.restore::<Blocks>(next.seq) {
            Ok(restored) => assert!(restored.state == state),
            Err(e) => panic!("{pack} damaged, the next save is too: {e}"),
        }
    }
}

#[test]
fn a_damaged_pack_stored_anew_as_it_was_is_replaced() {
    // A chunk stored anew can land in a pack with exactly the bytes of the
    // damaged one (here a pack of the one chunk a save changed), under the
    // same name: the damaged value is replaced, not taken for the new one,
    // and the checkpoints that listed it restore again.
    let dir = common::temp_dir();
    let ckpt = Checkpointer::open(dir.path()).unwrap().incremental(true);
    let mut state = Blocks::new(64, 16 << 10);
    let older = ckpt.save(&state).unwrap();
    state.change(0);
    let newest = ckpt.save(&state).unwrap();
    let before: BTreeSet<String> = listed_blobs(ckpt.store(), &older.key).into_iter().collect();
    let new_pack = listed_blobs(ckpt.store(), &newest.key)
        .into_iter()
        .find(|k| k.ends_with(".pack") && !before.contains(k))
        .expect("the second save wrote a pack");
    damage(&dir.path().join(&new_pack));

    let ckpt = Checkpointer::open(dir.path()).unwrap().incremental(true);
    let fallback = ckpt.restore_latest::<Blocks>().unwrap().unwrap();
    assert_eq!(fallback.meta.seq, older.seq);
    assert_eq!(fallback.meta.skipped.len(), 1);
    let healed = ckpt.save(&state).unwrap();
    for seq in [newest.seq, healed.seq] {
        match ckpt.restore::<Blocks>(seq) {
            Ok(restored) => assert!(restored.state == state, "#{seq}"),
            Err(e) => panic!("#{seq} is still damaged: {e}"),
        }
    }
    let latest = ckpt.restore_latest::<Blocks>().unwrap().unwrap();
    assert_eq!(latest.meta.seq, healed.seq);
    assert!(latest.meta.skipped.is_empty());
}

#[test]
fn incremental_fixtures_guard_restores_and_inspection_changes_nothing() {
    let dir = common::temp_dir();
    let ckpt = Checkpointer::open(dir.path()).unwrap().incremental(true);
    let mut state = Blocks::new(10, 10_000);
    ckpt.save(&state).unwrap();
    state.change(4);
    ckpt.save(&state).unwrap();
    checkpoint::testing::assert_restores::<Blocks>(dir.path());
    // A temporary file a writer left: inspecting leaves it where it is.
    let leftover = dir.path().join("chunks").join(".tmp-left");
    std::fs::write(&leftover, b"x").unwrap();
    listed_chunks(dir.path());
    assert!(leftover.exists());
}

#[test]
fn retention_deletes_exactly_the_chunks_no_kept_checkpoint_lists() {
    let dir = common::temp_dir();
    let ckpt = Checkpointer::open(dir.path())
        .unwrap()
        .incremental(true)
        .keep_last(2);
    let mut state = Blocks::new(40, 10_000);
    let mut states = Vec::new();
    for i in 0..6 {
        for j in 0..5 {
            state.change((i * 7 + j * 3) % 40);
        }
        let meta = ckpt.save(&state).unwrap();
        states.push((meta.seq, state.clone()));
    }
    let store = DirStore::open(dir.path()).unwrap();
    assert_eq!(ckpt.list().unwrap().len(), 2);
    assert_eq!(chunk_keys(&store), listed_chunks(dir.path()));
    for (seq, state) in &states[4..] {
        assert_eq!(&ckpt.restore::<Blocks>(*seq).unwrap().state, state);
    }
    // No marker is left behind.
    assert!(store.list("chunks/intents/").unwrap().is_empty());
    assert!(store.list("chunks/sweeping/").unwrap().is_empty());
}

#[test]
fn a_pack_the_kept_checkpoints_barely_use_is_packed_again_and_deleted() {
    // Every save rewrites all blocks but a run of 24 in the middle: the
    // first save's pack keeps only the chunks within that run alive, less
    // than a tenth of it.
    let dir = common::temp_dir();
    let ckpt = Checkpointer::open(dir.path())
        .unwrap()
        .incremental(true)
        .keep_last(2);
    let mut state = Blocks::new(256, 16 << 10);
    let first = ckpt.save(&state).unwrap();
    let first_blobs = listed_blobs(ckpt.store(), &first.key);
    for _ in 0..3 {
        for i in (0..256).filter(|i| !(100..124).contains(i)) {
            state.change(i);
        }
        ckpt.save(&state).unwrap();
    }
    assert_eq!(
        ckpt.restore_latest::<Blocks>().unwrap().unwrap().state,
        state
    );
    // A later save stored the cold chunks again in its own packs, so once
    // the first checkpoint was deleted none of its packs was kept for them.
    let store = DirStore::open(dir.path()).unwrap();
    let stored = chunk_keys(&store);
    let kept: Vec<&String> = first_blobs.iter().filter(|k| stored.contains(*k)).collect();
    assert!(kept.is_empty(), "the first save's {kept:?} outlived it");
    // What the store holds is what the kept checkpoints list, within a
    // quarter.
    let mut listed = std::collections::BTreeMap::new();
    for (seq, path) in inspect::checkpoint_files(dir.path()).unwrap() {
        let chunks = inspect::inspect_file(&path, seq).unwrap().chunks.unwrap();
        for chunk in chunks.chunks {
            listed.insert((chunk.key, chunk.offset), chunk.len);
        }
    }
    let live: u64 = listed.values().sum();
    let held: u64 = stored
        .iter()
        .map(|key| store.get(key).unwrap().unwrap().len() as u64)
        .sum();
    assert!(
        held * 4 <= live * 5,
        "the store holds {held} bytes of chunks, the kept checkpoints list {live}"
    );
}

#[test]
fn a_live_intent_postpones_the_sweep_and_a_stale_one_does_not() {
    let store = Arc::new(MemStore::new());
    let ckpt = Checkpointer::new(Arc::clone(&store))
        .unwrap()
        .incremental(true)
        .keep_last(1);
    // Each state shares no chunk with the one before, so that each
    // checkpoint's chunks and packs are its own.
    let mut state = Blocks::seeded(1, 20, 10_000);
    ckpt.save(&state).unwrap();
    let first = chunk_keys(&*store);
    // Another process's save in progress.
    store
        .put_if_absent("chunks/intents/other", &marker(Duration::ZERO))
        .unwrap();
    state = Blocks::seeded(2, 20, 10_000);
    ckpt.save(&state).unwrap();
    // The old checkpoint is gone, its chunks are not.
    assert_eq!(ckpt.list().unwrap().len(), 1);
    assert!(chunk_keys(&*store).is_superset(&first));
    // A stale intent (its writer died) does not postpone it, and is deleted.
    store.delete("chunks/intents/other").unwrap();
    store
        .put_if_absent("chunks/intents/dead", &marker(Duration::from_secs(3600)))
        .unwrap();
    state = Blocks::seeded(3, 20, 10_000);
    let last = ckpt.save(&state).unwrap();
    assert!(store.list("chunks/intents/").unwrap().is_empty());
    assert_eq!(ckpt.restore::<Blocks>(last.seq).unwrap().state, state);
    // Only the newest checkpoint's chunks remain: the others' are gone.
    let kept = chunk_keys(&*store);
    assert!(first.is_disjoint(&kept));
    assert_eq!(kept, listed_blobs(&*store, &last.key).into_iter().collect());
}

/// A store in which a sweep, begun before a save's intent, deletes every
/// chunk while the save runs, and ends a little later.
#[derive(Debug)]
struct SweepDuringSave {
    inner: Arc<MemStore>,
    armed: AtomicBool,
    swept: AtomicBool,
}

impl Store for SweepDuringSave {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_if_absent(key, bytes)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let armed = self.armed.load(Ordering::SeqCst);
        if armed && prefix == "chunks/sweeping/" && !self.swept.load(Ordering::SeqCst) {
            let _ = self
                .inner
                .put_if_absent("chunks/sweeping/injected", &marker(Duration::ZERO));
        }
        let listed = self.inner.list(prefix)?;
        if armed && prefix == "chunks/" && !self.swept.swap(true, Ordering::SeqCst) {
            // The save has just seen every chunk stored; the sweep deletes
            // them now and ends 300 ms later.
            for key in &listed {
                if !key.starts_with("chunks/intents/") && !key.starts_with("chunks/sweeping/") {
                    self.inner.delete(key)?;
                }
            }
            let inner = Arc::clone(&self.inner);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                inner.delete("chunks/sweeping/injected").unwrap();
            });
        }
        Ok(listed)
    }
    forward_to_inner!(get, get_prefix, get_at_most, delete, location);
}

#[test]
fn a_save_that_saw_a_sweep_waits_for_it_and_stores_again_what_it_deleted() {
    let inner = Arc::new(MemStore::new());
    let store = Arc::new(SweepDuringSave {
        inner: Arc::clone(&inner),
        armed: AtomicBool::new(false),
        swept: AtomicBool::new(false),
    });
    let ckpt = Checkpointer::new(Arc::clone(&store))
        .unwrap()
        .incremental(true);
    let mut state = Blocks::new(20, 10_000);
    ckpt.save(&state).unwrap();
    store.armed.store(true, Ordering::SeqCst);
    state.change(2);
    let started = Instant::now();
    let meta = ckpt.save(&state).unwrap();
    assert!(store.swept.load(Ordering::SeqCst));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(ckpt.restore::<Blocks>(meta.seq).unwrap().state, state);
    // The first checkpoint's own chunks were lost to the (misbehaving)
    // sweep; the second's, which the save re-stored, were not.
    assert!(ckpt.restore::<Blocks>(meta.seq - 1).is_err());
}

#[test]
fn a_dead_sweepers_marker_delays_a_save_by_at_most_the_lease() {
    let store = Arc::new(MemStore::new());
    let ckpt = Checkpointer::new(Arc::clone(&store))
        .unwrap()
        .incremental(true)
        .chunk_lease(Duration::from_millis(500));
    store
        .put_if_absent("chunks/sweeping/dead", &marker(Duration::ZERO))
        .unwrap();
    let started = Instant::now();
    let state = Blocks::new(4, 1_000);
    ckpt.save(&state).unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(
        ckpt.restore_latest::<Blocks>().unwrap().unwrap().state,
        state
    );
}

const CHILD_ENV: &str = "CHECKPOINT_INCREMENTAL_CHILD_DIR";
const LEASE: Duration = Duration::from_millis(1500);

/// The child: resumes from the store, then saves incrementally forever,
/// retention deleting checkpoints and sweeping chunks as it goes. Does
/// nothing when run as an ordinary test.
#[test]
fn child_saves_incrementally_in_a_loop() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let ckpt = Checkpointer::open(dir)
        .unwrap()
        .incremental(true)
        .chunk_lease(LEASE)
        .keep_last(2);
    let mut state = ckpt
        .restore_latest::<Blocks>()
        .unwrap()
        .map_or_else(|| Blocks::new(48, 6_000), |r| r.state);
    for n in 0.. {
        state.change(n % 48);
        ckpt.save(&state).unwrap();
    }
}

#[cfg(unix)]
#[test]
fn killed_incremental_saves_and_sweeps_lose_nothing_committed() {
    use std::process::{Command, Stdio};

    let dir = common::temp_dir();
    let exe = std::env::current_exe().unwrap();
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    let mut last_seq = 0;
    for kill in 0..16 {
        if kill >= 10 {
            // The markers of killed children are stale by now: this child's
            // sweeps delete chunks rather than wait for them, and the kill
            // may land while they do.
            std::thread::sleep(LEASE);
        }
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "child_saves_incrementally_in_a_loop",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(100 + seed % 300));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // What the kill interrupted, for the log: a save (an intent left)
        // or a sweep (a marker left).
        let left = |dir: &str| std::fs::read_dir(dir).map_or(0, |d| d.count());
        eprintln!(
            "kill {kill}: {} intents, {} sweep markers left",
            left(&dir.path().join("chunks/intents").display().to_string()),
            left(&dir.path().join("chunks/sweeping").display().to_string()),
        );

        // Every checkpoint in the store is whole, chunks included.
        listed_chunks(dir.path());
        let ckpt = Checkpointer::open(dir.path()).unwrap();
        let Some(restored) = ckpt.restore_latest::<Blocks>().unwrap() else {
            continue;
        };
        assert!(restored.state.is_consistent(), "kill {kill}: torn state");
        assert!(
            restored.meta.skipped.is_empty(),
            "kill {kill}: {:?}",
            restored.meta.skipped
        );
        assert!(restored.meta.seq >= last_seq, "kill {kill}: went back");
        last_seq = restored.meta.seq;
    }
    assert!(last_seq > 0, "the child never saved");
    // Once the killed processes' markers are stale, a save's retention
    // sweeps every chunk no checkpoint lists.
    std::thread::sleep(LEASE);
    let ckpt = Checkpointer::open(dir.path())
        .unwrap()
        .incremental(true)
        .chunk_lease(LEASE)
        .keep_last(2);
    let mut state = ckpt.restore_latest::<Blocks>().unwrap().unwrap().state;
    state.change(0);
    ckpt.save(&state).unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    assert_eq!(chunk_keys(&store), listed_chunks(dir.path()));
    assert!(store.list("chunks/intents/").unwrap().is_empty());
    assert!(store.list("chunks/sweeping/").unwrap().is_empty());
}

#[test]
fn async_checkpointers_save_incrementally_too() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let store = Arc::new(MemStore::new());
    let sync = Checkpointer::new(Arc::clone(&store))
        .unwrap()
        .incremental(true)
        .keep_last(1);
    let ckpt = checkpoint::AsyncCheckpointer::from(sync);
    let mut state = Blocks::new(20, 10_000);
    let restored = runtime.block_on(async {
        ckpt.save(&state).await.unwrap();
        state.change(1);
        let meta = ckpt.save(&state).await.unwrap();
        assert!(is_manifest(&*store, &meta.key));
        ckpt.restore_latest::<Blocks>().await.unwrap().unwrap()
    });
    assert_eq!(restored.state, state);
}

/// The chunk lease of the tests whose saves lapse on purpose.
const SHORT_LEASE: Duration = Duration::from_millis(400);

/// How long [`Slow`] takes over a slow write or listing: past half of
/// [`SHORT_LEASE`], so that a save lapses in it, whatever the machine. A
/// lapse the test does not plan needs a pause of 200 ms elsewhere, which
/// a loaded machine running the suite can still make now and then with
/// a shorter lease.
const SLOW: Duration = Duration::from_millis(250);

/// Writes chunks slowly, and counts the looks for sweeps, the listings
/// of the chunks and the chunk bytes written; with `slow_listing`, the
/// first listing of the chunks is slow too.
#[derive(Debug, Default)]
struct Slow {
    inner: MemStore,
    slow_listing: bool,
    sweep_looks: AtomicU64,
    chunk_listings: AtomicU64,
    chunk_bytes: AtomicU64,
}

impl Store for Slow {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        if !key.starts_with("chunks/intents/") {
            std::thread::sleep(SLOW);
            if key.starts_with("chunks/") {
                self.chunk_bytes
                    .fetch_add(bytes.len() as u64, Ordering::SeqCst);
            }
        }
        self.inner.put_if_absent(key, bytes)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        if prefix == "chunks/sweeping/" {
            self.sweep_looks.fetch_add(1, Ordering::SeqCst);
        }
        if prefix == "chunks/"
            && self.chunk_listings.fetch_add(1, Ordering::SeqCst) == 0
            && self.slow_listing
        {
            std::thread::sleep(SLOW);
        }
        self.inner.list(prefix)
    }
    forward_to_inner!(get, get_prefix, get_at_most, delete, location);
}

#[test]
fn a_save_whose_intent_may_have_lapsed_announces_itself_again() {
    let store = Arc::new(Slow::default());
    let ckpt = Checkpointer::new(Arc::clone(&store))
        .unwrap()
        .incremental(true)
        .chunk_lease(SHORT_LEASE);
    // A pack and the first chunk, 250 ms each to write. The intent is
    // renewed before each write, so while one is under way it goes longer
    // than half the lease without a renewal: the save announces itself
    // again and stores again what a sweep could have deleted, once (the
    // second pass finds what the first stored, and writes nothing).
    let state = Blocks::new(40, 30_000);
    ckpt.save(&state).unwrap();
    assert_eq!(store.sweep_looks.load(Ordering::SeqCst), 2);
    assert_eq!(
        ckpt.restore_latest::<Blocks>().unwrap().unwrap().state,
        state
    );
}

#[test]
fn a_save_that_lapses_twice_stores_its_chunks_once() {
    // The first pass lapses writing its chunks; the second finds them
    // stored, writes nothing, and lapses too, listing them slowly. The
    // third must still find what the first stored: written again, they
    // would take the save past its third lapse.
    let store = Arc::new(Slow {
        slow_listing: true,
        ..Slow::default()
    });
    let ckpt = Checkpointer::new(Arc::clone(&store))
        .unwrap()
        .incremental(true)
        .chunk_lease(SHORT_LEASE);
    let state = Blocks::new(40, 30_000);
    let meta = ckpt.save(&state).unwrap();
    assert_eq!(store.chunk_listings.load(Ordering::SeqCst), 2);
    let written = store.chunk_bytes.load(Ordering::SeqCst);
    assert!(
        written < meta.size + meta.size / 10,
        "{written} chunk bytes written for a checkpoint of {}",
        meta.size
    );
    assert_eq!(
        ckpt.restore_latest::<Blocks>().unwrap().unwrap().state,
        state
    );
}

#[test]
fn streamed_and_captured_incremental_saves_cut_the_same_chunks() {
    let (store, ckpt) = counted();
    // 8 MiB in two fields: `save` cuts it as it is encoded.
    let state = Blocks::new(512, 16 << 10);
    let streamed = ckpt.save(&state).unwrap();
    assert!(store.chunk_bytes.swap(0, Ordering::SeqCst) >= streamed.size - 100);
    // `capture` then `commit` cuts the checkpoint whole: every chunk but
    // the first (its header has another number and time) is found stored.
    let snapshot = ckpt.capture(&state).unwrap();
    let captured = ckpt.commit(snapshot).unwrap();
    assert_eq!(captured.size, streamed.size);
    let written = store.chunk_bytes.load(Ordering::SeqCst);
    let first = inspect::inspect_key(&*store, &captured.key, captured.seq)
        .unwrap()
        .chunks
        .unwrap()
        .chunks[0]
        .len;
    assert_eq!(
        written, first,
        "the same state cut whole wrote more than its first chunk"
    );
    for meta in [streamed, captured] {
        assert_eq!(ckpt.restore::<Blocks>(meta.seq).unwrap().state, state);
    }
}

/// Fails every chunk write once `failing` is set.
#[derive(Debug)]
struct FailingChunks {
    inner: MemStore,
    failing: AtomicBool,
}

impl Store for FailingChunks {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let chunk = key.starts_with("chunks/") && !key.starts_with("chunks/intents/");
        if chunk && self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::io(
                "write",
                key.to_owned(),
                std::io::Error::from_raw_os_error(28), // ENOSPC
            ));
        }
        self.inner.put_if_absent(key, bytes)
    }
    forward_to_inner!(get, get_prefix, get_at_most, list, delete, location);
}

#[test]
fn a_chunk_write_that_fails_fails_the_save_and_loses_nothing_committed() {
    let store = Arc::new(FailingChunks {
        inner: MemStore::new(),
        failing: AtomicBool::new(false),
    });
    let ckpt = Checkpointer::new(Arc::clone(&store))
        .unwrap()
        .incremental(true);
    let mut state = Blocks::new(64, 16 << 10);
    let first = ckpt.save(&state).unwrap();
    store.failing.store(true, Ordering::SeqCst);
    state.change(3);
    state.change(40);
    match ckpt.save(&state) {
        Err(Error::Store(e)) => assert!(e.to_string().contains("chunks/"), "{e}"),
        other => panic!("expected a store error, got {other:?}"),
    }
    assert_eq!(ckpt.list().unwrap().len(), 1);
    assert!(store.list("chunks/intents/").unwrap().is_empty());
    let restored = ckpt.restore_latest::<Blocks>().unwrap().unwrap();
    assert_eq!(restored.meta.seq, first.seq);
    assert_eq!(restored.state.versions[3], 0);
    // The store recovers: the next save commits.
    store.failing.store(false, Ordering::SeqCst);
    let next = ckpt.save(&state).unwrap();
    assert_eq!(ckpt.restore::<Blocks>(next.seq).unwrap().state, state);
}

/// A value whose `Serialize` panics when lit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fuse(bool);

impl serde::Serialize for Fuse {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        assert!(!self.0, "the fuse blew while encoding");
        s.serialize_bool(false)
    }
}

impl<'de> serde::Deserialize<'de> for Fuse {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        bool::deserialize(d).map(Fuse)
    }
}

state!(Fused as "Fused" { blocks: Vec<Vec<u8>>, fuse: Fuse });

#[test]
fn a_panic_while_encoding_an_incremental_save_ends_it_and_the_next_save_works() {
    let store = Arc::new(MemStore::new());
    let ckpt = Checkpointer::new(Arc::clone(&store))
        .unwrap()
        .incremental(true);
    let mut state = Fused {
        blocks: Blocks::new(64, 16 << 10).blocks,
        fuse: Fuse(false),
    };
    ckpt.save(&state).unwrap();
    state.blocks[5] = block(5, 1, 16 << 10);
    state.fuse = Fuse(true);
    // Chunks of `blocks` are being written when the fuse blows: the save
    // must end (not wait for its writers forever) and commit nothing.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ckpt.save(&state)));
    assert!(panicked.is_err());
    assert_eq!(ckpt.list().unwrap().len(), 1);
    assert!(store.list("chunks/intents/").unwrap().is_empty());
    state.fuse = Fuse(false);
    let meta = ckpt.save(&state).unwrap();
    assert_eq!(ckpt.restore::<Fused>(meta.seq).unwrap().state, state);
}

/// Counts the chunk reads and writes in flight at once; asks for
/// `requests` of them.
#[derive(Debug)]
struct InFlight {
    inner: MemStore,
    requests: usize,
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl InFlight {
    fn counted<R>(&self, key: &str, pause: Duration, f: impl FnOnce() -> R) -> R {
        let chunk = key.starts_with("chunks/") && !key.starts_with("chunks/intents/");
        if !chunk {
            return f();
        }
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        // Slower than cutting a chunk or filling a pack, even unoptimised:
        // the store is what the save and the restore wait on.
        std::thread::sleep(pause);
        let r = f();
        self.now.fetch_sub(1, Ordering::SeqCst);
        r
    }
}

impl Store for InFlight {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let pause = if key.ends_with(".pack") { 1500 } else { 100 };
        self.counted(key, Duration::from_millis(pause), || {
            self.inner.put_if_absent(key, bytes)
        })
    }
    fn get_at_most(&self, key: &str, limit: u64) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        self.counted(key, Duration::from_millis(100), || {
            self.inner.get_at_most(key, limit)
        })
    }
    fn get_range(&self, key: &str, start: u64, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.counted(key, Duration::from_millis(100), || {
            self.inner.get_range(key, start, len)
        })
    }
    fn concurrent_requests(&self) -> usize {
        self.requests
    }
    forward_to_inner!(get, get_prefix, list, delete, location);
}

#[test]
fn chunks_are_read_and_written_as_many_at_once_as_the_store_asks() {
    // 24 MiB: six packs and twelve reads of 2 MiB, enough to keep every
    // writer and fetcher busy.
    let state = Blocks::new(384, 64 << 10);
    for requests in [1, 16] {
        let store = Arc::new(InFlight {
            inner: MemStore::new(),
            requests,
            now: Default::default(),
            most: Default::default(),
        });
        let ckpt = Checkpointer::new(Arc::clone(&store))
            .unwrap()
            .incremental(true);
        ckpt.save(&state).unwrap();
        let writes = store.most.swap(0, Ordering::SeqCst);
        assert_eq!(
            ckpt.restore_latest::<Blocks>().unwrap().unwrap().state,
            state
        );
        let reads = store.most.load(Ordering::SeqCst);
        // Reads and writes never exceed what the store asks for, nor what
        // memory allows (two packs written; eight reads of 2 MiB units, as
        // each reader thread may hold two units and the plan four, within
        // 40 MiB), and reach more than half of that.
        for (what, most, allowed) in [
            ("writes", writes, requests.min(2)),
            ("reads", reads, requests.min(8)),
        ] {
            assert!(
                most <= allowed && most * 2 > allowed,
                "{most} {what} in flight at once, the store asking for {requests}"
            );
        }
    }
}

#[test]
fn a_directory_in_place_of_a_pack_fails_the_save_naming_it() {
    // A save that finds a pack's name taken checks what is there: a
    // directory is not the pack, and a checkpoint listing it could never be
    // restored, so the save fails, naming it, and commits nothing.
    let state = Blocks::new(64, 16 << 10);
    let learn = common::temp_dir();
    let first = Checkpointer::open(learn.path())
        .unwrap()
        .incremental(true)
        .save(&state)
        .unwrap();
    let packs: Vec<String> = listed_blobs(&DirStore::open(learn.path()).unwrap(), &first.key)
        .into_iter()
        .filter(|k| k.ends_with(".pack"))
        .collect();
    let dir = common::temp_dir();
    let hostile = dir.path().join(&packs[0]);
    std::fs::create_dir_all(&hostile).unwrap();
    std::fs::write(hostile.join("inside"), b"x").unwrap();

    let ckpt = Checkpointer::open(dir.path()).unwrap().incremental(true);
    let err = ckpt.save(&state).unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&packs[0]), "{message}");
    assert!(message.contains("cannot be replaced"), "{message}");
    assert!(ckpt.restore_latest::<Blocks>().unwrap().is_none());
    // Once it is gone, saving goes on.
    std::fs::remove_dir_all(&hostile).unwrap();
    let saved = ckpt.save(&state).unwrap();
    assert!(ckpt.restore::<Blocks>(saved.seq).unwrap().state == state);
}
