//! Field-by-field framing of a checkpoint body.
//!
//! Every serialized field is its own frame, so a restore can tell which
//! field is missing, unexpected, or fails to decode. A frame is
//! laid out by `format::frames` (see `docs/FORMAT.md`); a value is its
//! postcard bytes, zstd-compressed when the header says so.

mod reader;
mod writer;

pub use reader::FieldReader;
pub(crate) use reader::Stored;
pub use writer::FieldWriter;
pub(crate) use writer::FrameSink;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn fields_round_trip_by_name_in_any_order() {
        let mut buf = Vec::new();
        let mut w = FieldWriter::new(&mut buf, "T");
        w.field("a", &7u64).unwrap();
        w.field("b", "hello").unwrap();
        let mut r = FieldReader::new(&buf, "T").unwrap();
        assert_eq!(r.field::<String>("b").unwrap(), "hello");
        assert_eq!(r.field::<u64>("a").unwrap(), 7);
        assert!(
            matches!(r.field::<u64>("c"), Err(Error::MissingField { field, .. }) if field == "c")
        );
    }

    #[test]
    fn hostile_lengths_are_errors_not_allocations() {
        let mut body = Vec::new();
        body.extend_from_slice(&1u32.to_le_bytes());
        body.push(b'a');
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            FieldReader::new(&body, "T"),
            Err(Error::Malformed { .. })
        ));
        let body = u32::MAX.to_le_bytes();
        assert!(matches!(
            FieldReader::new(&body, "T"),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn a_field_of_another_type_names_the_field() {
        let mut buf = Vec::new();
        FieldWriter::new(&mut buf, "T").field("a", &300u64).unwrap();
        let mut r = FieldReader::new(&buf, "T").unwrap();
        let err = r.field::<bool>("a").unwrap_err();
        assert!(
            matches!(err, Error::FieldDecode { ref field, .. } if field == "a"),
            "{err}"
        );
    }
}
