//! Getting the archive out: every article version as JSON Lines, and the source list as OPML
//! that `import opml` turns back into the same sources.
//!
//! `export jsonl` streams rows straight from SQLite to the writer, one line per version, so its
//! memory stays flat whatever the size of the archive. An export to a file ([`write_to_file`])
//! goes to a temporary file beside it, renamed over it when complete: the file is the whole new
//! export, or the one it was.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::publish::temporary_beside;
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

/// The `<outline>` attribute that carries a source's `id`, on each of its feeds, when the config
/// sets one. OPML lets outlines carry attributes of their own; other readers ignore it, and
/// `import opml` gives the source back its id.
pub const OPML_ID_ATTRIBUTE: &str = "newsvaultId";

/// Writes an export into the file `out` with `write`. A regular file (or one `out` links to) is
/// replaced only once `write` has finished: the export goes to a temporary file beside it, which
/// is synced, given the old file's permissions and renamed over it, so a failed or interrupted
/// export leaves the file it had (an interrupted one leaves its temporary file too, named with
/// [`crate::publish::TEMP_PREFIX`]). Anything else (a FIFO, a device such as `/dev/stdout`) has nothing to
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

/// The configured sources as an OPML 2.0 document: one `<outline type="rss">` per feed, as every
/// OPML reader takes them, named after its source. The feeds of one source share its name (and
/// its id, when the config sets one), which is how `import opml` puts them back together.
pub fn export_opml(config: &Config) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n<head><title>newsvault sources</title></head>\n<body>\n",
    );
    for source in &config.sources {
        let id = source
            .id
            .as_ref()
            .map(|id| format!(" {OPML_ID_ATTRIBUTE}=\"{}\"", escape(id)))
            .unwrap_or_default();
        for feed in &source.feeds {
            out.push_str(&format!(
                "<outline type=\"rss\" text=\"{0}\" title=\"{0}\" xmlUrl=\"{1}\"{id}/>\n",
                escape(&source.name),
                escape(feed)
            ));
        }
    }
    out.push_str("</body>\n</opml>\n");
    out
}

/// Text as an XML attribute value between double quotes. Control characters become character
/// references, so a reader's attribute normalisation keeps tabs and line breaks; NUL, which XML
/// cannot hold at all, is left out.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => {}
            c if c.is_control() => out.push_str(&format!("&#{};", u32::from(c))),
            c => out.push(c),
        }
    }
    out
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
    fn sources_with_several_feeds_and_an_id_survive_export_and_import() {
        let text = "[[source]]\nname = \"BBC & 中文\"\nid = \"bbc\"\nfeeds = [\"https://e.com/a?x=1&y=2\", \"https://e.com/b\"]\n\n[[source]]\nname = \"two\\nlines\"\nfeeds = [\"https://e.com/c\", \"https://e.com/d\"]\n\n[[source]]\nname = \"one\"\nfeeds = [\"https://e.com/e\"]\n";
        let parse = |text: &str| {
            Config::parse(
                text,
                std::path::Path::new("t.toml"),
                std::path::Path::new("/"),
            )
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
        };
        let config = parse(text);
        let opml = export_opml(&config);
        // Every feed stays an outline any OPML reader takes.
        assert_eq!(opml.matches("<outline type=\"rss\" ").count(), 5, "{opml}");
        assert_eq!(opml.matches(" xmlUrl=\"").count(), 5, "{opml}");
        let back = parse(&opml_to_toml(&opml).unwrap().0);
        let sources = |config: &Config| -> Vec<(String, Option<String>, Vec<String>)> {
            config
                .sources
                .iter()
                .map(|s| (s.name.clone(), s.id.clone(), s.feeds.clone()))
                .collect()
        };
        assert_eq!(sources(&back), sources(&config), "{opml}");
    }
}
