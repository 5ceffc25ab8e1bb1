use checkpoint::Checkpoint;

// an explicit bound is all the impls get: this one is too weak
#[derive(Checkpoint)]
#[checkpoint(bound = "T: Clone")]
struct Wrapper<T> {
    value: T,
}

fn main() {}
