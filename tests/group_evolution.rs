//! A participant's part restores with the same schema rules as a plain
//! checkpoint: evolution attributes apply, and a change inside a nested type
//! is an error naming its path, never a misread.

use checkpoint::group::{Group, GroupError};
use checkpoint::{Checkpoint, Error, MemStore};
use serde::{Deserialize, Serialize};

mod v1 {
    use super::*;

    #[derive(Serialize, Deserialize)]
    pub struct Entry {
        pub key: u32,
    }

    #[derive(Checkpoint)]
    #[checkpoint(name = "Node")]
    pub struct Node {
        pub count: u64,
        pub entries: Vec<Entry>,
    }
}

mod renamed {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct Entry {
        pub key: u32,
    }

    #[derive(Checkpoint, Debug)]
    #[checkpoint(name = "Node")]
    pub struct Node {
        #[checkpoint(alias = "count")]
        pub total: u64,
        pub entries: Vec<Entry>,
    }
}

mod nested_change {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    pub struct Entry {
        pub key: String,
    }

    #[derive(Checkpoint, Debug)]
    #[checkpoint(name = "Node")]
    pub struct Node {
        pub count: u64,
        pub entries: Vec<Entry>,
    }
}

fn committed_v1_epoch() -> Group {
    let group = Group::new(MemStore::new(), "g").unwrap();
    let state = v1::Node {
        count: 3,
        entries: vec![v1::Entry { key: 7 }],
    };
    let part = group.save_part(1, "a", &state).unwrap();
    group.commit(1, &["a"], &[part]).unwrap();
    group
}

#[test]
fn an_aliased_field_restores_from_an_older_part() {
    let group = committed_v1_epoch();
    let restored = group.restore_latest::<renamed::Node>("a").unwrap().unwrap();
    assert_eq!(restored.epoch, 1);
    assert_eq!(restored.state.total, 3);
    assert_eq!(restored.state.entries, [renamed::Entry { key: 7 }]);
}

#[test]
fn a_nested_type_change_in_a_part_is_named_by_its_path() {
    let group = committed_v1_epoch();
    let err = group
        .restore_latest::<nested_change::Node>("a")
        .unwrap_err();
    let GroupError::Restore {
        participant,
        epoch,
        source,
        ..
    } = &err
    else {
        panic!("expected a restore error, got {err}");
    };
    assert_eq!((participant.as_str(), *epoch), ("a", 1));
    assert!(
        matches!(**source, Error::NestedTypeChanged { .. }),
        "{source:?}"
    );
    let message = err.to_string();
    assert!(message.contains("Node.entries[].key"), "{message}");
    assert!(message.contains("#[checkpoint(was = "), "{message}");
}
