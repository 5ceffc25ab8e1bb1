use std::collections::{BTreeMap, HashMap};

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Inner {
    n: u32,
    #[derived(from = n + 1)]
    next: u32,
}

#[derive(Checkpoint)]
struct Outer {
    one: Inner,
    list: Vec<Inner>,
    map: HashMap<String, Inner>,
    sorted: BTreeMap<u64, Vec<Inner>>,
    maybe: Option<Box<Inner>>,
    tree: Option<Box<Self>>,
}

#[derive(Checkpoint)]
enum Node {
    Leaf(Inner),
    Branch(Vec<Node>),
}

fn main() {}
