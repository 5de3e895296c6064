//! Progress bars for long commands (`run` over many feeds, `import jekyll`, `republish`), on
//! stderr, and only where a person is watching.
//!
//! A bar is drawn only when the binary has called [`enable`] and stderr is a terminal and neither
//! `-v` nor `-q` was given: `-v` means log lines, which a bar would garble; `-q` means silence;
//! and a pipe, a log file, CI or journald gets nothing of it (lychee's `progress.rs` does the
//! same). Library callers and tests never call [`enable`], so they never see a bar. Everything
//! else a command says goes through `tracing` (logs) or stdout (results), untouched by this.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether bars are drawn in this process; off until [`enable`] says otherwise.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns bars on for this process when stderr is a terminal and the log level is the default
/// (no `-v`, no `-q`). Called once by the binary.
pub fn enable(verbose: u8, quiet: bool) {
    let on = verbose == 0 && !quiet && std::io::stderr().is_terminal();
    ENABLED.store(on, Ordering::Relaxed);
}

/// A bar (or a spinner when the length is unknown) that draws nothing when bars are off, and
/// clears itself when dropped.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar over `len` steps of `what` ("feeds", "posts").
    pub fn bar(len: u64, what: &str) -> Progress {
        Progress::with(|| {
            let style = ProgressStyle::with_template(&format!(
                "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {what} {{msg}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()).with_style(style)
        })
    }

    /// A spinner saying `what` is being done, for steps that do not count.
    pub fn spinner(what: &str) -> Progress {
        let what = what.to_string();
        Progress::with(move || {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                .with_message(what);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        })
    }

    fn with(make: impl FnOnce() -> ProgressBar) -> Progress {
        Progress {
            bar: ENABLED.load(Ordering::Relaxed).then(make),
        }
    }

    /// Whether this bar draws anything.
    pub fn is_shown(&self) -> bool {
        self.bar.is_some()
    }

    /// One more step done.
    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// `done` of `total` steps (for callbacks that report both).
    pub fn set(&self, done: usize, total: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    }

    /// A short note after the count (the feed just finished, say).
    pub fn note(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(text.to_string());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_only_on_a_terminal_and_never_with_v_or_q() {
        enable(0, false);
        let bar = Progress::bar(10, "feeds");
        // `cargo test` captures output but not the descriptor: stderr may still be a terminal.
        assert_eq!(bar.is_shown(), std::io::stderr().is_terminal());
        bar.inc();
        bar.set(3, 10);
        bar.note("x");
        drop(bar);
        enable(1, false);
        assert!(!Progress::spinner("writing").is_shown());
        enable(0, true);
        assert!(!Progress::bar(1, "posts").is_shown());
    }
}
