//! Test states shared by the runtime tests.
#![allow(dead_code, unused_macros)]

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
