//! Assertions for your own tests: checkpoints you keep as fixtures must
//! keep restoring as your types change.
//!
//! Commit a folder of checkpoints of each type (a folder as the directory
//! store writes it, so one written by [`Checkpointer::open`] works as is) and
//! call [`assert_restores`] on it in a test. A code change that would break
//! restoring those checkpoints then fails CI, with a message naming the file,
//! the sequence number, the field and the fix, before it reaches production.
//!
//! Run the test once with `CHECKPOINT_BLESS=1` to write a fixture of the
//! current schema; commit it. Blessing adds a fixture when the schema is new
//! and never removes one, so a fixture written before a change keeps guarding
//! that change.
//!
//! # Examples
//!
//! ```
//! use checkpoint::testing::assert_restores_or_bless;
//! use checkpoint::Checkpoint;
//!
//! #[derive(Checkpoint)]
//! struct Counter { n: u64, history: Vec<u64> }
//!
//! # let fixtures = tempfile::tempdir().unwrap();
//! # let dir = fixtures.path();
//! # std::env::set_var("CHECKPOINT_BLESS", "1");
//! // In a test, with `dir` a folder committed with the code, such as
//! // `concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/counter")`:
//! assert_restores_or_bless::<Counter>(dir, || Counter { n: 3, history: vec![1, 2, 3] });
//! # std::env::remove_var("CHECKPOINT_BLESS");
//! # assert_restores_or_bless::<Counter>(dir, || unreachable!());
//! # assert_eq!(checkpoint::inspect::checkpoint_files(dir).unwrap().len(), 1);
//! ```
//!
//! A sample with data in every collection and every enum variant you can
//! think of guards more than an empty one: a field's bytes are only decoded
//! when there are some.

use std::any::type_name;
use std::fmt::Write as _;
use std::path::Path;

use crate::{format, inspect};
use crate::{Checkpoint, Checkpointer, DirStore, MemStore};

/// The environment variable that makes the assertions write a fixture of
/// the current schema: `CHECKPOINT_BLESS=1`.
pub const BLESS_VAR: &str = "CHECKPOINT_BLESS";

/// Asserts that every checkpoint under `dir` restores as `T`.
///
/// With `CHECKPOINT_BLESS=1`, when no fixture has `T`'s current schema, it
/// first restores the newest fixture that still restores and saves it again
/// with the current schema, so the folder gains a fixture of today's
/// schema. A folder with no fixture yet needs a first one:
/// [`assert_restores_or_bless`] writes it from a sample value, or save one
/// with [`Checkpointer::open`].
///
/// Use [`assert_restores_with`] for a type with a context.
///
/// # Panics
///
/// When a checkpoint under `dir` does not restore as `T` (the message names
/// each file, its sequence number and the error, which names the field and
/// the fix), when `dir` holds no checkpoint, or when blessing fails to write.
///
/// # Examples
///
/// ```no_run
/// use checkpoint::Checkpoint;
///
/// #[derive(Checkpoint)]
/// struct Counter { n: u64, history: Vec<u64> }
///
/// #[test]
/// fn old_counters_restore() {
///     checkpoint::testing::assert_restores::<Counter>("tests/fixtures/counter");
/// }
/// ```
#[track_caller]
pub fn assert_restores<T: Checkpoint<Context = ()>>(dir: impl AsRef<Path>) {
    let dir = dir.as_ref();
    check::<T>(dir, &(), || newest_restorable::<T>(dir, &()));
}

/// [`assert_restores`] for a type whose restore needs a context.
///
/// # Panics
///
/// As [`assert_restores`].
#[track_caller]
pub fn assert_restores_with<T: Checkpoint>(dir: impl AsRef<Path>, context: &T::Context) {
    let dir = dir.as_ref();
    check::<T>(dir, context, || newest_restorable::<T>(dir, context));
}

/// [`assert_restores`] that blesses the value `sample` makes (called only
/// when blessing).
///
/// # Panics
///
/// As [`assert_restores`].
#[track_caller]
pub fn assert_restores_or_bless<T: Checkpoint<Context = ()>>(
    dir: impl AsRef<Path>,
    sample: impl FnOnce() -> T,
) {
    check::<T>(dir.as_ref(), &(), || Ok(Some(sample())));
}

/// [`assert_restores_or_bless`] for a type whose restore needs a context.
///
/// # Panics
///
/// As [`assert_restores`].
#[track_caller]
pub fn assert_restores_or_bless_with<T: Checkpoint>(
    dir: impl AsRef<Path>,
    context: &T::Context,
    sample: impl FnOnce() -> T,
) {
    check::<T>(dir.as_ref(), context, || Ok(Some(sample())));
}

fn blessing() -> bool {
    std::env::var_os(BLESS_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

#[track_caller]
fn check<T: Checkpoint>(
    dir: &Path,
    context: &T::Context,
    sample: impl FnOnce() -> Result<Option<T>, String>,
) {
    let shown = dir.display();
    if blessing() {
        if let Err(message) = bless(dir, sample) {
            panic!(
                "could not bless a `{}` fixture under `{shown}`: {message}",
                T::SCHEMA.name
            );
        }
    }
    let files = match inspect::checkpoint_files(dir) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => panic!(
            "no checkpoint fixtures under `{shown}`; run the test with {BLESS_VAR}=1 to write one \
             of `{}` and commit it",
            T::SCHEMA.name
        ),
        Err(e) => panic!(
            "cannot read checkpoint fixtures under `{shown}`: {e}; run the test with \
             {BLESS_VAR}=1 to write one of `{}` and commit it",
            T::SCHEMA.name
        ),
    };
    let store = match DirStore::open(dir) {
        Ok(store) => store,
        Err(e) => panic!("cannot open checkpoint fixtures under `{shown}`: {e}"),
    };
    let checkpointer = match Checkpointer::new(store) {
        Ok(c) => c,
        Err(e) => panic!("cannot open checkpoint fixtures under `{shown}`: {e}"),
    };
    let mut failures = String::new();
    let mut failed = 0;
    for (seq, path) in &files {
        if let Err(e) = checkpointer.restore_with::<T>(*seq, context) {
            failed += 1;
            let file = path
                .file_name()
                .map_or(shown.to_string(), |n| n.to_string_lossy().into_owned());
            let _ = write!(failures, "\n  - {file} (#{seq}): {e}");
        }
    }
    if failed > 0 {
        panic!(
            "{failed} of {} checkpoint fixtures under `{shown}` no longer restore as `{}` ({}):\
             {failures}\nIf the change is deliberate, apply the fix each error names so that \
             checkpoints already written keep restoring.",
            files.len(),
            T::SCHEMA.name,
            type_name::<T>(),
        );
    }
}

/// Writes `sample` as a new checkpoint under `dir` unless a checkpoint there
/// already has `T`'s current schema.
fn bless<T: Checkpoint>(
    dir: &Path,
    sample: impl FnOnce() -> Result<Option<T>, String>,
) -> Result<(), String> {
    // Nothing to save when no fixture restores: the check that follows
    // reports why.
    let Some(sample) = sample()? else {
        return Ok(());
    };
    // The schema a checkpoint of the sample records, down to the leaves.
    let snapshot = Checkpointer::new(MemStore::new())
        .and_then(|c| c.capture(&sample))
        .map_err(|e| e.to_string())?;
    let (written, _) = format::decode(snapshot.bytes(), snapshot.seq(), "the sample")
        .map_err(|e| e.to_string())?;
    if let Ok(files) = inspect::checkpoint_files(dir) {
        for (seq, path) in files {
            let found = inspect::inspect_file(&path, seq).map_err(|e| e.to_string())?;
            if found.header.is_some_and(|h| {
                h.type_name == written.type_name
                    && h.schema == written.schema
                    && h.deep == written.deep
            }) {
                return Ok(());
            }
        }
    }
    // Fixtures are kept forever: retention must not delete the old ones.
    let checkpointer = Checkpointer::open(dir)
        .map_err(|e| e.to_string())?
        .keep_last(usize::MAX);
    checkpointer.save(&sample).map_err(|e| e.to_string())?;
    Ok(())
}

/// The newest fixture under `dir` that restores as `T`: what blessing saves
/// again with the current schema when no sample value is given. `None` when
/// no fixture restores (the check reports why).
fn newest_restorable<T: Checkpoint>(dir: &Path, context: &T::Context) -> Result<Option<T>, String> {
    let files = inspect::checkpoint_files(dir).unwrap_or_default();
    if files.is_empty() {
        return Err(format!(
            "there is no fixture to bless from; write a first one with \
             `assert_restores_or_bless` and a sample value, or save one with \
             `Checkpointer::open(\"{}\")`",
            dir.display()
        ));
    }
    let checkpointer = Checkpointer::open(dir).map_err(|e| e.to_string())?;
    Ok(files
        .iter()
        .rev()
        .find_map(|(seq, _)| checkpointer.restore_with::<T>(*seq, context).ok())
        .map(|restored| restored.state))
}
