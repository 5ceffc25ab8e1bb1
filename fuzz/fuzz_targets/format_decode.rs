//! `format::decode_header` and `format::decode` of arbitrary bytes, raw and
//! resealed so the decoders behind the checksums run.
#![no_main]

use checkpoint::format::{decode, decode_header};
use checkpoint_fuzz::{claimed_seq, resealed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bytes = resealed(data);
    for seq in [claimed_seq(&bytes), 1] {
        if let Ok(header) = decode_header(&bytes, seq, "fuzz") {
            let _ = header.total_len();
            drop(format!("{header:?}"));
        }
        if let Ok((header, body)) = decode(&bytes, seq, "fuzz") {
            assert_eq!(header.total_len(), bytes.len() as u64);
            assert!(body.len() < bytes.len());
        }
    }
});
