// A user's own names for what the expansion uses must not change its meaning.
#![allow(dead_code, non_camel_case_types)]

use checkpoint::Checkpoint as Derive;

struct Result;
struct Option;
struct Vec;
struct String;
struct Box;
struct Ok;
struct Err;
struct Some;
struct None;
struct FieldWriter;
struct FieldReader;
struct Schema;
mod serde {}
mod core {}
mod std {}
mod checkpoint_core {}
trait Checkpoint {}
trait Serialize {}
trait Deserialize {}

#[derive(Derive)]
struct Processor {
    count: u64,
    names: ::std::vec::Vec<::std::string::String>,
    #[derived(from = names.len())]
    len: usize,
}

#[derive(Derive)]
enum Job {
    Idle,
    Busy(u32),
}

#[derive(Derive)]
struct Generic<T> {
    value: T,
}

fn main() {}

// Field names that generated code might use for its own locals.
#[derive(Derive)]
enum Clash {
    Fields {
        __out: u8,
        __input: u8,
        __shadow: u8,
        __serializer: u8,
        __deserializer: u8,
        __other: u8,
        __field0: u8,
        #[derived(from = __out + __field0)]
        sum: u8,
    },
    Tuple(u8, u16),
}

#[derive(Derive)]
struct ClashStruct {
    __input: u8,
    __field0: ::std::string::String,
    r#type: u8,
}
