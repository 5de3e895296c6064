//! Article pages: each rendered by a page worker from its record and versions, with a
//! character diff between each version and the one before (`diff_html`), the content
//! sanitised, text escaped for HTML (`escape`), and the article's link given to the template only
//! when it is one the site may show ([`shown_link`]).

use std::borrow::Cow;
use std::fmt::Write as _;

use minijinja::{Environment, Value, context};
use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::content::clean::sanitise;
use crate::content::is_showable_link;
use crate::publish::dates::{day, format_time, iso};
use crate::publish::shown_title;
use crate::search::plain_text;
use crate::store::ArticleRecord;

use super::files::InPlace;
use super::templates::template_error;
use super::{SiteError, val};

/// An article page to render: the record, its versions (when more than one) and its source's
/// slug.
pub(super) struct PageJob {
    pub(super) record: ArticleRecord,
    pub(super) versions: Vec<VersionView>,
    pub(super) slug: String,
}

/// What one page worker did; the first error stops it.
#[derive(Default)]
pub(super) struct PagesDone {
    pub(super) rendered: usize,
    pub(super) written: usize,
    pub(super) unchanged: usize,
    pub(super) error: Option<SiteError>,
}

/// A page worker: renders and writes the article pages it receives until the channel closes.
pub(super) fn render_pages(
    env: &Environment<'static>,
    pending: crossbeam_channel::Receiver<PageJob>,
    in_place: &InPlace,
    title: &str,
) -> PagesDone {
    let mut done = PagesDone::default();
    for job in pending {
        let written = render_article(env, &job.record, &job.versions, &job.slug, title)
            .and_then(|html| in_place.write(&format!("a/{}.html", job.record.id), html.as_bytes()));
        match written {
            Ok(changed) => {
                done.rendered += 1;
                if changed {
                    done.written += 1;
                } else {
                    done.unchanged += 1;
                }
            }
            Err(error) => {
                done.error = Some(error);
                break;
            }
        }
    }
    done
}

/// One version as the article page shows it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct VersionView {
    title: String,
    first_seen: String,
    first_seen_iso: String,
    last_seen: String,
    last_seen_iso: String,
    /// HTML: the character diff against the version before (none for the first).
    diff: Option<Value>,
}

pub(super) fn version_views(versions: &[crate::store::VersionRecord]) -> Vec<VersionView> {
    let texts: Vec<String> = versions
        .iter()
        .map(|v| format!("{}\n{}", v.title, plain_text(&v.content)))
        .collect();
    versions
        .iter()
        .enumerate()
        .map(|(i, v)| VersionView {
            title: shown_title(&v.title).to_string(),
            first_seen: format_time(v.first_seen_ms),
            first_seen_iso: iso(v.first_seen_ms),
            last_seen: format_time(v.last_seen_ms),
            last_seen_iso: iso(v.last_seen_ms),
            diff: (i > 0).then(|| Value::from_safe_string(diff_html(&texts[i - 1], &texts[i]))),
        })
        .collect()
}

/// Equal text kept around each change in a diff; longer equal runs are shortened to "…".
const DIFF_CONTEXT: usize = 40;

/// A character diff of two plain texts as escaped HTML: `<del>` removed, `<ins>` added, long
/// unchanged stretches shortened. Characters, not words: Chinese has no spaces between words.
pub fn diff_html(old: &str, new: &str) -> String {
    let diff = TextDiff::configure()
        .timeout(std::time::Duration::from_millis(500))
        .diff_chars(old, new);
    let mut runs: Vec<(ChangeTag, String)> = Vec::new();
    for change in diff.iter_all_changes() {
        match runs.last_mut() {
            Some((tag, text)) if *tag == change.tag() => text.push_str(change.value()),
            _ => runs.push((change.tag(), change.value().to_string())),
        }
    }
    let mut out = String::new();
    let last = runs.len().saturating_sub(1);
    for (i, (tag, text)) in runs.iter().enumerate() {
        match tag {
            ChangeTag::Delete => write!(out, "<del>{}</del>", escape(text)).unwrap(),
            ChangeTag::Insert => write!(out, "<ins>{}</ins>", escape(text)).unwrap(),
            ChangeTag::Equal => {
                let chars: Vec<char> = text.chars().collect();
                let head = if i == 0 { 0 } else { DIFF_CONTEXT };
                let tail = if i == last { 0 } else { DIFF_CONTEXT };
                if chars.len() > head + tail + 1 {
                    let start: String = chars[..head].iter().collect();
                    let end: String = chars[chars.len() - tail..].iter().collect();
                    write!(out, "{}…{}", escape(&start), escape(&end)).unwrap();
                } else {
                    out.push_str(&escape(text));
                }
            }
        }
    }
    out
}

/// `text` with the five characters HTML needs escaped (unchanged, and not copied, without them).
pub(super) fn escape(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let special = |b: &u8| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'');
    let Some(first) = bytes.iter().position(special) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 16);
    let mut run = 0;
    for (at, b) in bytes.iter().enumerate().skip(first) {
        let escaped = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&text[run..at]);
        out.push_str(escaped);
        run = at + 1;
    }
    out.push_str(&text[run..]);
    Cow::Owned(out)
}

/// `link` when the site may make it a link (a web URL or a relative one, by the rule feed items
/// pass: [`is_showable_link`]), else empty. Articles imported from posts bring their `from:` as
/// it was written, `javascript:` included.
pub(super) fn shown_link(link: &str) -> &str {
    if is_showable_link(link) { link } else { "" }
}

/// `text` without the characters XML 1.0 forbids: the C0 controls but tab, line feed and
/// carriage return, and U+FFFE, U+FFFF (unchanged, and not copied, without them).
pub(super) fn without_forbidden_chars(text: &str) -> Cow<'_, str> {
    let forbidden = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
    };
    // The bytes first: a forbidden character is a C0 byte, or starts with 0xEF (so do many
    // CJK punctuation marks, looked at more closely).
    let suspect = text
        .bytes()
        .any(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0xEF);
    if !suspect || !text.chars().any(forbidden) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter(|&c| !forbidden(c)).collect())
}

fn render_article(
    env: &Environment<'static>,
    record: &ArticleRecord,
    versions: &[VersionView],
    slug: &str,
    title: &str,
) -> Result<String, SiteError> {
    let base = url::Url::parse(&record.link).ok();
    let content = sanitise(&record.body, base.as_ref(), false);
    let day = day(record.date_ms);
    let article = context! {
        id => record.id,
        title => shown_title(&record.title),
        source => record.source_name.clone(),
        source_url => format!("sources/{slug}/index.html"),
        link => shown_link(&record.link),
        day => day.clone(),
        day_url => format!("days/{day}.html"),
        published => record.published_ms.map(format_time),
        published_iso => record.published_ms.map(iso),
        archived => format_time(record.first_seen_ms),
        archived_iso => iso(record.first_seen_ms),
        updated => record.updated_ms.filter(|_| record.versions > 1).map(format_time),
        updated_iso => record.updated_ms.map(iso),
        versions => record.versions,
        gone => record.gone_ms.map(format_time),
        gone_iso => record.gone_ms.map(iso),
    };
    env.get_template("article.html")
        .and_then(|t| {
            t.render(context! {
                root => "../",
                site_title => title,
                generated => "",
                article,
                content => Value::from_safe_string(content),
                versions => val(versions),
            })
        })
        .map_err(template_error("article.html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_and_relative_links_are_shown() {
        for link in [
            "https://e.com/1",
            "http://e.com/?a=1&b=2",
            "/relative/page",
            "page.html",
        ] {
            assert_eq!(shown_link(link), link);
        }
        for link in [
            "javascript:alert(1)",
            " JavaScript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "",
        ] {
            assert_eq!(shown_link(link), "", "{link:?}");
        }
    }

    #[test]
    fn characters_xml_forbids_are_left_out() {
        assert_eq!(
            without_forbidden_chars("前\u{1}后\u{1F}，\u{FFFE}\u{FFFF}\t\r\n"),
            "前后，\t\r\n"
        );
        assert!(matches!(
            without_forbidden_chars("冬奥，北京\n"),
            Cow::Borrowed("冬奥，北京\n")
        ));
    }

    #[test]
    fn escaping_touches_the_five_characters_only() {
        assert_eq!(
            escape("<a href=\"x\">Tom & 'Jerry'</a> / 冬奥"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt; / 冬奥"
        );
        assert!(matches!(
            escape("冬奥 / plain"),
            Cow::Borrowed("冬奥 / plain")
        ));
    }

    #[test]
    fn diff_marks_the_changed_characters_and_escapes() {
        let html = diff_html("韩国支持<北京>举办冬奥", "韩国支持<北京>举办冬残奥");
        assert!(html.contains("<ins>残</ins>"), "{html}");
        assert!(html.contains("&lt;北京&gt;"), "{html}");
        assert!(!html.contains("<del>"), "{html}");
    }

    #[test]
    fn long_unchanged_text_is_shortened_around_changes() {
        let same = "长".repeat(200);
        let html = diff_html(&format!("{same}甲{same}"), &format!("{same}乙{same}"));
        assert!(html.contains('…'));
        assert!(html.chars().count() < 200, "{html}");
    }
}
