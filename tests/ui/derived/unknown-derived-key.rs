use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    log: Vec<u64>,
    #[derived(frm = log.len())]
    len: usize,
}

fn main() {}
