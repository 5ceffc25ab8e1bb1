//! What checkpointing costs the application's own threads: `W` writer
//! threads mutate a 64 MiB state behind a `Mutex` as fast as they can while
//! a checkpoint is taken once a period, four ways:
//!
//! - `none`: no checkpoints (the baseline);
//! - `save`: `Checkpointer::save` under the lock (encode and fsyncs);
//! - `capture+commit`: `capture` under the lock, `commit` after releasing it;
//! - `background`: `capture` under the lock, `Background::submit` after.
//!
//! Reports the writers' throughput and their lock waits (p50, p99, max),
//! and how long each checkpoint held the lock against a raw postcard encode
//! of the same state in the same run. A plain timing loop, not divan: the
//! figures are throughput and wait percentiles of threads running
//! together, not the time of one call.
//!
//! Run with `cargo bench --bench writers_pause`; the directory store lives
//! under `CHECKPOINT_BENCH_DIR` (default: the system temp dir). Settings:
//! `WRITERS` (default 2), `SECONDS` per way (default 5), `PERIOD_MS`
//! between checkpoints (default 1000), `MIB` (default 64).
//! docs/PERFORMANCE.md has the figures.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use checkpoint::{Checkpoint, Checkpointer};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Record {
    id: u64,
    value: f64,
    tag: String,
}

#[derive(Debug, Checkpoint)]
struct State {
    last_seq: u64,
    records: Vec<Record>,
    samples: Vec<u32>,
}

/// A state whose postcard encoding is about `mib` MiB: half records, half
/// samples (as in `save_restore`).
fn state(mib: usize) -> State {
    let half = mib << 19;
    let records = (0..half / 24)
        .map(|i| Record {
            id: i as u64 * 7919,
            value: i as f64 * 0.5,
            tag: format!("tag-{:08}", i % 100_000),
        })
        .collect();
    let samples = (0..half / 3)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761) >> 12)
        .collect();
    State {
        last_seq: 0,
        records,
        samples,
    }
}

/// Lock waits in log-linear buckets: 8 per power of two (12.5% wide).
struct Waits {
    buckets: Vec<u64>,
    max: Duration,
}

impl Waits {
    fn new() -> Self {
        Waits {
            buckets: vec![0; 64 * 8],
            max: Duration::ZERO,
        }
    }

    fn record(&mut self, wait: Duration) {
        let ns = wait.as_nanos().max(1) as u64;
        let log = 63 - ns.leading_zeros() as usize;
        let sub = if log >= 3 {
            ((ns >> (log - 3)) & 7) as usize
        } else {
            0
        };
        self.buckets[log * 8 + sub] += 1;
        self.max = self.max.max(wait);
    }

    fn merge(&mut self, other: &Waits) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.max = self.max.max(other.max);
    }

    fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The upper bound of the bucket holding quantile `q`.
    fn quantile(&self, q: f64) -> Duration {
        let target = (self.count() as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target.max(1) {
                let (log, sub) = (i / 8, (i % 8) as u64);
                let upper = if log >= 3 {
                    (8 + sub + 1) << (log - 3)
                } else {
                    2 << log
                };
                return Duration::from_nanos(upper).min(self.max);
            }
        }
        self.max
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Way {
    None,
    Save,
    CaptureCommit,
    Background,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::None => "none",
            Way::Save => "save",
            Way::CaptureCommit => "capture+commit",
            Way::Background => "background",
        }
    }
}

struct Outcome {
    ops: u64,
    waits: Waits,
    holds: Vec<Duration>,
}

fn run(way: Way, state: &Mutex<State>, ckpt: &Checkpointer, settings: &Settings) -> Outcome {
    let stop = AtomicBool::new(false);
    let start = Barrier::new(settings.writers + 1);
    let bg = (way == Way::Background).then(|| ckpt.background());
    thread::scope(|scope| {
        let writers: Vec<_> = (0..settings.writers)
            .map(|t| {
                let (stop, start) = (&stop, &start);
                scope.spawn(move || {
                    let mut waits = Waits::new();
                    let mut ops = 0u64;
                    let mut i = t;
                    start.wait();
                    while !stop.load(Ordering::Relaxed) {
                        let asked = Instant::now();
                        let mut s = state.lock().unwrap();
                        waits.record(asked.elapsed());
                        s.last_seq += 1;
                        i = (i + 7919) % s.samples.len();
                        s.samples[i] = s.samples[i].wrapping_add(1);
                        drop(s);
                        ops += 1;
                    }
                    (ops, waits)
                })
            })
            .collect();

        start.wait();
        let began = Instant::now();
        let mut holds = Vec::new();
        let mut next = began + settings.period / 2;
        while began.elapsed() < settings.duration {
            thread::sleep(next.saturating_duration_since(Instant::now()));
            next += settings.period;
            if way == Way::None || began.elapsed() >= settings.duration {
                continue;
            }
            let s = state.lock().unwrap();
            let held = Instant::now();
            match way {
                Way::Save => {
                    ckpt.save(&*s).unwrap();
                    holds.push(held.elapsed());
                }
                Way::CaptureCommit => {
                    let snapshot = ckpt.capture(&*s).unwrap();
                    holds.push(held.elapsed());
                    drop(s);
                    ckpt.commit(snapshot).unwrap();
                }
                Way::Background => {
                    let snapshot = ckpt.capture(&*s).unwrap();
                    holds.push(held.elapsed());
                    drop(s);
                    bg.as_ref().unwrap().submit(snapshot).unwrap();
                }
                Way::None => unreachable!(),
            }
        }
        stop.store(true, Ordering::Relaxed);
        let elapsed = began.elapsed();
        let mut total = Outcome {
            ops: 0,
            waits: Waits::new(),
            holds,
        };
        for writer in writers {
            let (ops, waits) = writer.join().unwrap();
            total.ops += ops;
            total.waits.merge(&waits);
        }
        // Throughput per second of the measured span.
        total.ops = (total.ops as f64 / elapsed.as_secs_f64()) as u64;
        total
    })
}

struct Settings {
    writers: usize,
    duration: Duration,
    period: Duration,
    mib: usize,
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once, briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    let settings = if quick {
        Settings {
            writers: 2,
            duration: Duration::from_millis(200),
            period: Duration::from_millis(50),
            mib: 1,
        }
    } else {
        Settings {
            writers: setting("WRITERS", 2) as usize,
            duration: Duration::from_millis(setting("SECONDS", 5) * 1000),
            period: Duration::from_millis(setting("PERIOD_MS", 1000)),
            mib: setting("MIB", 64) as usize,
        }
    };
    let state = Mutex::new(state(settings.mib));
    let raw: Vec<Duration> = (0..5)
        .map(|_| {
            let s = state.lock().unwrap();
            let began = Instant::now();
            let bytes = postcard::to_allocvec(&*s).unwrap();
            let took = began.elapsed();
            drop(bytes);
            took
        })
        .collect();
    let raw = median(raw);

    let base = std::env::var_os("CHECKPOINT_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("checkpoint-writers-pause-")
        .tempdir_in(base)
        .unwrap();
    let ckpt = Checkpointer::open(dir.path()).unwrap().keep_last(2);

    println!(
        "{} writers, {} MiB state, a checkpoint every {} ms for {} ms per way, directory store in {}",
        settings.writers,
        settings.mib,
        settings.period.as_millis(),
        settings.duration.as_millis(),
        dir.path().display()
    );
    println!(
        "raw postcard encode of the state (median of 5): {}",
        ms(raw)
    );
    println!();
    println!(
        "| way | writer ops/s | vs none | lock wait p50 | p99 | max | checkpoints | lock held (median) | held / raw encode |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut baseline = None;
    for way in [Way::None, Way::Save, Way::CaptureCommit, Way::Background] {
        let out = run(way, &state, &ckpt, &settings);
        let base_ops = *baseline.get_or_insert(out.ops);
        let held = median(out.holds.clone());
        let (held_text, ratio) = if out.holds.is_empty() {
            ("-".to_owned(), "-".to_owned())
        } else {
            (
                ms(held),
                format!("{:.2}", held.as_secs_f64() / raw.as_secs_f64()),
            )
        };
        println!(
            "| {} | {} | {:.1}% | {:.2} us | {:.2} us | {} | {} | {} | {} |",
            way.name(),
            out.ops,
            out.ops as f64 * 100.0 / base_ops as f64,
            out.waits.quantile(0.5).as_secs_f64() * 1e6,
            out.waits.quantile(0.99).as_secs_f64() * 1e6,
            ms(out.waits.max),
            out.holds.len(),
            held_text,
            ratio,
        );
    }
}
