//! What checkpointing costs the application's own threads: `W` writer
//! threads mutate a 64 MiB state behind a `Mutex` as fast as they can while
//! a checkpoint is taken once a period, four ways:
//!
//! - `none`: no checkpoints (the baseline);
//! - `save`: `Checkpointer::save` under the lock (encode and fsyncs);
//! - `capture+commit`: `capture` under the lock, `commit` after releasing it;
//! - `background`: `capture` under the lock, `Background::submit` after.
//!
//! Reports the writers' throughput, how long they stood still (the sum of
//! their lock waits of 1 ms or more, per writer and second), their lock
//! waits (p50, p99, max), and how long each checkpoint held the lock against
//! a raw postcard encode of the same state in the same run. A plain timing loop, not divan: the
//! figures are throughput and wait percentiles of threads running
//! together, not the time of one call.
//!
//! Run with `cargo bench --bench writers_pause`; the directory store lives
//! under `CHECKPOINT_BENCH_DIR` (default: the system temp dir). Settings:
//! `WRITERS` (default 2), `SECONDS` per way and round (default 5),
//! `ROUNDS` (default 3; the ways are interleaved in each round, so that
//! other load on the machine spreads over all of them), `PERIOD_MS` between
//! checkpoints (default 1000), `MIB` (default 64).
//! docs/PERFORMANCE.md has the figures.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use checkpoint::Checkpointer;
use common::{median, setting, state, State};

mod common;

/// Lock waits in log-linear buckets: 8 per power of two (12.5% wide).
struct Waits {
    buckets: Vec<u64>,
    max: Duration,
    /// The sum of the waits of 1 ms or more: time a writer stood still.
    stalled: Duration,
}

impl Waits {
    fn new() -> Self {
        Waits {
            buckets: vec![0; 64 * 8],
            max: Duration::ZERO,
            stalled: Duration::ZERO,
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
        if wait >= Duration::from_millis(1) {
            self.stalled += wait;
        }
    }

    fn merge(&mut self, other: &Waits) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.max = self.max.max(other.max);
        self.stalled += other.stalled;
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
    let rounds = if quick { 1 } else { setting("ROUNDS", 3) };
    let state = Mutex::new(state(settings.mib));
    let base = std::env::var_os("CHECKPOINT_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("checkpoint-writers-pause-")
        .tempdir_in(base)
        .unwrap();
    let ckpt = Checkpointer::open(dir.path()).unwrap().keep_last(2);
    println!(
        "{} writers, {} MiB state, a checkpoint every {} ms, {} ms per way and round, {rounds} \
         rounds with the ways interleaved, directory store in {}",
        settings.writers,
        settings.mib,
        settings.period.as_millis(),
        settings.duration.as_millis(),
        dir.path().display()
    );

    const WAYS: [Way; 4] = [Way::None, Way::Save, Way::CaptureCommit, Way::Background];
    let mut raw = Vec::new();
    let mut outcomes: Vec<Vec<Outcome>> = WAYS.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for _ in 0..3 {
            let s = state.lock().unwrap();
            let began = Instant::now();
            let bytes = postcard::to_allocvec(&*s).unwrap();
            raw.push(began.elapsed());
            drop(bytes);
        }
        for (way, outcomes) in WAYS.iter().zip(&mut outcomes) {
            outcomes.push(run(*way, &state, &ckpt, &settings));
        }
    }
    let raw = median(raw);
    println!("raw postcard encode of the state (median): {}", ms(raw));
    println!();
    println!(
        "| way | writer ops/s (median round) | vs none | stalled per writer and s | lock wait p50 | p99 | max | lock held per checkpoint (median) | held / raw encode |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let seconds = settings.duration.as_secs_f64() * rounds as f64;
    let mut baseline = None;
    for (way, outcomes) in WAYS.iter().zip(outcomes) {
        let ops = {
            let mut ops: Vec<u64> = outcomes.iter().map(|o| o.ops).collect();
            ops.sort_unstable();
            ops[ops.len() / 2]
        };
        let base_ops = *baseline.get_or_insert(ops);
        let mut waits = Waits::new();
        let mut holds = Vec::new();
        for outcome in &outcomes {
            waits.merge(&outcome.waits);
            holds.extend(&outcome.holds);
        }
        let stalled = waits.stalled.as_secs_f64() / settings.writers as f64 / seconds;
        let (held, ratio) = if holds.is_empty() {
            ("-".to_owned(), "-".to_owned())
        } else {
            let held = median(holds);
            (
                ms(held),
                format!("{:.2}", held.as_secs_f64() / raw.as_secs_f64()),
            )
        };
        println!(
            "| {} | {} | {:.1}% | {:.1} ms | {:.2} us | {:.2} us | {} | {held} | {ratio} |",
            way.name(),
            ops,
            ops as f64 * 100.0 / base_ops as f64,
            stalled * 1e3,
            waits.quantile(0.5).as_secs_f64() * 1e6,
            waits.quantile(0.99).as_secs_f64() * 1e6,
            ms(waits.max),
        );
    }
}
