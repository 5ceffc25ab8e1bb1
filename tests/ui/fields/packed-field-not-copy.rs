use checkpoint::Checkpoint;

#[derive(Checkpoint)]
#[repr(packed)]
struct Record {
    id: u32,
    name: String,
}

fn main() {}
