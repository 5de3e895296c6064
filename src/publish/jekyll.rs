//! The Jekyll tree: `_posts/`, `lists/<source>.md` and `search.json`.
//!
//! The post format is the original archives' (see `tests/fixtures/golden/`), byte for byte:
//!
//! ```text
//! ---
//! layout: post
//! title: "<title, YAML-escaped>"
//! date: <min(published, first seen), ISO 8601 UTC with milliseconds>
//! author: <source name>
//! from: <link>
//! tags: [ <tags> ]
//! categories: [ <categories> ]
//! ---
//! <!--<the feed's date in ms>-->
//! [<title>](<link>)
//! ------
//!
//! <div>
//! <content, one line>
//! </div>
//! ```
//!
//! What the original got wrong is put right without touching posts that did not hit it: values
//! are YAML-escaped where they need it, file names stay under 255 bytes and inside `_posts/`,
//! a taken name gets a short hash, and only posts whose text holds Liquid markers, or that were
//! edited, carry extra keys (after the original ones).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{Datelike, FixedOffset};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use ring::digest::{SHA256, digest as digest_of};

use super::dates::{day, push_two, utc};
use super::{write_atomically, write_new};
use crate::store::{ListItem, PostRecord, SearchRow, Store, StoreError};

/// Posts folder under the archive.
pub const POSTS_DIR: &str = "_posts";
/// Source pages folder under the archive.
pub const LISTS_DIR: &str = "lists";
/// Posts listed per source page.
pub const LIST_LENGTH: usize = 300;
/// Characters of the title that go into a file name.
pub const NAME_TITLE_CHARS: usize = 50;
/// Longest file name most file systems accept, in bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// Characters of an article's text in `search.json`'s `desc`.
pub const DESC_CHARS: usize = 100;

/// What one publish wrote.
#[derive(Debug, Default, Clone)]
pub struct PublishReport {
    pub posts_written: usize,
    pub lists_written: usize,
    pub search_json_written: bool,
    /// Posts that could not be written (they stay pending for the next run).
    pub failures: Vec<String>,
    /// The list page or search.json that could not be written, and why: the run's posts stay
    /// pending, and the next run writes them (untouched, as their bytes are the same) and these.
    pub indexes_failed: Option<String>,
}

/// The file names a new article may take, in order of preference: `<day>-<title>.md`, else with
/// a short hash of its identity before `.md` (made only when asked for: a taken name is rare).
pub fn post_names(date_ms: i64, title: &str, identity: String) -> impl Iterator<Item = String> {
    let day = day(date_ms);
    let title: String = title
        .chars()
        .filter(|c| !c.is_control())
        .take(NAME_TITLE_CHARS)
        .collect();
    let title = title.replace('/', "--");
    let plain = fit_name(&day, &title, ".md");
    let hashed = [8, 16, 64].into_iter().scan(None, move |digest, n| {
        let digest: &mut String =
            digest.get_or_insert_with(|| hex::encode(digest_of(&SHA256, identity.as_bytes())));
        Some(fit_name(&day, &title, &format!("-{}.md", &digest[..n])))
    });
    std::iter::once(plain).chain(hashed)
}

/// `<day>-<title><suffix>`, the title cut at a character boundary to keep the name within
/// [`MAX_NAME_BYTES`].
fn fit_name(day: &str, title: &str, suffix: &str) -> String {
    let room = MAX_NAME_BYTES - day.len() - 1 - suffix.len();
    let mut cut = title.len().min(room);
    while !title.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{day}-{}{suffix}", &title[..cut])
}

/// `2021-04-04T08:45:53.966Z`.
pub fn format_date(ms: i64) -> String {
    utc(ms).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A name that stays in its folder: not empty, not `.` or `..`, no `/`, no NUL (a backslash is
/// an ordinary character here, and real archives have names with `\“`).
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\0'])
        && name.len() <= MAX_NAME_BYTES
}

/// Whether Jekyll's Liquid would take `text` for its own (`{{ … }}`, `{% … %}`): a page whose
/// text holds it gets `render_with_liquid: false`, so that it shows as written (only such pages:
/// the others keep the original format byte for byte).
fn holds_liquid(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// Renders one post.
pub fn render_post(post: &PostRecord) -> String {
    if let Some((head, tail)) = &post.imported {
        return render_imported(post, head, tail);
    }
    let mut out = String::with_capacity(post.body.len() + 512);
    out.push_str("---\nlayout: post\n");
    let _ = writeln!(out, "title: {}", yaml_quoted(&post.title));
    let _ = writeln!(out, "date: {}", format_date(post.date_ms));
    let _ = writeln!(out, "author: {}", yaml_scalar(&post.author, false));
    let _ = writeln!(out, "from: {}", yaml_scalar(&post.link, false));
    let _ = writeln!(out, "tags: {}", yaml_flow_list(&post.tags));
    let _ = writeln!(out, "categories: {}", yaml_flow_list(&post.categories));
    out.push_str(&extra_keys(post, ""));
    if [&post.title, &post.link, &post.body]
        .iter()
        .any(|text| holds_liquid(text))
    {
        out.push_str("render_with_liquid: false\n");
    }
    out.push_str("---\n");
    let _ = writeln!(out, "<!--{}-->", post.published_ms.unwrap_or(post.date_ms));
    let _ = writeln!(out, "[{}]({})", post.title, post.link);
    out.push_str("------\n\n<div>\n");
    out.push_str(&post.body);
    out.push_str("\n</div>\n");
    out
}

/// The keys newsvault adds after the original ones, only on posts that need them: `updated:` and
/// `versions:` for an edited article, `gone:` for one gone at the source. Keys already in
/// `head` are not repeated.
fn extra_keys(post: &PostRecord, head: &str) -> String {
    let mut out = String::new();
    let has = |key: &str| head.lines().any(|l| l.starts_with(key));
    if post.versions > 1 {
        if let Some(updated) = post.updated_ms.filter(|_| !has("updated:")) {
            let _ = writeln!(out, "updated: {}", format_date(updated));
        }
        if !has("versions:") {
            let _ = writeln!(out, "versions: {}", post.versions);
        }
    }
    if let Some(gone) = post.gone_ms.filter(|_| !has("gone:")) {
        let _ = writeln!(out, "gone: {}", format_date(gone));
    }
    out
}

/// An imported post: its own text around the current body, as it was, with newsvault's extra
/// keys (if any) before the end of its front matter.
fn render_imported(post: &PostRecord, head: &str, tail: &str) -> String {
    let extra = extra_keys(post, head);
    let mut out = String::with_capacity(head.len() + post.body.len() + tail.len() + extra.len());
    match head
        .strip_prefix("---\n")
        .and_then(|rest| rest.find("\n---\n"))
    {
        Some(end) if !extra.is_empty() => {
            let at = 4 + end + 1;
            out.push_str(&head[..at]);
            out.push_str(&extra);
            out.push_str(&head[at..]);
        }
        _ => out.push_str(head),
    }
    out.push_str(&post.body);
    out.push_str(tail);
    out
}

/// A double-quoted YAML scalar, escaped for YAML 1.1 (Jekyll's Psych) and 1.2 alike.
pub fn yaml_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if !yaml_printable(c) || c == '\u{feff}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// YAML's printable set (section 5.1), less the line breaks handled above.
fn yaml_printable(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        || (c as u32) >= 0x10000
}

/// A scalar written plain when YAML reads it back as the same string, else double-quoted.
/// `flow`: inside `[ … ]`, where `,[]{}` end a plain scalar.
pub fn yaml_scalar(text: &str, flow: bool) -> String {
    if plain_is_safe(text, flow) {
        text.to_string()
    } else {
        yaml_quoted(text)
    }
}

fn plain_is_safe(text: &str, flow: bool) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) || first.is_whitespace() {
        return false;
    }
    if text.ends_with(char::is_whitespace) || text.ends_with(':') {
        return false;
    }
    if text.contains(": ") || text.contains(" #") || text.contains(":\t") {
        return false;
    }
    if text.chars().any(|c| !yaml_printable(c) || c == '\u{feff}') {
        return false;
    }
    if flow && text.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    // Words YAML 1.1 reads as booleans or null, and anything that might read as a number,
    // a date or a time.
    let lower = text.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "y" | "n" | "yes" | "no" | "true" | "false" | "on" | "off" | "null" | "~"
    ) {
        return false;
    }
    let numberish = (first.is_ascii_digit() || "+.".contains(first))
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:+- ".contains(c));
    !numberish
}

/// `[ a, b ]`, as the original wrote lists.
fn yaml_flow_list(items: &[String]) -> String {
    if items.is_empty() {
        return "[ ]".to_string();
    }
    let items: Vec<String> = items.iter().map(|i| yaml_scalar(i, true)).collect();
    format!("[ {} ]", items.join(", "))
}

/// A file name for a source's list page: control characters dropped, `/` as `--`, within
/// [`MAX_NAME_BYTES`].
pub fn list_file_name(source_name: &str) -> String {
    let name: String = source_name
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .replace('/', "--");
    let name = if name.is_empty() || name.starts_with('.') {
        format!("_{name}")
    } else {
        name
    };
    fit_name("", &name, ".md")[1..].to_string()
}

/// Removes the list pages `old` (files named after names sources went by before a rename) from
/// `archive`, except one that is the page of a source now named in `names` (the name given back,
/// or another source's page by that name). A page that cannot be removed is a warning: the
/// archive is whole without it.
pub fn remove_old_lists(archive: &Path, old: &[String], names: &[&str]) {
    let current: HashSet<String> = names
        .iter()
        .map(|name| list_file_name(name).to_lowercase())
        .collect();
    for file in old {
        if current.contains(&file.to_lowercase()) {
            continue;
        }
        let path = archive.join(LISTS_DIR).join(file);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!("removing the old list page {}: {e}", path.display());
            }
            _ => {}
        }
    }
}

/// Renders `lists/<source>.md`: the source's latest posts, newest first, `M-D [title](link)` with
/// the day in UTC+8 (the original sites' time zone).
pub fn render_list(source_name: &str, items: &[ListItem]) -> String {
    let zone = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    let mut out = String::from("---\nlayout: page\n");
    let _ = writeln!(out, "title: {}", yaml_scalar(source_name, false));
    if items
        .iter()
        .any(|item| holds_liquid(&item.title) || holds_liquid(&item.link))
    {
        out.push_str("render_with_liquid: false\n");
    }
    out.push_str("---\n");
    let lines: Vec<String> = items
        .iter()
        .map(|item| {
            let day = utc(item.date_ms).with_timezone(&zone).format("%-m-%-d");
            format!("{day} [{}]({})", item.title, item.link)
        })
        .collect();
    out.push_str(&lines.join("\n\n"));
    if !lines.is_empty() {
        out.push('\n');
    }
    out
}

/// Characters a URL path keeps as they are (RFC 3986 pchar and `/`); the rest is
/// percent-encoded, as Jekyll does.
const PATH_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@')
    .remove(b'/');

/// Jekyll's `slugify` in its default mode (what `:slug` gives): only letters, marks and decimal
/// digits are kept, lower-cased.
fn slugify_default(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_slug(&mut out, text, is_slug_char);
    out.to_lowercase()
}

/// Jekyll's `slugify` of `text`, case kept, onto `out`: runs of characters it does not `keep`
/// become `-`, none at either end. Its `pretty` mode (what `:title` gives) keeps letters, marks,
/// decimal digits and `._~!$&'()+,;=@`.
fn push_slug(out: &mut String, text: &str, keep: impl Fn(char) -> bool) {
    let start = out.len();
    let mut gap = false;
    for c in text.chars() {
        if keep(c) {
            if gap && out.len() > start {
                out.push('-');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
}

/// Ruby's `\p{L}`, `\p{M}` and `\p{Nd}`, which Jekyll's slugs keep: not `char::is_alphanumeric`,
/// which also keeps other numbers (`½`, `²`, `①`, `Ⅻ`, and `〇` of Chinese dates).
fn is_slug_char(c: char) -> bool {
    use unicode_general_category::{GeneralCategory::*, get_general_category};
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    if ('\u{4e00}'..='\u{9fff}').contains(&c) {
        return true; // CJK unified ideographs, all letters: most of a Chinese title
    }
    matches!(
        get_general_category(c),
        UppercaseLetter
            | LowercaseLetter
            | TitlecaseLetter
            | ModifierLetter
            | OtherLetter
            | NonspacingMark
            | SpacingMark
            | EnclosingMark
            | DecimalNumber
    )
}

/// The placeholders of a post's permalink, as Jekyll 4.3 knows them (its `UrlDrop`).
pub const PLACEHOLDERS: &[&str] = &[
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "i_day",
    "i_month",
    "short_month",
    "long_month",
    "short_year",
    "w_year",
    "week",
    "w_day",
    "short_day",
    "long_day",
    "y_day",
    "title",
    "slug",
    "name",
    "path",
    "collection",
    "categories",
    "output_ext",
];

/// The placeholder at the start of `text` (what follows a `:`), as Jekyll reads it: the longest
/// run of `a`–`z` and `_`; one that ends in `_` stands for the name without it, the `_` kept
/// after its value. Returns the name and how many bytes after it belong to the match (0 or 1).
fn placeholder_at(text: &str) -> (&str, usize) {
    let len = text
        .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
        .unwrap_or(text.len());
    match text[..len].strip_suffix('_') {
        Some(name) => (name, 1),
        None => (&text[..len], 0),
    }
}

/// The pattern of `permalink`: a built-in style's, or `permalink` itself.
fn permalink_pattern(permalink: &str) -> &str {
    match permalink {
        "date" => "/:categories/:year/:month/:day/:title:output_ext",
        "pretty" => "/:categories/:year/:month/:day/:title/",
        "ordinal" => "/:categories/:year/:y_day/:title:output_ext",
        "weekdate" => "/:categories/:year/W:week/:short_day/:title:output_ext",
        "none" => "/:categories/:title:output_ext",
        pattern => pattern,
    }
}

/// The first placeholder of `permalink` Jekyll does not know (it refuses to build such a site),
/// as written; none for a built-in style or a pattern of known ones.
pub fn unknown_placeholder(permalink: &str) -> Option<String> {
    let mut rest = permalink_pattern(permalink);
    while let Some(at) = rest.find(':') {
        let (name, kept) = placeholder_at(&rest[at + 1..]);
        // A `:` with no name after it is text.
        let text = name.is_empty() && kept == 0;
        if !text && !PLACEHOLDERS.contains(&name) {
            return Some(format!(":{name}{}", "_".repeat(kept)));
        }
        rest = &rest[at + 1 + name.len() + kept..];
    }
    None
}

/// A post permalink (a built-in style or a pattern) read once, for the URLs of many posts:
/// search.json gives every post's on each run that writes posts.
pub struct Permalink {
    /// The pattern's text and placeholders, in order.
    pieces: Vec<Piece>,
}

enum Piece {
    Text(String),
    /// One of [`PLACEHOLDERS`].
    Placeholder(&'static str),
}

impl Permalink {
    pub fn new(permalink: &str) -> Permalink {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = permalink_pattern(permalink);
        while let Some(at) = rest.find(':') {
            text.push_str(&rest[..at]);
            let (name, _) = placeholder_at(&rest[at + 1..]);
            match PLACEHOLDERS.iter().find(|known| **known == name) {
                Some(known) => {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                    pieces.push(Piece::Placeholder(known));
                }
                // Refused in the config (see `unknown_placeholder`); kept as written otherwise.
                None => {
                    text.push(':');
                    text.push_str(name);
                }
            }
            // What follows the name (a `_` it ended in) is left for the pattern's text.
            rest = &rest[at + 1 + name.len()..];
        }
        text.push_str(rest);
        pieces.push(Piece::Text(text));
        pieces.retain(|piece| !matches!(piece, Piece::Text(text) if text.is_empty()));
        Permalink { pieces }
    }

    /// The URL Jekyll gives a post of these `categories`, file name and date.
    pub fn url(&self, categories: &[String], post_name: &str, date_ms: i64) -> String {
        let date = utc(date_ms);
        let four_digits = (0..=9999).contains(&date.year());
        let stem = post_name.strip_suffix(".md").unwrap_or(post_name);
        // Jekyll drops a slug's trailing periods ("slugs shouldn't end with a period").
        let slug = stem.get(11..).unwrap_or(stem).trim_end_matches('.');
        let mut out = String::with_capacity(post_name.len() + 32);
        for piece in &self.pieces {
            let name = match piece {
                Piece::Text(text) => {
                    out.push_str(text);
                    continue;
                }
                Piece::Placeholder(name) => *name,
            };
            let value = match name {
                // The common ones by hand, without parsing a strftime pattern.
                "year" if four_digits => {
                    let year = date.year() as u32;
                    push_two(&mut out, year / 100);
                    push_two(&mut out, year % 100);
                    continue;
                }
                "month" if four_digits => {
                    push_two(&mut out, date.month());
                    continue;
                }
                "day" if four_digits => {
                    push_two(&mut out, date.day());
                    continue;
                }
                "title" => {
                    push_slug(&mut out, slug, |c| {
                        is_slug_char(c) || "._~!$&'()+,;=@".contains(c)
                    });
                    continue;
                }
                "categories" => {
                    push_categories(&mut out, categories);
                    continue;
                }
                "i_month" => date.month().to_string(),
                "i_day" => date.day().to_string(),
                "year" => date.format("%Y").to_string(),
                "month" => date.format("%m").to_string(),
                "day" => date.format("%d").to_string(),
                "short_year" => date.format("%y").to_string(),
                "hour" => date.format("%H").to_string(),
                "minute" => date.format("%M").to_string(),
                "second" => date.format("%S").to_string(),
                "y_day" => date.format("%j").to_string(),
                "week" => date.format("%V").to_string(),
                "w_year" => date.format("%G").to_string(),
                "w_day" => date.format("%u").to_string(),
                "short_day" => date.format("%a").to_string(),
                "long_day" => date.format("%A").to_string(),
                "short_month" => date.format("%b").to_string(),
                "long_month" => date.format("%B").to_string(),
                "slug" => slugify_default(slug),
                "name" => slugify_default(stem),
                "path" => stem.to_string(),
                "collection" => "posts".to_string(),
                "output_ext" => ".html".to_string(),
                // Not one of PLACEHOLDERS: kept as written.
                _ => format!(":{name}"),
            };
            out.push_str(&value);
        }
        // Jekyll's `URL#sanitize_url`: a leading `/`, every `..` made `/`, every `./` dropped,
        // and runs of `/` (an empty placeholder leaves `//`) made one. Most paths need none of
        // it.
        let clean = out.starts_with('/')
            && !out.contains("..")
            && !out.contains("./")
            && !out.contains("//");
        if !clean {
            let cleaned = format!("/{out}").replace("..", "/").replace("./", "");
            out.clear();
            for c in cleaned.chars() {
                if !(c == '/' && out.ends_with('/')) {
                    out.push(c);
                }
            }
        }
        let mut url = String::with_capacity(out.len() * 2);
        url.extend(utf8_percent_encode(&out, PATH_KEEP));
        url
    }
}

/// `:categories`: the categories lower-cased, each once, joined by `/`.
fn push_categories(out: &mut String, categories: &[String]) {
    let mut seen: Vec<String> = Vec::with_capacity(categories.len());
    for category in categories {
        let lower = category.to_lowercase();
        if seen.contains(&lower) {
            continue;
        }
        if !seen.is_empty() {
            out.push('/');
        }
        out.push_str(&lower);
        seen.push(lower);
    }
}

/// Writes every pending post, then the list pages of `sources` and `search.json` when a post
/// changed (or when they are missing). A post that fails to write stays pending for the next run.
pub fn publish(
    store: &Store,
    archive: &Path,
    permalink: &str,
    sources: &[String],
) -> Result<PublishReport, PublishError> {
    publish_with(store, archive, permalink, sources, false)
}

/// [`publish`], and with `indexes` the lists and search.json are rewritten even when no post
/// was (after hiding an article, say).
pub fn publish_with(
    store: &Store,
    archive: &Path,
    permalink: &str,
    sources: &[String],
    indexes: bool,
) -> Result<PublishReport, PublishError> {
    let posts_dir = archive.join(POSTS_DIR);
    let lists_dir = archive.join(LISTS_DIR);
    for dir in [&posts_dir, &lists_dir] {
        std::fs::create_dir_all(dir).map_err(|e| PublishError::io(dir, e))?;
        // Output stays in the archive: a symlinked folder could lead anywhere.
        if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(PublishError::io(
                dir,
                std::io::Error::other(
                    "is a symbolic link; newsvault writes only into real folders",
                ),
            ));
        }
    }
    // The list pages and search.json are rewritten when a post is to be written (or they are
    // missing), on a thread of their own with a connection of their own while this one writes
    // the posts: they read only what the store holds, not the post files. Without a second
    // connection (a store in memory, or none to be had) they follow the posts on this one.
    let changed = indexes || store.has_dirty_posts()?;
    let reader = store.reopen().and_then(Result::ok);
    let (posts, lists) = std::thread::scope(|scope| {
        let lists = reader.map(|reader| {
            scope.spawn(move || write_indexes(&reader, archive, permalink, sources, changed))
        });
        let posts = write_pending_posts(store, &posts_dir);
        let lists = match lists {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => write_indexes(store, archive, permalink, sources, changed),
        };
        (posts, lists)
    });
    let (mut report, posted) = posts?;
    // Posts are marked written only once lists and search.json are written too: a run killed in
    // between, or one that could not write them (a full disk), writes the same posts again next
    // time (same bytes, so the files stay untouched) and so the lists and search.json too.
    match lists {
        Ok(lists) => {
            report.lists_written = lists.lists_written;
            report.search_json_written = lists.search_json_written;
            store.mark_posted(&posted)?;
        }
        Err(PublishError::Io { path, cause }) => {
            report.indexes_failed = Some(format!("{}: {cause}", path.display()));
        }
        Err(e) => return Err(e),
    }
    Ok(report)
}

/// Writes every pending post into `posts_dir`: the report, and the ids of the posts written.
fn write_pending_posts(
    store: &Store,
    posts_dir: &Path,
) -> Result<(PublishReport, Vec<i64>), PublishError> {
    let mut report = PublishReport::default();
    let mut posted = Vec::new();
    let mut after = 0;
    loop {
        let batch = store.dirty_posts(after, 512)?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        let mut written = Vec::with_capacity(batch.len());
        for post in &batch {
            // Names are made safe when chosen; a store from elsewhere is checked again here.
            if !is_plain_file_name(&post.post_name) {
                report.failures.push(format!(
                    "{:?}: not a plain file name; refused",
                    post.post_name
                ));
                continue;
            }
            let path = posts_dir.join(&post.post_name);
            // A new post is created in place, an existing one replaced atomically: a run killed
            // while creating one leaves it dirty in the store, and the next run replaces the
            // part it wrote.
            let bytes = render_post(post);
            let outcome = write_new(&path, bytes.as_bytes()).and_then(|created| {
                if created {
                    Ok(true)
                } else {
                    write_atomically(&path, bytes.as_bytes())
                }
            });
            match outcome {
                Ok(_) => written.push(post.id),
                Err(e) => report.failures.push(format!("{}: {e}", path.display())),
            }
        }
        report.posts_written += written.len();
        posted.extend(written);
    }
    Ok((report, posted))
}

/// The list page of each of `sources` and `search.json`, written when `changed` or missing.
fn write_indexes(
    store: &Store,
    archive: &Path,
    permalink: &str,
    sources: &[String],
    changed: bool,
) -> Result<PublishReport, PublishError> {
    let mut report = PublishReport::default();
    let lists_dir = archive.join(LISTS_DIR);
    for source_id in sources {
        let Some(name) = store.source_name(source_id)? else {
            continue;
        };
        let path = lists_dir.join(list_file_name(&name));
        if changed || !path.exists() {
            let items = store.recent_posts(source_id, LIST_LENGTH)?;
            if write_atomically(&path, render_list(&name, &items).as_bytes())
                .map_err(|e| PublishError::io(&path, e))?
            {
                report.lists_written += 1;
            }
        }
    }
    let search = archive.join("search.json");
    if changed || !search.exists() {
        report.search_json_written = write_search_json(store, &search, permalink)?;
    }
    Ok(report)
}

/// `search.json`: `[{title, category, tags, url, date, desc}]` for every post, newest first,
/// streamed to a temporary file and renamed into place, unless the file holds these bytes
/// already (then it is left as it is, and this says false).
fn write_search_json(store: &Store, path: &Path, permalink: &str) -> Result<bool, PublishError> {
    #[derive(serde::Serialize)]
    struct Item<'a> {
        title: &'a str,
        category: &'a str,
        tags: &'a str,
        url: String,
        date: String,
        desc: &'a str,
    }
    let temp = path.with_file_name(format!(
        "{}{}-search.json",
        super::TEMP_PREFIX,
        std::process::id()
    ));
    let file = std::fs::File::create(&temp).map_err(|e| PublishError::io(&temp, e))?;
    let mut out = std::io::BufWriter::new(file);
    let permalink = Permalink::new(permalink);
    let mut first = true;
    // Posts of a source share their tags: joined again only when they differ from the last.
    let mut tags: (Vec<String>, String) = Default::default();
    let written = store.for_each_post(|row: SearchRow| {
        out.write_all(if first { b"[\n" } else { b",\n" })?;
        first = false;
        if tags.0 != row.tags {
            tags = (row.tags.to_vec(), row.tags.join(", "));
        }
        let item = Item {
            title: row.title,
            category: row.source_name,
            tags: &tags.1,
            url: permalink.url(row.categories, row.post_name, row.date_ms),
            date: day(row.date_ms),
            desc: row.summary,
        };
        serde_json::to_writer(&mut out, &item)?;
        Ok(())
    })?;
    let finish = written
        .and_then(|()| out.write_all(if first { b"[]\n" } else { b"\n]\n" }))
        .and_then(|()| out.flush())
        .and_then(|()| super::same_bytes(&temp, path))
        .and_then(|same| {
            if same {
                std::fs::remove_file(&temp).map(|()| false)
            } else {
                std::fs::rename(&temp, path).map(|()| true)
            }
        });
    finish.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        PublishError::io(path, e)
    })
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot write {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PublishError {
    fn io(path: &Path, cause: std::io::Error) -> PublishError {
        PublishError::Io {
            path: path.to_path_buf(),
            cause,
        }
    }
}

/// Plain text of an HTML body, white space collapsed, cut to [`DESC_CHARS`] characters: the
/// `desc` of `search.json`.
pub fn summarize(html: &str) -> String {
    let mut text = String::new();
    let mut chars = 0;
    let mut in_tag = false;
    let mut space = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                space = true;
            }
            _ if in_tag => {}
            c if c.is_whitespace() => space = true,
            c => {
                if space && !text.is_empty() {
                    text.push(' ');
                    chars += 1;
                }
                space = false;
                text.push(c);
                chars += 1;
            }
        }
        // Entities shrink when decoded; twice the room is plenty.
        if chars >= DESC_CHARS * 2 {
            break;
        }
    }
    let text = decode_entities(&text);
    text.chars().take(DESC_CHARS).collect()
}

/// The entities that matter in summaries.
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn post_url(permalink: &str, categories: &[String], post_name: &str, date_ms: i64) -> String {
        Permalink::new(permalink).url(categories, post_name, date_ms)
    }

    #[test]
    fn names_fit_and_stay_in_the_folder() {
        let long = "标".repeat(300);
        let names: Vec<String> = post_names(0, &long, "k".into()).collect();
        assert_eq!(names[0].chars().count(), 11 + NAME_TITLE_CHARS + 3);
        let names: Vec<String> = post_names(0, "a/b\0c", "k".into()).collect();
        assert_eq!(names[0], "1970-01-01-a--bc.md");
        assert!(names[1].starts_with("1970-01-01-a--bc-") && names[1].ends_with(".md"));
        let wide = "😀/".repeat(60);
        for name in post_names(0, &wide, "k".into()) {
            assert!(name.len() <= MAX_NAME_BYTES, "{name}");
            assert!(!name.contains('/'));
        }
    }

    #[test]
    fn scalars_are_plain_only_when_safe() {
        assert_eq!(yaml_scalar("联合早报", false), "联合早报");
        assert_eq!(
            yaml_scalar("https://e.com/a?b=1#c", false),
            "https://e.com/a?b=1#c"
        );
        assert_eq!(yaml_scalar("(臺)中央社CNA", false), "(臺)中央社CNA");
        for tricky in [
            "[x", "&a", "*a", "#a", ":a", "a: b", "yes", "2021", "", " a", "a,b",
        ] {
            assert!(yaml_scalar(tricky, true).starts_with('"'), "{tricky}");
        }
        assert_eq!(yaml_quoted("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }

    #[test]
    fn jekyll_urls() {
        let categories = vec!["联合早报".to_string()];
        assert_eq!(
            post_url(
                "date",
                &categories,
                "2021-04-04-中韩外长会谈 韩国支持北京举办冬奥.md",
                1617525953966
            ),
            "/%E8%81%94%E5%90%88%E6%97%A9%E6%8A%A5/2021/04/04/%E4%B8%AD%E9%9F%A9%E5%A4%96%E9%95%BF%E4%BC%9A%E8%B0%88-%E9%9F%A9%E5%9B%BD%E6%94%AF%E6%8C%81%E5%8C%97%E4%BA%AC%E4%B8%BE%E5%8A%9E%E5%86%AC%E5%A5%A5.html"
        );
        assert_eq!(
            post_url(
                "/:year/:title/",
                &[],
                "2021-04-04-Hello World.md",
                1617525953966
            ),
            "/2021/Hello-World/"
        );
        assert_eq!(
            post_url("none", &["News".into()], "2021-04-04-a.md", 0),
            "/news/a.html"
        );
    }

    #[test]
    fn url_dates_are_spelled_as_strftime_spells_them() {
        let pattern = "/:year/:month/:day/:i_month/:i_day/:title";
        // From before 1970 to past year 9999 (where strftime takes over), a day and a bit apart.
        let mut ms: i64 = -62_000_000_000_000;
        while ms < 260_000_000_000_000 {
            let date = utc(ms);
            let want = date.format("/%Y/%m/%d/%-m/%-d/a").to_string();
            assert_eq!(post_url(pattern, &[], "2021-04-04-a.md", ms), want, "{ms}");
            assert_eq!(day(ms), date.format("%Y-%m-%d").to_string(), "{ms}");
            ms += 90_061_001 * 997;
        }
    }

    /// The URL filled in the plainest way, as Jekyll's `URL` class does it (placeholder by
    /// placeholder through strftime, then `sanitize_url` on every path): what [`Permalink::url`]
    /// must give, fast paths and all.
    fn plain_url(pattern: &str, categories: &[String], post_name: &str, date_ms: i64) -> String {
        let date = utc(date_ms);
        let stem = post_name.strip_suffix(".md").unwrap_or(post_name);
        let slug = stem.get(11..).unwrap_or(stem).trim_end_matches('.');
        let mut lower: Vec<String> = Vec::new();
        for category in categories {
            if !lower.contains(&category.to_lowercase()) {
                lower.push(category.to_lowercase());
            }
        }
        let mut out = String::new();
        let mut rest = permalink_pattern(pattern);
        while let Some(at) = rest.find(':') {
            out.push_str(&rest[..at]);
            let (name, _) = placeholder_at(&rest[at + 1..]);
            let strftime = |spec: &str| date.format(spec).to_string();
            out.push_str(&match name {
                "year" => strftime("%Y"),
                "month" => strftime("%m"),
                "day" => strftime("%d"),
                "i_month" => strftime("%-m"),
                "i_day" => strftime("%-d"),
                "hour" => strftime("%H"),
                "minute" => strftime("%M"),
                "second" => strftime("%S"),
                "short_year" => strftime("%y"),
                "y_day" => strftime("%j"),
                "week" => strftime("%V"),
                "w_year" => strftime("%G"),
                "w_day" => strftime("%u"),
                "short_day" => strftime("%a"),
                "long_day" => strftime("%A"),
                "short_month" => strftime("%b"),
                "long_month" => strftime("%B"),
                "title" => slugify(slug, |c| is_slug_char(c) || "._~!$&'()+,;=@".contains(c)),
                "slug" => slugify(slug, is_slug_char).to_lowercase(),
                "name" => slugify(stem, is_slug_char).to_lowercase(),
                "path" => stem.to_string(),
                "collection" => "posts".to_string(),
                "categories" => lower.join("/"),
                "output_ext" => ".html".to_string(),
                _ => format!(":{name}"),
            });
            rest = &rest[at + 1 + name.len()..];
        }
        out.push_str(rest);
        let cleaned = format!("/{out}").replace("..", "/").replace("./", "");
        let mut path = String::new();
        for c in cleaned.chars() {
            if !(c == '/' && path.ends_with('/')) {
                path.push(c);
            }
        }
        utf8_percent_encode(&path, PATH_KEEP).to_string()
    }

    /// Jekyll's `slugify`, as its Ruby reads: replace runs, then trim `-`.
    fn slugify(text: &str, keep: impl Fn(char) -> bool) -> String {
        let mut out = String::new();
        for c in text.chars() {
            if keep(c) {
                out.push(c);
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        out.trim_matches('-').to_string()
    }

    proptest! {
        /// Whatever the pattern's text, title, categories and date, the URL is the plain one.
        #[test]
        fn urls_are_filled_as_the_plain_way_fills_them(
            pattern in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(
                        PLACEHOLDERS
                            .iter()
                            .map(|name| format!(":{name}"))
                            .chain([":title_", ":foo", ":"].map(String::from))
                            .collect::<Vec<_>>()
                    ),
                    "[/._a-z:-]{0,3}",
                ],
                0..8,
            ).prop_map(|pieces| pieces.concat()),
            title in "[a-zA-Z0-9 ./_~!&+,;=@%:-]{0,12}|\\PC{0,12}",
            categories in proptest::collection::vec("[a-zA-Z/. ]{0,4}|\\PC{0,3}", 0..3),
            date_ms in -62_135_596_800_000i64..253_402_300_799_999,
        ) {
            let name = format!("2024-06-02-{title}.md");
            prop_assert_eq!(
                post_url(&pattern, &categories, &name, date_ms),
                plain_url(&pattern, &categories, &name, date_ms)
            );
        }
    }

    /// Post URLs as Jekyll 4.3.1 makes them (each expected value below is what its `URL` class
    /// gave for the post's slug): a slug's trailing periods dropped, letters, marks and decimal
    /// digits kept (not `½`, `²`, `①`, `Ⅻ` or `〇`), `:slug` in Jekyll's default mode, and the
    /// path cleaned of `..` and `./` as Jekyll cleans it.
    #[test]
    fn urls_are_the_ones_jekyll_makes() {
        let date = 1717286400000; // 2024-06-02
        let url = |pattern: &str, slug: &str| {
            post_url(pattern, &[], &format!("2024-06-02-{slug}.md"), date)
        };
        let date_style = "/:categories/:year/:month/:day/:title:output_ext";
        let slug_style = "/:categories/:slug/";
        for (slug, by_date, by_slug) in [
            (
                "Breaking-news....",
                "/2024/06/02/Breaking-news.html",
                "/breaking-news/",
            ),
            ("dots.", "/2024/06/02/dots.html", "/dots/"),
            ("50% off ½ ² ①", "/2024/06/02/50-off.html", "/50-off/"),
            (
                "二〇二一年 报道",
                "/2024/06/02/%E4%BA%8C-%E4%BA%8C%E4%B8%80%E5%B9%B4-%E6%8A%A5%E9%81%93.html",
                "/%E4%BA%8C-%E4%BA%8C%E4%B8%80%E5%B9%B4-%E6%8A%A5%E9%81%93/",
            ),
            ("a.b & c+d", "/2024/06/02/a.b-&-c+d.html", "/a-b-c-d/"),
            ("..hidden", "/2024/06/02/hidden.html", "/hidden/"),
            ("x..y", "/2024/06/02/x/y.html", "/x-y/"),
            (
                "Ⅻ章 ǅ",
                "/2024/06/02/%E7%AB%A0-%C7%85.html",
                "/%E7%AB%A0-%C7%86/",
            ),
        ] {
            assert_eq!(url(date_style, slug), by_date, "{slug}");
            assert_eq!(url(slug_style, slug), by_slug, "{slug}");
        }
    }

    /// Every placeholder Jekyll 4.3.1 knows, as it fills them for `_posts/2024-06-02-Hello_World
    /// x.md` dated 2024-06-02T00:00Z (a Sunday), categories `[S]` (checked with `jekyll build`).
    #[test]
    fn every_placeholder_is_filled_as_jekyll_does() {
        let url = |pattern: &str| {
            post_url(
                pattern,
                &["S".into()],
                "2024-06-02-Hello_World x.md",
                1717286400000,
            )
        };
        assert_eq!(url("weekdate"), "/s/2024/W22/Sun/Hello_World-x.html");
        assert_eq!(
            url("/:short_month/:long_month/:long_day/:w_year/:w_day/:name/:collection/"),
            "/Jun/June/Sunday/2024/7/2024-06-02-hello-world-x/posts/"
        );
        assert_eq!(url("/:path/"), "/2024-06-02-Hello_World%20x/");
        assert_eq!(url("/:title2/"), "/Hello_World-x2/");
        assert_eq!(url("/:title_/"), "/Hello_World-x_/");
        assert_eq!(unknown_placeholder("/:title_/:title2/"), None);
        assert_eq!(unknown_placeholder("/:title_x/"), Some(":title_x".into()));
        assert_eq!(unknown_placeholder("/:foo/"), Some(":foo".into()));
        assert_eq!(unknown_placeholder("/:_/"), Some(":_".into()));
        assert_eq!(unknown_placeholder("/a:1/:Title/"), None);
        assert_eq!(unknown_placeholder("weekdate"), None);
    }

    #[test]
    fn list_lines_use_utc_plus_8() {
        let items = [ListItem {
            title: "t".into(),
            link: "https://e/1".into(),
            date_ms: 1617552000000, // 2021-04-04T16:00Z = 4-5 in UTC+8
        }];
        assert_eq!(
            render_list("联合早报", &items),
            "---\nlayout: page\ntitle: 联合早报\n---\n4-5 [t](https://e/1)\n"
        );
    }

    /// A list page is a Jekyll page too: a title with Liquid's `{{` or `{%` would stop the
    /// site's build (or vanish from the page), so such a list is not rendered by Liquid.
    #[test]
    fn a_list_that_holds_liquid_is_not_rendered_by_liquid() {
        let list = |title: &str, link: &str| {
            let items = [ListItem {
                title: title.into(),
                link: link.into(),
                date_ms: 1617552000000,
            }];
            render_list("src", &items)
        };
        for (title, link) in [
            ("Template tags {% if %} explained", "https://e/1"),
            ("Vue uses {{ message }}", "https://e/1"),
            ("t", "https://e/{{x}}"),
        ] {
            assert_eq!(
                list(title, link),
                format!(
                    "---\nlayout: page\ntitle: src\nrender_with_liquid: false\n---\n\
                     4-5 [{title}]({link})\n"
                )
            );
        }
        assert!(!list("{ not liquid }", "https://e/1").contains("render_with_liquid"));
    }

    #[test]
    fn summaries_are_plain_text() {
        assert_eq!(summarize("<p>a &amp; b</p>\n<p>c</p>"), "a & b c");
        assert_eq!(
            summarize(&"<p>字</p>".repeat(300)).chars().count(),
            DESC_CHARS
        );
    }
}
