//! Progress of long work on sticks, shared by `add`, `install`, `check --hash`,
//! `sync --hash` and `persistence --size`: one line per stick
//! (indicatif `MultiProgress`, so several sticks written at once each get theirs), the
//! stage it is in shown as it is (copy, flush, verify, index for `add`; install's
//! steps), and one unit system: sizes in binary units (KiB, MiB, GiB) and speeds in the
//! same units per second (MiB/s). A stage whose length is not known in bytes (flush,
//! index) shows a spinner and the time spent in it, never an ETA.
//!
//! Bars are drawn on standard error and only when it is a terminal (indicatif hides them
//! otherwise), so scripts and tests see only the result lines.

use indicatif::{
    HumanDuration, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle,
};
use std::time::Duration;
use stick::copy::{Progress, Stage};

/// The bars of one command run: one per stick.
pub struct Bars {
    multi: MultiProgress,
    quiet: bool,
}

impl Bars {
    /// Bars on standard error; none at all with `quiet` or the global `-q`.
    pub fn new(quiet: bool) -> Bars {
        let quiet = quiet || crate::out::quiet();
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Bars {
            multi: MultiProgress::with_draw_target(target),
            quiet,
        }
    }

    /// A new line for the stick called `prefix`.
    pub fn stick(&self, prefix: &str) -> StickBar {
        let bar = if self.quiet {
            ProgressBar::hidden()
        } else {
            self.multi.add(ProgressBar::new(0))
        };
        bar.set_prefix(prefix.to_string());
        bar.set_style(spinner_style());
        bar.enable_steady_tick(Duration::from_millis(200));
        StickBar {
            bar,
            item: String::new(),
        }
    }

    /// Print `line` above the bars (on standard output, as the result lines are).
    pub fn println(&self, line: &str) {
        if self.quiet || self.multi.is_hidden() {
            println!("{line}");
        } else {
            // indicatif prints above the bars on their terminal; stdout may be elsewhere.
            self.multi.suspend(|| println!("{line}"));
        }
    }
}

fn template(t: &str) -> ProgressStyle {
    ProgressStyle::with_template(t)
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// A stage that moves bytes: bar, sizes, binary speed and an ETA.
fn bytes_style() -> ProgressStyle {
    template(
        "{prefix} {msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} \
         {binary_bytes_per_sec} ETA {eta}",
    )
    // Before the first bytes there is no estimate: "?", not indicatif's "0s".
    .with_key(
        "eta",
        |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = if state.pos() == 0 {
                w.write_str("?")
            } else {
                write!(w, "{:#}", HumanDuration(state.eta()))
            };
        },
    )
}

/// A stage of unknown length: a spinner and the time spent in it.
fn spinner_style() -> ProgressStyle {
    template("{prefix} {msg} {spinner} {elapsed}")
}

/// Bytes counted with no known total: a spinner, bytes, speed and time, no bar or ETA.
fn count_style() -> ProgressStyle {
    template("{prefix} {msg} {spinner} {binary_bytes} {binary_bytes_per_sec} {elapsed}")
}

/// Install's steps: a count of steps.
fn steps_style() -> ProgressStyle {
    template("{prefix} [{pos}/{len}] {msg} {spinner}")
}

/// The line of one stick.
pub struct StickBar {
    bar: ProgressBar,
    item: String,
}

impl StickBar {
    /// The ISO the next stages are about.
    pub fn item(&mut self, name: &str) {
        self.item = name.to_string();
    }

    /// Show what `add` reported.
    pub fn progress(&self, p: Progress) {
        match p {
            Progress::Stage(stage, total) => {
                // The old stage's name goes first, the new one comes last: a tick drawing
                // in between shows no stage rather than one stage in another's style.
                self.bar.set_message("");
                match stage {
                    Stage::Copy | Stage::Verify => {
                        self.bar.set_style(bytes_style());
                        self.bar.set_length(total);
                    }
                    Stage::Flush | Stage::Index => {
                        self.bar.set_style(spinner_style());
                    }
                }
                // Speed, ETA and elapsed time start again with each stage.
                self.bar.reset();
                self.bar
                    .set_message(format!("{} {}", stage.name(), self.item));
            }
            Progress::Bytes(n) => self.bar.inc(n),
        }
    }

    /// A stage that moves `total` bytes, positions given by [`StickBar::position`]
    /// (`persistence --size` filling its file).
    pub fn bytes(&self, what: &str, total: u64) {
        self.bar.set_message("");
        self.bar.set_style(bytes_style());
        self.bar.set_length(total);
        self.bar.reset();
        self.bar.set_message(what.to_string());
    }

    /// `pos` bytes done in a [`StickBar::bytes`] stage.
    pub fn position(&self, pos: u64) {
        self.bar.set_position(pos);
    }

    /// A stage that counts bytes without a known total (`check --hash` reading every ISO).
    pub fn count(&self, what: &str) {
        self.bar.set_message("");
        self.bar.set_style(count_style());
        self.bar.reset();
        self.bar.set_message(what.to_string());
    }

    /// `n` more bytes done in a [`StickBar::count`] stage.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Install's steps: step `pos` of `len` is `what`.
    pub fn step(&self, pos: u64, len: u64, what: &str) {
        if self.bar.length() != Some(len) {
            self.bar.set_style(steps_style());
            self.bar.set_length(len);
        }
        self.bar.set_position(pos);
        self.bar.set_message(what.to_string());
    }

    /// The stick is done (or failed): its line goes away.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// "1.5 GiB in 12.3 s, 124.9 MiB/s": the summary of bytes moved in `secs` seconds, in
/// the units of the bars.
pub fn summary(bytes: u64, secs: f64) -> String {
    let secs = secs.max(1e-3);
    format!(
        "{} in {} s, {}",
        stick::index_io::human(bytes),
        if secs < 10.0 {
            format!("{secs:.2}")
        } else {
            format!("{secs:.1}")
        },
        speed(bytes as f64 / secs)
    )
}

/// A speed in binary units, as the bars show it.
pub fn speed(bytes_per_sec: f64) -> String {
    format!("{:.1} MiB/s", bytes_per_sec / f64::from(1u32 << 20))
}
