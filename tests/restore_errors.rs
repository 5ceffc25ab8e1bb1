//! Restoring into a type that changed: each difference is its own error,
//! naming the checkpoint, the type and the field, found before decoding.

mod common;

use checkpoint::{Checkpointer, Error, MemStore};
use common::state;

state!(Processor as "MessageProcessor" { processed_messages: u64, log: Vec<String> });
state!(ProcessorAdded as "MessageProcessor" {
    processed_messages: u64,
    last_message_time: u64,
    log: Vec<String>,
});
state!(ProcessorDropped as "MessageProcessor" { processed_messages: u64 });
state!(ProcessorRetyped as "MessageProcessor" { processed_messages: u32, log: Vec<String> });
state!(Other as "Ledger" { processed_messages: u64, log: Vec<String> });

fn saved() -> Checkpointer {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    for _ in 0..7 {
        ckpt.save(&Processor {
            processed_messages: 3,
            log: vec!["a".into()],
        })
        .unwrap();
    }
    ckpt
}

#[test]
fn an_added_field_is_named_as_missing() {
    let err = saved().restore_latest::<ProcessorAdded>().unwrap_err();
    assert!(
        matches!(&err, Error::MissingField { seq: 7, field, type_name, .. }
            if field == "last_message_time" && type_name == "MessageProcessor"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("checkpoint #7")
            && message.contains("of `MessageProcessor` has no field `last_message_time`")
            && message.contains("memory:00000000000000000007.ckpt")
            && message.contains("#[checkpoint(default"),
        "{message}"
    );
}

#[test]
fn a_dropped_field_is_refused_rather_than_lost() {
    let err = saved().restore::<ProcessorDropped>(2).unwrap_err();
    assert!(
        matches!(&err, Error::UnexpectedField { seq: 2, field, ty, .. } if field == "log" && ty == "Vec<String>"),
        "{err:?}"
    );
    assert!(err.to_string().contains("removed = \"log\""), "{err}");
}

#[test]
fn a_changed_field_type_names_both_types() {
    let err = saved().restore::<ProcessorRetyped>(1).unwrap_err();
    assert!(
        matches!(&err, Error::FieldTypeChanged { field, expected, found, .. }
            if field == "processed_messages" && *expected == "u32" && found == "u64"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("`u64`") && message.contains("`u32`"),
        "{message}"
    );
}

#[test]
fn another_type_names_both() {
    let err = saved().restore::<Other>(1).unwrap_err();
    assert!(
        matches!(&err, Error::WrongType { expected, found, .. } if expected == "Ledger" && found == "MessageProcessor"),
        "{err:?}"
    );
}

#[test]
fn schema_errors_are_not_skipped_as_damage() {
    let ckpt = saved();
    assert!(matches!(
        ckpt.restore_latest::<ProcessorDropped>(),
        Err(Error::UnexpectedField { seq: 7, .. })
    ));
}

/// A field written as another type than its schema says is named with both
/// types: the recorded schema knows what the bytes are.
mod decode {
    use super::*;

    state!(Text as "Blob" { data: String });

    #[test]
    fn a_field_written_as_another_type_is_named_with_both_types() {
        // Same schema, so only the recorded schema can tell: a `Vec<u8>`
        // where a `String` is expected.
        let ckpt = Checkpointer::new(MemStore::new()).unwrap();
        ckpt.save(&Bytes {
            data: vec![0xff, 0xfe],
        })
        .unwrap();
        let err = ckpt.restore::<Text>(1).unwrap_err();
        assert!(
            matches!(&err, Error::FieldTypeChanged { field, expected: "String", found, .. }
                if field == "data" && found == "Vec<u8>"),
            "{err:?}"
        );
    }

    #[derive(Debug, Default)]
    struct Bytes {
        data: Vec<u8>,
    }

    impl checkpoint::Checkpoint for Bytes {
        type Context = ();
        const SCHEMA: checkpoint::Schema = <Text as checkpoint::Checkpoint>::SCHEMA;
        fn write_fields(&self, out: &mut checkpoint::FieldWriter<'_>) -> checkpoint::Result<()> {
            out.field("data", &self.data)
        }
        fn read_fields(_: &mut checkpoint::FieldReader<'_>, _: &()) -> checkpoint::Result<Self> {
            Ok(Bytes::default())
        }
    }
}

/// `check` runs after every restore; its failure names the checkpoint.
mod check {
    use super::*;

    #[derive(Debug)]
    struct Even(u64);

    impl checkpoint::Checkpoint for Even {
        type Context = ();
        const SCHEMA: checkpoint::Schema = checkpoint::Schema::new(
            "Even",
            checkpoint::Shape::Tuple(&[checkpoint::FieldSchema::serialized("0", "u64")]),
        );
        fn write_fields(&self, out: &mut checkpoint::FieldWriter<'_>) -> checkpoint::Result<()> {
            out.field("0", &self.0)
        }
        fn read_fields(
            input: &mut checkpoint::FieldReader<'_>,
            _: &(),
        ) -> checkpoint::Result<Self> {
            Ok(Even(input.field("0")?))
        }
        fn check(&self) -> Result<(), String> {
            if self.0 % 2 == 0 {
                Ok(())
            } else {
                Err(format!("{} is odd", self.0))
            }
        }
    }

    #[test]
    fn a_failed_check_is_an_error_naming_the_checkpoint() {
        let ckpt = Checkpointer::new(MemStore::new()).unwrap();
        ckpt.save(&Even(4)).unwrap();
        ckpt.save(&Even(5)).unwrap();
        assert_eq!(ckpt.restore::<Even>(1).unwrap().state.0, 4);
        let err = ckpt.restore_latest::<Even>().unwrap_err();
        assert!(matches!(&err, Error::CheckFailed { seq: 2, reason, .. } if reason == "5 is odd"));
        assert!(err.to_string().contains("checkpoint #2"), "{err}");
    }
}
