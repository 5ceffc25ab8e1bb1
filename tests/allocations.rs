//! Allocations of a steady-state save and restore, counted by a global
//! allocator, against raw postcard of the same value.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use checkpoint::{Checkpoint, Checkpointer, MemStore};

struct Counting;

thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        let _ = BYTES.try_with(|c| c.set(c.get() + layout.size() as u64));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        let _ = BYTES.try_with(|c| c.set(c.get() + new_size as u64));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations (count, bytes) made on this thread by `f`.
fn counted<R>(f: impl FnOnce() -> R) -> (R, u64, u64) {
    let (c0, b0) = (COUNT.with(Cell::get), BYTES.with(Cell::get));
    let r = f();
    (r, COUNT.with(Cell::get) - c0, BYTES.with(Cell::get) - b0)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Kind {
    Plain,
    Tagged(u32),
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Item {
    id: u64,
    kind: Kind,
    words: Vec<String>,
    note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Checkpoint)]
struct Inventory {
    items: Vec<Item>,
}

fn inventory() -> Inventory {
    Inventory {
        items: (0..1000)
            .map(|i| Item {
                id: i,
                kind: if i % 2 == 0 {
                    Kind::Plain
                } else {
                    Kind::Tagged(i as u32)
                },
                words: vec![format!("w{i}"), "x".to_owned()],
                note: (i % 3 == 0).then(|| format!("note {i}")),
            })
            .collect(),
    }
}

#[test]
fn steady_state_saves_allocate_no_more_than_raw_postcard() {
    let state = inventory();
    let ckpt = Checkpointer::new(MemStore::new()).unwrap().keep_last(1);
    for _ in 0..3 {
        ckpt.save(&state).unwrap();
    }
    let (_, raw, raw_bytes) = counted(|| postcard::to_allocvec(&state).unwrap());
    let (_, save, save_bytes) = counted(|| ckpt.save(&state).unwrap());
    println!("save: {save} allocations, {save_bytes} bytes; postcard: {raw}, {raw_bytes} bytes");
    let (_, restore, restore_bytes) =
        counted(|| ckpt.restore_latest::<Inventory>().unwrap().unwrap());
    let bytes = postcard::to_allocvec(&state).unwrap();
    let (_, raw_restore, raw_restore_bytes) =
        counted(|| postcard::from_bytes::<Inventory>(&bytes).unwrap());
    println!(
        "restore: {restore} allocations, {restore_bytes} bytes; postcard: {raw_restore}, {raw_restore_bytes} bytes"
    );
    assert!(save <= raw, "save made {save} allocations, postcard {raw}");
}
