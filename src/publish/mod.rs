//! Outputs derived from the store. They can always be rebuilt from it.
//!
//! - [`jekyll`]: the post format of the original archives, byte for byte.
//! - [`site`]: the HTML site of `newsvault build`, with templates a user can override.
//! - [`shards`]: the site's search index for static hosts, small JSON files that `site.js`
//!   fetches when there is no `/api/search`.
//! - [`git`]: commit (and push) the Jekyll outputs after a run, when `[publish.git]` asks.
//! - [`write_atomically`]: how every output file reaches the disk (temporary file, then rename),
//!   so a reader or a crash never sees half a file.

pub mod git;
pub mod jekyll;
pub mod shards;
pub mod site;

use std::io::Write;
use std::path::Path;

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
    let folder = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Keep the temporary name short enough for any file system: names can be 255 bytes already.
    let tag: String = name.chars().take(16).collect();
    let temp = folder.join(format!(
        "{TEMP_PREFIX}{}-{:x}-{}",
        std::process::id(),
        fastrand::u64(..),
        tag.replace(['/', '\\'], "_")
    ));
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
