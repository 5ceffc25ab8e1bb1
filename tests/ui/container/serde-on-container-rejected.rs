use checkpoint::Checkpoint;

#[derive(Checkpoint)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Processor {
    log_entries: Vec<u64>,
}

fn main() {}
