use checkpoint::Checkpoint;

#[derive(Checkpoint)]
enum Slot {
    Full { value: std::sync::Arc<std::sync::RwLock<u64>> },
}

fn main() {}
