use checkpoint::Checkpoint;

#[derive(Checkpoint)]
#[checkpoint(bound = "T Clone")]
struct Wrapper<T> {
    value: T,
}

#[derive(Checkpoint)]
#[checkpoint(bound = T)]
struct Other<T> {
    value: T,
}

fn main() {}
