//! The writer's schema is recorded as a checkpoint is written and resolved
//! by name on restore: changes inside nested serde types restore or are
//! named by path, and a checkpoint its own type could not read back is
//! never saved.

use checkpoint::{Checkpoint, Checkpointer, Error, MemStore};

fn written_by<T: Checkpoint>(old: &T) -> Checkpointer {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    ckpt.save(old).unwrap();
    ckpt
}

mod board_v1 {
    use checkpoint::Checkpoint;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum Status {
        Active,
        Done,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Task {
        pub id: u32,
        pub status: Option<Status>,
    }

    #[derive(Debug, Checkpoint)]
    pub struct Board {
        pub tasks: Vec<Task>,
    }

    pub fn board() -> Board {
        Board {
            tasks: vec![
                Task {
                    id: 1,
                    status: Some(Status::Done),
                },
                Task {
                    id: 2,
                    status: Some(Status::Active),
                },
                Task {
                    id: 3,
                    status: None,
                },
            ],
        }
    }
}

mod board_v2 {
    use checkpoint::Checkpoint;
    use serde::{Deserialize, Serialize};

    /// `Blocked` inserted in the middle: `Done` moved from index 1 to 2.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum Status {
        Active,
        Blocked,
        Done,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Task {
        pub id: u32,
        pub status: Option<Status>,
    }

    #[derive(Debug, Checkpoint)]
    pub struct Board {
        pub tasks: Vec<Task>,
    }
}

mod board_v3 {
    use checkpoint::Checkpoint;
    use serde::{Deserialize, Serialize};

    /// `Done` removed.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum Status {
        Active,
        Blocked,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Task {
        pub id: u32,
        pub status: Option<Status>,
    }

    #[derive(Debug, Checkpoint)]
    pub struct Board {
        pub tasks: Vec<Task>,
    }
}

#[test]
fn a_variant_inserted_in_a_nested_enum_restores_the_variant_saved() {
    let ckpt = written_by(&board_v1::board());
    let restored = ckpt.restore_latest::<board_v2::Board>().unwrap().unwrap();
    let statuses: Vec<_> = restored
        .state
        .tasks
        .iter()
        .map(|t| t.status.clone())
        .collect();
    assert_eq!(
        statuses,
        [
            Some(board_v2::Status::Done),
            Some(board_v2::Status::Active),
            None
        ]
    );
}

#[test]
fn a_removed_variant_the_data_holds_is_named_with_its_path() {
    let ckpt = written_by(&board_v1::board());
    let err = ckpt.restore_latest::<board_v3::Board>().unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, Error::NestedChange { path, .. } if path == "Board.tasks[].status"),
        "{err:?}"
    );
    assert!(
        message.contains("holds variant `Done`, which `Status` no longer has"),
        "{message}"
    );
    assert!(!err.is_damage());
}

#[test]
fn a_removed_variant_the_data_does_not_hold_restores() {
    let ckpt = written_by(&board_v1::Board {
        tasks: vec![board_v1::Task {
            id: 9,
            status: Some(board_v1::Status::Active),
        }],
    });
    let restored = ckpt.restore_latest::<board_v3::Board>().unwrap().unwrap();
    assert_eq!(
        restored.state.tasks[0].status,
        Some(board_v3::Status::Active)
    );
}

mod json {
    use checkpoint::Checkpoint;

    #[derive(Debug, Checkpoint)]
    pub struct Config {
        pub version: u32,
        pub extra: serde_json::Value,
    }
}

#[test]
fn a_self_describing_field_fails_at_save_naming_it() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    let err = ckpt
        .save(&json::Config {
            version: 1,
            extra: serde_json::json!({ "retries": 3 }),
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unrestorable { field, path, .. }
            if field == "extra" && path == "Config.extra"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("self-describing format"), "{message}");
    assert!(message.contains("serde_json::to_string"), "{message}");
    assert!(message.ends_with("nothing was saved"), "{message}");
    // nothing was written, and the sequence number is not reused
    assert!(ckpt.restore_latest::<json::Config>().unwrap().is_none());
}

mod skipping {
    use checkpoint::Checkpoint;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Msg {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        pub reply_to: Option<u64>,
        pub id: u64,
        pub body: String,
    }

    #[derive(Debug, Checkpoint)]
    pub struct Inbox {
        pub msgs: Vec<Msg>,
    }
}

#[test]
fn a_field_skipped_when_writing_fails_at_save_naming_it() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    let err = ckpt
        .save(&skipping::Inbox {
            msgs: vec![
                skipping::Msg {
                    reply_to: Some(4),
                    id: 5,
                    body: "re".into(),
                },
                skipping::Msg {
                    reply_to: None,
                    id: 6,
                    body: "new".into(),
                },
            ],
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unrestorable { field, path, .. }
            if field == "msgs" && path == "Inbox.msgs[].reply_to"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("skip_serializing_if"), "{message}");
    assert!(
        message.contains("`Msg` skips field `reply_to` when writing"),
        "{message}"
    );
    assert!(
        message.contains("remove `skip_serializing_if` from it"),
        "{message}"
    );
    assert!(ckpt.restore_latest::<skipping::Inbox>().unwrap().is_none());
}

mod added_v1 {
    use checkpoint::Checkpoint;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Msg {
        pub id: u64,
        pub body: String,
    }

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "Inbox")]
    pub struct Inbox {
        pub msgs: Vec<Msg>,
    }

    pub fn inbox() -> Inbox {
        Inbox {
            msgs: vec![Msg {
                id: 1,
                body: "hello".into(),
            }],
        }
    }
}

mod added_v2 {
    use checkpoint::Checkpoint;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Msg {
        pub id: u64,
        pub sender_region: u32,
        pub body: String,
    }

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "Inbox")]
    pub struct Inbox {
        pub msgs: Vec<Msg>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Defaulted {
        pub id: u64,
        #[serde(default)]
        pub sender_region: u32,
        pub body: String,
    }

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "Inbox")]
    pub struct WithDefault {
        pub msgs: Vec<Defaulted>,
    }
}

#[test]
fn a_field_added_to_a_nested_struct_is_named_as_added() {
    let ckpt = written_by(&added_v1::inbox());
    let err = ckpt.restore_latest::<added_v2::Inbox>().unwrap_err();
    assert!(
        matches!(&err, Error::NestedChange { path, .. } if path == "Inbox.msgs[]"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("field `sender_region` was added to `Msg`"),
        "{message}"
    );
    assert!(message.ends_with("give the new field `#[serde(default)]` to restore checkpoints written before it existed"), "{message}");
    assert!(!message.contains("moved"), "{message}");
}

#[test]
fn a_field_added_with_a_default_restores() {
    let ckpt = written_by(&added_v1::inbox());
    let restored = ckpt
        .restore_latest::<added_v2::WithDefault>()
        .unwrap()
        .unwrap();
    assert_eq!(
        restored.state.msgs,
        [added_v2::Defaulted {
            id: 1,
            sender_region: 0,
            body: "hello".into()
        }]
    );
}

mod huge {
    use checkpoint::Checkpoint;

    /// Arrays record one schema node per position: 262,144 leaves.
    pub type Cube = [[[[u8; 32]; 32]; 32]; 8];

    #[derive(Debug, Checkpoint)]
    pub struct Volume {
        pub cube: Box<Cube>,
    }
}

#[test]
fn a_schema_too_large_for_a_header_fails_at_save() {
    // Arrays this large are built and read on the stack: give them room.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let ckpt = Checkpointer::new(MemStore::new()).unwrap();
            let layer: Vec<[[[u8; 32]; 32]; 32]> = vec![[[[7; 32]; 32]; 32]; 8];
            let volume = huge::Volume {
                cube: layer.into_boxed_slice().try_into().unwrap(),
            };
            let err = ckpt.save(&volume).unwrap_err();
            assert!(
                matches!(&err, Error::Unrestorable { reason, .. }
                    if reason.contains("more than the 1048576 a header holds")),
                "{err:?}"
            );
            assert!(ckpt.restore_latest::<huge::Volume>().unwrap().is_none());
        })
        .unwrap()
        .join()
        .unwrap();
}
