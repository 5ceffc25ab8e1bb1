use std::borrow::Cow;
use std::marker::PhantomData;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Named<'a> {
    name: Cow<'a, str>,
}

#[derive(Checkpoint)]
struct Borrowing<'a, T: 'a> {
    len: usize,
    #[derived(from = PhantomData)]
    marker: PhantomData<&'a T>,
}

#[derive(Checkpoint)]
enum Label<'a> {
    Static,
    Owned(Cow<'a, str>),
}

fn is_checkpoint<T: Checkpoint>() {}

fn main() {
    is_checkpoint::<Named<'static>>();
    is_checkpoint::<Borrowing<'static, [u8; 2]>>();
    is_checkpoint::<Label<'_>>();
}
