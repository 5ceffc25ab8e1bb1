use checkpoint::Checkpoint;

#[derive(Checkpoint)]
enum Job {
    Idle,
    Queued(u32),
    Running(u32, String, #[derived(from = _0 * 2)] u32),
    Done {
        code: i32,
        #[derived(from = code == 0)]
        ok: bool,
    },
    Empty {},
    EmptyTuple(),
    r#Raw { r#type: u8 },
}

#[derive(Checkpoint)]
enum Never {}

#[derive(Checkpoint)]
enum Shared {
    A { x: u8 },
    B { x: String },
}

fn main() {}
