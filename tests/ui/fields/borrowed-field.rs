use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Line<'a> {
    text: &'a str,
}

fn main() {}
