//! Stopping on SIGINT / SIGTERM without losing work.
//!
//! [`listen`] installs the signal handlers at once (a signal arriving before the run looks at
//! them must not kill the process the default way) and returns the shutdown future that
//! [`crate::run::run_until`] takes, in the shape of mini-redis's `server::run(listener,
//! shutdown)`. The first signal completes the future: the run stops between two feeds, commits
//! what it ingested, publishes it and exits 0. A second signal exits at once with 128 + the
//! signal number; that is safe too, because the store only ever holds committed transactions and
//! every output file is replaced by a rename, but the run's uncommitted work is lost.
//!
//! It does not stop child processes (`git`): they get the terminal's SIGINT themselves, and
//! service managers signal the whole process group.

use tokio::signal::unix::{SignalKind, signal};

/// Listens for SIGINT and SIGTERM from now on; the future completes at the first of them.
pub fn listen() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::warn!(
            "{name}: finishing the writes in progress, then exiting (signal again to stop now)"
        );
        tokio::spawn(async move {
            let code = tokio::select! {
                _ = terminate.recv() => 128 + 15,
                _ = interrupt.recv() => 128 + 2,
            };
            eprintln!("newsvault: stopping now; the store keeps its last commit");
            std::process::exit(code);
        });
    })
}
