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

use chrono::FixedOffset;
use ring::digest::{SHA256, digest as digest_of};

use super::dates::{day, utc};
use super::permalink::Permalink;
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
    let _ = writeln!(out, "{}", markdown_link(&post.title, &post.link));
    out.push_str("------\n\n<div>\n");
    out.push_str(&post.body);
    out.push_str("\n</div>\n");
    out
}

/// `[title](link)`, the line that shows an article in its post and on its source's list page,
/// as Markdown (kramdown) reads it back: the title as text, never as HTML (`<`, `>` and `&` as
/// character references), and the link whole. Only a title that would end the link text early
/// (an unbalanced `[` or `]`, a `\\`) gets `\\`, `[` and `]` backslash-escaped, and only a link
/// that would end early (an unbalanced `(` or `)`, a space, `<` or `>`) gets those
/// percent-encoded: the others are written as they are, as the original did.
///
/// An article without a title (the feed gave none, or only white space) shows its link as the
/// link's text, so that the line can be seen and clicked; its `title:` stays empty, as the feed
/// had it, and its file name keeps the original's rule (`<day>-.md`).
pub fn markdown_link(title: &str, link: &str) -> String {
    let title = if title.trim().is_empty() { link } else { title };
    let mut out = String::with_capacity(title.len() + link.len() + 4);
    out.push('[');
    let escape = title.contains('\\') || !balanced(title, '[', ']');
    for (i, c) in title.char_indices() {
        match c {
            // Only an `&` that would begin a character reference: `AT&T` stays as the original
            // format wrote it, `&lt;` written in a title shows as written.
            '&' if begins_reference(&title[i + 1..]) => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '[' | ']' if escape => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push_str("](");
    if link.contains([' ', '<', '>']) || !balanced(link, '(', ')') {
        for c in link.chars() {
            match c {
                ' ' => out.push_str("%20"),
                '(' => out.push_str("%28"),
                ')' => out.push_str("%29"),
                '<' => out.push_str("%3C"),
                '>' => out.push_str("%3E"),
                c => out.push(c),
            }
        }
    } else {
        out.push_str(link);
    }
    out.push(')');
    out
}

/// Whether `rest`, what follows an `&`, makes it a character reference (`lt;`, `#60;`, `#x3c;`).
fn begins_reference(rest: &str) -> bool {
    let name = rest.strip_prefix('#').unwrap_or(rest);
    let end = name
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(name.len());
    end > 0 && name[end..].starts_with(';')
}

/// Whether every `open` in `text` is closed by a later `close`, and every `close` closes one.
fn balanced(text: &str, open: char, close: char) -> bool {
    let mut depth = 0usize;
    for c in text.chars() {
        if c == open {
            depth += 1;
        } else if c == close {
            match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            }
        }
    }
    depth == 0
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
/// keys (if any) before the end of its front matter. A post whose text has come to hold Liquid
/// (an edit at the source) gets `render_with_liquid: false` there too, unless its head has the
/// key already.
fn render_imported(post: &PostRecord, head: &str, tail: &str) -> String {
    let retitled = retitle(head, &post.title, &post.link);
    let head = retitled.as_deref().unwrap_or(head);
    let mut extra = extra_keys(post, head);
    if [&post.title, &post.link, &post.body, tail]
        .iter()
        .any(|text| holds_liquid(text))
        && !head.lines().any(|l| l.starts_with("render_with_liquid:"))
    {
        extra.push_str("render_with_liquid: false\n");
    }
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

/// An imported post's head with `title` in place of the title it was written with (an edit at
/// the source): its `title:` line and its `[title](link)` line written again, every other byte
/// kept. None when the head has that title already (or no `title:` line).
fn retitle(head: &str, title: &str, link: &str) -> Option<String> {
    let front_end = head.strip_prefix("---\n")?.find("\n---\n")? + 4;
    let (front, body) = head.split_at(front_end);
    let line_start = front
        .match_indices("\ntitle:")
        .next()
        .map(|(at, _)| at + 1)?;
    let line_end = front[line_start..]
        .find('\n')
        .map_or(front.len(), |at| line_start + at);
    let written = &front[line_start + "title:".len()..line_end];
    if crate::import::unquote(written.trim()) == title {
        return None;
    }
    let mut out = String::with_capacity(head.len() + title.len() * 2);
    out.push_str(&front[..line_start]);
    let _ = write!(out, "title: {}", yaml_quoted(title));
    out.push_str(&front[line_end..]);
    // The link line: the first after the front matter that opens with `[`.
    let mut done = false;
    for line in body.split_inclusive('\n') {
        if !done && line.starts_with('[') {
            out.push_str(&markdown_link(title, link));
            out.push('\n');
            done = true;
        } else {
            out.push_str(line);
        }
    }
    Some(out)
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
    // `=` is YAML 1.1's value key and `<<` its merge key: PyYAML refuses them as values.
    if matches!(
        lower.as_str(),
        "y" | "n" | "yes" | "no" | "true" | "false" | "on" | "off" | "null" | "~" | "=" | "<<"
    ) {
        return false;
    }
    // Psych reads `1,000` as the integer 1000 (YAML 1.1 numbers may group digits with `,`).
    let numberish = (first.is_ascii_digit() || "+.".contains(first))
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:+-, ".contains(c));
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
/// [`MAX_NAME_BYTES`]. Jekyll leaves out files whose names start with `.`, `_`, `#` or `~`:
/// such a name (or an empty one) gets a `-` before it, so that the page is on the site.
pub fn list_file_name(source_name: &str) -> String {
    let name = list_stem(source_name);
    let name = if name.is_empty() || name.starts_with(['.', '_', '#', '~']) {
        format!("-{name}")
    } else {
        name
    };
    fit_name("", &name, ".md")[1..].to_string()
}

/// The file name newsvault gave a source's list page before [`list_file_name`] kept Jekyll's
/// rules (`_` before an empty name or one starting with `.`; `#`, `_` and `~` kept as they
/// were), when it differs from today's: the page Jekyll never showed, removed once today's is
/// written.
pub fn former_list_file_name(source_name: &str) -> Option<String> {
    let name = list_stem(source_name);
    let name = if name.is_empty() || name.starts_with('.') {
        format!("_{name}")
    } else {
        name
    };
    let former = fit_name("", &name, ".md")[1..].to_string();
    (former != list_file_name(source_name)).then_some(former)
}

/// A source's name with control characters dropped and `/` as `--`.
fn list_stem(source_name: &str) -> String {
    source_name
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .replace('/', "--")
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
            format!("{day} {}", markdown_link(&item.title, &item.link))
        })
        .collect();
    out.push_str(&lines.join("\n\n"));
    if !lines.is_empty() {
        out.push('\n');
    }
    out
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
        // The page an earlier newsvault wrote under a name Jekyll leaves out: never another
        // source's (today's names never start with `_`, `#` or `~`).
        if let Some(former) = former_list_file_name(&name) {
            remove_old_lists(archive, &[former], &[]);
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
/// `desc` of `search.json`. Character references are decoded (every HTML5 name, and numbers),
/// the contents of `<script>`, `<style>` and comments are left out, and white space (`&nbsp;`
/// included) is collapsed after decoding.
pub fn summarize(html: &str) -> String {
    let mut text = String::new();
    let mut chars = 0;
    let mut space = false;
    let mut rest = html;
    while chars < DESC_CHARS && !rest.is_empty() {
        // The text up to the next tag, decoded.
        let until = rest.find('<').unwrap_or(rest.len());
        let decoded = html_escape::decode_html_entities(&rest[..until]);
        for c in decoded.chars() {
            if c.is_whitespace() {
                space = true;
            } else {
                if space && !text.is_empty() {
                    if chars == DESC_CHARS {
                        break;
                    }
                    text.push(' ');
                    chars += 1;
                }
                space = false;
                if chars == DESC_CHARS {
                    break;
                }
                text.push(c);
                chars += 1;
            }
        }
        rest = &rest[until..];
        if rest.is_empty() {
            break;
        }
        // A tag (or comment), and for `<script>` and `<style>` all up to their end tag.
        rest = skip_markup(rest);
        space = true;
    }
    text
}

/// `html` after the tag, comment or declaration it starts with (at a `<`): after the element
/// for `<script>` and `<style>`, whose contents are not text.
fn skip_markup(html: &str) -> &str {
    fn end_of<'a>(text: &'a str, end: &str) -> &'a str {
        text.find(end).map_or("", |at| &text[at + end.len()..])
    }
    if let Some(comment) = html.strip_prefix("<!--") {
        return end_of(comment, "-->");
    }
    let after = end_of(html, ">");
    for element in ["script", "style"] {
        let named = html
            .get(1..1 + element.len())
            .is_some_and(|name| name.eq_ignore_ascii_case(element))
            && html[1 + element.len()..]
                .starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace());
        if named {
            let mut rest = after;
            // Up to `</script` (any case), then past its `>`.
            while let Some(at) = rest.find("</") {
                let close = &rest[at + 2..];
                if close
                    .get(..element.len())
                    .is_some_and(|name| name.eq_ignore_ascii_case(element))
                {
                    return end_of(close, ">");
                }
                rest = close;
            }
            return "";
        }
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// An imported post as the original wrote it, around `body`.
    fn imported_post(title: &str, body: &str) -> PostRecord {
        let head = format!(
            "---\nlayout: post\ntitle: {}\ndate: 2021-04-04T08:45:53.966Z\nauthor: 联合早报\n\
             from: https://e.com/1\ntags: [ 联合早报 ]\ncomments: True\ncategories: [ 联合早报 ]\n\
             ---\n<!--1617572220000-->\n[{title}](https://e.com/1)\n------\n\n<div>\n",
            yaml_quoted(title)
        );
        PostRecord {
            id: 1,
            post_name: "2021-04-04-t.md".into(),
            title: title.into(),
            link: "https://e.com/1".into(),
            published_ms: Some(1617572220000),
            date_ms: 1617525953966,
            author: "联合早报".into(),
            tags: vec!["联合早报".into()],
            categories: vec!["联合早报".into()],
            body: body.into(),
            versions: 1,
            updated_ms: None,
            gone_ms: None,
            imported: Some((head, "\n</div>\n".into())),
        }
    }

    #[test]
    fn an_imported_post_is_written_back_as_it_was() {
        let post = imported_post("标题", "<p>正文</p>");
        let (head, tail) = post.imported.clone().unwrap();
        assert_eq!(render_post(&post), format!("{head}<p>正文</p>{tail}"));
    }

    /// An imported post edited at the source to hold Liquid would stop the site's build.
    #[test]
    fn an_imported_post_that_comes_to_hold_liquid_is_not_rendered_by_liquid() {
        let mut post = imported_post("标题", "<p>Vue uses {{ message }}</p>");
        post.versions = 2;
        post.updated_ms = Some(1617600000000);
        let text = render_post(&post);
        assert!(
            text.contains(
                "categories: [ 联合早报 ]\nupdated: 2021-04-05T05:20:00.000Z\nversions: 2\n\
                 render_with_liquid: false\n---\n"
            ),
            "{text}"
        );
        // Said once, even when the head says it already.
        let (head, tail) = post.imported.clone().unwrap();
        let head = head.replacen("---\n<!--", "render_with_liquid: false\n---\n<!--", 1);
        post.imported = Some((head, tail));
        assert_eq!(
            render_post(&post).matches("render_with_liquid").count(),
            1,
            "{}",
            render_post(&post)
        );
    }

    /// The title is text on the `[title](link)` lines: HTML in it is shown, not run.
    #[test]
    fn html_in_a_title_is_text_on_the_link_lines() {
        let title = "<img src=x onerror=alert(1)> AT&T &lt;b&gt; &#60;";
        let shown = "[&lt;img src=x onerror=alert(1)&gt; AT&T &amp;lt;b&amp;gt; &amp;#60;](https://e.com/1)";
        let mut post = imported_post(title, "<p>正文</p>");
        post.imported = None;
        let text = render_post(&post);
        assert!(text.contains(&format!("\n{shown}\n------\n")), "{text}");
        // The front matter keeps the title as it is.
        assert!(
            text.contains(&format!("title: {}\n", yaml_quoted(title))),
            "{text}"
        );
        let items = [ListItem {
            title: title.into(),
            link: "https://e.com/1".into(),
            date_ms: 1617552000000,
        }];
        assert!(render_list("src", &items).ends_with(&format!("\n4-5 {shown}\n")));
    }

    /// Titles and links that would end the Markdown link early are escaped, and only those.
    #[test]
    fn link_lines_hold_whatever_the_title_and_link_are() {
        for (title, link, line) in [
            (
                "title ] bracket",
                "https://e/1",
                "[title \\] bracket](https://e/1)",
            ),
            ("ends in \\", "https://e/1", "[ends in \\\\](https://e/1)"),
            (
                "a](http://evil.example/)",
                "https://e/1",
                "[a\\](http://evil.example/)](https://e/1)",
            ),
            ("[x] and [y]", "https://e/1", "[[x] and [y]](https://e/1)"),
            ("t", "https://e.example/a)b", "[t](https://e.example/a%29b)"),
            ("t", "https://e/a b<c>", "[t](https://e/a%20b%3Cc%3E)"),
            (
                "t",
                "https://en.wikipedia.org/wiki/Rust_(language)",
                "[t](https://en.wikipedia.org/wiki/Rust_(language))",
            ),
            (
                "中韩外长会谈 韩国支持北京举办冬奥",
                "https://www.zaobao.com/realtime/china/story20210404-1136538",
                "[中韩外长会谈 韩国支持北京举办冬奥](https://www.zaobao.com/realtime/china/story20210404-1136538)",
            ),
        ] {
            assert_eq!(markdown_link(title, link), line, "{title} {link}");
        }
    }

    /// An article without a title still shows a line to click: its link.
    #[test]
    fn an_untitled_article_shows_its_link() {
        let mut post = imported_post("", "<p>正文</p>");
        post.imported = None;
        let text = render_post(&post);
        assert!(text.contains("title: \"\"\n"), "{text}");
        assert!(
            text.contains("\n[https://e.com/1](https://e.com/1)\n------"),
            "{text}"
        );
        let items = [ListItem {
            title: " ".into(),
            link: "https://e.com/a b".into(),
            date_ms: 1617552000000,
        }];
        assert!(
            render_list("src", &items)
                .ends_with("\n4-5 [https://e.com/a b](https://e.com/a%20b)\n")
        );
    }

    /// What Psych or PyYAML would read as anything but a string is quoted; the golden post's
    /// values (a name, a URL) stay plain.
    #[test]
    fn scalars_yaml_would_not_read_as_strings_are_quoted() {
        for value in ["1,000", "1,000.5", "=", "<<", "0x1F", "1_000", ".5"] {
            assert_eq!(yaml_scalar(value, false), yaml_quoted(value), "{value}");
        }
        for value in [
            "联合早报",
            "https://www.zaobao.com/realtime/china/story20210404-1136538",
            "a=b",
            "2021年",
        ] {
            assert_eq!(yaml_scalar(value, false), value);
        }
    }

    /// Jekyll leaves out files whose names start with `.`, `_`, `#` or `~`: list pages never
    /// take such names.
    #[test]
    fn list_pages_take_names_jekyll_keeps() {
        for (source, file, former) in [
            ("联合早报", "联合早报.md", None),
            ("#头条", "-#头条.md", Some("#头条.md")),
            (".dot", "-.dot.md", Some("_.dot.md")),
            ("_under", "-_under.md", Some("_under.md")),
            ("~tilde", "-~tilde.md", Some("~tilde.md")),
            ("", "-.md", Some("_.md")),
            ("a/b", "a--b.md", None),
            ("-dash", "-dash.md", None),
        ] {
            assert_eq!(list_file_name(source), file, "{source}");
            assert_eq!(former_list_file_name(source).as_deref(), former, "{source}");
        }
    }

    /// `desc` is plain text: every character reference decoded, no script or style, white
    /// space (`&nbsp;` too) collapsed, and 100 characters even for text heavy with references.
    #[test]
    fn summaries_decode_references_and_leave_out_scripts_and_styles() {
        assert_eq!(
            summarize("<p>&ldquo;引&rdquo; &#8212; &#x4e2d; &hellip; &amp;lt;</p>"),
            "“引” — 中 … &lt;"
        );
        assert_eq!(
            summarize(
                "<style>p { color: red }</style><SCRIPT type=x>var a = '<p>';</script>\
                 <!-- a > b --><p>正文</p>"
            ),
            "正文"
        );
        assert_eq!(
            summarize("<p>&nbsp;&nbsp;&nbsp;&nbsp;第一段</p><p>&nbsp;&nbsp;第二段</p>"),
            "第一段 第二段"
        );
        let heavy = format!("<p>{}{}</p>", "&amp;".repeat(60), "正文".repeat(100));
        let desc = summarize(&heavy);
        assert_eq!(desc.chars().count(), DESC_CHARS);
        assert_eq!(desc, format!("{}{}", "&".repeat(60), "正文".repeat(20)));
        assert_eq!(summarize("a <b>b</b>"), "a b");
        assert_eq!(summarize("<p>a</p> <p>b</p> "), "a b");
        assert_eq!(summarize("<script>never closed"), "");
    }

    /// A title edited at the source reaches an imported post: its `title:` and link lines are
    /// written again, the rest kept; an unchanged one leaves the post byte for byte.
    #[test]
    fn an_edited_title_reaches_an_imported_post() {
        let post = imported_post("旧标题", "<p>正文</p>");
        let (head, tail) = post.imported.clone().unwrap();
        let mut edited = post.clone();
        edited.title = "新标题 <b>".into();
        edited.versions = 2;
        edited.updated_ms = Some(1617600000000);
        let expected = head
            .replace("title: \"旧标题\"", "title: \"新标题 <b>\"")
            .replace("[旧标题](", "[新标题 &lt;b&gt;](")
            .replace(
                "categories: [ 联合早报 ]\n",
                "categories: [ 联合早报 ]\nupdated: 2021-04-05T05:20:00.000Z\nversions: 2\n",
            );
        assert_eq!(render_post(&edited), format!("{expected}<p>正文</p>{tail}"));
        // An unquoted title, as some originals wrote it, that did not change.
        let mut plain = post.clone();
        let head = head.replace("title: \"旧标题\"", "title: 旧标题");
        plain.imported = Some((head.clone(), tail.clone()));
        assert_eq!(render_post(&plain), format!("{head}<p>正文</p>{tail}"));
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
