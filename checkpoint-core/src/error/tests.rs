use super::*;

fn at() -> (u64, String, String) {
    (7, "/ckpt/7".to_owned(), "Phase".to_owned())
}

/// Every schema error ends with the attribute that fixes it, so the fix
/// is the last thing a reader sees.
#[test]
fn schema_errors_end_with_the_attribute_that_fixes_them() {
    let (seq, location, type_name) = at();
    let cases = [
        (
            Error::FieldDecode {
                seq,
                location: location.clone(),
                type_name: type_name.clone(),
                field: "data".into(),
                reason: "unexpected end".into(),
            },
            "add `#[checkpoint(was = OldType, convert = ...)]` to `data`",
        ),
        (
            Error::UnknownVariant {
                seq,
                location: location.clone(),
                type_name: type_name.clone(),
                variant: "Paused".into(),
            },
            "giving the old type `#[checkpoint(name = \"Phase\")]`",
        ),
        (
            Error::ShapeChanged {
                seq,
                location: location.clone(),
                type_name: type_name.clone(),
                expected: "an enum",
                found: "a struct",
            },
            "giving the old type `#[checkpoint(name = \"Phase\")]`",
        ),
        (
            Error::MissingField {
                seq,
                location: location.clone(),
                type_name: type_name.clone(),
                field: "started".into(),
            },
            "add `#[checkpoint(default = ...)]` to `started` to restore checkpoints \
             written before it existed",
        ),
    ];
    for (err, ending) in cases {
        let message = err.to_string();
        assert!(message.starts_with("checkpoint #7 (/ckpt/7)"), "{message}");
        assert!(message.ends_with(ending), "{message}");
    }
}

#[test]
fn unknown_variant_and_shape_change_say_what_happened() {
    let (seq, location, type_name) = at();
    let variant = Error::UnknownVariant {
        seq,
        location: location.clone(),
        type_name: type_name.clone(),
        variant: "Paused".into(),
    }
    .to_string();
    assert!(variant.contains("removed or renamed"), "{variant}");
    assert!(variant.contains("add `Paused` back"), "{variant}");
    let shape = Error::ShapeChanged {
        seq,
        location,
        type_name,
        expected: "an enum",
        found: "a struct",
    }
    .to_string();
    assert!(
        shape.contains("cannot change a whole type's shape"),
        "{shape}"
    );
}
