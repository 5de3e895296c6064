//! The HTML site of `newsvault build`: static pages rendered from the store with minijinja
//! templates, for reading the archive in a browser, with no Ruby and no server.
//!
//! Pages (paths relative to the output folder; every link between pages is relative, so the
//! site works from any sub-path of a static host):
//!
//! - `index.html`: the latest articles, the sources, the latest days.
//!
//! An article without a title shows [`UNTITLED`](crate::publish::UNTITLED) wherever its title
//! would be (links, headings, the feed).
//! - `a/<id>.html`: one article: title, source, original link, published and archived times, the
//!   content sanitised with [`sanitise`](crate::content::clean::sanitise) (every article,
//!   verbatim sources too), its versions with a character diff between each and the one before,
//!   and a "gone at source" mark.
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
//! created in place (`InPlace`). Pages of articles that left the site (hidden) are removed, and
//! only pages a build wrote: the state lists them, and a file the state does not name (the
//! owner's own, in a folder given to `build --out`) is never touched.
//!
//! A full build (no state, or new templates) walks the store twice: the articles' metadata
//! first (the store's covering index), which is all the lists and the static search index need
//! to plan, then every body once, handed both to the page workers and, on a thread of its own
//! with a connection of its own, to the static index's readers ([`super::shards::SharedWalk`]).
//!
//! One build writes a folder at a time: a build holds an `flock` on `.newsvault-build.lock` in
//! it, and another (`serve` keeping its site current, `hide`, `build`) waits for it.
//!
//! Templates are embedded from `templates/`; a folder named by `[site] templates` replaces any
//! of them, file by file (same names, `assets/` included).
//!
//! This file plans the build and keeps its state; `pages` renders the article pages, `lists` the
//! pages that list them and the feed, `files` writes into the output folder, and `templates`
//! holds the templates and assets.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use minijinja::value::Serde;
use minijinja::{Value, context};
use ring::digest::{Context, SHA256, digest};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::publish::dates::{day, format_time, iso};
use crate::publish::shards::ShardReport;
use crate::publish::{shown_title, write_atomically};
use crate::search::plain_text;
use crate::store::{ArticleRecord, Store, StoreError};

mod files;
mod lists;
mod pages;
mod templates;

use files::{InPlace, Writer, pages_on_disk, remove_stale};
use lists::{render_feed, render_lists};
use pages::{PageJob, PagesDone, render_pages, version_views};
pub use templates::{ASSETS, TEMPLATES};
use templates::{environment, template_error, templates_fingerprint};

/// Articles per list page (a day or a source's month).
pub const PAGE_SIZE: usize = 100;
/// Articles on the home page, a source's page and in the Atom feed.
pub const LATEST: usize = 50;
/// Days linked from the home page.
const HOME_DAYS: usize = 14;
/// The build's memory of what it rendered, in the output folder.
pub const STATE_FILE: &str = ".newsvault-build.json";
/// Held (an `flock`) while a build writes the output folder, in it.
const LOCK_FILE: &str = ".newsvault-build.lock";
/// Bump when the data given to templates changes shape, so old pages are all rendered again.
const FORMAT: u32 = 5;
/// Articles waiting for a page worker, at most.
const BATCH: usize = 128;

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
    /// Fingerprint of the templates, [`FORMAT`] and the site's title; a change renders every page
    /// again.
    templates: String,
    /// Article id → fingerprint of what its page shows.
    #[serde(serialize_with = "in_key_order")]
    articles: HashMap<i64, String>,
    /// List page (day or month, by path) → fingerprint of the articles it lists.
    #[serde(default, serialize_with = "in_key_order")]
    lists: HashMap<String, String>,
    /// The other pages the build wrote (home page, indexes, feed, …; not the article and list
    /// pages above): with those, the pages a later build may remove when it no longer makes
    /// them. `None` in a state written before builds kept it.
    #[serde(default)]
    pages: Option<BTreeSet<String>>,
}

impl BuildState {
    /// Every page this state says a build wrote. A state written before builds listed their
    /// pages names its article and list pages; the build's other pages are the fixed ones and
    /// the sources' index pages on disk.
    fn built(&self, on_disk: &HashSet<String>) -> HashSet<String> {
        let mut built: HashSet<String> = self
            .articles
            .keys()
            .map(|id| format!("a/{id}.html"))
            .chain(self.lists.keys().cloned())
            .collect();
        match &self.pages {
            Some(pages) => built.extend(pages.iter().cloned()),
            None if !self.templates.is_empty() => {
                built.extend(
                    on_disk
                        .iter()
                        .filter(|path| {
                            path.strip_prefix("sources/")
                                .and_then(|p| p.strip_suffix("/index.html"))
                                .is_some_and(|slug| !slug.contains('/'))
                        })
                        .cloned(),
                );
                built.extend(
                    [
                        "index.html",
                        "feed.xml",
                        "search.html",
                        "days/index.html",
                        "sources/index.html",
                    ]
                    .map(String::from),
                );
            }
            None => {}
        }
        built
    }
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
        item.serialize_field("title", shown_title(&self.title))?;
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
    // One build of a folder at a time (`serve` builds while it serves, `hide` after hiding):
    // the others wait. The file is never removed (see `crate::lock`).
    let lock_path = out.join(LOCK_FILE);
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(write_error(&lock_path))?;
    lock.lock().map_err(write_error(&lock_path))?;
    let on_disk = pages_on_disk(out).map_err(write_error(out))?;
    let env = environment(options.templates.as_deref())?;
    let templates_hash = templates_fingerprint(options.templates.as_deref(), &options.title)?;
    let state_path = out.join(STATE_FILE);
    let old: BuildState = std::fs::read(&state_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let built_before = old.built(&on_disk);
    let same_templates = old.templates == templates_hash;
    let generated = format_time(options.now_ms);
    // What the state becomes while pages are written in place: no fingerprint trusted, the
    // pages builds wrote still known.
    let forgotten = BuildState {
        pages: Some(built_before.iter().cloned().collect()),
        ..BuildState::default()
    };
    let in_place = InPlace {
        out,
        on_disk: &on_disk,
        state: &state_path,
        forgotten_state: serde_json::to_vec(&forgotten).expect("the build state serialises"),
        forgotten: OnceLock::new(),
    };

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
        pages: None,
    };
    let mut items: Vec<Item> = Vec::new();
    let slugs = Slugs::new(store.source_ids()?);
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
                let slug = slugs.get(&record.source_id);
                let print = fingerprint(&record, &slug);
                let path = format!("a/{}.html", record.id);
                let fresh = same_templates
                    && old.articles.get(&record.id) == Some(&print)
                    && on_disk.contains(&path);
                let latest = items.len() < LATEST;
                if (!fresh && !full) || latest {
                    record.body = store.article_body(record.id)?;
                }
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
    writer.report.removed =
        remove_stale(out, &on_disk, &built_before, &writer.keep).map_err(write_error(out))?;
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
    let article_pages: HashSet<String> = state
        .articles
        .keys()
        .map(|id| format!("a/{id}.html"))
        .collect();
    state.pages = Some(
        writer
            .keep
            .iter()
            .filter(|path| !article_pages.contains(*path) && !state.lists.contains_key(*path))
            .cloned()
            .collect(),
    );
    let state_bytes = serde_json::to_vec(&state).expect("the build state serialises");
    write_atomically(&state_path, &state_bytes).map_err(write_error(&state_path))?;
    Ok(writer.report)
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

/// What an article page shows, hashed: the page is rendered again when this changes. The text
/// is in the store's revision of the article, which any change to it bumps; `slug` is its
/// source's folder, which the page (and every list showing it) links to.
fn fingerprint(record: &ArticleRecord, slug: &str) -> String {
    let mut hash = Context::new(&SHA256);
    for text in [
        &record.source_id,
        &record.source_name,
        &record.title,
        &record.link,
        slug,
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
/// as `-`. Ids whose names would be the same (ignoring case: `src a`, `src/a`, `SRC-A`) are a
/// collision group: the smallest id of it (by bytes) keeps the plain name, the others get a short
/// hash of their id after it; a name that would be empty or `index` is the hash alone (`s…`) or
/// gets it too. So a source's folder depends on the archive's source ids only, never on the order
/// the build meets them in.
#[derive(Debug, Default)]
struct Slugs {
    by_id: HashMap<String, String>,
}

impl Slugs {
    /// The folder names of the sources `ids` (every source of the store).
    fn new(ids: impl IntoIterator<Item = String>) -> Slugs {
        let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for id in ids {
            groups
                .entry(plain_slug(&id).to_lowercase())
                .or_default()
                .insert(id);
        }
        let mut by_id = HashMap::new();
        for members in groups.into_values() {
            for (i, id) in members.into_iter().enumerate() {
                let plain = plain_slug(&id);
                let slug = if i == 0 && !plain.is_empty() && plain != "index" {
                    plain
                } else {
                    hashed_slug(&id)
                };
                by_id.insert(id, slug);
            }
        }
        Slugs { by_id }
    }

    /// The folder of source `id`; one the store did not list when the build began (none should
    /// be) gets the hashed name, which no plain name takes.
    fn get(&self, id: &str) -> String {
        self.by_id
            .get(id)
            .cloned()
            .unwrap_or_else(|| hashed_slug(id))
    }
}

/// `id` as a folder name, before collisions: letters, digits, `-` and `_` kept, the rest `-`.
fn plain_slug(id: &str) -> String {
    let slug: String = id
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    slug.trim_matches('-').to_string()
}

/// `id` as a folder name with a short hash of it: for the ids of a collision but its first.
fn hashed_slug(id: &str) -> String {
    let hash = hex::encode(&digest(&SHA256, id.as_bytes()).as_ref()[..4]);
    match plain_slug(id) {
        plain if plain.is_empty() => format!("s{hash}"),
        plain => format!("{plain}-{hash}"),
    }
}

/// A serialisable value for a template.
fn val<T: Serialize>(value: T) -> Value {
    Value::from(Serde(value))
}

#[cfg(test)]
mod tests {
    use super::*;

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
                earlier_keys: vec![],
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
    fn slugs_keep_letters_of_any_script_and_stay_unique() {
        let ids = ["联合早报", "bbc zh", "bbc/zh", "BBC-ZH", "../..", "index"].map(String::from);
        let slugs = Slugs::new(ids.clone());
        assert_eq!(slugs.get("联合早报"), "联合早报");
        // `BBC-ZH` is the smallest of the three.
        assert_eq!(slugs.get("BBC-ZH"), "BBC-ZH");
        for twin in ["bbc zh", "bbc/zh"] {
            assert!(
                slugs.get(twin).starts_with("bbc-zh-"),
                "{}",
                slugs.get(twin)
            );
        }
        assert_ne!(slugs.get("bbc zh"), slugs.get("bbc/zh"));
        assert!(slugs.get("../..").starts_with('s'));
        assert!(slugs.get("index").starts_with("index-"));
        let names: HashSet<String> = ids.iter().map(|id| slugs.get(id).to_lowercase()).collect();
        assert_eq!(names.len(), ids.len());
    }

    #[test]
    fn a_source_folder_depends_on_the_ids_not_their_order() {
        let ids = ["src a", "src/a", "src-a", "b"].map(String::from);
        let forward = Slugs::new(ids.clone());
        let backward = Slugs::new(ids.iter().rev().cloned());
        for id in &ids {
            assert_eq!(forward.get(id), backward.get(id), "{id}");
        }
        // `src a` is the smallest of its collision group (a space before `-` and `/`).
        assert_eq!(forward.get("src a"), "src-a");
    }

    #[test]
    fn an_article_fingerprint_covers_its_source_folder() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_of(&dir.path().join("store.sqlite"), 1);
        let mut record = None;
        store
            .for_each_article_without_body(|r| {
                record = Some(r);
                Ok::<_, ()>(())
            })
            .unwrap()
            .unwrap();
        let record = record.unwrap();
        assert_ne!(fingerprint(&record, "s"), fingerprint(&record, "s-1234"));
    }
}
