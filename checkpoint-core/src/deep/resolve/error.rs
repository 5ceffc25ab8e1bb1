//! Why bytes cannot be read as the reader's type, and where.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::num::NonZeroU32;

use serde::de;

use crate::deep::{Path, Seg};

/// Why a value cannot be read as the reader's type, and where: a handle
/// four bytes wide to a [`ResolveFailure`] kept by the thread that made
/// it. Every value a reader's `Deserialize` reads comes back in a
/// `Result` with this error; kept this small, the result of a small value
/// (a unit enum, an `Option<u8>`) fits in a register, as it does with
/// postcard's own one-byte error, where a pointer would send it through
/// memory. Failures are rare and never leave the thread that reads: the
/// handle is neither `Send` nor `Sync`.
pub(crate) struct ResolveError {
    slot: NonZeroU32,
    _thread: PhantomData<*const ()>,
}

#[derive(Debug)]
pub(crate) struct ResolveFailure {
    pub(crate) kind: ResolveKind,
    pub(crate) path: Path,
}

/// The failures this thread's [`ResolveError`]s stand for, by slot.
#[derive(Default)]
struct Failures {
    slots: Vec<Option<ResolveFailure>>,
    free: Vec<u32>,
}

thread_local! {
    static FAILURES: RefCell<Failures> = RefCell::new(Failures::default());
}

impl ResolveError {
    #[cold]
    #[inline(never)]
    fn keep(failure: ResolveFailure) -> Self {
        let index = FAILURES.with_borrow_mut(|t| match t.free.pop() {
            Some(index) => {
                t.slots[index as usize] = Some(failure);
                index
            }
            None => {
                t.slots.push(Some(failure));
                u32::try_from(t.slots.len() - 1).expect("fewer than 4 billion live failures")
            }
        });
        ResolveError {
            slot: NonZeroU32::MIN.saturating_add(index),
            _thread: PhantomData,
        }
    }

    fn index(&self) -> usize {
        self.slot.get() as usize - 1
    }

    /// Runs `f` on the failure.
    fn with<R>(&self, f: impl FnOnce(&mut ResolveFailure) -> R) -> R {
        FAILURES.with_borrow_mut(|t| {
            f(t.slots[self.index()]
                .as_mut()
                .expect("a live error's failure is kept"))
        })
    }

    /// The failure, taken from the thread's keeping.
    pub(crate) fn into_failure(self) -> ResolveFailure {
        let index = self.index();
        std::mem::forget(self);
        FAILURES.with_borrow_mut(|t| {
            t.free.push(index as u32);
            t.slots[index]
                .take()
                .expect("a live error's failure is kept")
        })
    }

    /// Runs `f` on the failure's kind.
    pub(super) fn with_kind<R>(&self, f: impl FnOnce(&mut ResolveKind) -> R) -> R {
        self.with(|failure| f(&mut failure.kind))
    }
}

impl Drop for ResolveError {
    fn drop(&mut self) {
        let index = self.index();
        // At thread exit the table may be gone already: nothing to free.
        let _ = FAILURES.try_with(|t| {
            if let Ok(mut t) = t.try_borrow_mut() {
                t.slots[index] = None;
                t.free.push(index as u32);
            }
        });
    }
}

impl std::fmt::Debug for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let failure = self.with(|failure| format!("{failure:?}"));
        f.write_str(&failure)
    }
}

#[derive(Debug)]
pub(crate) enum ResolveKind {
    /// The writer wrote `from` where the reader reads `to`.
    TypeChanged { from: String, to: String },
    /// The reader's struct has a field the writer did not write.
    MissingField { field: String, ty: Option<String> },
    /// The writer wrote a variant the reader's enum does not have.
    VariantRemoved { variant: String, ty: String },
    /// The reader needs a self-describing format.
    SelfDescribing,
    /// The reader's `Deserialize` refused the value.
    Custom(String),
    /// The bytes do not match the writer's schema.
    Decode(String),
}

impl ResolveError {
    pub(super) fn new(kind: ResolveKind) -> Self {
        Self::keep(ResolveFailure {
            kind,
            path: Path::default(),
        })
    }

    #[cold]
    #[inline(never)]
    pub(super) fn at(self, seg: Seg) -> Self {
        self.with(|failure| failure.path.push(seg));
        self
    }
}

impl ResolveFailure {
    /// A phrase saying what differs, without the path.
    pub(crate) fn change(&self) -> String {
        match &self.kind {
            ResolveKind::TypeChanged { from, to } => {
                format!("type changed from `{from}` to `{to}`")
            }
            ResolveKind::MissingField { field, ty } => match ty {
                Some(ty) => {
                    format!("field `{field}` was added to `{ty}` since the checkpoint was written")
                }
                None => format!("field `{field}` was added since the checkpoint was written"),
            },
            ResolveKind::VariantRemoved { variant, ty } => {
                format!("the checkpoint holds variant `{variant}`, which `{ty}` no longer has")
            }
            ResolveKind::SelfDescribing => "its type reads itself through `deserialize_any`, \
                which needs a self-describing format (`serde_json::Value`, \
                `#[serde(untagged)]`, internally tagged enums, `#[serde(flatten)]`)"
                .to_owned(),
            ResolveKind::Custom(m) => m.clone(),
            ResolveKind::Decode(m) => format!("the bytes do not match their recorded schema: {m}"),
        }
    }

    /// What to do about it.
    pub(crate) fn fix(&self) -> &'static str {
        match &self.kind {
            ResolveKind::TypeChanged { .. } => {
                "to read the old form, add `#[checkpoint(was = OldType, convert = ...)]` to the field"
            }
            ResolveKind::MissingField { .. } => {
                "give the new field `#[serde(default)]` to restore checkpoints written before it existed"
            }
            ResolveKind::VariantRemoved { .. } => {
                "add the variant back (or `#[serde(alias = \"...\")]` to the variant it became)"
            }
            ResolveKind::SelfDescribing => {
                "store it as a `String` (e.g. `serde_json::to_string`) or mark the field `#[derived(from = ...)]`"
            }
            ResolveKind::Custom(_) | ResolveKind::Decode(_) => {
                "to read the old form, add `#[checkpoint(was = OldType, convert = ...)]` to the field"
            }
        }
    }

    /// Whether the writer and reader disagree on a type (rather than the
    /// bytes being bad).
    pub(crate) fn is_type_change(&self) -> bool {
        matches!(self.kind, ResolveKind::TypeChanged { .. })
    }
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.with(|failure| format!("`{}`: {}", failure.path, failure.change()));
        f.write_str(&text)
    }
}

impl std::error::Error for ResolveError {}

impl de::Error for ResolveError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        ResolveError::new(ResolveKind::Custom(msg.to_string()))
    }

    fn missing_field(field: &'static str) -> Self {
        ResolveError::new(ResolveKind::MissingField {
            field: field.to_owned(),
            ty: None,
        })
    }
}

#[cold]
#[inline(never)]
pub(crate) fn decode(e: postcard::Error) -> ResolveError {
    ResolveError::new(ResolveKind::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> usize {
        FAILURES.with_borrow(|t| t.slots.iter().filter(|s| s.is_some()).count())
    }

    #[test]
    fn an_error_is_four_bytes_so_the_results_of_small_values_stay_small() {
        assert_eq!(std::mem::size_of::<ResolveError>(), 4);
        assert_eq!(std::mem::size_of::<Result<(), ResolveError>>(), 4);
        assert_eq!(std::mem::size_of::<Result<Option<u32>, ResolveError>>(), 8);
    }

    #[test]
    fn each_error_keeps_its_own_failure_until_it_is_dropped_or_taken() {
        let before = live();
        let a = ResolveError::new(ResolveKind::Custom("a".into())).at(Seg::Field("x".into()));
        let b = ResolveError::new(ResolveKind::Decode("b".into()));
        let c = ResolveError::new(ResolveKind::SelfDescribing);
        assert_eq!(live(), before + 3);
        drop(b);
        assert_eq!(live(), before + 2);
        // A freed slot is used again, and holds the new failure only.
        let d = ResolveError::new(ResolveKind::Custom("d".into())).at(Seg::Element);
        assert_eq!(live(), before + 3);
        assert_eq!(a.to_string(), "`.x`: a");
        assert_eq!(d.to_string(), "`[]`: d");
        d.with_kind(|kind| *kind = ResolveKind::Custom("d2".into()));
        let failure = d.into_failure();
        assert!(matches!(failure.kind, ResolveKind::Custom(ref m) if m == "d2"));
        assert_eq!(live(), before + 2);
        assert!(c.to_string().contains("self-describing"), "{c}");
        drop((a, c));
        assert_eq!(live(), before);
    }
}
