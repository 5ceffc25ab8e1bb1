//! A committed group epoch whose part holds arbitrary bytes, restored; and
//! a commit record of arbitrary bytes, read.
#![no_main]

use std::sync::Arc;

use checkpoint::format::checksum;
use checkpoint::group::{Group, PartInfo};
use checkpoint::{MemStore, Store};
use checkpoint_fuzz::{consume, reseal, Phase, State};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;

const PART_KEY: &str = "group/g/parts/00000000000000000001/p";
const COMMIT_2: &str = "group/g/commits/00000000000000000002";

#[derive(Serialize)]
struct Owner<'a> {
    group: &'a str,
    participant: &'a str,
    epoch: u64,
}

#[derive(Serialize)]
struct Info<'a> {
    participant: &'a str,
    epoch: u64,
    len: u64,
    checksum: u32,
}

/// `checkpoint` behind an intact owner header for participant `p` of epoch 1.
fn wrapped(checkpoint: &[u8]) -> Vec<u8> {
    let owner = postcard::to_allocvec(&Owner {
        group: "g",
        participant: "p",
        epoch: 1,
    })
    .unwrap();
    let mut out = b"CKPTPRT1".to_vec();
    out.extend_from_slice(&(owner.len() as u32).to_le_bytes());
    out.extend_from_slice(&owner);
    out.extend_from_slice(&checksum(&out).to_le_bytes());
    out.extend_from_slice(checkpoint);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let part = if mode & 0x80 != 0 {
        // Bytes from the start of the part, owner header included.
        rest.to_vec()
    } else {
        wrapped(&reseal(rest.to_vec(), mode))
    };
    let store = Arc::new(MemStore::new());
    let group = Group::from_shared(store.clone(), "g").unwrap();
    store.put_if_absent(PART_KEY, &part).unwrap();
    let tail = part
        .len()
        .checked_sub(4)
        .map_or([0; 4], |at| part[at..].try_into().unwrap());
    let info: PartInfo = postcard::from_bytes(
        &postcard::to_allocvec(&Info {
            participant: "p",
            epoch: 1,
            len: part.len() as u64,
            checksum: u32::from_le_bytes(tail),
        })
        .unwrap(),
    )
    .unwrap();
    group.commit(1, &["p"], &[info]).unwrap();
    consume(&group.restore::<State>(1, "p"));
    consume(&group.restore::<Phase>(1, "p"));
    if mode & 0x40 != 0 {
        // The same bytes as the record of a later epoch.
        store.put_if_absent(COMMIT_2, rest).unwrap();
        consume(&group.committed_epochs());
        consume(&group.commit_record(2));
        consume(&group.restore_latest::<State>("p"));
    } else {
        consume(&group.restore_latest::<State>("p"));
    }
});
