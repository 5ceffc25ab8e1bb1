use std::marker::PhantomData;

use checkpoint::Checkpoint;

struct Opaque<T>(PhantomData<T>);

#[derive(Checkpoint)]
struct Holder<T> {
    inner: Opaque<T>,
}

fn main() {}
