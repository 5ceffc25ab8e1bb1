use checkpoint::Checkpoint;

#[derive(Checkpoint)]
#[serde(untagged)]
enum Value {
    Int(i64),
    #[serde(rename = "text")]
    Text(String),
}

fn main() {}
