//! `commit` of a snapshot to a directory store against the bare durable
//! write of the same bytes in the same run: write a temporary file, fsync
//! it, hard-link it to its name, remove the temporary name, fsync the
//! directory, delete the file two writes back (as `keep_last(2)` retention
//! does) and free the buffer (as `commit` frees its snapshot's). Capture is
//! not timed.
//!
//! Run with `cargo bench --bench durable_commit`; the directories live under
//! `CHECKPOINT_BENCH_DIR` (default: the system temp dir).
//! docs/PERFORMANCE.md has the figures.

use std::fs::{self, File};
use std::io::Write;

use checkpoint::{Checkpoint, Checkpointer};
use divan::Bencher;

mod common;

#[derive(Checkpoint)]
struct Blob {
    data: Vec<u8>,
}

fn blob(mib: usize) -> Blob {
    Blob {
        data: (0..mib << 20)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8)
            .collect(),
    }
}

fn temp_dir() -> tempfile::TempDir {
    common::bench_dir("checkpoint-durable-commit-")
}

const SIZES: [usize; 2] = [1, 64];

fn main() {
    divan::main();
}

#[divan::bench(args = SIZES, sample_count = 20, sample_size = 1)]
fn commit(bencher: Bencher, mib: usize) {
    let dir = temp_dir();
    let ckpt = Checkpointer::open(dir.path()).unwrap().keep_last(2);
    let state = blob(mib);
    bencher
        .with_inputs(|| ckpt.capture(&state).unwrap())
        .bench_local_values(|snapshot| ckpt.commit(snapshot).unwrap());
}

#[divan::bench(args = SIZES, sample_count = 20, sample_size = 1)]
fn bare_write_fsync_link(bencher: Bencher, mib: usize) {
    let dir = temp_dir();
    let root = dir.path().to_path_buf();
    let bytes = Checkpointer::open(temp_dir().path())
        .unwrap()
        .capture(&blob(mib))
        .unwrap()
        .bytes()
        .to_vec();
    let mut n = 0u64;
    bencher
        // An owned copy per write, freed inside the timing as `commit`
        // frees its snapshot's buffer.
        .with_inputs(|| {
            n += 1;
            (n, bytes.clone())
        })
        .bench_local_values(|(n, bytes)| {
            let temp = root.join(format!(".tmp-{n}"));
            let mut file = File::create_new(&temp).unwrap();
            file.write_all(&bytes).unwrap();
            file.sync_all().unwrap();
            fs::hard_link(&temp, root.join(format!("{n:020}.ckpt"))).unwrap();
            fs::remove_file(&temp).unwrap();
            File::open(&root).unwrap().sync_all().unwrap();
            if n > 2 {
                fs::remove_file(root.join(format!("{:020}.ckpt", n - 2))).unwrap();
            }
        });
}
