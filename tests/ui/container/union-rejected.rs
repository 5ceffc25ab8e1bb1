use checkpoint::Checkpoint;

#[derive(Checkpoint)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
