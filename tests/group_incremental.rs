//! Incremental group parts (`Group::incremental(true)`): a part holding a
//! manifest of content-defined chunks commits and restores as a whole part
//! does, writes little when little changed, fails naming a damaged chunk,
//! and keeps its chunks through a checkpointer's retention on the same
//! store; a collection of old epochs deletes the chunks only they listed.
//!
//! The S3 tests need a server: `scripts/seaweedfs.sh start`, then
//! `eval "$(scripts/seaweedfs.sh env)"`, or run `scripts/test.sh`.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use checkpoint::group::{AsyncGroup, Group, GroupError, PartInfo};
use checkpoint::{Checkpointer, DirStore, Error, MemStore, Store};
use common::blocks::{chunk_keys, listed_blobs, manifest_blobs, Blocks, Counting};
use common::group::overwrite;

const NODES: [&str; 3] = ["a", "b", "c"];

/// Participant `node`'s state at `epoch`: 400 KB, a block changed per epoch.
fn node_state(node: &str, epoch: u64) -> Blocks {
    let seed = node.bytes().map(u64::from).sum::<u64>();
    let mut state = Blocks::seeded(seed, 40, 10_000);
    for e in 1..=epoch {
        state.change((e as usize * 7) % 40);
    }
    state
}

fn part_key(group: &Group, epoch: u64, node: &str) -> String {
    format!("group/{}/parts/{epoch:020}/{node}", group.name())
}

/// The checkpoint (or manifest) inside the part stored at `key`.
fn inner_of(part: &[u8]) -> &[u8] {
    let header = u32::from_le_bytes(part[8..12].try_into().unwrap()) as usize;
    &part[12 + header + 4..]
}

/// Whether the part at `key` holds a manifest (format version 6).
fn is_incremental(store: &dyn Store, key: &str) -> bool {
    let part = store.get(key).unwrap().unwrap();
    inner_of(&part)[8..10] == 6u16.to_le_bytes()
}

/// The keys of the values holding the chunks the incremental part at `key`
/// lists (packs, and its first chunk stored alone), in order.
fn part_chunks(store: &dyn Store, key: &str) -> Vec<String> {
    let part = store.get(key).unwrap().unwrap();
    manifest_blobs(inner_of(&part))
}

/// Saves every node's part of `epoch` through `group` and commits it with
/// the `PartInfo`s.
fn save_and_commit(group: &Group, epoch: u64) -> Vec<PartInfo> {
    let parts: Vec<PartInfo> = NODES
        .iter()
        .map(|node| {
            group
                .save_part(epoch, node, &node_state(node, epoch))
                .unwrap()
        })
        .collect();
    group.commit(epoch, &NODES, &parts).unwrap();
    parts
}

fn incremental_parts_restore_like_whole_ones(store: Arc<dyn Store>) {
    let whole = Group::from_shared(Arc::clone(&store), "g").unwrap();
    let chunked = Group::from_shared(Arc::clone(&store), "g")
        .unwrap()
        .incremental(true);
    // Epoch 1: every part incremental, committed with the `PartInfo`s.
    let infos = save_and_commit(&chunked, 1);
    for node in NODES {
        assert!(is_incremental(&*store, &part_key(&chunked, 1, node)));
    }
    // A manifest part is small: the record lists its own length.
    assert!(infos.iter().all(|info| info.len < 1_000), "{infos:?}");
    // Epoch 2: whole and incremental parts side by side, committed by a
    // coordinator that reads every part (and chunk) back.
    for (i, node) in NODES.iter().enumerate() {
        let group = if i == 1 { &whole } else { &chunked };
        group.save_part(2, node, &node_state(node, 2)).unwrap();
    }
    let record = whole.commit_verifying(2, &NODES).unwrap();
    assert_eq!(record.parts.len(), 3);
    let incremental: Vec<bool> = NODES
        .iter()
        .map(|node| is_incremental(&*store, &part_key(&whole, 2, node)))
        .collect();
    assert_eq!(incremental, [true, false, true]);
    // Both handles restore both kinds, whatever their setting.
    for group in [&whole, &chunked] {
        for node in NODES {
            let latest = group.restore_latest::<Blocks>(node).unwrap().unwrap();
            assert_eq!((latest.epoch, latest.state), (2, node_state(node, 2)));
            assert_eq!(
                group.restore::<Blocks>(1, node).unwrap(),
                node_state(node, 1)
            );
        }
    }
    // The intents are gone once the parts are written.
    assert!(store.list("chunks/intents/").unwrap().is_empty());
}

fn a_retried_incremental_save_finds_its_part(store: Arc<dyn Store>) {
    let group = Group::from_shared(Arc::clone(&store), "g")
        .unwrap()
        .incremental(true);
    let first = group.save_part(1, "a", &node_state("a", 1)).unwrap();
    // The same state again (a new capture time, so a new first chunk): the
    // part already stored is this save's, compared through its chunks.
    std::thread::sleep(std::time::Duration::from_millis(2));
    assert_eq!(group.save_part(1, "a", &node_state("a", 1)).unwrap(), first);
    // A whole save of the same state finds it too.
    let whole = Group::from_shared(Arc::clone(&store), "g").unwrap();
    assert_eq!(whole.save_part(1, "a", &node_state("a", 1)).unwrap(), first);
    // Another state is refused.
    let err = group.save_part(1, "a", &node_state("a", 2)).unwrap_err();
    assert!(matches!(err, GroupError::PartExists { .. }), "{err:?}");
    // A whole part found by an incremental retry is compared whole.
    let info = whole.save_part(1, "b", &node_state("b", 1)).unwrap();
    assert_eq!(group.save_part(1, "b", &node_state("b", 1)).unwrap(), info);
}

fn a_damaged_chunk_fails_the_part_naming_it(store: Arc<dyn Store>) {
    let group = Group::from_shared(Arc::clone(&store), "g")
        .unwrap()
        .incremental(true);
    save_and_commit(&group, 1);
    save_and_commit(&group, 2);
    // A chunk of `a`'s part of epoch 2 that its part of epoch 1 does not
    // list (a block changed in epoch 2).
    let older: BTreeSet<String> = part_chunks(&*store, &part_key(&group, 1, "a"))
        .into_iter()
        .collect();
    let chunk = part_chunks(&*store, &part_key(&group, 2, "a"))
        .into_iter()
        .skip(1)
        .find(|k| !older.contains(k))
        .expect("a chunk only epoch 2 lists");
    let mut bytes = store.get(&chunk).unwrap().unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x04;
    overwrite(&*store, &chunk, &bytes);

    // The part is unreadable, and the error names the chunk; the newest
    // committed epoch stays the one to restore (another epoch would mix
    // rounds), so `restore_latest` says so rather than fall back.
    let err = group.restore_latest::<Blocks>("a").unwrap_err();
    assert!(
        matches!(&err, GroupError::PartUnreadable { epoch: 2, participant, .. } if participant == "a"),
        "{err:?}"
    );
    assert!(err.to_string().contains(&chunk), "{err}");
    let source = std::error::Error::source(&err)
        .and_then(|e| e.downcast_ref::<Error>())
        .expect("the checkpoint error");
    assert!(
        matches!(source, Error::DamagedChunk { chunk: c, seq: 2, .. } if c.ends_with(&chunk)),
        "{source:?}"
    );
    // The earlier epoch, which does not list the chunk, restores when asked
    // for; the other participants' parts of epoch 2 are intact.
    assert_eq!(group.restore::<Blocks>(1, "a").unwrap(), node_state("a", 1));
    let b = group.restore_latest::<Blocks>("b").unwrap().unwrap();
    assert_eq!((b.epoch, b.state), (2, node_state("b", 2)));

    // A part saved anew over the damaged chunk reads back what it finds
    // stored (a part this small lists two values, so both) and stores the
    // chunk anew: the epoch commits, verified, and restores.
    for node in NODES {
        group.save_part(3, node, &node_state(node, 2)).unwrap();
    }
    group.commit_verifying(3, &NODES).unwrap();
    assert_eq!(group.restore::<Blocks>(3, "a").unwrap(), node_state("a", 2));

    // Damage after the save is the verifying commit's to find: it reads
    // every chunk and refuses the part, naming it.
    for node in NODES {
        group.save_part(4, node, &node_state(node, 2)).unwrap();
    }
    let fresh = part_chunks(&*store, &part_key(&group, 4, "a"))
        .into_iter()
        .skip(1)
        .find(|k| !older.contains(k) && *k != chunk)
        .expect("a chunk stored after epoch 2");
    let mut bytes = store.get(&fresh).unwrap().unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x04;
    overwrite(&*store, &fresh, &bytes);
    let err = group.commit_verifying(4, &NODES).unwrap_err();
    assert!(
        matches!(&err, GroupError::PartCorrupt { epoch: 4, participant, .. } if participant == "a"),
        "{err:?}"
    );
    assert!(err.to_string().contains(&fresh), "{err}");
    assert_eq!(group.latest_committed_epoch().unwrap(), Some(3));

    // A missing chunk is damage too.
    store.delete(&chunk).unwrap();
    let err = group.restore::<Blocks>(2, "a").unwrap_err();
    assert!(
        err.to_string().contains("is missing") && err.to_string().contains(&chunk),
        "{err}"
    );
}

fn a_checkpointer_sweep_keeps_the_chunks_of_group_parts(store: Arc<dyn Store>) {
    let group = Group::from_shared(Arc::clone(&store), "g")
        .unwrap()
        .incremental(true);
    save_and_commit(&group, 1);
    // Epoch 2 is saved but not committed yet: its chunks count too.
    for node in NODES {
        group.save_part(2, node, &node_state(node, 2)).unwrap();
    }
    let listed: BTreeSet<String> = [1, 2]
        .iter()
        .flat_map(|&epoch| NODES.map(|node| part_key(&group, epoch, node)))
        .flat_map(|key| part_chunks(&*store, &key))
        .collect();

    // A checkpointer on the same store: its retention sweeps chunks.
    let ckpt = Checkpointer::new(Arc::clone(&store))
        .unwrap()
        .incremental(true)
        .keep_last(1);
    let mut state = Blocks::seeded(7, 40, 10_000);
    let mut kept = String::new();
    for i in 0..3 {
        state.change(i);
        kept = ckpt.save(&state).unwrap().key;
    }
    let stored = chunk_keys(&*store);
    let lost: Vec<&String> = listed.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "the sweep deleted chunks parts list: {lost:?}"
    );
    // The checkpoints' own old chunks did go: only what parts and the
    // kept checkpoint list is left.
    let with_kept = |key: &str| -> BTreeSet<String> {
        listed
            .iter()
            .cloned()
            .chain(listed_blobs(&*store, key))
            .collect()
    };
    assert_eq!(stored, with_kept(&kept));
    group.commit_verifying(2, &NODES).unwrap();
    for node in NODES {
        assert_eq!(
            group.restore::<Blocks>(1, node).unwrap(),
            node_state(node, 1)
        );
        assert_eq!(
            group.restore::<Blocks>(2, node).unwrap(),
            node_state(node, 2)
        );
    }

    // A part whose owner header is damaged lists unknown chunks: sweeps
    // are postponed, and delete nothing, until it is readable again.
    let key = part_key(&group, 1, "b");
    let original = store.get(&key).unwrap().unwrap();
    let mut damaged = original.clone();
    damaged[14] ^= 0x10;
    overwrite(&*store, &key, &damaged);
    state.change(5);
    ckpt.save(&state).unwrap();
    let with_damage = chunk_keys(&*store);
    assert!(
        with_damage.len() > stored.len(),
        "nothing was left to sweep"
    );
    assert!(stored.is_subset(&with_damage));
    overwrite(&*store, &key, &original);
    state.change(6);
    let last = ckpt.save(&state).unwrap();
    let after = chunk_keys(&*store);
    // The first chunks of the checkpoints no longer kept are gone.
    assert!(!with_damage.is_subset(&after));
    assert_eq!(after, with_kept(&last.key));
}

fn collecting_garbage_frees_the_chunks_only_dropped_epochs_used(store: Arc<dyn Store>) {
    let chunked = Group::from_shared(Arc::clone(&store), "g")
        .unwrap()
        .incremental(true);
    for epoch in 1..=3 {
        save_and_commit(&chunked, epoch);
    }
    let listed_by = |epoch: u64| -> BTreeSet<String> {
        NODES
            .iter()
            .flat_map(|node| part_chunks(&*store, &part_key(&chunked, epoch, node)))
            .collect()
    };
    let newest = listed_by(3);
    let older: BTreeSet<String> = listed_by(1).union(&listed_by(2)).cloned().collect();
    let only_older = older.difference(&newest).count();
    assert!(only_older > 0);
    assert_eq!(chunk_keys(&*store).len(), newest.len() + only_older);

    // A handle saving whole parts collects incremental ones all the same.
    let whole = Group::from_shared(Arc::clone(&store), "g").unwrap();
    let report = whole.collect_garbage(1).unwrap();
    assert_eq!(report.committed_epochs, [1, 2]);
    assert_eq!(report.chunks, only_older);
    assert_eq!(chunk_keys(&*store), newest);
    for node in NODES {
        let latest = whole.restore_latest::<Blocks>(node).unwrap().unwrap();
        assert_eq!((latest.epoch, latest.state), (3, node_state(node, 3)));
    }
    // Nothing left to collect: no sweep, no chunk deleted.
    assert_eq!(chunked.collect_garbage(1).unwrap().chunks, 0);
    assert_eq!(chunk_keys(&*store), newest);
    assert!(store.list("chunks/sweeping/").unwrap().is_empty());
}

fn async_groups_save_and_restore_incremental_parts(store: Arc<dyn Store>) {
    // The store is looked at from this thread, between the runtime's runs:
    // an object store refuses blocking calls from a runtime's threads.
    let runtime = common::runtime();
    let group = AsyncGroup::from_shared(Arc::clone(&store), "g")
        .unwrap()
        .incremental(true);
    runtime.block_on(async {
        for epoch in 1..=2 {
            let mut infos = Vec::new();
            for node in NODES {
                infos.push(
                    group
                        .save_part(epoch, node, &node_state(node, epoch))
                        .await
                        .unwrap(),
                );
            }
            if epoch == 1 {
                group.commit(epoch, &NODES, &infos).await.unwrap();
            } else {
                // A retried save finds its part through its chunks.
                let again = group
                    .save_part(epoch, "a", &node_state("a", epoch))
                    .await
                    .unwrap();
                assert_eq!(again, infos[0]);
                let record = group.commit_verifying(epoch, &NODES).await.unwrap();
                assert_eq!(record.parts, infos);
            }
        }
        for node in NODES {
            let latest = group.restore_latest::<Blocks>(node).await.unwrap().unwrap();
            assert_eq!((latest.epoch, latest.state), (2, node_state(node, 2)));
        }
    });
    for node in NODES {
        assert!(is_incremental(&*store, &part_key(group.group(), 2, node)));
    }
    let report = runtime.block_on(group.collect_garbage(1)).unwrap();
    assert_eq!(report.committed_epochs, [1]);
    assert!(report.chunks > 0, "{report:?}");
    let newest: BTreeSet<String> = NODES
        .iter()
        .flat_map(|node| part_chunks(&*store, &part_key(group.group(), 2, node)))
        .collect();
    assert_eq!(chunk_keys(&*store), newest);
}

/// A store holding every value `from` holds.
fn copy_of(from: &dyn Store) -> Arc<dyn Store> {
    let to = MemStore::new();
    for key in from.list("").unwrap() {
        to.put_if_absent(&key, &from.get(&key).unwrap().unwrap())
            .unwrap();
    }
    Arc::new(to)
}

#[test]
fn the_first_part_saved_after_a_restore_met_damage_stores_it_anew() {
    // As a checkpointer does: a part saved after a restore that met a
    // damaged chunk stores it anew, whichever of its packs is damaged (a
    // save reads back only some of them).
    let template = MemStore::new();
    // 12 MiB: three packs and the first chunk.
    let state = Blocks::new(768, 16 << 10);
    let first = Group::new(template, "g").unwrap().incremental(true);
    let info = first.save_part(1, "a", &state).unwrap();
    first.commit(1, &["a"], &[info]).unwrap();
    let template = first.store();
    let packs: Vec<String> = part_chunks(&**template, &part_key(&first, 1, "a"))
        .into_iter()
        .filter(|k| k.ends_with(".pack"))
        .collect();
    assert!(packs.len() >= 3, "{packs:?}");
    for pack in &packs {
        let store = copy_of(&**template);
        let mut bytes = store.get(pack).unwrap().unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x04;
        overwrite(&*store, pack, &bytes);
        // A process started anew restores, meets the damage, and saves.
        let group = Group::from_shared(Arc::clone(&store), "g")
            .unwrap()
            .incremental(true);
        let err = group.restore_latest::<Blocks>("a").unwrap_err();
        assert!(
            matches!(err, GroupError::PartUnreadable { epoch: 1, .. }),
            "{err:?}"
        );
        let info = group.save_part(2, "a", &state).unwrap();
        group.commit(2, &["a"], &[info]).unwrap();
        match group.restore::<Blocks>(2, "a") {
            Ok(restored) => assert!(restored == state),
            Err(e) => panic!("{pack} damaged, the next part is too: {e}"),
        }
    }
}

fn parts_saved_while_a_checkpointer_sweeps_lose_no_chunk(store: Arc<dyn Store>) {
    let stop = AtomicBool::new(false);
    let group = Group::from_shared(Arc::clone(&store), "g")
        .unwrap()
        .incremental(true);
    /// Stops the saver however the scope ends: a failed assertion must
    /// not leave the scope waiting for it.
    struct Stop<'a>(&'a AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let newest = std::thread::scope(|scope| {
        let stopping = Stop(&stop);
        // A checkpointer saving incrementally, its retention sweeping after
        // every save, while the group saves, commits and collects.
        let saver = scope.spawn(|| {
            let ckpt = Checkpointer::new(Arc::clone(&store))
                .unwrap()
                .incremental(true)
                .keep_last(1);
            let mut state = Blocks::seeded(7, 20, 10_000);
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                state.change(i % 20);
                ckpt.save(&state).unwrap();
                i += 1;
            }
            (ckpt, state)
        });
        for epoch in 1..=9 {
            save_and_commit(&group, epoch);
            if epoch % 3 == 0 {
                group.collect_garbage(2).unwrap();
            }
            for node in NODES {
                let latest = group.restore_latest::<Blocks>(node).unwrap().unwrap();
                assert_eq!(
                    (latest.epoch, latest.state),
                    (epoch, node_state(node, epoch))
                );
            }
        }
        drop(stopping);
        saver.join().unwrap()
    });
    let (ckpt, state) = newest;
    assert_eq!(
        ckpt.restore_latest::<Blocks>().unwrap().unwrap().state,
        state
    );
    for epoch in group.committed_epochs().unwrap() {
        for node in NODES {
            assert_eq!(
                group.restore::<Blocks>(epoch, node).unwrap(),
                node_state(node, epoch)
            );
        }
    }
}

#[test]
fn a_part_after_a_small_change_writes_a_small_fraction() {
    let store = Arc::new(Counting::default());
    let group = Group::from_shared(Arc::clone(&store) as Arc<dyn Store>, "g")
        .unwrap()
        .incremental(true);
    // 16 MiB in 1024 records; 1% of them (10, spread out) change.
    let mut state = Blocks::seeded(1, 1024, 16 << 10);
    let first = group.save_part(1, "a", &state).unwrap();
    group.commit(1, &["a"], &[first]).unwrap();
    let full = store.chunk_bytes.swap(0, Ordering::SeqCst);
    assert!(full >= 16 << 20, "{full}");
    for i in 0..10 {
        state.change(i * 100 + 7);
    }
    let second = group.save_part(2, "a", &state).unwrap();
    group.commit(2, &["a"], &[second]).unwrap();
    let written = store.chunk_bytes.load(Ordering::SeqCst);
    assert!(
        written * 100 <= full * 12,
        "a 1% change wrote {written} of {full} bytes"
    );
    assert_eq!(group.restore::<Blocks>(1, "a").unwrap().versions[7], 1000);
    let latest = group.restore_latest::<Blocks>("a").unwrap().unwrap();
    assert_eq!((latest.epoch, latest.state), (2, state));
}

macro_rules! store_tests {
    ($store:expr) => {
        #[test]
        fn incremental_parts_restore_like_whole_ones() {
            if let Some((s, _keep)) = $store {
                super::incremental_parts_restore_like_whole_ones(s)
            }
        }
        #[test]
        fn a_retried_incremental_save_finds_its_part() {
            if let Some((s, _keep)) = $store {
                super::a_retried_incremental_save_finds_its_part(s)
            }
        }
        #[test]
        fn a_damaged_chunk_fails_the_part_naming_it() {
            if let Some((s, _keep)) = $store {
                super::a_damaged_chunk_fails_the_part_naming_it(s)
            }
        }
        #[test]
        fn a_checkpointer_sweep_keeps_the_chunks_of_group_parts() {
            if let Some((s, _keep)) = $store {
                super::a_checkpointer_sweep_keeps_the_chunks_of_group_parts(s)
            }
        }
        #[test]
        fn collecting_garbage_frees_the_chunks_only_dropped_epochs_used() {
            if let Some((s, _keep)) = $store {
                super::collecting_garbage_frees_the_chunks_only_dropped_epochs_used(s)
            }
        }
        #[test]
        fn parts_saved_while_a_checkpointer_sweeps_lose_no_chunk() {
            if let Some((s, _keep)) = $store {
                super::parts_saved_while_a_checkpointer_sweeps_lose_no_chunk(s)
            }
        }
        #[test]
        fn async_groups_save_and_restore_incremental_parts() {
            if let Some((s, _keep)) = $store {
                super::async_groups_save_and_restore_incremental_parts(s)
            }
        }
    };
}

// Each test gets a store and whatever must live as long as the test.

mod memory {
    use super::*;
    store_tests!(Some((Arc::new(MemStore::new()) as Arc<dyn Store>, ())));
}

mod directory {
    use super::*;
    /// The store and its directory, removed when the test ends.
    fn store() -> Option<(Arc<dyn Store>, tempfile::TempDir)> {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(DirStore::open(dir.path()).unwrap());
        Some((store, dir))
    }
    store_tests!(store());
}

mod s3 {
    use super::*;
    fn store() -> Option<(Arc<dyn Store>, ())> {
        common::group::s3_store("incremental group parts on S3")
            .map(|s| (Arc::new(s) as Arc<dyn Store>, ()))
    }
    store_tests!(store());
}

thread_local! {
    /// The store a [`Probe`] reads while it is being encoded.
    static PROBED: std::cell::RefCell<Option<Arc<Counting>>> = const { std::cell::RefCell::new(None) };
    /// The chunk bytes the probed store held when the probe was encoded.
    static SEEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A field that, when encoded, notes how many chunk bytes the probed store
/// holds already; restores as itself.
#[derive(Debug, Default, PartialEq, serde::Deserialize)]
struct Probe;

impl serde::Serialize for Probe {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PROBED.with(|p| {
            if let Some(store) = &*p.borrow() {
                SEEN.set(store.chunk_bytes.load(Ordering::SeqCst));
            }
        });
        s.serialize_unit_struct("Probe")
    }
}

#[derive(Debug, PartialEq, checkpoint::Checkpoint)]
struct Probed {
    data: Vec<Vec<u8>>,
    probe: Probe,
}

/// An incremental part's chunks are stored while its state is encoded, as
/// a checkpointer's are: the part is never whole in memory. A probe field
/// after 16 MiB of data finds most of that data's chunks stored already.
#[test]
fn an_incremental_part_stores_its_chunks_while_it_is_encoded() {
    let store = Arc::new(Counting::default());
    let group = Group::from_shared(Arc::clone(&store) as Arc<dyn Store>, "g")
        .unwrap()
        .incremental(true);
    let state = Probed {
        data: (0..256)
            .map(|i| common::blocks::block(i, 0, 64 << 10))
            .collect(),
        probe: Probe,
    };
    PROBED.with(|p| *p.borrow_mut() = Some(Arc::clone(&store)));
    let info = group.save_part(1, "a", &state).unwrap();
    PROBED.with(|p| *p.borrow_mut() = None);
    let seen = SEEN.get();
    let total = store.chunk_bytes.load(Ordering::SeqCst);
    assert!(total >= 16 << 20, "{total}");
    // The writers may lag behind the encoder by the chunks queued and in
    // flight (a few MiB at most), never by the whole part.
    assert!(
        seen >= 8 << 20,
        "{seen} of {total} chunk bytes stored before the last field"
    );
    group.commit(1, &["a"], &[info]).unwrap();
    assert_eq!(group.restore::<Probed>(1, "a").unwrap(), state);
}
