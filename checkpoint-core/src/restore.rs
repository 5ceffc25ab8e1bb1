//! The one decode path: a checkpoint's bytes become a `T` here, whoever
//! read them (the checkpointer's restores, a group's part): the type and
//! the top-level schema checked, the fields decoded through the recorded
//! writer's schema, the checksum verified, `check` run. Also what a
//! restore falls back past, and the top-level schema comparison.

use crate::deep::{DeepSchema, SchemaNode};
use crate::fields::{FieldReader, Stored};
use crate::format::{FieldRecord, Header, SchemaRecord, ShapeRecord};
use crate::schema::{same_type, FieldSchema, Schema, Shape};
use crate::snapshot::{Restored, Skipped};
use crate::store::{StoreError, ValueReader, CLAIM_LEN};
use crate::stream::{self, CheckpointStream};
use crate::{Checkpoint, Error, Result};

/// The one way a checkpoint becomes state, whatever holds it (a
/// checkpoint, a group's part): reads the checkpoint in `value`, stored as
/// `seq` at `location`, frame by frame; checks that it holds a `T`,
/// resolves its recorded schema against `T`'s, decodes the state, and runs
/// `T::check` on it once the whole checkpoint's checksum has matched.
///
/// # Errors
///
/// Damage ([`Error::is_damage`]), [`Error::WrongType`], any schema or
/// decoding error, [`Error::CheckFailed`].
pub(crate) fn load_value<T: Checkpoint>(
    value: ValueReader,
    seq: u64,
    location: &str,
    context: &T::Context,
) -> Result<(T, Header)> {
    // A value the store holds in memory is checked whole, then decoded in
    // place: copying each frame out would cost as much as decoding it.
    if let Some(bytes) = value.in_memory() {
        let (header, body) = stream::open_in_place(bytes, seq, location)?;
        check_type::<T>(&header, seq, location)?;
        let most = Some(header.schema.most_frames());
        let reader = FieldReader::parse(body, T::SCHEMA.name, seq, location.to_owned(), most)?;
        let state = read_state::<T>(&header, reader, seq, location, context)?;
        return checked(state, header, seq, location);
    }
    let (header, mut stream) = CheckpointStream::open(value, seq, location)?;
    stream.at_most(Some(header.schema.most_frames()));
    if let Err(e) = check_type::<T>(&header, seq, location) {
        return Err(stream.damage_or(e));
    }
    let reader = FieldReader::streaming(stream, T::SCHEMA.name, seq, location.to_owned());
    let state = read_state::<T>(&header, reader, seq, location, context)?;
    checked(state, header, seq, location)
}

fn check_type<T: Checkpoint>(header: &Header, seq: u64, location: &str) -> Result<()> {
    if header.type_name == T::SCHEMA.name {
        return Ok(());
    }
    Err(Error::WrongType {
        seq,
        location: location.to_owned(),
        expected: T::SCHEMA.name.to_owned(),
        found: header.type_name.clone(),
    })
}

/// `state` once its `check` passed.
fn checked<T: Checkpoint>(
    state: T,
    header: Header,
    seq: u64,
    location: &str,
) -> Result<(T, Header)> {
    if let Err(reason) = state.check() {
        return Err(Error::CheckFailed {
            seq,
            location: location.to_owned(),
            type_name: header.type_name,
            reason,
        });
    }
    Ok((state, header))
}

/// How many listings `restore_latest` makes when every checkpoint it listed
/// was deleted before it could read it.
pub(crate) const LISTINGS: u32 = 64;

/// Whether `restore_latest` passes over a checkpoint failing with `e` for an
/// older one: its bytes are damaged, or the store cannot read the entry (a
/// directory, a FIFO, a file it may not read under a checkpoint's name).
fn is_skippable(e: &Error) -> bool {
    e.is_damage() || matches!(e, Error::Store(StoreError::Unreadable { .. }))
}

/// The rules of `restore_latest`, apart from its I/O (which differs
/// between the checkpointer and the async object-store path): try the
/// checkpoints newest first, pass over damaged ones (recording why), list
/// again when one vanished, and fail with the newest damage when none
/// restores.
#[derive(Debug, Default)]
pub(crate) struct Fallback {
    skipped: Vec<Skipped>,
    newest_damage: Option<Error>,
    /// The store claims keys with a value's first bytes before completing
    /// it (an object store, `docs/FORMAT.md` "Writing in bounded memory").
    claims: bool,
}

/// What `restore_latest` does after one checkpoint's restore.
pub(crate) enum Next<T> {
    /// Return this.
    Done(Result<Option<Restored<T>>>),
    /// The checkpoint vanished since the listing: list again.
    ListAgain,
    /// Try the next older checkpoint.
    Older,
}

impl Fallback {
    /// The rules for a store that claims keys (`claims`) or not.
    pub(crate) fn new(claims: bool) -> Self {
        Fallback {
            claims,
            ..Fallback::default()
        }
    }

    /// Whether `e` is a claim: on a store that claims keys, a checkpoint
    /// that holds exactly a claim's bytes and declares more is a save in
    /// progress, or one that died before completing, not damage to report
    /// when nothing else restores. (Such a store writes whole values
    /// atomically otherwise, so it tears nothing else there.)
    fn is_claim(&self, e: &Error) -> bool {
        matches!(e, Error::Truncated { expected, found, .. }
            if self.claims && *found == CLAIM_LEN && expected > found)
    }

    /// Whether checkpoint `seq` was tried already (and passed over).
    pub(crate) fn tried(&self, seq: u64) -> bool {
        self.skipped.iter().any(|s| s.seq == seq)
    }

    /// What follows the restore of checkpoint `seq` at `location`.
    pub(crate) fn after<T>(
        &mut self,
        seq: u64,
        location: String,
        result: Result<Restored<T>>,
    ) -> Next<T> {
        match result {
            Ok(mut restored) => {
                restored.meta.skipped = std::mem::take(&mut self.skipped);
                Next::Done(Ok(Some(restored)))
            }
            // Deleted since listing: retention deletes a checkpoint only once
            // newer ones exist, so list again rather than fall back to an
            // older one.
            Err(Error::NotFound { .. }) => Next::ListAgain,
            Err(e) if is_skippable(&e) => {
                if self.is_claim(&e) {
                    tracing::debug!(
                        "passing over checkpoint #{seq}, a save under way or one that died \
                         before completing: {e}"
                    );
                } else {
                    tracing::warn!("skipping checkpoint #{seq}, restoring an older one: {e}");
                }
                crate::observe::skipped(&e);
                self.skipped.push(Skipped {
                    seq,
                    location,
                    reason: e.to_string(),
                });
                if !self.is_claim(&e) {
                    self.newest_damage.get_or_insert(e);
                }
                Next::Older
            }
            Err(e) => Next::Done(Err(e)),
        }
    }

    /// The outcome once a listing was tried through without a vanished
    /// checkpoint: none restored. Claims passed over are no damage: a
    /// store holding nothing else holds no checkpoint yet.
    pub(crate) fn none_restored<T>(self) -> Result<Option<Restored<T>>> {
        match self.newest_damage {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }
}

/// Checks the schema a checkpoint was written with against `T`'s, then
/// decodes its body from `stream`, frame by frame, as a `T`, resolving the
/// writer's schema of each field (where the checkpoint records one) against
/// `T`'s types by name. The state is returned only once the whole
/// checkpoint's checksum matches, and any error is reported as damage when
/// the checkpoint turns out damaged.
///
/// # Errors
///
/// Any schema error, [`Error::NestedTypeChanged`], [`Error::NestedChange`],
/// a decoding error, or the damage found while reading.
fn read_state<'h, T: Checkpoint>(
    header: &'h Header,
    mut reader: FieldReader<'h>,
    seq: u64,
    location: &str,
    context: &T::Context,
) -> Result<T> {
    let stored = match compare(
        &header.schema,
        &T::SCHEMA,
        Some(&header.deep),
        seq,
        location,
    ) {
        Ok(stored) => stored,
        Err(e) => return Err(reader.damage_or(e)),
    };
    if !header.deep.roots().is_empty() {
        reader.resolving(&header.deep, &T::SCHEMA);
    }
    reader.set_stored(stored);
    reader.set_compressed(header.compressed());
    match T::read_fields(&mut reader, context) {
        Ok(state) => {
            // Verified already unless `read_fields` is written by hand.
            reader.fields_read()?;
            Ok(state)
        }
        Err(e) => Err(reader.damage_or(e)),
    }
}

/// [`check_schema`], knowing the writer's deep schema when recorded;
/// returns how the fields with a former type are stored.
fn compare(
    stored: &SchemaRecord,
    current: &Schema,
    deep: Option<&DeepSchema>,
    seq: u64,
    location: &str,
) -> Result<Vec<(String, Stored)>> {
    let cmp = Comparison {
        seq,
        location,
        type_name: current.name,
        removed: current.removed,
        deep,
        stored: std::cell::RefCell::new(Vec::new()),
    };
    cmp.shapes_of(stored, current)?;
    Ok(cmp.stored.into_inner())
}

impl Comparison<'_> {
    fn shapes_of(&self, stored: &SchemaRecord, current: &Schema) -> Result<()> {
        let (seq, location, cmp) = (self.seq, self.location, self);
        match (&stored.shape, current.shape) {
            (ShapeRecord::Struct(s), Shape::Struct(c))
            | (ShapeRecord::Tuple(s), Shape::Tuple(c)) => cmp.fields("", s, c),
            (ShapeRecord::Unit, Shape::Unit) => Ok(()),
            (ShapeRecord::Enum(stored), Shape::Enum(current)) => {
                for sv in stored {
                    // A stored variant the enum lacks fails only if a checkpoint
                    // holds it: `FieldReader::unknown_variant` names it then.
                    if let Some(cv) = current.iter().find(|cv| cv.name == sv.name) {
                        cmp.fields(&format!("{}::", sv.name), &sv.fields, cv.shape.fields())?;
                    }
                }
                Ok(())
            }
            (found, expected) => Err(Error::ShapeChanged {
                seq,
                location: location.to_owned(),
                type_name: current.name.to_owned(),
                expected: shape_name(&expected),
                found: found.describe(),
            }),
        }
    }
}

fn shape_name(shape: &Shape) -> &'static str {
    match shape {
        Shape::Struct(_) => "a struct",
        Shape::Tuple(_) => "a tuple struct",
        Shape::Unit => "a unit struct",
        _ => "an enum",
    }
}

struct Comparison<'a> {
    seq: u64,
    location: &'a str,
    type_name: &'static str,
    removed: &'static [&'static str],
    deep: Option<&'a DeepSchema>,
    stored: std::cell::RefCell<Vec<(String, Stored)>>,
}

impl Comparison<'_> {
    fn fields(&self, prefix: &str, stored: &[FieldRecord], current: &[FieldSchema]) -> Result<()> {
        let answers_to = |c: &FieldSchema, name: &str| c.name == name || c.aliases.contains(&name);
        for c in current.iter().filter(|c| !c.derived) {
            match stored.iter().find(|s| !s.derived && answers_to(c, &s.name)) {
                None if c.has_default => {}
                None => {
                    return Err(Error::MissingField {
                        seq: self.seq,
                        location: self.location.to_owned(),
                        type_name: self.type_name.to_owned(),
                        field: format!("{prefix}{}", c.name),
                    })
                }
                Some(s) => self.field_type(prefix, s, c)?,
            }
        }
        // A stored field that is now derived is rebuilt, not lost.
        for s in stored.iter().filter(|s| !s.derived) {
            let kept = current.iter().any(|c| answers_to(c, &s.name));
            let removed = self.removed.contains(&s.name.as_str())
                || self
                    .removed
                    .contains(&format!("{prefix}{}", s.name).as_str());
            if !kept && !removed {
                return Err(Error::UnexpectedField {
                    seq: self.seq,
                    location: self.location.to_owned(),
                    type_name: self.type_name.to_owned(),
                    field: format!("{prefix}{}", s.name),
                    ty: s.ty.clone(),
                });
            }
        }
        Ok(())
    }

    /// Decides how a stored field is read. With the writer's schema of the
    /// field recorded, reading it resolves any type difference or names it;
    /// without, the written type names must agree. A field with a former
    /// type is read as that type when its stored type name says so, as the
    /// current type when that name says so, and otherwise as whichever of
    /// the two its bytes resolve to.
    fn field_type(&self, prefix: &str, stored: &FieldRecord, current: &FieldSchema) -> Result<()> {
        let key = format!("{prefix}{}", current.name);
        let recorded = self.deep.is_some_and(|deep| {
            deep.root(&format!("{prefix}{}", stored.name))
                .is_some_and(|id| !matches!(deep.node(id), SchemaNode::Opaque))
        });
        let is_current = same_type(&stored.ty, current.ty);
        let how = match current.was {
            None => Stored::Current,
            Some(was) => match (is_current, same_type(&stored.ty, was)) {
                (false, true) => Stored::Was,
                (true, false) => Stored::Current,
                _ if recorded => Stored::Either,
                _ => Stored::Current,
            },
        };
        if how != Stored::Current {
            self.stored.borrow_mut().push((key.clone(), how));
        }
        if !recorded && !is_current && how == Stored::Current {
            return Err(Error::FieldTypeChanged {
                seq: self.seq,
                location: self.location.to_owned(),
                type_name: self.type_name.to_owned(),
                field: key,
                expected: current.ty,
                found: stored.ty.clone(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::VariantSchema;

    fn check(old: &Schema, new: &Schema) -> Result<()> {
        compare(&SchemaRecord::of(old), new, None, 7, "here").map(drop)
    }

    const OLD: Schema = Schema::new(
        "S",
        Shape::Struct(&[
            FieldSchema::serialized("a", "u64"),
            FieldSchema::serialized("b", "Vec<String>"),
            FieldSchema::derived("c", "usize"),
        ]),
    );

    #[test]
    fn a_renamed_field_matches_through_its_alias() {
        const NEW: Schema = Schema::new(
            "S",
            Shape::Struct(&[
                FieldSchema::serialized("alpha", "u64").with_aliases(&["a"]),
                FieldSchema::serialized("b", "Vec < String >"),
            ]),
        );
        check(&OLD, &NEW).unwrap();
    }

    #[test]
    fn a_new_field_with_a_default_may_be_missing() {
        const NEW: Schema = Schema::new(
            "S",
            Shape::Struct(&[
                FieldSchema::serialized("a", "u64"),
                FieldSchema::serialized("b", "Vec<String>"),
                FieldSchema::serialized("d", "bool").with_default(),
            ]),
        );
        check(&OLD, &NEW).unwrap();
    }

    #[test]
    fn a_removed_or_now_derived_field_is_not_unexpected() {
        const REMOVED: Schema =
            Schema::new("S", Shape::Struct(&[FieldSchema::serialized("a", "u64")]))
                .with_removed(&["b"]);
        check(&OLD, &REMOVED).unwrap();
        const DERIVED: Schema = Schema::new(
            "S",
            Shape::Struct(&[
                FieldSchema::serialized("a", "u64"),
                FieldSchema::derived("b", "Vec<String>"),
            ]),
        );
        check(&OLD, &DERIVED).unwrap();
    }

    #[test]
    fn a_field_that_became_stored_is_missing() {
        const NEW: Schema = Schema::new(
            "S",
            Shape::Struct(&[
                FieldSchema::serialized("a", "u64"),
                FieldSchema::serialized("b", "Vec<String>"),
                FieldSchema::serialized("c", "usize"),
            ]),
        );
        let err = check(&OLD, &NEW).unwrap_err();
        assert!(matches!(err, Error::MissingField { ref field, .. } if field == "c"));
    }

    #[test]
    fn enum_fields_are_compared_per_variant() {
        const OLD: Schema = Schema::new(
            "E",
            Shape::Enum(&[
                VariantSchema::new("A", Shape::Unit),
                VariantSchema::new("B", Shape::Struct(&[FieldSchema::serialized("x", "u8")])),
            ]),
        );
        const NEW: Schema = Schema::new(
            "E",
            Shape::Enum(&[VariantSchema::new(
                "B",
                Shape::Struct(&[FieldSchema::serialized("x", "u16")]),
            )]),
        );
        let err = check(&OLD, &NEW).unwrap_err();
        assert!(matches!(err, Error::FieldTypeChanged { ref field, .. } if field == "B::x"));
        const STRUCT: Schema = Schema::new("E", Shape::Unit);
        assert!(matches!(
            check(&OLD, &STRUCT),
            Err(Error::ShapeChanged { .. })
        ));
    }
}
