use checkpoint::Checkpoint;

#[derive(serde::Serialize)]
struct Report {
    lines: u32,
}

#[derive(Checkpoint)]
struct Processor {
    last: Report,
}

fn main() {}
