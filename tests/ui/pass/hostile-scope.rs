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
