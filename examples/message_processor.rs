//! A message processor that survives a restart.
//!
//! The classic bug: the index over the log is "recomputable", so it is left
//! out of the checkpoint, and after a restart nothing recomputes it; the
//! time of the last message is forgotten the same way. Here every field is
//! saved unless it says how it is rebuilt: `index` is
//! `#[derived(from = build_index(&log))]`, and `last_message_time` is saved.
//!
//! Run with `cargo run --example message_processor`.

use std::collections::HashMap;

use checkpoint::{Checkpoint, Checkpointer};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Message {
    id: u64,
    time: u64,
    body: String,
}

#[derive(Debug, Checkpoint)]
struct MessageProcessor {
    processed_messages: u64,
    last_message_time: u64,
    log: Vec<Message>,
    #[derived(from = build_index(&log))]
    index: HashMap<u64, usize>,
}

fn build_index(log: &[Message]) -> HashMap<u64, usize> {
    log.iter().enumerate().map(|(at, m)| (m.id, at)).collect()
}

impl MessageProcessor {
    fn new() -> Self {
        MessageProcessor {
            processed_messages: 0,
            last_message_time: 0,
            log: Vec::new(),
            index: HashMap::new(),
        }
    }

    fn process(&mut self, message: Message) {
        self.processed_messages += 1;
        self.last_message_time = message.time;
        self.index.insert(message.id, self.log.len());
        self.log.push(message);
    }

    fn body_of(&self, id: u64) -> Option<&str> {
        self.index.get(&id).map(|&at| self.log[at].body.as_str())
    }
}

fn incoming(from: u64, to: u64) -> impl Iterator<Item = Message> {
    (from..to).map(|id| Message {
        id: 1000 + id,
        time: 1_700_000_000 + id * 60,
        body: format!("message {id}"),
    })
}

fn run(dir: &std::path::Path, upto: u64) -> Result<MessageProcessor, checkpoint::Error> {
    let ckpt = Checkpointer::open(dir)?;
    let mut p = match ckpt.restore_latest::<MessageProcessor>()? {
        Some(r) => {
            println!(
                "resumed at checkpoint #{} with {} messages, last at t={}",
                r.meta.seq, r.state.processed_messages, r.state.last_message_time
            );
            r.state
        }
        None => {
            println!("no checkpoint: starting fresh");
            MessageProcessor::new()
        }
    };
    for message in incoming(p.processed_messages, upto) {
        p.process(message);
        let meta = ckpt.save(&p)?;
        println!(
            "processed message {} and saved checkpoint #{} ({} bytes)",
            p.processed_messages, meta.seq, meta.size
        );
    }
    Ok(p)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("checkpoint-example-mp-{}", std::process::id()));
    let first = run(&dir, 3)?;
    drop(first); // the process "restarts"
    let resumed = run(&dir, 5)?;

    assert_eq!(resumed.processed_messages, 5);
    assert_eq!(resumed.last_message_time, 1_700_000_000 + 4 * 60);
    // The index was rebuilt from the log on restore, so old messages are found.
    assert_eq!(resumed.body_of(1001), Some("message 1"));
    println!(
        "index rebuilt: message 1001 is {:?}",
        resumed.body_of(1001).unwrap()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
