//! What the runtime tests share: test states, store wrappers, helpers; the
//! incremental tests' state ([`blocks`]), the
//! types of the group tests ([`group`]), a store whose writes wait for the
//! test ([`gated`]) and an object store whose operations yield to the
//! executor ([`yielding`]). Each test file uses a part of it.
#![allow(dead_code, unused_macros)]

pub mod blocks;
pub mod gated;
pub mod group;
pub mod hooked;
pub mod yielding;

use std::path::PathBuf;

/// Implements, for a test store wrapper with an `inner` store, each named
/// `Store` method by forwarding it unchanged, so the wrapper spells out only
/// the behaviour it changes.
macro_rules! forward_to_inner {
    ($($method:ident),* $(,)?) => { $(forward_to_inner!(@ $method);)* };
    (@ get) => {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(key)
        }
    };
    (@ get_prefix) => {
        fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get_prefix(key, len)
        }
    };
    (@ get_at_most) => {
        fn get_at_most(
            &self,
            key: &str,
            limit: u64,
        ) -> Result<Option<std::sync::Arc<Vec<u8>>>, StoreError> {
            self.inner.get_at_most(key, limit)
        }
    };
    (@ list_level) => {
        fn list_level(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
            self.inner.list_level(prefix)
        }
    };
    (@ list) => {
        fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
            self.inner.list(prefix)
        }
    };
    (@ delete) => {
        fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.inner.delete(key)
        }
    };
    (@ location) => {
        fn location(&self, key: &str) -> String {
            self.inner.location(key)
        }
    };
}

/// A named struct implementing `Checkpoint` field by field, under a chosen
/// checkpoint name, so tests can describe one type at two versions.
macro_rules! state {
    ($ty:ident as $name:literal { $($f:ident : $t:ty),* $(,)? }) => {
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $ty { $(pub $f: $t),* }

        impl checkpoint::Checkpoint for $ty {
            type Context = ();
            const SCHEMA: checkpoint::Schema = checkpoint::Schema::new(
                $name,
                checkpoint::Shape::Struct(&[
                    $(checkpoint::FieldSchema::serialized(stringify!($f), stringify!($t))),*
                ]),
            );

            fn write_fields(&self, out: &mut checkpoint::FieldWriter<'_>) -> checkpoint::Result<()> {
                $(out.field(stringify!($f), &self.$f)?;)*
                Ok(())
            }

            fn read_fields(
                input: &mut checkpoint::FieldReader<'_>,
                _: &(),
            ) -> checkpoint::Result<Self> {
                Ok(Self { $($f: input.field(stringify!($f))?),* })
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use {forward_to_inner, state};

state!(Counter as "Counter" { n: u64, history: Vec<u64> });

impl Counter {
    pub fn at(n: u64) -> Self {
        Counter {
            n,
            history: (0..n % 17).collect(),
        }
    }
}

/// A fresh directory under the system temp dir, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("checkpoint-test-")
        .tempdir()
        .unwrap()
}

/// The file of checkpoint `seq` in a directory store.
pub fn file_of(dir: &std::path::Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.ckpt"))
}

state!(Journal as "Journal" { count: u64, entries: Vec<u64>, sum: u64 });

impl Journal {
    /// The state after this one: every entry depends on the count, so a
    /// mix of two states' bytes does not pass [`Journal::is_consistent`].
    /// Sizes cycle, so a long-running child does not grow without bound.
    pub fn next(&self) -> Journal {
        let count = self.count + 1;
        let entries: Vec<u64> = (0..count % 512 * 64).map(|i| i ^ count).collect();
        Journal {
            count,
            sum: entries.iter().sum(),
            entries,
        }
    }

    /// Holds for every state [`Journal::next`] makes, and for no torn mix
    /// of two.
    pub fn is_consistent(&self) -> bool {
        self.entries.len() as u64 == self.count % 512 * 64
            && self.entries.iter().sum::<u64>() == self.sum
            && self
                .entries
                .iter()
                .enumerate()
                .all(|(i, e)| *e == i as u64 ^ self.count)
    }
}

/// Starts this test binary again, running only the test `name` with `env`
/// set to `dir`: the process a SIGKILL test kills. The child test does
/// nothing unless `env` is set.
pub fn spawn_test_child(
    name: &str,
    env: &str,
    dir: &std::path::Path,
    stdout: std::process::Stdio,
) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(env, dir)
        .stdout(stdout)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// A single-threaded tokio runtime with the IO and time drivers (which
/// the object store's client needs), as `#[tokio::main]` builds one.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Polls `future` once, as an executor would before it stops for an event.
pub fn poll_once<F: std::future::Future>(
    future: &mut std::pin::Pin<Box<F>>,
) -> std::task::Poll<F::Output> {
    future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}
