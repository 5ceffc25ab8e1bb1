//! Every evolution attribute together, on generic and enum types.
use checkpoint::Checkpoint;

pub struct Pool {
    pub size: usize,
}

fn widen(old: u32) -> u64 {
    u64::from(old)
}

fn positive<T>(s: &Stats<T>) -> Result<(), &'static str> {
    if s.count > 0 { Ok(()) } else { Err("count is zero") }
}

#[derive(Checkpoint)]
#[checkpoint(name = "OldStats", removed = "a", removed = "b", check = positive, context = Pool)]
pub struct Stats<T> {
    pub items: Vec<T>,
    #[checkpoint(alias = "n", alias = "num", was = u32, convert = widen)]
    pub count: u64,
    #[checkpoint(default = items.len() + ctx.size)]
    pub capacity: usize,
    #[derived(from = capacity * 2)]
    pub doubled: usize,
}

#[derive(Checkpoint)]
pub enum Job {
    Idle,
    Busy(#[checkpoint(default = 0)] u64, #[checkpoint(alias = "2")] String),
}

fn main() {
    fn restores<T: Checkpoint>() {}
    restores::<Stats<String>>();
    restores::<Job>();
}
