use checkpoint::Checkpoint;

#[derive(Checkpoint)]
#[checkpoint(check = consistent)]
struct Ledger {
    last_sequence_number: u64,
}

fn consistent(ledger: &Ledger) -> bool {
    ledger.last_sequence_number > 0
}

fn main() {}
