//! Random values of a type, saved and restored as evolved versions of it:
//! a restore gives exactly the state a by-name conversion gives, or an
//! error naming the change; never other state.

use std::collections::BTreeMap;

use checkpoint::{Checkpointer, Error, MemStore};
use proptest::prelude::*;

mod v1 {
    use std::collections::BTreeMap;

    use checkpoint::Checkpoint;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum Kind {
        A,
        B(u16),
        C { x: i32, tag: String },
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Item {
        pub id: u32,
        pub kind: Kind,
        pub tags: Vec<String>,
        pub score: Option<f32>,
    }

    #[derive(Debug, Clone, PartialEq, Checkpoint)]
    #[checkpoint(name = "State")]
    pub struct State {
        pub items: Vec<Item>,
        pub index: BTreeMap<u32, Kind>,
        pub pair: (u8, Option<Kind>),
    }
}

/// Variants inserted, reordered, renamed with an alias and widened; fields
/// reordered, removed, added with a default and widened.
mod v2 {
    use std::collections::BTreeMap;

    use checkpoint::Checkpoint;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum Kind {
        Z,
        C {
            tag: String,
            x: i64,
        },
        #[serde(alias = "B")]
        Bee(u32),
        A,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Item {
        pub kind: Kind,
        #[serde(default)]
        pub note: String,
        pub score: Option<f64>,
        pub id: u64,
    }

    #[derive(Debug, Clone, PartialEq, Checkpoint)]
    #[checkpoint(name = "State")]
    pub struct State {
        pub pair: (u8, Option<Kind>),
        pub items: Vec<Item>,
        pub index: BTreeMap<u32, Kind>,
    }
}

/// Variant `B` removed.
mod v3 {
    use std::collections::BTreeMap;

    use checkpoint::Checkpoint;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum Kind {
        A,
        C { x: i32, tag: String },
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Item {
        pub id: u32,
        pub kind: Kind,
        pub tags: Vec<String>,
        pub score: Option<f32>,
    }

    #[derive(Debug, Clone, PartialEq, Checkpoint)]
    #[checkpoint(name = "State")]
    pub struct State {
        pub items: Vec<Item>,
        pub index: BTreeMap<u32, Kind>,
        pub pair: (u8, Option<Kind>),
    }
}

fn to_v2(kind: &v1::Kind) -> v2::Kind {
    match kind {
        v1::Kind::A => v2::Kind::A,
        v1::Kind::B(n) => v2::Kind::Bee(u32::from(*n)),
        v1::Kind::C { x, tag } => v2::Kind::C {
            tag: tag.clone(),
            x: i64::from(*x),
        },
    }
}

fn to_v3(kind: &v1::Kind) -> Option<v3::Kind> {
    match kind {
        v1::Kind::A => Some(v3::Kind::A),
        v1::Kind::B(_) => None,
        v1::Kind::C { x, tag } => Some(v3::Kind::C {
            x: *x,
            tag: tag.clone(),
        }),
    }
}

fn state_v2(s: &v1::State) -> v2::State {
    v2::State {
        pair: (s.pair.0, s.pair.1.as_ref().map(to_v2)),
        items: s
            .items
            .iter()
            .map(|i| v2::Item {
                kind: to_v2(&i.kind),
                note: String::new(),
                score: i.score.map(f64::from),
                id: u64::from(i.id),
            })
            .collect(),
        index: s.index.iter().map(|(k, v)| (*k, to_v2(v))).collect(),
    }
}

/// `None` when the state holds a `B`, which v3 cannot hold.
fn state_v3(s: &v1::State) -> Option<v3::State> {
    let pair = match &s.pair.1 {
        None => (s.pair.0, None),
        Some(k) => (s.pair.0, Some(to_v3(k)?)),
    };
    let items = s
        .items
        .iter()
        .map(|i| {
            Some(v3::Item {
                id: i.id,
                kind: to_v3(&i.kind)?,
                tags: i.tags.clone(),
                score: i.score,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let index = s
        .index
        .iter()
        .map(|(k, v)| Some((*k, to_v3(v)?)))
        .collect::<Option<BTreeMap<_, _>>>()?;
    Some(v3::State { items, index, pair })
}

fn kind() -> impl Strategy<Value = v1::Kind> {
    prop_oneof![
        Just(v1::Kind::A),
        any::<u16>().prop_map(v1::Kind::B),
        (any::<i32>(), any::<u8>()).prop_map(|(x, t)| v1::Kind::C {
            x,
            tag: format!("t{t}")
        }),
    ]
}

fn item() -> impl Strategy<Value = v1::Item> {
    (
        any::<u32>(),
        kind(),
        prop::collection::vec(any::<u8>().prop_map(|n| format!("#{n}")), 0..3),
        prop::option::of(-1.0e6f32..1.0e6f32),
    )
        .prop_map(|(id, kind, tags, score)| v1::Item {
            id,
            kind,
            tags,
            score,
        })
}

fn state() -> impl Strategy<Value = v1::State> {
    (
        prop::collection::vec(item(), 0..5),
        prop::collection::btree_map(any::<u32>(), kind(), 0..4),
        (any::<u8>(), prop::option::of(kind())),
    )
        .prop_map(|(items, index, pair)| v1::State { items, index, pair })
}

proptest! {
    #[test]
    fn restore_is_the_saved_state_or_a_named_error(state in state()) {
        let ckpt = Checkpointer::new(MemStore::new()).unwrap();
        ckpt.save(&state).unwrap();

        let same = ckpt.restore_latest::<v1::State>().unwrap().unwrap();
        prop_assert_eq!(&same.state, &state);

        let evolved = ckpt.restore_latest::<v2::State>().unwrap().unwrap();
        prop_assert_eq!(evolved.state, state_v2(&state));

        match (ckpt.restore_latest::<v3::State>(), state_v3(&state)) {
            (Ok(restored), Some(expected)) => prop_assert_eq!(restored.unwrap().state, expected),
            (Err(err), None) => {
                prop_assert!(matches!(&err, Error::NestedChange { .. }), "{:?}", err);
                let message = err.to_string();
                prop_assert!(message.contains("holds variant `B`"), "{}", message);
            }
            (Ok(restored), None) => {
                prop_assert!(false, "restored {:?} from a state holding `B`", restored);
            }
            (Err(err), Some(_)) => prop_assert!(false, "{}", err),
        }
    }
}
