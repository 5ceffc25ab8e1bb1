// Shapes whose expansion once warned: with every warning an error and every
// value used, the expansion must add none.
#![deny(warnings)]

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
#[allow(dead_code)]
enum Never {}

#[derive(Checkpoint)]
#[allow(non_camel_case_types)]
enum Keyword {
    r#struct,
    r#enum { r#type: u8 },
}

#[derive(Checkpoint)]
#[allow(non_snake_case)]
struct Upper {
    T: u8,
    #[derived(from = T * 2)]
    U: u8,
}

#[allow(non_upper_case_globals)]
const count: u32 = 3;

#[derive(Checkpoint)]
struct Counter {
    count: u32,
}

#[derive(Checkpoint, Clone, Copy)]
#[repr(packed)]
struct Packed {
    a: u8,
    b: u32,
}

#[derive(Checkpoint)]
struct Unit;

fn main() {
    match (Keyword::r#struct, Keyword::r#enum { r#type: 1 }) {
        (Keyword::r#struct, Keyword::r#enum { r#type }) => assert_eq!(r#type, 1),
        _ => unreachable!(),
    }
    let upper = Upper { T: 1, U: 2 };
    assert_eq!(upper.T + upper.U, 3);
    assert_eq!(Counter { count }.count, 3);
    let packed = Packed { a: 1, b: 2 };
    let (a, b) = (packed.a, packed.b);
    assert_eq!(u32::from(a) + b, 3);
    let Unit = Unit;
}
