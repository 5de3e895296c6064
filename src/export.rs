//! Getting the archive out: every article version as JSON Lines, and the source list as OPML.
//!
//! `export jsonl` streams rows straight from SQLite to the writer, one line per version, so its
//! memory stays flat whatever the size of the archive.

use std::io::Write;

use crate::config::Config;
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
