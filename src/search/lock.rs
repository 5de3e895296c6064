//! One writer of the search index at a time, across processes: an advisory `flock` on a file
//! beside the index folder, `<folder>.lock` (`.newsvault/index.lock`).
//!
//! tantivy's own writer lock is a file inside the index folder: it cannot guard the folder
//! itself, which a build from scratch removes and makes again, under the feet of another process
//! building into it or judging it damaged. This lock, outside the folder, is taken before
//! anything in the folder is written, removed or judged damaged, and held until the index's state
//! is written; tantivy's lock is only ever taken under it, so no newsvault process finds that
//! one busy. A process that must write the index and finds this lock held waits for it, polling,
//! up to [`WAIT`], and then looks at the index again: the other process may have done the work.
//!
//! Reading needs no lock: a process that finds it held reads an index already current without
//! it (see `update_index_paced`), so a `search` waits only when the index must be written.
//! Waiting rather than building into a fresh folder renamed into place: a folder cannot be
//! renamed over a full one in one step, and waiting keeps a second process from building the
//! same index again for nothing.
//!
//! As with the archive's lock (`crate::lock`), the kernel drops the lock when its holder exits,
//! however it exits, and the file is never deleted (a process would otherwise lock a new file
//! while another still holds the unlinked one).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::SearchError;

/// How long a process waits for another to finish writing the index before it gives up: several
/// times what a build from scratch of a large archive takes (9.56 s at 50,372 articles, README
/// "Performance").
pub(super) const WAIT: Duration = Duration::from_secs(60);

/// How often a waiting process asks for the lock again.
const POLL: Duration = Duration::from_millis(100);

/// The lock on the index in one folder, held while this lives.
pub(super) struct IndexLock {
    _file: File,
}

impl IndexLock {
    /// Takes the lock on the index in `dir`, waiting up to `wait` while another process (or
    /// another thread of this one) holds it: `None` when it still does.
    pub(super) fn acquire(dir: &Path, wait: Duration) -> Result<Option<IndexLock>, SearchError> {
        let path = lock_path(dir);
        let error = |cause| SearchError::Lock {
            path: path.clone(),
            cause,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(error)?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(error)?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(IndexLock { _file: file })),
                Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(POLL)
                }
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(cause)) => return Err(error(cause)),
            }
        }
    }
}

/// The lock file of the index in `dir`: beside the folder, named after it.
fn lock_path(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    dir.with_file_name(name)
}
