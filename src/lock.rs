//! One archive, one writer: the lock file `<archive>/.newsvault/lock`.
//!
//! `run` (and `watch`, which holds it across runs) takes an [`ArchiveLock`] before it opens the
//! store. A second writer on the same archive folder is refused with a message naming the holder
//! ("archive X is locked by newsvault pid N since T"). Readers (`backup`, `status`) do not take it.
//!
//! # Why `flock` and not "a file with a pid in it"
//!
//! The lock is an advisory `flock` on the file (std's [`File::try_lock`], no extra crate). The
//! kernel drops it when the holder exits for any reason, SIGKILL and power loss included, so a
//! lock left by a dead process is taken over without guessing: no `kill(pid, 0)` probe, no
//! confusion when the dead holder's pid has been reused by another program, and no window in
//! which two processes both decide a lock is stale and both take it. The file's contents (pid and
//! start time) only serve the refusal message and the log line on takeover; they are never
//! trusted to decide who holds the lock.
//!
//! The holder clears the contents when it releases the lock, so contents found by the next
//! holder mean the previous one did not finish (it crashed or was killed): that is logged.
//! The file itself is never deleted: deleting it would let a newcomer lock a fresh file while an
//! old waiter still locks the unlinked one.
//!
//! Not covered: `flock` on some network file systems (old NFS) is not shared between machines,
//! so two machines sharing one archive over such a mount are not kept apart. File descriptors
//! opened by std are close-on-exec, so child processes (`git`) do not inherit the lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::clock::Clock;

/// The lock file's path inside the archive folder (next to the default store; Jekyll ignores
/// dot-folders).
pub const LOCK_FILE: &str = ".newsvault/lock";

/// How often, and how long apart, a lock held by nobody named is asked for again (see
/// [`ArchiveLock::acquire`]): 2 s in all.
const TRANSIENT_TRIES: u32 = 40;
const TRANSIENT_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// Why the lock could not be taken.
#[derive(Debug, Error)]
pub enum LockError {
    /// Another live process holds the lock.
    #[error("archive {archive} is locked by {holder}; wait for it to finish or stop it")]
    Held { archive: PathBuf, holder: Holder },
    #[error("archive {archive} is not a folder (the config's `archive` names a file)")]
    NotAFolder { archive: PathBuf },
    #[error("cannot use the lock file {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Who holds (or last held) a lock, as its file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Process id; `None` when the file did not say (it is being rewritten, or not ours).
    pub pid: Option<u32>,
    /// When the holder took the lock (RFC 3339, system clock).
    pub since: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "newsvault pid {pid}")?,
            None => write!(f, "another newsvault process")?,
        }
        if let Some(since) = &self.since {
            write!(f, " since {since}")?;
        }
        Ok(())
    }
}

impl Holder {
    /// Reads `pid=` and `since=` lines; anything else is ignored.
    fn parse(text: &str) -> Option<Holder> {
        let mut holder = Holder {
            pid: None,
            since: None,
        };
        for line in text.lines() {
            match line.split_once('=') {
                Some(("pid", value)) => holder.pid = value.trim().parse().ok(),
                Some(("since", value)) => holder.since = Some(value.trim().to_string()),
                _ => {}
            }
        }
        (holder.pid.is_some() || holder.since.is_some()).then_some(holder)
    }
}

/// The held lock of one archive folder; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct ArchiveLock {
    /// The open, `flock`ed file: holding it open is holding the lock.
    file: File,
    path: PathBuf,
}

impl ArchiveLock {
    /// Takes the lock of `archive`, or says who holds it. Waits only for a lock whose file names
    /// no holder (at most 2 s; see below).
    ///
    /// The "since" shown to others comes from the system clock even when `NEWSVAULT_NOW` fixes
    /// the archive's clock: it describes this process, not the archive's data.
    pub fn acquire(archive: &Path) -> Result<ArchiveLock, LockError> {
        if archive.exists() && !archive.is_dir() {
            return Err(LockError::NotAFolder {
                archive: archive.to_path_buf(),
            });
        }
        let path = archive.join(LOCK_FILE);
        let io = |cause| LockError::Io {
            path: path.clone(),
            cause,
        };
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // A lock held while the file names nobody is held only for a moment: by a new holder
        // between taking it and writing its pid, or by a child process forked (for `git`, or by
        // a test harness) in another thread after a holder released it, until that child's exec
        // closes the inherited descriptor. Such a lock is asked for again for a short while
        // before giving up; a lock whose file names its holder is refused at once.
        let mut patience = TRANSIENT_TRIES;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let holder = read_holder(&mut file);
                    if holder.is_none() && patience > 0 {
                        patience -= 1;
                        std::thread::sleep(TRANSIENT_WAIT);
                        continue;
                    }
                    return Err(LockError::Held {
                        archive: archive.to_path_buf(),
                        holder: holder.unwrap_or(Holder {
                            pid: None,
                            since: None,
                        }),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        if let Some(previous) = read_holder(&mut file)
            && previous.pid != Some(std::process::id())
        {
            tracing::warn!(
                "taking over the lock of {} left by {previous}, which did not finish",
                archive.display()
            );
        }
        let since = Clock::System.now().to_rfc3339();
        let contents = format!("pid={}\nsince={since}\n", std::process::id());
        (|| {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(contents.as_bytes())?;
            file.sync_data()
        })()
        .map_err(io)?;
        Ok(ArchiveLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ArchiveLock {
    fn drop(&mut self) {
        // Still holding the lock here, so nobody reads a half-cleared file; an empty file tells
        // the next holder that this one finished. The lock itself goes with the descriptor.
        let _ = self.file.set_len(0);
    }
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    Holder::parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = ArchiveLock::acquire(dir.path()).unwrap();
        let err = ArchiveLock::acquire(dir.path()).unwrap_err();
        let message = err.to_string();
        let expected = format!(
            "archive {} is locked by newsvault pid {} since ",
            dir.path().display(),
            std::process::id()
        );
        assert!(message.starts_with(&expected), "{message}");
        drop(first);
        let again = ArchiveLock::acquire(dir.path()).unwrap();
        assert_eq!(again.path(), dir.path().join(LOCK_FILE));
    }

    #[test]
    fn release_clears_the_file_and_a_crash_leaves_it() {
        let dir = tempfile::tempdir().unwrap();
        let lock = ArchiveLock::acquire(dir.path()).unwrap();
        let text = std::fs::read_to_string(lock.path()).unwrap();
        assert_eq!(
            Holder::parse(&text).unwrap().pid,
            Some(std::process::id()),
            "{text}"
        );
        let path = lock.path().to_path_buf();
        drop(lock);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }

    #[test]
    fn holder_parsing_ignores_noise() {
        assert_eq!(Holder::parse(""), None);
        assert_eq!(Holder::parse("garbage"), None);
        let holder = Holder::parse("pid=42\nsince=2024-01-01T00:00:00+00:00\nhost=x\n").unwrap();
        assert_eq!(holder.pid, Some(42));
        assert_eq!(
            holder.to_string(),
            "newsvault pid 42 since 2024-01-01T00:00:00+00:00"
        );
    }
}
