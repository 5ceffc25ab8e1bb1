//! Stores and state types shared by the group and object-store tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use checkpoint::{
    Checkpoint, FieldReader, FieldSchema, FieldWriter, Schema, Shape, Store, StoreError,
};

/// What one participant keeps: a counter and a log, both saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    pub node: String,
    pub epoch: u64,
    pub log: Vec<u64>,
}

impl NodeState {
    /// The state participant `node` holds at `epoch` in every test: a pure
    /// function of both, so a restore can be checked against it.
    pub fn at(node: &str, epoch: u64) -> Self {
        let seed = node.bytes().map(u64::from).sum::<u64>();
        NodeState {
            node: node.to_owned(),
            epoch,
            log: (0..epoch % 7)
                .map(|i| seed * 1000 + epoch * 10 + i)
                .collect(),
        }
    }
}

impl Checkpoint for NodeState {
    type Context = ();
    const SCHEMA: Schema = Schema::new(
        "NodeState",
        Shape::Struct(&[
            FieldSchema::serialized("node", "String"),
            FieldSchema::serialized("epoch", "u64"),
            FieldSchema::serialized("log", "Vec<u64>"),
        ]),
    );
    fn write_fields(&self, out: &mut FieldWriter<'_>) -> checkpoint::Result<()> {
        out.field("node", &self.node)?;
        out.field("epoch", &self.epoch)?;
        out.field("log", &self.log)
    }
    fn read_fields(input: &mut FieldReader<'_>, _: &()) -> checkpoint::Result<Self> {
        Ok(NodeState {
            node: input.field("node")?,
            epoch: input.field("epoch")?,
            log: input.field("log")?,
        })
    }
}

/// A second participant type: groups may mix types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    pub balance: i64,
}

impl Checkpoint for Ledger {
    type Context = ();
    const SCHEMA: Schema = Schema::new(
        "Ledger",
        Shape::Struct(&[FieldSchema::serialized("balance", "i64")]),
    );
    fn write_fields(&self, out: &mut FieldWriter<'_>) -> checkpoint::Result<()> {
        out.field("balance", &self.balance)
    }
    fn read_fields(input: &mut FieldReader<'_>, _: &()) -> checkpoint::Result<Self> {
        Ok(Ledger {
            balance: input.field("balance")?,
        })
    }
}

/// A store in memory, shared by clones.
#[derive(Debug, Default, Clone)]
pub struct MemStore(Arc<Mutex<BTreeMap<String, Vec<u8>>>>);

impl Store for MemStore {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let mut map = self.0.lock().unwrap();
        if map.contains_key(key) {
            return Err(StoreError::AlreadyExists {
                location: key.to_owned(),
            });
        }
        map.insert(key.to_owned(), bytes.to_vec());
        Ok(())
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }
    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(key)?.map(|mut b| {
            b.truncate(len);
            b
        }))
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.lock().unwrap().remove(key);
        Ok(())
    }
    fn location(&self, key: &str) -> String {
        format!("mem:{key}")
    }
}

/// A store of files: create-if-absent through `O_EXCL` on a temporary name
/// then a hard link, so readers never see half a file.
#[derive(Debug, Clone)]
pub struct FileStore(pub PathBuf);

fn io(op: &'static str, p: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io {
        operation: op,
        location: p.display().to_string(),
        source: e.into(),
    }
}

impl Store for FileStore {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        use std::io::Write;
        let path = self.0.join(key);
        let parent = path.parent().unwrap();
        std::fs::create_dir_all(parent).map_err(|e| io("write", &path, e))?;
        let tmp = parent.join(format!(
            ".tmp-{}-{:?}-{}",
            std::process::id(),
            std::thread::current().id(),
            path.file_name().unwrap().to_string_lossy()
        ));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io("write", &tmp, e))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| io("write", &tmp, e))?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(StoreError::AlreadyExists {
                    location: path.display().to_string(),
                })
            }
            Err(e) => Err(io("write", &path, e)),
        }
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match std::fs::read(self.0.join(key)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &self.0.join(key), e)),
        }
    }
    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(key)?.map(|mut b| {
            b.truncate(len);
            b
        }))
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                    continue;
                }
                if path.is_dir() {
                    walk(root, &path, out);
                } else if let Ok(rel) = path.strip_prefix(root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &self.0, &mut out);
        out.retain(|k| k.starts_with(prefix));
        out.sort();
        Ok(out)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        match std::fs::remove_file(self.0.join(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io("delete", &self.0.join(key), e))
            }
            _ => Ok(()),
        }
    }
    fn location(&self, key: &str) -> String {
        self.0.join(key).display().to_string()
    }
}

/// A name no other test run uses.
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// The S3 endpoint the tests may use, if any: loopback only.
///
/// Without `CHECKPOINT_S3_ENDPOINT` the caller skips (saying how to run);
/// with `CHECKPOINT_REQUIRE_S3=1` a missing or unreachable server fails.
pub fn s3_endpoint(test: &str) -> Option<String> {
    let required = std::env::var("CHECKPOINT_REQUIRE_S3").is_ok_and(|v| v == "1");
    let Ok(endpoint) = std::env::var("CHECKPOINT_S3_ENDPOINT") else {
        assert!(
            !required,
            "CHECKPOINT_REQUIRE_S3=1 but CHECKPOINT_S3_ENDPOINT is not set"
        );
        eprintln!(
            "skipping {test}: no S3 server. Run `scripts/seaweedfs.sh start && eval \"$(scripts/seaweedfs.sh env)\" && cargo test --features object-store`"
        );
        return None;
    };
    let host = endpoint
        .trim_start_matches("http://")
        .split([':', '/'])
        .next()
        .unwrap_or_default();
    assert!(
        host == "127.0.0.1" || host == "localhost",
        "tests only talk to a loopback server, not `{endpoint}`"
    );
    let addr = endpoint
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    let reachable = std::net::TcpStream::connect_timeout(
        &addr
            .replace("localhost", "127.0.0.1")
            .parse()
            .expect("endpoint is host:port"),
        std::time::Duration::from_secs(1),
    )
    .is_ok();
    if !reachable {
        assert!(
            !required,
            "CHECKPOINT_REQUIRE_S3=1 but nothing answers at {endpoint}"
        );
        eprintln!("skipping {test}: nothing answers at {endpoint}; start it with `scripts/seaweedfs.sh start`");
        return None;
    }
    Some(endpoint)
}

#[cfg(feature = "object-store")]
pub fn s3_store(test: &str) -> Option<checkpoint::store::ObjectStore> {
    s3_store_at(test, &unique(test))
}

#[cfg(feature = "object-store")]
pub fn s3_store_at(test: &str, prefix: &str) -> Option<checkpoint::store::ObjectStore> {
    let endpoint = s3_endpoint(test)?;
    let var =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    Some(
        checkpoint::store::ObjectStore::s3(
            &endpoint,
            &var("CHECKPOINT_S3_BUCKET", "checkpoint-test"),
            prefix,
            &var("CHECKPOINT_S3_ACCESS_KEY_ID", "checkpoint"),
            &var("CHECKPOINT_S3_SECRET_ACCESS_KEY", "checkpoint"),
        )
        .expect("S3 store configures"),
    )
}

/// Replaces the bytes under `key` through the store's own API.
pub fn overwrite(store: &dyn Store, key: &str, bytes: &[u8]) {
    store.delete(key).unwrap();
    store.put_if_absent(key, bytes).unwrap();
}
