//! The output folder: what it holds before a build (read once), pages written in place or
//! replaced atomically (a page with the same bytes left untouched), every path the build
//! produced remembered, and the pages an earlier build wrote that this one no longer produces
//! removed. The folder may hold files of its owner's (`build --out DIR`): a page is removed only
//! when the build state says a build wrote it.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::OnceLock;

use crate::publish::{TEMP_PREFIX, write_atomically, write_new};

use super::{SiteError, SiteReport};

/// Writes pages through [`write_atomically`] and remembers every path this build produced.
pub(super) struct Writer<'a> {
    pub(super) out: &'a Path,
    pub(super) in_place: &'a InPlace<'a>,
    pub(super) report: SiteReport,
    pub(super) keep: HashSet<String>,
    /// List fingerprints of the last build (none when the templates changed).
    pub(super) old_lists: HashMap<String, String>,
    /// List fingerprints of this build.
    pub(super) lists: HashMap<String, String>,
}

impl Writer<'_> {
    /// Whether list page `relative`, whose inputs hash to `print`, is on disk as the last build
    /// left it; then it counts as kept and unchanged, and need not be rendered.
    pub(super) fn fresh(&mut self, relative: &str, print: String) -> bool {
        let fresh = self.old_lists.get(relative) == Some(&print)
            && self.in_place.on_disk.contains(relative);
        self.lists.insert(relative.to_string(), print);
        if fresh {
            self.keep.insert(relative.to_string());
            self.report.unchanged += 1;
        }
        fresh
    }

    pub(super) fn write(&mut self, relative: &str, bytes: &[u8]) -> Result<(), SiteError> {
        let path = self.out.join(relative);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|cause| SiteError::Write {
                path: folder.to_path_buf(),
                cause,
            })?;
        }
        let changed = self.in_place.write(relative, bytes)?;
        if changed {
            self.report.written += 1;
        } else {
            self.report.unchanged += 1;
        }
        self.keep.insert(relative.to_string());
        Ok(())
    }
}

/// The files (by path relative to `out`, with `/`) that the output folder holds before the
/// build, read once instead of asking for each page; temporary files an interrupted build left
/// are removed on the way.
pub(super) fn pages_on_disk(out: &Path) -> std::io::Result<HashSet<String>> {
    let mut pages = HashSet::new();
    let mut stack = vec![String::new()];
    while let Some(relative) = stack.pop() {
        let entries = match std::fs::read_dir(out.join(&relative)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if relative.is_empty() {
                name.clone()
            } else {
                format!("{relative}/{name}")
            };
            if name.starts_with(TEMP_PREFIX) {
                std::fs::remove_file(entry.path())?;
            } else if entry.file_type()?.is_dir() {
                stack.push(path);
            } else {
                pages.insert(path);
            }
        }
    }
    Ok(pages)
}

/// Removes the pages (`.html` and `.xml` files) of the output folder that an earlier build
/// wrote (`built`, from the build state) and this one did not produce. Any other file is not
/// the build's to remove: with no state, nothing is removed.
pub(super) fn remove_stale(
    out: &Path,
    on_disk: &HashSet<String>,
    built: &HashSet<String>,
    keep: &HashSet<String>,
) -> std::io::Result<usize> {
    let mut removed = 0;
    let pages = built
        .iter()
        .filter(|path| on_disk.contains(*path) && !keep.contains(*path))
        .filter(|path| path.ends_with(".html") || path.ends_with(".xml"));
    for page in pages {
        match std::fs::remove_file(out.join(page)) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// How the build writes a page: a page that is on disk is replaced atomically
/// ([`write_atomically`], and left alone when its bytes are the same); a new one is created in
/// place ([`write_new`]: a full build into an empty folder makes each page with one file
/// operation instead of three). A build killed during such a write leaves part of a page, which
/// the next build must not trust: the build state goes before the first one, so the next build
/// renders every page and compares it with the disk. The state is not removed but replaced by
/// `forgotten_state`, which trusts no fingerprint and keeps only the list of the pages builds
/// wrote, so that the next build still knows which pages are its own to remove.
pub(super) struct InPlace<'a> {
    pub(super) out: &'a Path,
    pub(super) on_disk: &'a HashSet<String>,
    pub(super) state: &'a Path,
    /// The state that replaces the last build's before the first page is written in place.
    pub(super) forgotten_state: Vec<u8>,
    /// Whether the state is forgotten (or could not be: then every write is atomic).
    pub(super) forgotten: OnceLock<bool>,
}

impl InPlace<'_> {
    /// Writes page `relative`; returns whether its bytes changed on disk.
    pub(super) fn write(&self, relative: &str, bytes: &[u8]) -> Result<bool, SiteError> {
        let path = self.out.join(relative);
        let error = |cause| SiteError::Write {
            path: path.clone(),
            cause,
        };
        let forgotten = || {
            *self
                .forgotten
                .get_or_init(|| write_atomically(self.state, &self.forgotten_state).is_ok())
        };
        if !self.on_disk.contains(relative)
            && forgotten()
            && write_new(&path, bytes).map_err(error)?
        {
            return Ok(true);
        }
        write_atomically(&path, bytes).map_err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::site::STATE_FILE;

    #[test]
    fn a_new_page_written_in_place_takes_the_build_state_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        std::fs::create_dir(out.join("a")).unwrap();
        std::fs::write(out.join("a/1.html"), "old").unwrap();
        std::fs::create_dir(out.join("assets")).unwrap();
        std::fs::write(out.join("assets/site.css"), "a{}").unwrap();
        let state = out.join(STATE_FILE);
        std::fs::write(&state, "{\"templates\":\"t\"}").unwrap();
        let on_disk = pages_on_disk(out).unwrap();
        assert_eq!(
            on_disk,
            HashSet::from(["a/1.html", "assets/site.css", STATE_FILE].map(String::from))
        );
        let in_place = InPlace {
            out,
            on_disk: &on_disk,
            state: &state,
            forgotten_state: b"{\"templates\":\"\"}".to_vec(),
            forgotten: OnceLock::new(),
        };
        // A page on disk is replaced atomically: the state stays.
        assert!(in_place.write("a/1.html", b"new").unwrap());
        assert!(!in_place.write("a/1.html", b"new").unwrap());
        assert!(in_place.write("assets/site.css", b"b{}").unwrap());
        assert_eq!(std::fs::read(&state).unwrap(), b"{\"templates\":\"t\"}");
        // A new page is created in place, and the state is forgotten first: had the build been
        // killed during the write, the next build would not trust the half page.
        assert!(in_place.write("a/2.html", b"two").unwrap());
        assert_eq!(std::fs::read(&state).unwrap(), b"{\"templates\":\"\"}");
        assert_eq!(std::fs::read(out.join("a/2.html")).unwrap(), b"two");
        assert_eq!(std::fs::read(out.join("a/1.html")).unwrap(), b"new");
    }

    #[test]
    fn only_pages_a_build_wrote_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        for name in [
            "a/1.html",
            "a/2.html",
            "mine.html",
            "notes/feed.xml",
            "days/x.html",
        ] {
            let path = out.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let on_disk = pages_on_disk(out).unwrap();
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<HashSet<_>>();
        // No state: nothing is removed.
        let keep = set(&["a/1.html"]);
        assert_eq!(remove_stale(out, &on_disk, &set(&[]), &keep).unwrap(), 0);
        assert_eq!(pages_on_disk(out).unwrap(), on_disk);
        // Pages a build wrote and this one did not are; the others stay.
        let built = set(&["a/1.html", "a/2.html", "days/x.html", "gone.html"]);
        assert_eq!(remove_stale(out, &on_disk, &built, &keep).unwrap(), 2);
        assert_eq!(
            pages_on_disk(out).unwrap(),
            set(&["a/1.html", "mine.html", "notes/feed.xml"])
        );
    }
}
