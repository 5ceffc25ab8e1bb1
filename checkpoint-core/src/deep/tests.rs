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
