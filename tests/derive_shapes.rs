//! Every shape of `tests/shapes/mod.rs` saved and restored through a
//! `Checkpointer`, and through serde: the restored value equals the saved one.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::marker::PhantomData;

use checkpoint::{Checkpoint, Checkpointer, MemStore};
use serde::de::DeserializeOwned;
use serde::Serialize;

#[allow(dead_code)]
mod shapes;

use shapes::*;

fn round_trip<T>(value: T)
where
    T: Checkpoint<Context = ()> + Serialize + DeserializeOwned + Debug + PartialEq,
{
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    ckpt.save(&value).unwrap();
    let restored = ckpt
        .restore_latest::<T>()
        .unwrap()
        .expect("a checkpoint was saved");
    assert_eq!(restored.state, value);
    let json = serde_json::to_string(&value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(back, value, "through {json}");
}

#[test]
fn generics() {
    round_trip(PhantomT::<NotSerde> { t: PhantomData });
    round_trip(PhantomFn::<NotSerde, NotSerde> {
        input: PhantomData,
        value: 3,
    });
    round_trip(MacroType::<NotSerde> {
        mac: 5,
        marker: PhantomData,
    });
    round_trip(Assoc::<NotSerde> {
        assoc: 7,
        qualified: vec![1, 2],
    });
    round_trip(AssocEnum::<NotSerde>::Unit);
    round_trip(AssocEnum::<NotSerde>::Tuple(4, 5));
    round_trip(AssocEnum::<NotSerde>::Named { assoc: Some(6) });
    round_trip(Bounded::<u8> {
        map: BTreeMap::from([(1, "one".to_owned())]),
        list: vec![(2, "two".to_owned())],
    });
    round_trip(ConstGeneric::<4> {
        len: 4,
        header: [0; 4],
    });
    round_trip(ExplicitBound::<NotSerde> {
        id: Id(9, PhantomData),
    });
    round_trip(FieldBound::<NotSerde, String> {
        id: Id(10, PhantomData),
        value: "v".to_owned(),
    });
}

#[test]
fn lifetimes() {
    round_trip(Lifetimes::<'_, '_, NotSerde> {
        name: Cow::Owned("name".to_owned()),
        bytes: Cow::Owned(vec![1, 2]),
        marker: PhantomData,
    });
    round_trip(LifetimeEnum::Borrowed(Cow::Owned("b".to_owned())));
    round_trip(LifetimeEnum::Nothing);
}

#[test]
fn recursion() {
    round_trip(Tree {
        value: 1,
        children: vec![Tree {
            value: 2,
            children: Vec::new(),
        }],
    });
    round_trip(List::Cons(1, Box::new(List::Cons(2, Box::new(List::Nil)))));
    round_trip(SelfRef {
        next: Some(Box::new(SelfRef { next: None })),
    });
    round_trip(Even {
        odd: Some(Box::new(Odd {
            even: Box::new(Even { odd: None }),
        })),
    });
}

#[test]
fn empty() {
    round_trip(UnitStruct);
    round_trip(EmptyBraces {});
    round_trip(EmptyTuple());
    round_trip(EmptyVariants::Unit);
    round_trip(EmptyVariants::Braces {});
    round_trip(EmptyVariants::Tuple());
    round_trip(AllDerived { seven: 7 });
}

#[test]
fn names() {
    round_trip(Keywords::r#struct);
    round_trip(Keywords::r#enum { r#type: 1, r#fn: 2 });
    round_trip(Keywords::r#match(3));
    round_trip(UpperField {
        T: 1,
        U: "u".to_owned(),
        V: 2,
    });
    round_trip(LikeLocals {
        __field0: 1,
        __input: 2,
        __out: 3,
        __value: 4,
        __shadow: 5,
        __serializer: 6,
        __deserializer: 7,
        ctx: 8,
        _context: 9,
        sum: 1 + 4 + 8 + 9,
    });
    round_trip(ConstNamedLikeField {
        count: 11,
        other: 2,
        wider: 2,
    });
    round_trip(ConstNamedLikeVariantField::A { count: 12 });
}

#[test]
fn types_named_like_interior_mutability() {
    round_trip(Sheet {
        cells: vec![own::Cell { row: 1 }],
        commits: HashMap::from([(1, AtomicCommit { epoch: 2 })]),
        marker: PhantomData,
    });
}

#[test]
fn packed() {
    round_trip(Packed { a: 1, b: 2, c: 2 });
    round_trip(PackedTuple(3, 4));
    round_trip(PackedUnit);
}

/// The same stored fields, with serde's own derive.
mod serde_twins {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    #[serde(rename = "Named")]
    pub struct Named {
        pub a: u8,
        pub b: Option<String>,
    }

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    #[serde(rename = "Pair")]
    pub struct Pair(pub u8, pub String);

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    #[serde(rename = "Newtype")]
    pub struct Newtype(pub u16);

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    #[serde(rename = "Unit")]
    pub struct Unit;
}

#[derive(Checkpoint, Debug, PartialEq)]
struct Named {
    a: u8,
    #[derived(from = a.to_string())]
    text: String,
    b: Option<String>,
}

#[derive(Checkpoint, Debug, PartialEq)]
struct Pair(u8, String, #[derived(from = _0 + 1)] u8);

#[derive(Checkpoint, Debug, PartialEq)]
struct Newtype(#[derived(from = 1)] u8, u16);

#[derive(Checkpoint, Debug, PartialEq)]
struct Unit;

fn same_encoding<A, B>(ours: &A, theirs: &B)
where
    A: Serialize + DeserializeOwned + Debug + PartialEq,
    B: Serialize + DeserializeOwned + Debug + PartialEq,
{
    let json = serde_json::to_string(ours).unwrap();
    assert_eq!(json, serde_json::to_string(theirs).unwrap());
    let bytes = postcard::to_allocvec(ours).unwrap();
    assert_eq!(bytes, postcard::to_allocvec(theirs).unwrap());
    assert_eq!(&serde_json::from_str::<A>(&json).unwrap(), ours);
    assert_eq!(&postcard::from_bytes::<A>(&bytes).unwrap(), ours);
}

#[test]
fn structs_encode_as_serde_derive_encodes_their_stored_fields() {
    same_encoding(
        &Named {
            a: 1,
            text: "1".into(),
            b: Some("b".into()),
        },
        &serde_twins::Named {
            a: 1,
            b: Some("b".into()),
        },
    );
    same_encoding(&Pair(2, "p".into(), 3), &serde_twins::Pair(2, "p".into()));
    same_encoding(&Newtype(1, 7), &serde_twins::Newtype(7));
    same_encoding(&Unit, &serde_twins::Unit);
}

#[test]
fn struct_decoding_follows_serde_derive_rules() {
    // a missing `Option` is `None`, an unknown field is skipped, fields in
    // any order and as a sequence
    let named: Named = serde_json::from_str(r#"{"x":[1,2],"a":5}"#).unwrap();
    assert_eq!((named.a, named.b, named.text.as_str()), (5, None, "5"));
    let named: Named = serde_json::from_str(r#"[6,"b"]"#).unwrap();
    assert_eq!((named.a, named.b), (6, Some("b".into())));
    for (json, twin) in [
        (r#"{"b":null}"#, "missing field `a`"),
        (r#"{"a":1,"a":2}"#, "duplicate field `a`"),
        (
            r#"[1]"#,
            "invalid length 1, expected struct Named with 2 elements",
        ),
        (r#"[1]"#, "invalid length 1"),
    ] {
        let ours = serde_json::from_str::<Named>(json).unwrap_err().to_string();
        let theirs = serde_json::from_str::<serde_twins::Named>(json)
            .unwrap_err()
            .to_string();
        assert_eq!(ours, theirs);
        assert!(ours.contains(twin), "{ours}");
    }
    let pair = serde_json::from_str::<Pair>("[1]").unwrap_err().to_string();
    let twin = serde_json::from_str::<serde_twins::Pair>("[1]")
        .unwrap_err()
        .to_string();
    assert_eq!(pair, twin);
}
