//! Checkpoint and restore application state, correct by construction.
//!
//! `#[derive(Checkpoint)]` refuses to compile a struct whose fields would be
//! silently left out of a checkpoint: every field is serialized unless it is
//! marked `#[derived(from = ...)]`, which says how to rebuild it on restore.

pub use checkpoint_core::*;
pub use checkpoint_derive::Checkpoint;

/// Paths used by the code `#[derive(Checkpoint)]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use ::checkpoint_core::__private::*;
    pub use ::core;
    pub use ::serde;
    pub use ::std;
}
