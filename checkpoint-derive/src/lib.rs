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
///   whose type has interior mutability (std's `Mutex`, `RwLock`, `RefCell`,
///   `Cell`, `OnceCell`, `OnceLock`, `LazyCell`, `LazyLock`, `UnsafeCell`,
///   atomics, and the locks and cells of `parking_lot`, `spin`, `tokio`,
///   `once_cell`, ...). Without it such a field is an error, because its
///   parts would be captured at different instants while other code changes
///   them. Use it when every checkpoint is taken while nothing else can touch
///   the value.
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
/// - `#[checkpoint(default = EXPR)]`: a field added after checkpoints were
///   written. Restoring a checkpoint that lacks it sets it to `EXPR`, with
///   the stored fields in scope as for `#[derived]` (all stored fields are
///   decoded first; defaults and derived fields are then filled in
///   declaration order). Contradicts `#[derived]`.
///
/// - `#[checkpoint(alias = "old_name")]` (repeatable): a renamed field; a
///   checkpoint's field is found by the current name, then by each alias.
///
/// - `#[checkpoint(was = OldType, convert = PATH)]`: a field whose type
///   changed. When a checkpoint stores the field as `OldType` (its recorded
///   type name is `OldType`'s, or its recorded shape is `OldType`'s), the
///   bytes decode as `OldType` and `PATH: fn(OldType) -> NewType` converts
///   them; new checkpoints store `NewType`. Each key needs the other.
///
///   ```
///   # use checkpoint::Checkpoint;
///   #[derive(Checkpoint)]
///   struct Processor {
///       log: Vec<String>,
///       #[checkpoint(default = log.len() as u64)]
///       processed_messages: u64,
///       #[checkpoint(alias = "retries", was = u32, convert = u64::from)]
///       attempts: u64,
///   }
///   ```
///
/// - `#[checkpoint(bound = "T: Trait")]`: the where-predicates this field
///   needs, instead of the ones inferred from its type (as serde's
///   `#[serde(bound = "...")]`).
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
/// - `#[checkpoint(removed = "name")]` (repeatable): a field deliberately
///   dropped; its bytes in older checkpoints are skipped. Without it a
///   checkpoint holding a field the type lacks is refused, so no data is lost
///   silently.
///
/// - `#[checkpoint(check = PATH)]`: `PATH: fn(&Self) -> Result<(), E>` with
///   `E: Display` runs after every restore (it implements
///   `Checkpoint::check`); an `Err` fails the restore with an error naming
///   the checkpoint and the message.
///
/// - `#[checkpoint(context = Type)]`: `type Context = Type`; `#[derived]` and
///   `default` expressions see it as `ctx: &Type`, and the type restores
///   with `restore_latest_with(&ctx)` / `restore_with(seq, &ctx)`. Without
///   the attribute `ctx` is not in scope. A type with a context has no
///   `Deserialize` impl, since serde cannot pass the context: it cannot be
///   nested inside another checkpointed value.
///
///   ```
///   # use checkpoint::Checkpoint;
///   fn consistent(l: &Ledger) -> Result<(), String> {
///       match l.transactions.last() {
///           Some(&newest) if newest > l.last_sequence_number => Err(format!(
///               "last_sequence_number {} is below the newest transaction {newest}",
///               l.last_sequence_number
///           )),
///           _ => Ok(()),
///       }
///   }
///
///   pub struct Clock { now: u64 }
///
///   #[derive(Checkpoint)]
///   #[checkpoint(removed = "scratch", check = consistent, context = Clock)]
///   struct Ledger {
///       last_sequence_number: u64,
///       transactions: Vec<u64>,
///       #[derived(from = ctx.now)]
///       restored_at: u64,
///   }
///   ```
///
/// - `#[checkpoint(bound = "T: Trait, U: Other")]`: the where-predicates of
///   the generated impls, instead of the inferred ones (an empty string: no
///   bounds). For the types inference gets wrong, such as a field type that
///   is serializable whatever its parameter is.
///
/// # What is rejected
///
/// - a serialized field whose type does not implement serde's `Serialize`
///   and `DeserializeOwned`: serialize it or mark it `#[derived(from = ...)]`;
/// - any `#[serde(...)]` attribute on the type, its variants or its fields:
///   the derive owns the encoding (`skip` would drop a field silently,
///   `flatten` or `skip_serializing_if` would make the bytes unreadable in
///   formats like postcard);
/// - a serialized field that borrows (`&'a str` anywhere in its type outside
///   `PhantomData`): a restored value owns its data, so store `String`,
///   `Box<T>` or `Cow<'a, T>` instead;
/// - interior mutability in a serialized field, unless allowed as above: a
///   path through std or a known lock or cell crate is rejected by name;
///   any other type is asked of the compiler, which sees std's types and
///   std's containers of them through type aliases too, but not inside a
///   type parameter or a type of your own; a bare name like `Cell` that is
///   not std's type is an error asking whether it is a lock of another crate
///   or your own type (then write it with its path, `self::Cell`);
/// - an unsized field (`[u8]`, `str`): store `Vec<u8>` or `String`;
/// - in a `#[repr(packed)]` struct, a stored field that is not `Copy` (its
///   fields cannot be borrowed, so they are copied out);
/// - `#[derived]` without `from = EXPR`, twice on one field, or on a type or
///   variant; `default`, `alias`, `was` or `convert` on a derived field;
///   `was` without `convert` or the reverse; an alias that is a field's
///   current name; `removed` naming a field the type has; unknown or repeated keys in `#[checkpoint(...)]` and
///   `#[derived(...)]` (with a "did you mean" suggestion);
/// - unions.
///
/// All mistakes of one type are reported in one compile.
///
/// # Generated impls
///
/// `Checkpoint` with `type Context = ()` (or the declared context) and a
/// `SCHEMA` listing every field (name, type as written with paths trimmed
/// to their last segment, derived or not, aliases, default, former type).
/// `Serialize` and `Deserialize` encode the serialized fields as a
/// struct (or enum) of that name would, and rebuild the derived fields on
/// deserialize, so Checkpoint types nest in each other and in std
/// collections. Do not derive serde's traits beside it. Bounds are
/// inferred as serde infers them: a type parameter whose values a
/// serialized field holds gets `Serialize + DeserializeOwned` (one only
/// inside `PhantomData`, a macro or a derived field gets none), and an
/// associated type a serialized field uses (`T::Assoc`) gets the bound
/// instead of `T`.
#[proc_macro_derive(Checkpoint, attributes(checkpoint, derived, serde))]
pub fn derive_checkpoint(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(node) => derive::derive(&node).into(),
        Err(error) => error.to_compile_error().into(),
    }
}
