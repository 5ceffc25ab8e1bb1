//! Writes the seed corpora: real checkpoints (the golden files of every
//! format version, and saves of the fuzzed types), each in the input layout
//! of its target. Run from `fuzz/`: `cargo run --example make_seeds`.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use checkpoint::group::Group;
use checkpoint::{Checkpointer, MemStore, Store};
use checkpoint_fuzz::{samples, Phase};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    let mut checkpoints: Vec<(String, Vec<u8>)> = Vec::new();
    for version in ["v1", "v2", "v3", "v4", "v5", "v6"] {
        let dir = Path::new("../tests/golden").join(version);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "ckpt"))
            .collect();
        files.sort();
        for file in files {
            let name = format!(
                "golden-{version}-{}",
                file.file_stem().unwrap().to_string_lossy()
            );
            checkpoints.push((name, fs::read(file).unwrap()));
        }
    }
    let store = Arc::new(MemStore::new());
    let ckpt = Checkpointer::new(store.clone()).unwrap();
    for state in samples() {
        ckpt.save(&state).unwrap();
    }
    ckpt.save(&Phase::Running {
        step: 3,
        note: "n".into(),
    })
    .unwrap();
    ckpt.save(&Phase::Done(-4)).unwrap();
    for key in store.list("").unwrap() {
        checkpoints.push((format!("saved-{key}"), store.get(&key).unwrap().unwrap()));
    }

    for (name, bytes) in &checkpoints {
        let resealing = [&[0xff][..], bytes].concat();
        write("format_decode", name, &resealing);
        write("restore", name, &resealing);
        write("group_part", name, &[&[0x07][..], bytes].concat());
    }
    // Inspect pairs: each checkpoint with the next one.
    for pair in checkpoints.windows(2) {
        let (a, b) = (&pair[0].1, &pair[1].1);
        let split = (a.len() as u16).to_le_bytes();
        let input = [&[0xff, split[0], split[1]][..], a, b].concat();
        write("inspect", &format!("{}+{}", pair[0].0, pair[1].0), &input);
    }
    // Real group parts, owner header included.
    let group = Group::from_shared(store.clone(), "g").unwrap();
    let info = group.save_part(1, "p", &samples()[1]).unwrap();
    group.commit(1, &["p"], &[info]).unwrap();
    for key in store.list("group/").unwrap() {
        let bytes = store.get(&key).unwrap().unwrap();
        let name = key.replace('/', "-");
        write("group_part", &name, &[&[0x80][..], &bytes].concat());
        write(
            "group_part",
            &format!("{name}-as-commit"),
            &[&[0xc0][..], &bytes].concat(),
        );
    }
    // Recorded schemas as the header stores them.
    let recorded = |bytes: &[u8]| {
        let (header, _) = checkpoint::format::decode(bytes, 1, "seed").unwrap();
        postcard::to_allocvec(&header.deep).unwrap()
    };
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    write("shape_decode", "state", &recorded(ckpt.capture(&samples()[1]).unwrap().bytes()));
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    write("shape_decode", "phase", &recorded(ckpt.capture(&Phase::Idle).unwrap().bytes()));
    println!("seeds written under fuzz/corpus/");
}
