use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    #[checkpoint(was = u32, convert = widen)]
    retries: u64,
}

fn widen(old: u16) -> u64 {
    u64::from(old)
}

fn main() {}
