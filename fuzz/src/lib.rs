//! Shared pieces of the fuzz targets: a state type covering the common
//! field kinds, and resealing, so mutated bytes get past the checksums and
//! reach the decoders behind them.

use checkpoint::format::{checksum, MAGIC, PREFIX_LEN};
use checkpoint::Checkpoint;
use serde::{Deserialize, Serialize};

/// A nested serde struct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inner {
    pub id: u64,
    pub label: String,
    pub weights: Vec<f32>,
}

/// A serde enum with every variant kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Mode {
    Idle,
    Run { step: u32, note: String },
    Done(i64),
}

/// The state the restore targets read.
#[derive(Debug, PartialEq, Checkpoint)]
pub struct State {
    pub items: Vec<u32>,
    pub name: String,
    pub limit: Option<u64>,
    pub inner: Inner,
    pub mode: Mode,
    pub history: Vec<Inner>,
    #[derived(from = items.len())]
    pub count: usize,
}

/// A checkpointed enum.
#[derive(Debug, PartialEq, Checkpoint)]
pub enum Phase {
    Idle,
    Running { step: u64, note: String },
    Done(i64),
}

/// A state of under 1 MiB: an incremental checkpoint of it is a first
/// chunk, a pack and a manifest listing a few chunks.
pub fn large_sample() -> State {
    let history: Vec<Inner> = (0..4_000u64)
        .map(|id| Inner {
            id,
            label: format!("record {id} of the large sample"),
            weights: vec![id as f32; (id % 16) as usize],
        })
        .collect();
    State {
        items: (0..100_000).collect(),
        name: "large".into(),
        limit: Some(7),
        inner: history[3].clone(),
        mode: Mode::Idle,
        history,
        count: 100_000,
    }
}

/// A few states to seed corpora with.
pub fn samples() -> Vec<State> {
    let inner = |id: u64| Inner {
        id,
        label: format!("inner {id}"),
        weights: vec![0.5; id as usize],
    };
    vec![
        State {
            items: vec![],
            name: String::new(),
            limit: None,
            inner: inner(0),
            mode: Mode::Idle,
            history: vec![],
            count: 0,
        },
        State {
            items: vec![1, 2, 3],
            name: "state".into(),
            limit: Some(9),
            inner: inner(2),
            mode: Mode::Run {
                step: 4,
                note: "go".into(),
            },
            history: vec![inner(1), inner(3)],
            count: 3,
        },
        State {
            items: vec![u32::MAX; 5],
            name: "é".repeat(10),
            limit: Some(u64::MAX),
            inner: inner(1),
            mode: Mode::Done(-1),
            history: vec![inner(0)],
            count: 5,
        },
    ]
}

/// Splits fuzz input into a mode byte and the bytes of a checkpoint, and
/// reseals them as the mode says: bit 0 makes the body length agree with
/// the input's length, bit 1 rewrites the header checksum, bit 2 the
/// trailing checksum. Inputs that do not start like a checkpoint are left
/// alone.
pub fn resealed(data: &[u8]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    reseal(rest.to_vec(), mode)
}

/// See [`resealed`].
pub fn reseal(mut bytes: Vec<u8>, mode: u8) -> Vec<u8> {
    if bytes.len() < PREFIX_LEN || bytes[..8] != MAGIC {
        return bytes;
    }
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let header_end = PREFIX_LEN.saturating_add(header_len);
    if mode & 1 != 0 {
        if let Some(body_len) = bytes.len().checked_sub(header_end.saturating_add(8)) {
            bytes[16..24].copy_from_slice(&(body_len as u64).to_le_bytes());
        }
    }
    if mode & 2 != 0 && header_end.saturating_add(4) <= bytes.len() {
        let crc = checksum(&bytes[..header_end]);
        bytes[header_end..header_end + 4].copy_from_slice(&crc.to_le_bytes());
    }
    if mode & 4 != 0 {
        let end = bytes.len() - 4;
        let crc = checksum(&bytes[..end]);
        bytes[end..].copy_from_slice(&crc.to_le_bytes());
    }
    bytes
}

/// The sequence number a checkpoint's prefix claims, 1 when it has none.
pub fn claimed_seq(bytes: &[u8]) -> u64 {
    bytes
        .get(24..32)
        .map_or(1, |b| u64::from_le_bytes(b.try_into().unwrap()))
}

/// The store key of checkpoint `seq`.
pub fn key_of(seq: u64) -> String {
    format!("{seq:020}.ckpt")
}

/// Touches every part of a restored or failed result, so formatting and
/// `Debug` of what decoding produced run too.
pub fn consume<T: std::fmt::Debug, E: std::fmt::Display>(result: &Result<T, E>) {
    match result {
        Ok(v) => drop(format!("{v:?}")),
        Err(e) => drop(e.to_string()),
    }
}
