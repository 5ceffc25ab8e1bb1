//! Observability: a `tracing` span around every capture, commit and
//! restore, and, with the `metrics` feature, their durations, sizes and
//! failures recorded through the `metrics` facade. The names users depend
//! on are listed in `docs/OBSERVABILITY.md`.
//!
//! Spans are created disabled when no subscriber wants them, and then
//! nothing is timed or recorded: without the `metrics` feature an
//! operation nobody observes costs one check of the span.

use std::time::{Duration, Instant};

use tracing::field::Empty;
use tracing::Span;

use crate::group::{CommitRecord, GroupError, PartInfo};
use crate::snapshot::{Meta, Restored, Snapshot};
use crate::Error;

/// The target of every span, so that a filter such as `checkpoint=info`
/// selects them all.
pub(crate) const TARGET: &str = "checkpoint";

/// An observed operation: its label in metrics is its name, and so is its
/// span's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Capture,
    Save,
    Commit,
    Restore,
    RestoreLatest,
    GroupSavePart,
    GroupCommit,
    GroupRestore,
}

impl Op {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Op::Capture => "capture",
            Op::Save => "save",
            Op::Commit => "commit",
            Op::Restore => "restore",
            Op::RestoreLatest => "restore_latest",
            Op::GroupSavePart => "group_save_part",
            Op::GroupCommit => "group_commit",
            Op::GroupRestore => "group_restore",
        }
    }

    /// The `op` label, built at compile time: recording a steady-state
    /// operation's metrics allocates nothing.
    #[cfg(feature = "metrics")]
    const fn labels(self) -> &'static [metrics::Label] {
        const fn op(value: &'static str) -> [metrics::Label; 1] {
            [metrics::Label::from_static_parts("op", value)]
        }
        macro_rules! labels {
            ($($op:ident),*) => {
                match self {
                    $(Op::$op => {
                        static LABELS: [metrics::Label; 1] = op(Op::$op.label());
                        &LABELS
                    })*
                }
            };
        }
        labels!(
            Capture,
            Save,
            Commit,
            Restore,
            RestoreLatest,
            GroupSavePart,
            GroupCommit,
            GroupRestore
        )
    }
}

// One function per span, so that every span's name, level and fields are
// written in one place (and listed in docs/OBSERVABILITY.md). Fields left
// `Empty` are recorded by `observe` when the operation ends.

pub(crate) fn capture_span(type_name: &'static str) -> Span {
    tracing::debug_span!(target: TARGET, "capture", type_name, seq = Empty, bytes = Empty, duration_us = Empty, error = Empty)
}

pub(crate) fn save_span(type_name: &'static str) -> Span {
    tracing::info_span!(target: TARGET, "save", type_name, seq = Empty, bytes = Empty, duration_us = Empty, error = Empty)
}

pub(crate) fn commit_span(seq: u64) -> Span {
    tracing::info_span!(target: TARGET, "commit", seq, bytes = Empty, duration_us = Empty, error = Empty)
}

pub(crate) fn restore_span(type_name: &'static str, seq: u64) -> Span {
    tracing::info_span!(target: TARGET, "restore", type_name, seq, bytes = Empty, duration_us = Empty, error = Empty)
}

pub(crate) fn restore_latest_span(type_name: &'static str) -> Span {
    tracing::info_span!(target: TARGET, "restore_latest", type_name, seq = Empty, bytes = Empty, skipped = Empty, duration_us = Empty, error = Empty)
}

pub(crate) fn group_save_part_span(group: &str, participant: &str, epoch: u64) -> Span {
    tracing::info_span!(target: TARGET, "group_save_part", group, participant, epoch, bytes = Empty, duration_us = Empty, error = Empty)
}

pub(crate) fn group_commit_span(group: &str, epoch: u64, verifying: bool) -> Span {
    tracing::info_span!(target: TARGET, "group_commit", group, epoch, verifying, parts = Empty, duration_us = Empty, error = Empty)
}

pub(crate) fn group_restore_span(group: &str, participant: &str, epoch: u64) -> Span {
    tracing::info_span!(target: TARGET, "group_restore", group, participant, epoch, duration_us = Empty, error = Empty)
}

pub(crate) fn group_restore_latest_span(group: &str, participant: &str) -> Span {
    tracing::info_span!(target: TARGET, "group_restore_latest", group, participant, epoch = Empty)
}

/// What an operation's result tells its observers: the checkpoint's
/// sequence number (or epoch) and size, where it has them.
pub(crate) trait Outcome {
    fn seq(&self) -> Option<u64> {
        None
    }
    fn bytes(&self) -> Option<u64> {
        None
    }
    /// Records what else the span declares.
    fn record_on(&self, _span: &Span) {}
}

impl Outcome for Snapshot {
    fn seq(&self) -> Option<u64> {
        Some(self.meta().seq)
    }
    fn bytes(&self) -> Option<u64> {
        Some(self.meta().size)
    }
}

impl Outcome for Meta {
    fn seq(&self) -> Option<u64> {
        Some(self.seq)
    }
    fn bytes(&self) -> Option<u64> {
        Some(self.size)
    }
}

impl<T> Outcome for Restored<T> {
    fn seq(&self) -> Option<u64> {
        Some(self.meta.seq)
    }
    fn bytes(&self) -> Option<u64> {
        Some(self.meta.size)
    }
    fn record_on(&self, span: &Span) {
        span.record("skipped", self.meta.skipped.len());
    }
}

impl<T: Outcome> Outcome for Option<T> {
    fn seq(&self) -> Option<u64> {
        self.as_ref().and_then(T::seq)
    }
    fn bytes(&self) -> Option<u64> {
        self.as_ref().and_then(T::bytes)
    }
    fn record_on(&self, span: &Span) {
        if let Some(outcome) = self {
            outcome.record_on(span);
        }
    }
}

impl Outcome for PartInfo {
    fn bytes(&self) -> Option<u64> {
        Some(self.len)
    }
}

impl Outcome for CommitRecord {
    fn record_on(&self, span: &Span) {
        span.record("parts", self.parts.len());
    }
}

/// A group restore's state: the span names its epoch already, and the
/// part's size is not known where the state is returned.
pub(crate) struct GroupState<T>(pub(crate) T);

impl<T> Outcome for GroupState<T> {}

/// An error with a stable short label for metrics and spans.
pub(crate) trait Labelled {
    fn label(&self) -> &'static str;
}

impl Labelled for Error {
    fn label(&self) -> &'static str {
        self.kind()
    }
}

impl Labelled for GroupError {
    fn label(&self) -> &'static str {
        self.kind()
    }
}

/// Runs `work` inside `span` as operation `op`, then records on the span
/// its `seq`, `bytes`, `duration_us` and, when it fails, `error` (the
/// error's kind), and with the `metrics` feature the operation's metrics.
pub(crate) fn observe<R: Outcome, E: Labelled>(
    op: Op,
    span: Span,
    work: impl FnOnce() -> Result<R, E>,
) -> Result<R, E> {
    if span.is_disabled() && !cfg!(feature = "metrics") {
        return work();
    }
    let start = Instant::now();
    let result = span.in_scope(work);
    finish(op, &span, start, &result);
    result
}

/// [`observe`] for an async operation: `work` runs instrumented by `span`,
/// so the blocking calls it makes nest in it.
#[cfg(feature = "tokio")]
pub(crate) async fn observe_async<R: Outcome, E: Labelled>(
    op: Op,
    span: Span,
    work: impl std::future::Future<Output = Result<R, E>>,
) -> Result<R, E> {
    use tracing::Instrument;
    if span.is_disabled() && !cfg!(feature = "metrics") {
        return work.await;
    }
    let start = Instant::now();
    let result = work.instrument(span.clone()).await;
    finish(op, &span, start, &result);
    result
}

fn finish<R: Outcome, E: Labelled>(op: Op, span: &Span, start: Instant, result: &Result<R, E>) {
    let elapsed = start.elapsed();
    match result {
        Ok(outcome) => {
            if let Some(seq) = outcome.seq() {
                span.record("seq", seq);
            }
            if let Some(bytes) = outcome.bytes() {
                span.record("bytes", bytes);
            }
            outcome.record_on(span);
            succeeded(op, elapsed, outcome.bytes());
        }
        Err(e) => {
            span.record("error", e.label());
            failed(op, e.label());
        }
    }
    span.record(
        "duration_us",
        u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
    );
}

#[cfg(feature = "metrics")]
fn succeeded(op: Op, elapsed: Duration, bytes: Option<u64>) {
    histogram(DURATION, op).record(elapsed.as_secs_f64());
    if let Some(bytes) = bytes {
        // Exact below 2^53 bytes, which is far beyond any checkpoint.
        #[allow(clippy::cast_precision_loss)]
        histogram(SIZE, op).record(bytes as f64);
    }
}

/// The histogram `name` of `op` in the installed recorder, as
/// `metrics::histogram!` registers it, from a key that needs no allocation.
#[cfg(feature = "metrics")]
fn histogram(name: &'static str, op: Op) -> metrics::Histogram {
    static METADATA: metrics::Metadata<'static> =
        metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));
    let key = metrics::Key::from_static_parts(name, op.labels());
    metrics::with_recorder(|recorder| recorder.register_histogram(&key, &METADATA))
}

#[cfg(not(feature = "metrics"))]
fn succeeded(_: Op, _: Duration, _: Option<u64>) {}

#[cfg(feature = "metrics")]
fn failed(op: Op, kind: &'static str) {
    metrics::counter!(FAILURES, "op" => op.label(), "kind" => kind).increment(1);
}

#[cfg(not(feature = "metrics"))]
fn failed(_: Op, _: &'static str) {}

/// `restore_latest` passed over a checkpoint failing with `e`.
pub(crate) fn skipped(e: &Error) {
    #[cfg(feature = "metrics")]
    metrics::counter!(SKIPPED, "kind" => e.kind()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = e;
}

/// A background snapshot was replaced by a newer one before its commit.
pub(crate) fn replaced() {
    #[cfg(feature = "metrics")]
    metrics::counter!(REPLACED).increment(1);
}

/// Describes every metric this crate records (its unit and a help text) to
/// the installed `metrics` recorder, for exporters that publish them, such
/// as Prometheus's `HELP` lines. Call it once, after installing the
/// recorder; the metrics are recorded whether or not it is called. The
/// names, units and labels are listed in `docs/OBSERVABILITY.md`.
///
/// Available with the `metrics` feature.
#[cfg(feature = "metrics")]
pub fn describe_metrics() {
    use metrics::Unit;
    metrics::describe_histogram!(
        DURATION,
        Unit::Seconds,
        "How long a successful checkpoint operation took, by `op`"
    );
    metrics::describe_histogram!(
        SIZE,
        Unit::Bytes,
        "The size of the checkpoint (or group part) an operation wrote or read, by `op`"
    );
    metrics::describe_counter!(
        FAILURES,
        Unit::Count,
        "Checkpoint operations that failed, by `op` and error `kind`"
    );
    metrics::describe_counter!(
        SKIPPED,
        Unit::Count,
        "Damaged or unreadable checkpoints that restore_latest passed over for an older one, by error `kind`"
    );
    metrics::describe_counter!(
        REPLACED,
        Unit::Count,
        "Background snapshots replaced by a newer one before their commit started"
    );
}

#[cfg(feature = "metrics")]
const DURATION: &str = "checkpoint_duration_seconds";
#[cfg(feature = "metrics")]
const SIZE: &str = "checkpoint_size_bytes";
#[cfg(feature = "metrics")]
const FAILURES: &str = "checkpoint_failures_total";
#[cfg(feature = "metrics")]
const SKIPPED: &str = "checkpoint_skipped_total";
#[cfg(feature = "metrics")]
const REPLACED: &str = "checkpoint_background_replaced_total";

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

impl GroupError {
    /// A short, stable label for this kind of error (`"part_missing"`,
    /// `"epoch_superseded"`, ...): one per variant, in `snake_case`, as
    /// [`Error::kind`].
    ///
    /// # Examples
    ///
    /// ```
    /// use checkpoint::group::GroupError;
    ///
    /// let e = GroupError::NotCommitted { group: "orders".into(), epoch: 3 };
    /// assert_eq!(e.kind(), "not_committed");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            GroupError::InvalidName { .. } => "invalid_name",
            GroupError::PartMissing { .. } => "part_missing",
            GroupError::PartsMismatch { .. } => "parts_mismatch",
            GroupError::PartCorrupt { .. } => "part_corrupt",
            GroupError::PartExists { .. } => "part_exists",
            GroupError::CommitConflict { .. } => "commit_conflict",
            GroupError::EpochSuperseded { .. } => "epoch_superseded",
            GroupError::NotCommitted { .. } => "not_committed",
            GroupError::NotAParticipant { .. } => "not_a_participant",
            GroupError::PartUnreadable { .. } => "part_unreadable",
            GroupError::CommitRecordCorrupt { .. } => "commit_record_corrupt",
            GroupError::Encode { .. } => "encode",
            GroupError::Restore { .. } => "restore",
            GroupError::CheckFailed { .. } => "check_failed",
            GroupError::Store(_) => "store",
        }
    }
}
