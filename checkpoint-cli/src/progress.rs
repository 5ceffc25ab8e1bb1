//! The progress bar `verify` draws on stderr while it reads many or large
//! checkpoints. Only on a terminal: a pipe or a file (scripts, tests) gets
//! no bar and sees the same output as before.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A single checkpoint at least this large gets a bar too.
const LARGE: u64 = 64 << 20;

/// The bar of one `verify` run: none when stderr is not a terminal, or
/// until there is something worth showing.
pub struct VerifyProgress {
    on_terminal: bool,
    count: usize,
    /// Which checkpoint is being read: its place and sequence number.
    current: (usize, u64),
    bar: Option<ProgressBar>,
}

impl VerifyProgress {
    /// For a walk over `count` checkpoints.
    pub fn new(count: usize) -> Self {
        VerifyProgress {
            on_terminal: std::io::stderr().is_terminal(),
            count,
            current: (0, 0),
            bar: None,
        }
    }

    /// Checkpoint `seq`, the `index`th (from 0), is being read next.
    pub fn start(&mut self, index: usize, seq: u64) {
        self.current = (index, seq);
        if let Some(bar) = &self.bar {
            bar.set_position(0);
            bar.set_prefix(self.prefix());
        }
    }

    /// `done` bytes of the current checkpoint's `len` are read.
    pub fn read(&mut self, done: u64, len: u64) {
        if self.bar.is_none() && self.on_terminal && (self.count > 1 || len >= LARGE) {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {bytes}/{total_bytes} ({elapsed})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(self.prefix());
            bar.enable_steady_tick(Duration::from_millis(200));
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_length(len);
            bar.set_position(done);
        }
    }

    /// Removes the bar, before the report is printed.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }

    fn prefix(&self) -> String {
        let (index, seq) = self.current;
        format!("verifying #{seq} ({} of {})", index + 1, self.count)
    }
}
