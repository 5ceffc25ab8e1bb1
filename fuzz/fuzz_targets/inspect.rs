//! `inspect` of arbitrary bytes, and the schema `diff` of two inputs.
#![no_main]

use checkpoint::format::decode_header;
use checkpoint::inspect::{diff, diff_headers, inspect};
use checkpoint_fuzz::{claimed_seq, reseal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // [mode, split_lo, split_hi, first.., second..]
    let Some((head, rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let split = usize::from(u16::from_le_bytes([head[1], head[2]])).min(rest.len());
    let (a, b) = rest.split_at(split);
    let a = reseal(a.to_vec(), head[0]);
    let b = reseal(b.to_vec(), head[0] >> 3);
    let mut headers = Vec::new();
    for bytes in [&a, &b] {
        let seq = claimed_seq(bytes);
        let inspection = inspect(bytes, seq, "fuzz");
        let _ = inspection.status();
        for frame in &inspection.frames {
            let _ = inspection.frame(&frame.name);
        }
        drop(format!("{inspection:?}"));
        if let Ok(header) = decode_header(bytes, seq, "fuzz") {
            headers.push(header);
        }
    }
    if let [older, newer] = &headers[..] {
        for change in diff(&older.schema, &newer.schema) {
            drop(change.to_string());
        }
        for change in diff_headers(older, newer) {
            drop(change.to_string());
        }
        for change in diff_headers(newer, older) {
            let _ = change.kind();
        }
    }
});
