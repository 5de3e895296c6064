//! Standard output, where commands print what the user asked for. A reader can go away before
//! the end (`newsvault search … | head -1`, a pager quit early) and close it: Rust ignores
//! SIGPIPE, so the next write fails with EPIPE, which `println!` turns into a panic (exit 101, a
//! backtrace), at whatever point the command had reached. Printed through here instead, a closed
//! stdout is remembered and whatever comes after is dropped, quietly, as other Unix tools stop:
//! the command finishes what is not printing (a run still archives everything) and exits with
//! its own code. Any other failure to write (a full disk under `> file`) is an error naming
//! standard output, except in what a run reports along its work ([`report`]), which is logged.

use std::fmt::Display;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write found stdout closed by its reader.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writing to standard output failed, for another reason than its reader having closed it.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output: {0}")]
pub struct StdoutError(std::io::Error);

/// Writes `text` to stdout and flushes it; nothing once stdout has been found closed.
pub fn print(text: impl Display) -> Result<(), StdoutError> {
    if is_closed() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    settle(write!(out, "{text}").and_then(|()| out.flush()))
}

/// [`print()`] and a line end.
pub fn println(text: impl Display) -> Result<(), StdoutError> {
    print(format_args!("{text}\n"))
}

/// [`print()`] for what a command reports along its work (a run's summary, `watch`'s schedule),
/// which printing must not stop: a failure other than a closed stdout is logged.
pub fn report(text: impl Display) {
    if let Err(e) = print(text) {
        tracing::warn!("{e}");
    }
}

/// What a write to stdout gave, for code that writes it directly (a streamed export): its
/// reader having closed it is remembered ([`is_closed`]) and is no error.
pub fn settle(written: std::io::Result<()>) -> Result<(), StdoutError> {
    match written {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => other.map_err(StdoutError),
    }
}

/// Whether stdout's reader has closed it.
pub fn is_closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}
