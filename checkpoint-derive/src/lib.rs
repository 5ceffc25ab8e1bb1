//! `#[derive(Checkpoint)]`. Use it through the `checkpoint` crate, which
//! re-exports it beside the trait of the same name.

mod ast;
mod attr;
mod check;
mod ctxt;
mod derive;
mod expand;
mod fallback;
mod types;

use proc_macro::TokenStream;

/// Derives `checkpoint::Checkpoint`, plus serde's `Serialize` and
/// `Deserialize` over the checkpointed fields.
///
/// Every field is serialized unless it says how to rebuild it on restore.
/// Whatever would let a field be lost silently, or captured inconsistently,
/// is a compile error on that field.
///
/// ```
/// use std::collections::HashMap;
/// use std::time::Instant;
/// use checkpoint::Checkpoint;
///
/// #[derive(Checkpoint)]
/// struct MessageProcessor {
///     processed_messages: u64,
///     log: Vec<String>,
///     #[derived(from = log.iter().enumerate().map(|(i, m)| (m.len(), i)).collect())]
///     index: HashMap<usize, usize>,
///     #[derived(from = Instant::now())]
///     started: Instant,
/// }
/// ```
///
/// # Field attributes
///
/// - `#[derived(from = EXPR)]`: the field is not stored; on restore it is set
///   to `EXPR`. `EXPR` is any expression; the serialized fields are in scope
///   by name as immutable locals, and so are the derived fields declared
///   before this one. In a tuple struct or tuple variant, field `0` is `_0`,
///   field `1` is `_1`, and so on. A wrong type or unknown name in `EXPR` is
///   reported inside `EXPR`.
///
///   ```
///   # use checkpoint::Checkpoint;
///   #[derive(Checkpoint)]
///   struct Stats(Vec<u64>, #[derived(from = _0.iter().sum())] u64);
///   ```
///
/// - `#[checkpoint(allow_interior_mutability)]`: accept a serialized field
///   whose type mentions `Mutex`, `RwLock`, `RefCell`, `Cell`, `OnceCell`,
///   `OnceLock`, `UnsafeCell` or an `Atomic*` type. Without it such a field
///   is an error, because its parts would be captured at different instants
///   while other code changes them. Use it when every checkpoint is taken
///   while nothing else can touch the value.
///
///   ```
///   # use checkpoint::Checkpoint;
///   use std::sync::atomic::AtomicU64;
///
///   #[derive(Checkpoint)]
///   struct Counter {
///       #[checkpoint(allow_interior_mutability)]
///       hits: AtomicU64,
///   }
///   ```
///
/// # Container attributes
///
/// - `#[checkpoint(name = "...")]`: the name the schema records instead of
///   the type's identifier (the module path is never recorded, so moving a
///   type does not break its checkpoints; renaming it does, unless it keeps
///   its old name here).
///
///   ```
///   # use checkpoint::Checkpoint;
///   #[derive(Checkpoint)]
///   #[checkpoint(name = "Processor")]
///   struct MessageProcessorV2 {
///       processed_messages: u64,
///   }
///   assert_eq!(MessageProcessorV2::SCHEMA.name, "Processor");
///   ```
///
/// # What is rejected
///
/// - a serialized field whose type does not implement serde's `Serialize`
///   and `DeserializeOwned`: serialize it or mark it `#[derived(from = ...)]`;
/// - any `#[serde(...)]` attribute on the type, its variants or its fields:
///   the derive owns the encoding (`skip` would drop a field silently,
///   `flatten` or `skip_serializing_if` would make the bytes unreadable in
///   formats like postcard);
/// - interior mutability in a serialized field, unless allowed as above;
/// - `#[derived]` without `from = EXPR`, twice on one field, or on a type or
///   variant; unknown or repeated keys in `#[checkpoint(...)]` and
///   `#[derived(...)]` (with a "did you mean" suggestion);
/// - unions.
///
/// All mistakes of one type are reported in one compile.
///
/// # Generated impls
///
/// `Checkpoint` with `type Context = ()` and a `SCHEMA` listing every field
/// (name, type as written with paths trimmed to their last segment, derived
/// or not). `Serialize` and `Deserialize` encode the serialized fields as a
/// struct (or enum) of that name would, and rebuild the derived fields on
/// deserialize, so Checkpoint types nest in each other and in std
/// collections. Do not derive serde's traits beside it. A type parameter
/// used in a serialized field gets `Serialize + DeserializeOwned` bounds.
#[proc_macro_derive(Checkpoint, attributes(checkpoint, derived, serde))]
pub fn derive_checkpoint(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(node) => derive::derive(&node).into(),
        Err(error) => error.to_compile_error().into(),
    }
}
