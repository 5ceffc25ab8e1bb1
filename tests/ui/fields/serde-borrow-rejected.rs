use std::borrow::Cow;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Line<'a> {
    #[serde(borrow)]
    text: Cow<'a, str>,
}

fn main() {}
