use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    log: Vec<u64>,
    #[checkpoint(default = "never")]
    last_message_time: u64,
}

fn main() {}
