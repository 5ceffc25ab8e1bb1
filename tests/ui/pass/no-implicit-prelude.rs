// The expansion must not lean on the prelude either.
mod state {
    #![no_implicit_prelude]

    #[derive(::checkpoint::Checkpoint)]
    pub struct Processor {
        pub log: ::std::vec::Vec<::std::string::String>,
        #[derived(from = log.len())]
        pub len: usize,
    }

    #[derive(::checkpoint::Checkpoint)]
    pub enum Job<T> {
        Idle,
        Busy(T, #[derived(from = 0)] u8),
    }
}

fn main() {
    let _ = state::Processor { log: Vec::new(), len: 0 }.len;
    let _ = state::Job::<u8>::Idle;
}
