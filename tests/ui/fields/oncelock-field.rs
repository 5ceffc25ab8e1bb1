use std::sync::OnceLock;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Config {
    resolved: Option<OnceLock<String>>,
}

fn main() {}
