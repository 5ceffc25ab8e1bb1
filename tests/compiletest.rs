//! Compile errors users see, and code that must keep compiling.
//!
//! The `.stderr` files pin the output of the machine's stable toolchain;
//! refresh them with `TRYBUILD=overwrite cargo test --test compiletest`
//! and read every diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/derived/*.rs");
    t.compile_fail("tests/ui/fields/*.rs");
    t.compile_fail("tests/ui/container/*.rs");
    t.compile_fail("tests/ui/evolution/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
