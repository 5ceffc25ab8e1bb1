//! The contract every [`Store`] keeps, as functions a backend's tests call.
//!
//! Each function takes an empty store and panics when the store breaks the
//! contract. Run them all with [`run_all`].

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Store, StoreError};

/// Runs every check, in order, on one empty store.
pub fn run_all(store: &dyn Store) {
    put_if_absent_creates_once(store);
    get_of_absent_key_is_none(store);
    get_prefix_reads_at_most_len(store);
    get_range_reads_within_the_value(store);
    list_is_sorted_and_filtered(store);
    nested_keys(store);
    delete_removes_and_tolerates_absent(store);
    empty_and_large_values(store);
    concurrent_creates_have_one_winner(store);
    owned_and_shared_agree_with_borrowed(store);
    get_at_most_refuses_longer_values(store);
    list_level_lists_one_level(store);
}

/// `get_at_most` reads a value up to its limit and refuses a longer one.
pub fn get_at_most_refuses_longer_values(store: &dyn Store) {
    store.put_if_absent("conf-most", b"12345").unwrap();
    assert_eq!(
        store
            .get_at_most("conf-most", 5)
            .unwrap()
            .unwrap()
            .as_slice(),
        b"12345"
    );
    match store.get_at_most("conf-most", 4) {
        Err(StoreError::TooLarge {
            len: 5, limit: 4, ..
        }) => {}
        other => panic!("get_at_most over the limit returned {other:?}, not TooLarge"),
    }
    assert_eq!(store.get_at_most("conf-most-absent", 4).unwrap(), None);
    store.delete("conf-most").unwrap();
}

/// `list_level` lists the keys and level names directly under a prefix.
pub fn list_level_lists_one_level(store: &dyn Store) {
    for key in [
        "conf-lvl/a",
        "conf-lvl/b/c",
        "conf-lvl/b/d",
        "conf-lvl/e/f/g",
    ] {
        store.put_if_absent(key, b"x").unwrap();
    }
    assert_eq!(
        store.list_level("conf-lvl/").unwrap(),
        ["conf-lvl/a", "conf-lvl/b", "conf-lvl/e"]
    );
    assert_eq!(store.list_level("conf-lvl/b").unwrap(), ["conf-lvl/b"]);
    assert_eq!(
        store.list_level("conf-lvl/b/").unwrap(),
        ["conf-lvl/b/c", "conf-lvl/b/d"]
    );
    for key in [
        "conf-lvl/a",
        "conf-lvl/b/c",
        "conf-lvl/b/d",
        "conf-lvl/e/f/g",
    ] {
        store.delete(key).unwrap();
    }
    // A level emptied by deletes may still be listed (SeaweedFS keeps empty
    // directories); a deleted key never is.
    let left = store.list_level("conf-lvl/").unwrap();
    assert!(!left.contains(&"conf-lvl/a".to_owned()), "{left:?}");
    assert_eq!(store.list("conf-lvl/").unwrap(), Vec::<String>::new());
}

/// `put_if_absent_owned`, `get_shared` and `get_reader` keep the same
/// contract as `put_if_absent` and `get`; a failed owned create hands the
/// bytes back.
pub fn owned_and_shared_agree_with_borrowed(store: &dyn Store) {
    store
        .put_if_absent_owned("conf-owned", b"one".to_vec())
        .unwrap();
    let (err, back) = store
        .put_if_absent_owned("conf-owned", b"two".to_vec())
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(back, b"two");
    assert_eq!(
        store.get_shared("conf-owned").unwrap().unwrap().as_slice(),
        b"one"
    );
    assert_eq!(store.get("conf-owned").unwrap().unwrap(), b"one");
    assert_eq!(store.get_shared("conf-absent").unwrap(), None);
    let mut reader = store.get_reader("conf-owned").unwrap().unwrap();
    assert_eq!(reader.len(), 3);
    let mut read = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut read).unwrap();
    assert_eq!(read, b"one");
    assert!(store.get_reader("conf-absent").unwrap().is_none());
    store.delete("conf-owned").unwrap();
}

/// `put_if_absent` creates a key once; a second create fails with
/// `AlreadyExists` and changes nothing.
pub fn put_if_absent_creates_once(store: &dyn Store) {
    store.put_if_absent("conf-once", b"first").unwrap();
    match store.put_if_absent("conf-once", b"second") {
        Err(StoreError::AlreadyExists { location }) => {
            assert!(!location.is_empty(), "AlreadyExists names no location")
        }
        other => panic!("second put_if_absent returned {other:?}, not AlreadyExists"),
    }
    assert_eq!(
        store.get("conf-once").unwrap().as_deref(),
        Some(&b"first"[..])
    );
    store.delete("conf-once").unwrap();
}

/// `get` of a key never written is `None`, not an error.
pub fn get_of_absent_key_is_none(store: &dyn Store) {
    assert_eq!(store.get("conf-absent").unwrap(), None);
    assert_eq!(store.get_prefix("conf-absent", 4).unwrap(), None);
}

/// `get_range` returns the bytes from `start` on, at most `len` of them:
/// fewer at the value's end, none past it.
pub fn get_range_reads_within_the_value(store: &dyn Store) {
    store.put_if_absent("conf-range", b"0123456789").unwrap();
    let range = |start, len| store.get_range("conf-range", start, len).unwrap();
    assert_eq!(range(0, 4).as_deref(), Some(&b"0123"[..]));
    assert_eq!(range(3, 4).as_deref(), Some(&b"3456"[..]));
    assert_eq!(range(7, 100).as_deref(), Some(&b"789"[..]));
    assert_eq!(range(10, 4).as_deref(), Some(&b""[..]));
    assert_eq!(range(50, 4).as_deref(), Some(&b""[..]));
    assert_eq!(range(2, 0).as_deref(), Some(&b""[..]));
    assert_eq!(store.get_range("conf-range-absent", 0, 4).unwrap(), None);
    store.delete("conf-range").unwrap();
}

/// `get_prefix` returns the first `len` bytes, or all when shorter.
pub fn get_prefix_reads_at_most_len(store: &dyn Store) {
    store.put_if_absent("conf-prefix", b"0123456789").unwrap();
    assert_eq!(
        store.get_prefix("conf-prefix", 4).unwrap().unwrap(),
        b"0123"
    );
    assert_eq!(
        store.get_prefix("conf-prefix", 100).unwrap().unwrap(),
        b"0123456789"
    );
    store.delete("conf-prefix").unwrap();
}

/// `list` returns exactly the keys with the prefix, sorted.
pub fn list_is_sorted_and_filtered(store: &dyn Store) {
    for key in ["conf-list/b", "conf-list/a", "conf-list/c", "conf-other"] {
        store.put_if_absent(key, key.as_bytes()).unwrap();
    }
    assert_eq!(
        store.list("conf-list/").unwrap(),
        ["conf-list/a", "conf-list/b", "conf-list/c"]
    );
    assert_eq!(store.list("conf-nothing").unwrap(), Vec::<String>::new());
    for key in ["conf-list/b", "conf-list/a", "conf-list/c", "conf-other"] {
        store.delete(key).unwrap();
    }
    assert_eq!(store.list("conf-").unwrap(), Vec::<String>::new());
}

/// Keys with `/` work at any depth and list with their full name.
pub fn nested_keys(store: &dyn Store) {
    store.put_if_absent("conf-n/x/y/z", b"deep").unwrap();
    assert_eq!(store.get("conf-n/x/y/z").unwrap().unwrap(), b"deep");
    assert_eq!(store.list("conf-n/").unwrap(), ["conf-n/x/y/z"]);
    store.delete("conf-n/x/y/z").unwrap();
}

/// `delete` removes a key, and deleting an absent key succeeds.
pub fn delete_removes_and_tolerates_absent(store: &dyn Store) {
    store.put_if_absent("conf-del", b"x").unwrap();
    store.delete("conf-del").unwrap();
    assert_eq!(store.get("conf-del").unwrap(), None);
    store.delete("conf-del").unwrap();
    store.put_if_absent("conf-del", b"again").unwrap();
    store.delete("conf-del").unwrap();
}

/// Empty and multi-megabyte values round-trip exactly.
pub fn empty_and_large_values(store: &dyn Store) {
    store.put_if_absent("conf-empty", b"").unwrap();
    assert_eq!(store.get("conf-empty").unwrap().unwrap(), b"");
    let large: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    store.put_if_absent("conf-large", &large).unwrap();
    assert!(store.get("conf-large").unwrap().unwrap() == large);
    store.delete("conf-empty").unwrap();
    store.delete("conf-large").unwrap();
}

/// Of many threads creating one key at once, exactly one succeeds, and
/// the key holds that one's value whole.
pub fn concurrent_creates_have_one_winner(store: &dyn Store) {
    let wins = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..8u8 {
            let wins = &wins;
            s.spawn(move || match store.put_if_absent("conf-race", &[t; 4096]) {
                Ok(()) => {
                    wins.fetch_add(1, Ordering::SeqCst);
                }
                Err(StoreError::AlreadyExists { .. }) => {}
                Err(e) => panic!("racing put_if_absent failed: {e}"),
            });
        }
    });
    assert_eq!(wins.load(Ordering::SeqCst), 1);
    let value = store.get("conf-race").unwrap().unwrap();
    assert!(value.len() == 4096 && value.iter().all(|b| *b == value[0]));
    store.delete("conf-race").unwrap();
}
