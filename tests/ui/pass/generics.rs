use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::marker::PhantomData;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Table<K, V: Clone, const N: usize>
where
    K: Eq + Hash,
{
    rows: HashMap<K, V>,
    #[derived(from = [0; N])]
    header: [u8; N],
}

// `C` appears only in a derived field: it needs no serde bound.
#[derive(Checkpoint)]
struct WithCache<T: Debug, C: Default = Vec<u8>> {
    items: Vec<T>,
    #[derived(from = C::default())]
    cache: C,
}

#[derive(Checkpoint)]
struct Tagged<T> {
    id: u64,
    #[derived(from = PhantomData)]
    kind: PhantomData<T>,
}

#[derive(Checkpoint)]
enum Either<L, R> {
    Left(L),
    Right { value: R },
}

fn is_checkpoint<T: Checkpoint>() {}

fn main() {
    is_checkpoint::<Table<String, u8, 4>>();
    is_checkpoint::<WithCache<u8>>();
    is_checkpoint::<Tagged<std::time::Instant>>();
    is_checkpoint::<Either<u8, String>>();
}
