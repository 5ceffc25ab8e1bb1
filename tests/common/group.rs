//! Stores and state types shared by the group and object-store tests.
#![allow(dead_code)]

use checkpoint::{Checkpoint, FieldReader, FieldSchema, FieldWriter, Schema, Shape, Store};

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
            "skipping {test}: no S3 server. Run `scripts/test.sh` (it starts a local SeaweedFS), or `scripts/seaweedfs.sh start && eval \"$(scripts/seaweedfs.sh env)\" && cargo test`"
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

pub fn s3_store(test: &str) -> Option<checkpoint::store::ObjectStore> {
    s3_store_at(test, &unique(test))
}

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
