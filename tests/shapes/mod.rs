// Every shape serde's derive accepts without attributes, deriving
// `Checkpoint`. Included by `tests/ui/pass/serde-shapes.rs` (which compiles
// it under `#![deny(warnings)]` beside a hostile prelude) and by
// `tests/derive_shapes.rs` (which round-trips each value).
//
// Written so that a crate defining its own `Result`, `Option`, `Some`,
// `Default`, `Serialize`, `core`, `serde`, ... still compiles it.

use ::std::borrow::Cow;
use ::std::collections::{BTreeMap, HashMap};
use ::std::marker::PhantomData;

/// Not serializable: a type parameter instantiated with it must get no
/// serde bound unless a stored field holds its values.
#[derive(Debug, PartialEq)]
pub struct NotSerde;

// --- generics ------------------------------------------------------------

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct PhantomT<X> {
    pub t: PhantomData<X>,
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct PhantomFn<X, Y> {
    pub input: PhantomData<fn(X) -> Y>,
    pub value: u8,
}

macro_rules! byte {
    () => {
        u8
    };
}

// std's derives refuse a macro in type position, so these impls are by hand
#[derive(::checkpoint::Checkpoint)]
pub struct MacroType<T> {
    pub mac: byte!(),
    pub marker: PhantomData<T>,
}

impl<T> ::std::fmt::Debug for MacroType<T> {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.write_str("MacroType")
    }
}

impl<T> PartialEq for MacroType<T> {
    fn eq(&self, other: &Self) -> bool {
        self.mac == other.mac
    }
}

pub trait AssocSerde {
    type Assoc;
}

impl AssocSerde for NotSerde {
    type Assoc = u32;
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct Assoc<T>
where
    T: AssocSerde,
{
    pub assoc: T::Assoc,
    pub qualified: Vec<<T as AssocSerde>::Assoc>,
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub enum AssocEnum<T: AssocSerde> {
    Unit,
    Tuple(T::Assoc, u8),
    Named {
        assoc: ::std::option::Option<T::Assoc>,
    },
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct Bounded<K: Ord, V = String>
where
    V: Clone,
{
    pub map: BTreeMap<K, V>,
    pub list: Vec<(K, V)>,
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct ConstGeneric<const N: usize> {
    pub len: u8,
    #[derived(from = [0; N])]
    pub header: [u8; N],
}

/// Serializable whatever `T` is: inferring `T: Serialize` would be wrong.
#[derive(Debug, PartialEq)]
pub struct Id<T>(pub u64, pub PhantomData<T>);

impl<T> ::serde::Serialize for Id<T> {
    fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
        ::serde::Serialize::serialize(&self.0, s)
    }
}

impl<'de, T> ::serde::Deserialize<'de> for Id<T> {
    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
        let id = <u64 as ::serde::Deserialize>::deserialize(d)?;
        ::std::result::Result::Ok(Id(id, PhantomData))
    }
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
#[checkpoint(bound = "")]
pub struct ExplicitBound<T> {
    pub id: Id<T>,
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct FieldBound<T, U> {
    #[checkpoint(bound = "")]
    pub id: Id<T>,
    pub value: U,
}

// --- lifetimes -----------------------------------------------------------

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct Lifetimes<'a, 'b: 'a, T: 'a> {
    pub name: Cow<'a, str>,
    pub bytes: Cow<'b, [u8]>,
    pub marker: PhantomData<&'a T>,
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub enum LifetimeEnum<'a> {
    Borrowed(Cow<'a, str>),
    Nothing,
}

// --- recursion -----------------------------------------------------------

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct Tree {
    pub value: u32,
    pub children: Vec<Tree>,
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub enum List<T> {
    Nil,
    Cons(T, Box<List<T>>),
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct SelfRef {
    pub next: ::std::option::Option<Box<Self>>,
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct Even {
    pub odd: ::std::option::Option<Box<Odd>>,
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct Odd {
    pub even: Box<Even>,
}

// --- empty ---------------------------------------------------------------

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct UnitStruct;

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct EmptyBraces {}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct EmptyTuple();

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub enum EmptyEnum {}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub enum EmptyVariants {
    Unit,
    Braces {},
    Tuple(),
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct AllDerived {
    #[derived(from = 7)]
    pub seven: u8,
}

// --- names ---------------------------------------------------------------

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
#[allow(non_camel_case_types)]
pub enum r#Keywords {
    r#struct,
    r#enum { r#type: u8, r#fn: u16 },
    r#match(u8),
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
#[allow(non_snake_case)]
pub struct UpperField<T> {
    pub T: u8,
    pub U: T,
    #[derived(from = T + 1)]
    pub V: u8,
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct LikeLocals {
    pub __field0: u8,
    pub __input: u8,
    pub __out: u8,
    pub __value: u8,
    pub __shadow: u8,
    pub __serializer: u8,
    pub __deserializer: u8,
    pub ctx: u8,
    pub _context: u8,
    #[derived(from = __field0 + __value + ctx + _context)]
    pub sum: u8,
}

// a constant beside a field of the same name: the field's binding must not
// become a pattern matching the constant
#[allow(non_upper_case_globals)]
pub const count: u32 = 3;

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct ConstNamedLikeField {
    pub count: u32,
    pub other: u8,
    #[derived(from = u32::from(other))]
    pub wider: u32,
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub enum ConstNamedLikeVariantField {
    A { count: u32 },
}

// --- interior mutability the check must not see -------------------------

pub mod own {
    /// A type of the user's that shares a name with std's `Cell`.
    #[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
    pub struct Cell {
        pub row: u16,
    }
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct AtomicCommit {
    pub epoch: u64,
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq)]
pub struct Sheet {
    pub cells: Vec<own::Cell>,
    pub commits: HashMap<u8, AtomicCommit>,
    pub marker: PhantomData<::std::cell::Cell<u8>>,
}

// --- packed --------------------------------------------------------------

#[derive(::checkpoint::Checkpoint, Debug, PartialEq, Clone, Copy)]
#[repr(C, packed)]
pub struct Packed {
    pub a: u8,
    pub b: u32,
    #[derived(from = u64::from(b))]
    pub c: u64,
}

#[derive(::checkpoint::Checkpoint, Debug, PartialEq, Clone, Copy)]
#[repr(C, packed(2))]
pub struct PackedTuple(pub u16, pub u64);

#[derive(::checkpoint::Checkpoint, Debug, PartialEq, Clone, Copy)]
#[repr(Rust, packed)]
pub struct PackedUnit;
