//! A real incremental checkpoint, its chunks and packs in a `MemStore`,
//! with its manifest edited as the input says: restored, inspected with its
//! chunks, then taken as the manifest before an incremental save.
//!
//! Input: a mode byte (as `reseal`'s; bit 3 also cuts the manifest short
//! at the first edit), then edits of three bytes each: a position (u16,
//! little-endian, wrapped to the manifest's length) and a byte XORed
//! there. Edits near a real manifest reach the blob and chunk tables with
//! hashes, offsets and lengths of values the store holds.
#![no_main]

use std::sync::{Arc, OnceLock};

use checkpoint::inspect::inspect_key;
use checkpoint::{Checkpointer, MemStore, Store};
use checkpoint_fuzz::{claimed_seq, consume, key_of, large_sample, reseal, samples, State};
use libfuzzer_sys::fuzz_target;

/// The values of a store holding one incremental checkpoint of
/// [`large_sample`], and the key of its manifest.
fn template() -> &'static (Vec<(String, Vec<u8>)>, String) {
    static TEMPLATE: OnceLock<(Vec<(String, Vec<u8>)>, String)> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let store = Arc::new(MemStore::new());
        let ckpt = Checkpointer::new(Arc::clone(&store))
            .unwrap()
            .incremental(true);
        let meta = ckpt.save(&large_sample()).unwrap();
        let values = store
            .list("")
            .unwrap()
            .into_iter()
            .map(|key| {
                let value = store.get(&key).unwrap().unwrap();
                (key, value)
            })
            .collect();
        (values, meta.key)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, edits)) = data.split_first() else {
        return;
    };
    let (values, manifest_key) = template();
    let store = Arc::new(MemStore::new());
    let mut manifest = Vec::new();
    for (key, value) in values {
        if key == manifest_key {
            manifest = value.clone();
        } else {
            store.put_if_absent(key, value).unwrap();
        }
    }
    for (i, edit) in edits.chunks_exact(3).enumerate() {
        let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % manifest.len();
        if i == 0 && mode & 8 != 0 {
            manifest.truncate(at);
            break;
        }
        manifest[at] ^= edit[2];
    }
    let manifest = reseal(manifest, mode);
    let seq = claimed_seq(&manifest);
    let key = key_of(seq);
    if store.put_if_absent(&key, &manifest).is_err() {
        return;
    }
    let Ok(ckpt) = Checkpointer::new(Arc::clone(&store)) else {
        return;
    };
    consume(&ckpt.restore_latest::<State>());
    consume(&ckpt.restore::<State>(seq));
    consume(&inspect_key(&*store, &key, seq));
    // A save that finds its stored chunks in the edited manifest.
    let ckpt = ckpt.incremental(true);
    consume(&ckpt.save(&samples()[1]));
});
