use std::collections::HashMap;

use checkpoint::Checkpoint;

fn build_index(log: &[String]) -> HashMap<String, usize> {
    log.iter().enumerate().map(|(i, m)| (m.clone(), i)).collect()
}

#[derive(Checkpoint)]
struct Processor {
    log: Vec<String>,
    limit: usize,
    #[derived(from = build_index(&log))]
    index: HashMap<String, usize>,
    #[derived(from = index.len().min(limit))]
    visible: usize,
    #[derived(from = { let mut v: Vec<usize> = index.values().copied().collect(); v.sort(); v })]
    order: Vec<usize>,
    #[derived(from = log.iter().map(|m| m.len()).sum::<usize>())]
    bytes: usize,
    #[derived(from = Default::default())]
    scratch: Vec<u8>,
}

fn main() {}
