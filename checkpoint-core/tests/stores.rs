//! Every store keeps the one contract.

use checkpoint_core::store::conformance;
use checkpoint_core::{DirStore, MemStore, Store};

#[test]
fn mem_store_conforms() {
    conformance::run_all(&MemStore::new());
}

#[test]
fn dir_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(&DirStore::open(dir.path()).unwrap());
}

#[test]
fn dir_store_ignores_leftover_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    std::fs::write(dir.path().join(".tmp-1-1"), b"torn").unwrap();
    store.put_if_absent("a", b"1").unwrap();
    assert_eq!(store.list("").unwrap(), ["a"]);
}

#[test]
fn dir_store_refuses_keys_that_escape_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path().join("s")).unwrap();
    for key in ["../x", "/abs", "a//b", "", ".hidden", "a/../b"] {
        assert!(store.put_if_absent(key, b"x").is_err(), "{key:?}");
    }
    assert!(!dir.path().join("x").exists());
}
