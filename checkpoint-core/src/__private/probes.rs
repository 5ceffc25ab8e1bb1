//! Compile-time probes the derive uses to refuse fields it cannot capture
//! consistently: interior mutability, std look-alikes, packed fields.

use core::marker::PhantomData;

/// std's types whose value can change behind a shared reference, and std's
/// containers of them: what [`MutabilityProbe`] detects.
pub trait InteriorMutable {}

macro_rules! interior_mutable {
    ($($ty:ty $(: $param:ident)?),* $(,)?) => {
        $(impl<$($param: ?Sized)?> InteriorMutable for $ty {})*
    };
}

interior_mutable!(
    core::cell::Cell<T>: T,
    core::cell::RefCell<T>: T,
    core::cell::UnsafeCell<T>: T,
    std::sync::Mutex<T>: T,
    std::sync::RwLock<T>: T,
    core::sync::atomic::AtomicBool,
    core::sync::atomic::AtomicI8,
    core::sync::atomic::AtomicI16,
    core::sync::atomic::AtomicI32,
    core::sync::atomic::AtomicI64,
    core::sync::atomic::AtomicIsize,
    core::sync::atomic::AtomicU8,
    core::sync::atomic::AtomicU16,
    core::sync::atomic::AtomicU32,
    core::sync::atomic::AtomicU64,
    core::sync::atomic::AtomicUsize,
);

impl<T> InteriorMutable for core::cell::OnceCell<T> {}
impl<T> InteriorMutable for std::sync::OnceLock<T> {}
impl<T> InteriorMutable for core::sync::atomic::AtomicPtr<T> {}
impl<T, F> InteriorMutable for core::cell::LazyCell<T, F> {}
impl<T, F> InteriorMutable for std::sync::LazyLock<T, F> {}

macro_rules! containers {
    ($($ty:ty),* $(,)?) => {
        $(impl<T: ?Sized + InteriorMutable> InteriorMutable for $ty {})*
    };
}

containers!(
    Box<T>,
    std::rc::Rc<T>,
    std::sync::Arc<T>,
    core::mem::ManuallyDrop<T>,
);

macro_rules! sized_containers {
    ($($ty:ty),* $(,)?) => {
        $(impl<T: InteriorMutable> InteriorMutable for $ty {})*
    };
}

sized_containers!(
    [T],
    Option<T>,
    Vec<T>,
    std::collections::VecDeque<T>,
    std::collections::LinkedList<T>,
    std::collections::BinaryHeap<T>,
    std::collections::BTreeSet<T>,
    core::cmp::Reverse<T>,
    core::num::Wrapping<T>,
);

impl<T: InteriorMutable, const N: usize> InteriorMutable for [T; N] {}
impl<K, V: InteriorMutable> InteriorMutable for std::collections::BTreeMap<K, V> {}
impl<K, V: InteriorMutable, S> InteriorMutable for std::collections::HashMap<K, V, S> {}
impl<T: InteriorMutable, S> InteriorMutable for std::collections::HashSet<T, S> {}
impl<T: InteriorMutable, E> InteriorMutable for core::result::Result<T, E> {}

/// Asks, by autoref, whether `T` is [`InteriorMutable`]: generated code
/// calls [`Mutable::mutability`] / [`Immutable::mutability`] and
/// [`StdType::std_type`] / [`OtherType::std_type`] on
/// `&MutabilityProbe::<T>::new()`. In generic code the answer is "no" for a
/// type parameter: only the types written in the field are seen.
pub struct MutabilityProbe<T: ?Sized>(PhantomData<fn() -> PhantomData<T>>);

impl<T: ?Sized> MutabilityProbe<T> {
    /// The probe of `T`.
    #[inline]
    pub const fn new() -> Self {
        MutabilityProbe(PhantomData)
    }
}

impl<T: ?Sized> Default for MutabilityProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Found for an interior-mutable type: names it.
pub trait Mutable<T: ?Sized> {
    /// `T` itself, which [`assert_captured_at_once`] rejects.
    fn mutability(&self) -> PhantomData<T>;
}

impl<T: ?Sized + InteriorMutable> Mutable<T> for MutabilityProbe<T> {
    #[inline]
    fn mutability(&self) -> PhantomData<T> {
        PhantomData
    }
}

/// Found for every other type.
pub trait Immutable {
    /// [`CapturedAtOnce`], which [`assert_captured_at_once`] accepts.
    fn mutability(&self) -> PhantomData<CapturedAtOnce>;
}

impl<T: ?Sized> Immutable for &MutabilityProbe<T> {
    #[inline]
    fn mutability(&self) -> PhantomData<CapturedAtOnce> {
        PhantomData
    }
}

/// Found for std's interior-mutable types: the field is then reported by
/// [`assert_captured_at_once`], so this one accepts.
pub trait StdType {
    /// [`CapturedAtOnce`].
    fn std_type(&self) -> PhantomData<CapturedAtOnce>;
}

impl<T: ?Sized + InteriorMutable> StdType for MutabilityProbe<T> {
    #[inline]
    fn std_type(&self) -> PhantomData<CapturedAtOnce> {
        PhantomData
    }
}

/// Found for a type named like one of std's interior-mutable types that is
/// not std's.
pub trait OtherType<T: ?Sized> {
    /// `T` itself, which [`assert_std_type`] rejects.
    fn std_type(&self) -> PhantomData<T>;
}

impl<T: ?Sized> OtherType<T> for &MutabilityProbe<T> {
    #[inline]
    fn std_type(&self) -> PhantomData<T> {
        PhantomData
    }
}

/// What a probe answers for a type whose value is captured at one instant.
pub struct CapturedAtOnce;

/// Implemented by [`CapturedAtOnce`] only. `F` is a marker named after
/// the field.
#[diagnostic::on_unimplemented(
    message = "field `{F}` has interior mutability (`{Self}`): its parts could be captured at different instants",
    label = "interior mutability",
    note = "mark it `#[derived(from = ...)]` to rebuild it on restore, or `#[checkpoint(allow_interior_mutability)]` if every checkpoint is taken while nothing else can change it"
)]
pub trait ConsistentField<F> {}

impl<F> ConsistentField<F> for CapturedAtOnce {}

/// Compile-time check that field `F` has no interior mutability the probe
/// can see.
#[inline]
pub fn assert_captured_at_once<F, T: ?Sized + ConsistentField<F>>(_: PhantomData<T>) {}

/// Implemented by [`CapturedAtOnce`] only. `F` is a marker named after
/// the field.
#[diagnostic::on_unimplemented(
    message = "field `{F}` has a type named like std's interior-mutable types, but `{Self}` is not std's",
    label = "a lock, a cell or your own type?",
    note = "if it can change behind `&` (a lock or cell of another crate), mark the field `#[derived(from = ...)]` or `#[checkpoint(allow_interior_mutability)]`",
    note = "if it is your own type without interior mutability, write it with its path (`self::{Self}`, `crate::...`) so it is not taken for std's"
)]
pub trait StdNamed<F> {}

impl<F> StdNamed<F> for CapturedAtOnce {}

/// Compile-time check that a type of field `F` written with the bare name
/// of one of std's interior-mutable types is std's (then
/// [`assert_captured_at_once`] has reported it).
#[inline]
pub fn assert_std_type<F, T: ?Sized + StdNamed<F>>(_: PhantomData<T>) {}

/// Implemented by every `Copy` type. `F` is a marker named after the field.
#[diagnostic::on_unimplemented(
    message = "field `{F}` of a `#[repr(packed)]` struct cannot be checkpointed: `{Self}` is not `Copy`",
    label = "not `Copy`",
    note = "a packed struct's fields cannot be borrowed, so each stored field is copied out: store a `Copy` type, mark the field `#[derived(from = ...)]`, or remove `#[repr(packed)]`"
)]
pub trait PackedField<F> {}

#[diagnostic::do_not_recommend]
impl<T: Copy, F> PackedField<F> for T {}

/// Compile-time check that field `F` of a packed struct is `Copy`.
#[inline]
pub const fn assert_copy<F, T: PackedField<F>>() {}
