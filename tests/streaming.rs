//! Restores read a checkpoint frame by frame from the store's reader (or
//! in place, when the store holds it in memory): the state equals what was
//! saved, in any field order, and a damaged checkpoint is reported as
//! damage before any of it is returned or handed to a derived field, alike
//! on both paths.

use std::collections::BTreeMap;

use checkpoint::schema::{FieldSchema, Schema, Shape};
use checkpoint::store::Store;
use checkpoint::{Checkpoint, Checkpointer, Compression, Error, MemStore};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Reading {
    sensor: u32,
    value: i64,
}

/// Panics on a reading out of range: a derived field that must never see
/// bytes that were not verified.
fn checked_max(readings: &[Reading]) -> i64 {
    readings
        .iter()
        .map(|r| {
            assert!((0..1000).contains(&r.value), "unverified reading {r:?}");
            r.value
        })
        .max()
        .unwrap_or(0)
}

#[derive(Debug, PartialEq, Checkpoint)]
#[checkpoint(name = "Station")]
struct Station {
    name: String,
    readings: Vec<Reading>,
    counts: BTreeMap<u32, u64>,
    #[derived(from = checked_max(&readings))]
    max: i64,
}

/// The same stored fields, declared in another order, one removed and one
/// added with a default: its reads ask for frames out of written order.
#[derive(Debug, PartialEq, Checkpoint)]
#[checkpoint(name = "Station", removed = "counts")]
struct StationReordered {
    #[checkpoint(default = None)]
    label: Option<String>,
    readings: Vec<Reading>,
    name: String,
}

#[derive(Debug, PartialEq, Checkpoint)]
enum Mode {
    Off,
    On { since: u64, readings: Vec<Reading> },
}

fn station(n: u32) -> Station {
    let readings: Vec<Reading> = (0..n)
        .map(|i| Reading {
            sensor: i % 7,
            value: i64::from(i % 1000),
        })
        .collect();
    Station {
        name: "north".into(),
        max: checked_max(&readings),
        counts: (0..7).map(|s| (s, u64::from(n / 7))).collect(),
        readings,
    }
}

#[test]
fn streamed_restores_equal_what_was_saved_in_any_field_order() {
    for compression in [Compression::none(), Compression::zstd(3)] {
        let dir = tempfile::tempdir().unwrap();
        let ckpt = Checkpointer::open(dir.path())
            .unwrap()
            .compression(compression);
        let meta = ckpt.save(&station(5000)).unwrap();
        let restored = ckpt.restore::<Station>(meta.seq).unwrap();
        assert_eq!(restored.state, station(5000));
        assert_eq!(restored.meta.size, meta.size);

        let other = ckpt.restore::<StationReordered>(meta.seq).unwrap().state;
        assert_eq!(other.readings, station(5000).readings);
        assert_eq!((other.name.as_str(), other.label), ("north", None));

        for mode in [
            Mode::Off,
            Mode::On {
                since: 9,
                readings: station(10).readings,
            },
        ] {
            let meta = ckpt.save(&mode).unwrap();
            assert_eq!(ckpt.restore::<Mode>(meta.seq).unwrap().state, mode);
        }
    }
}

fn saved(compression: Compression) -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = Checkpointer::open(dir.path())
        .unwrap()
        .compression(compression);
    ckpt.save(&station(40)).unwrap();
    let bytes = std::fs::read(dir.path().join(format!("{:020}.ckpt", 1))).unwrap();
    (dir, bytes)
}

/// Restores `bytes` as checkpoint 1 twice: streamed from a file in `dir`,
/// and decoded in place from a `MemStore`, which holds it in memory. Both
/// must end alike: the same state, or errors of the same kind.
fn restore_bytes(dir: &std::path::Path, bytes: &[u8]) -> Result<Station, Error> {
    restore_bytes_as::<Station>(dir, bytes)
}

fn restore_bytes_as<T>(dir: &std::path::Path, bytes: &[u8]) -> Result<T, Error>
where
    T: Checkpoint<Context = ()> + PartialEq + std::fmt::Debug,
{
    let key = format!("{:020}.ckpt", 1);
    std::fs::write(dir.join(&key), bytes).unwrap();
    let streamed = Checkpointer::open(dir).unwrap().restore::<T>(1);
    let store = MemStore::new();
    store.put_if_absent(&key, bytes).unwrap();
    let in_place = Checkpointer::new(store).unwrap().restore::<T>(1);
    match (&streamed, &in_place) {
        (Ok(a), Ok(b)) => assert_eq!(a.state, b.state),
        (Err(a), Err(b)) => assert_eq!(
            (std::mem::discriminant(a), a.is_damage()),
            (std::mem::discriminant(b), b.is_damage()),
            "streamed: {a}; in place: {b}"
        ),
        _ => panic!("streamed: {streamed:?}; in place: {in_place:?}"),
    }
    streamed.map(|r| r.state)
}

#[test]
fn every_flipped_bit_is_damage_and_never_reaches_a_derived_field() {
    for compression in [Compression::none(), Compression::zstd(3)] {
        let (dir, bytes) = saved(compression);
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                match restore_bytes(dir.path(), &b) {
                    Err(e) => assert!(e.is_damage(), "{compression:?} {i}:{bit}: {e}"),
                    Ok(s) => panic!("{compression:?} {i}:{bit}: restored {s:?}"),
                }
            }
        }
    }
}

#[test]
fn every_truncation_is_damage() {
    for compression in [Compression::none(), Compression::zstd(3)] {
        let (dir, bytes) = saved(compression);
        for len in 0..bytes.len() {
            let err = restore_bytes(dir.path(), &bytes[..len]).unwrap_err();
            assert!(err.is_damage(), "{compression:?} {len}: {err}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let err = restore_bytes(dir.path(), &longer).unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
    }
}

#[test]
fn a_schema_error_on_a_damaged_checkpoint_is_reported_as_damage() {
    #[derive(Debug, PartialEq, Checkpoint)]
    #[checkpoint(name = "Station")]
    #[allow(dead_code)]
    struct Renamed {
        title: String,
    }
    let (dir, mut bytes) = saved(Compression::none());
    let intact = bytes.clone();
    let last = bytes.len() - 10;
    bytes[last] ^= 1;
    let err = restore_bytes_as::<Renamed>(dir.path(), &bytes).unwrap_err();
    assert!(matches!(err, Error::Corrupt { seq: 1, .. }), "{err}");
    // Intact, the same restore is the schema error it is.
    let err = restore_bytes_as::<Renamed>(dir.path(), &intact).unwrap_err();
    assert!(matches!(err, Error::MissingField { .. }), "{err}");
}

/// Only ever saved in `a_streamed_save_writes_what_capture_builds`, so its
/// first save there grows the recorded schema (the header is rewritten).
#[derive(Debug, PartialEq, Checkpoint)]
struct Fresh {
    readings: Vec<Reading>,
    mode: Mode,
    note: Option<String>,
}

#[test]
fn a_streamed_save_writes_what_capture_builds() {
    for compression in [Compression::none(), Compression::zstd(3)] {
        let dir = tempfile::tempdir().unwrap();
        let ckpt = Checkpointer::open(dir.path())
            .unwrap()
            .compression(compression);
        let state = Fresh {
            readings: station(300).readings,
            mode: Mode::On {
                since: 4,
                readings: station(3).readings,
            },
            note: Some("n".into()),
        };
        let saved = ckpt.save(&state).unwrap();
        let file = std::fs::read(dir.path().join(format!("{:020}.ckpt", saved.seq))).unwrap();
        assert_eq!(saved.size, file.len() as u64);
        let captured = ckpt.capture(&state).unwrap();
        let (a, body_a) = checkpoint::format::decode(&file, saved.seq, "saved").unwrap();
        let (b, body_b) =
            checkpoint::format::decode(captured.bytes(), captured.seq(), "captured").unwrap();
        assert_eq!(body_a, body_b);
        assert_eq!((a.version, a.flags), (b.version, b.flags));
        assert_eq!(a.deep.display_tree(), b.deep.display_tree());
        assert_eq!(a.header_len, b.header_len);
        assert_eq!(ckpt.restore::<Fresh>(saved.seq).unwrap().state, state);
        // Only checkpoints in the directory: no temporary file is left.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [format!("{:020}.ckpt", saved.seq)]);
    }
}

struct Failing;

impl serde::Serialize for Failing {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refused"))
    }
}

impl<'de> serde::Deserialize<'de> for Failing {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Ok(Failing)
    }
}

#[derive(Checkpoint)]
struct HalfWritten {
    readings: Vec<Reading>,
    last: Failing,
}

#[test]
fn a_streamed_save_that_fails_halfway_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    ckpt.save(&station(5)).unwrap();
    let err = ckpt
        .save(&HalfWritten {
            readings: station(2000).readings,
            last: Failing,
        })
        .unwrap_err();
    assert!(
        matches!(err, Error::FieldEncode { ref field, .. } if field == "last"),
        "{err}"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [format!("{:020}.ckpt", 1)]);
    let next = ckpt.save(&station(6)).unwrap();
    assert!(next.seq > 1);
    assert_eq!(
        ckpt.restore_latest::<Station>().unwrap().unwrap().state,
        station(6)
    );
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Step {
    Start,
    Move { x: i32 },
}

/// Only saved in `a_save_whose_later_field_takes_a_new_path_is_written_again`.
#[derive(Debug, PartialEq, Checkpoint)]
struct Walk {
    seen: Vec<u32>,
    last: Option<Step>,
}

#[test]
fn a_save_whose_later_field_takes_a_new_path_is_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = Checkpointer::open(dir.path())
        .unwrap()
        .compression(Compression::zstd(1));
    let walks = [
        Walk {
            seen: (0..500).collect(),
            last: None,
        },
        Walk {
            seen: (0..600).collect(),
            last: Some(Step::Start),
        },
        Walk {
            seen: vec![1],
            last: Some(Step::Move { x: -3 }),
        },
    ];
    let metas: Vec<_> = walks.iter().map(|w| ckpt.save(w).unwrap()).collect();
    for (walk, meta) in walks.iter().zip(&metas) {
        assert_eq!(&ckpt.restore::<Walk>(meta.seq).unwrap().state, walk);
    }
    let (header, _) = checkpoint::format::decode(
        &std::fs::read(dir.path().join(format!("{:020}.ckpt", metas[2].seq))).unwrap(),
        metas[2].seq,
        "x",
    )
    .unwrap();
    assert!(
        header.deep.display_tree().contains("Move"),
        "{}",
        header.deep.display_tree()
    );
}

#[test]
fn a_body_with_more_frames_than_its_header_lists_is_refused() {
    let (dir, bytes) = saved(Compression::none());
    let (header, body) = checkpoint::format::decode(&bytes, 1, "saved").unwrap();
    // The same checkpoint, rebuilt with `junk` empty-named frames before
    // its own: a body only a hostile or broken writer makes.
    let rebuilt = |junk: usize| {
        let mut out = Vec::new();
        let start = checkpoint::format::begin(&mut out, 1, header.time, &Station::SCHEMA);
        for _ in 0..junk {
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&0u64.to_le_bytes());
        }
        out.extend_from_slice(body);
        checkpoint::format::finish(&mut out, start);
        out
    };
    assert_eq!(restore_bytes(dir.path(), &rebuilt(0)).unwrap(), station(40));
    let intact = checkpoint::inspect::inspect(&rebuilt(0), 1, "rebuilt");
    assert!(intact.problem.is_none(), "{:?}", intact.problem);
    for junk in [1, 100_000] {
        let bytes = rebuilt(junk);
        let err = restore_bytes(dir.path(), &bytes).unwrap_err();
        assert!(
            matches!(&err, Error::Malformed { reason, .. } if reason.contains("more field frames")),
            "{junk}: {err}"
        );
        // `inspect` and `verify` say the same.
        let found = checkpoint::inspect::inspect(&bytes, 1, "rebuilt");
        assert!(
            matches!(&found.problem, Some(Error::Malformed { reason, .. }) if reason.contains("more field frames")),
            "{junk}: {:?}",
            found.problem
        );
        // Listed only as far as tells: one frame past the three fields.
        assert_eq!(found.frames.len(), 4);
    }
}

/// A hand-written `Checkpoint` whose `write_fields` writes a field its
/// `SCHEMA` does not list.
#[derive(Debug, PartialEq)]
struct Sloppy {
    a: u32,
}

impl Checkpoint for Sloppy {
    type Context = ();
    const SCHEMA: Schema = Schema::new(
        "Sloppy",
        Shape::Struct(&[FieldSchema::serialized("a", "u32")]),
    );

    fn write_fields(&self, out: &mut checkpoint::FieldWriter<'_>) -> checkpoint::Result<()> {
        out.field("a", &self.a)?;
        out.field("extra", &7u8)
    }

    fn read_fields(input: &mut checkpoint::FieldReader<'_>, _: &()) -> checkpoint::Result<Self> {
        Ok(Sloppy {
            a: input.field("a")?,
        })
    }
}

#[test]
fn a_save_writing_more_frames_than_its_schema_lists_is_refused_before_anything_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    for compression in [Compression::none(), Compression::zstd(1)] {
        let ckpt = Checkpointer::open(dir.path())
            .unwrap()
            .compression(compression);
        let err = ckpt.save(&Sloppy { a: 1 }).unwrap_err();
        assert!(
            matches!(&err, Error::Unrestorable { field, .. } if field == "extra"),
            "{err}"
        );
        assert!(err.to_string().contains("nothing was saved"), "{err}");
        let err = ckpt.capture(&Sloppy { a: 1 }).unwrap_err();
        assert!(matches!(&err, Error::Unrestorable { .. }), "{err}");
        assert!(ckpt.list().unwrap().is_empty());
    }
}
