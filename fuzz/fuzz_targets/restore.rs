//! A store holding arbitrary bytes as a checkpoint, restored as a derived
//! struct and a derived enum, by `restore_latest`, `restore` and `list`.
#![no_main]

use checkpoint::{Checkpointer, MemStore, Store};
use checkpoint_fuzz::{claimed_seq, consume, key_of, resealed, Phase, State};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bytes = resealed(data);
    let seq = claimed_seq(&bytes);
    let store = MemStore::new();
    store.put_if_absent(&key_of(seq), &bytes).unwrap();
    let Ok(ckpt) = Checkpointer::new(store) else {
        return;
    };
    consume(&ckpt.restore_latest::<State>());
    consume(&ckpt.restore::<State>(seq));
    consume(&ckpt.restore::<State>(1));
    consume(&ckpt.restore_latest::<Phase>());
    consume(&ckpt.list());
});
