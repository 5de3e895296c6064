//! An article's history: its versions with the times they were seen, its events, and a diff
//! between any two versions.
//!
//! The diff works on characters, not words: Chinese has no spaces between words, so a word diff
//! would mark whole paragraphs as changed where one word was; a character diff shows that word.
//! Runs of changed characters are printed as `[-removed-]` and `{+added+}`.

use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

use crate::content::join_lines;
use crate::publish::jekyll::format_date;
use crate::store::{Store, StoreError, VersionRecord};

/// A character-level diff of two texts, changes marked inline.
pub fn diff_text(old: &str, new: &str) -> String {
    let diff = TextDiff::configure()
        .timeout(std::time::Duration::from_secs(2))
        .diff_chars(old, new);
    let mut out = String::new();
    let mut open: Option<ChangeTag> = None;
    for change in diff.iter_all_changes() {
        let tag = change.tag();
        if open != Some(tag) {
            close(&mut out, open);
            match tag {
                ChangeTag::Delete => out.push_str("[-"),
                ChangeTag::Insert => out.push_str("{+"),
                ChangeTag::Equal => {}
            }
            open = Some(tag);
        }
        out.push_str(change.value());
    }
    close(&mut out, open);
    out
}

fn close(out: &mut String, tag: Option<ChangeTag>) {
    match tag {
        Some(ChangeTag::Delete) => out.push_str("-]"),
        Some(ChangeTag::Insert) => out.push_str("+}"),
        _ => {}
    }
}

/// The text of a version as compared: title, then the content's lines joined.
fn text_of(version: &VersionRecord) -> String {
    format!("{}\n{}", version.title, join_lines(&version.content))
}

/// `newsvault history`: the versions and events of article `id`, and the diff between versions
/// `from` and `to` (1-based; by default each version against the one before it).
pub fn describe_history(
    store: &Store,
    id: i64,
    between: Option<(usize, usize)>,
) -> Result<String, HistoryError> {
    let versions = store.versions(id)?;
    let mut out = String::new();
    let _ = writeln!(out, "article {id}: {} version(s)", versions.len());
    for (i, v) in versions.iter().enumerate() {
        let _ = writeln!(
            out,
            "  v{}  first seen {}  last seen {}  {}",
            i + 1,
            format_date(v.first_seen_ms),
            format_date(v.last_seen_ms),
            v.title
        );
    }
    let _ = writeln!(out, "events:");
    for (kind, at, detail) in store.events(id)? {
        let _ = writeln!(
            out,
            "  {}  {kind}{}",
            format_date(at),
            detail.map(|d| format!("  {d}")).unwrap_or_default()
        );
    }
    let pairs: Vec<(usize, usize)> = match between {
        Some((a, b)) => {
            for n in [a, b] {
                if n == 0 || n > versions.len() {
                    return Err(HistoryError::NoSuchVersion {
                        asked: n,
                        count: versions.len(),
                    });
                }
            }
            vec![(a, b)]
        }
        None => (1..versions.len()).map(|i| (i, i + 1)).collect(),
    };
    for (a, b) in pairs {
        let _ = writeln!(out, "diff v{a} -> v{b}:");
        let _ = writeln!(
            out,
            "{}",
            diff_text(&text_of(&versions[a - 1]), &text_of(&versions[b - 1]))
        );
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("no version {asked}: the article has {count}")]
    NoSuchVersion { asked: usize, count: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_chinese_word_shows_as_that_word() {
        assert_eq!(
            diff_text("韩国支持北京举办冬奥", "韩国反对北京举办冬奥"),
            "韩国[-支持-]{+反对+}北京举办冬奥"
        );
        assert_eq!(diff_text("same", "same"), "same");
    }
}
