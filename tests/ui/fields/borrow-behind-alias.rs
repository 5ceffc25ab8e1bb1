use checkpoint::Checkpoint;

type Name<'a> = &'a str;

#[derive(Checkpoint)]
struct Person<'a> {
    name: Name<'a>,
    age: u8,
}

fn main() {}
