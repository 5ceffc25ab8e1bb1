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
