use checkpoint::Checkpoint;

#[derive(serde::Serialize, serde::Deserialize)]
struct Cell {
    row: u16,
}

// a bare `Cell` may be std's or the crate's own: the message asks which
#[derive(Checkpoint)]
struct Sheet {
    cells: Vec<Cell>,
}

fn main() {}
