//! Observability: the `tracing` spans of capture, commit and restore (sync,
//! background, async and group paths) and, with the `metrics` feature, the
//! metrics listed in `docs/OBSERVABILITY.md`: their names, labels and values
//! are what users' dashboards depend on.
//!
//! Spans are collected by a small subscriber of this file; metrics by
//! `metrics-util`'s debugging recorder, installed for the calling thread.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use checkpoint::group::{AsyncGroup, Group, GroupError};
use checkpoint::{AsyncCheckpointer, Checkpointer, Error, MemStore};
use common::{file_of, temp_dir, Counter};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_core::span::Current;

/// A span as the subscriber saw it: its name, level, target, parent and
/// every field recorded, as text.
#[derive(Debug, Clone)]
struct SpanSeen {
    id: u64,
    name: &'static str,
    metadata: &'static Metadata<'static>,
    target: String,
    level: Level,
    parent: Option<u64>,
    fields: BTreeMap<String, String>,
}

impl SpanSeen {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    fn number(&self, name: &str) -> u64 {
        self.field(name)
            .unwrap_or_else(|| panic!("span `{}` has no field `{name}`: {self:?}", self.name))
            .parse()
            .unwrap()
    }
}

/// Keeps every span; each thread keeps its own stack of entered spans, so
/// that a span's parent is the one entered on the thread that created it.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<SpanSeen>>>);

thread_local! {
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

impl Spans {
    fn all(&self) -> Vec<SpanSeen> {
        self.0.lock().unwrap().clone()
    }

    fn named(&self, name: &str) -> Vec<SpanSeen> {
        self.all().into_iter().filter(|s| s.name == name).collect()
    }

    fn one(&self, name: &str) -> SpanSeen {
        let mut spans = self.named(name);
        assert_eq!(spans.len(), 1, "one `{name}` span: {:?}", self.all());
        spans.remove(0)
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut spans = self.0.lock().unwrap();
        let id = spans.len() as u64 + 1;
        let parent = match attrs.parent() {
            Some(parent) => Some(parent.into_u64()),
            None if attrs.is_contextual() => ENTERED.with(|e| e.borrow().last().copied()),
            None => None,
        };
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        spans.push(SpanSeen {
            id,
            name: attrs.metadata().name(),
            metadata: attrs.metadata(),
            target: attrs.metadata().target().to_owned(),
            level: *attrs.metadata().level(),
            parent,
            fields,
        });
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.0.lock().unwrap();
        let seen = &mut spans[span.into_u64() as usize - 1];
        values.record(&mut Fields(&mut seen.fields));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, span: &Id) {
        ENTERED.with(|e| e.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, _: &Id) {
        ENTERED.with(|e| e.borrow_mut().pop());
    }

    fn current_span(&self) -> Current {
        let spans = self.0.lock().unwrap();
        match ENTERED.with(|e| e.borrow().last().copied()) {
            Some(id) => Current::new(Id::from_u64(id), spans[id as usize - 1].metadata),
            None => Current::none(),
        }
    }
}

/// Keeps every callsite open to the subscribers of the tests.
///
/// A callsite remembers whether any subscriber may want it. The tests run
/// in parallel, each with a subscriber of its own thread, so a callsite
/// first reached on a thread without one could be remembered as never
/// wanted while another test's subscriber comes and goes. One subscriber
/// that wants everything, alive from the start of the first test on, rules
/// that out. Every test calls this first.
fn keep_callsites_open() {
    static OPEN: OnceLock<tracing::Dispatch> = OnceLock::new();
    OPEN.get_or_init(|| tracing::Dispatch::new(Spans::default()));
}

/// Runs `work` with `spans` collecting the spans of this thread.
fn with_spans<R>(work: impl FnOnce() -> R) -> (R, Spans) {
    let spans = Spans::default();
    let result = tracing::subscriber::with_default(spans.clone(), work);
    (result, spans)
}

#[test]
fn save_has_a_span_with_seq_bytes_and_duration_around_its_capture() {
    keep_callsites_open();
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    let (meta, spans) = with_spans(|| ckpt.save(&Counter::at(5)).unwrap());
    let save = spans.one("save");
    assert_eq!(save.target, "checkpoint");
    assert_eq!(save.level, Level::INFO);
    assert_eq!(save.field("type_name"), Some("Counter"));
    assert_eq!(save.number("seq"), meta.seq);
    assert_eq!(save.number("bytes"), meta.size);
    save.number("duration_us");
    assert_eq!(save.field("error"), None);
    let capture = spans.one("capture");
    assert_eq!(capture.level, Level::DEBUG);
    assert_eq!(capture.parent, Some(save.id));
    assert_eq!(capture.number("seq"), meta.seq);
    assert_eq!(capture.number("bytes"), meta.size);
}

#[test]
fn capture_and_commit_have_spans_of_their_own() {
    keep_callsites_open();
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    let (meta, spans) = with_spans(|| {
        let snapshot = ckpt.capture(&Counter::at(3)).unwrap();
        ckpt.commit(snapshot).unwrap()
    });
    let capture = spans.one("capture");
    let commit = spans.one("commit");
    assert_eq!(capture.parent, None);
    assert_eq!(commit.parent, None);
    assert_eq!(commit.level, Level::INFO);
    assert_eq!(commit.number("seq"), meta.seq);
    assert_eq!(commit.number("bytes"), meta.size);
    commit.number("duration_us");
}

#[test]
fn a_failed_commit_records_the_kind_of_its_error() {
    keep_callsites_open();
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    let older = ckpt.capture(&Counter::at(1)).unwrap();
    ckpt.save(&Counter::at(2)).unwrap();
    let (err, spans) = with_spans(|| ckpt.commit(older).unwrap_err());
    assert!(matches!(err, Error::OlderCapture { .. }), "{err}");
    let commit = spans.one("commit");
    assert_eq!(commit.field("error"), Some("older_capture"));
    assert_eq!(commit.number("seq"), 1);
    assert_eq!(commit.field("bytes"), None);
}

#[test]
fn restore_spans_say_what_was_restored_and_what_was_skipped() {
    keep_callsites_open();
    let dir = temp_dir();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    ckpt.save(&Counter::at(1)).unwrap();
    let newest = ckpt.save(&Counter::at(2)).unwrap();
    corrupt(&file_of(dir.path(), newest.seq));
    let ((latest, one), spans) = with_spans(|| {
        (
            ckpt.restore_latest::<Counter>().unwrap().unwrap(),
            ckpt.restore::<Counter>(1).unwrap(),
        )
    });
    let span = spans.one("restore_latest");
    assert_eq!(span.field("type_name"), Some("Counter"));
    assert_eq!(span.number("seq"), 1);
    assert_eq!(span.number("bytes"), latest.meta.size);
    assert_eq!(span.number("skipped"), 1);
    span.number("duration_us");
    let span = spans.one("restore");
    assert_eq!(span.number("seq"), 1);
    assert_eq!(span.number("bytes"), one.meta.size);
}

#[test]
fn background_commits_report_to_the_subscriber_of_the_thread_that_started_them() {
    keep_callsites_open();
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    let (meta, spans) = with_spans(|| {
        let bg = ckpt.background();
        bg.submit(ckpt.capture(&Counter::at(4)).unwrap()).unwrap();
        bg.close().unwrap().unwrap()
    });
    assert_eq!(spans.one("capture").number("seq"), meta.seq);
    let commit = spans.one("commit");
    assert_eq!(commit.number("seq"), meta.seq);
    assert_eq!(commit.number("bytes"), meta.size);
}

#[test]
fn async_commits_and_restores_nest_in_the_callers_span() {
    keep_callsites_open();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (meta, spans) = with_spans(|| {
        runtime.block_on(async {
            let ckpt = AsyncCheckpointer::new(MemStore::new()).await.unwrap();
            let request = tracing::info_span!("request");
            let _entered = request.enter();
            let meta = ckpt.save(&Counter::at(8)).await.unwrap();
            ckpt.restore_latest::<Counter>().await.unwrap().unwrap();
            meta
        })
    });
    let request = spans.one("request");
    let commit = spans.one("commit");
    assert_eq!(commit.parent, Some(request.id));
    assert_eq!(commit.number("seq"), meta.seq);
    assert_eq!(spans.one("capture").parent, Some(request.id));
    let restore = spans.one("restore_latest");
    assert_eq!(restore.parent, Some(request.id));
    assert_eq!(restore.number("seq"), meta.seq);
}

#[test]
fn async_group_operations_have_the_spans_of_the_sync_ones() {
    keep_callsites_open();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (info, spans) = with_spans(|| {
        runtime.block_on(async {
            let group = AsyncGroup::new(MemStore::new(), "orders").unwrap();
            let request = tracing::info_span!("request");
            let _entered = request.enter();
            let info = group.save_part(2, "node-a", &Counter::at(3)).await.unwrap();
            let parts = [info.clone()];
            group.commit(2, &["node-a"], &parts).await.unwrap();
            group.restore::<Counter>(2, "node-a").await.unwrap();
            info
        })
    });
    let request = spans.one("request");
    let save = spans.one("group_save_part");
    assert_eq!(save.parent, Some(request.id));
    assert_eq!(save.number("epoch"), 2);
    assert_eq!(save.number("bytes"), info.len);
    save.number("duration_us");
    for name in ["group_commit", "group_restore"] {
        let span = spans.one(name);
        assert_eq!(span.parent, Some(request.id), "{name}");
        assert_eq!(span.number("epoch"), 2, "{name}");
    }
}

#[test]
fn group_operations_have_spans_naming_group_participant_and_epoch() {
    keep_callsites_open();
    let group = Group::new(MemStore::new(), "orders").unwrap();
    let ((info, record), spans) = with_spans(|| {
        let info = group.save_part(7, "node-a", &Counter::at(3)).unwrap();
        let record = group
            .commit(7, &["node-a"], std::slice::from_ref(&info))
            .unwrap();
        group.restore_latest::<Counter>("node-a").unwrap().unwrap();
        (info, record)
    });
    let save = spans.one("group_save_part");
    assert_eq!(save.field("group"), Some("orders"));
    assert_eq!(save.field("participant"), Some("node-a"));
    assert_eq!(save.number("epoch"), 7);
    assert_eq!(save.number("bytes"), info.len);
    save.number("duration_us");
    let commit = spans.one("group_commit");
    assert_eq!(commit.number("epoch"), 7);
    assert_eq!(commit.field("verifying"), Some("false"));
    assert_eq!(commit.number("parts"), record.parts.len() as u64);
    commit.number("duration_us");
    let latest = spans.one("group_restore_latest");
    assert_eq!(latest.number("epoch"), 7);
    let restore = spans.one("group_restore");
    assert_eq!(restore.parent, Some(latest.id));
    assert_eq!(restore.number("epoch"), 7);
    restore.number("duration_us");
}

#[test]
fn a_failed_group_commit_records_the_kind_of_its_error() {
    keep_callsites_open();
    let group = Group::new(MemStore::new(), "orders").unwrap();
    let (err, spans) = with_spans(|| group.commit_verifying(1, &["node-a"]).unwrap_err());
    assert!(matches!(err, GroupError::PartMissing { .. }), "{err}");
    let commit = spans.one("group_commit");
    assert_eq!(commit.field("verifying"), Some("true"));
    assert_eq!(commit.field("error"), Some("part_missing"));
}

/// Flips a byte in the body of the checkpoint file at `path`.
fn corrupt(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes.len() - 5;
    bytes[at] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

#[cfg(feature = "metrics")]
mod metrics_feature {
    use std::collections::BTreeMap;

    use checkpoint::group::Group;
    use checkpoint::{Checkpointer, MemStore};
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use metrics_util::MetricKind;

    use super::common::{file_of, temp_dir, Counter};
    use super::{corrupt, keep_callsites_open};

    /// A metric as a test names it: its name and its labels, sorted.
    type Name = (String, Vec<(String, String)>);

    /// What the metrics recorded while `work` ran on this thread: counters'
    /// values, and histograms' samples.
    fn recorded(work: impl FnOnce()) -> (BTreeMap<Name, u64>, BTreeMap<Name, Vec<f64>>) {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, work);
        let (mut counters, mut histograms) = (BTreeMap::new(), BTreeMap::new());
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let kind = key.kind();
            let key = key.key();
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            let name = (key.name().to_owned(), labels);
            match (kind, value) {
                (MetricKind::Counter, DebugValue::Counter(n)) => {
                    counters.insert(name, n);
                }
                (MetricKind::Histogram, DebugValue::Histogram(samples)) => {
                    histograms.insert(name, samples.into_iter().map(|s| s.0).collect());
                }
                other => panic!("unexpected metric {name:?}: {other:?}"),
            }
        }
        (counters, histograms)
    }

    fn name(name: &str, labels: &[(&str, &str)]) -> Name {
        let mut labels: Vec<_> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        (name.to_owned(), labels)
    }

    fn op(metric: &str, op: &str) -> Name {
        name(metric, &[("op", op)])
    }

    #[test]
    fn saves_and_commits_record_durations_and_sizes_by_op() {
        keep_callsites_open();
        let ckpt = Checkpointer::new(MemStore::new()).unwrap();
        let mut metas = Vec::new();
        let (counters, histograms) = recorded(|| {
            metas.push(ckpt.save(&Counter::at(5)).unwrap());
            let snapshot = ckpt.capture(&Counter::at(6)).unwrap();
            metas.push(ckpt.commit(snapshot).unwrap());
        });
        assert!(counters.is_empty(), "no failures: {counters:?}");
        let sizes = |o| histograms[&op("checkpoint_size_bytes", o)].clone();
        assert_eq!(sizes("save"), [metas[0].size as f64]);
        assert_eq!(sizes("commit"), [metas[1].size as f64]);
        assert_eq!(
            sizes("capture"),
            [metas[0].size as f64, metas[1].size as f64]
        );
        for o in ["save", "capture", "commit"] {
            let durations = &histograms[&op("checkpoint_duration_seconds", o)];
            let expected = if o == "capture" { 2 } else { 1 };
            assert_eq!(durations.len(), expected, "{o}: {durations:?}");
            assert!(durations.iter().all(|d| *d >= 0.0 && d.is_finite()));
        }
        assert_eq!(histograms.len(), 6, "{histograms:?}");
    }

    #[test]
    fn restores_record_durations_sizes_skips_and_failures_by_kind() {
        keep_callsites_open();
        let dir = temp_dir();
        let ckpt = Checkpointer::open(dir.path()).unwrap();
        let first = ckpt.save(&Counter::at(1)).unwrap();
        let newest = ckpt.save(&Counter::at(2)).unwrap();
        corrupt(&file_of(dir.path(), newest.seq));
        let (counters, histograms) = recorded(|| {
            ckpt.restore_latest::<Counter>().unwrap().unwrap();
            ckpt.restore::<Counter>(first.seq).unwrap();
            ckpt.restore::<Counter>(99).unwrap_err();
            ckpt.restore::<Counter>(newest.seq).unwrap_err();
        });
        assert_eq!(
            counters,
            BTreeMap::from([
                (name("checkpoint_skipped_total", &[("kind", "corrupt")]), 1),
                (
                    name(
                        "checkpoint_failures_total",
                        &[("op", "restore"), ("kind", "not_found")]
                    ),
                    1
                ),
                (
                    name(
                        "checkpoint_failures_total",
                        &[("op", "restore"), ("kind", "corrupt")]
                    ),
                    1
                ),
            ])
        );
        let size = first.size as f64;
        assert_eq!(
            histograms[&op("checkpoint_size_bytes", "restore_latest")],
            [size]
        );
        assert_eq!(histograms[&op("checkpoint_size_bytes", "restore")], [size]);
        assert_eq!(
            histograms[&op("checkpoint_duration_seconds", "restore_latest")].len(),
            1
        );
        assert_eq!(
            histograms[&op("checkpoint_duration_seconds", "restore")].len(),
            1,
            "failures record no duration"
        );
    }

    #[test]
    fn a_restore_of_an_empty_store_records_a_duration_and_no_size() {
        keep_callsites_open();
        let ckpt = Checkpointer::new(MemStore::new()).unwrap();
        let (counters, histograms) = recorded(|| {
            assert!(ckpt.restore_latest::<Counter>().unwrap().is_none());
        });
        assert!(counters.is_empty());
        assert_eq!(
            histograms.keys().collect::<Vec<_>>(),
            [&op("checkpoint_duration_seconds", "restore_latest")]
        );
    }

    #[test]
    fn failed_saves_and_commits_count_by_kind() {
        keep_callsites_open();
        let ckpt = Checkpointer::new(MemStore::new()).unwrap();
        let older = ckpt.capture(&Counter::at(1)).unwrap();
        let (counters, _) = recorded(|| {
            ckpt.save(&Counter::at(2)).unwrap();
            ckpt.commit(older).unwrap_err();
        });
        assert_eq!(
            counters,
            BTreeMap::from([(
                name(
                    "checkpoint_failures_total",
                    &[("op", "commit"), ("kind", "older_capture")]
                ),
                1
            )])
        );
    }

    #[test]
    fn replaced_background_snapshots_are_counted() {
        keep_callsites_open();
        let ckpt = Checkpointer::new(MemStore::new()).unwrap();
        let older = ckpt.capture(&Counter::at(1)).unwrap();
        let newer = ckpt.capture(&Counter::at(2)).unwrap();
        let bg = ckpt.background();
        let (counters, _) = recorded(|| {
            bg.submit(newer).unwrap();
            // Older than one submitted: dropped, and counted as replaced.
            bg.submit(older).unwrap();
        });
        bg.close().unwrap();
        assert_eq!(
            counters.get(&name("checkpoint_background_replaced_total", &[])),
            Some(&1)
        );
    }

    #[test]
    fn group_operations_record_durations_sizes_and_failures() {
        keep_callsites_open();
        let group = Group::new(MemStore::new(), "orders").unwrap();
        let mut len = 0;
        let (counters, histograms) = recorded(|| {
            let info = group.save_part(1, "node-a", &Counter::at(3)).unwrap();
            len = info.len;
            group.commit(1, &["node-a"], &[info]).unwrap();
            group.restore::<Counter>(1, "node-a").unwrap();
            group.restore::<Counter>(2, "node-a").unwrap_err();
            group.commit_verifying(3, &["node-a"]).unwrap_err();
        });
        assert_eq!(
            histograms[&op("checkpoint_size_bytes", "group_save_part")],
            [len as f64]
        );
        for o in ["group_save_part", "group_commit", "group_restore"] {
            assert_eq!(
                histograms[&op("checkpoint_duration_seconds", o)].len(),
                1,
                "{o}"
            );
        }
        assert_eq!(
            counters,
            BTreeMap::from([
                (
                    name(
                        "checkpoint_failures_total",
                        &[("op", "group_restore"), ("kind", "not_committed")]
                    ),
                    1
                ),
                (
                    name(
                        "checkpoint_failures_total",
                        &[("op", "group_commit"), ("kind", "part_missing")]
                    ),
                    1
                ),
            ])
        );
    }

    #[test]
    fn describing_the_metrics_gives_their_units() {
        keep_callsites_open();
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            checkpoint::describe_metrics();
            // A description is kept with a metric once it is recorded.
            let ckpt = Checkpointer::new(MemStore::new()).unwrap();
            ckpt.save(&Counter::at(1)).unwrap();
        });
        let units: BTreeMap<String, Option<metrics::Unit>> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, unit, _, _)| (key.key().name().to_owned(), unit))
            .collect();
        assert_eq!(
            units["checkpoint_duration_seconds"],
            Some(metrics::Unit::Seconds)
        );
        assert_eq!(units["checkpoint_size_bytes"], Some(metrics::Unit::Bytes));
    }
}
