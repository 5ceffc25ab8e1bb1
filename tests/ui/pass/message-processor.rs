// Generated code must be warning-free in a user crate that denies warnings.
#![deny(warnings, missing_debug_implementations, unreachable_pub, unused_qualifications)]

use std::collections::HashMap;
use std::time::Instant;

use checkpoint::Checkpoint;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Message {
    id: u64,
    body: String,
}

fn build_index(log: &[Message]) -> HashMap<u64, usize> {
    log.iter().enumerate().map(|(i, m)| (m.id, i)).collect()
}

#[derive(Checkpoint)]
struct MessageProcessor {
    processed_messages: u64,
    last_message_time: u64,
    log: Vec<Message>,
    #[derived(from = build_index(&log))]
    index: HashMap<u64, usize>,
    #[derived(from = Instant::now())]
    started: Instant,
}

fn main() {
    let p = MessageProcessor {
        processed_messages: 0,
        last_message_time: 0,
        log: Vec::new(),
        index: HashMap::new(),
        started: Instant::now(),
    };
    let _ = (p.processed_messages, p.last_message_time, p.index, p.started);
    let _: &dyn Fn(&MessageProcessor) -> Vec<u8> = &|p| postcard_free(p);
}

fn postcard_free<T: serde::Serialize>(_: &T) -> Vec<u8> {
    Vec::new()
}
