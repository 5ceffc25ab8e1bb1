//! Round trips of derived impls: serde (postcard, JSON) and field frames.

use std::collections::HashMap;
use std::time::Instant;

use checkpoint::{Checkpoint, FieldReader, FieldSchema, FieldWriter, Shape, VariantSchema};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Message {
    id: u64,
    body: String,
}

fn build_index(log: &[Message]) -> HashMap<u64, usize> {
    log.iter().enumerate().map(|(i, m)| (m.id, i)).collect()
}

#[derive(Debug, Checkpoint)]
struct MessageProcessor {
    processed_messages: u64,
    log: Vec<Message>,
    #[derived(from = build_index(&log))]
    index: std::collections::HashMap<u64, usize>,
    #[derived(from = Instant::now())]
    started: Instant,
    #[derived(from = index.len() + processed_messages as usize)]
    weight: usize,
}

fn processor() -> MessageProcessor {
    let log = vec![
        Message {
            id: 7,
            body: "a".into(),
        },
        Message {
            id: 9,
            body: "bb".into(),
        },
    ];
    MessageProcessor {
        processed_messages: 2,
        index: HashMap::new(),
        started: Instant::now(),
        weight: 0,
        log,
    }
}

fn assert_restored(p: &MessageProcessor, back: &MessageProcessor) {
    assert_eq!(back.processed_messages, p.processed_messages);
    assert_eq!(back.log, p.log);
    assert_eq!(back.index, HashMap::from([(7, 0), (9, 1)]));
    assert_eq!(
        back.weight, 4,
        "derived from serialized and earlier derived fields"
    );
    assert!(back.started >= p.started, "rebuilt at restore time");
}

#[test]
fn postcard_round_trip_rebuilds_derived_fields() {
    let p = processor();
    let bytes = postcard::to_allocvec(&p).unwrap();
    let back: MessageProcessor = postcard::from_bytes(&bytes).unwrap();
    assert_restored(&p, &back);
}

#[test]
fn json_shows_serialized_fields_only() {
    let p = processor();
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(
        json,
        r#"{"processed_messages":2,"log":[{"id":7,"body":"a"},{"id":9,"body":"bb"}]}"#
    );
    let back: MessageProcessor = serde_json::from_str(&json).unwrap();
    assert_restored(&p, &back);
}

fn frames_round_trip<T: Checkpoint<Context = ()>>(value: &T) -> T {
    let mut buf = Vec::new();
    value
        .write_fields(&mut FieldWriter::new(&mut buf, T::SCHEMA.name))
        .unwrap();
    let mut reader = FieldReader::new(&buf, T::SCHEMA.name).unwrap();
    T::read_fields(&mut reader, &()).unwrap()
}

#[test]
fn field_frames_round_trip() {
    let p = processor();
    let back = frames_round_trip(&p);
    assert_restored(&p, &back);
}

#[test]
fn schema_lists_fields_with_normalized_types() {
    let s = MessageProcessor::SCHEMA;
    assert_eq!(s.name, "MessageProcessor");
    let Shape::Struct(fields) = s.shape else {
        panic!("named struct: {:?}", s.shape)
    };
    assert_eq!(
        fields,
        &[
            FieldSchema::serialized("processed_messages", "u64"),
            FieldSchema::serialized("log", "Vec<Message>"),
            FieldSchema::derived("index", "HashMap<u64, usize>"),
            FieldSchema::derived("started", "Instant"),
            FieldSchema::derived("weight", "usize"),
        ]
    );
    let stored: Vec<&str> = s.stored_fields().map(|f| f.name).collect();
    assert_eq!(stored, ["processed_messages", "log"]);
}

#[derive(Debug, PartialEq, Checkpoint)]
#[checkpoint(name = "Pair")]
struct Tuple(u8, #[derived(from = u16::from(_0) * 2)] u16, String);

#[test]
fn tuple_struct_round_trips_and_names_fields_by_index() {
    let t = Tuple(21, 0, "x".into());
    let back: Tuple = postcard::from_bytes(&postcard::to_allocvec(&t).unwrap()).unwrap();
    assert_eq!(back, Tuple(21, 42, "x".into()));
    assert_eq!(serde_json::to_string(&t).unwrap(), r#"[21,"x"]"#);
    assert_eq!(frames_round_trip(&t), Tuple(21, 42, "x".into()));
    assert_eq!(Tuple::SCHEMA.name, "Pair");
    const EXPECTED: Shape = Shape::Tuple(&[
        FieldSchema::serialized("0", "u8"),
        FieldSchema::derived("1", "u16"),
        FieldSchema::serialized("2", "String"),
    ]);
    assert_eq!(Tuple::SCHEMA.shape, EXPECTED);
}

#[derive(Debug, PartialEq, Checkpoint)]
struct Unit;

#[test]
fn unit_struct_round_trips() {
    assert_eq!(frames_round_trip(&Unit), Unit);
    assert_eq!(serde_json::to_string(&Unit).unwrap(), "null");
    assert_eq!(postcard::from_bytes::<Unit>(&[]).unwrap(), Unit);
    assert_eq!(Unit::SCHEMA.shape, Shape::Unit);
}

#[derive(Debug, PartialEq, Checkpoint)]
enum Job {
    Idle,
    Running(u32, #[derived(from = _0 > 10)] bool),
    Done {
        code: i32,
        #[derived(from = format!("exit {code}"))]
        label: String,
    },
}

#[test]
fn enum_round_trips_every_variant_kind() {
    for (job, json) in [
        (Job::Idle, r#""Idle""#),
        (Job::Running(11, true), r#"{"Running":11}"#),
        (
            Job::Done {
                code: 3,
                label: "exit 3".into(),
            },
            r#"{"Done":{"code":3}}"#,
        ),
    ] {
        assert_eq!(serde_json::to_string(&job).unwrap(), json);
        assert_eq!(serde_json::from_str::<Job>(json).unwrap(), job);
        let bytes = postcard::to_allocvec(&job).unwrap();
        assert_eq!(postcard::from_bytes::<Job>(&bytes).unwrap(), job);
        assert_eq!(frames_round_trip(&job), job);
    }
    const EXPECTED: Shape = Shape::Enum(&[
        VariantSchema::new("Idle", Shape::Unit),
        VariantSchema::new(
            "Running",
            Shape::Tuple(&[
                FieldSchema::serialized("0", "u32"),
                FieldSchema::derived("1", "bool"),
            ]),
        ),
        VariantSchema::new(
            "Done",
            Shape::Struct(&[
                FieldSchema::serialized("code", "i32"),
                FieldSchema::derived("label", "String"),
            ]),
        ),
    ]);
    assert_eq!(Job::SCHEMA.shape, EXPECTED);
}

#[test]
fn unknown_variant_in_frames_is_an_error() {
    let mut buf = Vec::new();
    let mut out = FieldWriter::new(&mut buf, "Job");
    out.variant("Paused").unwrap();
    let mut reader = FieldReader::new(&buf, "Job").unwrap();
    let err = Job::read_fields(&mut reader, &()).unwrap_err();
    assert!(err.to_string().contains("`Paused`"), "{err}");
}

#[test]
fn missing_field_in_frames_is_an_error() {
    let mut buf = Vec::new();
    let mut out = FieldWriter::new(&mut buf, "MessageProcessor");
    out.field("processed_messages", &1u64).unwrap();
    let mut reader = FieldReader::new(&buf, "MessageProcessor").unwrap();
    let err = MessageProcessor::read_fields(&mut reader, &()).unwrap_err();
    assert!(err.to_string().contains("no field `log`"), "{err}");
}

#[derive(Debug, PartialEq, Checkpoint)]
struct Inner {
    n: u32,
    #[derived(from = n * 2)]
    double: u32,
}

#[derive(Debug, PartialEq, Checkpoint)]
struct Outer<T> {
    list: Vec<Inner>,
    map: HashMap<String, Inner>,
    maybe: Option<Box<Inner>>,
    generic: T,
}

#[test]
fn nested_checkpoint_types_rebuild_their_derived_fields() {
    let inner = |n| Inner { n, double: n * 2 };
    let outer = Outer {
        list: vec![inner(1), inner(2)],
        map: HashMap::from([("a".to_string(), inner(3))]),
        maybe: Some(Box::new(inner(4))),
        generic: inner(5),
    };
    let bytes = postcard::to_allocvec(&outer).unwrap();
    assert_eq!(postcard::from_bytes::<Outer<Inner>>(&bytes).unwrap(), outer);
    let json = serde_json::to_string(&outer).unwrap();
    assert!(!json.contains("double"), "{json}");
    assert_eq!(serde_json::from_str::<Outer<Inner>>(&json).unwrap(), outer);
    assert_eq!(frames_round_trip(&outer), outer);
    assert_eq!(
        Outer::<Inner>::SCHEMA.shape.fields()[2],
        FieldSchema::serialized("maybe", "Option<Box<Inner>>")
    );
}
