//! The error type of checkpoint and restore.

use crate::snapshot::Snapshot;
use crate::store::StoreError;

/// Everything that can go wrong while checkpointing or restoring.
///
/// Every restore failure names the checkpoint (its sequence number and
/// where it lives), the type, the field when one is at fault, what differs,
/// and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A serialized field failed to encode.
    #[error("field `{field}` of `{type_name}` failed to encode: {reason}; nothing was saved")]
    FieldEncode {
        /// The type.
        type_name: String,
        /// The field.
        field: String,
        /// What the encoder said.
        reason: String,
    },

    /// The checksum does not match the bytes: the checkpoint is corrupt.
    #[error(
        "checkpoint #{seq} ({location}) is corrupt: its checksum is {expected:#010x} but its \
         bytes sum to {found:#010x}; restore an older checkpoint"
    )]
    Corrupt {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
        /// The checksum stored in the checkpoint.
        expected: u32,
        /// The checksum of the bytes read.
        found: u32,
    },

    /// The checkpoint ends before its recorded length: a torn write.
    #[error(
        "checkpoint #{seq} ({location}) is truncated: it should be {expected} bytes long but is \
         {found}; restore an older checkpoint"
    )]
    Truncated {
        /// The checkpoint's sequence number (0 when not even the header was read).
        seq: u64,
        /// Where it lives.
        location: String,
        /// The length the checkpoint records (0 when unknown).
        expected: u64,
        /// The length read.
        found: u64,
    },

    /// A chunk of an incremental checkpoint is missing, of the wrong
    /// length, or holds bytes that do not hash to its name. Every
    /// checkpoint that lists the chunk fails so.
    #[error(
        "checkpoint #{seq} ({location}) is damaged: its chunk `{chunk}` {reason}; every \
         checkpoint listing that chunk is damaged, restore an older checkpoint"
    )]
    DamagedChunk {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where its manifest lives.
        location: String,
        /// Where the chunk lives.
        chunk: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The bytes do not start with the checkpoint magic.
    #[error("{location} is not a checkpoint: it does not start with the checkpoint magic bytes")]
    NotACheckpoint {
        /// Where it lives.
        location: String,
    },

    /// The checkpoint has a valid checksum but its header does not parse.
    #[error("checkpoint #{seq} ({location}) has a malformed header: {reason}")]
    Malformed {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
        /// What is wrong.
        reason: String,
    },

    /// The checkpoint was written in a format version this release cannot read.
    #[error(
        "checkpoint #{seq} ({location}) uses format version {found}, but this release reads \
         versions up to {supported}; upgrade the `checkpoint` crate to restore it"
    )]
    UnsupportedVersion {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
        /// The version the checkpoint has.
        found: u16,
        /// The newest version this release reads.
        supported: u16,
    },

    /// The checkpoint is compressed and this build cannot decompress it.
    #[error(
        "checkpoint #{seq} ({location}) is compressed with zstd, which this build cannot read; \
         enable the `zstd` feature of the `checkpoint` crate (on by default)"
    )]
    CompressionUnavailable {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
    },

    /// The checkpoint holds another type.
    #[error(
        "checkpoint #{seq} ({location}) holds a `{found}`, not a `{expected}`; restore it as \
         `{found}`, or if `{found}` was renamed to `{expected}`, add \
         `#[checkpoint(name = \"{found}\")]` to `{expected}`"
    )]
    WrongType {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
        /// The type asked for.
        expected: String,
        /// The type in the checkpoint.
        found: String,
    },

    /// The checkpoint holds the type with another shape (struct, tuple
    /// struct, unit struct or enum).
    #[error(
        "checkpoint #{seq} ({location}) stores `{type_name}` as {found}, but it is now {expected}; \
         `#[checkpoint(was = ...)]` converts a field and cannot change a whole type's shape: keep \
         the old definition as its own type, restore the checkpoint as that type and convert it, \
         giving the old type `#[checkpoint(name = \"{type_name}\")]`"
    )]
    ShapeChanged {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
        /// The type.
        type_name: String,
        /// The shape now.
        expected: &'static str,
        /// The shape in the checkpoint.
        found: &'static str,
    },

    /// A field the type has is absent from the checkpoint.
    #[error(
        "checkpoint #{seq} ({location}) of `{type_name}` has no field `{field}` (if it was \
         renamed, add `#[checkpoint(alias = \"old_name\")]` to it; if it can be rebuilt, mark it \
         `#[derived(from = ...)]`); add `#[checkpoint(default = ...)]` to `{field}` to restore \
         checkpoints written before it existed"
    )]
    MissingField {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
        /// The type.
        type_name: String,
        /// The field.
        field: String,
    },

    /// The checkpoint has a field the type lacks: restoring would drop its data.
    #[error(
        "checkpoint #{seq} ({location}) of `{type_name}` has a field `{field}: {ty}` that the type \
         lacks, so restoring would lose its data; if a field was renamed from `{field}`, add \
         `#[checkpoint(alias = \"{field}\")]` to that field, or to drop its data on purpose add \
         `#[checkpoint(removed = \"{field}\")]` to `{type_name}`"
    )]
    UnexpectedField {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
        /// The type.
        type_name: String,
        /// The field.
        field: String,
        /// Its type in the checkpoint.
        ty: String,
    },

    /// A field's type differs between the checkpoint and the type.
    #[error(
        "checkpoint #{seq} ({location}) of `{type_name}` stores field `{field}` as `{found}`, but \
         the type declares it `{expected}`; to read the old form, add \
         `#[checkpoint(was = {found}, convert = ...)]` to `{field}`"
    )]
    FieldTypeChanged {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
        /// The type.
        type_name: String,
        /// The field.
        field: String,
        /// The field's type now.
        expected: &'static str,
        /// The field's type in the checkpoint.
        found: String,
    },

    /// A type inside a field changed since the checkpoint was written: its
    /// bytes would be misread.
    #[error(
        "checkpoint #{seq} ({location}) of `{type_name}`: {change}, so field `{field}` would be \
         misread; to read the old form, add `#[checkpoint(was = OldType, convert = ...)]` to \
         `{field}`"
    )]
    NestedTypeChanged {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
        /// The type.
        type_name: String,
        /// The field whose type changed inside.
        field: String,
        /// The change and its path, e.g. ``"`MessageProcessor.log[].payload.sender`:
        /// type changed from `u32` to `String`"``.
        change: String,
    },

    /// A field's bytes do not decode as the field's type.
    #[error(
        "checkpoint #{seq} ({location}) of `{type_name}`: field `{field}` does not decode: \
         {reason}; the field's serde representation changed since the checkpoint was written: \
         to read the old form, add `#[checkpoint(was = OldType, convert = ...)]` to `{field}`"
    )]
    FieldDecode {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
        /// The type.
        type_name: String,
        /// The field.
        field: String,
        /// What the decoder said.
        reason: String,
    },

    /// The checkpoint holds a variant the enum does not have.
    #[error(
        "checkpoint #{seq} ({location}) of `{type_name}` holds variant `{variant}`, which the \
         enum does not have: it was removed or renamed; add `{variant}` back (under its old \
         name), or keep the old definition as its own type, restore the checkpoint as that type \
         and convert it, giving the old type `#[checkpoint(name = \"{type_name}\")]`"
    )]
    UnknownVariant {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
        /// The enum.
        type_name: String,
        /// The variant.
        variant: String,
    },

    /// A change inside a field's type that restore cannot resolve by name:
    /// a nested field added without a default, a variant the data holds
    /// that the enum no longer has, a value its type refuses.
    #[error("checkpoint #{seq} ({location}): `{path}`: {change}; {fix}")]
    NestedChange {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
        /// Where the change is, starting with the type and the stored
        /// field: `Board.tasks[].status`.
        path: String,
        /// What changed.
        change: String,
        /// What to do about it.
        fix: &'static str,
    },

    /// A value whose bytes its own type could not read back; nothing was
    /// saved.
    #[error(
        "field `{field}` of `{type_name}` cannot be checkpointed: `{path}`: {reason}; {fix}; \
         nothing was saved"
    )]
    Unrestorable {
        /// The type.
        type_name: String,
        /// The stored field.
        field: String,
        /// Where the problem is: `Board.msgs[].reply_to`.
        path: String,
        /// What is wrong.
        reason: String,
        /// What to do about it.
        fix: &'static str,
    },

    /// The restored state failed its [`Checkpoint::check`](crate::Checkpoint::check).
    #[error(
        "checkpoint #{seq} ({location}) of `{type_name}` restored, but its check failed: \
         {reason}; restore an older checkpoint or fix the check"
    )]
    CheckFailed {
        /// The checkpoint's sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
        /// The type.
        type_name: String,
        /// What the check said.
        reason: String,
    },

    /// No checkpoint has this sequence number.
    #[error("there is no checkpoint #{seq} (looked for {location}); `list()` shows those kept")]
    NotFound {
        /// The sequence number asked for.
        seq: u64,
        /// Where it was looked for.
        location: String,
    },

    /// A snapshot older than the newest committed checkpoint was committed.
    #[error(
        "snapshot #{seq} was captured before checkpoint #{newest}, which is already committed; \
         an older capture must not become the latest, capture the state again"
    )]
    OlderCapture {
        /// The snapshot's sequence number.
        seq: u64,
        /// The newest committed sequence number.
        newest: u64,
    },

    /// Another writer committed a checkpoint with this sequence number first.
    #[error(
        "checkpoint #{seq} ({location}) was committed by another writer first; two processes \
         save to the same store: capture the state again"
    )]
    SequenceTaken {
        /// The sequence number.
        seq: u64,
        /// Where it lives.
        location: String,
    },

    /// Something that is not a checkpoint (a directory, an empty file, a
    /// FIFO) is stored under this sequence number's name. Numbering moves
    /// past it; the snapshot can never be committed under this number.
    #[error(
        "checkpoint #{seq} cannot be saved under `{location}`, which is not a checkpoint \
         ({reason}); capture the state again to save under the next free number, and move \
         `{location}` out of the store if nothing needs it"
    )]
    SequenceOccupied {
        /// The sequence number.
        seq: u64,
        /// What is in the way.
        location: String,
        /// What it is.
        reason: String,
    },

    /// `restore_latest` listed checkpoints again and again, and each time
    /// every one it listed was deleted before it could be read.
    #[error(
        "every checkpoint listed in {location} was deleted before it could be read, in \
         {attempts} listings in a row: another process removes them as fast as they are listed; \
         restore again, or keep more checkpoints (`keep_last`)"
    )]
    Vanished {
        /// How many listings were tried.
        attempts: u32,
        /// The store.
        location: String,
    },

    /// Committing a snapshot failed; older checkpoints are intact.
    #[error("checkpoint #{} was not saved, older checkpoints are intact: {source}", .snapshot.seq())]
    Commit {
        /// The snapshot that could not be written, to retry with.
        snapshot: Box<Snapshot>,
        /// Why the store failed.
        #[source]
        source: StoreError,
    },

    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// The snapshot a failed commit could not write, to retry it later.
    pub fn into_snapshot(self) -> Option<Snapshot> {
        match self {
            Error::Commit { snapshot, .. } => Some(*snapshot),
            _ => None,
        }
    }

    /// Whether the error means the checkpoint's bytes are damaged (corrupt,
    /// a damaged or missing chunk, truncated, not a checkpoint, malformed): `restore_latest` skips such
    /// checkpoints. Schema errors are not damage.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            Error::Corrupt { .. }
                | Error::DamagedChunk { .. }
                | Error::Truncated { .. }
                | Error::NotACheckpoint { .. }
                | Error::Malformed { .. }
        )
    }
}

impl Error {
    /// A short, stable label for this kind of error (`"corrupt"`,
    /// `"missing_field"`, ...): one per variant, in `snake_case`. The
    /// `metrics` feature labels failures with it; it never changes for a
    /// variant, so dashboards and alerts may match on it.
    ///
    /// # Examples
    ///
    /// ```
    /// use checkpoint::Error;
    ///
    /// let e = Error::NotFound { seq: 7, location: "state/7.ckpt".into() };
    /// assert_eq!(e.kind(), "not_found");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Error::FieldEncode { .. } => "field_encode",
            Error::Corrupt { .. } => "corrupt",
            Error::DamagedChunk { .. } => "damaged_chunk",
            Error::Truncated { .. } => "truncated",
            Error::NotACheckpoint { .. } => "not_a_checkpoint",
            Error::Malformed { .. } => "malformed",
            Error::UnsupportedVersion { .. } => "unsupported_version",
            Error::WrongType { .. } => "wrong_type",
            Error::ShapeChanged { .. } => "shape_changed",
            Error::MissingField { .. } => "missing_field",
            Error::UnexpectedField { .. } => "unexpected_field",
            Error::FieldTypeChanged { .. } => "field_type_changed",
            Error::NestedTypeChanged { .. } => "nested_type_changed",
            Error::NestedChange { .. } => "nested_change",
            Error::Unrestorable { .. } => "unrestorable",
            Error::CompressionUnavailable { .. } => "compression_unavailable",
            Error::FieldDecode { .. } => "field_decode",
            Error::UnknownVariant { .. } => "unknown_variant",
            Error::CheckFailed { .. } => "check_failed",
            Error::NotFound { .. } => "not_found",
            Error::OlderCapture { .. } => "older_capture",
            Error::SequenceTaken { .. } => "sequence_taken",
            Error::SequenceOccupied { .. } => "sequence_occupied",
            Error::Vanished { .. } => "vanished",
            Error::Commit { .. } => "commit",
            Error::Store(_) => "store",
        }
    }
}

#[cfg(test)]
mod tests;
