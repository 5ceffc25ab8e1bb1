// Every shape in `tests/shapes/mod.rs` compiles without a warning, in a
// crate whose own names shadow everything the expansion could use.
#![deny(warnings)]
// The shapes' own fields are never read here (`tests/derive_shapes.rs` does);
// `tests/ui/pass/warnings-denied.rs` covers dead code without this.
#![allow(dead_code)]

struct Result;
struct Option;
struct Some;
struct None;
struct Ok;
struct Err;
struct Default;
struct FieldWriter;
struct FieldReader;
struct Schema;
trait Serialize {}
trait Deserialize {}
trait Serializer {}
trait Deserializer {}
trait Checkpoint {}
trait Codec {}
mod core {}
mod serde {}
mod checkpoint_core {}
#[allow(unused_macros)]
macro_rules! unreachable {
    ($($t:tt)*) => {
        compile_error!("the expansion used the crate's own `unreachable!`")
    };
}
#[allow(unused_macros)]
macro_rules! vec {
    ($($t:tt)*) => {
        compile_error!("the expansion used the crate's own `vec!`")
    };
}

include!("../../shapes/mod.rs");

fn main() {}
