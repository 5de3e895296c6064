//! Getting the archive out: every article version as JSON Lines, and the source list as OPML.
//!
//! `export jsonl` streams rows straight from SQLite to the writer, one line per version, so its
//! memory stays flat whatever the size of the archive. An export to a file ([`write_to_file`])
//! goes to a temporary file beside it, renamed over it when complete: the file is the whole new
//! export, or the one it was.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::publish::TEMP_PREFIX;
use crate::store::{Store, StoreError};

/// Writes every version of every article as one JSON object per line; returns the count.
pub fn export_jsonl(store: &Store, out: &mut impl Write) -> Result<usize, ExportError> {
    let mut count = 0;
    store.for_each_version(|row| {
        serde_json::to_writer(&mut *out, row)?;
        out.write_all(b"\n")?;
        count += 1;
        Ok(())
    })??;
    out.flush()?;
    Ok(count)
}

/// Writes an export into the file `out` with `write`. A regular file (or one `out` links to) is
/// replaced only once `write` has finished: the export goes to a temporary file beside it, which
/// is synced, given the old file's permissions and renamed over it, so a failed or interrupted
/// export leaves the file it had (an interrupted one leaves its temporary file too, named with
/// [`TEMP_PREFIX`]). Anything else (a FIFO, a device such as `/dev/stdout`) has nothing to
/// replace and is written directly.
pub fn write_to_file<T>(
    out: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<T, ExportError>,
) -> Result<T, ExportError> {
    let failed = |cause| ExportError::File {
        path: out.to_path_buf(),
        cause,
    };
    // Errors of `write` while writing name the file.
    let named = |e| match e {
        ExportError::Io(cause) => failed(cause),
        other => other,
    };
    let existing = std::fs::metadata(out).ok();
    if let Some(meta) = existing.as_ref().filter(|meta| !meta.is_file()) {
        if meta.is_dir() {
            return Err(failed(std::io::Error::other("it is a folder")));
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(out)
            .map_err(failed)?;
        let mut writer = BufWriter::new(file);
        let value = write(&mut writer).map_err(named)?;
        writer.flush().map_err(failed)?;
        return Ok(value);
    }
    // Through a link, the file it points to is replaced and the link kept.
    let target = match existing {
        Some(_) => std::fs::canonicalize(out).map_err(failed)?,
        None => out.to_path_buf(),
    };
    let temp = temporary_beside(&target);
    let written = (|| {
        let file = File::create(&temp).map_err(failed)?;
        let mut writer = BufWriter::new(file);
        let value = write(&mut writer).map_err(named)?;
        let file = writer.into_inner().map_err(|e| failed(e.into_error()))?;
        if let Some(meta) = &existing {
            file.set_permissions(meta.permissions()).map_err(failed)?;
        }
        file.sync_all().map_err(failed)?;
        drop(file);
        std::fs::rename(&temp, &target).map_err(failed)?;
        Ok(value)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// A temporary file's name in `path`'s folder, for writing `path` whole.
fn temporary_beside(path: &Path) -> PathBuf {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Short enough for any file system whatever the length of the name.
    let tag: String = name.chars().take(16).collect();
    folder.join(format!(
        "{TEMP_PREFIX}{}-{:x}-{tag}",
        std::process::id(),
        fastrand::u64(..)
    ))
}

/// The configured sources as an OPML 2.0 document.
pub fn export_opml(config: &Config) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n<head><title>newsvault sources</title></head>\n<body>\n",
    );
    for source in &config.sources {
        for feed in &source.feeds {
            out.push_str(&format!(
                "<outline type=\"rss\" text=\"{0}\" title=\"{0}\" xmlUrl=\"{1}\"/>\n",
                escape(&source.name),
                escape(feed)
            ));
        }
    }
    out.push_str("</body>\n</opml>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing the export: {0}")]
    Io(std::io::Error),
    #[error("cannot write the export to {}: {cause}", .path.display())]
    File {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

// Like every error of newsvault, the message shows the cause, which is not chained as well.
impl From<std::io::Error> for ExportError {
    fn from(cause: std::io::Error) -> ExportError {
        ExportError::Io(cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::opml_to_toml;

    #[test]
    fn opml_round_trips_through_import() {
        let config = Config::parse(
            "[[source]]\nname = \"BBC & 中文\"\nfeeds = [\"https://e.com/a?x=1&y=2\", \"https://e.com/b\"]\n",
            std::path::Path::new("t.toml"),
            std::path::Path::new("/"),
        )
        .unwrap();
        let toml = opml_to_toml(&export_opml(&config)).unwrap();
        assert!(
            toml.contains("name = \"BBC & 中文\"\nfeeds = [\"https://e.com/a?x=1&y=2\"]"),
            "{toml}"
        );
    }
}
