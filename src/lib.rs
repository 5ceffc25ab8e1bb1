//! Checkpoint and restore application state, correct by construction.
//!
//! `#[derive(Checkpoint)]` refuses to compile a struct whose fields would be
//! silently left out of a checkpoint: every field is serialized unless it is
//! marked `#[derived(from = ...)]`, which says how to rebuild it on restore.
//!
//! # Guide: deriving `Checkpoint`
//!
//! ```
//! use std::collections::HashMap;
//! use std::time::Instant;
//!
//! use checkpoint::Checkpoint;
//!
//! #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct Message {
//!     id: u64,
//!     body: String,
//! }
//!
//! fn build_index(log: &[Message]) -> HashMap<u64, usize> {
//!     log.iter().enumerate().map(|(i, m)| (m.id, i)).collect()
//! }
//!
//! #[derive(Checkpoint)]
//! struct MessageProcessor {
//!     processed_messages: u64,
//!     log: Vec<Message>,
//!     // Not stored: rebuilt on restore from the stored `log`.
//!     #[derived(from = build_index(&log))]
//!     index: HashMap<u64, usize>,
//!     // An `Instant` cannot be serialized: without `#[derived]` this field
//!     // would be a compile error naming it.
//!     #[derived(from = Instant::now())]
//!     started: Instant,
//! }
//!
//! let log = vec![Message { id: 7, body: "hello".into() }];
//! let p = MessageProcessor {
//!     processed_messages: 1,
//!     index: build_index(&log),
//!     log,
//!     started: Instant::now(),
//! };
//!
//! // The derive also gives serde's traits over the stored fields only.
//! let json = serde_json::to_string(&p)?;
//! assert_eq!(json, r#"{"processed_messages":1,"log":[{"id":7,"body":"hello"}]}"#);
//! let back: MessageProcessor = serde_json::from_str(&json)?;
//! assert_eq!(back.index, p.index);
//!
//! // The schema is known at compile time.
//! let stored: Vec<&str> = MessageProcessor::SCHEMA.stored_fields().map(|f| f.name).collect();
//! assert_eq!(stored, ["processed_messages", "log"]);
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! What the derive checks at compile time:
//!
//! - every serialized field implements serde's `Serialize` and
//!   `DeserializeOwned`; the error names the field and says to serialize it
//!   or mark it `#[derived(from = ...)]`;
//! - no `#[serde(...)]` attribute changes the encoding (`skip` would drop a
//!   field silently);
//! - no serialized field holds `Mutex`, `RwLock`, `RefCell`, `Cell`,
//!   `OnceCell`, `OnceLock`, `UnsafeCell` or an `Atomic*`, anywhere in its
//!   type, unless it says `#[checkpoint(allow_interior_mutability)]`: its
//!   parts would be captured at different instants;
//! - `#[derived(from = EXPR)]` is well formed, and `EXPR` has the field's
//!   type (the serialized fields and earlier derived fields are in scope by
//!   name; tuple fields are `_0`, `_1`, ...).
//!
//! All mistakes in one type are reported in one compile. See
//! [`Checkpoint`](derive@Checkpoint) for every attribute.
//!
//! # Guide: saving and restoring
//!
//! A [`Checkpointer`] numbers every checkpoint (1, 2, 3, ... across
//! restarts), writes it durably, and restores the newest valid one.
//!
//! ```
//! use checkpoint::{Checkpoint, Checkpointer};
//!
//! #[derive(Checkpoint, Debug, PartialEq)]
//! struct Counter {
//!     count: u64,
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let ckpt = Checkpointer::open(dir.path())?; // creates the directory store
//! assert!(ckpt.restore_latest::<Counter>()?.is_none());
//!
//! let meta = ckpt.save(&Counter { count: 1 })?;
//! assert_eq!(meta.seq, 1);
//! assert_eq!(ckpt.save(&Counter { count: 2 })?.seq, 2);
//!
//! // After a restart: a new checkpointer on the same directory.
//! let ckpt = Checkpointer::open(dir.path())?;
//! let restored = ckpt.restore_latest::<Counter>()?.expect("two were saved");
//! assert_eq!(restored.state, Counter { count: 2 });
//! assert_eq!(restored.meta.seq, 2);
//! assert_eq!(ckpt.save(&Counter { count: 3 })?.seq, 3); // numbering continues
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! State shared between threads is captured under its lock and committed
//! outside it, so writers wait only for the encoding, never for the disk:
//!
//! ```
//! use std::sync::Mutex;
//!
//! use checkpoint::{Checkpoint, Checkpointer};
//!
//! #[derive(Checkpoint)]
//! struct Totals {
//!     deposits: u64,
//!     withdrawals: u64,
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let ckpt = Checkpointer::open(dir.path())?;
//! let state = Mutex::new(Totals { deposits: 10, withdrawals: 3 });
//!
//! // Both fields come from the same instant: no writer runs during capture.
//! let snapshot = ckpt.capture(&*state.lock().unwrap())?;
//! let meta = ckpt.commit(snapshot)?; // fsyncs happen here, lock released
//! assert_eq!(meta.seq, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! To not wait for the disk at all, hand snapshots to a [`Background`]:
//! `submit` returns at once, one commit runs at a time, a newer snapshot
//! replaces one still waiting, and a failed commit comes back from the next
//! call:
//!
//! ```
//! # use std::sync::Mutex;
//! # use checkpoint::{Checkpoint, Checkpointer};
//! # #[derive(Checkpoint)]
//! # struct Totals { deposits: u64 }
//! # let dir = tempfile::tempdir()?;
//! # let ckpt = Checkpointer::open(dir.path())?;
//! # let state = Mutex::new(Totals { deposits: 10 });
//! let bg = ckpt.background();
//! for _ in 0..3 {
//!     let snapshot = {
//!         let mut totals = state.lock().unwrap();
//!         totals.deposits += 1;
//!         ckpt.capture(&*totals)?
//!     };
//!     bg.submit(snapshot)?; // returns at once
//! }
//! let newest = bg.close()?.expect("the last snapshot is committed");
//! assert_eq!(newest.seq, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Async services on tokio enable the `tokio` feature and use
//! `AsyncCheckpointer`: the same methods, awaited, with the object store's
//! requests awaited in the task and other stores' blocking I/O on tokio's
//! blocking pool; `examples/async_service.rs` shows a service
//! that checkpoints on a timer and resumes after a crash. `group::AsyncGroup`
//! does the same for group checkpoints.
//!
//! Large state: on a directory store `save` writes the checkpoint as it
//! encodes it and a restore reads it field by field, so either needs about
//! one field's encoded size beside the state (`capture` holds the whole
//! encoded checkpoint until `commit`: use it when releasing a lock fast
//! matters more than memory). Spread a large state over several fields.
//! [`Compression::zstd`] compresses each field; restores read compressed
//! and plain checkpoints alike:
//!
//! ```
//! use checkpoint::{Checkpoint, Checkpointer, Compression};
//!
//! #[derive(Checkpoint, Debug, PartialEq)]
//! struct Log {
//!     lines: Vec<String>,
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let log = Log { lines: vec!["GET /index.html 200".into(); 1000] };
//! let plain = Checkpointer::open(dir.path())?.save(&log)?;
//! let ckpt = Checkpointer::open(dir.path())?.compression(Compression::zstd(3));
//! let small = ckpt.save(&log)?;
//! assert!(small.size * 20 < plain.size);
//! assert_eq!(ckpt.restore::<Log>(plain.seq)?.state, log);
//! assert_eq!(ckpt.restore_latest::<Log>()?.unwrap().state, log);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! When a state changes a little between checkpoints,
//! [`Checkpointer::incremental`] stores each checkpoint as content-defined
//! chunks, each kept once per store under its hash: a save writes only the
//! chunks the store lacks, retention deletes chunks no kept checkpoint
//! lists, and a damaged chunk fails (and names itself in) every checkpoint
//! that lists it, so `restore_latest` falls back past them:
//!
//! ```
//! use checkpoint::{Checkpoint, Checkpointer};
//!
//! #[derive(Checkpoint, Debug, PartialEq)]
//! struct Index {
//!     entries: Vec<(u64, String)>,
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let ckpt = Checkpointer::open(dir.path())?.incremental(true).keep_last(3);
//! let mut index = Index { entries: (0..50_000).map(|i| (i, format!("doc-{i}"))).collect() };
//! ckpt.save(&index)?;
//! index.entries[25_000].1 = "renamed".into();
//! ckpt.save(&index)?;
//! assert_eq!(ckpt.restore_latest::<Index>()?.unwrap().state, index);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! When a restore cannot work, [`Error`]'s message names the checkpoint, the
//! struct, the field, what differs and the fix. Several participants
//! checkpoint one logical state together with [`group`].
//!
//! Every capture, commit and restore runs in a `tracing` span (target
//! `checkpoint`) carrying its sequence number, size and duration; the
//! `metrics` feature also records durations, sizes and failures by kind
//! through the `metrics` facade. `docs/OBSERVABILITY.md` lists every span,
//! metric and label.

pub use checkpoint_core::{
    Background, Checkpoint, Checkpointer, Compression, DirStore, Error, FieldReader, FieldSchema,
    FieldWriter, MemStore, Meta, Restored, Result, Schema, Shape, Skipped, Snapshot, Store,
    StoreError, VariantSchema,
};
pub use checkpoint_derive::Checkpoint;

// `AsyncCheckpointer` (feature `tokio`) and `describe_metrics` (feature
// `metrics`), as checkpoint-core is built: none of them without those
// features.
#[allow(unused_imports)]
pub use checkpoint_core::__optional::*;

pub use checkpoint_core::{format, group, inspect, schema, store, testing};

// The README's examples compile as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Paths used by the code `#[derive(Checkpoint)]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use ::checkpoint_core::__private::*;
    pub use ::core;
    pub use ::serde;
    pub use ::std;
}
