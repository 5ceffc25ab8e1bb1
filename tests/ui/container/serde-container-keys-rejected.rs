use checkpoint::Checkpoint;

// each key gets its own fix
#[derive(Checkpoint)]
#[serde(default, rename = "Proc", deny_unknown_fields, transparent)]
struct Processor {
    log: Vec<u64>,
}

#[derive(Checkpoint)]
#[serde(crate = "serde", bound = "T: Clone", remote = "Other")]
struct Wrapper<T> {
    value: T,
}

#[derive(Checkpoint)]
enum Job {
    Idle,
    #[serde(other)]
    Unknown,
}

fn main() {}
