//! Checkpoints written by earlier releases of the format still restore.
//!
//! `tests/golden/v<N>/` holds checkpoints written once, with
//! `CHECKPOINT_BLESS=1 cargo test --test format_golden`, and committed.
//! A change that breaks them fails here: bump the format version and keep
//! reading the old one instead of re-blessing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use checkpoint::{Checkpoint, Checkpointer, DirStore, Error};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Entry {
    id: u64,
    text: String,
}

#[derive(Debug, PartialEq, Checkpoint)]
struct Journal {
    last_seq: u64,
    entries: Vec<Entry>,
    tags: BTreeMap<String, i32>,
    #[derived(from = entries.len())]
    len: usize,
}

#[derive(Debug, PartialEq, Checkpoint)]
struct Pair(u32, Option<String>);

#[derive(Debug, PartialEq, Checkpoint)]
enum Phase {
    Idle,
    Running { step: u64, note: String },
    Done(i64),
}

fn journal() -> Journal {
    Journal {
        last_seq: 3,
        entries: vec![
            Entry {
                id: 1,
                text: "open".into(),
            },
            Entry {
                id: 2,
                text: "deposit 40".into(),
            },
        ],
        tags: BTreeMap::from([("branch".into(), 7), ("tier".into(), -1)]),
        len: 2,
    }
}

fn golden(version: u32) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/v{version}"))
}

#[test]
fn version_1_checkpoints_restore() {
    let dir = golden(1);
    if std::env::var_os("CHECKPOINT_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        let ckpt = Checkpointer::open(&dir).unwrap();
        ckpt.save(&journal()).unwrap();
        ckpt.save(&Pair(9, Some("nine".into()))).unwrap();
        ckpt.save(&Phase::Idle).unwrap();
        ckpt.save(&Phase::Running {
            step: 12,
            note: "warm".into(),
        })
        .unwrap();
        ckpt.save(&Phase::Done(-5)).unwrap();
    }
    // A read-only view: restoring must not write.
    let ckpt = Checkpointer::new(DirStore::open(&dir).unwrap()).unwrap();
    let restored = ckpt.restore::<Journal>(1).unwrap();
    assert_eq!(restored.state, journal());
    assert_eq!(restored.meta.type_name, "Journal");
    assert!(restored.meta.time > UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    assert_eq!(
        ckpt.restore::<Pair>(2).unwrap().state,
        Pair(9, Some("nine".into()))
    );
    assert_eq!(ckpt.restore::<Phase>(3).unwrap().state, Phase::Idle);
    assert_eq!(
        ckpt.restore::<Phase>(4).unwrap().state,
        Phase::Running {
            step: 12,
            note: "warm".into()
        }
    );
    let latest = ckpt.restore_latest::<Phase>().unwrap().unwrap();
    assert_eq!((latest.meta.seq, latest.state), (5, Phase::Done(-5)));
    let sizes: Vec<u64> = ckpt.list().unwrap().iter().map(|m| m.size).collect();
    assert_eq!(sizes.len(), 5);
    assert!(matches!(
        ckpt.restore::<Pair>(1),
        Err(Error::WrongType { .. })
    ));
}
