//! Runtime of the `checkpoint` crate: the [`Checkpoint`] trait, the byte
//! format, sequencing, stores, restore and errors.
//!
//! Users depend on the `checkpoint` facade crate, which re-exports this one
//! together with `#[derive(Checkpoint)]`.

#[cfg(feature = "tokio")]
mod asynchronous;
mod background;
mod checkpointer;
mod compression;
mod deep;
mod encode;
mod error;
mod fields;
pub mod format;
pub mod group;
mod incremental;
pub mod inspect;
mod keys;
mod observe;
mod restore;
pub mod schema;
mod snapshot;
pub mod store;
mod stream;
pub mod testing;

#[cfg(feature = "tokio")]
pub use asynchronous::AsyncCheckpointer;
pub use background::Background;
pub use checkpointer::Checkpointer;
pub use compression::Compression;
pub use error::Error;
pub use fields::{FieldReader, FieldWriter};
#[cfg(feature = "metrics")]
pub use observe::describe_metrics;
pub use schema::{FieldSchema, Schema, Shape, VariantSchema};
pub use snapshot::{Meta, Restored, Skipped, Snapshot};
pub use store::{DirStore, MemStore, Store, StoreError};

/// The result type of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// State that can be checkpointed and restored.
///
/// Implemented by `#[derive(Checkpoint)]`; implementing it by hand is
/// possible but the derive is what checks that no field is forgotten.
pub trait Checkpoint: Sized {
    /// What a restore of this type needs besides the checkpoint: `()` unless
    /// the type declares `#[checkpoint(context = Type)]`.
    type Context;

    /// The type's schema: its name and, for each field, its name, its type as
    /// written and whether it is serialized or derived.
    const SCHEMA: Schema;

    /// Encodes every serialized field, in schema order.
    ///
    /// # Errors
    ///
    /// Fails when a field's `Serialize` implementation fails.
    fn write_fields(&self, out: &mut FieldWriter<'_>) -> Result<()>;

    /// Decodes the serialized fields and rebuilds the derived ones.
    ///
    /// # Errors
    ///
    /// Fails when a field is missing from the checkpoint or does not decode.
    fn read_fields(input: &mut FieldReader<'_>, context: &Self::Context) -> Result<Self>;

    /// Checks the restored state; runs after every restore. The default
    /// accepts everything.
    ///
    /// # Errors
    ///
    /// A message saying why the restored state is not acceptable.
    fn check(&self) -> core::result::Result<(), String> {
        Ok(())
    }
}

#[doc(hidden)]
pub mod __private;

/// The items behind this crate's optional features, for the `checkpoint`
/// crate to re-export as this build has them (a feature enabled by any
/// crate in the build enables it here). Not public API.
#[doc(hidden)]
pub mod __optional {
    #[cfg(feature = "metrics")]
    pub use crate::describe_metrics;
    #[cfg(feature = "tokio")]
    pub use crate::AsyncCheckpointer;
}
