use postcard::ser_flavors::Flavor as _;
use serde::{Deserialize, Serialize};

use super::record::{RecordErrorKind, Recorder};
use super::resolve::{self, Ctx, ResolveKind};
use super::*;

/// Records `value` at a fresh root; returns the schema and the bytes.
fn record<T: Serialize>(schema: &mut DeepSchema, value: &T) -> Result<Vec<u8>, String> {
    let at = schema.root_for(None, "v");
    let mut out = postcard::Serializer {
        output: postcard::ser_flavors::StdVec::new(),
    };
    value
        .serialize(Recorder {
            out: &mut out,
            schema,
            at,
        })
        .map_err(|e| format!("`{}`: {e}", e.path))?;
    Ok(out.output.finalize().unwrap())
}

#[test]
fn recorded_bytes_are_postcard_bytes() {
    #[derive(Serialize)]
    struct S {
        a: u32,
        b: Vec<Option<String>>,
        c: (i8, char),
    }
    let value = S {
        a: 300,
        b: vec![None, Some("x".into())],
        c: (-1, 'é'),
    };
    let mut schema = DeepSchema::default();
    assert_eq!(
        record(&mut schema, &value).unwrap(),
        postcard::to_allocvec(&value).unwrap()
    );
    assert_eq!(
        schema.display_tree(),
        "v: struct S\n  a: u32\n  b: Vec<Option<String>>\n    []: Option<String>\n      \
         some: String\n  c: (i8, char)\n    0: i8\n    1: char\n"
    );
}

#[test]
fn a_recursive_type_records_a_finite_schema() {
    #[derive(Serialize)]
    struct Tree {
        children: Vec<Tree>,
    }
    let mut tree = Tree { children: vec![] };
    for _ in 0..100 {
        tree = Tree {
            children: vec![tree],
        };
    }
    let mut schema = DeepSchema::default();
    record(&mut schema, &tree).unwrap();
    assert!(schema.nodes.len() < 20, "{}", schema.nodes.len());
    assert!(schema.display_tree().contains("recursive Tree"));
}

#[test]
fn a_value_written_as_two_types_is_refused_with_its_path() {
    let mut schema = DeepSchema::default();
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Loose {
        N(u64),
        S(String),
    }
    let err = record(&mut schema, &vec![Loose::N(1), Loose::S("a".into())]).unwrap_err();
    assert_eq!(err, "`[]`: written as `u64` and as `String`");
}

#[test]
fn widening_is_lossless_only() {
    use Leaf::*;
    for (from, to) in [(U8, U16), (U32, U64), (U32, I64), (I8, I128), (F32, F64)] {
        assert!(from.widens_to(to), "{from:?} -> {to:?}");
    }
    for (from, to) in [
        (U64, U32),
        (I32, U64),
        (U64, I64),
        (U64, F64),
        (F64, F32),
        (Str, Char),
    ] {
        assert!(!from.widens_to(to), "{from:?} -> {to:?}");
    }
}

#[test]
fn an_index_out_of_range_is_invalid() {
    let schema = DeepSchema {
        nodes: vec![SchemaNode::Option(5)],
        roots: vec![(Name::Borrowed("v"), 0)],
        ..DeepSchema::default()
    };
    assert!(schema.validate().is_err());
    let schema = DeepSchema {
        nodes: vec![SchemaNode::Leaf(Leaf::U8)],
        roots: vec![(Name::Borrowed("v"), 3)],
        ..DeepSchema::default()
    };
    assert!(schema.validate().is_err());
}

/// A hostile schema whose node contains itself, and bytes that nest
/// through it far deeper than any type: skipping it is an error, not a
/// stack overflow.
#[test]
fn skipping_a_hostile_cycle_is_depth_limited() {
    let schema = DeepSchema {
        nodes: vec![
            SchemaNode::Struct(
                Name::Borrowed("S"),
                vec![(Name::Borrowed("gone"), 1), (Name::Borrowed("x"), 2)],
            ),
            SchemaNode::Option(1),
            SchemaNode::Leaf(Leaf::U8),
        ],
        roots: vec![(Name::Borrowed("v"), 0)],
        ..DeepSchema::default()
    };
    schema.validate().unwrap();
    #[derive(Debug, Deserialize)]
    struct S {
        #[allow(dead_code)]
        x: u8,
    }
    let mut bytes = vec![1u8; 100_000];
    bytes.extend([0, 5]);
    let cx = Ctx::new(&schema);
    let err = resolve::from_bytes::<S>(&bytes, &cx, 0).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err.into_failure().kind, ResolveKind::Custom(_)),
        "{text}"
    );
    // shallow enough, the same schema skips and reads
    let s: S = resolve::from_bytes(&[1, 1, 0, 5], &cx, 0).unwrap();
    assert_eq!(s.x, 5);
}

/// Resolves `bytes` as `S { x: u8 }` written with `schema`'s node 0, on
/// another thread, failing if that takes a minute: a hang fails the test
/// instead of stalling the suite.
fn skip_then_read_x(schema: DeepSchema, bytes: Vec<u8>) -> Result<u8, String> {
    #[derive(Debug, Deserialize)]
    struct S {
        x: u8,
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        schema.validate().unwrap();
        let cx = Ctx::new(&schema);
        let read = resolve::from_bytes::<S>(&bytes, &cx, 0).map(|s| s.x);
        let _ = tx.send(read.map_err(|e| e.to_string()));
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("skipping the field took over a minute")
}

/// `S { gone: <node 1>, x: u8 }` with the given nodes from 1 on.
fn gone_then_x(gone: Vec<SchemaNode>) -> DeepSchema {
    let x = gone.len() as NodeId + 1;
    let mut nodes = vec![SchemaNode::Struct(
        Name::Borrowed("S"),
        vec![(Name::Borrowed("gone"), 1), (Name::Borrowed("x"), x)],
    )];
    nodes.extend(gone);
    nodes.push(SchemaNode::Leaf(Leaf::U8));
    DeepSchema {
        nodes,
        roots: vec![(Name::Borrowed("v"), 0)],
        ..DeepSchema::default()
    }
}

/// A hostile header can say a field only the writer has is a sequence of
/// values that take no bytes, and its bytes can claim 2^64 - 1 of them:
/// skipping it passes them all over at once.
#[test]
fn skipping_a_huge_sequence_of_empty_values_does_not_hang() {
    let mut bytes = postcard::to_allocvec(&u64::MAX).unwrap();
    bytes.push(5);
    let unit = SchemaNode::Leaf(Leaf::Unit);
    let empty_struct = SchemaNode::Struct(
        Name::Borrowed("E"),
        vec![(Name::Borrowed("a"), 3), (Name::Borrowed("b"), 4)],
    );
    let shapes = [
        vec![SchemaNode::Seq(2), unit.clone()],
        vec![
            SchemaNode::Map(2, 3),
            unit.clone(),
            SchemaNode::UnitStruct("U".into()),
        ],
        vec![
            SchemaNode::Seq(2),
            empty_struct,
            SchemaNode::Tuple(vec![4, 4]),
            unit.clone(),
        ],
        vec![SchemaNode::Seq(2), SchemaNode::Newtype("N".into(), 3), unit],
    ];
    for gone in shapes {
        let shape = format!("{gone:?}");
        assert_eq!(
            skip_then_read_x(gone_then_x(gone), bytes.clone()),
            Ok(5),
            "{shape}"
        );
    }
    // An element that takes bytes still takes them: the claimed length is
    // then more than the bytes hold.
    let err = skip_then_read_x(
        gone_then_x(vec![SchemaNode::Seq(2), SchemaNode::Leaf(Leaf::U8)]),
        bytes,
    )
    .unwrap_err();
    assert!(err.contains("end"), "{err}");
}

/// Each element of a skipped sequence visits only the fields that take
/// bytes: a struct of one `u8` and 100,000 fields of `()` costs one read
/// per element, not 100,001 visits.
#[test]
fn skipping_passes_over_fields_that_take_no_bytes() {
    let mut fields = vec![(Name::Borrowed("a"), 4)];
    fields.extend((0..100_000).map(|i| (Name::Owned(format!("u{i}")), 3)));
    let gone = vec![
        SchemaNode::Seq(2),
        SchemaNode::Struct(Name::Borrowed("Wide"), fields),
        SchemaNode::Leaf(Leaf::Unit),
        SchemaNode::Leaf(Leaf::U8),
    ];
    let elements = 200_000u64;
    let mut bytes = postcard::to_allocvec(&elements).unwrap();
    bytes.extend(std::iter::repeat_n(7u8, elements as usize));
    bytes.push(5);
    assert_eq!(skip_then_read_x(gone_then_x(gone), bytes), Ok(5));
}

#[test]
fn a_skipped_field_is_refused_when_written() {
    #[derive(Serialize)]
    struct Msg {
        #[serde(skip_serializing_if = "Option::is_none")]
        reply_to: Option<u64>,
        id: u64,
    }
    let mut schema = DeepSchema::default();
    let at = schema.root_for(None, "v");
    let mut out = postcard::Serializer {
        output: postcard::ser_flavors::StdVec::new(),
    };
    let err = Msg {
        reply_to: None,
        id: 1,
    }
    .serialize(Recorder {
        out: &mut out,
        schema: &mut schema,
        at,
    })
    .unwrap_err();
    assert!(
        matches!(
            err.kind,
            RecordErrorKind::Skipped {
                field: "reply_to",
                ref ty
            } if ty == "Msg"
        ),
        "{err}"
    );
}

#[test]
fn leaves_of_a_sequence_are_read_as_written_widened_or_named() {
    #[derive(Serialize)]
    struct Old {
        xs: Vec<u32>,
    }
    #[derive(Debug, PartialEq, Deserialize)]
    struct Same {
        xs: Vec<u32>,
    }
    #[derive(Debug, PartialEq, Deserialize)]
    struct Wider {
        xs: Vec<u64>,
    }
    #[derive(Debug, PartialEq, Deserialize)]
    struct Optional {
        xs: Vec<Option<u32>>,
    }
    #[derive(Debug, Deserialize)]
    struct Text {
        #[allow(dead_code)]
        xs: Vec<String>,
    }
    let mut schema = DeepSchema::default();
    let bytes = record(
        &mut schema,
        &Old {
            xs: vec![1, 300, 70_000],
        },
    )
    .unwrap();
    let cx = Ctx::new(&schema);
    let same: Same = resolve::from_bytes(&bytes, &cx, 0).unwrap();
    assert_eq!(same.xs, [1, 300, 70_000]);
    let wider: Wider = resolve::from_bytes(&bytes, &cx, 0).unwrap();
    assert_eq!(wider.xs, [1, 300, 70_000]);
    let optional: Optional = resolve::from_bytes(&bytes, &cx, 0).unwrap();
    assert_eq!(optional.xs, [Some(1), Some(300), Some(70_000)]);
    let failure = resolve::from_bytes::<Text>(&bytes, &cx, 0)
        .unwrap_err()
        .into_failure();
    assert_eq!(
        (failure.path.to_string(), failure.change()),
        (
            ".xs[]".to_owned(),
            "type changed from `u32` to `String`".to_owned()
        )
    );
}

/// A hostile schema whose nodes share their children: a few hundred bytes
/// on disk, astronomically large as a tree. Its type names, its printed
/// tree and a restore's error naming its type stay small and quick.
#[test]
fn a_schema_exponential_as_a_tree_prints_and_fails_in_bounded_size() {
    let mut nodes = vec![SchemaNode::Leaf(Leaf::U8)];
    for k in 1..=40u32 {
        nodes.push(SchemaNode::Tuple(vec![k - 1; 16]));
    }
    let schema = DeepSchema {
        nodes,
        roots: vec![(Name::Borrowed("v"), 40)],
        ..DeepSchema::default()
    };
    schema.validate().unwrap();
    let started = std::time::Instant::now();
    let name = schema.type_name(40);
    assert!(name.len() < 400 && name.contains(".."), "{name}");
    let tree = schema.display_tree();
    assert!(tree.len() < (1 << 20) + 1024, "{}", tree.len());
    assert!(tree.ends_with("not shown)\n"));
    assert!(schema.field_tree(40).len() < (1 << 20) + 1024);
    let cx = Ctx::new(&schema);
    let failure = resolve::from_bytes::<u32>(&[0], &cx, 40)
        .unwrap_err()
        .into_failure();
    assert!(failure.change().starts_with("type changed from `(("));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
