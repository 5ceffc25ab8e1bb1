use checkpoint::Checkpoint;

struct Socket;

#[derive(Checkpoint)]
struct Peer(u32, Socket);

fn main() {}
