use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Unit;

#[derive(Checkpoint)]
struct Newtype(u64);

#[derive(Checkpoint)]
struct Pair(String, #[derived(from = _0.len())] usize);

#[derive(Checkpoint)]
struct EmptyBraces {}

#[derive(Checkpoint)]
struct EmptyTuple();

fn main() {}
