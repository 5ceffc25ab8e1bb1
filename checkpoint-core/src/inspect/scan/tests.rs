use super::*;
use crate::inspect::inspect;
use crate::schema::{FieldSchema, Schema, Shape};
use crate::FieldWriter;

const SCHEMA: Schema = Schema::new(
    "Pair",
    Shape::Struct(&[
        FieldSchema::serialized("a", "u64"),
        FieldSchema::serialized("b", "Vec<u8>"),
    ]),
);

fn sample(body_len: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    let start = format::begin(&mut bytes, 7, std::time::SystemTime::now(), &SCHEMA);
    let mut out = FieldWriter::new(&mut bytes, "Pair");
    out.field("a", &42u64).unwrap();
    out.field("b", &vec![5u8; body_len]).unwrap();
    format::finish(&mut bytes, start);
    bytes
}

/// What a streamed read finds is what a read of the whole finds, for a
/// checkpoint larger than one piece, every truncation of a small one,
/// and a flipped byte anywhere.
#[test]
fn streaming_agrees_with_reading_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.ckpt");
    let dir_store = crate::DirStore::open_existing(dir.path()).unwrap();
    let mem_store = crate::MemStore::new();
    #[cfg(feature = "object-store")]
    let object_store = crate::store::ObjectStore::from_object_store(
        std::sync::Arc::new(object_store::memory::InMemory::new()),
        "p",
    )
    .unwrap();
    let stores: Vec<&dyn Store> = vec![
        &dir_store,
        &mem_store,
        #[cfg(feature = "object-store")]
        &object_store,
    ];
    let check = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        let case = (bytes.len(), bytes.iter().map(|b| *b as u64).sum::<u64>());
        let same = |streamed: Inspection, whole: Inspection| {
            assert_eq!(
                streamed.status(),
                whole.status(),
                "{case:?} {:?}",
                whole.problem
            );
            assert_eq!(streamed.frames, whole.frames);
            assert_eq!(streamed.len, whole.len);
            assert_eq!(
                streamed.problem.map(|e| e.to_string()),
                whole.problem.map(|e| e.to_string()),
                "{case:?}"
            );
        };
        let whole = inspect(bytes, 7, &path.display().to_string());
        same(scan_file(&path, 7, true).unwrap(), whole);
        for store in &stores {
            if !std::ptr::addr_eq(*store, &dir_store) {
                store.delete("x.ckpt").unwrap();
                store.put_if_absent("x.ckpt", bytes).unwrap();
            }
            let mut read = 0;
            let streamed = scan_key(*store, "x.ckpt", 7, true, &mut |done, len| {
                assert!(done >= read && done <= len, "{done} of {len}");
                read = done;
            })
            .unwrap();
            same(streamed, inspect(bytes, 7, &store.location("x.ckpt")));
        }
    };
    let large = sample(3 * CHUNK + 17);
    check(&large);
    let mut flipped = large.clone();
    flipped[2 * CHUNK] ^= 1;
    check(&flipped);
    let small = sample(40);
    for len in 0..=small.len() {
        check(&small[..len]);
    }
    for at in 0..small.len() {
        let mut bad = small.clone();
        bad[at] ^= 0x40;
        check(&bad);
    }
    let mut longer = small.clone();
    longer.extend_from_slice(b"tail");
    check(&longer);
}
