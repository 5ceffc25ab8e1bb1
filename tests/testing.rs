//! `checkpoint::testing`: fixtures of old checkpoints keep restoring, or the
//! test fails naming the file and the field.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use checkpoint::testing::{
    assert_restores, assert_restores_or_bless, assert_restores_or_bless_with, assert_restores_with,
    BLESS_VAR,
};
use checkpoint::{inspect, Checkpoint, Checkpointer, FieldReader, FieldSchema, FieldWriter};
use checkpoint::{Schema, Shape};

/// Tests that set `CHECKPOINT_BLESS` must not overlap with those that read it.
static ENV: Mutex<()> = Mutex::new(());

fn with_bless<R>(bless: bool, f: impl FnOnce() -> R) -> R {
    let _guard = ENV.lock().unwrap_or_else(PoisonError::into_inner);
    if bless {
        std::env::set_var(BLESS_VAR, "1");
    } else {
        std::env::remove_var(BLESS_VAR);
    }
    let result = catch_unwind(AssertUnwindSafe(f));
    std::env::remove_var(BLESS_VAR);
    result.unwrap_or_else(|e| std::panic::resume_unwind(e))
}

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("the assertion should fail");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[derive(Checkpoint)]
#[checkpoint(name = "Processor")]
struct ProcessorV1 {
    processed: u64,
    log: Vec<String>,
}

/// A compatible change: a derived field is rebuilt, not read.
#[derive(Checkpoint)]
#[checkpoint(name = "Processor")]
struct ProcessorV2 {
    processed: u64,
    log: Vec<String>,
    #[derived(from = log.len())]
    count: usize,
}

/// A breaking change: a stored field that old checkpoints lack.
#[derive(Checkpoint)]
#[checkpoint(name = "Processor")]
struct ProcessorBroken {
    processed: u64,
    log: Vec<String>,
    last_message_time: u64,
}

fn fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    for n in 1..=2 {
        ckpt.save(&ProcessorV1 {
            processed: n,
            log: vec!["hello".into()],
        })
        .unwrap();
    }
    dir
}

fn count(dir: &Path) -> usize {
    inspect::checkpoint_files(dir).unwrap().len()
}

#[test]
fn good_fixtures_restore() {
    let dir = fixtures();
    with_bless(false, || {
        assert_restores::<ProcessorV1>(dir.path());
        assert_restores::<ProcessorV2>(dir.path());
    });
    assert_eq!(count(dir.path()), 2, "checking writes nothing");
    let restored = Checkpointer::open(dir.path())
        .unwrap()
        .restore::<ProcessorV2>(1)
        .unwrap();
    assert_eq!(restored.state.count, 1);
}

#[test]
fn a_breaking_change_fails_naming_the_file_the_seq_and_the_field() {
    let dir = fixtures();
    let message = with_bless(false, || {
        panic_message(|| assert_restores::<ProcessorBroken>(dir.path()))
    });
    for expected in [
        "2 of 2 checkpoint fixtures under",
        "no longer restore as `Processor`",
        "00000000000000000001.ckpt (#1)",
        "00000000000000000002.ckpt (#2)",
        "has no field `last_message_time`",
        "#[checkpoint(default = ...)]",
    ] {
        assert!(
            message.contains(expected),
            "missing {expected:?} in:\n{message}"
        );
    }
}

#[test]
fn a_damaged_fixture_fails() {
    let dir = fixtures();
    let path = dir.path().join("00000000000000000002.ckpt");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 6;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let message = with_bless(false, || {
        panic_message(|| assert_restores::<ProcessorV1>(dir.path()))
    });
    assert!(message.contains("1 of 2"), "{message}");
    assert!(message.contains("(#2): checkpoint #2"), "{message}");
    assert!(message.contains("is corrupt"), "{message}");
}

#[test]
fn no_fixtures_fail_and_say_how_to_bless() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none");
    for d in [dir.path(), &missing] {
        let message = with_bless(false, || {
            panic_message(|| assert_restores::<ProcessorV1>(d))
        });
        assert!(message.contains("CHECKPOINT_BLESS=1"), "{message}");
    }
    assert!(!missing.exists(), "checking must not create the directory");
}

#[test]
fn blessing_writes_one_fixture_per_schema_and_keeps_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("processor");
    with_bless(true, || {
        assert_restores_or_bless::<ProcessorV1>(&fixtures, || ProcessorV1 {
            processed: 7,
            log: vec!["a".into(), "b".into()],
        });
    });
    assert_eq!(count(&fixtures), 1);
    let restored = Checkpointer::open(&fixtures)
        .unwrap()
        .restore::<ProcessorV1>(1)
        .unwrap();
    assert_eq!(restored.state.processed, 7);

    // The same schema again: nothing new to guard.
    with_bless(true, || assert_restores::<ProcessorV1>(&fixtures));
    assert_eq!(count(&fixtures), 1);

    // A new schema adds a fixture; the old one stays and still restores.
    with_bless(true, || assert_restores::<ProcessorV2>(&fixtures));
    assert_eq!(count(&fixtures), 2);
    with_bless(false, || assert_restores::<ProcessorV2>(&fixtures));

    // Blessing does not hide a break: nothing is blessed from a type that
    // cannot read the fixtures, and they fail.
    let message = with_bless(true, || {
        panic_message(|| assert_restores::<ProcessorBroken>(&fixtures))
    });
    assert!(message.contains("2 of 2"), "{message}");
    assert_eq!(count(&fixtures), 2);
    assert!(message.contains("last_message_time"), "{message}");
}

/// A type whose derived field needs a context: the scale it is rebuilt with.
#[derive(Debug)]
struct Scaled {
    n: u64,
    scaled: u64,
}

impl Checkpoint for Scaled {
    type Context = u64;
    const SCHEMA: Schema = Schema::new(
        "Scaled",
        Shape::Struct(&[
            FieldSchema::serialized("n", "u64"),
            FieldSchema::derived("scaled", "u64"),
        ]),
    );

    fn write_fields(&self, out: &mut FieldWriter<'_>) -> checkpoint::Result<()> {
        out.field("n", &self.n)
    }

    fn read_fields(input: &mut FieldReader<'_>, scale: &u64) -> checkpoint::Result<Self> {
        let n: u64 = input.field("n")?;
        Ok(Scaled {
            n,
            scaled: n * scale,
        })
    }

    fn check(&self) -> Result<(), String> {
        if self.scaled == 0 {
            return Err("scaled is 0".into());
        }
        Ok(())
    }
}

#[test]
fn a_type_with_a_context_restores_with_it() {
    let dir = tempfile::tempdir().unwrap();
    with_bless(true, || {
        assert_restores_or_bless_with::<Scaled>(dir.path(), &3, || Scaled { n: 2, scaled: 6 });
    });
    with_bless(false, || assert_restores_with::<Scaled>(dir.path(), &3));
    // The context reaches the restore: with 0 the check fails.
    let message = with_bless(false, || {
        panic_message(|| assert_restores_with::<Scaled>(dir.path(), &0))
    });
    assert!(message.contains("scaled is 0"), "{message}");
}

mod v1 {
    #[derive(serde::Serialize, serde::Deserialize)]
    pub struct Message {
        pub sender: u32,
    }
}

mod v2 {
    #[derive(serde::Serialize, serde::Deserialize)]
    pub struct Message {
        pub sender: String,
    }
}

#[derive(Checkpoint)]
#[checkpoint(name = "Inbox")]
struct InboxV1 {
    log: Vec<v1::Message>,
}

#[derive(Checkpoint)]
#[checkpoint(name = "Inbox")]
struct InboxV2 {
    log: Vec<v2::Message>,
}

#[test]
fn a_change_inside_a_nested_type_fails_naming_its_path() {
    let dir = tempfile::tempdir().unwrap();
    Checkpointer::open(dir.path())
        .unwrap()
        .save(&InboxV1 {
            log: vec![v1::Message { sender: 7 }],
        })
        .unwrap();
    let message = with_bless(false, || {
        panic_message(|| assert_restores::<InboxV2>(dir.path()))
    });
    assert!(
        message.contains("00000000000000000001.ckpt (#1)"),
        "{message}"
    );
    assert!(message.contains("log[].sender"), "{message}");
}
