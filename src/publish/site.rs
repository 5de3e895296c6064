//! The HTML site of `newsvault build`: static pages rendered from the store with minijinja
//! templates, for reading the archive in a browser, with no Ruby and no server.
//!
//! Pages (paths relative to the output folder; every link between pages is relative, so the
//! site works from any sub-path of a static host):
//!
//! - `index.html`: the latest articles, the sources, the latest days.
//! - `a/<id>.html`: one article: title, source, original link, published and archived times, the
//!   content sanitised with [`sanitise`] (every article, verbatim sources too), its versions with
//!   a character diff between each and the one before, and a "gone at source" mark.
//! - `sources/index.html`, `sources/<slug>/index.html` (latest articles and months),
//!   `sources/<slug>/<YYYY-MM>.html` (the newest page; older pages of [`PAGE_SIZE`] are
//!   `-p1.html`, `-p2.html`, … numbered from the oldest).
//! - `days/index.html`, `days/<YYYY-MM-DD>.html` (older pages `-p1.html`, …).
//! - `feed.xml` (Atom, the latest articles), `search.html` (uses `GET /api/search` of `serve`,
//!   else the static index of [`super::shards`] in `search/`),
//!   `assets/site.css` and `assets/site.js` (no inline script: a CSP of `script-src 'self'`
//!   holds).
//!
//! Lists are split by month and by day, and their pages are numbered from the oldest, so a new
//! article rewrites the newest page of its own day and month and leaves the others alone.
//!
//! Incremental: the build remembers, in [`STATE_FILE`] in the output folder, a fingerprint of
//! every article page's inputs, of every list page's items and of the templates. A rebuild
//! renders only the pages whose fingerprint changed (every page when a template changed). What
//! is on disk is read once, as a listing (`pages_on_disk`). A page that exists is replaced
//! through [`write_atomically`], which leaves a file with the same bytes untouched; a new one is
//! created in place (`InPlace`). Pages of articles that left the site (hidden) are removed.
//!
//! A full build (no state, or new templates) walks the store twice: the articles' metadata
//! first (the store's covering index), which is all the lists and the static search index need
//! to plan, then every body once, handed both to the page workers and, on a thread of its own
//! with a connection of its own, to the static index's readers ([`super::shards::SharedWalk`]).
//!
//! Templates are embedded from `templates/`; a folder named by `[site] templates` replaces any
//! of them, file by file (same names, `assets/` included).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use ring::digest::{Context, SHA256, digest};
use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};
use thiserror::Error;

use crate::content::clean::sanitise;
use crate::publish::dates::{day, format_time, iso};
use crate::publish::shards::ShardReport;
use crate::publish::{TEMP_PREFIX, write_atomically, write_new};
use crate::search::plain_text;
use crate::store::{ArticleRecord, Store, StoreError};

/// Articles per list page (a day or a source's month).
pub const PAGE_SIZE: usize = 100;
/// Articles on the home page, a source's page and in the Atom feed.
pub const LATEST: usize = 50;
/// Days linked from the home page.
const HOME_DAYS: usize = 14;
/// The build's memory of what it rendered, in the output folder.
pub const STATE_FILE: &str = ".newsvault-build.json";
/// Bump when the data given to templates changes shape, so old pages are all rendered again.
const FORMAT: u32 = 2;
/// Articles waiting for a page worker, at most.
const BATCH: usize = 128;

/// The built-in templates, by name.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("list.html", include_str!("../../templates/list.html")),
    ("source.html", include_str!("../../templates/source.html")),
    ("sources.html", include_str!("../../templates/sources.html")),
    ("days.html", include_str!("../../templates/days.html")),
    ("article.html", include_str!("../../templates/article.html")),
    ("search.html", include_str!("../../templates/search.html")),
    ("feed.xml", include_str!("../../templates/feed.xml")),
];

/// The built-in static files, copied as they are.
pub const ASSETS: &[(&str, &str)] = &[
    (
        "assets/site.css",
        include_str!("../../templates/assets/site.css"),
    ),
    (
        "assets/site.js",
        include_str!("../../templates/assets/site.js"),
    ),
];

#[derive(Debug, Error)]
pub enum SiteError {
    #[error("template {name}: {cause:#}")]
    Template {
        name: String,
        cause: minijinja::Error,
    },
    #[error("cannot read template {path}: {cause}")]
    ReadTemplate {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot write {path}: {cause}")]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to build, and where.
#[derive(Debug, Clone)]
pub struct SiteOptions {
    /// The output folder.
    pub out: PathBuf,
    /// A folder whose files replace the built-in templates and assets of the same name.
    pub templates: Option<PathBuf>,
    /// Shown on every page and as the feed's title.
    pub title: String,
    /// "Now", for the footer and the feed's `<updated>` when the archive is empty.
    pub now_ms: i64,
}

/// What a build did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteReport {
    /// Articles on the site.
    pub articles: usize,
    /// Article pages rendered (the others were unchanged since the last build).
    pub rendered: usize,
    /// Files whose bytes changed on disk (new or rewritten).
    pub written: usize,
    /// Files rendered again with the same bytes, left untouched.
    pub unchanged: usize,
    /// Stale pages removed (articles hidden since, days or months left empty).
    pub removed: usize,
}

/// The build's memory, [`STATE_FILE`]. Written in key order, so that a build that changed
/// nothing leaves the file as it was (a site kept in git or behind a cache sees no change).
#[derive(Debug, Default, Serialize, Deserialize)]
struct BuildState {
    /// Fingerprint of the templates and [`FORMAT`]; a change renders every article again.
    templates: String,
    /// Article id → fingerprint of what its page shows.
    #[serde(serialize_with = "in_key_order")]
    articles: HashMap<i64, String>,
    /// List page (day or month, by path) → fingerprint of the articles it lists.
    #[serde(default, serialize_with = "in_key_order")]
    lists: HashMap<String, String>,
}

fn in_key_order<K: Ord + Serialize, V: Serialize, S: serde::Serializer>(
    map: &HashMap<K, V>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(map.iter().collect::<BTreeMap<_, _>>())
}

/// One article as lists show it; the whole archive's worth stays in memory, bodies do not.
/// Templates see `id`, `title`, `source`, `source_url`, `url`, `time`, `iso` and `gone`; the
/// strings made from the date and the slug are made only for the pages that are rendered.
#[derive(Debug, Clone)]
struct Item {
    id: i64,
    title: String,
    source: String,
    /// The source's folder name.
    slug: String,
    date_ms: i64,
    gone: bool,
    /// The article's fingerprint: a list page is rendered again when one of its items changes.
    print: String,
    source_id: String,
    day: String,
    link: String,
    published_ms: Option<i64>,
    updated_ms: i64,
    summary: String,
}

impl Item {
    fn url(&self) -> String {
        format!("a/{}.html", self.id)
    }
}

impl Serialize for Item {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut item = serializer.serialize_struct("Item", 8)?;
        item.serialize_field("id", &self.id)?;
        item.serialize_field("title", &self.title)?;
        item.serialize_field("source", &self.source)?;
        item.serialize_field("source_url", &format!("sources/{}/index.html", self.slug))?;
        item.serialize_field("url", &self.url())?;
        item.serialize_field("time", &format_time(self.date_ms))?;
        item.serialize_field("iso", &iso(self.date_ms))?;
        item.serialize_field("gone", &self.gone)?;
        item.end()
    }
}

/// Builds (or brings up to date) the site of `store` in `options.out`.
pub fn build_site(store: &Store, options: &SiteOptions) -> Result<SiteReport, SiteError> {
    let out = &options.out;
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |cause| SiteError::Write { path, cause }
    };
    std::fs::create_dir_all(out).map_err(write_error(out))?;
    let on_disk = pages_on_disk(out).map_err(write_error(out))?;
    let env = environment(options.templates.as_deref())?;
    let templates_hash = templates_fingerprint(options.templates.as_deref())?;
    let state_path = out.join(STATE_FILE);
    let in_place = InPlace {
        out,
        on_disk: &on_disk,
        state: &state_path,
        forgotten: OnceLock::new(),
    };
    let old: BuildState = std::fs::read(&state_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let same_templates = old.templates == templates_hash;
    let generated = format_time(options.now_ms);

    let mut writer = Writer {
        out,
        in_place: &in_place,
        report: SiteReport::default(),
        keep: HashSet::new(),
        old_lists: if same_templates {
            old.lists.clone()
        } else {
            HashMap::new()
        },
        lists: HashMap::new(),
    };
    let mut state = BuildState {
        templates: templates_hash,
        articles: HashMap::new(),
        lists: HashMap::new(),
    };
    let mut items: Vec<Item> = Vec::new();
    let mut slugs = Slugs::default();
    let page_dir = out.join("a");
    std::fs::create_dir_all(&page_dir).map_err(write_error(&page_dir))?;

    // The pipeline: this thread walks the store and hands the articles to render to a worker
    // per core, which render (ammonia and the diff are the costly part) and write their pages
    // while the walk goes on; the lists are rendered here while the workers finish.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    // A full build reads every body along the walk; an incremental one only the bodies of the
    // pages it renders, found by the articles' revisions.
    let full = !same_templates || old.articles.is_empty();
    let (to_render, pending) = crossbeam_channel::bounded::<PageJob>(BATCH);
    let base = context! { site_title => options.title.clone(), generated => generated.clone() };
    let mut search_walk = Some(super::shards::SiteWalk::new(out));
    let pages = std::thread::scope(
        |scope| -> Result<(PagesDone, Option<ShardReport>), SiteError> {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let pending = pending.clone();
                    let env = &env;
                    let in_place = &in_place;
                    scope.spawn(move || render_pages(env, pending, in_place, &options.title))
                })
                .collect();
            drop(pending);
            // Each article's item, fingerprint and static-index view; the record comes back when
            // its page must be rendered (with its body, unless `full`: the walk with bodies
            // follows).
            let mut visit = |mut record: ArticleRecord| -> Result<_, SiteError> {
                if let Some(walk) = search_walk.as_mut() {
                    walk.article(&record);
                }
                let print = fingerprint(&record);
                let path = format!("a/{}.html", record.id);
                let fresh = same_templates
                    && old.articles.get(&record.id) == Some(&print)
                    && on_disk.contains(&path);
                let latest = items.len() < LATEST;
                if (!fresh && !full) || latest {
                    record.body = store.article_body(record.id)?;
                }
                let slug = slugs.slug(&record.source_id);
                let mut item = item_of(&record, &slug, latest);
                item.print = print.clone();
                writer.keep.insert(path);
                state.articles.insert(record.id, print);
                items.push(item);
                Ok((!fresh).then_some((record, slug)))
            };
            let render = |record: ArticleRecord, slug: String| -> Result<(), SiteError> {
                let versions = if record.versions > 1 {
                    version_views(&store.versions(record.id)?)
                } else {
                    Vec::new()
                };
                // A closed channel means every worker stopped on an error, reported below.
                let _ = to_render.send(PageJob {
                    record,
                    versions,
                    slug,
                });
                Ok(())
            };
            // A full build reads the metadata first, so that the static index can plan, then
            // every body once, for the page workers and the index's readers together.
            let mut planned: HashMap<i64, String> = HashMap::new();
            let walked = walk_metadata(store, |record| {
                match visit(record)? {
                    Some((record, slug)) if full => {
                        planned.insert(record.id, slug);
                    }
                    Some((record, slug)) => render(record, slug)?,
                    None => {}
                }
                Ok(())
            });
            // The static index is written on a thread with a store connection of its own: fed
            // by the walk with bodies in a full build, beside the list pages in any build.
            let reader = match (walked.is_ok(), store.reopen()) {
                (true, Some(reader)) => Some(reader?),
                _ => None,
            };
            let indexing = reader.map(|store| {
                let walk = search_walk.take().expect("the walk is the index's once");
                let prints = &state.articles;
                if full {
                    let (to_index, records) = crossbeam_channel::bounded::<ArticleRecord>(BATCH);
                    let shared = super::shards::SharedWalk { records, store };
                    let thread = scope.spawn(move || {
                        super::shards::write_search_shards(&shared, out, prints, walk)
                    });
                    (Some(to_index), thread)
                } else {
                    let thread = scope.spawn(move || {
                        super::shards::write_search_shards(&store, out, prints, walk)
                    });
                    (None, thread)
                }
            });
            let walked = walked.and_then(|()| {
                if !full {
                    return Ok(());
                }
                let fed = store.for_each_article(|record| {
                    let Some(slug) = planned.remove(&record.id) else {
                        return Ok(());
                    };
                    if let Some((Some(to_index), _)) = &indexing {
                        // Closed when the index needed no second reading.
                        let _ = to_index.send(record.clone());
                    }
                    render(record, slug)
                });
                fed.map_err(SiteError::from).and_then(|w| w)
            });
            let indexed = indexing.map(|(to_index, thread)| {
                drop(to_index);
                thread
            });
            drop(to_render);
            let lists = walked.and_then(|()| {
                writer.report.articles = items.len();
                render_lists(&env, &items, &slugs, &base, &mut writer)?;
                render_feed(&env, &items, options, &mut writer)
            });
            let mut done = PagesDone::default();
            for worker in workers {
                let part = worker.join().expect("a page renderer panicked");
                done.rendered += part.rendered;
                done.written += part.written;
                done.unchanged += part.unchanged;
                done.error = done.error.or(part.error);
            }
            let indexed = indexed
                .map(|thread| thread.join().expect("the static index's writer panicked"))
                .transpose();
            lists?;
            if let Some(error) = done.error.take() {
                return Err(error);
            }
            Ok((done, indexed?))
        },
    )?;
    let (pages, indexed) = pages;
    writer.report.rendered += pages.rendered;
    writer.report.written += pages.written;
    writer.report.unchanged += pages.unchanged;

    let search = env
        .get_template("search.html")
        .and_then(|t| t.render(context! { root => "./", ..base.clone() }))
        .map_err(template_error("search.html"))?;
    writer.write("search.html", search.as_bytes())?;
    for (name, builtin) in ASSETS {
        let bytes = match &options.templates {
            Some(dir) if dir.join(name).is_file() => {
                std::fs::read(dir.join(name)).map_err(|cause| SiteError::ReadTemplate {
                    path: dir.join(name),
                    cause,
                })?
            }
            _ => builtin.as_bytes().to_vec(),
        };
        writer.write(name, &bytes)?;
    }
    writer.report.removed = remove_stale(out, &on_disk, &writer.keep).map_err(write_error(out))?;
    // Search on a static host: the index as small files under `search/` (written beside the
    // pages by a full build).
    let indexed = match (indexed, search_walk) {
        (Some(report), _) => report,
        (None, Some(walk)) => {
            super::shards::write_search_shards(store, out, &state.articles, walk)?
        }
        (None, None) => unreachable!("the walk went to the index's writer, which reported"),
    };
    indexed.add_to(&mut writer.report);
    state.lists = std::mem::take(&mut writer.lists);
    let state_bytes = serde_json::to_vec(&state).expect("the build state serialises");
    write_atomically(&state_path, &state_bytes).map_err(write_error(&state_path))?;
    Ok(writer.report)
}

/// Writes pages through [`write_atomically`] and remembers every path this build produced.
struct Writer<'a> {
    out: &'a Path,
    in_place: &'a InPlace<'a>,
    report: SiteReport,
    keep: HashSet<String>,
    /// List fingerprints of the last build (none when the templates changed).
    old_lists: HashMap<String, String>,
    /// List fingerprints of this build.
    lists: HashMap<String, String>,
}

impl Writer<'_> {
    /// Whether list page `relative`, whose inputs hash to `print`, is on disk as the last build
    /// left it; then it counts as kept and unchanged, and need not be rendered.
    fn fresh(&mut self, relative: &str, print: String) -> bool {
        let fresh = self.old_lists.get(relative) == Some(&print)
            && self.in_place.on_disk.contains(relative);
        self.lists.insert(relative.to_string(), print);
        if fresh {
            self.keep.insert(relative.to_string());
            self.report.unchanged += 1;
        }
        fresh
    }

    fn write(&mut self, relative: &str, bytes: &[u8]) -> Result<(), SiteError> {
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

/// An article page to render: the record, its versions (when more than one) and its source's
/// slug.
struct PageJob {
    record: ArticleRecord,
    versions: Vec<VersionView>,
    slug: String,
}

/// What one page worker did; the first error stops it.
#[derive(Default)]
struct PagesDone {
    rendered: usize,
    written: usize,
    unchanged: usize,
    error: Option<SiteError>,
}

/// A page worker: renders and writes the article pages it receives until the channel closes.
fn render_pages(
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
struct VersionView {
    title: String,
    first_seen: String,
    first_seen_iso: String,
    last_seen: String,
    last_seen_iso: String,
    /// HTML: the character diff against the version before (none for the first).
    diff: Option<Value>,
}

fn version_views(versions: &[crate::store::VersionRecord]) -> Vec<VersionView> {
    let texts: Vec<String> = versions
        .iter()
        .map(|v| format!("{}\n{}", v.title, plain_text(&v.content)))
        .collect();
    versions
        .iter()
        .enumerate()
        .map(|(i, v)| VersionView {
            title: v.title.clone(),
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
fn escape(text: &str) -> Cow<'_, str> {
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
        title => record.title.clone(),
        source => record.source_name.clone(),
        source_url => format!("sources/{slug}/index.html"),
        link => record.link.clone(),
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

#[derive(Debug, Clone, Serialize)]
struct PageLink {
    n: usize,
    url: String,
    current: bool,
}

/// Calls `each` with every article, its body left empty, newest first: the store is read on a
/// thread of its own through a second connection while `each` runs on this one, so reading the
/// rows and what is done with them overlap (a store without a file is read here).
fn walk_metadata(
    store: &Store,
    mut each: impl FnMut(ArticleRecord) -> Result<(), SiteError>,
) -> Result<(), SiteError> {
    let Some(reader) = store.reopen() else {
        return store
            .for_each_article_without_body(each)
            .map_err(SiteError::from)
            .and_then(|walked| walked);
    };
    let reader = reader?;
    let (send, records) = crossbeam_channel::bounded::<ArticleRecord>(BATCH);
    std::thread::scope(|scope| {
        // It stops when `records` is dropped (`each` failed).
        let walker = scope.spawn(move || {
            reader.for_each_article_without_body(|record| send.send(record).map_err(drop))
        });
        let mut done = Ok(());
        for record in &records {
            done = each(record);
            if done.is_err() {
                break;
            }
        }
        drop(records);
        let walked = walker.join().expect("the store's walker panicked");
        done?;
        // An inner error is a closed channel, which `done` reported.
        walked.map(drop).map_err(SiteError::from)
    })
}

/// A list page that [`plan_list_pages`] found changed, rendered by [`render_list_pages`].
struct ListPage<'i> {
    name: String,
    root: String,
    heading: String,
    crumbs: Value,
    count: Option<usize>,
    page: usize,
    links: Vec<PageLink>,
    items: Vec<&'i Item>,
    show_source: bool,
}

/// Plans a list split into pages of [`PAGE_SIZE`]: `<stem>.html`, `<stem>-p1.html`, …; the
/// pages whose inputs changed since the last build go to `changed`.
fn plan_list_pages<'i>(
    writer: &mut Writer,
    changed: &mut Vec<ListPage<'i>>,
    stem: &str,
    heading: &str,
    crumbs: Value,
    items: &[&'i Item],
    show_source: bool,
) {
    // Pages are numbered from the oldest, so a new article changes the newest page (the list's
    // own name) and leaves the older ones alone, until the page count grows.
    let pages = items.len().div_ceil(PAGE_SIZE).max(1);
    let name = |k: usize| {
        if k == pages {
            format!("{stem}.html")
        } else {
            format!("{stem}-p{k}.html")
        }
    };
    let depth = stem.matches('/').count();
    for page in 1..=pages {
        // `items` is newest first; page k holds the k-th hundred from the oldest end.
        let end = items.len() - (page - 1) * PAGE_SIZE;
        let start = end.saturating_sub(PAGE_SIZE);
        // Only the newest page shows the total, which every new article changes.
        let count = (page == pages).then_some(items.len());
        let mut hash = Context::new(&SHA256);
        hash.update(format!("{heading}\n{page}\n{pages}\n{count:?}\n").as_bytes());
        for item in &items[start..end] {
            hash.update(item.print.as_bytes());
        }
        if writer.fresh(&name(page), hex::encode(&hash.finish().as_ref()[..12])) {
            continue;
        }
        changed.push(ListPage {
            name: name(page),
            root: "../".repeat(depth),
            heading: heading.to_string(),
            crumbs: crumbs.clone(),
            count,
            page,
            links: (1..=pages)
                .rev()
                .map(|k| PageLink {
                    n: k,
                    url: name(k),
                    current: k == page,
                })
                .collect(),
            items: items[start..end].to_vec(),
            show_source,
        });
    }
}

/// Renders and writes the changed list pages, on every core (a new article in the middle of a
/// month moves every later page of it).
fn render_list_pages(
    env: &Environment<'static>,
    base: &Value,
    pages: Vec<ListPage>,
    writer: &mut Writer,
) -> Result<(), SiteError> {
    let template = env
        .get_template("list.html")
        .map_err(template_error("list.html"))?;
    let folders: HashSet<&Path> = pages
        .iter()
        .filter_map(|page| Path::new(&page.name).parent())
        .collect();
    for folder in folders {
        let folder = writer.out.join(folder);
        std::fs::create_dir_all(&folder).map_err(|cause| SiteError::Write {
            path: folder.clone(),
            cause,
        })?;
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let part = pages.len().div_ceil(threads).max(1);
    let in_place = writer.in_place;
    let done = std::thread::scope(|scope| {
        let workers: Vec<_> = pages
            .chunks(part)
            .map(|chunk| {
                let template = &template;
                // Pages written, pages rendered with the bytes they had.
                scope.spawn(move || -> Result<(usize, usize), SiteError> {
                    let (mut written, mut unchanged) = (0, 0);
                    for page in chunk {
                        let html = template
                            .render(context! {
                                root => &page.root,
                                heading => &page.heading,
                                crumbs => page.crumbs.clone(),
                                count => page.count,
                                page => page.page,
                                pages => val(&page.links),
                                items => val(&page.items),
                                show_source => page.show_source,
                                ..base.clone()
                            })
                            .map_err(template_error("list.html"))?;
                        if in_place.write(&page.name, html.as_bytes())? {
                            written += 1;
                        } else {
                            unchanged += 1;
                        }
                    }
                    Ok((written, unchanged))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a list renderer panicked"))
            .collect::<Vec<_>>()
    });
    for page in &pages {
        writer.keep.insert(page.name.clone());
    }
    for part in done {
        let (written, unchanged) = part?;
        writer.report.written += written;
        writer.report.unchanged += unchanged;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
struct Count {
    name: String,
    url: String,
    count: usize,
}

fn render_lists(
    env: &Environment<'static>,
    items: &[Item],
    slugs: &Slugs,
    base: &Value,
    writer: &mut Writer,
) -> Result<(), SiteError> {
    let render = |name: &str, ctx: Value| -> Result<String, SiteError> {
        env.get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(template_error(name))
    };
    // Days, newest first (items are already newest first).
    let mut days: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
    let mut sources: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
    for item in items {
        days.entry(&item.day).or_default().push(item);
        sources.entry(&item.source_id).or_default().push(item);
    }
    let mut changed = Vec::new();
    for (day, list) in &days {
        let crumbs = val(vec![Count {
            name: "按日期".into(),
            url: "days/index.html".into(),
            count: 0,
        }]);
        plan_list_pages(
            writer,
            &mut changed,
            &format!("days/{day}"),
            day,
            crumbs,
            list,
            true,
        );
    }
    let day_counts = |day: &str, count: usize| {
        context! { day => day, url => format!("days/{day}.html"), count => count }
    };
    let mut months: Vec<Value> = Vec::new();
    let mut current: Option<(String, Vec<Value>)> = None;
    for (day, list) in days.iter().rev() {
        let month = &day[..7];
        if current.as_ref().is_none_or(|(m, _)| m != month) {
            if let Some((m, d)) = current.take() {
                months.push(context! { month => m, days => d });
            }
            current = Some((month.to_string(), Vec::new()));
        }
        if let Some((_, d)) = current.as_mut() {
            d.push(day_counts(day, list.len()));
        }
    }
    if let Some((m, d)) = current.take() {
        months.push(context! { month => m, days => d });
    }
    let html = render(
        "days.html",
        context! { root => "../", months, ..base.clone() },
    )?;
    writer.write("days/index.html", html.as_bytes())?;

    // Sources: a page each, with a page per month.
    let mut counts: Vec<Count> = Vec::new();
    for (source_id, list) in &sources {
        let slug = slugs.get(source_id);
        let name = list[0].source.clone();
        counts.push(Count {
            name: name.clone(),
            url: format!("sources/{slug}/index.html"),
            count: list.len(),
        });
        let mut by_month: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
        for item in list {
            by_month.entry(&item.day[..7]).or_default().push(item);
        }
        let crumbs = val(vec![
            Count {
                name: "来源".into(),
                url: "sources/index.html".into(),
                count: 0,
            },
            Count {
                name: name.clone(),
                url: format!("sources/{slug}/index.html"),
                count: 0,
            },
        ]);
        for (month, month_items) in &by_month {
            plan_list_pages(
                writer,
                &mut changed,
                &format!("sources/{slug}/{month}"),
                &format!("{name} · {month}"),
                crumbs.clone(),
                month_items,
                false,
            );
        }
        let month_links: Vec<Value> = by_month
            .iter()
            .rev()
            .map(|(month, l)| {
                context! { month => *month, url => format!("sources/{slug}/{month}.html"), count => l.len() }
            })
            .collect();
        let latest: Vec<&Item> = list.iter().take(LATEST).copied().collect();
        let html = render(
            "source.html",
            context! {
                root => "../../",
                source => context! { name => name, count => list.len() },
                latest => val(latest),
                months => month_links,
                ..base.clone()
            },
        )?;
        writer.write(&format!("sources/{slug}/index.html"), html.as_bytes())?;
    }
    counts.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    let html = render(
        "sources.html",
        context! { root => "../", sources => val(&counts), ..base.clone() },
    )?;
    writer.write("sources/index.html", html.as_bytes())?;

    let latest: Vec<&Item> = items.iter().take(LATEST).collect();
    let recent_days: Vec<Value> = days
        .iter()
        .rev()
        .take(HOME_DAYS)
        .map(|(day, list)| day_counts(day, list.len()))
        .collect();
    let html = render(
        "home.html",
        context! {
            root => "./",
            total => items.len(),
            latest => val(latest),
            days => recent_days,
            sources => val(&counts),
            ..base.clone()
        },
    )?;
    writer.write("index.html", html.as_bytes())?;
    render_list_pages(env, base, changed, writer)
}

fn render_feed(
    env: &Environment<'static>,
    items: &[Item],
    options: &SiteOptions,
    writer: &mut Writer,
) -> Result<(), SiteError> {
    let entries: Vec<Value> = items
        .iter()
        .take(LATEST)
        .map(|item| {
            context! {
                id => item.id,
                title => item.title.clone(),
                url => item.url(),
                link => item.link.clone(),
                source => item.source.clone(),
                updated => iso(item.updated_ms),
                published => item.published_ms.map(iso),
                summary => item.summary.clone(),
            }
        })
        .collect();
    let updated = items
        .iter()
        .map(|i| i.updated_ms)
        .max()
        .unwrap_or(options.now_ms);
    let feed_id = hex::encode(&digest(&SHA256, options.title.as_bytes()).as_ref()[..8]);
    let xml = env
        .get_template("feed.xml")
        .and_then(|t| {
            t.render(context! {
                site_title => options.title.clone(),
                feed_id,
                updated => iso(updated),
                entries,
            })
        })
        .map_err(template_error("feed.xml"))?;
    writer.write("feed.xml", xml.as_bytes())
}

/// The files (by path relative to `out`, with `/`) that the output folder holds before the
/// build, read once instead of asking for each page; temporary files an interrupted build left
/// are removed on the way.
fn pages_on_disk(out: &Path) -> std::io::Result<HashSet<String>> {
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

/// Removes the pages (`.html` and `.xml` files) of the output folder that this build did not
/// produce.
fn remove_stale(
    out: &Path,
    on_disk: &HashSet<String>,
    keep: &HashSet<String>,
) -> std::io::Result<usize> {
    let mut removed = 0;
    let pages = on_disk
        .difference(keep)
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
/// renders every page and compares it with the disk.
struct InPlace<'a> {
    out: &'a Path,
    on_disk: &'a HashSet<String>,
    state: &'a Path,
    /// Whether the state is gone (or could not be removed: then every write is atomic).
    forgotten: OnceLock<bool>,
}

impl InPlace<'_> {
    /// Writes page `relative`; returns whether its bytes changed on disk.
    fn write(&self, relative: &str, bytes: &[u8]) -> Result<bool, SiteError> {
        let path = self.out.join(relative);
        let error = |cause| SiteError::Write {
            path: path.clone(),
            cause,
        };
        let forgotten = || {
            *self
                .forgotten
                .get_or_init(|| match std::fs::remove_file(self.state) {
                    Ok(()) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::NotFound,
                })
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

/// The template environment: built-in templates, replaced by those of `dir` of the same name.
fn environment(dir: Option<&Path>) -> Result<Environment<'static>, SiteError> {
    let mut env = Environment::new();
    // minijinja's HTML escaping also escapes `/`, which makes every URL unreadable in the source;
    // the five characters of [`escape`] are what HTML needs.
    env.set_formatter(|out, state, value| {
        if !value.is_safe()
            && matches!(state.auto_escape(), minijinja::AutoEscape::Html)
            && let Some(text) = value.as_str()
        {
            return out
                .write_str(&escape(text))
                .map_err(|_| minijinja::Error::from(minijinja::ErrorKind::WriteFailure));
        }
        minijinja::escape_formatter(out, state, value)
    });
    let dir = dir.map(Path::to_path_buf);
    env.set_loader(move |name| {
        if name.contains("..") || name.starts_with('/') {
            return Ok(None);
        }
        if let Some(dir) = &dir {
            let path = dir.join(name);
            if path.is_file() {
                return std::fs::read_to_string(&path).map(Some).map_err(|e| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("cannot read {}: {e}", path.display()),
                    )
                });
            }
        }
        Ok(TEMPLATES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| text.to_string()))
    });
    // Parse every template now, so a broken user template fails the build before any write.
    for (name, _) in TEMPLATES {
        env.get_template(name).map_err(template_error(name))?;
    }
    Ok(env)
}

fn templates_fingerprint(dir: Option<&Path>) -> Result<String, SiteError> {
    let mut hash = Context::new(&SHA256);
    hash.update(format!("{FORMAT}\n{}\n", env!("CARGO_PKG_VERSION")).as_bytes());
    for (name, builtin) in TEMPLATES.iter().chain(ASSETS) {
        hash.update(name.as_bytes());
        match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
            Some(path) => {
                let bytes = std::fs::read(&path)
                    .map_err(|cause| SiteError::ReadTemplate { path, cause })?;
                hash.update(&bytes);
            }
            None => hash.update(builtin.as_bytes()),
        }
    }
    Ok(hex::encode(&hash.finish().as_ref()[..12]))
}

fn template_error(name: &str) -> impl Fn(minijinja::Error) -> SiteError + '_ {
    move |cause| SiteError::Template {
        name: name.to_string(),
        cause,
    }
}

/// What an article page shows, hashed: the page is rendered again when this changes. The text
/// is in the store's revision of the article, which any change to it bumps.
fn fingerprint(record: &ArticleRecord) -> String {
    let mut hash = Context::new(&SHA256);
    for text in [
        &record.source_id,
        &record.source_name,
        &record.title,
        &record.link,
    ] {
        hash.update(&(text.len() as u64).to_le_bytes());
        hash.update(text.as_bytes());
    }
    let optional = |value: Option<i64>| {
        value.map_or([0; 9], |v| {
            let mut bytes = [1; 9];
            bytes[1..].copy_from_slice(&v.to_le_bytes());
            bytes
        })
    };
    for number in [
        record.id,
        record.first_seen_ms,
        record.date_ms,
        record.versions,
        record.revision,
    ] {
        hash.update(&number.to_le_bytes());
    }
    for number in [record.published_ms, record.updated_ms, record.gone_ms] {
        hash.update(&optional(number));
    }
    hex::encode(&hash.finish().as_ref()[..12])
}

/// `with_summary`: only the feed shows summaries, and only of the latest articles.
fn item_of(record: &ArticleRecord, slug: &str, with_summary: bool) -> Item {
    let day = day(record.date_ms);
    let summary: String = if with_summary {
        plain_text(&record.body).chars().take(200).collect()
    } else {
        String::new()
    };
    Item {
        id: record.id,
        title: record.title.clone(),
        source: record.source_name.clone(),
        slug: slug.to_string(),
        date_ms: record.date_ms,
        gone: record.gone_ms.is_some(),
        print: String::new(),
        source_id: record.source_id.clone(),
        day,
        link: record.link.clone(),
        published_ms: record.published_ms,
        updated_ms: record.updated_ms.unwrap_or(record.date_ms),
        summary,
    }
}

/// Folder names of sources: the id's letters, digits, `-` and `_` (any script), other characters
/// as `-`; a short hash of the id when that leaves nothing or collides.
#[derive(Debug, Default)]
struct Slugs {
    by_id: HashMap<String, String>,
    taken: HashSet<String>,
}

impl Slugs {
    fn slug(&mut self, id: &str) -> String {
        if let Some(slug) = self.by_id.get(id) {
            return slug.clone();
        }
        let mut slug: String = id
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        slug = slug.trim_matches('-').to_string();
        if slug.is_empty() || slug == "index" || self.taken.contains(&slug.to_lowercase()) {
            let hash = hex::encode(&digest(&SHA256, id.as_bytes()).as_ref()[..4]);
            slug = if slug.is_empty() {
                format!("s{hash}")
            } else {
                format!("{slug}-{hash}")
            };
        }
        self.taken.insert(slug.to_lowercase());
        self.by_id.insert(id.to_string(), slug.clone());
        slug
    }

    fn get(&self, id: &str) -> String {
        self.by_id
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}

/// A serialisable value for a template.
fn val<T: Serialize>(value: T) -> Value {
    Value::from(Serde(value))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_new_page_written_in_place_takes_the_build_state_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        std::fs::create_dir(out.join("a")).unwrap();
        std::fs::write(out.join("a/1.html"), "old").unwrap();
        std::fs::create_dir(out.join("assets")).unwrap();
        std::fs::write(out.join("assets/site.css"), "a{}").unwrap();
        let state = out.join(STATE_FILE);
        std::fs::write(&state, "{}").unwrap();
        let on_disk = pages_on_disk(out).unwrap();
        assert_eq!(
            on_disk,
            HashSet::from(["a/1.html", "assets/site.css", STATE_FILE].map(String::from))
        );
        let in_place = InPlace {
            out,
            on_disk: &on_disk,
            state: &state,
            forgotten: OnceLock::new(),
        };
        // A page on disk is replaced atomically: the state stays.
        assert!(in_place.write("a/1.html", b"new").unwrap());
        assert!(!in_place.write("a/1.html", b"new").unwrap());
        assert!(in_place.write("assets/site.css", b"b{}").unwrap());
        assert!(state.exists());
        // A new page is created in place, and the state goes first: had the build been killed
        // during the write, the next build would not trust the half page.
        assert!(in_place.write("a/2.html", b"two").unwrap());
        assert!(!state.exists());
        assert_eq!(std::fs::read(out.join("a/2.html")).unwrap(), b"two");
        assert_eq!(std::fs::read(out.join("a/1.html")).unwrap(), b"new");
    }

    /// A store file holding `n` articles of one source, the later ones newer.
    fn store_of(path: &Path, n: usize) -> Store {
        use crate::model::Article;
        use crate::store::SourceMeta;
        let store = Store::open(path).unwrap();
        store.ensure_source("s", "S", 0).unwrap();
        let source = SourceMeta {
            id: "s".into(),
            name: "S".into(),
            tags: vec![],
            categories: vec![],
        };
        store.begin().unwrap();
        for i in 0..n {
            let article = Article {
                key: format!("guid:{i}"),
                guid: Some(i.to_string()),
                link: format!("https://example.com/{i}"),
                link_from_item: true,
                title: format!("T{i}"),
                published: None,
                authors: vec![],
                categories: vec![],
                raw_content: "<p>x</p>".into(),
                raw_shape: None,
                body: "<p>x</p>".into(),
                version_hash: format!("h{i}"),
            };
            let names = || [format!("1970-01-01-T{i}.md")];
            store
                .ingest(&source, &article, "x", names(), &|_| false, i as i64)
                .unwrap();
        }
        store.commit().unwrap();
        store
    }

    #[test]
    fn the_metadata_walk_gives_every_article_and_stops_with_a_failing_visit() {
        let dir = tempfile::tempdir().unwrap();
        // More articles than the channel between the reader thread and the visits holds, so
        // the reader is blocked on it when a visit fails.
        let n = 3 * BATCH;
        let store = store_of(&dir.path().join("store.sqlite"), n);
        let mut seen = Vec::new();
        walk_metadata(&store, |record| {
            seen.push(record.title);
            Ok(())
        })
        .unwrap();
        let newest_first: Vec<String> = (0..n).rev().map(|i| format!("T{i}")).collect();
        assert_eq!(seen, newest_first);

        let mut visits = 0;
        let failed = walk_metadata(&store, |_| {
            visits += 1;
            if visits == 2 {
                return Err(SiteError::Write {
                    path: PathBuf::from("page.html"),
                    cause: std::io::Error::other("disk full"),
                });
            }
            Ok(())
        });
        assert!(
            matches!(&failed, Err(SiteError::Write { path, .. }) if path == Path::new("page.html")),
            "{failed:?}"
        );
        assert_eq!(visits, 2);
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

    #[test]
    fn slugs_keep_letters_of_any_script_and_stay_unique() {
        let mut slugs = Slugs::default();
        assert_eq!(slugs.slug("联合早报"), "联合早报");
        assert_eq!(slugs.slug("bbc zh"), "bbc-zh");
        let twin = slugs.slug("bbc/zh");
        assert_ne!(twin, "bbc-zh");
        assert!(twin.starts_with("bbc-zh-"));
        assert!(slugs.slug("../..").starts_with('s'));
    }

    #[test]
    fn every_builtin_template_parses() {
        environment(None).unwrap();
    }
}
