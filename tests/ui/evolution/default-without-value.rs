use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    log: Vec<u64>,
    #[checkpoint(default)]
    last_message_time: u64,
}

fn main() {}
