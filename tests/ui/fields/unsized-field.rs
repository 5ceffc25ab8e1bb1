use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Frame {
    len: u32,
    data: [u8],
}

fn main() {}
