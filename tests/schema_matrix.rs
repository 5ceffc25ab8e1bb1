//! Every kind of change to a nested serde type, through every kind of
//! container, as a stored field's type and three levels further down: the
//! restore gives back what was saved, or an error naming the change.

use std::collections::BTreeMap;
use std::fmt::Debug;

use checkpoint::{Checkpoint, Checkpointer, MemStore};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Values the matrix moves around.
trait Value: Serialize + DeserializeOwned + Clone + Debug + PartialEq + 'static {}
impl<T: Serialize + DeserializeOwned + Clone + Debug + PartialEq + 'static> Value for T {}

#[derive(Debug, PartialEq, Checkpoint)]
#[checkpoint(name = "Holder")]
struct Holder<V> {
    v: V,
}

/// A way of holding a value: a container, or one nested three levels down.
trait Container {
    type Of<T: Value>: Value;
    fn wrap<T: Value>(t: T) -> Self::Of<T>;
    /// The path of the held value below the stored field `v`.
    const PATH: &'static str;
}

macro_rules! container {
    ($name:ident, $of:ty, |$t:ident| $wrap:expr, $path:expr) => {
        struct $name;
        impl Container for $name {
            type Of<T: Value> = $of;
            fn wrap<T: Value>($t: T) -> $of {
                $wrap
            }
            const PATH: &'static str = $path;
        }
    };
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Either<T> {
    Nothing,
    Just(T),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Newtype<T>(T);

container!(Plain, T, |t| t, "");
container!(InVec, Vec<T>, |t| vec![t.clone(), t], "[]");
container!(InOption, Option<T>, |t| Some(t), "");
container!(InMap, BTreeMap<u8, T>, |t| BTreeMap::from([(1, t)]), "{value}");
container!(InTuple, (u8, T), |t| (1, t), ".1");
container!(InArray, [T; 2], |t| [t.clone(), t], ".0");
container!(InBox, Box<T>, |t| Box::new(t), "");
container!(InEnum, Either<T>, |t| Either::Just(t), "::Just");
container!(InNewtype, Newtype<T>, |t| Newtype(t), "");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Level1<C> {
    first: u8,
    a: Level2<C>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Level2<C> {
    b: Vec<Level3<C>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Level3<C> {
    c: C,
    last: String,
}

/// `C` three levels down: `v.a.b[].c`.
struct Deep<C>(C);

impl<C: Container> Container for Deep<C> {
    type Of<T: Value> = Level1<C::Of<T>>;
    fn wrap<T: Value>(t: T) -> Level1<C::Of<T>> {
        Level1 {
            first: 1,
            a: Level2 {
                b: vec![Level3 {
                    c: C::wrap(t),
                    last: "end".into(),
                }],
            },
        }
    }
    const PATH: &'static str = ".a.b[].c";
}

/// What restoring a changed type must give.
enum Outcome<N> {
    Restores(N),
    /// An error whose message holds this text and the path of the change.
    Fails(&'static str),
}

fn check<C: Container, O: Value, N: Value>(old: O, outcome: &Outcome<N>) {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    ckpt.save(&Holder { v: C::wrap(old) }).unwrap();
    let restored = ckpt.restore_latest::<Holder<C::Of<N>>>();
    let label = std::any::type_name::<C>();
    match outcome {
        Outcome::Restores(new) => {
            let state = restored
                .unwrap_or_else(|e| panic!("{label}: {e}"))
                .unwrap()
                .state;
            assert_eq!(state.v, C::wrap(new.clone()), "{label}");
        }
        Outcome::Fails(text) => {
            let err = restored.map(|_| ()).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(text), "{label}: {message}");
            let path = format!("Holder.v{}", C::PATH);
            assert!(message.contains(&path), "{label}: no `{path}` in {message}");
            assert!(!err.is_damage(), "{label}: {err}");
        }
    }
}

/// Runs a change through every container, directly and three levels down.
fn every_container<O: Value, N: Value>(old: O, outcome: Outcome<N>) {
    macro_rules! each {
        ($($c:ty),*) => {$(
            check::<$c, O, N>(old.clone(), &outcome);
            check::<Deep<$c>, O, N>(old.clone(), &outcome);
        )*};
    }
    each!(Plain, InVec, InOption, InMap, InTuple, InArray, InBox, InEnum, InNewtype);
}

mod fields {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Old {
        pub id: u32,
        pub name: String,
        pub gone: Vec<u8>,
    }

    pub fn old() -> Old {
        Old {
            id: 7,
            name: "seven".into(),
            gone: vec![1, 2],
        }
    }

    /// Reordered, `gone` removed, `extra` added with a default.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Evolved {
        pub name: String,
        #[serde(default)]
        pub extra: u64,
        pub id: u32,
    }

    /// `extra` added without a default.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Added {
        pub id: u32,
        pub name: String,
        pub gone: Vec<u8>,
        pub extra: u64,
    }

    /// `id` retyped.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Retyped {
        pub id: String,
        pub name: String,
        pub gone: Vec<u8>,
    }

    /// `id` widened to `u64`, `name` to `Option<String>`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Widened {
        pub id: u64,
        pub name: Option<String>,
        pub gone: Vec<u8>,
    }

    /// `id` narrowed to `u16`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Narrowed {
        pub id: u16,
        pub name: String,
        pub gone: Vec<u8>,
    }
}

mod variants {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum Old {
        Idle,
        Busy(u8),
        Done { at: u64 },
        Gone,
    }

    /// `Waiting` inserted first, variants reordered, `Busy` renamed
    /// `Working` with its old name as an alias, `Gone` removed.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum New {
        Waiting,
        Done {
            at: u64,
        },
        #[serde(alias = "Busy")]
        Working(u8),
        Idle,
    }

    /// `Busy` holds a `String` now.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum Retyped {
        Idle,
        Busy(String),
        Done { at: u64 },
        Gone,
    }
}

#[test]
fn reordered_removed_and_defaulted_fields_restore() {
    let old = fields::old();
    every_container(
        old,
        Outcome::Restores(fields::Evolved {
            name: "seven".into(),
            extra: 0,
            id: 7,
        }),
    );
}

#[test]
fn an_added_field_without_a_default_is_named() {
    every_container(
        fields::old(),
        Outcome::<fields::Added>::Fails("field `extra` was added to `Added`"),
    );
}

#[test]
fn a_changed_leaf_names_both_types() {
    every_container(
        fields::old(),
        Outcome::<fields::Retyped>::Fails("type changed from `u32` to `String`"),
    );
}

#[test]
fn widened_leaves_restore_and_narrowed_ones_are_named() {
    every_container(
        fields::old(),
        Outcome::Restores(fields::Widened {
            id: 7,
            name: Some("seven".into()),
            gone: vec![1, 2],
        }),
    );
    every_container(
        fields::old(),
        Outcome::<fields::Narrowed>::Fails("type changed from `u32` to `u16`"),
    );
}

#[test]
fn inserted_reordered_and_aliased_variants_restore_by_name() {
    every_container(variants::Old::Idle, Outcome::Restores(variants::New::Idle));
    every_container(
        variants::Old::Busy(3),
        Outcome::Restores(variants::New::Working(3)),
    );
    every_container(
        variants::Old::Done { at: 9 },
        Outcome::Restores(variants::New::Done { at: 9 }),
    );
}

#[test]
fn a_removed_variant_is_an_error_only_when_held() {
    every_container(
        variants::Old::Gone,
        Outcome::<variants::New>::Fails("holds variant `Gone`, which `New` no longer has"),
    );
}

#[test]
fn a_variant_whose_content_changed_names_both_types() {
    every_container(
        variants::Old::Busy(1),
        Outcome::<variants::Retyped>::Fails("type changed from `u8` to `String`"),
    );
    // other variants of the same enum are unaffected
    every_container(
        variants::Old::Done { at: 2 },
        Outcome::Restores(variants::Retyped::Done { at: 2 }),
    );
}

mod recursive {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Tree {
        pub label: u32,
        pub children: Vec<Tree>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct TreeV2 {
        pub children: Vec<TreeV2>,
        #[serde(default)]
        pub weight: u8,
        pub label: u64,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum Expr {
        Add(Box<Expr>, Box<Expr>),
        Num(i32),
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum ExprV2 {
        Neg(Box<ExprV2>),
        Num(i64),
        Add(Box<ExprV2>, Box<ExprV2>),
    }
}

#[test]
fn recursive_types_evolve_at_every_depth() {
    use recursive::*;
    let leaf = |label| Tree {
        label,
        children: vec![],
    };
    let tree = Tree {
        label: 1,
        children: vec![
            leaf(2),
            Tree {
                label: 3,
                children: vec![leaf(4)],
            },
        ],
    };
    let leaf2 = |label| TreeV2 {
        label,
        weight: 0,
        children: vec![],
    };
    let tree2 = TreeV2 {
        label: 1,
        weight: 0,
        children: vec![
            leaf2(2),
            TreeV2 {
                label: 3,
                weight: 0,
                children: vec![leaf2(4)],
            },
        ],
    };
    every_container(tree, Outcome::Restores(tree2));
    let expr = Expr::Add(
        Box::new(Expr::Num(1)),
        Box::new(Expr::Add(Box::new(Expr::Num(2)), Box::new(Expr::Num(-3)))),
    );
    let expr2 = ExprV2::Add(
        Box::new(ExprV2::Num(1)),
        Box::new(ExprV2::Add(
            Box::new(ExprV2::Num(2)),
            Box::new(ExprV2::Num(-3)),
        )),
    );
    every_container(expr, Outcome::Restores(expr2));
}

#[test]
fn a_generic_type_holding_itself_is_not_taken_for_recursion() {
    type Nested = Either<Either<Newtype<Newtype<u8>>>>;
    let value: Nested = Either::Just(Either::Just(Newtype(Newtype(5))));
    every_container(value.clone(), Outcome::Restores(value));
}
