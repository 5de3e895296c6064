//! Outputs derived from the store. They can always be rebuilt from it.
//!
//! - [`jekyll`]: the post format of the original archives, byte for byte.
//! - [`permalink`]: where Jekyll serves a post, for the URLs of `search.json`.
//! - [`site`]: the HTML site of `newsvault build`, with templates a user can override.
//! - [`shards`]: the site's search index for static hosts, small JSON files that `site.js`
//!   fetches when there is no `/api/search`.
//! - [`git`]: commit (and push) the Jekyll outputs after a run, when `[publish.git]` asks.
//! - [`write_atomically`]: how an output file that exists is replaced (temporary file, then
//!   rename), so a reader or a crash never sees half of it; [`write_new`]: how a file that does
//!   not exist yet is created, in place, for callers that can tell an interrupted write later.
//! - [`shown_title`]: the title the site, its feed and search results show, a placeholder for
//!   an article without one.

pub mod dates;
pub mod git;
pub mod jekyll;
pub mod permalink;
pub mod shards;
pub mod site;

use std::io::Write;
use std::path::{Path, PathBuf};

/// What the site, its feed and search results show for an article without a title (an empty
/// link or heading otherwise).
pub const UNTITLED: &str = "(无标题)";

/// `title` as the site, its feed and search results show it: [`UNTITLED`] when it is empty or
/// only white space. (The Jekyll posts keep the title as it is.)
pub fn shown_title(title: &str) -> &str {
    if title.trim().is_empty() {
        UNTITLED
    } else {
        title
    }
}

/// Prefix of the temporary files that [`write_atomically`] renames into place.
pub const TEMP_PREFIX: &str = ".newsvault-tmp-";

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so the
/// file is either the old one or the new one, never a mix. Skips the write when the file already
/// holds exactly these bytes.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    if let Ok(existing) = std::fs::read(path)
        && existing == bytes
    {
        return Ok(false);
    }
    let temp = temporary_beside(path);
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map(|()| true)
}

/// Whether the files at `a` and `b` hold the same bytes (false when `b` is missing), read side by
/// side until they differ: for a file written whole beside the one it would replace.
pub fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let (mut a, mut b) = match (std::fs::File::open(a)?, std::fs::File::open(b)) {
        (a, Ok(b)) => (a, b),
        (_, Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        (_, Err(e)) => return Err(e),
    };
    if a.metadata()?.len() != b.metadata()?.len() {
        return Ok(false);
    }
    let (mut left, mut right) = (vec![0; 64 * 1024], vec![0; 64 * 1024]);
    loop {
        let n = a.read(&mut left)?;
        if n == 0 {
            return Ok(true);
        }
        b.read_exact(&mut right[..n])?;
        if left[..n] != right[..n] {
            return Ok(false);
        }
    }
}

/// A fresh temporary name in `path`'s folder, for a file renamed to `path` once complete (and
/// swept by [`sweep_temporary_files`] if a crash leaves it): [`TEMP_PREFIX`], the process, a
/// random number and the start of the name, short enough for any file system (names can be 255
/// bytes already).
pub fn temporary_beside(path: &Path) -> PathBuf {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tag: String = name.chars().take(16).collect();
    folder.join(format!(
        "{TEMP_PREFIX}{}-{:x}-{}",
        std::process::id(),
        fastrand::u64(..),
        tag.replace(['/', '\\'], "_")
    ))
}

/// Creates `path`, which must not exist, with `bytes`, in place: one file created instead of a
/// temporary one created and renamed. A write that fails removes the file; a write that is
/// killed leaves part of it, so callers use this only where their next run rewrites whatever
/// they did not record as written (posts not marked written, pages of a build with no state).
/// Returns `Ok(false)`, writing nothing, when the file exists after all.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    };
    if let Err(e) = file.write_all(bytes) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(true)
}

/// Removes temporary files that an interrupted write left in `folder`.
pub fn sweep_temporary_files(folder: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_article_without_a_title_shows_the_placeholder() {
        assert_eq!(shown_title(""), UNTITLED);
        assert_eq!(shown_title(" \n"), UNTITLED);
        assert_eq!(shown_title("冬奥"), "冬奥");
    }

    #[test]
    fn same_bytes_reads_to_the_first_difference() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        // Past one 64 KiB read, so that a difference in a later one counts.
        let long: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut late = long.clone();
        late[150_000] ^= 1;
        let a = file("a", &long);
        assert!(same_bytes(&a, &file("same", &long)).unwrap());
        assert!(!same_bytes(&a, &file("late", &late)).unwrap());
        assert!(!same_bytes(&a, &file("short", &long[..199_999])).unwrap());
        assert!(!same_bytes(&a, &dir.path().join("missing")).unwrap());
        assert!(same_bytes(&file("empty", b""), &file("empty too", b"")).unwrap());
    }

    #[test]
    fn write_new_creates_a_file_and_never_replaces_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.html");
        assert!(write_new(&path, b"first").unwrap());
        assert!(!write_new(&path, b"second").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let missing = dir.path().join("no/such/folder/b.html");
        assert!(write_new(&missing, b"x").is_err());
        assert!(!missing.exists());
    }
}
