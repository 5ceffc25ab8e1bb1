//! A change inside a nested type is caught on restore and named by its path,
//! instead of the bytes being misread; the stored shapes are read safely.

use checkpoint::{Checkpoint, Checkpointer, Error, MemStore};

mod v1 {
    use checkpoint::Checkpoint;

    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    pub struct Payload {
        pub sender: u32,
        pub body: String,
    }

    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    pub struct Message {
        pub id: u64,
        pub payload: Payload,
    }

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "MessageProcessor")]
    pub struct Processor {
        pub log: Vec<Message>,
    }

    pub fn processor() -> Processor {
        Processor {
            log: vec![Message {
                id: 1,
                payload: Payload {
                    sender: 7,
                    body: "hello".into(),
                },
            }],
        }
    }
}

mod v2 {
    use checkpoint::Checkpoint;

    /// `sender` became a `String`: same type name, different bytes.
    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    pub struct Payload {
        pub sender: String,
        pub body: String,
    }

    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    pub struct Message {
        pub id: u64,
        pub payload: Payload,
    }

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "MessageProcessor")]
    pub struct Processor {
        pub log: Vec<Message>,
    }

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "MessageProcessor")]
    pub struct Converted {
        #[checkpoint(was = Vec<super::v1::Message>, convert = convert)]
        pub log: Vec<Message>,
    }

    fn convert(old: Vec<super::v1::Message>) -> Vec<Message> {
        old.into_iter()
            .map(|m| Message {
                id: m.id,
                payload: Payload {
                    sender: format!("node-{}", m.payload.sender),
                    body: m.payload.body,
                },
            })
            .collect()
    }
}

fn written_by<T: Checkpoint>(old: &T) -> Checkpointer {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    ckpt.save(old).unwrap();
    ckpt
}

#[test]
fn a_nested_change_is_named_by_its_path() {
    let ckpt = written_by(&v1::processor());
    let err = ckpt.restore_latest::<v2::Processor>().unwrap_err();
    assert!(
        matches!(&err, Error::NestedTypeChanged { seq: 1, field, .. } if field == "log"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(
            "`MessageProcessor.log[].payload.sender`: type changed from `u32` to `String`"
        ),
        "{message}"
    );
    assert!(
        message.ends_with("add `#[checkpoint(was = OldType, convert = ...)]` to `log`"),
        "{message}"
    );
    // a schema error, not damage: it is not skipped
    assert!(!err.is_damage());
}

#[test]
fn was_on_the_field_reads_the_nested_old_form() {
    let ckpt = written_by(&v1::processor());
    let restored = ckpt.restore_latest::<v2::Converted>().unwrap().unwrap();
    assert_eq!(restored.state.log[0].payload.sender, "node-7");
    assert_eq!(restored.state.log[0].payload.body, "hello");
}

#[test]
fn an_unchanged_nested_type_restores() {
    let ckpt = written_by(&v1::processor());
    let restored = ckpt.restore_latest::<v1::Processor>().unwrap().unwrap();
    assert_eq!(restored.state.log[0].payload.sender, 7);
}

mod nested_checkpoint {
    use checkpoint::Checkpoint;

    #[derive(Debug, Checkpoint)]
    pub enum Kind {
        Plain,
        Tagged(String),
    }

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "Holder")]
    pub struct HolderV1 {
        pub kinds: Option<Vec<Kind>>,
    }

    pub mod v2 {
        use checkpoint::Checkpoint;

        #[derive(Debug, Checkpoint)]
        pub enum Kind {
            Plain,
            Counted(u32),
            Tagged(String),
        }

        #[derive(Debug, Checkpoint)]
        pub struct Holder {
            pub kinds: Option<Vec<Kind>>,
        }
    }
}

#[test]
fn a_variant_inserted_in_a_nested_checkpoint_enum_restores_by_name() {
    let ckpt = written_by(&nested_checkpoint::HolderV1 {
        kinds: Some(vec![nested_checkpoint::Kind::Tagged("t".into())]),
    });
    let restored = ckpt
        .restore_latest::<nested_checkpoint::v2::Holder>()
        .unwrap()
        .unwrap();
    assert!(
        matches!(&restored.state.kinds.as_deref(), Some([nested_checkpoint::v2::Kind::Tagged(t)]) if t == "t"),
        "{:?}",
        restored.state
    );
}

/// A checkpoint whose header holds `shapes` as its field shapes, with valid
/// checksums.
fn with_field_shapes(shapes: &[u8]) -> Vec<u8> {
    use checkpoint::__private::Schema;
    const SCHEMA: Schema = Schema::new("Deep", checkpoint::Shape::Unit);
    let mut out = Vec::new();
    let start = checkpoint::format::begin(&mut out, 1, std::time::UNIX_EPOCH, &SCHEMA);
    // `begin` ends the header with an empty recorded schema (no nodes, no
    // fields): replace it
    let header_end = start - 4;
    assert_eq!(out[header_end - 2..header_end], [0, 0]);
    out.truncate(header_end - 2);
    out.extend_from_slice(shapes);
    let header_len = (out.len() - checkpoint::format::PREFIX_LEN) as u32;
    out[12..16].copy_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    // field shapes are what version 2 stored
    out[8..10].copy_from_slice(&2u16.to_le_bytes());
    let start = out.len();
    checkpoint::format::finish(&mut out, start);
    out
}

#[test]
fn a_hostile_deep_shape_is_an_error_not_a_stack_overflow() {
    // one field `x` whose shape is Option<Option<Option<...>>> nested far
    // deeper than any type, then never closed
    let mut shapes = vec![1, 1, b'x'];
    let option = 17; // `V2Type::Option`'s variant index
    shapes.extend(std::iter::repeat_n(option, 500_000));
    let bytes = with_field_shapes(&shapes);
    let err = checkpoint::format::decode(&bytes, 1, "here").unwrap_err();
    assert!(
        matches!(&err, Error::Malformed { reason, .. }
            if reason.contains("its field shapes do not decode")),
        "{err}"
    );
    // a small valid list decodes
    let mut fine = vec![1, 1, b'x'];
    fine.extend([option, option, 10]); // Option<Option<u64>>
    let (header, _) = checkpoint::format::decode(&with_field_shapes(&fine), 1, "here").unwrap();
    assert_eq!(header.field_shapes.len(), 1);
    assert_eq!(header.field_shapes[0].1.to_string(), "Option<Option<u64>>");
}

mod respelled {
    use std::num::NonZeroU64;

    use checkpoint::Checkpoint;

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "Account")]
    pub struct AccountV1 {
        pub id: u64,
        pub nonzero: NonZeroU64,
    }

    pub type Id = u64;
    pub type Narrow = u32;
    pub type Nz = NonZeroU64;

    /// `id` is spelled `Id` now: the same type under another name.
    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "Account")]
    pub struct Alias {
        pub id: Id,
        pub nonzero: NonZeroU64,
    }

    /// `id` is spelled `Narrow`, which is another type.
    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "Account")]
    pub struct Narrowed {
        pub id: Narrow,
        pub nonzero: NonZeroU64,
    }

    /// `nonzero` is spelled `Nz`: the same type under another name, which
    /// the recorded schema shows.
    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "Account")]
    pub struct Opaque {
        pub id: u64,
        pub nonzero: Nz,
    }

    pub fn account() -> AccountV1 {
        AccountV1 {
            id: 42,
            nonzero: NonZeroU64::MIN,
        }
    }
}

#[test]
fn a_field_type_spelled_differently_with_the_same_shape_restores() {
    let ckpt = written_by(&respelled::account());
    let restored = ckpt.restore_latest::<respelled::Alias>().unwrap().unwrap();
    assert_eq!(restored.state.id, 42);
}

#[test]
fn a_respelled_field_type_with_another_shape_is_still_a_type_change() {
    let ckpt = written_by(&respelled::account());
    let err = ckpt.restore_latest::<respelled::Narrowed>().unwrap_err();
    assert!(
        matches!(&err, Error::FieldTypeChanged { field, .. } if field == "id"),
        "{err:?}"
    );
}

#[test]
fn a_respelled_field_type_that_reads_the_same_restores() {
    let ckpt = written_by(&respelled::account());
    let restored = ckpt.restore_latest::<respelled::Opaque>().unwrap().unwrap();
    assert_eq!(restored.state.nonzero.get(), 1);
}
