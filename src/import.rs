//! Bringing existing archives in: Jekyll posts in the original format, and OPML source lists.
//!
//! Posts are read leniently, by the original format's own rules rather than by a strict YAML
//! parser: real archives hold titles with `\'` inside double quotes (not valid YAML), unquoted
//! titles, a `comments: True` key, an `author` other than the source, and bodies that start with
//! the literal text `null`. Each file keeps its name as its article's post name, and its text
//! around the body is kept as it is, so republishing writes it back byte for byte.
//!
//! An article is identified as a feed item would be (source + its link), so a later `run` that
//! meets the same items makes no new posts; one article found under several file names keeps
//! the earliest as its post and records the others as aliases, left untouched.
//!
//! OPML lists, unlike posts, are read strictly, by an XML parser: a list is written by programs,
//! and one that is not well-formed XML is refused with the place and the reason.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::config::Config;
use crate::content::{identity_hash, join_lines, url_key, version_hash};
use crate::export::OPML_ID_ATTRIBUTE;
use crate::model::Article;
use crate::publish::jekyll::summarize;
use crate::store::{ImportOutcome, ImportedPost, SourceMeta, Store};

/// A post read from a file, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedPost {
    pub title: String,
    pub date_ms: i64,
    pub author: Option<String>,
    pub link: String,
    pub tags: Vec<String>,
    pub categories: Vec<String>,
    /// The `<!--ms-->` line's number.
    pub published_ms: Option<i64>,
    /// The text up to and including the `<div>` line.
    pub head: String,
    /// Between `<div>\n` and `\n</div>`.
    pub body: String,
    /// From `\n</div>` to the end.
    pub tail: String,
}

/// What an import did.
#[derive(Debug, Default, Clone)]
pub struct ImportSummary {
    pub imported: usize,
    /// Files already in the store (an import run again), or aliases of an article already in it.
    pub duplicates: usize,
    /// Files that could not be read as posts: (file, reason).
    pub skipped: Vec<(String, String)>,
}

/// Reads one post in the original format. `name` is its file name (for the date when the front
/// matter has none).
pub fn parse_post(name: &str, text: &str) -> Result<ParsedPost, String> {
    // The post is kept byte for byte (see `head`, `tail`): these are named, not rewritten.
    if text.starts_with('\u{feff}') {
        return Err("starts with a byte-order mark (U+FEFF); remove it to import the post".into());
    }
    if text.starts_with("---\r\n") {
        return Err(
            "has Windows line endings (CRLF); convert them to LF to import the post".into(),
        );
    }
    let rest = text
        .strip_prefix("---\n")
        .ok_or("does not start with a `---` front-matter line")?;
    let end = rest
        .find("\n---\n")
        .ok_or("front matter is not closed by a `---` line")?;
    let front = &rest[..end];
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for line in front.lines() {
        if let Some((key, value)) = line.split_once(':') {
            fields.entry(key.trim()).or_insert(value.trim());
        }
    }
    let title = unquote(fields.get("title").ok_or("no `title:`")?);
    // The body opens after the front matter: its closing `\n---\n` ends at 4 + end + 5.
    let body_from = 4 + end + 4;
    let div = text[body_from..]
        .find("\n<div>\n")
        .map(|at| body_from + at)
        .ok_or("no `<div>` line opening the body")?;
    let head_end = div + "\n<div>\n".len();
    let tail_start = text
        .rfind("\n</div>")
        .filter(|at| *at + 1 >= head_end)
        .ok_or("no `</div>` line closing the body")?;
    let (body, tail) = if tail_start < head_end {
        // `<div>\n</div>`: an empty body, the closing line right after the opening one.
        ("", &text[head_end..])
    } else {
        (&text[head_end..tail_start], &text[tail_start..])
    };
    let after_front = &text[4 + end + 5..head_end];
    let published_ms = after_front.lines().find_map(|l| {
        l.strip_prefix("<!--")?
            .strip_suffix("-->")?
            .trim()
            .parse()
            .ok()
    });
    let date_ms = fields
        .get("date")
        .and_then(|d| parse_date(&unquote(d)))
        .or_else(|| {
            let day = NaiveDate::parse_from_str(name.get(..10)?, "%Y-%m-%d").ok()?;
            Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
        })
        .ok_or("no usable `date:` and no date in the file name")?;
    let link = fields
        .get("from")
        .map(|l| unquote(l))
        .or_else(|| {
            let line = after_front.lines().find(|l| l.starts_with('['))?;
            let open = line.rfind("](")?;
            Some(line[open + 2..].strip_suffix(')')?.to_string())
        })
        .unwrap_or_default();
    Ok(ParsedPost {
        title,
        date_ms,
        author: fields.get("author").map(|a| unquote(a)),
        link,
        tags: fields.get("tags").map(|t| flow_list(t)).unwrap_or_default(),
        categories: fields
            .get("categories")
            .map(|c| flow_list(c))
            .unwrap_or_default(),
        published_ms,
        head: text[..head_end].to_string(),
        body: body.to_string(),
        tail: tail.to_string(),
    })
}

/// A scalar as the original wrote it: double-quoted with backslash escapes (including the
/// invalid `\'`), single-quoted, or plain.
pub(crate) fn unquote(value: &str) -> String {
    let value = value.trim();
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        let inner = &value[1..value.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some('N') => out.push('\u{85}'),
                Some('L') => out.push('\u{2028}'),
                Some('P') => out.push('\u{2029}'),
                Some(kind @ ('x' | 'u' | 'U')) => {
                    let len = match kind {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = chars.by_ref().take(len).collect();
                    match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        Some(c) => out.push(c),
                        None => {
                            out.push('\\');
                            out.push(kind);
                            out.push_str(&hex);
                        }
                    }
                }
                // `\"`, `\\`, `\/` and the original's `\'`, `\“`: the character itself.
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        }
        out
    } else if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') {
        value[1..value.len() - 1].replace("''", "'")
    } else {
        value.to_string()
    }
}

/// `[ a, b ]` or `[a, "b, c"]`.
fn flow_list(value: &str) -> Vec<String> {
    let inner = value
        .trim()
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    let mut items = vec![];
    let mut current = String::new();
    let mut quote = None;
    for c in inner.chars() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                current.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (None, ',') => items.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    items.push(current);
    items
        .iter()
        .map(|i| unquote(i))
        .filter(|i| !i.is_empty())
        .collect()
}

fn parse_date(text: &str) -> Option<i64> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S%.f %z"] {
        if let Ok(at) = DateTime::parse_from_str(text, format) {
            return Some(at.timestamp_millis());
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(at.and_utc().timestamp_millis());
        }
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// The content a post's body stands for: the original printed `null` before the body of items
/// that had no content field.
fn content_of(body: &str) -> &str {
    match body.strip_prefix("null") {
        Some(rest)
            if rest.is_empty()
                || rest.starts_with(char::is_whitespace)
                || rest.starts_with('<') =>
        {
            rest
        }
        _ => body,
    }
}

/// The source a post belongs to: the configured source named in its categories, tags or
/// author, else its first category (or author) as a source of its own.
fn source_of(post: &ParsedPost, config: &Config) -> Option<SourceMeta> {
    let names = post
        .categories
        .iter()
        .chain(&post.tags)
        .chain(post.author.as_ref());
    for name in names.clone() {
        if let Some(source) = config.sources.iter().find(|s| &s.name == name) {
            return Some(SourceMeta {
                id: source.id().to_string(),
                name: source.name.clone(),
                tags: post.tags.clone(),
                categories: post.categories.clone(),
            });
        }
    }
    let name = post.categories.first().or(post.author.as_ref())?.clone();
    Some(SourceMeta {
        id: name.clone(),
        name,
        tags: post.tags.clone(),
        categories: post.categories.clone(),
    })
}

/// The article a post stands for, keyed as a feed item with that link would be. Takes the
/// post's body (the article keeps it).
fn article_of(post: &mut ParsedPost) -> Article {
    let raw_content = content_of(&post.body).to_string();
    let joined = join_lines(&raw_content);
    let hash = version_hash(&post.title, &joined);
    let key = if post.link.starts_with("http://") || post.link.starts_with("https://") {
        url_key(&post.link)
    } else {
        format!("hash:{}", identity_hash(&post.title, &joined))
    };
    Article {
        key,
        guid: None,
        link: post.link.clone(),
        link_from_item: true,
        earlier_keys: vec![],
        title: post.title.clone(),
        published: None,
        authors: vec![],
        categories: post.categories.clone(),
        raw_content,
        // An imported post's content is its body: the store keeps it once anyway.
        raw_shape: None,
        body: std::mem::take(&mut post.body),
        version_hash: hash,
    }
}

/// A post file read, parsed and keyed, ready to be stored.
struct Prepared {
    source: SourceMeta,
    article: Article,
    /// The file name lower-cased (names are unique whatever their case).
    name_key: String,
    author: Option<String>,
    date_ms: i64,
    published_ms: Option<i64>,
    summary: String,
    head: String,
    tail: String,
}

/// Reads a post file (into `buffer`, reused from file to file) and works out everything the
/// store needs from it, or why it cannot be imported.
fn prepare(
    name: &str,
    path: &Path,
    config: &Config,
    buffer: &mut Vec<u8>,
) -> Result<Prepared, String> {
    use std::io::Read;
    buffer.clear();
    std::fs::File::open(path)
        .and_then(|mut file| file.read_to_end(buffer))
        .map_err(|e| e.to_string())?;
    // The same check as `std::str::from_utf8`, several times faster on CJK text.
    let text = simdutf8::basic::from_utf8(buffer).map_err(|_| "not UTF-8 text")?;
    let mut post = parse_post(name, text)?;
    let source = source_of(&post, config).ok_or("no category, tag or author names its source")?;
    let summary = summarize(&post.body);
    let article = article_of(&mut post);
    Ok(Prepared {
        source,
        article,
        name_key: name.to_lowercase(),
        author: post.author,
        date_ms: post.date_ms,
        published_ms: post.published_ms,
        summary,
        head: post.head,
        tail: post.tail,
    })
}

/// The names of the `*.md` files of `posts_dir`, sorted.
fn post_files(posts_dir: &Path) -> anyhow::Result<Vec<OsString>> {
    use anyhow::Context;
    let mut names: Vec<OsString> = std::fs::read_dir(posts_dir)
        .with_context(|| format!("reading {}", posts_dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| {
            Path::new(&e.file_name()).extension().is_some_and(|x| x == "md")
                // The directory entry tells files apart without a `stat`, except for links.
                && match e.file_type() {
                    Ok(kind) if !kind.is_symlink() => kind.is_file(),
                    _ => e.path().is_file(),
                }
        })
        .map(|e| e.file_name())
        .collect();
    names.sort_unstable();
    Ok(names)
}

/// Files committed together.
const BATCH: usize = 2000;
/// Files a reading thread hands over at a time (a divisor of [`BATCH`]).
const CHUNK: usize = 50;

/// Imports every `*.md` file of `posts_dir` (sorted by name, so the earliest file of an article
/// becomes its post), committing every `BATCH` files. Running it again finishes an interrupted
/// import without duplicates.
///
/// Files are read and parsed on other threads, a chunk at a time, and stored in name order on
/// this one (the store's only writer); each chunk goes back to the thread that read it to be
/// freed there.
pub fn import_jekyll(
    store: &Store,
    config: &Config,
    posts_dir: &Path,
    now_ms: i64,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<ImportSummary> {
    let files = post_files(posts_dir)?;
    if files.is_empty() {
        return Ok(ImportSummary::default());
    }
    // Read from elsewhere, the posts are written into the archive's `_posts/` afterwards, never
    // over a file already there.
    let archive_posts = config.archive.join(crate::publish::jekyll::POSTS_DIR);
    let elsewhere = !is_same_folder(posts_dir, &archive_posts);
    let taken = |name: &str| elsewhere && archive_posts.join(name).symlink_metadata().is_ok();
    let chunks: Vec<&[OsString]> = files.chunks(CHUNK).collect();
    const BATCH_CHUNKS: usize = BATCH / CHUNK;
    let readers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(chunks.len());
    let bulk = store.begin_bulk_import()?;
    let mut summary = ImportSummary::default();
    let written = std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut lanes = Vec::with_capacity(readers);
        for lane in 0..readers {
            let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Vec<_>>(2);
            let (done_tx, done_rx) = std::sync::mpsc::channel::<Vec<_>>();
            let chunks = &chunks;
            std::thread::Builder::new()
                .name(format!("import-read-{lane}"))
                .spawn_scoped(scope, move || {
                    let mut buffer = Vec::new();
                    for chunk in chunks.iter().skip(lane).step_by(readers) {
                        let read: Vec<(String, Result<Prepared, String>)> = chunk
                            .iter()
                            .map(|file| {
                                let name = file.to_string_lossy().into_owned();
                                let path = posts_dir.join(file);
                                let prepared = prepare(&name, &path, config, &mut buffer);
                                (name, prepared)
                            })
                            .collect();
                        if ready_tx.send(read).is_err() {
                            return;
                        }
                        done_rx.try_iter().for_each(drop);
                    }
                })?;
            lanes.push((ready_rx, done_tx));
        }
        let mut importer = store.importer()?;
        // Each source's name as last recorded by this import.
        let mut sources: HashMap<String, String> = HashMap::new();
        let mut stored = 0;
        for (at, batch) in chunks.chunks(BATCH_CHUNKS).enumerate() {
            store.begin()?;
            for i in 0..batch.len() {
                let (ready_rx, done_tx) = &lanes[(at * BATCH_CHUNKS + i) % readers];
                let read = ready_rx
                    .recv()
                    .map_err(|_| anyhow::anyhow!("a thread reading posts stopped"))?;
                for (name, prepared) in &read {
                    let post = match prepared {
                        Ok(post) => post,
                        Err(reason) => {
                            summary.skipped.push((name.clone(), reason.clone()));
                            continue;
                        }
                    };
                    let source = &post.source;
                    if sources.get(&source.id) != Some(&source.name) {
                        store.ensure_source(&source.id, &source.name, now_ms)?;
                        sources.insert(source.id.clone(), source.name.clone());
                    }
                    let record = ImportedPost {
                        name,
                        name_key: &post.name_key,
                        author: post.author.as_deref().unwrap_or(&source.name),
                        date_ms: post.date_ms,
                        published_ms: post.published_ms,
                        summary: &post.summary,
                        head: &post.head,
                        tail: &post.tail,
                    };
                    let outcome =
                        importer.import_post(source, &post.article, &record, &taken, now_ms)?;
                    match outcome {
                        ImportOutcome::Imported => summary.imported += 1,
                        ImportOutcome::Duplicate => summary.duplicates += 1,
                        ImportOutcome::NameHeldByOther => summary.skipped.push((
                            name.clone(),
                            "the store already holds another article under this file name".into(),
                        )),
                        ImportOutcome::NameOnDisk => summary.skipped.push((
                            name.clone(),
                            format!(
                                "{} holds another file of this name, left as it is",
                                archive_posts.display()
                            ),
                        )),
                    }
                }
                stored += read.len();
                // Freed by the thread that allocated it; gone already if that thread is done.
                let _ = done_tx.send(read);
            }
            store.commit()?;
            progress(stored, files.len());
        }
        Ok(())
    });
    written?;
    if bulk {
        store.end_bulk_import()?;
    }
    Ok(summary)
}

/// Whether `a` and `b` are one folder (a folder that is not there is no other's).
pub fn is_same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A source as an OPML list gives it: the name, the id when the list carries one (written by
/// `export opml`), and its feeds in the list's order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpmlSource {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub feeds: Vec<String>,
}

/// `[[source]]` entries for the feeds of an OPML file, as TOML to paste into the config, and notes
/// on what was left out or renamed for the config to load: a feed the config would not fetch (a
/// `gopher:` URL, text that is not a URL), a source with no feed left, a name whose list page
/// would be an earlier source's file (it gets a number: `name 2`).
///
/// The `toml` crate writes them, so every name and URL is a TOML string that the config reads
/// back as it was (control characters and `DEL` escaped, quotes and backslashes too).
pub fn opml_to_toml(text: &str) -> Result<(String, Vec<String>), String> {
    /// The config's `[[source]]` array, as far as an OPML list fills it.
    #[derive(serde::Serialize)]
    struct Entries {
        source: Vec<OpmlSource>,
    }
    let mut notes = vec![];
    let mut sources = vec![];
    // What the sources kept so far hold: ids, and list pages by their file name lower-cased
    // (the config's own rules: see `Config::validate`).
    let (mut ids, mut lists) = (HashSet::new(), HashSet::new());
    let list_of = |name: &str| crate::publish::jekyll::list_file_name(name).to_lowercase();
    // A feed is read for one source: the first that lists it.
    let mut feeds = HashSet::new();
    for mut source in read_opml(text)? {
        let mut refused = vec![];
        let mut kept = HashSet::new();
        source.feeds.retain(|feed| {
            let why = match crate::config::check_feed_url(feed) {
                Err(why) => why,
                Ok(()) if feeds.contains(&crate::config::feed_identity(feed)) => {
                    "is an earlier source's".to_string()
                }
                Ok(()) if !kept.insert(crate::config::feed_identity(feed)) => {
                    "is listed twice".to_string()
                }
                Ok(()) => return true,
            };
            refused.push(format!("feed {feed:?} {why}"));
            false
        });
        feeds.extend(kept);
        if source.feeds.is_empty() {
            notes.push(format!(
                "source {:?} left out: no feed it can fetch ({})",
                source.name,
                refused.join("; ")
            ));
            continue;
        }
        for why in refused {
            notes.push(format!("source {:?}: left out {why}", source.name));
        }
        let free = |name: &str, id: Option<&str>| {
            !lists.contains(&list_of(name)) && !ids.contains(id.unwrap_or(name))
        };
        if !free(&source.name, source.id.as_deref()) {
            // Cut first, or a long name's number would be cut from its list page's name.
            let stem: String = source.name.chars().take(50).collect();
            let renamed = (2..)
                .map(|n| format!("{stem} {n}"))
                .find(|name| free(name, source.id.as_deref()))
                .expect("some number is free");
            notes.push(format!(
                "source {:?} named {renamed:?}: its list page would be an earlier source's",
                source.name
            ));
            source.name = renamed;
        }
        lists.insert(list_of(&source.name));
        ids.insert(source.id.clone().unwrap_or_else(|| source.name.clone()));
        sources.push(source);
    }
    if sources.is_empty() {
        return Err("no feed newsvault can fetch (http, https or file)".into());
    }
    let toml = toml::to_string(&Entries { source: sources })
        .map_err(|e| format!("cannot write the sources as TOML: {e}"))?;
    Ok((toml, notes))
}

/// The sources of an OPML list: the `<outline>`s with an `xmlUrl`, each named by its `title`,
/// else its `text`, else the URL. Outlines with the same id ([`OPML_ID_ATTRIBUTE`]), or without
/// one the same name, are the feeds of one source, as `export opml` writes a source of several
/// feeds (and as the config wants it: two sources cannot share an id, which defaults to the name).
///
/// The list is read by an XML parser (quick-xml): attribute values are unescaped, character
/// references included, and entities other than XML's five are refused, never expanded. Text
/// that is not an OPML document gets the reason and where, as `line L, column C: …`.
pub fn read_opml(text: &str) -> Result<Vec<OpmlSource>, String> {
    use quick_xml::events::Event;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let at = |offset: u64| {
        let (line, column) = crate::config::line_and_column(text, offset as usize);
        format!("line {line}, column {column}")
    };
    let mut reader = quick_xml::Reader::from_str(text);
    let mut sources: Vec<OpmlSource> = vec![];
    // Each source's place in `sources`, by its id (its name when the list gives none).
    let mut places: HashMap<String, usize> = HashMap::new();
    // Whether the document's element has begun, and how many elements are open.
    let mut begun = false;
    let mut open = 0usize;
    loop {
        let tag_at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("{}: not well-formed XML: {e}", at(reader.error_position())))?;
        let tag = match event {
            Event::Start(tag) => {
                open += 1;
                tag
            }
            Event::Empty(tag) => tag,
            Event::End(_) => {
                open = open.saturating_sub(1);
                continue;
            }
            Event::Text(words) if !begun && !words.trim_ascii().is_empty() => {
                return Err(format!(
                    "{}: text before any element: not an OPML list",
                    at(tag_at)
                ));
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = tag.local_name();
        let name = name.as_ref();
        if !begun {
            if name != "opml" {
                return Err(format!(
                    "{}: the document is <{name}>, not <opml>: not an OPML list",
                    at(tag_at)
                ));
            }
            begun = true;
        }
        if name != "outline" {
            continue;
        }
        let outline = read_outline(&tag).map_err(|why| {
            let offset = why.offset.map_or(tag_at, |o| tag_at + 1 + o as u64);
            format!("{}: <outline>: {}", at(offset), why.reason)
        })?;
        let Some(source) = outline else {
            continue;
        };
        let id = source.id.as_ref().unwrap_or(&source.name);
        match places.get(id) {
            Some(&place) => {
                let known = &mut sources[place];
                known.id = known.id.take().or(source.id);
                for feed in source.feeds {
                    if !known.feeds.contains(&feed) {
                        known.feeds.push(feed);
                    }
                }
            }
            None => {
                places.insert(id.clone(), sources.len());
                sources.push(source);
            }
        }
    }
    if !begun {
        return Err("no XML element: not an OPML list".into());
    }
    if open > 0 {
        return Err(format!(
            "{}: the document ends with {open} element(s) not closed (a file cut short?)",
            at(text.len() as u64)
        ));
    }
    if sources.is_empty() {
        return Err("no <outline xmlUrl=…> element: an OPML list without feeds".into());
    }
    Ok(sources)
}

/// Why an `<outline>` cannot be read; `offset` counts from the start of the tag's name.
struct OutlineError {
    offset: Option<usize>,
    reason: String,
}

/// The source an `<outline>` stands for, with its one feed, if it has an `xmlUrl`.
fn read_outline(tag: &quick_xml::events::BytesStart) -> Result<Option<OpmlSource>, OutlineError> {
    use quick_xml::events::attributes::AttrError;
    let (mut url, mut title, mut text, mut id) = (None, None, None, None);
    for attribute in tag.attributes() {
        let attribute = attribute.map_err(|e| {
            let (offset, reason) = match e {
                AttrError::ExpectedEq(o) => (o, "an attribute name without `=`"),
                AttrError::ExpectedValue(o) => (o, "`=` without a value"),
                AttrError::UnquotedValue(o) => (o, "an attribute value not in quotes"),
                AttrError::ExpectedQuote(o, _) => {
                    (o, "an attribute value without its closing quote")
                }
                AttrError::Duplicated(o, _) => (o, "an attribute given twice"),
            };
            OutlineError {
                offset: Some(offset),
                reason: reason.into(),
            }
        })?;
        let key = attribute.key.local_name();
        let slot = match key.as_ref() {
            "xmlUrl" => &mut url,
            "title" => &mut title,
            "text" => &mut text,
            OPML_ID_ATTRIBUTE => &mut id,
            _ => continue,
        };
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| OutlineError {
                offset: None,
                reason: format!("attribute {}: {e}", key.as_ref()),
            })?;
        *slot = Some(value.into_owned());
    }
    let Some(url) = url else { return Ok(None) };
    let id = id.filter(|id| !id.trim().is_empty());
    let name = [title, text]
        .into_iter()
        .flatten()
        .find(|name| !name.trim().is_empty())
        .unwrap_or_else(|| url.clone());
    Ok(Some(OpmlSource {
        name,
        id,
        feeds: vec![url],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quirks_of_real_archives() {
        assert_eq!(unquote(r#""It\'s \"x\" \\ y""#), r#"It's "x" \ y"#);
        assert_eq!(unquote("plain title"), "plain title");
        assert_eq!(unquote("'it''s'"), "it's");
        assert_eq!(flow_list("[ 日本経済新聞 ]"), vec!["日本経済新聞"]);
        assert_eq!(flow_list("[ a, \"b, c\" ]"), vec!["a", "b, c"]);
        assert_eq!(content_of("null     <p>x</p>"), "     <p>x</p>");
        assert_eq!(content_of("nullify"), "nullify");
    }

    /// A post saved with a byte-order mark or Windows line endings is skipped with that reason,
    /// not as one without front matter.
    #[test]
    fn a_post_with_a_bom_or_crlf_says_so() {
        let post = "---\nlayout: post\ntitle: t\ndate: 2021-04-04T08:45:53.966Z\n---\n[t](https://e/1)\n------\n\n<div>\nx\n</div>\n";
        assert!(parse_post("2021-04-04-t.md", post).is_ok());
        let bom = format!("\u{feff}{post}");
        let err = parse_post("2021-04-04-t.md", &bom).unwrap_err();
        assert!(err.contains("byte-order mark"), "{err}");
        let crlf = post.replace('\n', "\r\n");
        let err = parse_post("2021-04-04-t.md", &crlf).unwrap_err();
        assert!(err.contains("CRLF"), "{err}");
    }

    #[test]
    fn reads_the_original_format() {
        let text = "---\nlayout: post\ntitle: \"a\\'b\"\ndate: 2013-10-15T16:00:00.000Z\nauthor: 陈博\nfrom: https://e.com/1\ntags: [ X ]\ncomments: True\ncategories: [ X ]\n---\n<!--1381852800000-->\n[a'b](https://e.com/1)\n------\n\n<div>\n<p>body</p>\n</div>\n";
        let post = parse_post("2013-10-15-a'b.md", text).unwrap();
        assert_eq!(post.title, "a'b");
        assert_eq!(post.author.as_deref(), Some("陈博"));
        assert_eq!(post.published_ms, Some(1381852800000));
        assert_eq!(post.body, "<p>body</p>");
        assert_eq!(format!("{}{}{}", post.head, post.body, post.tail), text);
        assert!(parse_post("x.md", "no front matter").is_err());
        assert!(parse_post("x.md", "---\ntitle: x\n---\nno body").is_err());
    }

    #[test]
    fn opml_with_an_unquoted_non_ascii_attribute_is_refused_not_a_panic() {
        let err = opml_to_toml(r#"<opml><body><outline text="中文" xmlUrl=中文/></body></opml>"#)
            .unwrap_err();
        assert_eq!(
            err,
            "line 1, column 39: <outline>: an attribute value not in quotes"
        );
    }

    #[test]
    fn opml_attributes_may_be_apart_by_tabs_and_line_breaks() {
        let (toml, _) = opml_to_toml(
            "<opml><body>\n<outline\ttext=\"A\"\n\t\txmlUrl=\"https://e.com/a\"\r\n/></body></opml>",
        )
        .unwrap();
        assert!(toml.contains("https://e.com/a"), "{toml}");
    }

    #[test]
    fn opml_character_references_are_decoded() {
        let (toml, _) = opml_to_toml(
            r#"<opml><body><outline text="It&#39;s &#x4E2D;&#25991;" xmlUrl="https://e.com/a"/></body></opml>"#,
        )
        .unwrap();
        assert!(toml.contains("It's 中文"), "{toml}");
    }

    #[test]
    fn what_is_not_an_opml_list_is_refused_with_the_reason() {
        for (text, reason) in [
            ("<html/>", "<html>"),
            ("plain text", "text before any element: not an OPML list"),
            ("", "no XML element"),
            (
                "<opml><body><outline xmlUrl=\"https://e.com/a\"/>",
                "not closed",
            ),
            ("<opml><body></head></opml>", "line 1"),
            (
                "<opml><body><outline text='x'/></body></opml>",
                "no <outline xmlUrl",
            ),
        ] {
            let err = opml_to_toml(text).unwrap_err();
            assert!(err.contains(reason), "{text:?}: {err}");
        }
    }

    /// Names TOML must escape, and names it takes as they are.
    #[test]
    fn the_printed_sources_load_as_a_config_with_the_same_names_and_feeds() {
        let names = [
            "BBC & co",
            "zero\u{200b}width",
            "del\u{7f}",
            "bell\u{7}",
            "quote \" and back\\slash",
            "it's 中文",
            "tab\tand\nbreak",
        ];
        let mut opml = String::from("<opml version=\"2.0\"><body>\n");
        for (i, name) in names.iter().enumerate() {
            let attr: String = name
                .chars()
                .map(|c| match c {
                    '&' => "&amp;".to_string(),
                    '"' => "&quot;".to_string(),
                    c if c.is_control() => format!("&#{};", c as u32),
                    c => c.to_string(),
                })
                .collect();
            opml.push_str(&format!(
                "<outline type=\"rss\" text=\"{attr}\" xmlUrl=\"https://e.com/{i}?a=1&amp;b=2\"/>\n"
            ));
        }
        opml.push_str("</body></opml>\n");
        let (toml, _) = opml_to_toml(&opml).unwrap();
        let config = Config::parse(&toml, Path::new("t.toml"), Path::new("/")).unwrap();
        let back: Vec<(&str, &[String])> = config
            .sources
            .iter()
            .map(|s| (s.name.as_str(), &s.feeds[..]))
            .collect();
        let feeds: Vec<[String; 1]> = (0..names.len())
            .map(|i| [format!("https://e.com/{i}?a=1&b=2")])
            .collect();
        let expected: Vec<(&str, &[String])> = names
            .iter()
            .zip(&feeds)
            .map(|(name, feed)| (*name, &feed[..]))
            .collect();
        assert_eq!(back, expected, "{toml}");
    }

    /// A list of any reader's making names a site's feeds alike; newsvault's own gives ids too.
    #[test]
    fn outlines_of_one_name_or_id_are_one_source() {
        let sources = read_opml(
            r#"<opml><body>
            <outline text="News"><outline text="A" xmlUrl="https://a.com/1"/></outline>
            <outline text="B" xmlUrl="https://b.com/1"/>
            <outline text="A" xmlUrl="https://a.com/2"/>
            <outline text="A" xmlUrl="https://a.com/1"/>
            <outline text="C" newsvaultId="c" xmlUrl="https://c.com/1"/>
            <outline text="C again" newsvaultId="c" xmlUrl="https://c.com/2"/>
            </body></opml>"#,
        )
        .unwrap();
        let source = |name: &str, id: Option<&str>, feeds: &[&str]| OpmlSource {
            name: name.into(),
            id: id.map(Into::into),
            feeds: feeds.iter().map(|f| f.to_string()).collect(),
        };
        assert_eq!(
            sources,
            [
                source("A", None, &["https://a.com/1", "https://a.com/2"]),
                source("B", None, &["https://b.com/1"]),
                source("C", Some("c"), &["https://c.com/1", "https://c.com/2"]),
            ]
        );
    }

    proptest::proptest! {
        /// Whatever the file holds, reading it gives sources or a reason, never a panic.
        #[test]
        fn opml_import_never_panics(text in ".*", value in ".*") {
            let _ = opml_to_toml(&text);
            let _ = opml_to_toml(&format!(
                "<opml><body><outline text=\"{value}\" xmlUrl={value}/><outline title='{value}' xmlUrl=\"{value}\"/></body></opml>"
            ));
        }

        /// Whatever names, ids and URLs the outlines have, the sources printed load as a config.
        #[test]
        fn what_is_printed_loads(
            outlines in proptest::collection::vec(
                ("[a-zA-Z/. \u{4e00}-\u{4e05}-]{0,6}", proptest::option::of("[a-zA-Z ]{0,3}"),
                 "(https?|file|ftp)://[a-c]\\.com/[a-z]{0,2}|[a-z:/ ]{0,8}"),
                1..8,
            )
        ) {
            let body: String = outlines
                .iter()
                .map(|(name, id, url)| {
                    let id = id.as_ref().map(|id| format!(" newsvaultId=\"{id}\"")).unwrap_or_default();
                    format!("<outline text=\"{name}\"{id} xmlUrl=\"{url}\"/>")
                })
                .collect();
            if let Ok((toml, _)) = opml_to_toml(&format!("<opml><body>{body}</body></opml>")) {
                let loaded = crate::config::Config::parse(&toml, Path::new("t.toml"), Path::new("/"));
                proptest::prop_assert!(loaded.is_ok(), "{toml}\n{}", loaded.unwrap_err());
            }
        }
    }

    /// What the config would refuse is not printed: a feed it does not fetch, or an earlier
    /// source reads, is left out, a source left without feeds too, and a name whose list page is an earlier source's file gets
    /// a number; each is said in a note. A blank id is no id. What is printed always loads.
    #[test]
    fn what_the_config_would_refuse_is_mended_and_said() {
        let (toml, notes) = opml_to_toml(
            r#"<opml><body>
            <outline text="A" xmlUrl="https://a.com/1"/>
            <outline text="A" xmlUrl="gopher://a.com/2"/>
            <outline text="G" xmlUrl="gopher://g.com/"/>
            <outline text="a" xmlUrl="https://b.com/1"/>
            <outline text="x/y" xmlUrl="https://c.com/1"/>
            <outline text="x--y" xmlUrl="https://d.com/1"/>
            <outline text="E" newsvaultId=" " xmlUrl="https://e.com/1"/>
            <outline text="F" xmlUrl="HTTPS://A.com:443/1"/>
            <outline text="F" xmlUrl="https://f.com/1"/>
            </body></opml>"#,
        )
        .unwrap();
        assert_eq!(
            toml,
            "[[source]]\nname = \"A\"\nfeeds = [\"https://a.com/1\"]\n\n\
             [[source]]\nname = \"a 2\"\nfeeds = [\"https://b.com/1\"]\n\n\
             [[source]]\nname = \"x/y\"\nfeeds = [\"https://c.com/1\"]\n\n\
             [[source]]\nname = \"x--y 2\"\nfeeds = [\"https://d.com/1\"]\n\n\
             [[source]]\nname = \"E\"\nfeeds = [\"https://e.com/1\"]\n\n\
             [[source]]\nname = \"F\"\nfeeds = [\"https://f.com/1\"]\n"
        );
        assert_eq!(notes.len(), 5, "{notes:#?}");
        assert!(notes[4].contains("HTTPS://A.com:443/1") && notes[4].contains("earlier source"));
        assert!(notes[0].contains("gopher://a.com/2") && notes[0].contains("\"A\""));
        assert!(notes[1].contains("\"G\"") && notes[1].contains("no feed"));
        assert!(notes[2].contains("\"a\"") && notes[2].contains("\"a 2\""));
        assert!(notes[3].contains("\"x--y\"") && notes[3].contains("\"x--y 2\""));
        crate::config::Config::parse(&toml, Path::new("t.toml"), Path::new("/")).unwrap();

        // Names too long for their number to stay in a list page's name are cut first.
        let long =
            |c: &str, url: &str| format!("<outline text=\"{}\" xmlUrl=\"{url}\"/>", c.repeat(300));
        let (toml, notes) = opml_to_toml(&format!(
            "<opml><body>{}{}{}</body></opml>",
            long("标", "https://a.com/"),
            long("A", "https://b.com/"),
            long("a", "https://c.com/")
        ))
        .unwrap();
        assert_eq!(notes.len(), 1, "{notes:#?}");
        assert!(
            toml.contains(&format!("\"{} 2\"", "a".repeat(50))),
            "{toml}"
        );
        crate::config::Config::parse(&toml, Path::new("t.toml"), Path::new("/")).unwrap();
    }

    #[test]
    fn opml() {
        let (toml, _) = opml_to_toml(r#"<opml><body><outline text="BBC &amp; co" xmlUrl="https://e.com/f?a=1&amp;b=2"/><outline title="it's \ &quot;x&quot;" xmlUrl="https://e.com/g"/></body></opml>"#).unwrap();
        assert_eq!(
            toml,
            "[[source]]\nname = \"BBC & co\"\nfeeds = [\"https://e.com/f?a=1&b=2\"]\n\n\
             [[source]]\nname = \'\'\'it\'s \\ \"x\"\'\'\'\nfeeds = [\"https://e.com/g\"]\n"
        );
        assert!(opml_to_toml("<html/>").is_err());
    }
}
