//! A recorded writer's schema (the `DeepSchema` ending a version 3 header)
//! of arbitrary bytes, behind a valid header and body: decoded, validated,
//! printed, compared with itself, and resolved against the current type on
//! restore.
#![no_main]

use std::time::UNIX_EPOCH;

use checkpoint::format::{begin, decode_header, finish};
use checkpoint::{Checkpoint, Checkpointer, FieldWriter, MemStore, Store};
use checkpoint_fuzz::{consume, key_of, samples, State};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bytes = Vec::new();
    let start = begin(&mut bytes, 1, UNIX_EPOCH, &State::SCHEMA);
    // `begin` ends with the encoding of an empty recorded schema (two zero
    // bytes) and the header checksum's place: put the input there instead.
    bytes.truncate(start - 6);
    bytes.extend_from_slice(data);
    let Ok(header_len) = u32::try_from(bytes.len() - checkpoint::format::PREFIX_LEN) else {
        return;
    };
    bytes[12..16].copy_from_slice(&header_len.to_le_bytes());
    bytes.extend_from_slice(&[0; 4]);
    let body_start = bytes.len();
    let state = &samples()[1];
    state
        .write_fields(&mut FieldWriter::new(&mut bytes, State::SCHEMA.name))
        .unwrap();
    finish(&mut bytes, body_start);

    if let Ok(header) = decode_header(&bytes, 1, "fuzz") {
        let deep = &header.deep;
        drop(deep.display_tree());
        for (name, id) in deep.roots() {
            drop(deep.field_tree(*id));
            for change in deep.diff(*id, deep, *id) {
                drop(change.within(name).to_string());
            }
        }
    }
    let store = MemStore::new();
    store.put_if_absent(&key_of(1), &bytes).unwrap();
    let ckpt = Checkpointer::new(store).unwrap();
    consume(&ckpt.restore::<State>(1));
});
